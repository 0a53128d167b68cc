"""Day ranges. Every range of days in the platform is half-open, [desde, hasta_excl): the end
is exclusive, as Dagster's time windows are. A person's inclusive range (`--desde/--hasta` on
the command line) is converted once, at the edge, with `hasta_excl=hasta + 1 day`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

UN_DIA = timedelta(days=1)


def dias_semiabiertos(desde: date, hasta_excl: date) -> list[date]:
    """The days of [desde, hasta_excl)."""
    return [desde + timedelta(days=i) for i in range((hasta_excl - desde).days)]


@dataclass(frozen=True)
class Ventana:
    """Local days [desde, hasta) in the reporting time zone."""

    desde: date
    hasta: date
    zona: str

    def limites(self) -> tuple[datetime, datetime]:
        """The window as tz-aware instants: local midnight of `desde` and of `hasta`."""
        tz = ZoneInfo(self.zona)
        return datetime.combine(self.desde, time(), tz), datetime.combine(self.hasta, time(), tz)

    def dias(self) -> list[date]:
        return dias_semiabiertos(self.desde, self.hasta)

    def claves(self) -> list[str]:
        return [d.isoformat() for d in self.dias()]

    def rango(self) -> str:
        """The window as a person reads it: one day, or `first...last`."""
        ultimo = self.dias()[-1]
        return self.desde.isoformat() if ultimo == self.desde else f"{self.desde}...{ultimo}"
