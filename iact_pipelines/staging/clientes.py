"""Each client's first call, kept exact as staging days are replaced.

`staging.clientes_dia` holds what each day contributes (identified client, calls that day and
the start of the last one);
`staging.clientes_primera_llamada` the earliest of those days per client. Both are rewritten
for a window of days in the same transaction as the window's `staging.llamadas` rows
(every staging writer replaces days through `carga.reemplazar_dias`, which calls `actualizar`), so a rebuilt middle month, a day
backfilled before later ones, or a client's earliest day emptied at the source and re-run
leave exactly min(fecha) over the loaded days. The monthly report then reads the month's
rows of these tables only: its cost follows the month, not the history.

Only clients the window can move are touched: those seen in the window without an earlier
first call (their first call becomes their earliest day in the window), and those whose first
call was in the window and who are no longer there (their next later day, or no row: the one
step that reads later history, and only for such clients, which only a source deletion makes).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from iact_pipelines.plataforma import copia_binaria, db, fechas, reemplazo

# Writers of different days of staging.llamadas run concurrently; the first-call rows they
# touch overlap (a client of both days). One lock, taken at the end of the day's transaction,
# makes each update see the other's committed rows (read committed: a fresh snapshot per
# statement after the wait).
_CANDADO = ("staging.clientes_primera_llamada",)

# Into a day's new table (`reemplazo.particion_nueva`: empty, without index, swapped in for the
# day's partition at the commit), from the day's new calls: this module is the table's one
# writer, and it fills a day from one grouping by (fecha, cliente_id), here or in Arrow
# (`dias_de_clientes`), which is what keeps (fecha, cliente_id) unique.
_CARGAR_DIA = """
INSERT INTO {clientes_dia} (fecha, cliente_id, llamadas, ultima_llamada)
SELECT fecha, cliente_id, count(*), max(inicio)
FROM {llamadas}
WHERE cliente_id IS NOT NULL
GROUP BY fecha, cliente_id
"""

# Clients seen in the window whose first call it changes: new clients (no row yet: a plain
# INSERT, most of a first load's work), and clients whose first call is in the window or later
# and differs from their earliest day in the window (no day before the window has them: an
# UPDATE, only after a backfill or a rebuild). Clients with an earlier first call, and those
# whose first call already is that day (every client of a re-run day), are left out by the
# join. Writers of calls days hold `_CANDADO` here, so a client without a row has none until
# this statement commits: no conflict path is needed. The upsert this replaces paid a
# speculative insertion per new client (420k new clients: 2.35-2.58 s, against 1.78-1.87 s
# here), and before that a lock per unchanged client (500k: 1.7-2.1 s, against 0.4-0.6 s for
# the join that leaves them out).
_ADELANTAR = """
WITH n AS ({clientes}), cambios AS MATERIALIZED (
    SELECT n.cliente_id, n.primera, p.primera_fecha AS actual
    FROM n
    LEFT JOIN staging.clientes_primera_llamada AS p ON p.cliente_id = n.cliente_id
    WHERE p.cliente_id IS NULL OR (p.primera_fecha >= %(desde)s AND p.primera_fecha <> n.primera)
), nuevos AS (
    INSERT INTO staging.clientes_primera_llamada (cliente_id, primera_fecha)
    SELECT cliente_id, primera FROM cambios WHERE actual IS NULL
    -- in key order: the inserts walk the primary key's pages in sequence (measured a quarter
    -- cheaper than hash order at 150k clients); sorted in byte order, which is the key order
    -- of a C or C.UTF-8 database and close to it otherwise (any order is correct), with
    -- memcmp instead of strcoll (0.19 instead of 0.27 s for 500k clients)
    ORDER BY cliente_id COLLATE "C"
)
UPDATE staging.clientes_primera_llamada AS p SET primera_fecha = c.primera
FROM cambios AS c
WHERE c.actual IS NOT NULL AND p.cliente_id = c.cliente_id
"""
# Each client's earliest day in the window. A day's rows are one per client (one grouping
# fills a day), so a one-day window, a daily run, reads them as they are: no aggregate of 500k
# clients (0.2 s).
_CLIENTES_DEL_DIA = "SELECT cliente_id, fecha AS primera FROM {dias} AS v WHERE fecha = %(desde)s"
_CLIENTES_DE_LA_VENTANA = """SELECT cliente_id, min(fecha) AS primera FROM {dias} AS v
    WHERE fecha >= %(desde)s AND fecha < %(hasta)s
    GROUP BY cliente_id"""

# Each rewritten day's set of clients, before and after: its size and two 64-bit hash sums
# (seeds 0 and 1, summed exactly as numeric). First calls follow from which clients have rows
# on which days only, so when every rewritten day keeps its set (the re-run of an unchanged
# day, as the 02:00 schedule does for the day before yesterday), no first call can change and
# the upkeep statements below are skipped (0.6-0.8 s for 500k clients, against 0.05 s per
# fingerprint). Two different sets of the same size get equal sums with probability about
# 2^-128. No rows before: a day's first load, nothing to compare. {dias}: staging.clientes_dia
# before the load, `reemplazo.tras_la_carga` after it.
_HUELLAS = """
SELECT fecha, count(*), sum(hashtextextended(cliente_id, 0)), sum(hashtextextended(cliente_id, 1))
FROM {dias} AS v
WHERE fecha = ANY(%(dias)s::date[])
GROUP BY fecha
ORDER BY fecha
"""

# Clients whose first call was in the window and who are no longer in it (their calls were
# deleted at the source and the day re-run): usually none.
_AUSENTES = """
SELECT p.cliente_id FROM staging.clientes_primera_llamada AS p
WHERE p.primera_fecha >= %(desde)s AND p.primera_fecha < %(hasta)s
  AND NOT EXISTS (
    SELECT 1 FROM {dias} AS v
    WHERE v.fecha >= %(desde)s AND v.fecha < %(hasta)s AND v.cliente_id = p.cliente_id
  )
