"""Dead runs: a run whose process was killed is failed, alerted once and mirrored as
failed in etl_jobs, and stops counting as in progress."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import dagster as dg
import pytest
from dagster._core.storage.tags import WILL_RETRY_TAG

from iact_pipelines.monitoreo import sensors, vigilancia
from iact_pipelines.plataforma import db
from iact_pipelines.plataforma.resources import build_resources


@pytest.fixture(autouse=True)
def sin_esperas(monkeypatch):
    monkeypatch.setattr(vigilancia, "GRACIA_S", 0.0)
    monkeypatch.setattr(sensors, "MARGEN_S", 0.0)


def _esperar_started(instance, proc, segundos=90):
    deadline = time.monotonic() + segundos
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        if runs:
            return runs[0]
        time.sleep(0.5)
    raise AssertionError("no run started")


def _detectar_alertar_espejar(instance, warehouse, run_id):
    contexto = dg.build_sensor_context(instance=instance, resources=build_resources())
    resultado = vigilancia.runs_muertos(contexto)
    assert run_id in resultado.skip_message
    run = instance.get_run_by_id(run_id)
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert run.tags[WILL_RETRY_TAG] == "false"  # alerted now, not held for an automatic retry
    assert instance.get_runs_count(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])) == 0
    with db.connect(db.resolve_urls(start=False).warehouse) as conn:
        sensors.revisar_fallos(instance, conn, None, ui_url="http://ui")
        sensors.espejar_runs(instance, conn, None)
        conn.commit()
    assert warehouse.execute(
        "SELECT count(*) FROM internal_messages WHERE dedupe_key = %s", (f"run-failure:{run_id}",)
    ).fetchone() == (2,)  # one per active admin
    (estado, error) = warehouse.execute(
        "SELECT status, error_message FROM etl_jobs WHERE run_id = %s", (run_id,)
    ).fetchone()
    assert estado == "failed" and "ya no existe" in error
    # a second pass writes nothing new: alerted once
    resultado = vigilancia.runs_muertos(dg.build_sensor_context(instance=instance, resources=build_resources()))
    assert resultado.skip_message == "0 corrida(s) muerta(s) marcada(s) como fallida(s)"


def test_a_killed_cli_run_is_failed_alerted_and_mirrored(urls, warehouse, instance, admins, monkeypatch):
    # The run waits on its partition's lock held here, so it is surely STARTED when killed.
    clave = db.advisory_key("reportes_llamadas_dia", "2024-05-07")
    with db.connect(urls.warehouse) as titular:
        titular.execute("SELECT pg_advisory_xact_lock(%s)", (clave,))
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "iact_pipelines.cli",
                "materializar",
                "--desde",
                "2024-05-07",
                "--hasta",
                "2024-05-07",
                "--activos",
                "reportes/llamadas_dia",
            ],
            env={**os.environ, "DAGSTER_HOME": ""},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            run = _esperar_started(instance, proc)
            assert run.tags[vigilancia.ETIQUETA_PID] == str(proc.pid)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        titular.rollback()
    _detectar_alertar_espejar(instance, warehouse, run.run_id)


_SIN_ETIQUETAS = textwrap.dedent(
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


def test_a_killed_run_without_tags_is_found_by_the_pid_dagster_recorded(warehouse, instance, admins, tmp_path):
    # Like a daemon-launched worker: only Dagster's own engine event knows its pid.
    proc = subprocess.Popen(
        [sys.executable, "-c", _SIN_ETIQUETAS, instance.root_directory],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        run = _esperar_started(instance, proc)
        assert vigilancia.ETIQUETA_PID not in run.tags
        # The engine event that records the pid may land just after the run is STARTED.
        deadline = time.monotonic() + 30
        while vigilancia.proceso_de(instance, run) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert vigilancia.proceso_de(instance, run)[1] == proc.pid
        # alive: left alone
        assert vigilancia.fallar_runs_muertos(instance) == []
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    _detectar_alertar_espejar(instance, warehouse, run.run_id)
