"""Run monitoring: failure alerts into `internal_messages` and the `etl_jobs` mirror.

Both are exactly-once in effect: an alert lost or sent twice is worse than a late one.
Dagster's `run_failure_sensor` is not used because its cursor advances even when a tick raises and it handles a limited
number of runs per tick, so a failed write or a burst of failures would lose alerts. These
sensors own their cursor:

- They read run lifecycle events from the instance's event log in storage-id order after the
  cursor, LOTE at a time, looping until caught up or PRESUPUESTO_S has passed (the rest is
  picked up by the next tick), so a burst of failures is fully processed.
- Every write is idempotent (an alert is keyed by recipient and `run-failure:<run_id>`; the
  mirror upserts by run id and never moves a row backwards) and commits before the cursor
  moves. The new cursor is only handed to Dagster in the tick's result: a tick that raises
  keeps the old cursor, the next tick re-does the work and writes nothing twice.
- Events younger than MARGEN_S wait for the next tick. PostgreSQL hands out storage ids
  before commit, so a just-written event can still be invisible below a visible one; moving
  the cursor past it would lose it forever. A few seconds let such stragglers land.

Automatic retries (dagster.yaml `run_retries`): an alert is sent for the *last* failure of a
retry chain. A failed run Dagster will retry (tag `dagster/will_retry=true`) is held in the
cursor until the retry is launched (tag `dagster/auto_retry_run_id`: the retry is a new run
and alerts on its own if it fails too, naming the original run) or until ESPERA_REINTENTO_S
passes without a retry (then it alerts, saying so). A transient outage that a retry fixes
wakes nobody; a failure that needs a person is never lost. Manual re-executions are new
runs: each failure alerts once.

Scope: every run of the instance whose code location is this sensor's, plus runs executed
in process (no code location: `dg.materialize`, the CLI). The Dagster home is the project's
own (`$IACT_HOME/dagster`), so in practice that is every run of the instance.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import dagster as dg
import psycopg
from dagster._core.event_api import EventLogRecord, RunStatusChangeRecordsFilter
from dagster._core.events import DagsterEventType
from dagster._core.storage.dagster_run import RunRecord
from dagster._core.storage.tags import AUTO_RETRY_RUN_ID_TAG, WILL_RETRY_TAG

from iact_pipelines.monitoreo import alertas, seguimiento, vigilancia
from iact_pipelines.plataforma.resources import PipelineSettings, WarehouseResource

LOTE = 100  # events read per query
PRESUPUESTO_S = 30.0  # per tick, well under the 60 s a sensor evaluation may take
MARGEN_S = 5.0  # events younger than this wait for the next tick (see module docstring)
ESPERA_REINTENTO_S = 600.0  # how long a run marked for automatic retry may wait for it
RETROSPECTIVA_INICIAL_S = 24 * 3600  # first tick ever: alert failures of the last day
INTERVALO_S = 15  # an alert reaches the inbox within a minute of the failure
ESPERA_BLOQUEO_MS = 2000  # the mirror's wait for an etl_jobs row another transaction holds

_TIPOS_ESPEJO = (
    DagsterEventType.RUN_ENQUEUED,
    DagsterEventType.RUN_STARTING,
    DagsterEventType.RUN_START,
    DagsterEventType.RUN_CANCELING,
    DagsterEventType.RUN_SUCCESS,
    DagsterEventType.RUN_FAILURE,
    DagsterEventType.RUN_CANCELED,
)

ALERTAR, ESPERAR, REINTENTADO = "alertar", "esperar", "reintentado"

_ESPERA_BLOQUEO = "SELECT set_config('lock_timeout', %s, true)"  # true: this transaction only


def _leer(instance: dg.DagsterInstance, tipo: DagsterEventType, despues: int, limite: int) -> Sequence[EventLogRecord]:
    return instance.fetch_run_status_changes(
        RunStatusChangeRecordsFilter(event_type=tipo, after_storage_id=despues), limit=limite, ascending=True
    ).records


def _maduros(records: Sequence[EventLogRecord], ahora: float) -> list[EventLogRecord]:
    """The leading records old enough to process; stops at the first young one so the cursor
    never passes an id that may still have an uncommitted neighbour below it."""
    listos = []
    for record in records:
        if record.timestamp > ahora - MARGEN_S:
            break
        listos.append(record)
    return listos


def _runs(instance: dg.DagsterInstance, run_ids: list[str]) -> dict[str, RunRecord]:
    if not run_ids:
        return {}
    return {r.dagster_run.run_id: r for r in instance.get_run_records(filters=dg.RunsFilter(run_ids=run_ids))}


def _es_nuestro(run: dg.DagsterRun, ubicacion: str | None) -> bool:
    """Runs of this code location, or executed in process (no location to compare)."""
    suya = seguimiento.ubicacion_de(run)
    return ubicacion is None or suya is None or suya == ubicacion


def _cargar(cursor: str | None) -> dict | None:
    if not cursor:
        return None
    try:
        valor = json.loads(cursor)
    except ValueError:
        return None
    return valor if isinstance(valor, dict) else None


def _sin_tiempo(inicio: float) -> bool:
    return time.monotonic() - inicio >= PRESUPUESTO_S


# --- failure alerts ---------------------------------------------------------------------


def _inicio_alertas(instance: dg.DagsterInstance) -> int:
    """First tick ever: start with the failures of the last RETROSPECTIVA_INICIAL_S, not the
    whole history (enabling the sensor on an old instance must not flood the inbox)."""
    desde = time.time() - RETROSPECTIVA_INICIAL_S
    recientes = instance.fetch_run_status_changes(
        RunStatusChangeRecordsFilter(event_type=DagsterEventType.RUN_FAILURE, after_timestamp=desde),
        limit=1,
        ascending=True,
    ).records
    if recientes:
        return recientes[0].storage_id - 1
    ultimos = instance.fetch_run_status_changes(DagsterEventType.RUN_FAILURE, limit=1, ascending=False).records
    return ultimos[0].storage_id if ultimos else -1


def decidir_reintento(
    instance: dg.DagsterInstance, run: dg.DagsterRun, esperando_desde: float | None, ahora: float
) -> tuple[str, str | None]:
    """Alert now, wait for Dagster's automatic retry, or leave it to the retry run."""
    if not instance.run_retries_enabled:
        return ALERTAR, None
    reintentara = run.tags.get(WILL_RETRY_TAG)
    if reintentara == "false":
        return ALERTAR, None
    if run.tags.get(AUTO_RETRY_RUN_ID_TAG):
        return REINTENTADO, None
    # will_retry=true, or not tagged yet (Dagster tags the run right after the failure event).
    if esperando_desde is not None and ahora - esperando_desde >= ESPERA_REINTENTO_S:
        minutos = int(ESPERA_REINTENTO_S // 60)
        return ALERTAR, (
            f"Dagster la marcó para reintento automático, pero el reintento no se lanzó en {minutos} min "
            "(¿daemon detenido?): trátela como fallo final."
        )
    return ESPERAR, None


def revisar_fallos(
    instance: dg.DagsterInstance,
    conn: psycopg.Connection,
    cursor: str | None,
    *,
    ui_url: str,
    ubicacion: str | None = None,
) -> tuple[str, str]:
    """Alert every failed run after the cursor; returns (new cursor, a line for the tick log).

    Raises alertas.SinAdministradores (cursor not advanced) when an alert has no recipient."""
    estado = _cargar(cursor)
    posicion = int(estado["id"]) if estado and "id" in estado else _inicio_alertas(instance)
    espera: dict[str, float] = dict(estado.get("espera", {})) if estado else {}
    inicio = time.monotonic()
    escritas = corridas = 0
    primera_vuelta = True
    while True:
        ahora = time.time()
        records = _leer(instance, DagsterEventType.RUN_FAILURE, posicion, LOTE)
        maduros = _maduros(records, ahora)
        revisar = list(espera) if primera_vuelta else []
        nuevos = [r.event_log_entry.run_id for r in maduros]
        runs = _runs(instance, list(dict.fromkeys(revisar + nuevos)))

        por_alertar: dict[str, str | None] = {}
        for run_id in revisar + nuevos:
            record = runs.get(run_id)
            if record is None or not _es_nuestro(record.dagster_run, ubicacion):
                espera.pop(run_id, None)  # deleted run, or another location's
                continue
            decision, nota = decidir_reintento(instance, record.dagster_run, espera.get(run_id), ahora)
            if decision == ESPERAR:
                espera.setdefault(run_id, ahora)
            else:
                espera.pop(run_id, None)
                if decision == ALERTAR:
                    por_alertar[run_id] = nota

        if por_alertar:
            resumenes = [seguimiento.resumir_run(instance, runs[run_id]) for run_id in por_alertar]
            with conn.transaction():
                criticos = alertas.runs_con_validacion_critica(conn, list(por_alertar))
                mensajes = [
                    alertas.construir_alerta(
                        r, ui_url, validacion_critica=r.run_id in criticos, nota=por_alertar[r.run_id]
                    )
                    for r in resumenes
                ]
                escritas += alertas.escribir_alertas(conn, mensajes)
            corridas += len(por_alertar)
        # Only now, with the batch committed, may the cursor pass it.
        if maduros:
            posicion = maduros[-1].storage_id
        primera_vuelta = False
        if len(records) < LOTE or len(maduros) < len(records) or _sin_tiempo(inicio):
            break
    nuevo = json.dumps({"id": posicion, "espera": espera}, sort_keys=True)
    informe = (
        f"{corridas} corrida(s) fallida(s) alertada(s) ({escritas} mensaje(s) nuevo(s)); "
        f"{len(espera)} a la espera de un reintento automático; cursor en el evento {posicion}"
    )
    return nuevo, informe


def _ubicacion(context: dg.SensorEvaluationContext) -> str | None:
    origen = context.code_location_origin
    return origen.location_name if origen else None


@dg.sensor(
    name="alertas_fallos",
    minimum_interval_seconds=INTERVALO_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Escribe una alerta por administrador activo en internal_messages por cada run fallido "
        "(exactamente una vez; espera los reintentos automáticos). Sin administrador activo retiene las alertas."
    ),
)
def alertas_fallos(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, settings: PipelineSettings):
    """Failure alerts into the internal inbox."""
    try:
        with warehouse.connect() as conn:
            cursor, informe = revisar_fallos(
                context.instance, conn, context.cursor, ui_url=settings.ui_url, ubicacion=_ubicacion(context)
            )
    except alertas.SinAdministradores as exc:
        # One line per held alert, no traceback; the position stays, so the alerts wait for an admin.
        estado = _cargar(context.cursor) or {}
        estado["avisadas"] = alertas.avisar_retenidas(context.log, exc, estado.get("avisadas", []))
        return dg.SensorResult(cursor=json.dumps(estado, sort_keys=True), skip_reason=str(exc))
    context.log.info(informe)
    return dg.SensorResult(cursor=cursor, skip_reason=informe)


