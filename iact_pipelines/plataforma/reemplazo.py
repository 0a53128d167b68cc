"""The one partition-replace helper: every asset writes its partition through `reemplazar`.

A partition's rows are replaced in one transaction, so a re-run is idempotent and a failed
run leaves the previous rows intact. Writers of the same table and period serialize on
transaction-scoped advisory locks (one per partition key, taken in sorted order so two
overlapping ranges cannot deadlock): two concurrent runs end as one run, never duplicated rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import psycopg
from psycopg import sql

from iact_pipelines.plataforma import db, fechas


def bloquear_particiones(conn: psycopg.Connection, tabla: str, claves: Iterable[str]) -> None:
    """Take the transaction-scoped lock of each partition key of `tabla`, in sorted order; a
    wait beyond lock_timeout raises db.ParticionOcupada naming the holder. The transaction then
    may not sit idle beyond IACT_PG_CARGA_SIN_PROGRESO_S: its partitions' readers and the next
    writer wait for it, so it must not outlive a process that stopped."""
    db.plazo_sin_progreso(conn)
    for clave in sorted(set(claves)):
        db.lock_partition(conn, tabla, clave)


def particion_dia(schema: str, tabla: str, dia: date) -> sql.Identifier:
    return sql.Identifier(schema, f"{tabla}_{dia:%Y%m%d}")


@contextmanager
def reemplazar_dias_staging(
    conn: psycopg.Connection,
    tabla: str,
    desde: date,
    hasta_exclusive: date,
    solo: Iterable[date] | None = None,
    derivadas: Iterable[str] = (),
) -> Iterator[psycopg.Connection]:
    """Empty the day partitions of `staging.<tabla>` in [desde, hasta) (only the days in `solo`
    when given: a day the `volumen` check blocks keeps its rows) inside one transaction
    (creating missing ones) and yield so the caller loads the new rows; commit on success.

    TRUNCATE of a day partition is transactional in PostgreSQL: if the load fails the
    transaction rolls back and the old rows are still there. TRUNCATE is not MVCC-safe, though:
    a reader whose snapshot predates the commit would see the day empty. Readers therefore take
    the same per-day locks shared (`leer_dias_staging`) before they read. Staging writers go
    through `staging.carga.reemplazar_dias`, which adds what depends on the day's rows in the
    same transaction. `derivadas`: other day-partitioned `staging` tables the caller rewrites
    for the same days in this transaction; their day partitions are created here too.
    """
    elegidos = fechas.dias_semiabiertos(desde, hasta_exclusive) if solo is None else sorted(set(solo))
    # Partitions are created in their own short transaction: CREATE ... PARTITION OF locks the
    # parent exclusively, which must not last for the whole load (readers would wait).
    claves = [d.isoformat() for d in elegidos]
    with conn.transaction():
        bloquear_particiones(conn, f"staging.{tabla}", claves)  # two creators of one partition would collide
        for destino in (tabla, *derivadas):
            for dia in elegidos:
                conn.execute(
                    sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                        particion_dia("staging", destino, dia),
                        sql.Identifier("staging", destino),
                        sql.Literal(dia.isoformat()),
                        sql.Literal((dia + timedelta(days=1)).isoformat()),
                    )
                )
    with conn.transaction():
        bloquear_particiones(conn, f"staging.{tabla}", claves)
        for dia in elegidos:
            conn.execute(sql.SQL("TRUNCATE {}").format(particion_dia("staging", tabla, dia)))
        yield conn
        # Fresh planner statistics for the new rows, committed with them: autovacuum would get
        # there minutes later, and a report planned on an empty partition's statistics picks a
        # nested loop over 100k rows (a first run 400x slower than its re-run). ANALYZE in the
        # loading transaction counts its own rows; it samples, so a 1M-row day costs ~0.2 s.
        for dia in elegidos:
            conn.execute(sql.SQL("ANALYZE {}").format(particion_dia("staging", tabla, dia)))


# The parent's statistics are refreshed when its partitions' rows (their loads' ANALYZE counts)
# moved more than this fraction from what the parent's last ANALYZE counted: autovacuum's own
# rule for a table (autovacuum_analyze_scale_factor, 0.1 by default), which it never applies to
# a partitioned parent. A re-run day or a day added to a long history changes the parent's
# statistics by a few percent; sampling it again cost every load 0.1-0.2 s per table.
_PARTICIONES_MOVIDAS = 0.1
_PADRE_AL_DIA = """
SELECT p.reltuples >= 0 AND abs(coalesce(sum(h.reltuples) FILTER (WHERE h.reltuples > 0), 0) - p.reltuples)
    <= %(fraccion)s * p.reltuples
