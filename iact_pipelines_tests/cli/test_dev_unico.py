"""One `iact dev` per IACT_HOME: a second one exits at once with one line; after a
`kill -9` the next one starts cleanly, and its SIGTERM leaves no process behind."""

import os
import signal
import subprocess
import sys
import time

import psutil

from iact_pipelines_tests.cli.ayudas import graphql, puerto_libre


def _iniciar(home, port):
    return subprocess.Popen(
        [sys.executable, "-m", "iact_pipelines.cli", "dev", "--port", str(port)],
        env={**os.environ, "IACT_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _esperar_ui(proc, port):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        try:
            return graphql(port, "{ version }")
        except OSError:
            time.sleep(1)
    raise AssertionError("the UI did not come up")


def _vivos(procesos):
    return [p for p in procesos if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_one_dev_per_home_and_a_clean_restart_after_kill_9(pg_urls, tmp_path):
    port = puerto_libre()
    primero = _iniciar(tmp_path, port)
    procesos = []
    try:
        _esperar_ui(primero, port)
        procesos = psutil.Process(primero.pid).children(recursive=True)

        segundo = _iniciar(tmp_path, puerto_libre())
        codigo = segundo.wait(timeout=30)
        lineas = segundo.stderr.read().decode().strip().splitlines()
        assert codigo == 2
        assert len(lineas) == 1 and f"ya corre para IACT_HOME={tmp_path} (pid {primero.pid}" in lineas[0]
        assert graphql(port, "{ version }")["data"]["version"]  # the first keeps serving

        os.kill(primero.pid, signal.SIGKILL)  # only `iact dev` itself, not its children
        primero.wait(timeout=10)

        tercero = _iniciar(tmp_path, port)  # same port: the leftovers must be gone first
        try:
            # The killed one's UI may still answer for a moment: first its processes must go
            # (the new `iact dev` stops them before it starts), then the new UI comes up.
            deadline = time.monotonic() + 30
            while _vivos(procesos) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert [p.cmdline() for p in _vivos(procesos)] == []  # nothing of the killed one is still running
            _esperar_ui(tercero, port)
            nuevos = psutil.Process(tercero.pid).children(recursive=True)
            tercero.send_signal(signal.SIGTERM)
            assert tercero.wait(timeout=60) == 0
            time.sleep(0.5)
            assert _vivos(nuevos) == []
        finally:
            if tercero.poll() is None:
                os.killpg(tercero.pid, signal.SIGKILL)
    finally:
        for p in _vivos(procesos):
            p.kill()
        if primero.poll() is None:
            os.killpg(primero.pid, signal.SIGKILL)
