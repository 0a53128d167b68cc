-- Warehouse base schema: the seed's eight tables (names and columns kept), usuarios, staging.
-- Idempotent: every object is created only if missing.

CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

-- Recipients of the internal inbox; active admins receive pipeline alerts.
CREATE TABLE IF NOT EXISTS usuarios (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    nombre      varchar(150) NOT NULL UNIQUE CHECK (nombre ~ '^[A-Za-z0-9_.@-]+$'),
    nombre_completo varchar(200) NOT NULL DEFAULT '',
    es_admin    boolean NOT NULL DEFAULT false,
    activo      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS reportes_trimestral (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trimestre                varchar(2) NOT NULL CHECK (trimestre IN ('Q1', 'Q2', 'Q3', 'Q4')),
    anio                     integer NOT NULL CHECK (anio BETWEEN 2000 AND 2200),
    total_llamadas           integer NOT NULL DEFAULT 0 CHECK (total_llamadas >= 0),
    llamadas_atendidas       integer NOT NULL DEFAULT 0 CHECK (llamadas_atendidas >= 0),
    llamadas_abandonadas     integer NOT NULL DEFAULT 0 CHECK (llamadas_abandonadas >= 0),
    tiempo_promedio_espera   numeric(10, 2) NOT NULL DEFAULT 0 CHECK (tiempo_promedio_espera >= 0),
    tiempo_promedio_atencion numeric(10, 2) NOT NULL DEFAULT 0 CHECK (tiempo_promedio_atencion >= 0),
    nivel_servicio           numeric(5, 2) NOT NULL DEFAULT 0 CHECK (nivel_servicio BETWEEN 0 AND 100),
    tasa_abandono            numeric(5, 2) NOT NULL DEFAULT 0 CHECK (tasa_abandono BETWEEN 0 AND 100),
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reportes_trimestral_periodo_uniq UNIQUE (trimestre, anio),
    CHECK (llamadas_atendidas + llamadas_abandonadas <= total_llamadas)
);

CREATE TABLE IF NOT EXISTS reportes_transferencias (
    id                            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fecha                         date NOT NULL,
    centro_origen                 varchar(100) NOT NULL,
    centro_destino                varchar(100) NOT NULL,
    total_transferencias          integer NOT NULL DEFAULT 0 CHECK (total_transferencias >= 0),
    transferencias_exitosas       integer NOT NULL DEFAULT 0 CHECK (transferencias_exitosas >= 0),
    transferencias_fallidas       integer NOT NULL DEFAULT 0 CHECK (transferencias_fallidas >= 0),
    tiempo_promedio_transferencia numeric(10, 2) NOT NULL DEFAULT 0 CHECK (tiempo_promedio_transferencia >= 0),
    tasa_exito                    numeric(5, 2) NOT NULL DEFAULT 0 CHECK (tasa_exito BETWEEN 0 AND 100),
    created_at                    timestamptz NOT NULL DEFAULT now(),
    updated_at                    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reportes_transferencias_uniq UNIQUE (fecha, centro_origen, centro_destino),
    CHECK (transferencias_exitosas + transferencias_fallidas = total_transferencias)
);

CREATE TABLE IF NOT EXISTS reportes_menu_problemas (
    id                          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fecha                       date NOT NULL,
    menu_id                     varchar(50) NOT NULL,
    menu_nombre                 varchar(200) NOT NULL,
    veces_accedido              integer NOT NULL DEFAULT 0 CHECK (veces_accedido >= 0),
    abandonos                   integer NOT NULL DEFAULT 0 CHECK (abandonos >= 0),
    timeout                     integer NOT NULL DEFAULT 0 CHECK (timeout >= 0),
    errores                     integer NOT NULL DEFAULT 0 CHECK (errores >= 0),
    tasa_abandono               numeric(5, 2) NOT NULL DEFAULT 0 CHECK (tasa_abandono BETWEEN 0 AND 100),
    tiempo_promedio_permanencia numeric(10, 2) NOT NULL DEFAULT 0 CHECK (tiempo_promedio_permanencia >= 0),
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reportes_menu_problemas_uniq UNIQUE (fecha, menu_id),
    CHECK (abandonos + timeout + errores <= veces_accedido)
);

CREATE TABLE IF NOT EXISTS reportes_llamadas_dia (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fecha                    date NOT NULL,
    hora                     integer NOT NULL CHECK (hora BETWEEN 0 AND 23),
    total_llamadas           integer NOT NULL DEFAULT 0 CHECK (total_llamadas >= 0),
    llamadas_atendidas       integer NOT NULL DEFAULT 0 CHECK (llamadas_atendidas >= 0),
    llamadas_abandonadas     integer NOT NULL DEFAULT 0 CHECK (llamadas_abandonadas >= 0),
    tiempo_promedio_espera   numeric(10, 2) NOT NULL DEFAULT 0 CHECK (tiempo_promedio_espera >= 0),
    tiempo_promedio_atencion numeric(10, 2) NOT NULL DEFAULT 0 CHECK (tiempo_promedio_atencion >= 0),
    nivel_servicio           numeric(5, 2) NOT NULL DEFAULT 0 CHECK (nivel_servicio BETWEEN 0 AND 100),
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reportes_llamadas_dia_uniq UNIQUE (fecha, hora),
    CHECK (llamadas_atendidas + llamadas_abandonadas <= total_llamadas)
);

CREATE TABLE IF NOT EXISTS reportes_clientes_unicos (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fecha_inicio              date NOT NULL,
    fecha_fin                 date NOT NULL,
    total_clientes_unicos     integer NOT NULL DEFAULT 0 CHECK (total_clientes_unicos >= 0),
    nuevos_clientes           integer NOT NULL DEFAULT 0 CHECK (nuevos_clientes >= 0),
    clientes_recurrentes      integer NOT NULL DEFAULT 0 CHECK (clientes_recurrentes >= 0),
    promedio_llamadas_cliente numeric(10, 2) NOT NULL DEFAULT 0 CHECK (promedio_llamadas_cliente >= 0),
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reportes_clientes_unicos_periodo_uniq UNIQUE (fecha_inicio, fecha_fin),
    CHECK (fecha_inicio <= fecha_fin),
    CHECK (nuevos_clientes + clientes_recurrentes = total_clientes_unicos)
);

CREATE TABLE IF NOT EXISTS internal_messages (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient_id      bigint NOT NULL REFERENCES usuarios (id) ON DELETE CASCADE,
    sender_id         bigint REFERENCES usuarios (id) ON DELETE SET NULL,
    subject           varchar(255) NOT NULL CHECK (length(subject) > 0),
    body              text NOT NULL,
    message_type      varchar(20) NOT NULL DEFAULT 'info'
                      CHECK (message_type IN ('info', 'warning', 'alert', 'system')),
    priority          varchar(20) NOT NULL DEFAULT 'medium'
                      CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    is_read           boolean NOT NULL DEFAULT false,
    read_at           timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz,
    created_by_system boolean NOT NULL DEFAULT false,
    metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Identifies a system notification (e.g. 'run-failure:<run_id>') so a retried writer
    -- cannot deliver it twice to the same recipient.
    dedupe_key        varchar(200),
    CHECK (is_read = (read_at IS NOT NULL)),
    CHECK (created_by_system OR sender_id IS NOT NULL),
    CHECK (NOT created_by_system OR sender_id IS NULL)
);
CREATE UNIQUE INDEX IF NOT EXISTS internal_messages_dedupe_uniq
    ON internal_messages (recipient_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS internal_messages_recipient_idx
    ON internal_messages (recipient_id, is_read, created_at DESC);

CREATE TABLE IF NOT EXISTS etl_jobs (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_name               varchar(200) NOT NULL,
    status                 varchar(20) NOT NULL DEFAULT 'pending'
                           CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    started_at             timestamptz,
    completed_at           timestamptz,
    execution_time_seconds double precision CHECK (execution_time_seconds >= 0),
    records_extracted      integer NOT NULL DEFAULT 0 CHECK (records_extracted >= 0),
    records_transformed    integer NOT NULL DEFAULT 0 CHECK (records_transformed >= 0),
    records_loaded         integer NOT NULL DEFAULT 0 CHECK (records_loaded >= 0),
    records_failed         integer NOT NULL DEFAULT 0 CHECK (records_failed >= 0),
    error_message          text,
    error_details          jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata               jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- The Dagster run this row mirrors.
    run_id                 varchar(64) UNIQUE,
    partition_key          varchar(100),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS etl_jobs_status_idx ON etl_jobs (status, created_at DESC);

CREATE TABLE IF NOT EXISTS etl_validation_errors (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id        bigint REFERENCES etl_jobs (id) ON DELETE CASCADE,
    run_id        varchar(64) NOT NULL,
    asset_key     varchar(100) NOT NULL,
    partition_key varchar(100) NOT NULL,
    record_id     varchar(64),
    error_type    varchar(100) NOT NULL,
    error_message text NOT NULL,
    severity      varchar(20) NOT NULL DEFAULT 'error' CHECK (severity IN ('warning', 'error', 'critical')),
    record_data   jsonb NOT NULL DEFAULT '{}'::jsonb,
    field_name    varchar(100),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS etl_validation_errors_partition_idx
    ON etl_validation_errors (asset_key, partition_key);
CREATE INDEX IF NOT EXISTS etl_validation_errors_job_idx ON etl_validation_errors (job_id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['usuarios', 'reportes_trimestral', 'reportes_transferencias',
        'reportes_menu_problemas', 'reportes_llamadas_dia', 'reportes_clientes_unicos',
        'internal_messages', 'etl_jobs', 'etl_validation_errors']
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I_updated_at ON %I', t, t);
        EXECUTE format('CREATE TRIGGER %I_updated_at BEFORE UPDATE ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION set_updated_at()', t, t);
    END LOOP;
END $$;

-- Staging: validated rows of the allowed centers, partitioned by local day (`fecha`). Day
-- partitions are created on demand and replaced whole (TRUNCATE + COPY), which is several
-- times cheaper than DELETE from an indexed table. No indexes:
-- every reader scans whole days.
CREATE SCHEMA IF NOT EXISTS staging;

CREATE TABLE IF NOT EXISTS staging.llamadas (
    llamada_id   bigint NOT NULL,
    centro_id    varchar(8) NOT NULL,
    cliente_id   varchar(32),
    inicio       timestamptz NOT NULL,
    ingreso_cola timestamptz,
    atencion     timestamptz,
    fin          timestamptz NOT NULL,
    resultado    varchar(12) NOT NULL,
    fecha        date NOT NULL,
    hora         smallint NOT NULL CHECK (hora BETWEEN 0 AND 23)
) PARTITION BY RANGE (fecha);

CREATE TABLE IF NOT EXISTS staging.menu_eventos (
    evento_id   bigint NOT NULL,
    llamada_id  bigint NOT NULL,
    centro_id   varchar(8) NOT NULL,
    menu_id     varchar(50) NOT NULL,
    menu_nombre varchar(200) NOT NULL,
    entrada     timestamptz NOT NULL,
    salida      timestamptz,
    resultado   varchar(12) NOT NULL,
    fecha       date NOT NULL,
    hora        smallint NOT NULL CHECK (hora BETWEEN 0 AND 23)
) PARTITION BY RANGE (fecha);

CREATE TABLE IF NOT EXISTS staging.transferencias (
    transferencia_id bigint NOT NULL,
    llamada_id       bigint NOT NULL,
    centro_origen    varchar(8) NOT NULL,
    centro_destino   varchar(8) NOT NULL,
    inicio           timestamptz NOT NULL,
    fin              timestamptz,
    exitosa          boolean NOT NULL,
    fecha            date NOT NULL,
    hora             smallint NOT NULL CHECK (hora BETWEEN 0 AND 23)
) PARTITION BY RANGE (fecha);
