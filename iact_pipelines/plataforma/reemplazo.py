"""The one partition-replace helper: every asset writes its partition through `reemplazar`.

A partition's rows are replaced in one transaction, so a re-run is idempotent and a failed
run leaves the previous rows intact. Writers of the same table and period serialize on
transaction-scoped advisory locks (one per partition key, taken in sorted order so two
overlapping ranges cannot deadlock): two concurrent runs end as one run, never duplicated rows.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import psycopg
from psycopg import sql

from iact_pipelines.plataforma import db, fechas


def bloquear_particiones(conn: psycopg.Connection, tabla: str, claves: Iterable[str]) -> None:
    """Take the transaction-scoped lock of each partition key of `tabla`, in sorted order; a
    wait beyond lock_timeout raises db.ParticionOcupada naming the holder. The transaction then
    may not sit idle beyond IACT_PG_CARGA_SIN_PROGRESO_S: the next writer of its partitions
    waits for it, so it must not outlive a process that stopped."""
    db.plazo_sin_progreso(conn)
    for clave in sorted(set(claves)):
        db.lock_partition(conn, tabla, clave)


def _nombre_del_dia(tabla: str, dia: date) -> str:
    """The name of `tabla`'s partition of `dia`."""
    return f"{tabla}_{dia:%Y%m%d}"


def particion_nueva(schema: str, tabla: str, dia: date) -> sql.Identifier:
    """The table a load of `dia` fills before it becomes that day's partition (the swap at the
    end of `reemplazar_dias_staging`): every write of a staging load goes here, never into the
    partition readers read."""
    return sql.Identifier(schema, f"{_nombre_del_dia(tabla, dia)}_nueva")


# The swap waits for the readers of the parent (DETACH needs its ACCESS EXCLUSIVE lock) in
# attempts this long: a queued ACCESS EXCLUSIVE request makes every new reader wait behind it,
# so an attempt that is not granted soon gives up (its savepoint rolled back) and lets them
# through for `_PAUSA_ENTRE_INTENTOS_S` before the next one. The attempts grow, up to the last
# one's length: readers whose statements overlap without a 100 ms gap between them would
# otherwise keep the swap out until IACT_PG_LOCK_TIMEOUT_S; an attempt never makes a reader
# wait a second.
_INTENTOS_DE_CAMBIO = ("100ms", "200ms", "400ms", "800ms")
_PAUSA_ENTRE_INTENTOS_S = 0.05
# Once granted, readers wait for this transaction's commit: a loader frozen between the swap
# and its COMMIT loses its session (and the lock) after this much idle time.
_PLAZO_TRAS_EL_CAMBIO = "1s"

# Which of the days' partitions exist already (a day's first load only attaches its table).
_EXISTENTES = """
SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
WHERE i.inhparent = %s::regclass AND c.relname = ANY(%s)
"""


