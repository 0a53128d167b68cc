"""Partitions in the reporting time zone: a record belongs to the local day of its start.

`diaria`, `mensual_en_curso`, `trimestral_en_curso` and `ZONA_HORARIA` depend on two settings
(IACT_ZONA_HORARIA, IACT_PARTICIONES_DESDE; unset on the embedded demo, the demo's first day as
`iact demo seed` recorded it, so the UI shows the demo whole), so importing this module reads nothing: they are
built on first use. The asset, job and schedule declarations name them when their own modules
are evaluated, which is when the code location assembles its definitions, so that is when the
settings are read, once: a partitioning must not change while Dagster holds the definitions.
"""

from __future__ import annotations

import functools
import json
import os
from datetime import date
from urllib.parse import parse_qs, urlsplit

import dagster as dg

from iact_pipelines.plataforma import config, embedded

# Asset tag naming an asset's partitioning (diaria, mensual_en_curso, trimestral_en_curso): the
# daily job selects every asset of a local day by it, whatever area declares it.
ETIQUETA = "particiones"

# Calendar quarters starting Jan, Apr, Jul, Oct; the key is the quarter's first day.
_TRIMESTRES = "0 0 1 */3 *"


# In IACT_HOME: the days `iact demo seed` put in the embedded IVR source.
REGISTRO_DEMO = "demo.json"


def _demo_embebida() -> bool:
    """The IVR source is the embedded server's and the first partition is not configured. The
    source is the embedded one when IACT_IVR_URL is unset, or names the embedded server of this
    IACT_HOME: `iact dev` and `iact materializar` export its URL for Dagster's processes."""
    if os.environ.get("IACT_PARTICIONES_DESDE", "").strip():
        return False
    url = os.environ.get("IACT_IVR_URL", "").strip()
    if not url:
        return True
    servidor = parse_qs(urlsplit(url).query).get("host", [None])[0]
    return servidor == str(embedded.pgdata_dir(config.load_settings().home))


def registrar_demo(desde: date, hasta: date) -> None:
    """Record the seeded days (widening what an earlier seed recorded), on the embedded demo only."""
    if not _demo_embebida():
        return
    ruta = config.load_settings().home / REGISTRO_DEMO
    anterior = _leer_demo(ruta)
    if anterior:
        desde, hasta = min(desde, anterior[0]), max(hasta, anterior[1])
    ruta.parent.mkdir(parents=True, exist_ok=True)
    ruta.write_text(json.dumps({"desde": desde.isoformat(), "hasta": hasta.isoformat()}))


def _leer_demo(ruta) -> tuple[date, date] | None:
    try:
        datos = json.loads(ruta.read_text())
        return date.fromisoformat(datos["desde"]), date.fromisoformat(datos["hasta"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def primer_dia() -> date:
    """The first partition day: IACT_PARTICIONES_DESDE, or on the embedded demo the demo's first day."""
    if _demo_embebida():
        demo = _leer_demo(config.load_settings().home / REGISTRO_DEMO)
        if demo:
            return demo[0]
    return config.valor("IACT_PARTICIONES_DESDE")


@functools.cache
def _definiciones() -> dict[str, object]:
    zona = config.valor("IACT_ZONA_HORARIA")
    dia = primer_dia()
    desde = dia.isoformat()
    # A month or quarter partition starts on its first day: the period holding the first day
    # is the first one (a demo starting mid-month still gets that month's report).
    mes = dia.replace(day=1).isoformat()
    trimestre = dia.replace(month=(dia.month - 1) // 3 * 3 + 1, day=1).isoformat()
    return {
        "ZONA_HORARIA": zona,
        "diaria": dg.DailyPartitionsDefinition(start_date=desde, timezone=zona, end_offset=0),
        # The month and quarter including the one still open (end_offset=1): the month-to-date
        # and quarter-to-date reports materialize the current period before it closes, and are
        # rebuilt once it has; a closed period's key is the same as without the open one.
        "mensual_en_curso": dg.MonthlyPartitionsDefinition(start_date=mes, timezone=zona, end_offset=1),
        "trimestral_en_curso": dg.TimeWindowPartitionsDefinition(
            cron_schedule=_TRIMESTRES, start=trimestre, fmt="%Y-%m-%d", timezone=zona, end_offset=1
        ),
    }


_NOMBRES = frozenset({"ZONA_HORARIA", "diaria", "mensual_en_curso", "trimestral_en_curso"})


def __getattr__(name: str):
    # Only the names above are built lazily; any other lookup (an introspecting tool asking for
    # `__wrapped__`, say) fails as usual without reading the settings.
    if name not in _NOMBRES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _definiciones()[name]
