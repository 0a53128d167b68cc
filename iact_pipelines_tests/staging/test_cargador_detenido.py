"""A loader stopped in the middle of its load (SIGSTOP: a frozen process or a stalled network
looks the same to the server) holds no reader of its day, and loses its locks within
IACT_PG_CARGA_SIN_PROGRESO_S once the next loader of the day waits for them: that one goes
free, the previous rows stay, and the re-run is exact."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date

import dagster as dg

from iact_pipelines.demo import generador as demo
from iact_pipelines.plataforma import db, reemplazo
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.staging import assets as staging

DIA = date(2024, 3, 12)
PLAZO_S = 2

_CARGADOR = textwrap.dedent(
    """
    import sys
    import dagster as dg
    from iact_pipelines.plataforma.resources import build_resources
    from iact_pipelines.staging import assets as staging

    with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
        dg.materialize([staging.llamadas], partition_key=sys.argv[2], instance=instance, resources=build_resources())
    """
)
# Stopped where a stall hurts most: in the middle of its COPY (the session is then "active" at
# the server, out of reach of the idle-transaction timeout), holding its day's locks.
_COPIANDO = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE application_name LIKE %s AND state = 'active' AND query LIKE 'COPY %%staging%%llamadas%%'"
)


def _cuando_copia(warehouse, proc, limite_s=120.0) -> None:
    hasta = time.monotonic() + limite_s
    while time.monotonic() < hasta:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        if warehouse.execute(_COPIANDO, (f"{db.PREFIJO_RUN}%",)).fetchone()[0]:
            return
        time.sleep(0.002)
    raise AssertionError("the loader never reached its COPY")


def _en_staging(warehouse) -> int:
    return warehouse.execute("SELECT count(*) FROM staging.llamadas WHERE fecha = %s", (DIA,)).fetchone()[0]


def test_a_stopped_loader_frees_its_day_within_the_bound(urls, warehouse, instance, monkeypatch):
    demo.seed(urls.ivr, DIA, DIA, 60_000, 7, zona="America/Mexico_City")
    primera = dg.materialize(
        [staging.llamadas], partition_key=DIA.isoformat(), instance=instance, resources=build_resources()
    )
    assert primera.success
    antes = _en_staging(warehouse)

    monkeypatch.setenv("IACT_PG_CARGA_SIN_PROGRESO_S", str(PLAZO_S))  # the frozen loader's and the next one's
    proc = subprocess.Popen(
        [sys.executable, "-c", _CARGADOR, instance.root_directory, DIA.isoformat()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _cuando_copia(warehouse, proc)
        os.kill(proc.pid, signal.SIGSTOP)
        # a reader of the day, as the reports read it: not held by the frozen load at all
        with db.connect(urls.warehouse) as conn:
            inicio = time.monotonic()
            with conn.transaction():
                reemplazo.leer_staging(conn, ["llamadas"])
                leidas = conn.execute("SELECT count(*) FROM staging.llamadas WHERE fecha = %s", (DIA,)).fetchone()[0]
            segundos = time.monotonic() - inicio
        assert (leidas, segundos < 1) == (antes, True), segundos
        # the next loader of the day ends the frozen COPY once it has lasted the bound, instead
        # of waiting IACT_PG_LOCK_TIMEOUT_S (600 s) for its lock
        detenido = time.monotonic()
        segunda = dg.materialize(
            [staging.llamadas], partition_key=DIA.isoformat(), instance=instance, resources=build_resources()
        )
        assert segunda.success
        assert time.monotonic() - detenido < 60
        assert warehouse.execute(_COPIANDO, (f"{db.PREFIJO_RUN}%",)).fetchone()[0] == 0
        assert _en_staging(warehouse) == antes
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
