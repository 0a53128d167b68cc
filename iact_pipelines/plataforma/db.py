"""The one place that knows how to reach the three databases and open connections.

- `ivr`: the legacy source, always opened read-only (`default_transaction_read_only`).
- `iact`: the warehouse (staging schema, report tables, inbox, ETL tracking).
- `dagster`: Dagster's run, event-log and schedule storage (dagster-postgres).

With no URL configured each database lives on the embedded server (see `embedded.py`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from iact_pipelines.plataforma import embedded
from iact_pipelines.plataforma.config import ConfigError, load_settings, valor
from iact_pipelines.plataforma.secretos import redact

IVR_DB = "ivr"
WAREHOUSE_DB = "iact"
DAGSTER_DB = "dagster"


@dataclass(frozen=True)
class Urls:
    ivr: str
    warehouse: str
    dagster: str
    embedded: bool


def _with_database(base_url: str, database: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def libpq_url(url: str) -> str:
    """A URL libpq understands (drops a SQLAlchemy driver suffix such as +psycopg2)."""
    return re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url)


def sqlalchemy_url(url: str) -> str:
    """The psycopg2 form dagster-postgres needs: with SQLAlchemy 2.1 a bare postgresql:// URL
    breaks its event storage (`NOTIFY run_events, $1`)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg2://", url)


def resolve_urls(*, start: bool = True) -> Urls:
    """URLs for the three databases: configured servers, else the embedded one (started if asked)."""
    configured = {name: valor(name) for name in ("IACT_IVR_URL", "IACT_WAREHOUSE_URL", "DAGSTER_PG_URL")}
    base = None
    if not all(configured.values()):
        home = load_settings().home
        base = embedded.ensure_running(home) if start else embedded.running_url(home)
        if base is None:
            raise ConfigError(f"el PostgreSQL embebido de {home} no está corriendo (corra antes `iact db migrate`)")
    return Urls(
        ivr=libpq_url(configured["IACT_IVR_URL"] or _with_database(base, IVR_DB)),
        warehouse=libpq_url(configured["IACT_WAREHOUSE_URL"] or _with_database(base, WAREHOUSE_DB)),
        dagster=sqlalchemy_url(configured["DAGSTER_PG_URL"] or _with_database(base, DAGSTER_DB)),
        embedded=base is not None,
    )


def warehouse_url() -> str:
    """The warehouse alone: IACT_WAREHOUSE_URL when set (a person's own login, without starting
    anything embedded for the other two databases), else the resolved one."""
    configured = valor("IACT_WAREHOUSE_URL")
    return libpq_url(configured) if configured else resolve_urls().warehouse


def export_env(urls: Urls) -> None:
    """Put resolved URLs in this process's environment so child processes (Dagster webserver,
    daemon, run workers) reach the same servers without rediscovering them."""
    os.environ["IACT_IVR_URL"] = urls.ivr
    os.environ["IACT_WAREHOUSE_URL"] = urls.warehouse
    os.environ["DAGSTER_PG_URL"] = urls.dagster


class ServidorNoDisponible(Exception):
    """The server could not be reached, or is starting or shutting down: transient, worth
    retrying later (unlike ConfigError: a wrong URL, password, database or permission)."""


# SQLSTATEs of a mistake in the configuration or the grants (class 28: authentication; 3D000:
# no such database; 42501: permission denied): retrying cannot fix them.
def es_de_configuracion(sqlstate: str | None) -> bool:
    return bool(sqlstate) and (sqlstate.startswith("28") or sqlstate in ("3D000", "42501"))


# SQLSTATEs worth retrying: connection lost (08), server shutting down or starting (57P01-57P03),
# serialization failure (40001), deadlock (40P01), too many connections (53300).
def es_transitorio(sqlstate: str | None) -> bool:
    return bool(sqlstate) and (sqlstate.startswith(("08", "57P0")) or sqlstate in ("40001", "40P01", "53300"))


# Connection failures psycopg reports without a SQLSTATE (it sums up every address it tried)
# that are still configuration mistakes: found by the server's message.
_CONFIGURACION_SIN_SQLSTATE = re.compile(
    r'could not translate host name|invalid connection option|invalid URI|database ".*" does not exist'
    r'|role ".*" does not exist|password authentication failed|no pg_hba\.conf entry|permission denied'
    r"|is not permitted to log in|no password supplied|Peer authentication failed|authentication failed"
)
_BASE_INEXISTENTE = re.compile(r'database "[^"]*" does not exist')
REINTENTOS_CONEXION = (0.5, 1.0, 2.0)  # seconds to wait before each new attempt


