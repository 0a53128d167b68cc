-- Staffing and service-level targets per center and quarter hour (docs/DIMENSIONAMIENTO.md):
-- the per-center targets admins set, the Erlang C staffing of each interval, the daily verdict,
-- the wait distributions, and the same-weekday comparisons. Idempotent.
--
-- Every row records the target X, the threshold T (and the absenteeism s, the risk margin, the
-- wait limits) it was computed with: a change of setting never mixes conventions silently.

-- Per-center targets (`iact objetivos`): NULL keeps the setting (IACT_OBJETIVO_NIVEL_SERVICIO,
-- IACT_UMBRAL_NIVEL_SERVICIO) for that value.
CREATE TABLE IF NOT EXISTS objetivos_centro (
    centro_id      varchar(8) PRIMARY KEY CHECK (centro_id ~ '^[0-9]{8}$'),
    objetivo       numeric(5, 2) CHECK (objetivo BETWEEN 0 AND 99.99),
    umbral_s       numeric(10, 2) CHECK (umbral_s BETWEEN 0 AND 86400),
    actualizado_por varchar(150) NOT NULL DEFAULT current_user,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (objetivo IS NOT NULL OR umbral_s IS NOT NULL)
);

CREATE TABLE IF NOT EXISTS reportes_dimensionamiento (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fecha                   date NOT NULL,
    intervalo               time NOT NULL
                            CHECK (extract(minute FROM intervalo)::int % 15 = 0 AND extract(second FROM intervalo) = 0),
    centro_id               varchar(8) NOT NULL CHECK (centro_id ~ '^[0-9]{8}$'),
    ofrecidas_atendibles    integer NOT NULL CHECK (ofrecidas_atendibles >= 0),
    tma_s                   numeric(10, 2) NOT NULL CHECK (tma_s >= 0),
    tma_del_dia             boolean NOT NULL,
    carga_erlangs           numeric(12, 2) NOT NULL CHECK (carga_erlangs >= 0),
    carga_atendida_erlangs  numeric(12, 2) NOT NULL CHECK (carga_atendida_erlangs >= 0),
    agentes_requeridos      integer NOT NULL CHECK (agentes_requeridos >= 0),
    ocupacion               numeric(5, 2) NOT NULL CHECK (ocupacion BETWEEN 0 AND 100),
    nivel_servicio_esperado numeric(5, 2) NOT NULL CHECK (nivel_servicio_esperado BETWEEN 0 AND 100),
    asa_esperada            numeric(10, 2) NOT NULL CHECK (asa_esperada >= 0),
    agentes_con_ausentismo  integer NOT NULL CHECK (agentes_con_ausentismo >= agentes_requeridos),
    objetivo                numeric(5, 2) NOT NULL CHECK (objetivo BETWEEN 0 AND 100),
    umbral_s                numeric(10, 2) NOT NULL CHECK (umbral_s >= 0),
    ausentismo              numeric(4, 2) NOT NULL CHECK (ausentismo >= 0 AND ausentismo < 1),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reportes_dimensionamiento_uniq UNIQUE (fecha, intervalo, centro_id),
    -- N > A: a queue staffed at or below its load never empties
    CHECK (agentes_requeridos = 0 OR agentes_requeridos > carga_erlangs - 0.005)
);

CREATE TABLE IF NOT EXISTS reportes_cumplimiento (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fecha                    date NOT NULL,
    centro_id                varchar(8) NOT NULL CHECK (centro_id ~ '^[0-9]{8}$'),
    ofrecidas_atendibles     integer NOT NULL CHECK (ofrecidas_atendibles >= 0),
    atendidas_en_umbral      integer NOT NULL CHECK (atendidas_en_umbral >= 0),
    nivel_servicio           numeric(5, 2) NOT NULL CHECK (nivel_servicio BETWEEN 0 AND 100),
    objetivo                 numeric(5, 2) NOT NULL CHECK (objetivo BETWEEN 0 AND 100),
    umbral_s                 numeric(10, 2) NOT NULL CHECK (umbral_s >= 0),
    margen_en_riesgo         numeric(5, 2) NOT NULL CHECK (margen_en_riesgo BETWEEN 0 AND 100),
    cumple                   boolean,
    estado                   varchar(10) CHECK (estado IN ('cumple', 'en_riesgo', 'incumple')),
    intervalos_bajo_objetivo integer NOT NULL CHECK (intervalos_bajo_objetivo BETWEEN 0 AND 100),
    peor_racha               integer NOT NULL CHECK (peor_racha BETWEEN 0 AND 100),
    peor_racha_inicio        time,
    agentes_pico             integer NOT NULL CHECK (agentes_pico >= 0),
    horas_agente             numeric(10, 2) NOT NULL CHECK (horas_agente >= 0),
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reportes_cumplimiento_uniq UNIQUE (fecha, centro_id),
    CHECK (atendidas_en_umbral <= ofrecidas_atendibles),
    CHECK ((cumple IS NULL) = (ofrecidas_atendibles = 0)),
    CHECK ((estado IS NULL) = (cumple IS NULL) AND (cumple IS DISTINCT FROM true OR estado = 'cumple')),
    CHECK (peor_racha <= intervalos_bajo_objetivo AND (peor_racha = 0) = (peor_racha_inicio IS NULL))
);

