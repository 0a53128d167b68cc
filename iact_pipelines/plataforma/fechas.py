"""Day ranges. Every range of days in the platform is half-open, [desde, hasta_excl): the end
is exclusive, as Dagster's time windows are. A person's inclusive range (`--desde/--hasta` on
the command line) is converted once, at the edge, with `hasta_excl=hasta + 1 day`."""

from __future__ import annotations

from datetime import date, timedelta

UN_DIA = timedelta(days=1)


def dias_semiabiertos(desde: date, hasta_excl: date) -> list[date]:
    """The days of [desde, hasta_excl)."""
    return [desde + timedelta(days=i) for i in range((hasta_excl - desde).days)]