class _SinAvisosDeCierre(logging.Filter):
    """psycopg warns "error ignored terminating <psycopg.Copy [BAD]>" for every COPY or pipeline
    it leaves after the connection was lost: the error that ended it is raised (and retried or
    reported in one line) anyway, so those lines only bury it on stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error ignored terminating")


logging.getLogger("psycopg").addFilter(_SinAvisosDeCierre())


# A peer that vanished (a stalled network, a powered-off host) is noticed within about a minute
# from both ends, instead of the kernel's two hours: the server ends the session (its locks
# released) and the client's call fails (retried as a lost connection).
_KEEPALIVES_SERVIDOR = "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"
KEEPALIVES_CLIENTE = {
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
    "tcp_user_timeout": "60000",
}


def plazo_sin_progreso(conn: psycopg.Connection) -> None:
    """Bound, until the transaction ends, how long it may sit idle (IACT_PG_CARGA_SIN_PROGRESO_S):
    a loader stopped between statements then loses its session and its locks."""
    conn.execute(
        "SELECT set_config('idle_in_transaction_session_timeout', %s, true)",
        (f"{valor('IACT_PG_CARGA_SIN_PROGRESO_S')}s",),
    )


def opciones_sesion(*, read_only: bool = False) -> str:
    """libpq `options` for every session: UTC, the timeouts (so no statement, lock wait or idle
    transaction lasts forever), work_mem, and read-only at the server when asked."""
    options = f"-c timezone=UTC -c work_mem={valor('IACT_PG_WORK_MEM_MB')}MB {_KEEPALIVES_SERVIDOR}"
    for setting, name in (
        ("statement_timeout", "IACT_PG_STATEMENT_TIMEOUT_S"),
        ("lock_timeout", "IACT_PG_LOCK_TIMEOUT_S"),
        ("idle_in_transaction_session_timeout", "IACT_PG_IDLE_TX_TIMEOUT_S"),
    ):
        options += f" -c {setting}={valor(name)}s"
    if read_only:
        options += " -c default_transaction_read_only=on"
    return options


def _fallo_conexion(url: str, primera: str, sqlstate: str | None) -> Exception:
    """ConfigError for a configuration mistake, ServidorNoDisponible for anything transient."""
    if es_de_configuracion(sqlstate) or (sqlstate is None and _CONFIGURACION_SIN_SQLSTATE.search(primera)):
        return ConfigError(
            redact(f"no se puede conectar a {url}: {primera} (error de configuración o de permisos: no se reintenta)")
        )
    return ServidorNoDisponible(
        redact(f"no se puede conectar a {url}: {primera} (servidor inalcanzable o reiniciándose)")
    )


def _primera_linea(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def con_parametro(url: str, nombre: str, valor: str) -> str:
    """The URL with one query parameter set (replacing any earlier value)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != nombre]
    return urlunsplit(parts._replace(query=urlencode([*query, (nombre, valor[:63])], quote_via=quote)))


def connect(
    url: str, *, read_only: bool = False, autocommit: bool = False, application_name: str | None = None
) -> psycopg.Connection:
    """Open a connection with the session settings of `opciones_sesion`; a read-only one refuses
    every write at the server. A transient failure is retried with backoff, then raised as
    ServidorNoDisponible; a configuration or permission one raises ConfigError at once.
    `application_name` shows in pg_stat_activity (a run's sessions carry its run id); by
    default the URL's own, else `iact`."""
    options = opciones_sesion(read_only=read_only)
    if application_name is None:
        application_name = dict(parse_qsl(urlsplit(url).query)).get("application_name", "iact")
    for espera in (*REINTENTOS_CONEXION, None):
        try:
            return psycopg.connect(
                libpq_url(url),
                options=options,
                autocommit=autocommit,
                connect_timeout=10,
                application_name=application_name[:63],
                **KEEPALIVES_CLIENTE,
            )
        except psycopg.OperationalError as exc:
            error = _fallo_conexion(url, _primera_linea(exc), exc.sqlstate)
            if isinstance(error, ConfigError) or espera is None:
                raise error from None
            time.sleep(espera)
    raise AssertionError("unreachable")


def connect_adbc(url: str, *, read_only: bool = False):
    """An ADBC connection (autocommit) for bulk reads straight into Arrow, with the same session
    settings as `connect`, and the same classification of failures (no retry: the caller's
    step retry handles a transient one)."""
    import adbc_driver_postgresql.dbapi as adbc

    parts = urlsplit(libpq_url(url))
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in ("options", "connect_timeout", *KEEPALIVES_CLIENTE)
    ]
    query += [("options", opciones_sesion(read_only=read_only)), ("connect_timeout", "10"), *KEEPALIVES_CLIENTE.items()]
    try:
        return adbc.connect(urlunsplit(parts._replace(query=urlencode(query, quote_via=quote))), autocommit=True)
    except adbc.Error as exc:
        raise _fallo_conexion(url, _primera_linea(exc), getattr(exc, "sqlstate", None)) from None


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


