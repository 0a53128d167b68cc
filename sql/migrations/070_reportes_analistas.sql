-- Analyst reports beyond the seed (formulas in docs/METRICAS.md):
-- quarter-hour intervals per center, repeat callers per center, the callback worklist, and the
-- views that roll the intervals up to the hour and the day. Idempotent.
--
-- Every row records the settings it was computed with (T, S, H), so a change of
-- IACT_UMBRAL_NIVEL_SERVICIO / IACT_ABANDONO_CORTO / IACT_VENTANA_RELLAMADA_HORAS never mixes
-- conventions silently: a day is written whole by one run (one set of values), and the views
-- group by the values, so a rollup never adds rows of two conventions together.

CREATE TABLE IF NOT EXISTS reportes_intervalos (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fecha                     date NOT NULL,
    intervalo                 time NOT NULL
                              CHECK (extract(minute FROM intervalo)::int % 15 = 0 AND extract(second FROM intervalo) = 0),
    centro_id                 varchar(8) NOT NULL CHECK (centro_id ~ '^[0-9]{8}$'),
    ofrecidas                 integer NOT NULL DEFAULT 0 CHECK (ofrecidas >= 0),
    solo_ivr                  integer NOT NULL DEFAULT 0 CHECK (solo_ivr >= 0),
    atendidas                 integer NOT NULL DEFAULT 0 CHECK (atendidas >= 0),
    abandonadas               integer NOT NULL DEFAULT 0 CHECK (abandonadas >= 0),
    abandonos_cortos          integer NOT NULL DEFAULT 0 CHECK (abandonos_cortos >= 0),
    atendidas_en_umbral       integer NOT NULL DEFAULT 0 CHECK (atendidas_en_umbral >= 0),
    suma_espera_atendidas     numeric(14, 2) NOT NULL DEFAULT 0 CHECK (suma_espera_atendidas >= 0),
    suma_atencion             numeric(14, 2) NOT NULL DEFAULT 0 CHECK (suma_atencion >= 0),
    espera_maxima             numeric(10, 2) NOT NULL DEFAULT 0 CHECK (espera_maxima >= 0),
    tiempo_promedio_espera    numeric(10, 2) NOT NULL DEFAULT 0 CHECK (tiempo_promedio_espera >= 0),
    tiempo_promedio_atencion  numeric(10, 2) NOT NULL DEFAULT 0 CHECK (tiempo_promedio_atencion >= 0),
    nivel_servicio            numeric(5, 2) NOT NULL DEFAULT 0 CHECK (nivel_servicio BETWEEN 0 AND 100),
    nivel_servicio_atendidas  numeric(5, 2) NOT NULL DEFAULT 0 CHECK (nivel_servicio_atendidas BETWEEN 0 AND 100),
    nivel_servicio_sin_cortos numeric(5, 2) NOT NULL DEFAULT 0 CHECK (nivel_servicio_sin_cortos BETWEEN 0 AND 100),
    tasa_abandono             numeric(5, 2) NOT NULL DEFAULT 0 CHECK (tasa_abandono BETWEEN 0 AND 100),
    tasa_abandono_sin_cortos  numeric(5, 2) NOT NULL DEFAULT 0 CHECK (tasa_abandono_sin_cortos BETWEEN 0 AND 100),
    contencion_ivr            numeric(5, 2) NOT NULL DEFAULT 0 CHECK (contencion_ivr BETWEEN 0 AND 100),
    umbral_servicio_s         numeric(10, 2) NOT NULL CHECK (umbral_servicio_s >= 0),
    abandono_corto_s          numeric(10, 2) NOT NULL CHECK (abandono_corto_s >= 0),
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reportes_intervalos_uniq UNIQUE (fecha, intervalo, centro_id),
    -- staging holds only the three contract outcomes
    CHECK (solo_ivr + atendidas + abandonadas = ofrecidas),
    CHECK (abandonos_cortos <= abandonadas),
    CHECK (atendidas_en_umbral <= atendidas),
    CHECK (atendidas > 0 OR (suma_espera_atendidas = 0 AND suma_atencion = 0)),
    CHECK (atendidas + abandonadas > 0 OR espera_maxima = 0)
);

