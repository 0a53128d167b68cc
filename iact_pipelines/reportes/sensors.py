"""Closed periods follow their days: when a staging day of calls is (re)loaded, its month and
quarter reports are rebuilt (late data, a re-run, an accepted day), so a month never keeps
numbers its days no longer have.

A sensor rather than declarative automation. On a 30-day range over two months and two
quarters, `AutomationCondition.eager().without(AutomationCondition.in_latest_time_window())`
builds no period whose days are not all materialized (its `~any_deps_missing`): none of the
four, and over two whole months the months but never their quarters. Without that operand
either, it asks for the same runs as this sensor (4 for the range, 2 for a reloaded day), but a
tick between the days run of `iact materializar` and its period runs builds the four periods
that the command then builds again; the sensor leaves them to the command
(ETIQUETA_PERIODOS_DESPUES).

The sensor reads the materializations of `staging/llamadas` after its cursor (storage id) and
asks for one run per month and quarter touched; the run key names the month/quarter and the
last event seen, so a tick retried after a crash launches nothing twice.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from iact_pipelines.plataforma import partitions
from iact_pipelines.reportes import jobs
from iact_pipelines.reportes.assets import STAGING_LLAMADAS
from iact_pipelines.reportes.schedules import inicio_trimestre

LOTE = 500  # materializations read per tick; the rest is read by the next tick
# Tag of a run whose months and quarters the same command builds right after it (`iact
# materializar` over days and periods): the sensor leaves them to it, so no period is built twice.
ETIQUETA_PERIODOS_DESPUES = "iact/periodos_despues"


def _a_construir(instance: dg.DagsterInstance, registros: list) -> tuple[list, list]:
    """The records whose periods this sensor builds, and those it has read. A run tagged
    ETIQUETA_PERIODOS_DESPUES that succeeded leaves them to its command; one still going stops
    the reading there (the next tick sees how it ended); one that failed is built here."""
    ids = sorted({r.run_id for r in registros})
    runs = {run.run_id: run for run in instance.get_runs(filters=dg.RunsFilter(run_ids=ids))}
    construir, leidos = [], []
    for registro in registros:
        run = runs.get(registro.run_id)
        if run is not None and run.tags.get(ETIQUETA_PERIODOS_DESPUES) == "true":
            if not run.is_finished:
                break
            if run.status == dg.DagsterRunStatus.SUCCESS:
                leidos.append(registro)
                continue
        construir.append(registro)
        leidos.append(registro)
    return construir, leidos


@dg.sensor(
    name="periodos_tras_dias",
    jobs=[jobs.reportes_mensuales, jobs.reportes_trimestrales],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reconstruye el mes y el trimestre de cada día de llamadas (re)cargado en staging.",
)
def periodos_tras_dias(context: dg.SensorEvaluationContext):
    cursor = int(context.cursor) if context.cursor else None
    filtro = dg.AssetRecordsFilter(asset_key=STAGING_LLAMADAS, after_storage_id=cursor)
    registros = context.instance.fetch_materializations(filtro, limit=LOTE, ascending=True).records
    if not registros:
        return dg.SensorResult(skip_reason="0 días de staging cargados desde el tick anterior")
    construir, leidos = _a_construir(context.instance, registros)
    if not leidos:
        return dg.SensorResult(skip_reason="un comando que construye sus propios periodos todavía está cargando días")
    meses, trimestres = set(), set()
    for registro in construir:
        if registro.partition_key:
            dia = date.fromisoformat(registro.partition_key)
            meses.add(dia.replace(day=1).isoformat())
            trimestres.add(inicio_trimestre(dia).isoformat())
    ultimo = leidos[-1].storage_id
    existentes_mes = set(partitions.mensual_en_curso.get_partition_keys())
    existentes_trim = set(partitions.trimestral_en_curso.get_partition_keys())
    pedidos = [
        dg.RunRequest(
            run_key=f"periodo:{job.name}:{clave}:{ultimo}",
            job_name=job.name,
            partition_key=clave,
            tags={"iact/programa": "periodos_tras_dias"},
        )
        for job, claves, existentes in (
            (jobs.reportes_mensuales, meses, existentes_mes),
            (jobs.reportes_trimestrales, trimestres, existentes_trim),
        )
        for clave in sorted(claves)
        if clave in existentes
    ]
    return dg.SensorResult(run_requests=pedidos, cursor=str(ultimo))


sensors = [periodos_tras_dias]
