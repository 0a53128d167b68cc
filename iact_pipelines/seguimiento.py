"""`etl_jobs`: the mirror of Dagster runs (lifecycle, record counts) in the warehouse."""

from __future__ import annotations

import psycopg

_ASEGURAR_JOB = """
INSERT INTO etl_jobs (job_name, run_id, partition_key, status)
VALUES (%(job_name)s, %(run_id)s, %(partition_key)s, 'running')
ON CONFLICT (run_id) DO UPDATE SET run_id = EXCLUDED.run_id
RETURNING id
"""


def asegurar_job(conn: psycopg.Connection, *, run_id: str, job_name: str, partition_key: str | None) -> int:
    """The etl_jobs id of a run, creating its row if the mirror sensor has not yet: rows that
    point at a job (validation errors) can be written while the run is still going."""
    row = conn.execute(
        _ASEGURAR_JOB, {"job_name": job_name, "run_id": run_id, "partition_key": partition_key}
    ).fetchone()
    return row[0]
