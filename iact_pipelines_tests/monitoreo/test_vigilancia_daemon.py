"""Dead runs launched by the real daemon: `dagster-daemon run` on the test instance
launches queued runs of the code location; its run worker is killed with SIGKILL while the
queue is full. The run is failed, alerted once per active admin and mirrored as failed within
5 minutes, and the queued run waiting behind it is launched."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import psutil
import pytest
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.events import DagsterEventType
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.storage.tags import AUTO_RETRY_RUN_ID_TAG, PARTITION_NAME_TAG, WILL_RETRY_TAG
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

from iact_pipelines.monitoreo import sensors, vigilancia
from iact_pipelines.plataforma import db
from iact_pipelines.plataforma.config import PROJECT_ROOT
from iact_pipelines.plataforma.resources import build_resources

UBICACION = "iact_pipelines"  # workspace.yaml's location_name: the daemon resolves runs by it
DIA = "2024-05-07"
REPORTE = dg.AssetKey(["reportes", "llamadas_dia"])
LLENO = "2 runs are currently in progress. Maximum is 2"


@pytest.fixture(autouse=True)
def sin_esperas(monkeypatch):
    # The runs are seconds old when killed; the grace period and the straggler margin have
    # their own tests.
    monkeypatch.setattr(vigilancia, "GRACIA_S", 0.0)
    monkeypatch.setattr(sensors, "MARGEN_S", 0.0)


@pytest.fixture
def ubicacion(instance):
    """The code location loaded here under the daemon's location name, with its sensors and
    schedules stopped on the instance: the daemon only dequeues and launches, the test
    evaluates the sensors itself (their intervals would not fit the test's time)."""
    origen = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="iact_pipelines.definitions", working_directory=str(PROJECT_ROOT)),
        location_name=UBICACION,
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origen)) as proceso:
        contexto = proceso.create_request_context()
        location = contexto.get_code_location(UBICACION)
        repo = next(iter(location.get_repositories().values()))
        detenidos = []
        for sensor in repo.get_sensors():
            instance.stop_sensor(sensor.get_remote_origin_id(), sensor.selector_id, sensor)
            detenidos.append((sensor.get_remote_origin_id(), sensor.selector_id))
        for schedule in repo.get_schedules():
            instance.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id, schedule)
            detenidos.append((schedule.get_remote_origin_id(), schedule.selector_id))
        try:
            yield contexto, location, repo
        finally:
            # The schedule storage outlives the per-test wipe: leave the instigators as found.
            for origen_id, selector_id in detenidos:
                instance.delete_instigator_state(origen_id, selector_id)


def _encolar(instance, contexto, location, repo) -> str:
    """Submit a run of `diario` for DIA (its calls-per-hour report only) through the queue, as
    the UI does."""
    job = location.get_job(
        JobSubsetSelector(
            location_name=UBICACION,
            repository_name=repo.name,
            job_name="diario",
            op_selection=None,
            asset_selection={REPORTE},
        )
    )
    plan = location.get_execution_plan(job, {}, step_keys_to_execute=None, known_state=None, instance=instance)
    run = instance.create_run(
        job_name=job.name,
        run_id=None,
        run_config={},
        resolved_op_selection=job.resolved_op_selection,
        step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute,
        op_selection=None,
        status=None,
        root_run_id=None,
        parent_run_id=None,
        tags={**job.tags, PARTITION_NAME_TAG: DIA},
        job_snapshot=job.job_snapshot,
        execution_plan_snapshot=plan.execution_plan_snapshot,
        parent_job_snapshot=job.parent_job_snapshot,
        remote_job_origin=job.get_remote_origin(),
        job_code_origin=job.get_python_origin(),
        asset_selection=frozenset({REPORTE}),
        asset_check_selection=None,
        asset_graph=repo.asset_graph,
    )
    return instance.submit_run(run.run_id, contexto).run_id


def _procesos_de(home: str) -> list[psutil.Process]:
    """Every process serving this Dagster home: the daemon, its code server, the run workers
    and their step subprocesses (also the ones orphaned by a killed worker)."""
    encontrados = []
    for proceso in psutil.process_iter():
        try:
            if proceso.pid != os.getpid() and proceso.environ().get("DAGSTER_HOME") == home:
                encontrados.append(proceso)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return encontrados


def _matar_todo(home: str, daemon: subprocess.Popen | None) -> None:
    # No graceful shutdown: the runs are blocked on a lock and would never end on their own.
    for _ in range(10):
        vivos = _procesos_de(home)
        if daemon is not None and daemon.poll() is None:
            vivos.append(psutil.Process(daemon.pid))
        if not vivos:
            break
        for proceso in vivos:
            try:
                proceso.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(vivos, timeout=5)
    if daemon is not None:
        daemon.wait(timeout=10)
    assert not _procesos_de(home), "processes of the test's daemon survived"


