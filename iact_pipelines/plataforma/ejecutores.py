"""The executor of every run the daemon launches (the `diario` schedule, the sensors' period runs,
the UI's materializations and backfills), chosen by IACT_EJECUTOR_DIARIO when the definitions load.

`en_proceso` runs every step in the run's own process: a typical day's steps are seconds of work
and a process per step costs a Python start-up and a definitions load apiece (3-4 s each under
the daemon). A step that crashes the process takes the run with it; run monitoring fails it and
the run retry launches it again (dagster.yaml). `multiproceso` is Dagster's default (a process
per step); `celery` hands each step to the dagster-celery workers listening on the broker, the
scale-out across machines (docs/DESPLIEGUE.md). `iact materializar` runs in-process whatever
the setting (`execute_in_process`).
"""

from __future__ import annotations

import dagster as dg

from iact_pipelines.plataforma import config

# Celery's settings for the steps, the same in the executor and the workers (trabajador.py). A
# step is acknowledged when it ends, not when a worker takes it, and a worker holds no step in
# reserve: the broker hands a step whose worker died (kill -9, out of memory, a lost machine)
# to another worker, which replaces the step's days whole (plataforma/reemplazo.py). With the
# defaults (acknowledged on receipt, four in reserve) those steps were lost and the run waited
# for them forever.
CONFIG_CELERY = {"task_acks_late": True, "task_reject_on_worker_lost": True, "worker_prefetch_multiplier": 1}


def elegido() -> dg.ExecutorDefinition:
    """The executor IACT_EJECUTOR_DIARIO names."""
    tipo = config.valor("IACT_EJECUTOR_DIARIO")
    if tipo == "en_proceso":
        return dg.in_process_executor
    if tipo == "multiproceso":
        return dg.multiprocess_executor
    from dagster_celery import celery_executor  # celery and kombu only where they are used

    return celery_executor.configured(
        {
            "broker": config.valor("IACT_CELERY_BROKER"),
            "backend": config.valor("IACT_CELERY_BACKEND"),
            "config_source": {**CONFIG_CELERY, "task_default_queue": config.valor("IACT_CELERY_COLA")},
        },
        name="celery",
    )
