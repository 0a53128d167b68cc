"""The etl_jobs mirror on a real Dagster instance and the real warehouse: lifecycle, times,
record counts and errors of successful, failed and cancelled runs, exactly once."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.run_coordinator import SubmitRunContext

from iact_pipelines.monitoreo import seguimiento, sensors
from iact_pipelines.plataforma import db, ejecuciones
from iact_pipelines.plataforma.resources import build_resources

DIARIA = dg.DailyPartitionsDefinition(start_date="2024-01-01")


@dg.asset(key=["staging", "llamadas"], partitions_def=DIARIA)
def llamadas():
    """Extracts 100, loads 95, rejects 5."""
    return dg.MaterializeResult(
        metadata={
            "registros_extraidos": 100,
            "registros_transformados": 100,
            "registros_cargados": 95,
            "registros_fallidos": 5,
            "tabla": "staging.llamadas",
        }
    )


@dg.asset(key=["staging", "menu_eventos"], partitions_def=DIARIA)
def menu_eventos():
    """Extracts 40, loads 38, rejects 2."""
    return dg.MaterializeResult(
        metadata={
            "registros_extraidos": 40,
            "registros_transformados": 40,
            "registros_cargados": 38,
            "registros_fallidos": 2,
        }
    )


@dg.asset(key=["staging", "transferencias"], partitions_def=DIARIA)
def transferencias_rotas():
    """Fails after nothing was loaded."""
    raise RuntimeError("could not connect to server: Connection refused\n\tIs the server running?")


@dg.op
def nada():
    pass


@dg.job
def purga():
    nada()


@pytest.fixture(autouse=True)
def sin_margen(monkeypatch):
    monkeypatch.setattr(sensors, "MARGEN_S", 0.0)


def encolar(instance, ubicacion="iact_pipelines", tags=None):
    """A run of `purga` submitted the way the UI does: from a code location, into the queue."""
    origen = RemoteJobOrigin(RemoteRepositoryOrigin(RegisteredCodeLocationOrigin(ubicacion), "__repository__"), "purga")
    run = instance.create_run_for_job(purga, tags=tags, remote_job_origin=origen)
    instance.run_coordinator.submit_run(SubmitRunContext(run, workspace=None))  # QueuedRunCoordinator
    return run


def espejar(instance, cursor=None):
    contexto = dg.build_sensor_context(instance=instance, cursor=cursor, resources=build_resources())
    return sensors.espejo_etl_jobs(contexto).cursor


def filas(warehouse):
    return warehouse.execute(
        """
        SELECT run_id, job_name, partition_key, status, started_at, completed_at, execution_time_seconds,
               records_extracted, records_transformed, records_loaded, records_failed,
               error_message, error_details, metadata
        FROM etl_jobs ORDER BY id
        """
    ).fetchall()


def test_corrida_exitosa_con_conteos_de_la_metadata(instance, warehouse):
    resultado = dg.materialize([llamadas, menu_eventos], instance=instance, partition_key="2024-03-05")
    cursor = espejar(instance)
    (fila,) = filas(warehouse)
    run_id, job, particion, estado, inicio, fin, segundos, ext, trans, carg, fall, error, detalles, meta = fila
    registro = instance.get_run_record_by_id(resultado.run_id)
    # an ad-hoc or UI selection is named by what it built, not by Dagster's hidden job
    nombre = "activos: staging/llamadas, staging/menu_eventos"
    assert (run_id, job, particion, estado) == (resultado.run_id, nombre, "2024-03-05", "completed")
    assert inicio.timestamp() == pytest.approx(registro.start_time, abs=1e-3)
    assert fin.timestamp() == pytest.approx(registro.end_time, abs=1e-3)
    assert segundos == pytest.approx(registro.end_time - registro.start_time, abs=1e-3)
    assert (ext, trans, carg, fall) == (140, 140, 133, 7)
    assert (error, detalles) == (None, {})
    assert meta["run_id"] == resultado.run_id
    assert meta["particion"] == "2024-03-05"
    assert meta["estado_dagster"] == "SUCCESS"
    assert meta["tags"]["dagster/partition"] == "2024-03-05"

    # Re-evaluating, or re-doing the tick with its old cursor, changes nothing.
    assert espejar(instance, cursor) == cursor
    espejar(instance, None)
    assert filas(warehouse) == [fila]


def test_corrida_de_un_rango_cuenta_cada_activo_una_vez(instance, warehouse):
    """A single-run backfill records one materialization per day with the range's counts."""
    rango = dg.materialize(
        [llamadas],
        instance=instance,
        tags={"dagster/asset_partition_range_start": "2024-03-01", "dagster/asset_partition_range_end": "2024-03-03"},
    )
    assert len(rango.asset_materializations_for_node("staging__llamadas")) == 3
    espejar(instance)
    (fila,) = filas(warehouse)
    assert fila[7:11] == (100, 100, 95, 5)


