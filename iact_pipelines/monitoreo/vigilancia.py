"""Dead runs: a STARTED run whose process is gone (kill -9, OOM, a crash, a reboot) is failed.

A daemon-launched worker that dies alone is failed by its code server, which watches its
child processes. When the code server dies with it (kill -9 of `iact dev`'s process group, OOM,
a reboot) nothing else notices: Dagster's run monitoring has no worker health check with the
default run launcher, and runs executed in process by `iact materializar` have no launcher at
all. Such runs stayed STARTED forever, counted against `max_concurrent_runs` and were never
alerted nor mirrored. Every run knows its process:

- `iact materializar` tags its runs with host, pid and the process's start time (the start
  time tells a reused pid apart);
- any other run (daemon/UI-launched workers, `dg.materialize`) records its pid in Dagster's
  own engine event ("Started process for run (pid: N)", "Executing steps in process").

The `runs_muertos` sensor checks them on this host every minute and fails the dead ones with
`instance.report_run_failed`, tagged not to be retried automatically (a process killed once
is likely to be killed again, e.g. out of memory): the failure sensor alerts it and the
etl_jobs mirror records it `failed` on their next ticks, well within 5 minutes.
"""

from __future__ import annotations

import os
import socket
import time

import dagster as dg
import psutil
from dagster._core.events import DagsterEventType
from dagster._core.storage.tags import MAX_RETRIES_TAG

ETIQUETA_HOST = "iact/host"
ETIQUETA_PID = "iact/pid"
ETIQUETA_PID_INICIO = "iact/pid_inicio"
INTERVALO_S = 60
GRACIA_S = 30.0  # a run this young may not have recorded its pid yet


def etiquetas_proceso() -> dict[str, str]:
    """Run tags naming this process, for runs executed in process."""
    return {
        ETIQUETA_HOST: socket.gethostname(),
        ETIQUETA_PID: str(os.getpid()),
        ETIQUETA_PID_INICIO: f"{psutil.Process().create_time():.2f}",
    }


def proceso_de(instance: dg.DagsterInstance, run: dg.DagsterRun) -> tuple[str, int, float | None] | None:
    """(host, pid, process start time or None) of the run's process, or None when unknown."""
    if run.tags.get(ETIQUETA_PID):
        inicio = run.tags.get(ETIQUETA_PID_INICIO)
        return run.tags.get(ETIQUETA_HOST, ""), int(run.tags[ETIQUETA_PID]), float(inicio) if inicio else None
    # The default run launcher starts workers on this host; the first pid recorded is the
    # run worker's (its step subprocesses die with the run or finish on their own).
    for entrada in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
        datos = entrada.dagster_event.event_specific_data
        pid = (getattr(datos, "metadata", None) or {}).get("pid")
        if pid is not None:
            return socket.gethostname(), int(getattr(pid, "value", pid)), None
    return None


def esta_vivo(pid: int, inicio: float | None) -> bool:
    try:
        proceso = psutil.Process(pid)
        if proceso.status() == psutil.STATUS_ZOMBIE:
            return False
        return inicio is None or abs(proceso.create_time() - inicio) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # exists, owned by someone else


def fallar_runs_muertos(
    instance: dg.DagsterInstance, *, ahora: float | None = None, por: str = "el sensor runs_muertos"
) -> list[str]:
    """Fail every STARTED run of this host whose process is gone; returns their run ids.
    `por`: who noticed (the sensor, or the next `iact materializar` where no daemon runs)."""
    ahora = time.time() if ahora is None else ahora
    host = socket.gethostname()
    fallados = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        run = record.dagster_run
        if record.start_time is not None and ahora - record.start_time < GRACIA_S:
            continue
        proceso = proceso_de(instance, run)
        if proceso is None or proceso[0] != host or esta_vivo(proceso[1], proceso[2]):
            continue
        instance.add_run_tags(run.run_id, {MAX_RETRIES_TAG: "0"})
        instance.report_run_failed(
            instance.get_run_by_id(run.run_id),
            f"El proceso del run (pid {proceso[1]} en {host}) ya no existe (terminado o caído): "
            f"run marcado como fallido por {por}.",
        )
        fallados.append(run.run_id)
    return fallados


@dg.sensor(
    name="runs_muertos",
    minimum_interval_seconds=INTERVALO_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Marca fallidos los runs STARTED cuyo proceso ya no existe (matado, caído): se alertan, quedan "
        "como failed en etl_jobs y dejan de contar para el límite de concurrencia."
    ),
)
def runs_muertos(context: dg.SensorEvaluationContext):
    """Dead-run detection."""
    fallados = fallar_runs_muertos(context.instance)
    informe = f"{len(fallados)} corrida(s) muerta(s) marcada(s) como fallida(s)" + (
        f": {', '.join(fallados)}" if fallados else ""
    )
    context.log.info(informe)
    return dg.SkipReason(informe)