CREATE TABLE IF NOT EXISTS reportes_rellamadas (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fecha                   date NOT NULL,
    centro_id               varchar(8) NOT NULL CHECK (centro_id ~ '^[0-9]{8}$'),
    llamadas_identificadas  integer NOT NULL DEFAULT 0 CHECK (llamadas_identificadas >= 0),
    clientes                integer NOT NULL DEFAULT 0 CHECK (clientes >= 0),
    rellamadas              integer NOT NULL DEFAULT 0 CHECK (rellamadas >= 0),
    clientes_con_rellamada  integer NOT NULL DEFAULT 0 CHECK (clientes_con_rellamada >= 0),
    tasa_rellamada          numeric(5, 2) NOT NULL DEFAULT 0 CHECK (tasa_rellamada BETWEEN 0 AND 100),
    ventana_rellamada_h     integer NOT NULL CHECK (ventana_rellamada_h BETWEEN 1 AND 720),
    horas_historia_cargadas numeric(6, 2) NOT NULL CHECK (horas_historia_cargadas >= 0),
    ventana_completa        boolean NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reportes_rellamadas_uniq UNIQUE (fecha, centro_id),
    CHECK (clientes <= llamadas_identificadas),
    CHECK (rellamadas <= llamadas_identificadas),
    CHECK (clientes_con_rellamada <= clientes AND clientes_con_rellamada <= rellamadas),
    CHECK (horas_historia_cargadas <= ventana_rellamada_h),
    CHECK (ventana_completa = (horas_historia_cargadas = ventana_rellamada_h))
);

