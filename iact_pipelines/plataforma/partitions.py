"""Partitions in the reporting time zone: a record belongs to the local day of its start.

`diaria`, `mensual_en_curso`, `trimestral_en_curso` and `ZONA_HORARIA` depend on two settings
(IACT_ZONA_HORARIA, IACT_PARTICIONES_DESDE), so importing this module reads nothing: they are
built on first use. The asset, job and schedule declarations name them when their own modules
are evaluated, which is when the code location assembles its definitions, so that is when the
settings are read, once: a partitioning must not change while Dagster holds the definitions.
"""

from __future__ import annotations

import functools

import dagster as dg

from iact_pipelines.plataforma import config

# Asset tag naming an asset's partitioning (diaria, mensual_en_curso, trimestral_en_curso): the
# daily job selects every asset of a local day by it, whatever area declares it.
ETIQUETA = "particiones"

# Calendar quarters starting Jan, Apr, Jul, Oct; the key is the quarter's first day.
_TRIMESTRES = "0 0 1 */3 *"


@functools.cache
def _definiciones() -> dict[str, object]:
    zona = config.valor("IACT_ZONA_HORARIA")
    desde = config.valor("IACT_PARTICIONES_DESDE").isoformat()
    return {
        "ZONA_HORARIA": zona,
        "diaria": dg.DailyPartitionsDefinition(start_date=desde, timezone=zona, end_offset=0),
        # The month and quarter including the one still open (end_offset=1): the month-to-date
        # and quarter-to-date reports materialize the current period before it closes, and are
        # rebuilt once it has; a closed period's key is the same as without the open one.
        "mensual_en_curso": dg.MonthlyPartitionsDefinition(start_date=desde, timezone=zona, end_offset=1),
        "trimestral_en_curso": dg.TimeWindowPartitionsDefinition(
            cron_schedule=_TRIMESTRES, start=desde, fmt="%Y-%m-%d", timezone=zona, end_offset=1
        ),
    }


_NOMBRES = frozenset({"ZONA_HORARIA", "diaria", "mensual_en_curso", "trimestral_en_curso"})


def __getattr__(name: str):
    # Only the names above are built lazily; any other lookup (an introspecting tool asking for
    # `__wrapped__`, say) fails as usual without reading the settings.
    if name not in _NOMBRES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _definiciones()[name]