"""

# Their next day after the window, or no first call at all. Reads the later days (the only
# statement whose cost grows with history), and only when some client left.
_SIGUIENTE = """
SELECT cliente_id, min(fecha)
FROM staging.clientes_dia
WHERE fecha >= %(hasta)s AND cliente_id = ANY(%(ausentes)s)
GROUP BY cliente_id
"""
_MOVER = """
UPDATE staging.clientes_primera_llamada AS p SET primera_fecha = s.primera
FROM unnest(%(clientes)s::text[], %(fechas)s::date[]) AS s (cliente_id, primera)
WHERE p.cliente_id = s.cliente_id
"""
_QUITAR = "DELETE FROM staging.clientes_primera_llamada WHERE cliente_id = ANY(%(clientes)s)"


# The columns of staging.llamadas `dias_de_clientes` reads.
COLUMNAS = ["fecha", "cliente_id", "inicio"]


def dias_de_clientes(llamadas: pa.Table) -> pa.Table:
    """The staging.clientes_dia rows of loaded calls held in Arrow (fecha, cliente_id, inicio at
    least): what `_CARGAR_DIA` computes from a day's new calls, without reading the day back
    (a multi-threaded hash aggregate in Arrow, 0.1-0.2 s for 535k calls, against 0.65-0.76 s
    for the GROUP BY and INSERT on one PostgreSQL core)."""
    identificadas = llamadas.select(COLUMNAS).filter(pc.is_valid(llamadas["cliente_id"]))
    grupos = identificadas.group_by(["fecha", "cliente_id"]).aggregate([("cliente_id", "count"), ("inicio", "max")])
    return pa.table(
        {
            "fecha": grupos["fecha"],
            "cliente_id": grupos["cliente_id"],
            "llamadas": pc.cast(grupos["cliente_id_count"], pa.int32()),
            "ultima_llamada": grupos["inicio_max"],
        }
    )


def actualizar(
    conn: psycopg.Connection,
    desde: date,
    hasta: date,
    dias: Iterable[date] | None = None,
    clientes_dia: pa.Table | None = None,
) -> None:
    """Rewrite the days `dias` (default: all) of [desde, hasta) of staging.clientes_dia from
    staging.llamadas and move the first calls the window changes; in the caller's transaction,
    after the days' rows are in their new tables (`carga.reemplazar_dias`), which this fills for
    staging.clientes_dia.
    `clientes_dia`: those days' rows already computed from the loaded calls (`dias_de_clientes`),
    COPYed instead of aggregated again from staging.llamadas."""
    parametros = {"desde": desde, "hasta": hasta}
    elegidos = fechas.dias_semiabiertos(desde, hasta) if dias is None else sorted(set(dias))
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (db.advisory_key(*_CANDADO),))
    # The window's client days as the commit leaves them: the rewritten days' new tables.
    tras = reemplazo.tras_la_carga("clientes_dia", elegidos, desde, hasta)
    huellas = sql.SQL(_HUELLAS)
    antes = conn.execute(huellas.format(dias=sql.Identifier("staging", "clientes_dia")), {"dias": elegidos}).fetchall()
    for dia in elegidos:
        nueva = reemplazo.particion_nueva("staging", "clientes_dia", dia)
        if clientes_dia is None:
            llamadas = reemplazo.particion_nueva("staging", "llamadas", dia)
            conn.execute(sql.SQL(_CARGAR_DIA).format(clientes_dia=nueva, llamadas=llamadas))
        else:
            # into the day's new table, emptied in this transaction: frozen
            del_dia = clientes_dia.filter(pc.equal(clientes_dia["fecha"], pa.scalar(dia, pa.date32())))
            copia_binaria.copiar(conn, nueva, del_dia, congelar=True)
        # Statistics for the day just written, committed with it (as the staging days get):
        # the repeat-call report joins a day's clients with the previous day's, and without
        # them the planner takes a 500k-client day for 200 rows (1.5 s instead of 0.3 s).
        conn.execute(sql.SQL("ANALYZE {}").format(nueva))
    if antes and conn.execute(huellas.format(dias=tras), {"dias": elegidos}).fetchall() == antes:
        return
    # Before the day partitions were analyzed above, the planner took a just-filled window for
    # 200 clients and probed the primary key once per client (2.7 s for 500k) where a hash anti
    # join takes 0.6 s, and for the absent clients rescanned the unindexed client days once per
    # first call of the window (quadratic in a backfill). Nested loops stay off for these two
    # statements only (not re-measured without it since the ANALYZE).
    (anterior,) = conn.execute("SELECT current_setting('enable_nestloop')").fetchone()
    conn.execute("SELECT set_config('enable_nestloop', 'off', true)")
    clientes_ventana = _CLIENTES_DEL_DIA if (hasta - desde).days == 1 else _CLIENTES_DE_LA_VENTANA
    conn.execute(sql.SQL(_ADELANTAR).format(clientes=sql.SQL(clientes_ventana).format(dias=tras)), parametros)
    # A first call is always one of the client's days: if the rewritten days had none, no
    # client can have left them (a day's first load, the usual case) and the absent-client
    # search (0.35 s for 500k clients) is skipped.
    ausentes = (
        [c for (c,) in conn.execute(sql.SQL(_AUSENTES).format(dias=tras), parametros).fetchall()] if antes else []
    )
    conn.execute("SELECT set_config('enable_nestloop', %s, true)", (anterior,))
    if not ausentes:
        return
    siguiente = dict(conn.execute(_SIGUIENTE, {**parametros, "ausentes": ausentes}).fetchall())
    if siguiente:
        conn.execute(_MOVER, {"clientes": list(siguiente), "fechas": list(siguiente.values())})
    sin_llamadas = [c for c in ausentes if c not in siguiente]
    if sin_llamadas:
        conn.execute(_QUITAR, {"clientes": sin_llamadas})