# --- etl_jobs mirror --------------------------------------------------------------------


def espejar_runs(
    instance: dg.DagsterInstance, conn: psycopg.Connection, cursor: str | None, *, ubicacion: str | None = None
) -> tuple[str, str]:
    """Mirror into etl_jobs every run with a lifecycle event after the cursor (one position
    per event type); returns (new cursor, a line for the tick log)."""
    estado = _cargar(cursor) or {}
    posiciones = {t.value: int(estado.get("ids", {}).get(t.value, -1)) for t in _TIPOS_ESPEJO}
    abiertos = list(_TIPOS_ESPEJO)
    inicio = time.monotonic()
    reflejadas = 0
    ocupadas: set[str] = set()
    while abiertos:
        ahora = time.time()
        lote: dict[str, list[EventLogRecord]] = {}
        for tipo in list(abiertos):
            records = _leer(instance, tipo, posiciones[tipo.value], LOTE)
            lote[tipo.value] = _maduros(records, ahora)
            if len(records) < LOTE or len(lote[tipo.value]) < len(records):
                abiertos.remove(tipo)
        run_ids = list(dict.fromkeys(r.event_log_entry.run_id for rs in lote.values() for r in rs))
        runs = _runs(instance, run_ids)
        # The row is rebuilt from the run's current state, so the order in which the event
        # types are read does not matter; the upsert refuses to move a row backwards.
        resumenes = [
            seguimiento.resumir_run(instance, runs[run_id])
            for run_id in run_ids
            if run_id in runs and _es_nuestro(runs[run_id].dagster_run, ubicacion)
        ]
        if resumenes:
            with conn.transaction():
                # A run whose row is held by an open transaction (its staging asset created
                # the row and is still loading) is left for the next tick instead of
                # stalling the tick on it.
                conn.execute(_ESPERA_BLOQUEO, (f"{int(ESPERA_BLOQUEO_MS)}ms",))
                for resumen in resumenes:
                    try:
                        with conn.transaction():  # a savepoint: a busy row skips only itself
                            seguimiento.registrar_run(conn, resumen)
                    except psycopg.errors.LockNotAvailable:
                        ocupadas.add(resumen.run_id)
            reflejadas += len(resumenes) - len(ocupadas)
        for tipo, maduros in lote.items():
            # Never past the first event of a busy run; what follows it is re-done (idempotent).
            corte = next((i for i, r in enumerate(maduros) if r.event_log_entry.run_id in ocupadas), len(maduros))
            if corte:
                posiciones[tipo] = maduros[corte - 1].storage_id
        if ocupadas or _sin_tiempo(inicio):
            break
    nuevo = json.dumps({"ids": posiciones}, sort_keys=True)
    informe = f"{reflejadas} estado(s) de corrida copiado(s) a etl_jobs"
    if ocupadas:
        informe += f"; {len(ocupadas)} run(s) ocupado(s) cargando, se reintenta(n) en el próximo tick"
    return nuevo, informe


@dg.sensor(
    name="espejo_etl_jobs",
    minimum_interval_seconds=INTERVALO_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Copia cada run a etl_jobs: pending -> running -> completed/failed/cancelled, tiempos, "
        "conteos de registros de la metadata de las materializaciones y errores (exactamente una vez)."
    ),
)
def espejo_etl_jobs(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Run lifecycle mirror into etl_jobs."""
    with warehouse.connect() as conn:
        cursor, informe = espejar_runs(context.instance, conn, context.cursor, ubicacion=_ubicacion(context))
    context.log.info(informe)
    return dg.SensorResult(cursor=cursor, skip_reason=informe)


sensors = [alertas_fallos, espejo_etl_jobs, vigilancia.runs_muertos]
