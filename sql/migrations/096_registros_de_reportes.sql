-- Rows written into report tables are counted apart from the staging rows a run loaded: the
-- two are different things (a staging day of 20,000 calls gives 24 rows of its daily report).
ALTER TABLE etl_jobs ADD COLUMN IF NOT EXISTS records_reported integer NOT NULL DEFAULT 0;

CREATE OR REPLACE VIEW v_etl_resumen AS
SELECT
    job_name,
    status,
    count(*)                                        AS corridas,
    min(COALESCE(started_at, created_at))           AS primera_corrida,
    max(COALESCE(started_at, created_at))           AS ultima_corrida,
    round(avg(execution_time_seconds)::numeric, 2)  AS tiempo_promedio_segundos,
    round(max(execution_time_seconds)::numeric, 2)  AS tiempo_maximo_segundos,
    sum(records_extracted)::bigint                  AS registros_extraidos,
    sum(records_transformed)::bigint                AS registros_transformados,
    sum(records_loaded)::bigint                     AS registros_cargados,
    sum(records_failed)::bigint                     AS registros_fallidos,
    sum(records_reported)::bigint                   AS registros_de_reportes
FROM etl_jobs
GROUP BY job_name, status;
