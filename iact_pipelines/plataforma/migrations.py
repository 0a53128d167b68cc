"""Schema migrations: ordered SQL files in `sql/migrations/`, applied once each and recorded
in `schema_migrations` with their checksum; an applied file that changed stops `migrate`. Every file is also idempotent on its own, so a half-applied database
(e.g. created by hand) converges too."""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg

from iact_pipelines.plataforma import catalogo, db
from iact_pipelines.plataforma.config import PROJECT_ROOT, ConfigError

MIGRATIONS_DIR = PROJECT_ROOT / "sql" / "migrations"
IVR_SOURCE_SQL = PROJECT_ROOT / "sql" / "ivr_source.sql"

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    varchar(200) PRIMARY KEY,
    checksum   char(64) NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
# Two `iact db migrate` at once: the second waits, then finds everything applied.
_LOCK = "SELECT pg_advisory_xact_lock(%s)"


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("*.sql"))


def migrate(warehouse_url: str) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; returns the versions applied."""
    applied_now: list[str] = []
    with db.connect(warehouse_url) as conn:
        with conn.transaction():
            conn.execute(_LOCK, (db.advisory_key("schema_migrations"),))
            conn.execute(_CREATE_TABLE)
        for path in migration_files():
            text = path.read_text()
            checksum = hashlib.sha256(text.encode()).hexdigest()
            with conn.transaction():
                conn.execute(_LOCK, (db.advisory_key("schema_migrations"),))
                done = conn.execute(
                    "SELECT checksum FROM schema_migrations WHERE version = %s", (path.name,)
                ).fetchone()
                if done:
                    if done[0].strip() != checksum:
                        raise ConfigError(
                            f"migration {path.name} was changed after it was applied (checksum {done[0][:12]} "
                            f"recorded, {checksum[:12]} on disk): restore the file and put the change in a new "
                            "migration; nothing was applied"
                        )
                    continue
                try:
                    conn.execute(text)
                except psycopg.Error as exc:
                    raise ConfigError(
                        f"migration {path.name} failed, nothing of it was applied: {_linea(exc)}"
                    ) from None
                conn.execute("INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)", (path.name, checksum))
                applied_now.append(path.name)
        with conn.transaction():
            # The catalog's descriptions, so analysts read them in `psql \d+`: cheap and
            # idempotent, so applied on every run (a description edited in Python lands too).
            catalogo.aplicar_comentarios(conn)
        if applied_now:
            with conn.transaction():
                # Views created by a later migration need the analysts' grant too.
                if conn.execute("SELECT to_regproc('conceder_lectura_analistas')").fetchone()[0]:
                    conn.execute("SELECT conceder_lectura_analistas()")
    return applied_now


def create_ivr_source(ivr_url: str) -> None:
    """Create the IVR database and source contract if missing: `iact demo seed` and the tests
    only. Nothing else ever writes to the source: production reads the legacy IVR read-only."""
    db.ensure_database(ivr_url)
    with db.connect(ivr_url) as conn:
        try:
            with conn.transaction():
                conn.execute(IVR_SOURCE_SQL.read_text())
        except psycopg.Error as exc:
            # e.g. a renamed source column under an index of the contract
            raise ConfigError(f"the IVR source does not match {IVR_SOURCE_SQL.name}: {_linea(exc)}") from None


def _linea(exc: Exception) -> str:
    lineas = [linea.strip() for linea in str(exc).splitlines() if linea.strip()]
    estado = getattr(exc, "sqlstate", None)
    return (lineas[0] if lineas else type(exc).__name__) + (f" (SQLSTATE {estado})" if estado else "")


def setup(urls: db.Urls, *, crear: bool = False) -> list[str]:
    """Apply migrations to the warehouse. With `crear` (`iact db migrate` only) the warehouse
    and Dagster databases are created if missing; any other command refuses a missing one,
    naming it, so a misspelled name never becomes a new, empty warehouse. The IVR source is
    never touched: a missing source database, table or column must surface as a critical
    failure of the staging assets, not be papered over by an empty table."""
    for variable, url in (("IACT_WAREHOUSE_URL", urls.warehouse), ("DAGSTER_PG_URL", urls.dagster)):
        if crear:
            db.ensure_database(url)
        else:
            db.exigir_base(url, variable)
    return migrate(urls.warehouse)
