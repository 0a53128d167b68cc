"""The IVR source is never written: no command but `iact demo seed` creates or alters it, and a
missing database, table or column is a critical failure of the staging asset that loads nothing."""

from urllib.parse import urlsplit, urlunsplit

import pytest

from iact_pipelines.cli import main
from iact_pipelines.monitoreo import seguimiento
from iact_pipelines_tests.ayudas import PG_EXTERNO
from iact_pipelines_tests.staging.ayudas import DIA, en_staging, insertar, llamada

_OTRO_DIA = "2024-03-11 10:00:00"


@pytest.fixture
def cli_env(monkeypatch, pg_urls):
    # `iact materializar` sets DAGSTER_HOME for its process; give it back after the test.
    monkeypatch.setenv("DAGSTER_HOME", "/nonexistent")
    yield


def _bases(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}


def _tablas_ivr(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'ivr'").fetchall()}


def _cargar_dia_bueno(ivr_writer, capsys) -> None:
    """A day loaded with 2 calls: the rows a failed run must leave intact."""
    insertar(ivr_writer, "llamadas", [llamada(1), llamada(2)])
    assert main(["materializar", "--desde", DIA, "--hasta", DIA, "--activos", "staging/llamadas"]) == 0
    capsys.readouterr()


def _fallo_critico(instance, capsys) -> str:
    """Materialize the day again: it must fail in one line, as a critical failure."""
    codigo = main(["materializar", "--desde", DIA, "--hasta", DIA, "--activos", "staging/llamadas"])
    salida = capsys.readouterr()
    assert codigo == 2
    (linea,) = salida.err.strip().splitlines()  # one line, naming the run
    assert linea.startswith("iact: error: el run ")
    (record,) = instance.get_run_records(limit=1)
    (paso,) = seguimiento.resumir_run(instance, record).pasos_fallidos
    assert paso.severidad == "critical"  # the alert sensor turns this into a critical alert
    return linea


def test_url_typo_creates_no_database_and_loads_nothing(ivr_writer, warehouse, instance, cli_env, capsys, monkeypatch):
    _cargar_dia_bueno(ivr_writer, capsys)
    typo = urlunsplit(urlsplit(_ivr_url(ivr_writer))._replace(path="/ivr_tipeo"))
    monkeypatch.setenv("IACT_IVR_URL", typo)
    antes = _bases(warehouse)

    assert main(["db", "migrate"]) == 0
    linea = _fallo_critico(instance, capsys)

    assert "no existe la base de datos del IVR 'ivr_tipeo'" in linea
    assert _bases(warehouse) == antes  # no database created on the configured source
    assert en_staging(warehouse, "llamadas", "llamada_id") == [1, 2]
    assert warehouse.execute(
        "SELECT error_type, severity FROM etl_validation_errors WHERE partition_key = %s", (DIA,)
    ).fetchall() == [("columna_faltante", "critical")]


def _ivr_url(conn) -> str:
    import os

    return os.environ["IACT_IVR_URL"]


@pytest.mark.parametrize("origen", ["embebida", "url_explicita"])
def test_renamed_table_is_not_recreated(origen, ivr_writer, warehouse, instance, cli_env, capsys, monkeypatch):
    if origen == "embebida":
        if PG_EXTERNO:
            pytest.skip("the embedded default needs the embedded test server")
        monkeypatch.delenv("IACT_IVR_URL")  # the default: database `ivr` on the embedded server
    _cargar_dia_bueno(ivr_writer, capsys)
    ivr_writer.execute("ALTER TABLE ivr.llamadas RENAME TO llamadas_renombrada")
    try:
        assert main(["db", "migrate"]) == 0
        linea = _fallo_critico(instance, capsys)
        assert _tablas_ivr(ivr_writer) == {"llamadas_renombrada", "menu_eventos", "transferencias"}
    finally:
        ivr_writer.execute("ALTER TABLE ivr.llamadas_renombrada RENAME TO llamadas")
    assert 'relation "ivr.llamadas" does not exist' in linea
    assert en_staging(warehouse, "llamadas", "llamada_id") == [1, 2]


@pytest.mark.parametrize("origen", ["embebida", "url_explicita"])
def test_dropped_column_loads_nothing(origen, ivr_writer, warehouse, instance, cli_env, capsys, monkeypatch):
    if origen == "embebida":
        if PG_EXTERNO:
            pytest.skip("the embedded default needs the embedded test server")
        monkeypatch.delenv("IACT_IVR_URL")
    _cargar_dia_bueno(ivr_writer, capsys)
    ivr_writer.execute("ALTER TABLE ivr.llamadas DROP COLUMN resultado")
    try:
        assert main(["db", "migrate"]) == 0
        linea = _fallo_critico(instance, capsys)
        columnas = [
            r[0]
            for r in ivr_writer.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'ivr' "
                "AND table_name = 'llamadas'"
            ).fetchall()
        ]
        assert "resultado" not in columnas
    finally:
        ivr_writer.execute("ALTER TABLE ivr.llamadas ADD COLUMN IF NOT EXISTS resultado varchar(12)")
    assert "la columna resultado falta en la fuente" in linea
    assert en_staging(warehouse, "llamadas", "llamada_id") == [1, 2]


def test_demo_seed_creates_the_source_without_migrate(warehouse, cli_env, capsys, monkeypatch):
    """The README's first command works before any `iact db migrate`: only the seed creates the source."""
    nueva = urlunsplit(urlsplit(_ivr_url(warehouse))._replace(path="/ivr_demo_nueva"))
    monkeypatch.setenv("IACT_IVR_URL", nueva)
    warehouse.execute("DROP DATABASE IF EXISTS ivr_demo_nueva")
    try:
        assert main(["demo", "seed", "--desde", DIA, "--hasta", DIA, "--llamadas-por-dia", "50"]) == 0
        from iact_pipelines.plataforma import db

        with db.connect(nueva) as conn:
            assert conn.execute("SELECT count(*) FROM ivr.llamadas").fetchone() == (50,)
    finally:
        warehouse.execute("DROP DATABASE IF EXISTS ivr_demo_nueva")