def exigir_base(url: str, variable: str) -> None:
    """Raise ConfigError, in one line naming the database, when the URL's database does not
    exist (checked by connecting to it: no access to any other database is needed)."""
    try:
        connect(url).close()
    except ConfigError as exc:
        if not _BASE_INEXISTENTE.search(str(exc)):
            raise
        database = urlsplit(libpq_url(url)).path.lstrip("/")
        raise ConfigError(
            f"{variable}: la base de datos {database!r} no existe en ese servidor (¿un nombre mal escrito?); "
            "no se creó nada: `iact db migrate` crea las bases del almacén y de Dagster"
        ) from None


def advisory_key(*parts: str) -> int:
    """A stable 64-bit key for pg_advisory_xact_lock from names such as (table, partition)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class ParticionOcupada(Exception):
    """A partition lock was not granted within lock_timeout: names who holds it."""


def lock_partition(conn: psycopg.Connection, table: str, partition: str) -> None:
    """Serialize writers of one table partition until the transaction ends. A wait longer than
    lock_timeout raises ParticionOcupada naming the holder (its run id when it is a run)."""
    key = advisory_key(table, partition)
    if conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (key,)).fetchone()[0]:
        return
    holder = lock_holder(conn, key)
    if not esperar_bloqueo(conn, key):
        raise ParticionOcupada(
            f"{table} {partition} está bloqueada por {holder or 'otra sesión'}: se esperó "
            f"{valor('IACT_PG_LOCK_TIMEOUT_S')}s (IACT_PG_LOCK_TIMEOUT_S); no se cambió nada, "
            "vuelva a correrlo cuando aquel termine"
        )


# The sessions holding the advisory lock of key (alto, bajo): the key's two 32-bit halves, as
# pg_locks shows a bigint key.
_TITULARES = """FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = %(alto)s AND l.objid::bigint = %(bajo)s"""


def _mitades(key: int) -> dict[str, int]:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return {"alto": unsigned >> 32, "bajo": unsigned & 0xFFFFFFFF}


# A loader frozen in the middle of its COPY (SIGSTOP, a stalled network) is "active" at the
# server, waiting for data that never comes: statement_timeout does not interrupt a backend
# waiting on its client, and the idle-transaction timeout does not apply. Whoever waits for its
# lock ends it instead, once its COPY has lasted IACT_PG_CARGA_SIN_PROGRESO_S (one COPY is one
# chunk of a load: a few seconds when it progresses). Its transaction rolls back: the day keeps
# its previous rows.
_TERMINAR_COPIA_DETENIDA = f"""
SELECT pg_terminate_backend(a.pid) {_TITULARES}
  AND a.state = 'active' AND a.wait_event = 'ClientRead' AND a.query ILIKE 'COPY %%'
  AND a.query_start < clock_timestamp() - make_interval(secs => %(plazo)s)
"""
# The wait is cut in slices of this much (a savepoint each): between two slices the holder is
# looked at, and the waiter shows as waiting on a lock in pg_stat_activity meanwhile.
_TRAMO_DE_ESPERA = "1s"


def esperar_bloqueo(conn: psycopg.Connection, key: int) -> bool:
    """Take an advisory transaction lock, waiting at most IACT_PG_LOCK_TIMEOUT_S (0: no limit);
    while waiting, a holder frozen in its COPY is ended (see above). False: not granted."""
    limite = valor("IACT_PG_LOCK_TIMEOUT_S")
    hasta = time.monotonic() + limite if limite else None
    titular = {**_mitades(key), "plazo": valor("IACT_PG_CARGA_SIN_PROGRESO_S")}
    conn.execute("SELECT set_config('lock_timeout', %s, true)", (_TRAMO_DE_ESPERA,))
    while True:
        try:
            with conn.transaction():  # a lock taken in a released savepoint stays the transaction's
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
            break
        except psycopg.errors.LockNotAvailable:
            if hasta is not None and time.monotonic() >= hasta:
                return False
        try:
            with conn.transaction():  # a refused termination must not abort the caller's work
                conn.execute(_TERMINAR_COPIA_DETENIDA, titular)
        except psycopg.errors.InsufficientPrivilege:
            pass  # another role's session: wait for the server's own timeouts
    conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{limite}s",))
    return True


_TITULAR = f"SELECT a.pid, a.application_name {_TITULARES}"
PREFIJO_RUN = "iact run "


def lock_holder(conn: psycopg.Connection, key: int) -> str | None:
    """Who holds an advisory lock: `run <run id> (pid N)` for a run's session, else its pid."""
    row = conn.execute(_TITULAR, _mitades(key)).fetchone()
    if row is None:
        return None
    pid, app = row
    if app and app.startswith(PREFIJO_RUN):
        return f"run {app[len(PREFIJO_RUN) :]} (pid {pid})"
    return f"pid {pid}" + (f" ({app})" if app else "")
