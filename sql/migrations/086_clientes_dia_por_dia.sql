-- staging.clientes_dia partitioned by local day, like the staging tables it is derived from
-- (load cost). A day's rewrite becomes TRUNCATE of its partition + one INSERT into
-- a table without index: measured 0.19 s for 150k clients against 1.2 s for the DELETE and the
-- insert into the (fecha, cliente_id) primary key it replaces (one random b-tree insert per row,
-- plus the dead copies a re-run leaves for the unique check). Uniqueness of (fecha, cliente_id)
-- holds by construction: the only writer (staging/clientes.py) fills a day from one GROUP BY.
-- Readers filter by fecha, which prunes to the day partitions; no index by client on purpose.
ALTER TABLE staging.clientes_dia RENAME TO clientes_dia_080;
ALTER INDEX staging.clientes_dia_pkey RENAME TO clientes_dia_080_pkey;

CREATE TABLE staging.clientes_dia (
    fecha      date NOT NULL,
    cliente_id varchar(32) NOT NULL,
    llamadas   integer NOT NULL CHECK (llamadas > 0)
) PARTITION BY RANGE (fecha);

-- One partition per day already there, named as the staging day partitions are.
DO $$
DECLARE
    dia date;
BEGIN
    FOR dia IN SELECT DISTINCT fecha FROM staging.clientes_dia_080 ORDER BY 1 LOOP
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS staging.%I PARTITION OF staging.clientes_dia FOR VALUES FROM (%L) TO (%L)',
            'clientes_dia_' || to_char(dia, 'YYYYMMDD'), dia, dia + 1
        );
    END LOOP;
END
$$;

INSERT INTO staging.clientes_dia (fecha, cliente_id, llamadas)
SELECT fecha, cliente_id, llamadas FROM staging.clientes_dia_080 ORDER BY fecha, cliente_id;
DROP TABLE staging.clientes_dia_080;
