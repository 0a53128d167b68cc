"""The one place that knows how to reach the three databases and open connections.

- `ivr`: the legacy source, always opened read-only (`default_transaction_read_only`).
- `iact`: the warehouse (staging schema, report tables, inbox, ETL tracking).
- `dagster`: Dagster's run, event-log and schedule storage (dagster-postgres).

With no URL configured each database lives on the embedded server (see `embedded.py`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from iact_pipelines.plataforma import embedded
from iact_pipelines.plataforma.config import ConfigError, env, load_settings

IVR_DB = "ivr"
WAREHOUSE_DB = "iact"
DAGSTER_DB = "dagster"


@dataclass(frozen=True)
class Urls:
    ivr: str
    warehouse: str
    dagster: str
    embedded: bool


def redact(url: str) -> str:
    """The URL with its password replaced, safe for logs, errors and the UI."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _with_database(base_url: str, database: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _check_url(name: str, url: str) -> str:
    if not re.match(r"^postgres(ql)?(\+\w+)?://", url):
        raise ConfigError(f"{name}: {redact(url)!r} is not a postgresql:// URL")
    return url


def libpq_url(url: str) -> str:
    """A URL libpq understands (drops a SQLAlchemy driver suffix such as +psycopg2)."""
    return re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url)


def sqlalchemy_url(url: str) -> str:
    """The psycopg2 form dagster-postgres needs: with SQLAlchemy 2.1 a bare postgresql:// URL
    breaks its event storage (`NOTIFY run_events, $1`)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg2://", url)


def resolve_urls(*, start: bool = True) -> Urls:
    """URLs for the three databases: configured servers, else the embedded one (started if asked)."""
    configured = {name: env(name) for name in ("IACT_IVR_URL", "IACT_WAREHOUSE_URL", "DAGSTER_PG_URL")}
    for name, url in configured.items():
        if url:
            _check_url(name, url)
    base = None
    if not all(configured.values()):
        home = load_settings().home
        base = embedded.ensure_running(home) if start else embedded.running_url(home)
        if base is None:
            raise ConfigError(f"the embedded PostgreSQL under {home} is not running (run `iact db migrate` first)")
    return Urls(
        ivr=libpq_url(configured["IACT_IVR_URL"] or _with_database(base, IVR_DB)),
        warehouse=libpq_url(configured["IACT_WAREHOUSE_URL"] or _with_database(base, WAREHOUSE_DB)),
        dagster=sqlalchemy_url(configured["DAGSTER_PG_URL"] or _with_database(base, DAGSTER_DB)),
        embedded=base is not None,
    )


def warehouse_url() -> str:
    """The warehouse alone: IACT_WAREHOUSE_URL when set (a person's own login, without starting
    anything embedded for the other two databases), else the resolved one."""
    configured = env("IACT_WAREHOUSE_URL")
    return libpq_url(_check_url("IACT_WAREHOUSE_URL", configured)) if configured else resolve_urls().warehouse


def export_env(urls: Urls) -> None:
    """Put resolved URLs in this process's environment so child processes (Dagster webserver,
    daemon, run workers) reach the same servers without rediscovering them."""
    os.environ["IACT_IVR_URL"] = urls.ivr
    os.environ["IACT_WAREHOUSE_URL"] = urls.warehouse
    os.environ["DAGSTER_PG_URL"] = urls.dagster


def connect(url: str, *, read_only: bool = False, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection; a read-only one refuses every write at the server."""
    options = "-c timezone=UTC"
    if read_only:
        options += " -c default_transaction_read_only=on"
    try:
        return psycopg.connect(libpq_url(url), options=options, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot connect to {redact(url)}: {first}") from None



def connect_adbc(url: str, *, read_only: bool = False):
    """An ADBC connection (autocommit) for bulk reads straight into Arrow, with the same session
    settings as `connect`: UTC, and read-only at the server when asked."""
    import adbc_driver_postgresql.dbapi as adbc

    options = "-c timezone=UTC"
    if read_only:
        options += " -c default_transaction_read_only=on"
    parts = urlsplit(libpq_url(url))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("options", "connect_timeout")]
    query += [("options", options), ("connect_timeout", "10")]
    try:
        return adbc.connect(urlunsplit(parts._replace(query=urlencode(query, quote_via=quote))), autocommit=True)
    except adbc.Error as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise ConfigError(f"cannot connect to {redact(url)}: {lines[0] if lines else type(exc).__name__}") from None

@contextmanager
def transaction(url: str) -> Iterator[psycopg.Connection]:
    """A connection whose work commits on success and rolls back on any error."""
    with connect(url) as conn:
        with conn.transaction():
            yield conn


def ensure_database(url: str) -> bool:
    """Create the URL's database if missing (connecting to `postgres` on the same server)."""
    database = urlsplit(libpq_url(url)).path.lstrip("/")
    with connect(_with_database(libpq_url(url), "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        return True


def advisory_key(*parts: str) -> int:
    """A stable 64-bit key for pg_advisory_xact_lock from names such as (table, partition)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_partition(conn: psycopg.Connection, table: str, partition: str) -> None:
    """Serialize writers of one table partition until the transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key(table, partition),))
