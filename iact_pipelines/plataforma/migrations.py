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


# An applied file's checksum covers its SQL, not its comment lines: a comment may be reworded
# without stopping `migrate`. Databases migrated before that recorded the whole file's sha256;
# these are the whole-file checksums of the applied files as they were before their comments
# were last reworded, accepted once and replaced by the new checksum.
_ANTES_DE_SUS_COMENTARIOS = {
    "001_warehouse.sql": "ed4c367b2c40e11c15eaa5f9692b09834641239bd725e3a867f447bbcd4c6d14",
    "050_completitud.sql": "429d5f41909c826fef6d336ffb13c1fd176e4e26c049be4f09c24a66c2ac1a4d",
    "051_tasa_rechazo_por_dia.sql": "00a0ed405e95ad026ab987700528b55a93ff2920b5a5a060d1d3a20338be2bfc",
    "070_reportes_analistas.sql": "84a0016c7e346b88c4e699198482046a4471a7828920f2038a389fb86865b13c",
    "080_primeras_llamadas.sql": "789d5857670a1e782b6ab28a233d0a3e4189f8ec1b7b73efdd52369f41dc11ac",
    "086_clientes_dia_por_dia.sql": "9be766552da97110f0bd82f977066ec4f60384191f7306552b9a92d17183742e",
    "090_clientes_dia_ultima_llamada.sql": "3e9286de7d36d73ecb9dd841626d3fefa82e2d3b82e4706d37e321ee21786351",
    "091_errores_job_no_forzado.sql": "9c88a56fc4dbd3bb04ecef93e42bd98beb32813e14ed66f325f49d9e88366c61",
}


def huella(texto: str) -> str:
    """The checksum of a migration's SQL: sha256 of its lines, whole-line `--` comments left out."""
    sql_ = "\n".join(linea.rstrip() for linea in texto.splitlines() if not linea.lstrip().startswith("--"))
    return hashlib.sha256(sql_.encode()).hexdigest()


def _aceptada(path: Path, texto: str, registrada: str) -> bool:
    """The recorded checksum matches the file: its SQL's, or (recorded before checksums left
    comments out) the whole file's as it is or as it was before its comments were reworded."""
    completa = hashlib.sha256(texto.encode()).hexdigest()
    return registrada in (huella(texto), completa, _ANTES_DE_SUS_COMENTARIOS.get(path.name))


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
            checksum = huella(text)
            with conn.transaction():
                conn.execute(_LOCK, (db.advisory_key("schema_migrations"),))
                done = conn.execute(
                    "SELECT checksum FROM schema_migrations WHERE version = %s", (path.name,)
                ).fetchone()
                if done:
                    if done[0].strip() != checksum and _aceptada(path, text, done[0].strip()):
                        conn.execute(
                            "UPDATE schema_migrations SET checksum = %s WHERE version = %s", (checksum, path.name)
                        )
                    elif done[0].strip() != checksum:
                        raise ConfigError(
                            f"la migración {path.name} cambió después de aplicada (checksum {done[0][:12]} "
                            f"registrado, {checksum[:12]} en disco): restaure el archivo y ponga el cambio en una "
                            "migración nueva; no se aplicó nada"
                        )
                    continue
                try:
                    conn.execute(text)
                except psycopg.Error as exc:
                    raise ConfigError(
                        f"la migración {path.name} falló, no se aplicó nada de ella: {_linea(exc)}"
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
            raise ConfigError(f"la fuente IVR no coincide con {IVR_SOURCE_SQL.name}: {_linea(exc)}") from None


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
