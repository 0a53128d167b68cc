"""The production topology, chosen by settings only: the instance on PostgreSQL, the code location
served by its own process (`dagster code-server start`) that the workspace points at, the daemon
launching a queued `diario` run through it, and the run's steps executed by two dagster-celery
workers (IACT_EJECUTOR_DIARIO=celery; broker RabbitMQ, result backend Redis).

Runs whenever the broker and the backend answer; under CI=true a missing one fails the test
instead of skipping it, so CI never passes without having run it."""

from __future__ import annotations

import dagster as dg

from iact_pipelines.cli import main
from iact_pipelines.demo import generador
from iact_pipelines_tests.plataforma.ayudas import (
    DIA,
    DIARIO,
    contenido,
    diario_lanzado,
    fin_del_run,
    pasos_por_trabajador,
)


def test_daily_run_through_code_server_daemon_and_two_celery_workers(
    urls, warehouse, ivr_writer, instance, topologia, monkeypatch
):
    procesos, _, trabajadores, _ = topologia
    generador.seed(urls.ivr, DIA, DIA, 400, 11)
    with diario_lanzado(instance, topologia) as (run_id, pasos):
        run = fin_del_run(instance, run_id, procesos)

    assert run.status == dg.DagsterRunStatus.SUCCESS, procesos.log("code-server")
    en_trabajadores = pasos_por_trabajador(instance, run_id)
    assert sorted(en_trabajadores) == sorted(pasos)  # every step, each in a worker
    assert set(en_trabajadores.values()) == set(trabajadores)  # both took steps

    # Exact rows: what the workers wrote is what an in-process run of the same day writes.
    fuente = ivr_writer.execute("SELECT count(*) FROM ivr.llamadas").fetchone()[0]
    distribuido = contenido(warehouse)
    assert 0 < len(distribuido["staging.llamadas"]) <= fuente
    assert sum(f[2] for f in distribuido["reportes_llamadas_dia"]) == len(distribuido["staging.llamadas"])
    monkeypatch.setenv("DAGSTER_HOME", "/nonexistent")  # the CLI sets its own for its process
    assert main(["materializar", "--desde", DIA.isoformat(), "--hasta", DIA.isoformat(), "--activos", DIARIO]) == 0
    assert contenido(warehouse) == distribuido
