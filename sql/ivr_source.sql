-- The legacy IVR source contract. Permissive on purpose:
-- primary keys and nothing else, no NOT NULL, no CHECK, as the legacy database is.
-- Used by `iact demo seed` and the tests; production reads an existing server read-only.
CREATE SCHEMA IF NOT EXISTS ivr;

CREATE TABLE IF NOT EXISTS ivr.llamadas (
    llamada_id   bigint PRIMARY KEY,
    centro_id    varchar(8),
    cliente_id   varchar(32),
    inicio       timestamptz,
    ingreso_cola timestamptz,
    atencion     timestamptz,
    fin          timestamptz,
    resultado    varchar(12)
);

CREATE TABLE IF NOT EXISTS ivr.menu_eventos (
    evento_id   bigint PRIMARY KEY,
    llamada_id  bigint,
    centro_id   varchar(8),
    menu_id     varchar(50),
    menu_nombre varchar(200),
    entrada     timestamptz,
    salida      timestamptz,
    resultado   varchar(12)
);

CREATE TABLE IF NOT EXISTS ivr.transferencias (
    transferencia_id bigint PRIMARY KEY,
    llamada_id       bigint,
    centro_origen    varchar(8),
    centro_destino   varchar(8),
    inicio           timestamptz,
    fin              timestamptz,
    exitosa          boolean
);

-- A legacy IVR database is indexed for its own application, which looks calls up by time;
-- the extraction's range filter relies on these.
CREATE INDEX IF NOT EXISTS llamadas_inicio_idx ON ivr.llamadas (inicio);
CREATE INDEX IF NOT EXISTS menu_eventos_entrada_idx ON ivr.menu_eventos (entrada);
CREATE INDEX IF NOT EXISTS transferencias_inicio_idx ON ivr.transferencias (inicio);
