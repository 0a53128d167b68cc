"""`iact dev` brings the UI up on the configured databases, keeps the terminal quiet and stops
everything on SIGTERM with exit status 0."""

import os
import signal
import subprocess
import sys
import time

import psutil

from iact_pipelines.cli.dev import para_la_terminal
from iact_pipelines_tests.cli.ayudas import graphql, puerto_libre


def test_dev_serves_graphql_and_stops_cleanly_on_sigterm(pg_urls, tmp_path):
    port = puerto_libre()
    env = {**os.environ, "IACT_HOME": str(tmp_path)}  # URLs of the test server are exported by pg_urls
    proc = subprocess.Popen(
        [sys.executable, "-m", "iact_pipelines.cli", "dev", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        answer = None
        while time.monotonic() < deadline and answer is None:
            time.sleep(1)
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            try:
                answer = graphql(port, "{ version }")
            except OSError:
                pass
        assert answer == {"data": {"version": __import__("dagster").__version__}}
        # The code location loads in the UI: every asset of the project is there.
        ubicaciones = graphql(
            port,
            "{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {"
            " __typename ... on RepositoryLocation { repositories { assetNodes { assetKey { path } } } }"
            " ... on PythonError { message } } } } } }",
        )["data"]["workspaceOrError"]["locationEntries"]
        assert [u["name"] for u in ubicaciones] == ["iact_pipelines"]
        carga = ubicaciones[0]["locationOrLoadError"]
        assert carga["__typename"] == "RepositoryLocation", carga
        claves = {"/".join(n["assetKey"]["path"]) for n in carga["repositories"][0]["assetNodes"]}
        assert {"ivr/llamadas", "staging/llamadas", "reportes/llamadas_dia", "reportes/trimestral"} <= claves
        descendants = psutil.Process(proc.pid).children(recursive=True)
        assert len(descendants) >= 3  # dagster dev, webserver, daemon (and code servers)

        time.sleep(20)  # a few sensor ticks (every 15 s) with nothing to do
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        terminal = proc.stdout.read().decode()
        assert f"interfaz de Dagster lista: http://127.0.0.1:{port}" in terminal
        for ruido in ("Warning", "Traceback", "Aborted!", "Checking for new runs for sensor", "skipped:", "will not"):
            assert ruido not in terminal, terminal
        time.sleep(0.5)
        alive = [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert alive == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_the_terminal_drops_dagster_s_polling_and_says_its_known_lines_in_spanish():
    inicio = "2026-12-08 00:52:32 +0000 - dagster.daemon.SensorDaemon - INFO - "
    monitor = "2026-12-08 00:52:55 +0000 - dagster.daemon.MonitoringDaemon - INFO - "
    for linea in (
        f"{monitor}Collected 1 runs for monitoring\n",
        f"{monitor}Checking run 6868f63a-c4c0-4cbf-a577-67e219465957\n",
        f"{inicio}Creating new run for frescura\n",
        f"{inicio}Launching run for frescura\n",
        "2026-12-08 01:00:59 +0000 - dagster.daemon.SchedulerDaemon - INFO - Evaluating schedule "
        "`observar_fuentes_cada_15_min` at 2026-12-08 01:00:00 +0000\n",
        "2026-12-08 01:30:53 +0000 - dagster.daemon.SchedulerDaemon - WARNING - observar_fuentes_cada_15_min "
        "has no partition set, so not trying to catch up\n",
    ):
        assert para_la_terminal(linea) is None, linea
    assert para_la_terminal(f"{inicio}Completed launch of run 6868f63a for frescura\n") == (
        f"{inicio}frescura lanzó el run 6868f63a\n"
    )
    programa = "2026-12-08 01:01:00 +0000 - dagster.daemon.SchedulerDaemon - INFO - "
    assert para_la_terminal(f"{programa}Completed scheduled launch of run 55b4 for observar_fuentes\n") == (
        f"{programa}observar_fuentes lanzó el run 55b4\n"
    )
    cola = "2026-12-08 00:52:40 +0000 - dagster.daemon.QueuedRunCoordinatorDaemon - INFO - "
    assert para_la_terminal(f"{cola}Launched 2 runs.\n") == f"{cola}la cola lanzó 2 run(s)\n"
    propia = "2026-12-08 00:54:06 +0000 - dagster - INFO - __repository__ - alertas_fallos - 1 corrida(s) alertada(s)\n"
    assert para_la_terminal(propia) == propia