def test_corrida_fallida_con_su_error(instance, warehouse):
    resultado = dg.materialize(
        [llamadas, transferencias_rotas], instance=instance, partition_key="2024-03-06", raise_on_error=False
    )
    espejar(instance)
    (fila,) = filas(warehouse)
    assert fila[3] == "failed"
    assert fila[4] is not None and fila[5] is not None and fila[6] >= 0
    assert fila[7:11] == (100, 100, 95, 5)  # the asset that did materialize still counts
    assert fila[11] == "RuntimeError: could not connect to server: Connection refused"
    detalles = fila[12]
    assert detalles["motivo"] == "STEP_FAILURE"
    assert detalles["pasos_fallidos"] == [
        {
            "paso": "staging__transferencias",
            "clase": "RuntimeError",
            "error": "RuntimeError: could not connect to server: Connection refused",
            "severidad": None,
        }
    ]
    assert detalles["activos_sin_materializar"] == ["staging/transferencias"]
    assert "Is the server running?" in detalles["traza"]
    assert fila[13]["run_id"] == resultado.run_id


def test_corrida_encolada_y_cancelada(instance, warehouse):
    run = encolar(instance, tags={"origen": "prueba"})
    cursor = espejar(instance)
    assert [(f[0], f[1], f[3], f[4], f[5]) for f in filas(warehouse)] == [(run.run_id, "purga", "pending", None, None)]

    assert instance.run_coordinator.cancel_run(run.run_id)
    espejar(instance, cursor)
    (fila,) = filas(warehouse)
    assert fila[3] == "cancelled"
    assert fila[4] is None  # never started
    assert fila[5] is not None
    assert fila[6] is None
    assert fila[11] == "This run has been marked as canceled from outside the execution context."
    assert fila[13]["tags"]["origen"] == "prueba"


def test_ciclo_completo_sin_retrocesos(instance, warehouse):
    run = encolar(instance)
    c1 = espejar(instance)
    assert [f[3] for f in filas(warehouse)] == ["pending"]

    instance.report_dagster_event(
        DagsterEvent(event_type_value=DagsterEventType.RUN_START.value, job_name="purga"), run_id=run.run_id
    )
    c2 = espejar(instance, c1)
    (fila,) = filas(warehouse)
    assert fila[3] == "running" and fila[4] is not None and fila[5] is None

    instance.report_run_failed(instance.get_run_by_id(run.run_id), message="worker lost")
    c3 = espejar(instance, c2)
    (fila,) = filas(warehouse)
    assert fila[3] == "failed" and fila[11] == "worker lost" and fila[5] is not None

    # Old cursors (crashes before the cursor was stored) re-read older events: no regression.
    for viejo in (None, c1, c2):
        espejar(instance, viejo)
    assert filas(warehouse) == [fila]
    # Nor from the staging helper, which may create the row during the run.
    with db.connect(db.resolve_urls().warehouse) as conn:
        ejecuciones.asegurar_job(conn, run_id=run.run_id, job_name="purga", partition_key=None)
    assert filas(warehouse) == [fila]
    assert espejar(instance, c3) == c3


