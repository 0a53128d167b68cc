-- Trust: what the platform may publish.

-- Real history is welcome: legacy call centers hold decades of data.
ALTER TABLE reportes_trimestral DROP CONSTRAINT IF EXISTS reportes_trimestral_anio_check;

-- What each staging load did to each local day: the `volumen` check's history (rows read per
-- day) and its verdict, and who accepted a day the check would have blocked.
CREATE TABLE IF NOT EXISTS staging_cargas (
    asset_key          varchar(100) NOT NULL,
    fecha              date NOT NULL,
    estado             varchar(20) NOT NULL CHECK (estado IN ('cargado', 'aceptado', 'bloqueado')),
    filas_leidas       integer NOT NULL CHECK (filas_leidas >= 0),
    filas_cargadas     integer NOT NULL CHECK (filas_cargadas >= 0),
    mediana_referencia numeric(12, 1),
    motivo             text,
    aceptado_por       varchar(150),
    run_id             varchar(64) NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (asset_key, fecha)
);