CREATE TABLE IF NOT EXISTS reportes_esperas (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fecha                date NOT NULL,
    centro_id            varchar(8) NOT NULL CHECK (centro_id ~ '^[0-9]{8}$'),
    resultado            varchar(12) NOT NULL CHECK (resultado IN ('ATENDIDA', 'ABANDONADA')),
    tramo                varchar(20) NOT NULL,
    orden                smallint NOT NULL CHECK (orden >= 1),
    desde_s              numeric(10, 2) NOT NULL CHECK (desde_s >= 0),
    hasta_s              numeric(10, 2) CHECK (hasta_s > desde_s),
    llamadas             integer NOT NULL CHECK (llamadas >= 0),
    porcentaje_acumulado numeric(5, 2) NOT NULL CHECK (porcentaje_acumulado BETWEEN 0 AND 100),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reportes_esperas_uniq UNIQUE (fecha, centro_id, resultado, tramo)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['reportes_dimensionamiento', 'reportes_cumplimiento', 'reportes_esperas']
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I_updated_at ON %I', t, t);
        EXECUTE format('CREATE TRIGGER %I_updated_at BEFORE UPDATE ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION set_updated_at()', t, t);
    END LOOP;
END $$;

-- The median of the values that exist (NULL: that day was not built), 2 decimals.
CREATE OR REPLACE FUNCTION iact_mediana(valores numeric[]) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY v)::numeric, 2)
    FROM unnest(valores) AS v WHERE v IS NOT NULL
$$;

-- Each quarter hour and center next to the same weekday 7, 14, 21 and 28 days earlier: their
-- values (NULL where that day was not built), their median and the difference from it.
CREATE OR REPLACE VIEW v_comparacion_semanal AS
WITH base AS (
    SELECT i.fecha, i.intervalo, i.centro_id, i.ofrecidas, i.nivel_servicio, i.tasa_abandono,
           ARRAY[p7.ofrecidas, p14.ofrecidas, p21.ofrecidas, p28.ofrecidas]::numeric[] AS ofr,
           ARRAY[p7.nivel_servicio, p14.nivel_servicio, p21.nivel_servicio, p28.nivel_servicio] AS ns,
           ARRAY[p7.tasa_abandono, p14.tasa_abandono, p21.tasa_abandono, p28.tasa_abandono] AS ab
    FROM reportes_intervalos AS i
    LEFT JOIN reportes_intervalos AS p7
        ON p7.fecha = i.fecha - 7 AND p7.intervalo = i.intervalo AND p7.centro_id = i.centro_id
    LEFT JOIN reportes_intervalos AS p14
        ON p14.fecha = i.fecha - 14 AND p14.intervalo = i.intervalo AND p14.centro_id = i.centro_id
    LEFT JOIN reportes_intervalos AS p21
        ON p21.fecha = i.fecha - 21 AND p21.intervalo = i.intervalo AND p21.centro_id = i.centro_id
    LEFT JOIN reportes_intervalos AS p28
        ON p28.fecha = i.fecha - 28 AND p28.intervalo = i.intervalo AND p28.centro_id = i.centro_id
)
SELECT fecha, intervalo, centro_id,
       ofrecidas, ofr[1]::integer AS ofrecidas_7, ofr[2]::integer AS ofrecidas_14,
       ofr[3]::integer AS ofrecidas_21, ofr[4]::integer AS ofrecidas_28,
       iact_mediana(ofr) AS ofrecidas_mediana, ofrecidas - iact_mediana(ofr) AS ofrecidas_dif,
       nivel_servicio, ns[1] AS nivel_servicio_7, ns[2] AS nivel_servicio_14,
       ns[3] AS nivel_servicio_21, ns[4] AS nivel_servicio_28,
       iact_mediana(ns) AS nivel_servicio_mediana, nivel_servicio - iact_mediana(ns) AS nivel_servicio_dif,
       tasa_abandono, ab[1] AS tasa_abandono_7, ab[2] AS tasa_abandono_14,
       ab[3] AS tasa_abandono_21, ab[4] AS tasa_abandono_28,
       iact_mediana(ab) AS tasa_abandono_mediana, tasa_abandono - iact_mediana(ab) AS tasa_abandono_dif