@contextmanager
def reemplazar_dias_staging(
    conn: psycopg.Connection,
    tabla: str,
    desde: date,
    hasta_exclusive: date,
    solo: Iterable[date] | None = None,
    derivadas: Iterable[str] = (),
) -> Iterator[psycopg.Connection]:
    """Replace the day partitions of `staging.<tabla>` in [desde, hasta) (only the days in `solo`
    when given: a day the `volumen` check blocks keeps its rows) in one transaction: the caller
    loads each day into its `particion_nueva` table (empty, frozen COPY allowed), and at the end
    each new table takes the place of its day's partition (DETACH the old one, ATTACH the new
    one, DROP the old one) just before the commit.

    Readers are never held by the load: until the commit they read the previous partitions
    (the load writes nothing they read), and the swap itself needs the parents' ACCESS
    EXCLUSIVE lock only for a few milliseconds (`_cambiar`). A failed load rolls back: the
    previous partitions were never touched. Loaders of the same days serialize on the days'
    advisory locks. `derivadas`: other day-partitioned `staging` tables the caller fills for
    the same days in this transaction (their `particion_nueva` tables); they are swapped in the
    same statement as `tabla`, so readers see a day's rows and its derived rows change together.

    Statements of the load transaction must not read the parents before the swap without need:
    a loader that holds a parent's lock and waits for another loader (the first-call lock of
    `staging.clientes`) would keep that one's swap waiting.
    """
    elegidos = fechas.dias_semiabiertos(desde, hasta_exclusive) if solo is None else sorted(set(solo))
    tablas = (tabla, *derivadas)
    claves = [d.isoformat() for d in elegidos]
    puente = [db.advisory_key(f"staging.{tabla}", c) for c in claves]
    nuestros = cambiados = False
    try:
        # The new tables are created in their own short transaction: CREATE TABLE ... (LIKE
        # parent) keeps an ACCESS SHARE lock on the parent until the transaction ends, which
        # would make every other loader's swap wait for this whole load. The days' locks are
        # also taken at session level, until the load's transaction ends: another loader of
        # the same days cannot replace (or swap in) these new tables in between.
        with conn.transaction():
            bloquear_particiones(conn, f"staging.{tabla}", claves)
            conn.execute("SELECT pg_advisory_lock(k) FROM unnest(%s::bigint[]) AS k", (puente,))
            for destino in tablas:
                for dia in elegidos:
                    _crear_nueva(conn, destino, dia)
        nuestros = True
        with conn.transaction():
            bloquear_particiones(conn, f"staging.{tabla}", claves)
            for destino in tablas:
                for dia in elegidos:
                    # emptied in this transaction: the loads COPY into it frozen
                    conn.execute(sql.SQL("TRUNCATE {}").format(particion_nueva("staging", destino, dia)))
            yield conn
            # Fresh planner statistics for the new rows, committed with them: autovacuum would
            # get there minutes later, and a report planned on an empty partition's statistics
            # picks a nested loop over 100k rows (a first run 400x slower than its re-run).
            # ANALYZE in the loading transaction counts its own rows; it samples, so a 1M-row
            # day costs ~0.2 s.
            for dia in elegidos:
                conn.execute(sql.SQL("ANALYZE {}").format(particion_nueva("staging", tabla, dia)))
            _cambiar(conn, tablas, elegidos)
        cambiados = True
    finally:
        if nuestros and not conn.broken and not conn.closed:  # a lost session released its locks
            with conn.transaction():
                # a failed load's empty new tables, while the days are still ours (a process
                # killed outright leaves them to the next load of its days, which replaces them)
                for destino in tablas if not cambiados else ():
                    for dia in elegidos:
                        conn.execute(sql.SQL("DROP TABLE {}").format(particion_nueva("staging", destino, dia)))
                conn.execute("SELECT pg_advisory_unlock(k) FROM unnest(%s::bigint[]) AS k", (puente,))


def _crear_nueva(conn: psycopg.Connection, tabla: str, dia: date) -> None:
    """An empty table shaped as the day's partition: the parent's columns, defaults, constraints
    and indexes, plus a CHECK equal to the day's bound, so ATTACH trusts it without scanning
    its rows. One left by a failed load is replaced (the parent may have changed since)."""
    nueva = particion_nueva("staging", tabla, dia)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(nueva))
    conn.execute(
        sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL, CONSTRAINT limites_del_dia CHECK ({}))").format(
            nueva, sql.Identifier("staging", tabla), _limites(dia)
        )
    )


def _bordes(dia: date) -> tuple[sql.Literal, sql.Literal]:
    return sql.Literal(dia.isoformat()), sql.Literal((dia + timedelta(days=1)).isoformat())


def _limites(dia: date) -> sql.Composed:
    return sql.SQL("fecha >= {} AND fecha < {}").format(*_bordes(dia))


def tras_la_carga(tabla: str, dias: Iterable[date], desde: date, hasta_exclusive: date) -> sql.Composed:
    """Inside a load of `dias` (before its swap): the rows of `staging.<tabla>` in [desde, hasta)
    as the commit will leave them, a subquery of those days' new tables and, for the other days
    of the window, the table's partitions."""
    nuevos = sorted(set(dias))
    partes = [sql.SQL("SELECT * FROM {}").format(particion_nueva("staging", tabla, d)) for d in nuevos]
    if set(fechas.dias_semiabiertos(desde, hasta_exclusive)) - set(nuevos):
        partes.append(
            sql.SQL("SELECT * FROM {} WHERE fecha >= {} AND fecha < {} AND fecha <> ALL({}::date[])").format(
                sql.Identifier("staging", tabla), sql.Literal(desde), sql.Literal(hasta_exclusive), sql.Literal(nuevos)
            )
        )
    return sql.SQL("({})").format(sql.SQL(" UNION ALL ").join(partes))