def _esperar(condicion, segundos: float, que: str, daemon: subprocess.Popen, log: Path):
    limite = time.monotonic() + segundos
    while time.monotonic() < limite:
        assert daemon.poll() is None, f"dagster-daemon exited:\n{log.read_text()[-3000:]}"
        valor = condicion()
        if valor:
            return valor
        time.sleep(0.5)
    raise AssertionError(f"timed out after {segundos} s waiting for {que}\n{log.read_text()[-3000:]}")


def _estado(instance, run_id):
    return instance.get_run_by_id(run_id).status


def _lanzar_daemon(home: str, log: Path) -> subprocess.Popen:
    with open(log, "a") as salida:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DAGSTER_HOME": home},
            stdout=salida,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _matar(procesos: list[psutil.Process]) -> None:
    for proceso in procesos:
        try:
            proceso.kill()  # kill -9
        except psutil.NoSuchProcess:
            pass
    _, vivos = psutil.wait_procs(procesos, timeout=10)
    assert not vivos


def test_a_killed_daemon_launched_run_is_failed_alerted_mirrored_and_the_queue_moves(
    urls, warehouse, instance, admins, ubicacion, tmp_path
):
    # The worker dies together with its code server and daemon (kill -9 of the `iact dev`
    # process group, OOM, a crash): nothing of Dagster is left to notice, the restarted daemon
    # counts the dead run as in progress and the queue jams (as it once did).
    contexto, location, repo = ubicacion
    home = instance.root_directory
    log = tmp_path / "daemon.log"
    # Every run waits on its partition's lock, held here: the first two fill the queue's two
    # slots and stay STARTED; the third waits QUEUED behind them.
    clave = db.advisory_key("reportes_llamadas_dia", DIA)
    daemon = None
    with db.connect(urls.warehouse) as titular:
        titular.execute("SELECT pg_advisory_xact_lock(%s)", (clave,))
        primero, segundo, tercero = (_encolar(instance, contexto, location, repo) for _ in range(3))
        try:
            daemon = _lanzar_daemon(home, log)

            def llenos():
                estados = [_estado(instance, r) for r in (primero, segundo, tercero)]
                return estados[:2] == [dg.DagsterRunStatus.STARTED] * 2 and estados[2] == dg.DagsterRunStatus.QUEUED

            _esperar(llenos, 75, "two runs STARTED and one QUEUED", daemon, log)
            # The workers' pids come from Dagster's own engine event, as for any daemon-launched run.
            run = instance.get_run_by_id(primero)
            assert vigilancia.ETIQUETA_PID not in run.tags
            host, pid, _ = _esperar(lambda: vigilancia.proceso_de(instance, run), 30, "the worker's pid", daemon, log)
            otro = _esperar(
                lambda: vigilancia.proceso_de(instance, instance.get_run_by_id(segundo)),
                30,
                "the other worker's pid",
                daemon,
                log,
            )[1]
            arbol = psutil.Process(daemon.pid).children(recursive=True)
            trabajador = psutil.Process(pid)
            assert trabajador in arbol
            assert vigilancia.fallar_runs_muertos(instance) == []  # alive: left alone

            # The daemon and its code server first (the code server would report the worker's
            # death itself), then the worker and its step subprocess; the other run's worker lives on.
            de_otro = {otro, *(p.pid for p in psutil.Process(otro).children(recursive=True))}
            de_muerto = {pid, *(p.pid for p in trabajador.children(recursive=True))}
            _matar([psutil.Process(daemon.pid), *(p for p in arbol if p.pid not in de_otro | de_muerto)])
            daemon.wait(timeout=10)
            _matar([p for p in arbol if p.pid in de_muerto])
            muerto_en = time.monotonic()
            assert psutil.pid_exists(otro)

            # A new daemon counts the dead run as in progress: the queue is jammed until it is failed.
            daemon = _lanzar_daemon(home, log)
            visto = log.stat().st_size
            _esperar(lambda: LLENO in log.read_text()[visto:], 60, "the daemon to refuse a launch", daemon, log)
            assert _estado(instance, primero) == dg.DagsterRunStatus.STARTED
            assert _estado(instance, tercero) == dg.DagsterRunStatus.QUEUED

            resultado = vigilancia.runs_muertos(dg.build_sensor_context(instance=instance, resources=build_resources()))
            assert resultado.skip_message == f"1 corrida(s) muerta(s) marcada(s) como fallida(s): {primero}"
            run = instance.get_run_by_id(primero)
            assert run.status == dg.DagsterRunStatus.FAILURE
            assert run.tags[WILL_RETRY_TAG] == "false"  # alerted now, no automatic retry
            assert _estado(instance, segundo) == dg.DagsterRunStatus.STARTED  # its worker lives

            for sensor in (sensors.alertas_fallos, sensors.espejo_etl_jobs):
                sensor(dg.build_sensor_context(instance=instance, resources=build_resources()))
            assert time.monotonic() - muerto_en < 300  # failed, alerted and mirrored within 5 minutes
            alertas = warehouse.execute(
                "SELECT recipient_id FROM internal_messages WHERE dedupe_key = %s ORDER BY recipient_id",
                (f"run-failure:{primero}",),
            ).fetchall()
            assert [u for (u,) in alertas] == admins  # exactly one per active admin
            (estado, error) = warehouse.execute(
                "SELECT status, error_message FROM etl_jobs WHERE run_id = %s", (primero,)
            ).fetchone()
            assert estado == "failed" and f"pid {pid} en {host}" in error

            # The dead run no longer counts against max_concurrent_runs: the queue moves.
            _esperar(
                lambda: _estado(instance, tercero) in (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED),
                60,
                "the queued run to be launched",
                daemon,
                log,
            )
            assert _estado(instance, segundo) == dg.DagsterRunStatus.STARTED
            # A second pass fails nothing and alerts nobody again; no automatic retry was made.
            resultado = vigilancia.runs_muertos(dg.build_sensor_context(instance=instance, resources=build_resources()))
            assert resultado.skip_message == "0 corrida(s) muerta(s) marcada(s) como fallida(s)"
            sensors.alertas_fallos(dg.build_sensor_context(instance=instance, resources=build_resources()))
            assert warehouse.execute("SELECT count(*) FROM internal_messages").fetchone() == (len(admins),)
            # (the freshness sensor's own check runs aside)
            propios = [r for r in instance.get_runs() if r.tags.get("dagster/sensor_name") != "frescura"]
            assert len(propios) == 3
        finally:
            _matar_todo(home, daemon)
            titular.rollback()


