"""Fixtures of the distributed-topology tests (helpers in ayudas.py)."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from iact_pipelines.plataforma import config
from iact_pipelines.plataforma.config import PROJECT_ROOT
from iact_pipelines_tests.plataforma.ayudas import BIN, UBICACION, Procesos, puerto_libre, responde


@pytest.fixture
def cola():
    """The broker and the result backend of the settings: skipped when absent, failed under CI."""
    faltan = [n for n in ("IACT_CELERY_BROKER", "IACT_CELERY_BACKEND") if not responde(config.valor(n))]
    if faltan:
        mensaje = f"{', '.join(faltan)} not answering: the distributed topology cannot be tested"
        if os.environ.get("CI") == "true":
            pytest.fail(mensaje)
        pytest.skip(mensaje)


@pytest.fixture
def topologia(cola, pg_urls, instance, tmp_path, monkeypatch):
    """Code server, workspace at it, two celery workers and the daemon, over the test instance."""
    # A queue of its own: workers of another test session on this broker never take its steps.
    nombre_cola = f"iact-prueba-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("IACT_CELERY_COLA", nombre_cola)  # this process's app (control, ping) too
    env = {**os.environ, "DAGSTER_HOME": instance.root_directory, "IACT_EJECUTOR_DIARIO": "celery"}
    procesos = Procesos(env, tmp_path)
    puerto = puerto_libre()
    espacio = tmp_path / "workspace.yaml"
    espacio.write_text(
        f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {puerto}\n      location_name: {UBICACION}\n"
    )
    sufijo = uuid.uuid4().hex[:6]
    trabajadores = [f"w{i}-{sufijo}@{socket.gethostname()}" for i in (1, 2)]
    try:
        procesos.lanzar(
            "code-server",
            [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(puerto)]
            + ["-m", "iact_pipelines.definitions", "--location-name", UBICACION, "-d", str(PROJECT_ROOT)],
        )
        for nombre in trabajadores:
            procesos.lanzar(
                nombre.split("@")[0],
                [str(BIN / "celery"), "-A", "iact_pipelines.plataforma.trabajador", "worker", "-Q", nombre_cola]
                + ["--pool", "solo", "-n", nombre, "--without-gossip", "--without-mingle", "-l", "INFO"],
            )
        yield procesos, espacio, trabajadores, puerto
    finally:
        procesos.detener()
