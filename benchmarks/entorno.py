"""The benchmark's own embedded PostgreSQL (`$IACT_HOME`, default .iact/bench), reset per run."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

from psycopg import sql

from iact_pipelines.fuentes.contrato import FUENTES
from iact_pipelines.plataforma import catalogo, db, migrations
from iact_pipelines.plataforma.config import PROJECT_ROOT
from iact_pipelines.plataforma.instance import prepare_dagster_home

BENCH_HOME = Path(os.environ.get("IACT_BENCH_HOME") or PROJECT_ROOT / ".iact" / "bench").resolve()

# Every table of the source contract.
_VACIAR_FUENTE = sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(sql.Identifier("ivr", t) for t in FUENTES))

_PARTICIONES_STAGING = """
SELECT n.nspname, c.relname FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'staging'
"""


def servidor_corriendo() -> bool:
    from iact_pipelines.plataforma import embedded

    return embedded.running_url(BENCH_HOME) is not None


def detener() -> None:
    from iact_pipelines.plataforma import embedded

    embedded.stop(BENCH_HOME)


def preparar() -> db.Urls:
    """Start (or reuse) the bench server, migrate, and point this process and its children at it."""
    os.environ["IACT_HOME"] = str(BENCH_HOME)
    for name in ("IACT_IVR_URL", "IACT_WAREHOUSE_URL", "DAGSTER_PG_URL"):
        os.environ.pop(name, None)
    urls = db.resolve_urls()
    migrations.setup(urls, crear=True)
    migrations.create_ivr_source(urls.ivr)
    prepare_dagster_home(urls)
    return urls


def vaciar(urls: db.Urls) -> None:
    """A fresh IVR source and an empty warehouse."""
    with db.connect(urls.ivr, autocommit=True) as conn:
        conn.execute(_VACIAR_FUENTE)
    vaciar_almacen(urls)


def vaciar_almacen(urls: db.Urls) -> None:
    """An empty warehouse, the source as it is."""
    with db.connect(urls.warehouse, autocommit=True) as conn:
        conn.execute(catalogo.vaciar())
        # Day partitions too: the pipeline's first run must create them, as it would in production.
        for esquema, nombre in conn.execute(_PARTICIONES_STAGING).fetchall():
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(esquema, nombre)))
        conn.execute("VACUUM ANALYZE")
    with db.connect(urls.ivr, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


@contextmanager
def cronometro(resultados: dict, nombre: str):
    inicio = time.perf_counter()
    yield
    resultados[nombre] = time.perf_counter() - inicio
