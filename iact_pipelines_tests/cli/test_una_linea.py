"""Every `iact` failure ends with one readable line and exit code 2; the trace only
with --verbose. The CLI runs as a subprocess, as a person runs it."""

import os
import subprocess
import sys

import pytest

from iact_pipelines.cli import main
from iact_pipelines.plataforma import migrations
from iact_pipelines_tests.reportes.ayudas import cargar, llamada

IACT = [sys.executable, "-m", "iact_pipelines.cli"]


def _iact(*args, **kwargs):
    return subprocess.run(
        [*IACT, *args], capture_output=True, env={**os.environ, "DAGSTER_HOME": ""}, timeout=300, **kwargs
    )


def test_non_utf8_argument_is_one_line(pg_urls):
    proc = _iact("buzon", "listar", "--usuario", b"ana\xff")
    assert proc.returncode == 2
    assert proc.stderr.decode().splitlines() == [
        "iact: error: el argumento b'ana\\xff' no es UTF-8 válido (use texto UTF-8)"
    ]


def test_output_into_a_closed_pipe_ends_quietly(warehouse):
    warehouse.execute("INSERT INTO usuarios (nombre, es_admin, activo) VALUES ('ana', true, true)")
    leer, escribir = os.pipe()
    os.close(leer)  # like `iact buzon listar | head` once head has exited
    try:
        proc = subprocess.run(
            [*IACT, "buzon", "listar", "--usuario", "ana"], stdout=escribir, stderr=subprocess.PIPE, timeout=60
        )
    finally:
        os.close(escribir)
    assert proc.returncode == 141
    assert proc.stderr == b""


def test_a_changed_applied_migration_is_refused(urls, warehouse):
    version = migrations.migration_files()[0].name
    (original,) = warehouse.execute("SELECT checksum FROM schema_migrations WHERE version = %s", (version,)).fetchone()
    warehouse.execute("UPDATE schema_migrations SET checksum = %s WHERE version = %s", ("0" * 64, version))
    try:
        proc = _iact("db", "migrate")
    finally:
        warehouse.execute("UPDATE schema_migrations SET checksum = %s WHERE version = %s", (original, version))
    lineas = proc.stderr.decode().splitlines()
    assert proc.returncode == 2
    assert len(lineas) == 1 and f"la migración {version} cambió después de aplicada" in lineas[0]
    assert _iact("db", "migrate").returncode == 0  # restored: accepted again


def test_a_failing_migration_is_one_line(urls, tmp_path, monkeypatch, capsys):
    (tmp_path / "999_rota.sql").write_text("ALTER TABLE etl_jobs RENAME COLUMN no_existe TO otra;")
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", tmp_path)
    assert main(["db", "migrate"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "iact: error: la migración 999_rota.sql falló, no se aplicó nada de ella: "
        'column "no_existe" does not exist (SQLSTATE 42703)'
    ]


def test_a_failed_materialization_is_a_few_lines_and_one_error_line(warehouse, instance):
    cargar(warehouse, "llamadas", [llamada("2024-05-07 10:00:00", "ATENDIDA", espera=-100, habla=200)])
    proc = _iact("materializar", "--desde", "2024-05-07", "--hasta", "2024-05-07", "--activos", "reportes/llamadas_dia")
    salida, errores = proc.stdout.decode().splitlines(), proc.stderr.decode().splitlines()
    (run,) = instance.get_runs()
    assert proc.returncode == 2
    assert len(salida) == 3  # the run starting, its result, the summary
    assert len(errores) == 1 and errores[0].startswith(f"iact: error: el run {run.run_id} falló: ")
    assert "Traceback" not in proc.stderr.decode()

    detallado = _iact(
        "--verbose",
        "materializar",
        "--desde",
        "2024-05-07",
        "--hasta",
        "2024-05-07",
        "--activos",
        "reportes/llamadas_dia",
    )
    assert detallado.returncode == 2
    assert "Traceback" in detallado.stderr.decode() or "Stack Trace" in detallado.stderr.decode()
    assert detallado.stderr.decode().splitlines()[-1].startswith("iact: error: el run ")


@pytest.mark.parametrize("renombrar", ["cliente_id"])
def test_a_renamed_source_column_is_one_line(ivr_writer, warehouse, instance, renombrar):
    ivr_writer.execute(f"ALTER TABLE ivr.llamadas RENAME COLUMN {renombrar} TO cliente")
    try:
        proc = _iact("materializar", "--desde", "2024-05-07", "--hasta", "2024-05-07", "--activos", "staging/llamadas")
    finally:
        ivr_writer.execute(f"ALTER TABLE ivr.llamadas RENAME COLUMN cliente TO {renombrar}")
    errores = proc.stderr.decode().splitlines()
    assert proc.returncode == 2
    assert len(errores) == 1 and errores[0].endswith(
        "falló: staging__llamadas: staging/llamadas 2024-05-07: los datos de la fuente no se pueden usar, no se cargó "
        "nada: la columna cliente_id falta en la fuente (log completo: "
        f"http://127.0.0.1:3000/runs/{instance.get_runs()[0].run_id}, o `iact --verbose materializar ...`)"
    ), proc.stderr.decode()