def test_a_killed_worker_whose_code_server_lives_is_failed_by_dagster_once_and_retried(
    urls, warehouse, instance, admins, ubicacion, tmp_path
):
    # Only the worker dies (its code server notices within a second): Dagster fails the run
    # itself, runs_muertos must not fail it a second time, and the failure is retried once
    # (dagster.yaml run_retries) instead of alerted: the alert waits for the retry's outcome.
    contexto, location, repo = ubicacion
    home = instance.root_directory
    log = tmp_path / "daemon.log"
    clave = db.advisory_key("reportes_llamadas_dia", DIA)
    daemon = None
    with db.connect(urls.warehouse) as titular:
        titular.execute("SELECT pg_advisory_xact_lock(%s)", (clave,))
        primero, segundo, tercero = (_encolar(instance, contexto, location, repo) for _ in range(3))
        try:
            daemon = _lanzar_daemon(home, log)

            def llenos():
                estados = [_estado(instance, r) for r in (primero, segundo, tercero)]
                return estados[:2] == [dg.DagsterRunStatus.STARTED] * 2 and estados[2] == dg.DagsterRunStatus.QUEUED

            _esperar(llenos, 75, "two runs STARTED and one QUEUED", daemon, log)
            run = instance.get_run_by_id(primero)
            pid = _esperar(lambda: vigilancia.proceso_de(instance, run), 30, "the worker's pid", daemon, log)[1]
            _matar([psutil.Process(pid)])

            _esperar(
                lambda: _estado(instance, primero) == dg.DagsterRunStatus.FAILURE,
                30,
                "the code server to fail the run",
                daemon,
                log,
            )
            resultado = vigilancia.runs_muertos(dg.build_sensor_context(instance=instance, resources=build_resources()))
            assert resultado.skip_message == "0 corrida(s) muerta(s) marcada(s) como fallida(s)"
            fallos = instance.all_logs(primero, of_type=DagsterEventType.RUN_FAILURE)
            assert len(fallos) == 1
            motores = instance.all_logs(primero, of_type=DagsterEventType.ENGINE_EVENT)
            assert any(f"{primero} was terminated by signal 9" in e.message for e in motores)
            _esperar(
                lambda: _estado(instance, tercero) in (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED),
                60,
                "the queued run to be launched",
                daemon,
                log,
            )
            reintento = _esperar(
                lambda: instance.get_run_by_id(primero).tags.get(AUTO_RETRY_RUN_ID_TAG),
                60,
                "the automatic retry",
                daemon,
                log,
            )
            # The retry is created NOT_STARTED, then submitted: it waits in the queue (both slots taken).
            _esperar(
                lambda: _estado(instance, reintento) != dg.DagsterRunStatus.NOT_STARTED,
                30,
                "the retry to be submitted",
                daemon,
                log,
            )
            assert _estado(instance, reintento) == dg.DagsterRunStatus.QUEUED

            for sensor in (sensors.alertas_fallos, sensors.espejo_etl_jobs):
                sensor(dg.build_sensor_context(instance=instance, resources=build_resources()))
            assert warehouse.execute("SELECT count(*) FROM internal_messages").fetchone() == (0,)
            assert warehouse.execute("SELECT status FROM etl_jobs WHERE run_id = %s", (primero,)).fetchone() == (
                "failed",
            )
        finally:
            _matar_todo(home, daemon)
            titular.rollback()
