"""The legacy IVR tables as observed source assets: Dagster reads them (read-only), never
writes them. Every 15 minutes an observation records, per table, the rows of each recent local
day and the latest start time, so the UI shows when the source last changed and how much
arrived (a day still growing, a day that shrank)."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
from psycopg import sql

from iact_pipelines.fuentes.contrato import FUENTES
from iact_pipelines.plataforma import config, db

_TABLAS = {
    "llamadas": "Llamadas tal como las registra el IVR: centro, cliente, entrada, cola, atención, fin y resultado.",
    "menu_eventos": "Cada visita de una llamada a un menú del IVR, con entrada, salida y resultado.",
    "transferencias": "Transferencias de llamadas entre centros, con inicio, fin y éxito.",
}
DIAS_OBSERVADOS = 7  # today and the 6 days before, local

# Counted by range on the start column (indexed in the legacy database), grouped by local day.
_POR_DIA = sql.SQL(
    "SELECT ({inicio} AT TIME ZONE %(zona)s)::date::text AS dia, count(*) FROM {tabla} "
    "WHERE {inicio} >= %(desde)s GROUP BY 1 ORDER BY 1"
)
_ULTIMO = sql.SQL("SELECT max({inicio}) FROM {tabla}")
# The rows no partition can hold, so no staging run ever reads them: without a start, before
# the partitions' first day, or starting after today. Each kind is an index range on the start
# column; the observation shows their counts so that every source row is accounted for.
_SIN_DIA = sql.SQL(
    "SELECT count(*) FILTER (WHERE {inicio} IS NULL), count(*) FILTER (WHERE {inicio} < %(primero)s), "
    "count(*) FILTER (WHERE {inicio} >= %(manana)s) FROM {tabla} "
    "WHERE {inicio} IS NULL OR {inicio} < %(primero)s OR {inicio} >= %(manana)s"
)
SIN_DIA = ("sin_inicio", "antes_de_las_particiones", "posteriores_a_hoy")

ivr_specs = [
    dg.AssetSpec(
        key=dg.AssetKey(["ivr", tabla]),
        description=descripcion,
        group_name="ivr",
        kinds={"postgres"},
        metadata={"dagster/table_name": f"ivr.{tabla}"},
    )
    for tabla, descripcion in _TABLAS.items()
]


def observar(ivr_url: str, zona: str, ahora: datetime | None = None, primer_dia: date | None = None) -> dict[str, dict]:
    """Per table: rows per local day of the last DIAS_OBSERVADOS days (zeros included), the
    latest start and the rows without a partition (SIN_DIA), read on a read-only connection."""
    tz = ZoneInfo(zona)
    hoy = (ahora or datetime.now(tz)).astimezone(tz).date()
    dias = [(hoy - timedelta(days=i)).isoformat() for i in reversed(range(DIAS_OBSERVADOS))]
    desde = datetime.combine(hoy - timedelta(days=DIAS_OBSERVADOS - 1), time(), tz)
    limites = {
        "primero": datetime.combine(primer_dia or config.valor("IACT_PARTICIONES_DESDE"), time(), tz),
        "manana": datetime.combine(hoy + timedelta(days=1), time(), tz),
    }
    salida = {}
    with db.connect(ivr_url, read_only=True) as conn:
        for tabla in _TABLAS:
            partes = {"inicio": sql.Identifier(FUENTES[tabla].inicio), "tabla": sql.Identifier("ivr", tabla)}
            cuentas = dict(conn.execute(_POR_DIA.format(**partes), {"zona": zona, "desde": desde}).fetchall())
            (ultimo,) = conn.execute(_ULTIMO.format(**partes)).fetchone()
            sin_dia = conn.execute(_SIN_DIA.format(**partes), limites).fetchone()
            salida[tabla] = {
                "filas_por_dia": {d: int(cuentas.get(d, 0)) for d in dias},
                "ultimo_inicio": ultimo,
                "filas_sin_dia": dict(zip(SIN_DIA, map(int, sin_dia), strict=True)),
            }
    return salida


@dg.multi_observable_source_asset(
    specs=ivr_specs,
    name="observar_ivr",
    required_resource_keys={"ivr", "settings"},
    description="Filas por día local reciente y último inicio de cada tabla del IVR (solo lectura).",
)
def observar_ivr(context):
    """Observes the IVR source tables: rows per recent local day and latest start time."""
    zona = context.resources.settings.zona()
    for tabla, obs in observar(context.resources.ivr.url_lectura(), zona).items():
        ultimo = obs["ultimo_inicio"]
        huella = json.dumps([obs["filas_por_dia"], ultimo.isoformat() if ultimo else None, obs["filas_sin_dia"]])
        yield dg.ObserveResult(
            asset_key=dg.AssetKey(["ivr", tabla]),
            # A new version whenever a recent day's count or the latest start changes.
            data_version=dg.DataVersion(hashlib.sha256(huella.encode()).hexdigest()[:16]),
            metadata={
                "filas_por_dia": dg.MetadataValue.json(obs["filas_por_dia"]),
                "filas_hoy": list(obs["filas_por_dia"].values())[-1],
                # Rows no staging day reads (no start, before the partitions, after today).
                "filas_sin_dia": dg.MetadataValue.json(obs["filas_sin_dia"]),
                "filas_sin_dia_total": sum(obs["filas_sin_dia"].values()),
                "ultimo_inicio": dg.MetadataValue.timestamp(ultimo) if ultimo else dg.MetadataValue.null(),
                # What the freshness check of the table reads: when the source last changed.
                **({"dagster/last_updated_timestamp": dg.MetadataValue.timestamp(ultimo)} if ultimo else {}),
            },
        )


observar_fuentes = dg.define_asset_job(
    "observar_fuentes",
    selection=dg.AssetSelection.assets(observar_ivr),
    description="Observa las tablas del IVR (filas por día reciente, último inicio).",
)
observar_fuentes_cada_15_min = dg.ScheduleDefinition(
    name="observar_fuentes_cada_15_min",
    job=observar_fuentes,
    cron_schedule="*/15 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Observa la fuente IVR cada 15 minutos.",
)

ivr_sources = [observar_ivr]
jobs = [observar_fuentes]
schedules = [observar_fuentes_cada_15_min]
