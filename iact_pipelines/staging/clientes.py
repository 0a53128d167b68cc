"""Each client's first call, kept exact as staging days are replaced (issue 14).

`staging.clientes_dia` holds what each day contributes (identified client, calls that day);
`staging.clientes_primera_llamada` the earliest of those days per client. Both are rewritten
for a window of days in the same transaction as the window's `staging.llamadas` rows
(`reemplazo.reemplazar_dias_staging` calls `actualizar`), so a rebuilt middle month, a day
backfilled before later ones, or a client's earliest day emptied at the source and re-run
leave exactly min(fecha) over the loaded days. The monthly report then reads the month's
rows of these tables only: its cost follows the month, not the history.

Only clients the window can move are touched: those seen in the window without an earlier
first call (their first call becomes their earliest day in the window), and those whose first
call was in the window and who are no longer there (their next later day, or no row).
"""

from __future__ import annotations

from datetime import date

import psycopg

from iact_pipelines.plataforma import db

# Writers of different days of staging.llamadas run concurrently; the first-call rows they
# touch overlap (a client of both days). One lock, taken at the end of the day's transaction,
# makes each update see the other's committed rows (read committed: a fresh snapshot per
# statement after the wait).
_CANDADO = ("staging.clientes_primera_llamada",)

_BORRAR_DIAS = "DELETE FROM staging.clientes_dia WHERE fecha >= %(desde)s AND fecha < %(hasta)s"

_CARGAR_DIAS = """
INSERT INTO staging.clientes_dia (fecha, cliente_id, llamadas)
SELECT fecha, cliente_id, count(*)
FROM staging.llamadas
WHERE fecha >= %(desde)s AND fecha < %(hasta)s AND cliente_id IS NOT NULL
GROUP BY fecha, cliente_id
"""

_PRIMERAS = """
WITH ventana AS (
    SELECT cliente_id, min(fecha) AS primera
    FROM staging.clientes_dia
    WHERE fecha >= %(desde)s AND fecha < %(hasta)s
    GROUP BY cliente_id
), movidos AS (
    -- in the window, nothing earlier: the window's earliest day (no day before it has them)
    SELECT v.cliente_id, v.primera
    FROM ventana AS v
    WHERE NOT EXISTS (
        SELECT 1 FROM staging.clientes_primera_llamada AS p
        WHERE p.cliente_id = v.cliente_id AND p.primera_fecha < %(desde)s
    )
    UNION ALL
    -- first call in the window, gone from it: their next day after it, or none
    SELECT p.cliente_id,
        (SELECT min(d.fecha) FROM staging.clientes_dia AS d
         WHERE d.cliente_id = p.cliente_id AND d.fecha >= %(hasta)s)
    FROM staging.clientes_primera_llamada AS p
    WHERE p.primera_fecha >= %(desde)s AND p.primera_fecha < %(hasta)s
      AND NOT EXISTS (SELECT 1 FROM ventana AS v WHERE v.cliente_id = p.cliente_id)
), borrados AS (
    DELETE FROM staging.clientes_primera_llamada AS p
    USING movidos AS m
    WHERE p.cliente_id = m.cliente_id AND m.primera IS NULL
)
INSERT INTO staging.clientes_primera_llamada (cliente_id, primera_fecha)
SELECT cliente_id, primera FROM movidos WHERE primera IS NOT NULL
ON CONFLICT (cliente_id) DO UPDATE SET primera_fecha = EXCLUDED.primera_fecha
    WHERE staging.clientes_primera_llamada.primera_fecha <> EXCLUDED.primera_fecha
"""


def actualizar(conn: psycopg.Connection, desde: date, hasta: date) -> None:
    """Rewrite the days [desde, hasta) of staging.clientes_dia from staging.llamadas and move
    the first calls they change; in the caller's transaction, after the days' rows are in."""
    parametros = {"desde": desde, "hasta": hasta}
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (db.advisory_key(*_CANDADO),))
    conn.execute(_BORRAR_DIAS, parametros)
    conn.execute(_CARGAR_DIAS, parametros)
    conn.execute(_PRIMERAS, parametros)
