-- Analyst views over the ETL tracking tables (the seed's /etl/jobs/summary,
-- /etl/jobs/recent_failures and /etl/errors/by_severity), for plain SQL.
-- Idempotent: CREATE OR REPLACE VIEW.

-- Runs per job and status, with their record counts and timing.
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
    sum(records_failed)::bigint                     AS registros_fallidos
FROM etl_jobs
GROUP BY job_name, status;

-- Failed runs of the last 30 days, newest first, with what failed and how many rows their
-- validation rejected. The run is at <IACT_UI_URL>/runs/<run_id> in the Dagster UI.
CREATE OR REPLACE VIEW v_etl_fallos_recientes AS
SELECT
    j.id                                      AS job_id,
    j.job_name,
    j.partition_key,
    j.run_id,
    j.started_at,
    j.completed_at,
    j.execution_time_seconds,
    j.error_message,
    j.error_details -> 'pasos_fallidos'       AS pasos_fallidos,
    j.error_details -> 'checks_fallidos'      AS checks_fallidos,
    (SELECT count(*) FROM etl_validation_errors e WHERE e.job_id = j.id)                          AS errores_validacion,
    (SELECT count(*) FROM etl_validation_errors e WHERE e.job_id = j.id AND e.severity = 'critical') AS errores_criticos
FROM etl_jobs j
WHERE j.status = 'failed'
  AND COALESCE(j.completed_at, j.created_at) >= now() - interval '30 days'
ORDER BY COALESCE(j.completed_at, j.created_at) DESC;

-- Validation findings by severity, asset and check: how many, in how many partitions and
-- runs, first and last seen.
CREATE OR REPLACE VIEW v_etl_errores_por_severidad AS
SELECT
    severity,
    asset_key,
    error_type,
    count(*)                      AS errores,
    count(DISTINCT partition_key) AS particiones,
    count(DISTINCT run_id)        AS corridas,
    min(created_at)               AS primero,
    max(created_at)               AS ultimo
FROM etl_validation_errors
GROUP BY severity, asset_key, error_type;
