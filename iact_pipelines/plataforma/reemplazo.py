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

from iact_pipelines.plataforma import db
from iact_pipelines.staging import clientes


def dias(desde: date, hasta_exclusive: date) -> list[date]:
    return [desde + timedelta(days=i) for i in range((hasta_exclusive - desde).days)]


def bloquear_particiones(conn: psycopg.Connection, tabla: str, claves: Iterable[str]) -> None:
    """Take the transaction-scoped lock of each partition key of `tabla`, in sorted order."""
    for clave in sorted(set(claves)):
        db.lock_partition(conn, tabla, clave)


def _day_partition(schema: str, tabla: str, dia: date) -> sql.Identifier:
    return sql.Identifier(schema, f"{tabla}_{dia:%Y%m%d}")


@contextmanager
def reemplazar_dias_staging(
    conn: psycopg.Connection, tabla: str, desde: date, hasta_exclusive: date
) -> Iterator[psycopg.Connection]:
    """Empty the day partitions of `staging.<tabla>` in [desde, hasta) inside one transaction
    (creating missing ones) and yield so the caller loads the new rows; commit on success.

    TRUNCATE of a day partition is transactional in PostgreSQL: if the load fails the
    transaction rolls back and the old rows are still there. For `llamadas`, the days'
    first-call rows (staging/clientes.py) are rewritten after the caller's load, before the
    commit: every writer of a calls day keeps them exact.
    """
    # Partitions are created in their own short transaction: CREATE ... PARTITION OF locks the
    # parent exclusively, which must not last for the whole load (readers would wait).
    claves = [d.isoformat() for d in dias(desde, hasta_exclusive)]
    with conn.transaction():
        bloquear_particiones(conn, f"staging.{tabla}", claves)  # two creators of one partition would collide
        for dia in dias(desde, hasta_exclusive):
            conn.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                    _day_partition("staging", tabla, dia),
                    sql.Identifier("staging", tabla),
                    sql.Literal(dia.isoformat()),
                    sql.Literal((dia + timedelta(days=1)).isoformat()),
                )
            )
    with conn.transaction():
        bloquear_particiones(conn, f"staging.{tabla}", claves)
        for dia in dias(desde, hasta_exclusive):
            conn.execute(sql.SQL("TRUNCATE {}").format(_day_partition("staging", tabla, dia)))
        yield conn
        if tabla == "llamadas":
            clientes.actualizar(conn, desde, hasta_exclusive)


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