def _cambiar(conn: psycopg.Connection, tablas: tuple[str, ...], dias: list[date]) -> None:
    """Put each day's new table in place of its partition, in one statement sent once the
    parents' locks are granted (see `_INTENTOS_DE_CAMBIO`); tried again until granted or
    IACT_PG_LOCK_TIMEOUT_S has passed (db.ParticionOcupada: rolled back, nothing changed)."""
    pasos, separa = [], False
    for tabla in tablas:
        padre = sql.Identifier("staging", tabla)
        nombres = [_nombre_del_dia(tabla, d) for d in dias]
        existentes = {n for (n,) in conn.execute(_EXISTENTES, (f"staging.{tabla}", nombres)).fetchall()}
        for dia, nombre in zip(dias, nombres, strict=True):
            vieja = sql.Identifier("staging", nombre)
            if nombre in existentes:
                separa = True
                pasos.append(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(padre, vieja))
                pasos.append(sql.SQL("DROP TABLE {}").format(vieja))
            pasos.append(
                sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                    particion_nueva("staging", tabla, dia), sql.Identifier(nombre)
                )
            )
            pasos.append(
                sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                    padre, vieja, *_bordes(dia)
                )
            )
            pasos.append(sql.SQL("ALTER TABLE {} DROP CONSTRAINT limites_del_dia").format(vieja))
        # DETACH locks the parent ACCESS EXCLUSIVE; ATTACH alone (a day's first load) only
        # SHARE UPDATE EXCLUSIVE, which readers do not conflict with.
    if not pasos:
        return  # every day left out (the `volumen` check): nothing to swap
    modo = "ACCESS EXCLUSIVE" if separa else "SHARE UPDATE EXCLUSIVE"
    cambio = [
        # ONLY: without it LOCK TABLE would lock every day partition too
        sql.SQL("LOCK TABLE ONLY {} IN {} MODE").format(
            sql.SQL(", ").join(sql.Identifier("staging", t) for t in tablas), sql.SQL(modo)
        ),
        sql.SQL("SELECT set_config('idle_in_transaction_session_timeout', {}, true)").format(
            sql.Literal(_PLAZO_TRAS_EL_CAMBIO)
        ),
        *pasos,
    ]
    limite = db.valor("IACT_PG_LOCK_TIMEOUT_S")
    hasta = time.monotonic() + limite if limite else None
    for n in itertools.count():
        intento = _INTENTOS_DE_CAMBIO[min(n, len(_INTENTOS_DE_CAMBIO) - 1)]
        try:
            with conn.transaction():  # a refused attempt rolls back to here, its locks released
                # one statement without parameters (the simple protocol runs several commands),
                # the attempt's lock_timeout first
                plazo = sql.SQL("SELECT set_config('lock_timeout', {}, true)").format(sql.Literal(intento))
                conn.execute(sql.SQL("; ").join([plazo, *cambio]))
            return
        except psycopg.errors.LockNotAvailable:
            if hasta is not None and time.monotonic() >= hasta:
                raise db.ParticionOcupada(
                    f"staging.{tablas[0]}: sus lectores no dejaron un hueco de {intento} para "
                    f"reemplazar los días {dias[0]}..{dias[-1]} en {limite}s (IACT_PG_LOCK_TIMEOUT_S); no se "
                    "cambió nada, vuelva a correrlo"
                ) from None
            time.sleep(_PAUSA_ENTRE_INTENTOS_S)


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


def leer_staging(conn: psycopg.Connection, tablas: Iterable[str]) -> None:
    """Pin `staging.<tabla>` for the rest of the transaction: no load's swap (`_cambiar`)
    commits until it ends, so every later statement reads the same days, each the whole of its
    last committed load; a swap in progress is waited for (milliseconds). A load in progress is
    not: it writes nothing this transaction reads.

    Call it in its own statement BEFORE the reading statements (a statement that first met a
    swap after it would read the new days, one before it the old ones). The derived tables
    (`staging.clientes_dia`) are swapped together with their table, so pinning it pins them.
    """
    conn.execute(
        sql.SQL("LOCK TABLE ONLY {} IN ACCESS SHARE MODE").format(
            sql.SQL(", ").join(sql.Identifier("staging", t) for t in sorted(set(tablas)))
        )
    )
