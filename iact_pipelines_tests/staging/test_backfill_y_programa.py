"""Each day reads in Dagster as the warehouse holds it also when the day was built by Dagster's
own machinery: a backfill launched as the UI launches it (the `launchPartitionBackfill` GraphQL
mutation), then carried out by the backfill daemon's iteration; a run of the `diario` schedule
ticked by the scheduler daemon's iteration. Their runs go through the instance's queue (the run
queue daemon's iteration dequeues them) and are executed in this process by Dagster's test run
launcher, so the test waits for nothing."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    ScheduleInstigatorData,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
from dagster._scheduler.scheduler import launch_scheduled_runs
from dagster_graphql.test.utils import execute_dagster_graphql

from iact_pipelines.plataforma.config import PROJECT_ROOT
from iact_pipelines.reportes import assets as reportes
from iact_pipelines.staging import assets as staging
from iact_pipelines_tests.ayudas import instancia_de_prueba
from iact_pipelines_tests.staging.ayudas import (
    DIA,
    ZONA,
    evento,
    insertar,
    llamada,
    materializar,
    transferencia,
    verdad_por_dia,
)

UBICACION = "iact_pipelines"
_LANZADOR = """
run_launcher:
  module: dagster._core.launcher.sync_in_memory_run_launcher
  class: SyncInMemoryRunLauncher
"""
# The UI's mutation for a backfill of selected assets over chosen partitions.
_BACKFILL = """
mutation ($parametros: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $parametros) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
_REGISTRO = logging.getLogger("test_backfill_y_programa")


@pytest.fixture
def instancia(pg_urls):
    """The project's instance (its storage and run queue), with Dagster's in-process test run
    launcher instead of a process per run."""
    with instancia_de_prueba(_LANZADOR) as inst:
        yield inst


@pytest.fixture
def proceso(instancia):
    """The code location loaded in this process, as a daemon's workspace. The schedule storage
    outlives the per-test wipe: the instigator states and ticks the test leaves are removed."""
    origen = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="iact_pipelines.definitions", working_directory=str(PROJECT_ROOT)),
        location_name=UBICACION,
    )
    antes = {s.selector_id for s in instancia.all_instigator_state()}
    with WorkspaceProcessContext(instancia, InProcessWorkspaceLoadTarget(origen)) as contexto:
        try:
            yield contexto
        finally:
            for estado in instancia.all_instigator_state():
                if estado.selector_id not in antes:
                    instancia.purge_ticks(estado.instigator_origin_id, estado.selector_id, before=2e9)
                    instancia.delete_instigator_state(estado.instigator_origin_id, estado.selector_id)


def _vaciar_cola(proceso) -> None:
    """The run queue daemon's iterations until no run is queued (each launch runs it to its end)."""
    cola = QueuedRunCoordinatorDaemon(interval_seconds=1)
    for _ in range(10):
        if not proceso.instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED])):
            return
        list(cola.run_iteration(proceso))
    raise AssertionError("runs still queued")


def _dias_con_uno_vaciado(ivr, instance, dias: list[str], malo: str) -> None:
    """Calls for each day (answered and abandoned); `malo` loaded and reported once, then
    emptied at the source."""
    insertar(ivr, "llamadas", [llamada(1, f"{malo} 09:00:00"), llamada(2, f"{malo} 09:05:00", "ABANDONADA")])
    assert materializar(instance, staging.llamadas, malo, extra=[reportes.llamadas_dia]).success
    ivr.execute("DELETE FROM ivr.llamadas")
    filas = []
    for i, dia in enumerate(d for d in dias if d != malo):
        filas += [
            llamada(100 * (i + 1) + k, f"{dia} 1{k}:00:00", "ABANDONADA" if k < i else "ATENDIDA") for k in range(3)
        ]
    insertar(ivr, "llamadas", filas)


def test_a_backfill_launched_as_the_ui_does_shows_each_days_truth(ivr_writer, warehouse, instancia, proceso):
    dias = [DIA, "2024-03-11", "2024-03-12"]
    malo = dias[1]
    _dias_con_uno_vaciado(ivr_writer, instancia, dias, malo)
    parametros = {
        "partitionNames": dias,
        "assetSelection": [{"path": list(k.path)} for k in (staging.llamadas.key, reportes.llamadas_dia.key)],
    }

    lanzado = execute_dagster_graphql(proceso.create_request_context(), _BACKFILL, {"parametros": parametros})
    assert lanzado.data["launchPartitionBackfill"]["__typename"] == "LaunchBackfillSuccess", lanzado
    list(execute_backfill_iteration(proceso, _REGISTRO))  # the backfill daemon submits its runs
    _vaciar_cola(proceso)
    list(execute_backfill_iteration(proceso, _REGISTRO))  # ... and sees them end

    (backfill,) = instancia.get_backfills()
    runs = instancia.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
    # one run for the three days (single-run backfill policy); it fails on the held day
    assert [(r.tags["dagster/asset_partition_range_start"], r.status) for r in runs] == [
        (DIA, dg.DagsterRunStatus.FAILURE)
    ]
    verdad_por_dia(instancia, warehouse, ivr_writer, dias, {malo}, {r.run_id for r in runs})


def _programa_en_marcha(proceso, nombre: str, desde: datetime) -> None:
    """The schedule `nombre` running since `desde`, as the instance records a started schedule."""
    contexto = proceso.create_request_context()
    (repo,) = contexto.get_code_location(UBICACION).get_repositories().values()
    programa = repo.get_schedule(nombre)
    proceso.instance.add_instigator_state(
        InstigatorState(
            programa.get_remote_origin(),
            InstigatorType.SCHEDULE,
            InstigatorStatus.RUNNING,
            ScheduleInstigatorData(programa.cron_schedule, desde.timestamp()),
        )
    )


def test_a_scheduled_daily_run_shows_each_days_truth(ivr_writer, warehouse, instancia, proceso):
    ayer, anteayer = DIA, "2024-03-09"  # the 02:00 tick of 2024-03-11 runs both
    _dias_con_uno_vaciado(ivr_writer, instancia, [anteayer, ayer], anteayer)
    # the day's other sources too, so that its run builds everything
    insertar(ivr_writer, "menu_eventos", [evento(1, f"{ayer} 10:00:00")])
    insertar(ivr_writer, "transferencias", [transferencia(1, f"{ayer} 10:00:00")])
    tick = datetime(2024, 3, 11, 2, 0, tzinfo=ZONA)
    _programa_en_marcha(proceso, "diario_ayer", tick - timedelta(hours=1))

    list(launch_scheduled_runs(proceso, _REGISTRO, tick + timedelta(minutes=1), iteration_times={}))
    _vaciar_cola(proceso)

    runs = instancia.get_runs(filters=dg.RunsFilter(tags={"iact/programa": "diario_ayer"}))
    assert sorted((r.tags["dagster/partition"], r.status) for r in runs) == [
        (anteayer, dg.DagsterRunStatus.FAILURE),  # emptied at the source: held
        (ayer, dg.DagsterRunStatus.SUCCESS),
    ]
    verdad_por_dia(instancia, warehouse, ivr_writer, [anteayer, ayer], {anteayer}, {r.run_id for r in runs})