def test_errores_de_validacion_ligados_al_job(instance, warehouse):
    # The staging asset records its rejected rows while running, before the mirror saw the run.
    @dg.asset(key=["staging", "llamadas"], partitions_def=DIARIA, required_resource_keys={"warehouse"})
    def llamadas_con_rechazos(context):
        """Writes one rejected row linked to its run's etl_jobs row."""
        with context.resources.warehouse.connect() as conn:
            job_id = ejecuciones.asegurar_job(
                conn, run_id=context.run_id, job_name=context.job_name, partition_key=context.partition_key
            )
            conn.execute(
                """
                INSERT INTO etl_validation_errors (job_id, run_id, asset_key, partition_key, record_id,
                    error_type, error_message, severity)
                VALUES (%s, %s, 'staging/llamadas', %s, '7', 'orden_tiempos', 'fin < inicio', 'error')
                """,
                (job_id, context.run_id, context.partition_key),
            )
            conn.commit()
        return dg.MaterializeResult(
            metadata={"registros_extraidos": 3, "registros_cargados": 2, "registros_fallidos": 1}
        )

    resultado = dg.materialize(
        [llamadas_con_rechazos], instance=instance, partition_key="2024-03-07", resources=build_resources()
    )
    espejar(instance)
    (fila,) = filas(warehouse)
    assert fila[3] == "completed" and fila[7] == 3 and fila[9] == 2 and fila[10] == 1
    enlazados = warehouse.execute(
        """
        SELECT j.run_id, j.status, e.record_id FROM etl_validation_errors e JOIN etl_jobs j ON j.id = e.job_id
        """
    ).fetchall()
    assert enlazados == [(resultado.run_id, "completed", "7")]


def test_muchas_corridas_en_un_tick(instance, warehouse, monkeypatch):
    monkeypatch.setattr(sensors, "LOTE", 2)  # three queries' worth per event type
    ids = [dg.materialize([llamadas], instance=instance, partition_key=f"2024-04-{d:02d}").run_id for d in range(1, 6)]
    espejar(instance)
    assert [(f[0], f[3], f[7]) for f in filas(warehouse)] == [(i, "completed", 100) for i in ids]


def test_vistas_para_analistas(instance, warehouse):
    dg.materialize([llamadas], instance=instance, partition_key="2024-03-05")
    dg.materialize([llamadas, menu_eventos], instance=instance, partition_key="2024-03-06")
    fallida = dg.materialize(
        [transferencias_rotas], instance=instance, partition_key="2024-03-06", raise_on_error=False
    )
    espejar(instance)
    (job_id,) = warehouse.execute("SELECT id FROM etl_jobs WHERE run_id = %s", (fallida.run_id,)).fetchone()
    warehouse.execute(
        """
        INSERT INTO etl_validation_errors (job_id, run_id, asset_key, partition_key, record_id, error_type,
                                           error_message, severity)
        VALUES (%(j)s, %(r)s, 'staging/transferencias', '2024-03-06', '1', 'orden_tiempos', 'x', 'error'),
               (%(j)s, %(r)s, 'staging/transferencias', '2024-03-06', '2', 'orden_tiempos', 'x', 'error'),
               (%(j)s, %(r)s, 'staging/transferencias', '2024-03-05', '3', 'orden_tiempos', 'x', 'error'),
               (%(j)s, %(r)s, 'staging/transferencias', '2024-03-06', NULL, 'columna_faltante', 'x', 'critical')
        """,
        {"j": job_id, "r": fallida.run_id},
    )
    resumen = warehouse.execute(
        """
        SELECT job_name, status, corridas, registros_extraidos, registros_cargados, registros_fallidos,
               registros_de_reportes
        FROM v_etl_resumen ORDER BY status, job_name
        """
    ).fetchall()
    assert resumen == [
        ("activos: staging/llamadas", "completed", 1, 100, 95, 5, 0),
        ("activos: staging/llamadas, staging/menu_eventos", "completed", 1, 140, 133, 7, 0),
        ("activos: staging/transferencias", "failed", 1, 0, 0, 0, 0),
    ]
    fallos = warehouse.execute(
        "SELECT run_id, partition_key, error_message, errores_validacion, errores_criticos FROM v_etl_fallos_recientes"
    ).fetchall()
    assert fallos == [
        (fallida.run_id, "2024-03-06", "RuntimeError: could not connect to server: Connection refused", 4, 1)
    ]
    severidades = warehouse.execute(
        """
        SELECT severity, asset_key, error_type, errores, particiones, corridas
        FROM v_etl_errores_por_severidad ORDER BY severity, error_type
        """
    ).fetchall()
    assert severidades == [
        ("critical", "staging/transferencias", "columna_faltante", 1, 1, 1),
        ("error", "staging/transferencias", "orden_tiempos", 3, 2, 1),
    ]


