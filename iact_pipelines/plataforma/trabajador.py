"""The Celery app of the dagster-celery workers that run the daily job's steps
(IACT_EJECUTOR_DIARIO=celery): the same broker and result backend the executor is configured with.

    celery -A iact_pipelines.plataforma.trabajador worker -Q "$IACT_CELERY_COLA" --pool solo -n w1@%h

Each worker takes one step at a time from the `dagster` queue, loads the code location from the
step's own pointer (`iact_pipelines.definitions`) and writes its events to the run's instance,
so it needs the same settings as the code server (the database URLs, IACT_*). docs/DESPLIEGUE.md.
"""

from __future__ import annotations

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from iact_pipelines.plataforma import config
from iact_pipelines.plataforma.ejecutores import CONFIG_CELERY

app = make_app(
    CeleryExecutor.for_cli(
        broker=config.valor("IACT_CELERY_BROKER"),
        backend=config.valor("IACT_CELERY_BACKEND"),
        config_source={**CONFIG_CELERY, "task_default_queue": config.valor("IACT_CELERY_COLA")},
    ).app_args()
)
execute_plan = create_task(app)
