"""A bad setting stops `iact materializar` with one readable line before any run starts, even
one that only a run would read (the staging volumen check's IACT_VOLUMEN_MINIMO)."""

import os
import subprocess
import sys

import pytest

IACT = [sys.executable, "-m", "iact_pipelines.cli"]


@pytest.mark.parametrize(
    "valor, mensaje",
    [("mucho", "IACT_VOLUMEN_MINIMO: 'mucho' no es un número"), ("1.5", "IACT_VOLUMEN_MINIMO: 1.5 está fuera de 0..1")],
)
def test_a_bad_volumen_minimo_stops_materializar_before_any_run(instance, valor, mensaje):
    proc = subprocess.run(
        [*IACT, "materializar", "--desde", "2024-05-07", "--hasta", "2024-05-07", "--activos", "staging/llamadas"],
        capture_output=True,
        env={**os.environ, "DAGSTER_HOME": "", "IACT_VOLUMEN_MINIMO": valor},
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines() == [f"iact: error: {mensaje}"]
    assert instance.get_runs() == []