FROM pg_class AS p
LEFT JOIN pg_inherits AS i ON i.inhparent = p.oid
LEFT JOIN pg_class AS h ON h.oid = i.inhrelid
WHERE p.oid = %(tabla)s::regclass
GROUP BY p.reltuples
"""


def analizar_tabla_staging(conn: psycopg.Connection, tabla: str) -> bool:
    """Refresh the statistics of the partitioned parent `staging.<tabla>`, which the planner
    uses for queries over many days (autovacuum never analyzes a partitioned table). ONLY
    (PostgreSQL 18): the partitions keep the statistics their loads gave them. In its own
    transaction after the load: inside it, two loads of different days would deadlock on
    each other's partitions. A partition another load holds is not waited for beyond a few
    seconds (False): that load refreshes the parent itself when it ends. Before PostgreSQL 18
    (no ANALYZE ONLY) it is skipped: a plain ANALYZE would re-sample every day partition on
    every load, and the per-day statistics are what the reports' day filters use. Skipped
    (True) while the parent's statistics still count its partitions' rows within
    `_PARTICIONES_MOVIDAS`."""
    if conn.info.server_version < 180000:
        return False
    parametros = {"tabla": f"staging.{tabla}", "fraccion": _PARTICIONES_MOVIDAS}
    if conn.execute(_PADRE_AL_DIA, parametros).fetchone()[0]:
        return True
    try:
        with conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '5s'")
            conn.execute(sql.SQL("ANALYZE (SKIP_LOCKED) ONLY {}").format(sql.Identifier("staging", tabla)))
        return True
    except psycopg.errors.LockNotAvailable:
        return False


@contextmanager
def reemplazar_periodo(
    conn: psycopg.Connection, tabla: str, columna: str, desde: date, hasta_exclusive: date, claves: Iterable[str]
) -> Iterator[psycopg.Connection]:
    """Delete the rows of a report table whose `columna` falls in [desde, hasta) inside one
    transaction, locked per partition key in `claves`, and yield so the caller inserts the
    new rows; commit on success, roll back (old rows intact) on any error."""
    with conn.transaction():
        bloquear_particiones(conn, tabla, claves)
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE {} >= %s AND {} < %s").format(
                sql.Identifier(tabla), sql.Identifier(columna), sql.Identifier(columna)
            ),
            (desde, hasta_exclusive),
        )
        yield conn


def leer_dias_staging(conn: psycopg.Connection, tablas: Iterable[str], desde: date, hasta_exclusive: date) -> None:
    """Take, until the transaction ends, the shared lock of each day of `staging.<tabla>` in
    [desde, hasta): a staging load of one of those days (which holds the exclusive lock from
    its TRUNCATE to its commit) finishes first, and no load starts until this transaction ends.

    Call it in its own statement BEFORE the reading statements: under READ COMMITTED each later
    statement takes a fresh snapshot, which then includes the load that was waited for (a
    statement whose snapshot predated the load's commit would see the truncated, empty day).
    """
    for tabla in sorted(set(tablas)):
        claves = [d.isoformat() for d in fechas.dias_semiabiertos(desde, hasta_exclusive)]
        libres = conn.execute(
            "SELECT k, pg_try_advisory_xact_lock_shared(k) FROM unnest(%s::bigint[]) AS k",
            ([db.advisory_key(f"staging.{tabla}", c) for c in sorted(claves)],),
        ).fetchall()
        for clave, tomada in libres:
            if not tomada and not db.esperar_bloqueo(conn, clave, compartido=True):
                raise db.ParticionOcupada(
                    f"staging.{tabla}: una carga de uno de los días {desde}..{hasta_exclusive} no terminó en "
                    f"{db.valor('IACT_PG_LOCK_TIMEOUT_S')}s (IACT_PG_LOCK_TIMEOUT_S); no se leyó nada, vuelva a correrlo"
                )
