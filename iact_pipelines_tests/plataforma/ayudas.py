"""What the distributed-topology tests share: the processes of the topology (code server,
workspace pointing at it, celery workers, daemon), waiting on them, queuing `diario` as the UI
does, and reading back which worker ran each step and what the run left in the warehouse."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import psutil
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin
from dagster._core.storage.tags import PARTITION_NAME_TAG
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from psycopg import sql

from iact_pipelines.plataforma import catalogo
from iact_pipelines.plataforma.config import PROJECT_ROOT

UBICACION = "iact_pipelines"
DIA = date(2024, 5, 7)
BIN = Path(sys.executable).parent
_PUERTOS_POR_DEFECTO = {"pyamqp": 5672, "amqp": 5672, "redis": 6379}

# What the daily run leaves for the day (business columns), compared between the workers' run and
# an in-process one; the rejected rows by record and rule.
_TABLAS = ("staging.llamadas", "staging.menu_eventos", "staging.transferencias", "reportes_llamadas_dia")
_TABLAS += ("reportes_menu_problemas", "reportes_transferencias", "reportes_intervalos", "reportes_rellamadas")
_ERRORES = "SELECT asset_key, partition_key, record_id, error_type FROM etl_validation_errors"
DIARIO = "staging/*,reportes/llamadas_dia,reportes/menu_problemas,reportes/transferencias,reportes/intervalos"
DIARIO += ",reportes/rellamadas,reportes/devolucion"


def responde(url: str) -> bool:
    partes = urlsplit(url)
    try:
        with socket.create_connection(
            (partes.hostname, partes.port or _PUERTOS_POR_DEFECTO.get(partes.scheme, 0)), timeout=2
        ):
            return True
    except OSError:
        return False


def puerto_libre() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procesos:
    """The topology's processes, each in its own session, logged under tmp_path."""

    def __init__(self, env: dict, carpeta: Path):
        self.env, self.carpeta, self.lanzados, self.muertos = env, carpeta, [], set()

    def lanzar(self, nombre: str, cmd: list[str]) -> subprocess.Popen:
        with open(self.carpeta / f"{nombre}.log", "w") as log:
            proc = subprocess.Popen(
                cmd, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.lanzados.append((nombre, proc))
        return proc

    def log(self, nombre: str) -> str:
        return (self.carpeta / f"{nombre}.log").read_text()[-3000:]

    def vivos(self) -> None:
        for nombre, proc in self.lanzados:
            assert proc.poll() is None or nombre in self.muertos, f"{nombre} exited:\n{self.log(nombre)}"

    def matar(self, nombre: str) -> None:
        """kill -9 of one of them, on purpose (no longer expected alive)."""
        proc = dict(self.lanzados)[nombre]
        self.muertos.add(nombre)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def detener(self) -> None:
        # The run workers the code server spawned live in its session: the whole sessions go.
        arboles = []
        for _, proc in self.lanzados:
            try:
                arboles += [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        for _, proc in self.lanzados:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in arboles:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(arboles, timeout=10)
        for _, proc in self.lanzados:
            proc.wait(timeout=10)


def esperar(condicion, segundos: float, que: str, procesos: Procesos):
    limite = time.monotonic() + segundos
    while time.monotonic() < limite:
        procesos.vivos()
        valor = condicion()
        if valor:
            return valor
        time.sleep(0.5)
    raise AssertionError(f"timed out after {segundos} s waiting for {que}\n{procesos.log('daemon')}")


def ubicacion_cargada(instance, espacio: Path):
    def cargar():
        with WorkspaceProcessContext(instance, WorkspaceFileTarget([str(espacio)])) as proceso:
            contexto = proceso.create_request_context()
            return not contexto.has_code_location_error(UBICACION)

    return cargar


def parar_instigadores(instance, repo) -> list:
    """Sensors and schedules stopped: the daemon only dequeues and launches here."""
    parados = []
    for sensor in repo.get_sensors():
        instance.stop_sensor(sensor.get_remote_origin_id(), sensor.selector_id, sensor)
        parados.append((sensor.get_remote_origin_id(), sensor.selector_id))
    for schedule in repo.get_schedules():
        instance.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id, schedule)
        parados.append((schedule.get_remote_origin_id(), schedule.selector_id))
    return parados


def encolar_diario(instance, contexto, location, repo) -> tuple[str, list[str]]:
    """A run of the whole `diario` job for DIA, queued as the UI queues it."""
    job = location.get_job(
        JobSubsetSelector(location_name=UBICACION, repository_name=repo.name, job_name="diario", op_selection=None)
    )
    plan = location.get_execution_plan(job, {}, step_keys_to_execute=None, known_state=None, instance=instance)
    run = instance.create_run(
        job_name=job.name,
        run_id=None,
        run_config={},
        resolved_op_selection=None,
        step_keys_to_execute=None,
        op_selection=None,
        status=None,
        root_run_id=None,
        parent_run_id=None,
        tags={**job.tags, PARTITION_NAME_TAG: DIA.isoformat()},
        job_snapshot=job.job_snapshot,
        execution_plan_snapshot=plan.execution_plan_snapshot,
        parent_job_snapshot=job.parent_job_snapshot,
        remote_job_origin=job.get_remote_origin(),
        job_code_origin=job.get_python_origin(),
        asset_selection=None,
        asset_check_selection=None,
        asset_graph=repo.asset_graph,
    )
    return instance.submit_run(run.run_id, contexto).run_id, plan.execution_plan_snapshot.step_keys_to_execute


def trabajadores_por_paso(instance, run_id: str) -> dict[str, list[str]]:
    """step key -> the celery workers that took it, in order, from dagster-celery's engine events."""
    pasos: dict[str, list[str]] = {}
    for evento in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        metadata = evento.dagster_event.engine_event_data.metadata
        if "Celery worker" in metadata:
            pasos.setdefault(evento.step_key, []).append(metadata["Celery worker"].value)
    return pasos


def pasos_por_trabajador(instance, run_id: str) -> dict[str, str]:
    """step key -> the celery worker that executed it (the last one that took it)."""
    return {paso: quienes[-1] for paso, quienes in trabajadores_por_paso(instance, run_id).items()}


@contextmanager
def diario_lanzado(instance, topologia):
    """Once both workers and the code location answer: a `diario` run of DIA queued through the
    code server as the UI queues it, and the daemon started to launch it (sensors and schedules
    stopped: it only dequeues). Yields (run id, the plan's step keys)."""
    from iact_pipelines.plataforma.trabajador import app

    procesos, espacio, trabajadores, puerto = topologia
    esperar(lambda: len(app.control.ping(destination=trabajadores, timeout=1.0)) == 2, 90, "both workers", procesos)
    esperar(lambda: responde(f"grpc://127.0.0.1:{puerto}"), 90, "the code server's port", procesos)
    esperar(ubicacion_cargada(instance, espacio), 90, "the code location", procesos)
    with WorkspaceProcessContext(instance, WorkspaceFileTarget([str(espacio)])) as proceso:
        contexto = proceso.create_request_context()
        location = contexto.get_code_location(UBICACION)
        repo = next(iter(location.get_repositories().values()))
        parados = parar_instigadores(instance, repo)
        try:
            assert isinstance(location.origin, GrpcServerCodeLocationOrigin)  # served apart, not loaded here
            run_id, pasos = encolar_diario(instance, contexto, location, repo)
            procesos.lanzar("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(espacio)])
            yield run_id, pasos
        finally:
            for origen_id, selector_id in parados:
                instance.delete_instigator_state(origen_id, selector_id)


def fin_del_run(instance, run_id: str, procesos: Procesos, segundos: float = 150):
    """The run once it has ended (an AssertionError with the daemon's log if not within `segundos`)."""
    return esperar(
        lambda: (r := instance.get_run_by_id(run_id)).is_finished and r, segundos, "the run to end", procesos
    )


def contenido(warehouse) -> dict[str, list]:
    contenido = {"errores": sorted(warehouse.execute(_ERRORES).fetchall())}
    for tabla in _TABLAS:
        columnas = sql.SQL(", ").join(map(sql.Identifier, catalogo.tabla(tabla).nombres()))
        consulta = sql.SQL("SELECT {} FROM {}").format(columnas, sql.Identifier(*tabla.split(".")))
        contenido[tabla] = sorted(warehouse.execute(consulta).fetchall(), key=repr)
    return contenido
