"""A misspelled warehouse or Dagster database is refused with one line naming it, and nothing
is created: creating databases belongs to `iact db migrate` (and `make dev`, which runs it)."""

from urllib.parse import urlsplit, urlunsplit

import pytest

from iact_pipelines.cli import main
from iact_pipelines.plataforma import db


def _otra_base(url: str, nombre: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{nombre}"))


def _existe(urls, nombre: str) -> bool:
    with db.connect(urls.warehouse) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (nombre,)).fetchone() is not None


@pytest.mark.parametrize("variable", ["IACT_WAREHOUSE_URL", "DAGSTER_PG_URL"])
def test_a_misspelled_database_is_refused_and_not_created(variable, urls, monkeypatch, capsys):
    nombre = f"iact_typo_{variable.lower()}"
    with db.connect(urls.warehouse, autocommit=True) as conn:  # a leftover of an earlier failing run
        conn.execute(f'DROP DATABASE IF EXISTS "{nombre}" WITH (FORCE)')
    monkeypatch.setenv("DAGSTER_HOME", "/nonexistent")
    base = urls.warehouse if variable == "IACT_WAREHOUSE_URL" else urls.dagster
    monkeypatch.setenv(variable, _otra_base(base, nombre))

    codigo = main(["materializar", "--desde", "2024-05-07", "--hasta", "2024-05-07", "--activos", "staging/llamadas"])

    salida = capsys.readouterr()
    lineas = salida.err.strip().splitlines()
    assert codigo == 2 and len(lineas) == 1 and nombre in lineas[0] and variable in lineas[0], salida.err
    assert "iact db migrate" in lineas[0]
    assert not _existe(urls, nombre)
    assert "run " not in salida.out  # no run was started
