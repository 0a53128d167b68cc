"""A run's row in `etl_jobs`, as the writers of rows that point at it need it.

The staging load writes its validation-error rows while its run is still going, before the
mirror sensor (`monitoreo`) has seen the run: it takes the run's job id here, so that staging
depends on the platform, not on monitoring. The mirror then completes the same row.
"""

from __future__ import annotations

import psycopg

# A Failure raised with this metadata (the staging assets' critical validation) makes the
# alert critical; so does a failed blocking check.
CLAVE_SEVERIDAD = "severidad"
# A report step that leaves out a day its staging check held says so in these words, and the
# alert that reads the failure tells a held day from other failures by them.
NO_RECONSTRUIDO = "sin reconstruir (se conservan las filas anteriores)"
# A staging step whose IVR database does not exist says so in these words (a critical alert).
SIN_BASE_IVR = "no existe la base de datos del IVR"

# DO NOTHING, then a plain SELECT: no row lock is taken on an existing row, so a staging load
# that calls this inside its (long) transaction does not block the mirror sensor's updates of
# the same row (inserting etl_validation_errors only takes a FOR KEY SHARE lock on it, which
# an update of non-key columns does not conflict with). Two statements, not one: in READ
# COMMITTED a second statement sees a row another transaction committed meanwhile.
_CREAR_JOB = """
INSERT INTO etl_jobs (job_name, run_id, partition_key, status, started_at)
VALUES (%(job_name)s, %(run_id)s, %(partition_key)s, 'running', now())
ON CONFLICT (run_id) DO NOTHING
RETURNING id
"""
_ID_JOB = "SELECT id FROM etl_jobs WHERE run_id = %(run_id)s"


def asegurar_job(conn: psycopg.Connection, *, run_id: str, job_name: str, partition_key: str | None) -> int:
    """The etl_jobs id of a run, creating its row if the mirror sensor has not yet: rows that
    point at a job (validation errors) can be written while the run is still going."""
    datos = {"job_name": job_name, "run_id": run_id, "partition_key": partition_key}
    row = conn.execute(_CREAR_JOB, datos).fetchone() or conn.execute(_ID_JOB, datos).fetchone()
    return row[0]
