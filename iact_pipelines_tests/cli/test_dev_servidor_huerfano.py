"""`iact dev` owns the embedded server a killed `iact dev` left running: after kill -9 of a
session that had started it, the next session adopts it and its SIGTERM leaves nothing running."""

import json
import os
import signal
import subprocess
import sys
import time

from iact_pipelines.plataforma import embedded
from iact_pipelines_tests.cli.ayudas import graphql, puerto_libre

_URLS = ("IACT_IVR_URL", "IACT_WAREHOUSE_URL", "DAGSTER_PG_URL")


def test_the_orphaned_embedded_server_is_adopted_and_stopped(pg_urls, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in _URLS} | {"IACT_HOME": str(tmp_path)}
    iact = [sys.executable, "-m", "iact_pipelines.cli"]
    try:
        # the server a killed session started: running, and its lock file still naming it its own
        subprocess.run([*iact, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
        assert embedded.running_url(tmp_path) is not None
        (tmp_path / "dev.lock").write_text(json.dumps({"pid": 999999, "servidor_propio": True}))

        port = puerto_libre()
        proc = subprocess.Popen(
            [*iact, "dev", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            hasta, respuesta = time.monotonic() + 300, None
            while respuesta is None:
                assert time.monotonic() < hasta, "the UI never answered"
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                time.sleep(1)
                try:
                    respuesta = graphql(port, "{ version }")
                except OSError:
                    pass
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()[-2000:]
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        # nothing left running (the stop is synchronous; a loaded machine gets a little slack)
        hasta = time.monotonic() + 30
        while embedded.running_url(tmp_path) is not None and time.monotonic() < hasta:
            time.sleep(0.5)
        assert embedded.running_url(tmp_path) is None
    finally:
        embedded.stop(tmp_path)
