-- First call per client: the monthly "new clients" reads these two small tables
-- instead of every earlier staging day, so its cost follows the month, not the history.
-- Both are maintained by the staging day's replace (reemplazo.reemplazar_dias_staging ->
-- staging/clientes.py), in the same transaction as the day's rows, so a rebuilt, backfilled
-- or emptied day changes them exactly.

-- One row per identified client and local day with calls: what a day contributes. Keyed by
-- day first, so a day's rows sit together in the index (a day's load touches one narrow,
-- cached part of it however long the history). No index by client on purpose: it would take
-- one random insert per client and day into an index as large as the history.
CREATE TABLE IF NOT EXISTS staging.clientes_dia (
    fecha      date NOT NULL,
    cliente_id varchar(32) NOT NULL,
    llamadas   integer NOT NULL CHECK (llamadas > 0),
    PRIMARY KEY (fecha, cliente_id)
);

-- min(fecha) of each client over staging.clientes_dia.
CREATE TABLE IF NOT EXISTS staging.clientes_primera_llamada (
    cliente_id    varchar(32) PRIMARY KEY,
    primera_fecha date NOT NULL
);
CREATE INDEX IF NOT EXISTS clientes_primera_llamada_fecha_idx ON staging.clientes_primera_llamada (primera_fecha);

-- Days already in staging when this migration lands.
INSERT INTO staging.clientes_dia (fecha, cliente_id, llamadas)
SELECT fecha, cliente_id, count(*) FROM staging.llamadas WHERE cliente_id IS NOT NULL GROUP BY 1, 2
ON CONFLICT DO NOTHING;
INSERT INTO staging.clientes_primera_llamada (cliente_id, primera_fecha)
SELECT cliente_id, min(fecha) FROM staging.clientes_dia GROUP BY 1
ON CONFLICT DO NOTHING;
