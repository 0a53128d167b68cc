"""Without the daemon (a cron-only deployment), the next `iact materializar` fails the runs a
killed process left STARTED, and their etl_jobs rows."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import dagster as dg

from iact_pipelines.cli import main
from iact_pipelines.monitoreo import seguimiento, vigilancia
from iact_pipelines.plataforma import db

_LENTO = textwrap.dedent(
    """
    import sys, time
    import dagster as dg

    @dg.asset
    def lento():
        '''Sleeps until killed.'''
        time.sleep(600)

    with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
        dg.materialize([lento], instance=instance)
    """
)


def _iniciado(instance, proc) -> dg.DagsterRun:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        (run,) = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])) or [None]
        if run is not None and vigilancia.proceso_de(instance, run) is not None:
            return run
        time.sleep(0.3)
    raise AssertionError("no run started")


def test_the_next_materializar_fails_a_killed_run_and_its_etl_job(urls, warehouse, instance, monkeypatch, capsys):
    monkeypatch.setattr(vigilancia, "GRACIA_S", 0.0)
    monkeypatch.setenv("DAGSTER_HOME", "/nonexistent")
    proc = subprocess.Popen(
        [sys.executable, "-c", _LENTO, instance.root_directory], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        run = _iniciado(instance, proc)
        with db.connect(urls.warehouse) as conn, conn.transaction():  # as the mirror saw it: running
            seguimiento.registrar_run(
                conn, seguimiento.resumir_run(instance, instance.get_run_record_by_id(run.run_id))
            )
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()

    codigo = main(
        ["materializar", "--desde", "2024-05-07", "--hasta", "2024-05-07", "--activos", "reportes/llamadas_dia"]
    )

    assert codigo == 0, capsys.readouterr().err
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    estado, error = warehouse.execute(
        "SELECT status, error_message FROM etl_jobs WHERE run_id = %s", (run.run_id,)
    ).fetchone()
    assert estado == "failed" and "ya no existe" in error and "iact materializar" in error