def test_particion_de_un_rango_en_una_corrida():
    assert seguimiento.particion_de({"dagster/partition": "2024-03-05"}) == "2024-03-05"
    assert (
        seguimiento.particion_de(
            {"dagster/asset_partition_range_start": "2024-01-01", "dagster/asset_partition_range_end": "2024-01-31"}
        )
        == "2024-01-01...2024-01-31"
    )
    assert seguimiento.particion_de({}) is None


def test_solo_corridas_de_esta_ubicacion_o_en_proceso(instance, warehouse):
    propia = encolar(instance, ubicacion="iact_pipelines")
    encolar(instance, ubicacion="otro_proyecto")
    local = dg.materialize([llamadas], instance=instance, partition_key="2024-03-05")
    with db.connect(db.resolve_urls().warehouse) as conn:
        sensors.espejar_runs(instance, conn, None, ubicacion="iact_pipelines")
    assert sorted(f[0] for f in filas(warehouse)) == sorted([propia.run_id, local.run_id])


def test_una_carga_en_curso_no_detiene_el_espejo(instance, warehouse, monkeypatch):
    monkeypatch.setattr(sensors, "ESPERA_BLOQUEO_MS", 200)
    url = db.resolve_urls().warehouse
    primera = dg.materialize([llamadas], instance=instance, partition_key="2024-03-05")
    segunda = dg.materialize([menu_eventos], instance=instance, partition_key="2024-03-05")

    # The staging load of the first run created its row and has not committed yet.
    with db.connect(url) as carga:
        ejecuciones.asegurar_job(carga, run_id=primera.run_id, job_name="x", partition_key="2024-03-05")
        cursor = espejar(instance)
        assert [(f[0], f[3]) for f in filas(warehouse)] == [(segunda.run_id, "completed")]
        carga.commit()
    cursor = espejar(instance, cursor)  # the cursor had stayed before the busy run
    assert sorted((f[0], f[3]) for f in filas(warehouse)) == sorted(
        [(primera.run_id, "completed"), (segunda.run_id, "completed")]
    )

    # A load writing validation errors against an existing row (FK: FOR KEY SHARE) does not
    # block the mirror's update of that row at all.
    with db.connect(url) as carga:
        job_id = ejecuciones.asegurar_job(carga, run_id=primera.run_id, job_name="x", partition_key="2024-03-05")
        carga.execute(
            """
            INSERT INTO etl_validation_errors (job_id, run_id, asset_key, partition_key, error_type, error_message)
            VALUES (%s, %s, 'staging/llamadas', '2024-03-05', 'orden_tiempos', 'x')
            """,
            (job_id, primera.run_id),
        )
        assert espejar(instance, None) == cursor
        carga.rollback()
