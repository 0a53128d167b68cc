"""Test fixtures: a real PostgreSQL (the embedded one under .iact/test by default, or the
server at IACT_TEST_PG_URL) holding the IVR source, the warehouse and Dagster's storage, and
a real Dagster instance on it."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from iact_pipelines.plataforma.config import AJUSTES, PROJECT_ROOT

# IACT_TEST_HOME lets several test sessions run side by side, each with its own server.
TEST_HOME = Path(os.environ.get("IACT_TEST_HOME") or PROJECT_ROOT / ".iact" / "test").resolve()

# Configure before any iact_pipelines module reads the environment.
os.environ["IACT_HOME"] = str(TEST_HOME)
for _ajuste in AJUSTES:  # every other setting at its default
    if _ajuste.nombre != "IACT_HOME":
        os.environ.pop(_ajuste.nombre, None)
    # Explicitly: the tests' source is TEST_HOME's embedded server, where a demo seeded by a test
    # would move the first partition to its first day (plataforma/partitions.py).
    if _ajuste.nombre == "IACT_PARTICIONES_DESDE":
        os.environ[_ajuste.nombre] = _ajuste.defecto

from iact_pipelines.plataforma import (  # noqa: E402 - after the environment is configured
    catalogo,
    db,
    embedded,
    migrations,
)
from iact_pipelines_tests.ayudas import PG_EXTERNO, VACIAR_FUENTE, instancia_de_prueba  # noqa: E402


def _database(base: str, name: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def pg_urls():
    """URLs of the three test databases, created and migrated once per session."""
    if PG_EXTERNO:
        base = db.libpq_url(PG_EXTERNO)
        names = ("iact_test_ivr", "iact_test_warehouse", "iact_test_dagster")
    else:
        base = embedded.ensure_running(TEST_HOME)
        names = ("ivr", "iact", "dagster")
    urls = db.Urls(
        ivr=_database(base, names[0]),
        warehouse=_database(base, names[1]),
        dagster=db.sqlalchemy_url(_database(base, names[2])),
        embedded=False,
    )
    migrations.setup(urls, crear=True)
    # The source is created the way `iact demo seed` creates it: the pipeline never does.
    migrations.create_ivr_source(urls.ivr)
    db.export_env(urls)
    yield urls
    if not PG_EXTERNO:
        embedded.stop(TEST_HOME)


@pytest.fixture
def urls(pg_urls):
    """Empty IVR source and warehouse for one test."""
    with db.connect(pg_urls.warehouse, autocommit=True) as conn:
        conn.execute(catalogo.vaciar())
    with db.connect(pg_urls.ivr, autocommit=True) as conn:
        conn.execute(VACIAR_FUENTE)
    return pg_urls


@pytest.fixture
def warehouse(urls):
    """An autocommit connection to the (empty) warehouse."""
    with db.connect(urls.warehouse, autocommit=True) as conn:
        yield conn


@pytest.fixture
def ivr_writer(urls):
    """A writable connection to the (empty) IVR source, for crafting source rows."""
    with db.connect(urls.ivr, autocommit=True) as conn:
        yield conn


@pytest.fixture
def instance(pg_urls):
    """A real Dagster instance storing runs and events in the test PostgreSQL (wiped per test)."""
    with instancia_de_prueba() as inst:
        yield inst
