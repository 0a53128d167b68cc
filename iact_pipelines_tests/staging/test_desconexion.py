"""The IVR backend terminated in the middle of an extract: the step is retried and the day
ends exact; the IVR session carries the run's application_name."""

import adbc_driver_manager.dbapi as adbc_dbapi

from iact_pipelines.plataforma import db, resources
from iact_pipelines.staging import assets as staging
from iact_pipelines_tests.staging.ayudas import materializar

FILAS = 150_000  # more than the socket buffers hold: the server is still sending when killed

_FUENTE = """
INSERT INTO ivr.llamadas (llamada_id, centro_id, cliente_id, inicio, fin, resultado)
SELECT g, '19028031', 'C' || (g %% 5000), t, t + interval '30 seconds', 'IVR'
FROM generate_series(1, %s) AS g,
     LATERAL (SELECT timestamptz '2024-03-10 06:00:00+00' + (g %% 86000) * interval '1 second') AS x(t)
"""


def test_an_ivr_disconnect_mid_extract_is_retried_and_exact(ivr_writer, warehouse, instance, urls, monkeypatch):
    ivr_writer.execute(_FUENTE, (FILAS,))
    monkeypatch.setattr(resources, "ESPERA_REINTENTO_S", 0)
    original = adbc_dbapi.Cursor.fetch_record_batch
    terminadas: list[str] = []

    def y_cortar(self):
        lector = original(self)
        if not terminadas:  # the first attempt only: its backend is killed while it streams
            with db.connect(urls.warehouse, autocommit=True) as conn:
                (nombre,) = conn.execute(
                    "SELECT application_name FROM pg_stat_activity WHERE datname = 'ivr' AND state = 'active'"
                    " AND pid <> pg_backend_pid() AND query LIKE '%%ivr%%llamadas%%'"
                ).fetchone()
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'ivr'"
                    " AND application_name = %s",
                    (nombre,),
                )
            terminadas.append(nombre)
        return lector

    monkeypatch.setattr(adbc_dbapi.Cursor, "fetch_record_batch", y_cortar)

    result = materializar(instance, staging.llamadas)

    assert result.success
    assert terminadas == [f"iact run {result.run_id}"]
    tipos = [e.event_type_value for e in result.all_events]
    assert tipos.count("STEP_UP_FOR_RETRY") == 1
    assert warehouse.execute("SELECT count(*) FROM staging.llamadas").fetchone() == (FILAS,)
