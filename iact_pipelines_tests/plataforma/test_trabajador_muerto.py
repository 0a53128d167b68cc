"""A dagster-celery worker killed (kill -9) in the middle of the staging step of a `diario` run:
the day is never half written (the dead worker's transaction goes with it and the day keeps
its previous rows), the broker hands the step to the other worker (steps are acknowledged when
they end: plataforma/ejecutores.CONFIG_CELERY), and the run ends with exactly the rows an
in-process run of the same source leaves. Before, the step was lost with its worker and the
run waited for it forever.

Cost: one topology start-up and three runs of a 400-call day (about 60-90 s here)."""

from __future__ import annotations

from functools import partial

import dagster as dg
from psycopg import sql

from iact_pipelines.cli import main
from iact_pipelines.demo import generador
from iact_pipelines.plataforma import config, db
from iact_pipelines_tests.plataforma.ayudas import (
    DIA,
    DIARIO,
    contenido,
    diario_lanzado,
    esperar,
    fin_del_run,
    trabajadores_por_paso,
)

PASO = "staging__llamadas"
# The extraction of staging.llamadas waiting on the test's lock on the source table.
_ESPERA_AL_CANDADO = """
SELECT count(*) FROM pg_stat_activity
WHERE wait_event_type = 'Lock' AND query ILIKE '%ivr%llamadas%' AND pid <> pg_backend_pid()
"""


def _materializar() -> None:
    assert main(["materializar", "--desde", DIA.isoformat(), "--hasta", DIA.isoformat(), "--activos", DIARIO]) == 0


def _menos_llamadas(ivr) -> None:
    """The source changes for the day: a third of its calls are gone, with their events and transfers."""
    for tabla in ("menu_eventos", "transferencias", "llamadas"):
        ivr.execute(sql.SQL("DELETE FROM {} WHERE llamada_id % 3 = 0").format(sql.Identifier("ivr", tabla)))


def test_a_worker_killed_mid_step_leaves_the_day_whole_and_another_worker_runs_the_step(
    urls, warehouse, ivr_writer, instance, topologia, monkeypatch
):
    from iact_pipelines.plataforma.trabajador import app

    procesos, _, trabajadores, _ = topologia
    generador.seed(urls.ivr, DIA, DIA, 400, 11)
    monkeypatch.setenv("DAGSTER_HOME", "/nonexistent")  # the CLI sets its own for its process
    _materializar()
    antes = contenido(warehouse)["staging.llamadas"]
    _menos_llamadas(ivr_writer)

    # The step's extraction waits on this lock, inside the transaction that replaces the day.
    with db.connect(urls.ivr) as candado:
        candado.execute("LOCK TABLE ivr.llamadas IN ACCESS EXCLUSIVE MODE")
        with diario_lanzado(instance, topologia) as (run_id, _):
            esperar(lambda: PASO in trabajadores_por_paso(instance, run_id), 120, "a worker taking the step", procesos)
            esperar(lambda: ivr_writer.execute(_ESPERA_AL_CANDADO).fetchone()[0], 60, "the step mid-way", procesos)
            (victima,) = trabajadores_por_paso(instance, run_id)[PASO]
            (otro,) = [t for t in trabajadores if t != victima]
            # The other worker takes nothing more for now, so the day can be read between the
            # death and the retry (a worker answers between steps: --pool solo).
            cola = config.valor("IACT_CELERY_COLA")
            dejar = partial(app.control.cancel_consumer, cola, destination=[otro], reply=True, timeout=2)
            esperar(dejar, 90, "the other worker to stop taking steps", procesos)
            procesos.matar(victima.split("@")[0])
            candado.rollback()
            assert contenido(warehouse)["staging.llamadas"] == antes  # the previous day, whole

            assert app.control.add_consumer(cola, destination=[otro], reply=True, timeout=10)
            run = fin_del_run(instance, run_id, procesos, 180)

    assert run.status == dg.DagsterRunStatus.SUCCESS, procesos.log(otro.split("@")[0])
    assert trabajadores_por_paso(instance, run_id)[PASO] == [victima, otro]
    distribuido = contenido(warehouse)
    assert len(distribuido["staging.llamadas"]) < len(antes)  # the source's change is in
    _materializar()
    assert contenido(warehouse) == distribuido