CREATE TABLE IF NOT EXISTS lista_devolucion (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fecha                  date NOT NULL,
    cliente_id             varchar(32) NOT NULL CHECK (length(cliente_id) > 0),
    centro_id              varchar(8) NOT NULL CHECK (centro_id ~ '^[0-9]{8}$'),
    ultimo_abandono        timestamptz NOT NULL,
    espera_ultimo_abandono numeric(10, 2) NOT NULL CHECK (espera_ultimo_abandono >= 0),
    abandonos              integer NOT NULL CHECK (abandonos >= 1),
    llamadas               integer NOT NULL,
    zona_horaria           varchar(64) NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT lista_devolucion_uniq UNIQUE (fecha, cliente_id),
    CHECK (llamadas >= abandonos),
    -- the last abandon starts on the row's local day
    CHECK ((ultimo_abandono AT TIME ZONE zona_horaria)::date = fecha)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['reportes_intervalos', 'reportes_rellamadas', 'lista_devolucion']
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I_updated_at ON %I', t, t);
        EXECUTE format('CREATE TRIGGER %I_updated_at BEFORE UPDATE ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION set_updated_at()', t, t);
    END LOOP;
END $$;

-- Rollups of reportes_intervalos. Additive columns are summed; averages and rates are
-- recomputed from the sums with the report's own formulas (reportes/metricas.py: a ratio is
-- round(100.0 * n / d, 2), an average round(sum / n, 2), 0 when the denominator is 0), never
-- averaged from the rounded slot values. Grouped by the settings the rows were computed with.
CREATE OR REPLACE FUNCTION iact_porcentaje(n numeric, d numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN d = 0 THEN 0 ELSE round(100.0 * n / d, 2) END $$;
CREATE OR REPLACE FUNCTION iact_promedio(s numeric, n numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN n = 0 THEN 0 ELSE round(s / n, 2) END $$;

CREATE OR REPLACE VIEW v_intervalos_sumas AS
SELECT fecha, extract(hour FROM intervalo)::int AS hora, centro_id, umbral_servicio_s, abandono_corto_s,
       ofrecidas, solo_ivr, atendidas, abandonadas, abandonos_cortos, atendidas_en_umbral,
       suma_espera_atendidas, suma_atencion, espera_maxima
FROM reportes_intervalos;

CREATE OR REPLACE FUNCTION iact_metricas_intervalos(
    ofrecidas bigint, solo_ivr bigint, atendidas bigint, abandonadas bigint, abandonos_cortos bigint,
    atendidas_en_umbral bigint, suma_espera_atendidas numeric, suma_atencion numeric
) RETURNS TABLE (
    tiempo_promedio_espera numeric, tiempo_promedio_atencion numeric, nivel_servicio numeric,
    nivel_servicio_atendidas numeric, nivel_servicio_sin_cortos numeric, tasa_abandono numeric,
    tasa_abandono_sin_cortos numeric, contencion_ivr numeric
) LANGUAGE sql IMMUTABLE AS $$
    SELECT iact_promedio(suma_espera_atendidas, atendidas),
           iact_promedio(suma_atencion, atendidas),
           iact_porcentaje(atendidas_en_umbral, atendidas + abandonadas),
           iact_porcentaje(atendidas_en_umbral, atendidas),
           iact_porcentaje(atendidas_en_umbral, atendidas + abandonadas - abandonos_cortos),
           iact_porcentaje(abandonadas, atendidas + abandonadas),
           iact_porcentaje(abandonadas - abandonos_cortos, atendidas + abandonadas - abandonos_cortos),
           iact_porcentaje(solo_ivr, ofrecidas)
$$;

-- Per local hour and center.
CREATE OR REPLACE VIEW v_intervalos_hora_centro AS
SELECT s.*, m.*
FROM (
    SELECT fecha, hora, centro_id, umbral_servicio_s, abandono_corto_s,
           sum(ofrecidas) AS ofrecidas, sum(solo_ivr) AS solo_ivr, sum(atendidas) AS atendidas,
           sum(abandonadas) AS abandonadas, sum(abandonos_cortos) AS abandonos_cortos,
           sum(atendidas_en_umbral) AS atendidas_en_umbral, sum(suma_espera_atendidas) AS suma_espera_atendidas,
           sum(suma_atencion) AS suma_atencion, max(espera_maxima) AS espera_maxima
    FROM v_intervalos_sumas
    GROUP BY fecha, hora, centro_id, umbral_servicio_s, abandono_corto_s
) AS s
CROSS JOIN LATERAL iact_metricas_intervalos(s.ofrecidas, s.solo_ivr, s.atendidas, s.abandonadas,
    s.abandonos_cortos, s.atendidas_en_umbral, s.suma_espera_atendidas, s.suma_atencion) AS m;

-- Per local hour, all centers (equals reportes_llamadas_dia on the columns they share).
CREATE OR REPLACE VIEW v_intervalos_hora AS
SELECT s.*, m.*
FROM (
    SELECT fecha, hora, umbral_servicio_s, abandono_corto_s,
           sum(ofrecidas) AS ofrecidas, sum(solo_ivr) AS solo_ivr, sum(atendidas) AS atendidas,
           sum(abandonadas) AS abandonadas, sum(abandonos_cortos) AS abandonos_cortos,
           sum(atendidas_en_umbral) AS atendidas_en_umbral, sum(suma_espera_atendidas) AS suma_espera_atendidas,
           sum(suma_atencion) AS suma_atencion, max(espera_maxima) AS espera_maxima
    FROM v_intervalos_sumas
    GROUP BY fecha, hora, umbral_servicio_s, abandono_corto_s
) AS s
CROSS JOIN LATERAL iact_metricas_intervalos(s.ofrecidas, s.solo_ivr, s.atendidas, s.abandonadas,
    s.abandonos_cortos, s.atendidas_en_umbral, s.suma_espera_atendidas, s.suma_atencion) AS m;

-- Per local day and center.
CREATE OR REPLACE VIEW v_intervalos_dia_centro AS
SELECT s.*, m.*
FROM (
    SELECT fecha, centro_id, umbral_servicio_s, abandono_corto_s,
           sum(ofrecidas) AS ofrecidas, sum(solo_ivr) AS solo_ivr, sum(atendidas) AS atendidas,
           sum(abandonadas) AS abandonadas, sum(abandonos_cortos) AS abandonos_cortos,
           sum(atendidas_en_umbral) AS atendidas_en_umbral, sum(suma_espera_atendidas) AS suma_espera_atendidas,
           sum(suma_atencion) AS suma_atencion, max(espera_maxima) AS espera_maxima
    FROM v_intervalos_sumas
    GROUP BY fecha, centro_id, umbral_servicio_s, abandono_corto_s
) AS s
CROSS JOIN LATERAL iact_metricas_intervalos(s.ofrecidas, s.solo_ivr, s.atendidas, s.abandonadas,
    s.abandonos_cortos, s.atendidas_en_umbral, s.suma_espera_atendidas, s.suma_atencion) AS m;

-- Per local day, all centers.
CREATE OR REPLACE VIEW v_intervalos_dia AS
SELECT s.*, m.*
FROM (
    SELECT fecha, umbral_servicio_s, abandono_corto_s,
           sum(ofrecidas) AS ofrecidas, sum(solo_ivr) AS solo_ivr, sum(atendidas) AS atendidas,
           sum(abandonadas) AS abandonadas, sum(abandonos_cortos) AS abandonos_cortos,
           sum(atendidas_en_umbral) AS atendidas_en_umbral, sum(suma_espera_atendidas) AS suma_espera_atendidas,
           sum(suma_atencion) AS suma_atencion, max(espera_maxima) AS espera_maxima
    FROM v_intervalos_sumas
    GROUP BY fecha, umbral_servicio_s, abandono_corto_s
) AS s
CROSS JOIN LATERAL iact_metricas_intervalos(s.ofrecidas, s.solo_ivr, s.atendidas, s.abandonadas,
    s.abandonos_cortos, s.atendidas_en_umbral, s.suma_espera_atendidas, s.suma_atencion) AS m;

-- The callback worklist of today's and yesterday's local days (the reporting time zone each row
-- was computed in), most recent abandon first.
CREATE OR REPLACE VIEW v_lista_devolucion_reciente AS
SELECT fecha, cliente_id, centro_id, ultimo_abandono, espera_ultimo_abandono, abandonos, llamadas,
       ultimo_abandono AT TIME ZONE zona_horaria AS ultimo_abandono_local
FROM lista_devolucion
WHERE fecha >= (now() AT TIME ZONE zona_horaria)::date - 1
  AND fecha <= (now() AT TIME ZONE zona_horaria)::date
ORDER BY fecha DESC, ultimo_abandono DESC;

-- lista_devolucion is a report table whose name does not start with reportes_: granted by name.
GRANT SELECT ON lista_devolucion TO iact_analista;
SELECT conceder_lectura_analistas();