FROM base;

-- Per ISO week and center: totals, service level, abandonment and the busiest day.
CREATE OR REPLACE VIEW v_semanas AS
WITH dias AS (
    SELECT fecha, centro_id, sum(ofrecidas) AS ofrecidas, sum(atendidas) AS atendidas,
           sum(abandonadas) AS abandonadas, sum(atendidas_en_umbral) AS atendidas_en_umbral
    FROM reportes_intervalos
    GROUP BY fecha, centro_id
)
SELECT extract(isoyear FROM fecha)::int AS anio_iso, extract(week FROM fecha)::int AS semana_iso,
       centro_id, min(fecha) AS desde, max(fecha) AS hasta, count(*)::int AS dias,
       sum(ofrecidas)::bigint AS ofrecidas, sum(atendidas)::bigint AS atendidas,
       sum(abandonadas)::bigint AS abandonadas, sum(atendidas_en_umbral)::bigint AS atendidas_en_umbral,
       iact_porcentaje(sum(atendidas_en_umbral), sum(atendidas) + sum(abandonadas)) AS nivel_servicio,
       iact_porcentaje(sum(abandonadas), sum(atendidas) + sum(abandonadas)) AS tasa_abandono,
       (array_agg(fecha ORDER BY ofrecidas DESC, fecha))[1] AS dia_mas_ocupado,
       (ARRAY['lunes', 'martes', 'miércoles', 'jueves', 'viernes', 'sábado', 'domingo'])
           [extract(isodow FROM (array_agg(fecha ORDER BY ofrecidas DESC, fecha))[1])::int] AS dia_semana_mas_ocupado,
       max(ofrecidas)::integer AS ofrecidas_dia_mas_ocupado
FROM dias
GROUP BY 1, 2, centro_id;

-- Next week's staffing plan: per weekday, quarter hour and center, the median of
-- agentes_requeridos over the last four days of that weekday that were built.
CREATE OR REPLACE VIEW v_plan_semana_tipo AS
WITH dias AS (
    SELECT centro_id, fecha, extract(isodow FROM fecha)::int AS dia_semana,
           row_number() OVER (PARTITION BY centro_id, extract(isodow FROM fecha) ORDER BY fecha DESC) AS reciente
    FROM (SELECT DISTINCT centro_id, fecha FROM reportes_dimensionamiento) AS construidos
)
SELECT d.dia_semana,
       (ARRAY['lunes', 'martes', 'miércoles', 'jueves', 'viernes', 'sábado', 'domingo'])[d.dia_semana] AS nombre_dia,
       r.intervalo, r.centro_id, count(*)::int AS dias, min(r.fecha) AS desde, max(r.fecha) AS hasta,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.agentes_requeridos)::numeric, 2) AS agentes_mediana,
       ceil(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.agentes_requeridos))::int AS agentes_plan,
       ceil(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.agentes_con_ausentismo))::int AS agentes_con_ausentismo_plan
FROM dias AS d
JOIN reportes_dimensionamiento AS r ON r.centro_id = d.centro_id AND r.fecha = d.fecha
WHERE d.reciente <= 4
GROUP BY d.dia_semana, r.intervalo, r.centro_id;

-- objetivos_centro is configuration analysts read too (the targets the rows were built with).
GRANT SELECT ON objetivos_centro TO iact_analista;
SELECT conceder_lectura_analistas();
