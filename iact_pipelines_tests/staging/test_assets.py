"""Staging assets on the real databases: crafted IVR source rows through the real assets.

Source rows are inserted into ivr.* (tests only; the pipeline reads the source read-only).
America/Mexico_City is UTC-6 all year since 2022, so local midnight of 2024-03-10 is 06:00 UTC.
"""

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime

import dagster as dg
import pytest

from iact_pipelines.fuentes.contrato import FUENTES
from iact_pipelines.plataforma import db, partitions
from iact_pipelines.plataforma.fechas import Ventana
from iact_pipelines.staging import assets as staging
from iact_pipelines.staging import corrida, extraccion
from iact_pipelines_tests.staging.ayudas import (
    DIA,
    GDL,
    NAC,
    PUE,
    chequeo,
    en_staging,
    errores,
    evento,
    insertar,
    llamada,
    local,
    materializar,
    metadatos,
    s,
    transferencia,
)

# ------------------------------------------------------------------------------------------
# Every rule: the crafted row is (or is not) loaded, and its error row names field, check, severity.


def test_llamadas_every_rule(ivr_writer, warehouse, instance, sin_umbral):
    t = local("2024-03-10 10:00:00")
    insertar(
        ivr_writer,
        "llamadas",
        [
            llamada(1),  # valid
            llamada(2, resultado="IVR", cliente=None),  # warning: unidentified
            llamada(3, fin=None),  # NULL fin
            llamada(4, resultado=None, ingreso_cola=None, atencion=None),  # NULL resultado
            llamada(5, resultado="TRANSFERIDA", ingreso_cola=None, atencion=None),
            llamada(6, ingreso_cola=s(t, 10), atencion=s(t, 5)),  # answered before queueing
            llamada(7, ingreso_cola=s(t, -5)),  # queued before the start
            llamada(8, fin=s(t, 25)),  # ended before the answer
            llamada(9, atencion=None),  # ATENDIDA never answered
            llamada(10, resultado="IVR", ingreso_cola=s(t, 5)),  # IVR but queued
            llamada(11, resultado="ABANDONADA", atencion=s(t, 20), fin=s(t, 40)),  # abandoned yet answered
            llamada(12, resultado="IVR", fin=s(t, 25 * 3600)),  # 25 h call
            llamada(13, espera=2 * 3600),  # warning: waited 2 h, answered
            llamada(14, resultado="ABANDONADA", espera=5400),  # warning: waited 1.5 h, hung up
            llamada(15, resultado="ABANDONADA", espera=3600),  # exactly 1 h: fine
            llamada(16, centro=GDL, fin=None),  # other center: never read
            llamada(17, centro=PUE, resultado="IVR", ingreso_cola=None, atencion=None, cliente=None, fin=None),
        ],
    )

    result = materializar(instance, staging.llamadas)

    assert result.success
    assert en_staging(warehouse, "llamadas", "llamada_id") == [1, 2, 13, 14, 15]
    assert errores(warehouse, "staging/llamadas") == {
        2: {("cliente_no_identificado", "cliente_id", "warning")},
        3: {("nulo_requerido", "fin", "error")},
        4: {("nulo_requerido", "resultado", "error")},
        5: {("resultado_desconocido", "resultado", "error")},
        6: {("orden_tiempos", "atencion", "error")},
        7: {("orden_tiempos", "ingreso_cola", "error")},
        8: {("orden_tiempos", "fin", "error")},
        9: {("resultado_inconsistente", "atencion", "error")},
        10: {("resultado_inconsistente", "ingreso_cola", "error")},
        11: {("resultado_inconsistente", "atencion", "error")},
        12: {("duracion_excesiva", "fin", "error")},
        13: {("espera_excesiva", "atencion", "warning")},
        14: {("espera_excesiva", "fin", "warning")},
        17: {("nulo_requerido", "fin", "error"), ("cliente_no_identificado", "cliente_id", "warning")},
    }
    # the error row carries the run, the record's day, a readable message and the source record
    run_id, particion, mensaje, registro, job = warehouse.execute(
        "SELECT e.run_id, e.partition_key, e.error_message, e.record_data, j.run_id FROM etl_validation_errors e "
        "JOIN etl_jobs j ON j.id = e.job_id WHERE e.record_id = '5'"
    ).fetchone()
    assert run_id == job == result.run_id and particion == DIA
    assert mensaje == "resultado 'TRANSFERIDA' no es un resultado conocido"
    assert registro == {
        "llamada_id": 5,
        "centro_id": NAC,
        "cliente_id": "C1",
        "inicio": "2024-03-10T16:00:00.000000Z",
        "ingreso_cola": None,
        "atencion": None,
        "fin": "2024-03-10T16:00:30.000000Z",
        "resultado": "TRANSFERIDA",
    }
    # staging carries the local day and hour of the start
    assert warehouse.execute("SELECT DISTINCT fecha::text, hora FROM staging.llamadas").fetchall() == [(DIA, 10)]

    meta = metadatos(result, staging.llamadas)
    assert (meta["registros_extraidos"], meta["registros_cargados"], meta["registros_fallidos"]) == (16, 5, 11)
    assert meta["registros_transformados"] == meta["dagster/row_count"] == 5 and meta["registros_advertidos"] == 3
    assert meta["dagster/table_name"] == "staging.llamadas"
    assert [c.name for c in meta["dagster/column_schema"].columns][-2:] == ["fecha", "hora"]
    assert meta["errores_por_regla"] == {
        "cliente_no_identificado": 2,
        "duracion_excesiva": 1,
        "espera_excesiva": 2,
        "nulo_requerido": 3,
        "orden_tiempos": 3,
        "resultado_desconocido": 1,
        "resultado_inconsistente": 3,
    }
    assert meta["previa"].startswith("| llamada_id | centro_id |")
    assert {"segundos_extraccion", "segundos_validacion", "segundos_carga"} <= set(meta)
    evaluacion = chequeo(result)
    assert evaluacion.passed and evaluacion.metadata["rechazados"].value == 11
    assert evaluacion.metadata["leidos"].value == 16 and evaluacion.metadata["advertidos"].value == 3


def test_menu_eventos_every_rule(ivr_writer, warehouse, instance, sin_umbral):
    insertar(
        ivr_writer,
        "menu_eventos",
        [
            evento(1),
            evento(2, salida=None, resultado="ABANDONO"),  # hung up inside the menu: valid
            evento(3, llamada_id=None),
            evento(4, menu=None),
            evento(5, menu_nombre=None),
            evento(6, resultado=None),
            evento(7, resultado="FALLA"),
            evento(8, salida=-5),  # left before entering
            evento(9, "2024-03-10 11:00:00", llamada_id=7),  # first log of a visit: kept
            evento(10, "2024-03-10 11:00:00", llamada_id=7),  # the same visit logged again: rejected
            evento(11, centro=GDL, menu=None),  # other center: never read
        ],
    )

    result = materializar(instance, staging.menu_eventos)

    assert result.success
    assert en_staging(warehouse, "menu_eventos", "evento_id") == [1, 2, 9]
    assert errores(warehouse, "staging/menu_eventos") == {
        3: {("nulo_requerido", "llamada_id", "error")},
        4: {("nulo_requerido", "menu_id", "error")},
        5: {("nulo_requerido", "menu_nombre", "error")},
        6: {("nulo_requerido", "resultado", "error")},
        7: {("resultado_desconocido", "resultado", "error")},
        8: {("orden_tiempos", "salida", "error")},
        10: {("id_duplicado", "llamada_id,menu_id,entrada", "error")},
    }


def test_transferencias_every_rule(ivr_writer, warehouse, instance, sin_umbral):
    insertar(
        ivr_writer,
        "transferencias",
        [
            transferencia(1),
            transferencia(2, dura=None),  # never connected, not successful: valid
            transferencia(3, destino=GDL),  # to another center: valid
            transferencia(4, llamada_id=None),
            transferencia(5, destino=None),
            transferencia(6, exitosa=None),
            transferencia(7, destino="1902803"),  # 7 digits
            transferencia(8, dura=-10),  # ended before it started
            transferencia(9, dura=None, exitosa=True),  # successful without an end
            transferencia(10, "2024-03-10 12:00:00", llamada_id=5),
            transferencia(11, "2024-03-10 12:00:00", llamada_id=5),  # same transfer logged twice
            transferencia(12, origen=GDL, destino=None),  # from another center: never read
        ],
    )

    result = materializar(instance, staging.transferencias)

    assert result.success
    assert en_staging(warehouse, "transferencias", "transferencia_id") == [1, 2, 3, 10]
    assert errores(warehouse, "staging/transferencias") == {
        4: {("nulo_requerido", "llamada_id", "error")},
        5: {("nulo_requerido", "centro_destino", "error")},
        6: {("nulo_requerido", "exitosa", "error")},
        7: {("centro_malformado", "centro_destino", "error")},
        8: {("orden_tiempos", "fin", "error")},
        9: {("resultado_inconsistente", "fin", "error")},
        11: {("id_duplicado", "llamada_id,inicio", "error")},
    }


def test_llamadas_padded_center_and_repeated_id(llamadas_legado, warehouse, instance, sin_umbral):
    insertar(
        llamadas_legado,
        "llamadas",
        [
            llamada(1),
            llamada(2, centro=NAC + " "),  # space-padded: extracted (btrim) then rejected
            llamada(3, centro=" " + PUE),
            llamada(4),
            llamada(4),  # the same id twice: no copy can be trusted
            llamada(5, centro=" " + GDL),  # other center, padded: still never read
        ],
    )

    result = materializar(instance, staging.llamadas)

    assert result.success
    assert en_staging(warehouse, "llamadas", "llamada_id") == [1]
    assert errores(warehouse, "staging/llamadas") == {
        2: {("centro_malformado", "centro_id", "error")},
        3: {("centro_malformado", "centro_id", "error")},
        4: {("id_duplicado", "llamada_id", "error")},
    }
    assert warehouse.execute("SELECT count(*) FROM etl_validation_errors WHERE record_id = '4'").fetchone() == (
        2,
    )  # one row per rejected copy
    (mensaje,) = warehouse.execute("SELECT error_message FROM etl_validation_errors WHERE record_id = '2'").fetchone()
    assert mensaje == "centro_id '19028031 ' no es un código de centro de 8 dígitos"


def test_unreachable_source_asks_dagster_to_retry():
    ventana = Ventana(date(2024, 3, 10), date(2024, 3, 11), "America/Mexico_City")
    with pytest.raises(dg.RetryRequested):
        extraccion.extraer("postgresql://iact@/ivr?host=/nonexistent", FUENTES["llamadas"], ventana, [NAC])


def test_other_centers_are_filtered_in_the_query(ivr_writer):
    insertar(
        ivr_writer,
        "llamadas",
        [llamada(1), llamada(2, centro=PUE), llamada(3, centro=GDL), llamada(4, centro="19002004")],
    )
    ventana = Ventana(date(2024, 3, 10), date(2024, 3, 11), "America/Mexico_City")
    tabla = extraccion.extraer(db.resolve_urls().ivr, FUENTES["llamadas"], ventana, [NAC, PUE])
    assert sorted(tabla["llamada_id"].to_pylist()) == [1, 2]
    assert set(tabla["centro_id"].to_pylist()) == {NAC, PUE}


# ------------------------------------------------------------------------------------------
# Time zone: a record belongs to the local day and hour of its start.


def test_local_day_of_the_start_across_midnight_and_a_range_in_one_run(
    ivr_writer, warehouse, instance, sin_umbral, monkeypatch
):
    utc = UTC
    insertar(
        ivr_writer,
        "llamadas",
        [
            # 05:30 UTC on the 11th is 23:30 local on the 10th; the call ends after local midnight
            llamada(1, datetime(2024, 3, 11, 5, 30, tzinfo=utc), habla=3000),
            # 06:10 UTC on the 11th is 00:10 local on the 11th
            llamada(2, datetime(2024, 3, 11, 6, 10, tzinfo=utc)),
            # 05:59 UTC on the 10th is 23:59 local on the 9th
            llamada(3, datetime(2024, 3, 10, 5, 59, tzinfo=utc)),
            llamada(4, datetime(2024, 3, 10, 6, 0, tzinfo=utc), fin=None),  # 00:00 local on the 10th, bad
            llamada(5, datetime(2024, 3, 11, 12, 0, tzinfo=utc), resultado="X", ingreso_cola=None, atencion=None),
        ],
    )

    dia = materializar(instance, staging.llamadas, DIA)
    assert dia.success
    assert warehouse.execute("SELECT llamada_id, fecha::text, hora FROM staging.llamadas").fetchall() == [(1, DIA, 23)]
    assert warehouse.execute("SELECT record_id, partition_key FROM etl_validation_errors").fetchall() == [("4", DIA)]

    # a backfill of three days is one run (read as a first one-day batch, then the other two
    # days in one query): every day partition replaced, each error row keyed by its record's day
    insertar(ivr_writer, "llamadas", [llamada(6, "2024-03-12 18:00:00")])
    rango = materializar(instance, staging.llamadas, DIA, "2024-03-12")
    assert rango.success
    estado = (
        "SELECT llamada_id, fecha::text, hora FROM staging.llamadas ORDER BY 1",
        "SELECT record_id, partition_key FROM etl_validation_errors ORDER BY 1",
    )
    assert warehouse.execute(estado[0]).fetchall() == [(1, DIA, 23), (2, "2024-03-11", 0), (6, "2024-03-12", 18)]
    assert warehouse.execute(estado[1]).fetchall() == [("4", DIA), ("5", "2024-03-11")]
    meta = metadatos(rango, staging.llamadas)
    assert meta["registros_extraidos"] == 5 and meta["registros_cargados"] == 3
    (job,) = warehouse.execute("SELECT partition_key FROM etl_jobs WHERE run_id = %s", (rango.run_id,)).fetchone()
    assert job == f"{DIA}...2024-03-12"

    # the same, one day per batch
    antes = [warehouse.execute(q).fetchall() for q in estado]
    monkeypatch.setattr(corrida, "FILAS_POR_LOTE", 1)
    assert materializar(instance, staging.llamadas, DIA, "2024-03-12").success
    assert [warehouse.execute(q).fetchall() for q in estado] == antes


def test_other_time_zone(ivr_writer, warehouse, instance, monkeypatch):
    # In UTC the partition of the 10th starts at 00:00 UTC: the call at 05:30 UTC on the 11th
    # belongs to the 11th, hour 5. Only the settings change (partition keys are days either way).
    monkeypatch.setenv("IACT_ZONA_HORARIA", "UTC")
    insertar(ivr_writer, "llamadas", [llamada(1, datetime(2024, 3, 11, 5, 30, tzinfo=UTC))])
    assert materializar(instance, staging.llamadas, "2024-03-11").success
    assert warehouse.execute("SELECT fecha::text, hora FROM staging.llamadas").fetchall() == [("2024-03-11", 5)]


# ------------------------------------------------------------------------------------------
# Replacing partitions: idempotent, serialized, atomic.


_ESTADO_ERRORES = """
SELECT asset_key, partition_key, record_id, field_name, error_type, error_message, severity, record_data::text
FROM etl_validation_errors ORDER BY 1, 2, 3, 4, 5
"""


def _fuente_mixta(conn, n=20):
    insertar(
        conn,
        "llamadas",
        [llamada(i, f"2024-03-10 {8 + i % 12:02d}:{i % 60:02d}:00") for i in range(1, n + 1)]
        + [llamada(1000, fin=None), llamada(1001, cliente=None)],
    )


def test_rerun_leaves_identical_staging_and_error_rows(ivr_writer, warehouse, instance):
    _fuente_mixta(ivr_writer)
    assert materializar(instance, staging.llamadas).success
    staging_1 = warehouse.execute("SELECT * FROM staging.llamadas ORDER BY llamada_id").fetchall()
    errores_1 = warehouse.execute(_ESTADO_ERRORES).fetchall()

    segundo = materializar(instance, staging.llamadas)

    assert segundo.success
    assert warehouse.execute("SELECT * FROM staging.llamadas ORDER BY llamada_id").fetchall() == staging_1
    assert warehouse.execute(_ESTADO_ERRORES).fetchall() == errores_1
    assert len(staging_1) == 21 and len(errores_1) == 2
    # the error rows now belong to the second run
    assert warehouse.execute("SELECT DISTINCT run_id FROM etl_validation_errors").fetchall() == [(segundo.run_id,)]


def test_two_runs_of_one_partition_at_once_leave_one_run(ivr_writer, warehouse, instance, pg_urls):
    _fuente_mixta(ivr_writer)

    # Two processes (Dagster's in-process runs are not thread-safe: logging setup deadlocks).
    # The test holds the partition's lock so both runs are surely inside the load at once.
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        with db.connect(pg_urls.warehouse) as bloqueo:
            with bloqueo.transaction():
                db.lock_partition(bloqueo, "staging.llamadas", DIA)
                futuros = [pool.submit(_materializar_aparte, instance.root_directory) for _ in range(2)]
                limite = time.monotonic() + 90
                while _esperando_lock(warehouse) < 2:
                    assert time.monotonic() < limite, "the two runs never reached the load"
                    assert not any(f.done() for f in futuros), [f.result() for f in futuros if f.done()]
                    time.sleep(0.05)
        resultados = [f.result(timeout=120) for f in futuros]

    assert [ok for _, ok in resultados] == [True, True]
    assert warehouse.execute("SELECT count(*), count(DISTINCT llamada_id) FROM staging.llamadas").fetchone() == (21, 21)
    assert warehouse.execute("SELECT count(*), count(DISTINCT run_id) FROM etl_validation_errors").fetchone() == (2, 1)
    (ultimo,) = warehouse.execute("SELECT DISTINCT run_id FROM etl_validation_errors").fetchone()
    assert ultimo in {run_id for run_id, _ in resultados}


def _materializar_aparte(dagster_home: str) -> tuple[str, bool]:
    """A run of staging/llamadas in a child process, on the test's Dagster instance."""
    instancia = dg.DagsterInstance.from_config(dagster_home)
    try:
        result = materializar(instancia, staging.llamadas)
        return result.run_id, result.success
    finally:
        instancia.dispose()


def _esperando_lock(conn) -> int:
    return conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()[0]


def test_a_run_failing_mid_load_leaves_previous_rows(ivr_writer, warehouse, instance, monkeypatch):
    _fuente_mixta(ivr_writer)
    assert materializar(instance, staging.llamadas).success
    antes = warehouse.execute("SELECT * FROM staging.llamadas ORDER BY llamada_id").fetchall()
    errores_antes = warehouse.execute(_ESTADO_ERRORES).fetchall()
    ivr_writer.execute("DELETE FROM ivr.llamadas WHERE llamada_id <= 10")

    vistas = []

    def falla(conn, *args):
        # By now the new rows were copied into the day's new table, in the open transaction;
        # the day's partition, which readers read, still holds the previous ones.
        nueva = f"staging.llamadas_{DIA.replace('-', '')}_nueva"
        vistas.append(conn.execute(f"SELECT (SELECT count(*) FROM {nueva}), count(*) FROM staging.llamadas").fetchone())
        raise RuntimeError("disk full")

    monkeypatch.setattr(corrida, "_copiar_errores", falla)
    fallido = materializar(instance, staging.llamadas)

    assert not fallido.success and vistas == [(11, 21)]
    assert warehouse.execute("SELECT * FROM staging.llamadas ORDER BY llamada_id").fetchall() == antes
    assert warehouse.execute(_ESTADO_ERRORES).fetchall() == errores_antes


# ------------------------------------------------------------------------------------------
# Blocking check and critical problems.


def test_reject_rate_above_threshold_blocks_downstream(ivr_writer, warehouse, instance):
    ejecutados = []

    @dg.asset(
        key=["reportes", "prueba"],
        deps=[staging.llamadas.key],
        partitions_def=partitions.diaria,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def reporte_prueba(context):
        ejecutados.append(context.partition_key)

    # 1 rejected of 10 read = 10% > 5%
    insertar(ivr_writer, "llamadas", [llamada(i) for i in range(1, 10)] + [llamada(10, fin=None)])
    bloqueado = materializar(instance, staging.llamadas, extra=[reporte_prueba])

    assert not bloqueado.success and ejecutados == []
    evaluacion = chequeo(bloqueado)
    assert not evaluacion.passed and evaluacion.severity == dg.AssetCheckSeverity.ERROR
    assert evaluacion.metadata["tasa_rechazo"].value == 0.1 and evaluacion.metadata["rechazados"].value == 1
    assert en_staging(warehouse, "llamadas", "llamada_id") == list(range(1, 10))  # the valid rows are loaded

    # 1 rejected of 21 read = 4.8%: passes, the report runs
    insertar(ivr_writer, "llamadas", [llamada(i) for i in range(11, 22)])
    libre = materializar(instance, staging.llamadas, extra=[reporte_prueba])
    assert libre.success and ejecutados == [DIA]
    assert chequeo(libre).passed


@pytest.fixture
def fuente_alterada(ivr_writer):
    """Lets a test break the source contract; restores ivr.llamadas afterwards."""
    yield ivr_writer
    ivr_writer.execute("TRUNCATE ivr.llamadas")
    columnas = {
        r[0]: r[1]
        for r in ivr_writer.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'ivr' AND table_name = 'llamadas'"
        ).fetchall()
    }
    if "cliente" in columnas:
        ivr_writer.execute("ALTER TABLE ivr.llamadas RENAME COLUMN cliente TO cliente_id")
    if "comienzo" in columnas:
        ivr_writer.execute("ALTER TABLE ivr.llamadas RENAME COLUMN comienzo TO inicio")
    if columnas.get("fin") == "text":
        ivr_writer.execute("ALTER TABLE ivr.llamadas ALTER COLUMN fin TYPE timestamptz USING fin::timestamptz")


def _criticos(conn):
    return conn.execute(
        "SELECT partition_key, record_id, field_name, error_type, severity FROM etl_validation_errors "
        "WHERE severity = 'critical' ORDER BY 1, 2"
    ).fetchall()


def _fallo(result) -> dg.Failure:
    (evento,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    return evento.step_failure_data


def test_missing_column_fails_loads_nothing_and_records_critical(fuente_alterada, warehouse, instance):
    insertar(fuente_alterada, "llamadas", [llamada(1), llamada(2)])
    assert materializar(instance, staging.llamadas).success
    antes = warehouse.execute("SELECT * FROM staging.llamadas ORDER BY 1").fetchall()
    fuente_alterada.execute("ALTER TABLE ivr.llamadas RENAME COLUMN cliente_id TO cliente")
    fuente_alterada.execute("DELETE FROM ivr.llamadas WHERE llamada_id = 2")

    result = materializar(instance, staging.llamadas)

    assert not result.success
    fallo = _fallo(result)
    assert fallo.user_failure_data.metadata["severidad"].value == "critical"
    descripcion = fallo.user_failure_data.description
    assert "\n" not in descripcion
    assert descripcion == (
        f"staging/llamadas {DIA}: los datos de la fuente no se pueden usar, no se cargó nada: "
        "la columna cliente_id falta en la fuente"
    )
    assert warehouse.execute("SELECT * FROM staging.llamadas ORDER BY 1").fetchall() == antes
    assert _criticos(warehouse) == [(DIA, None, "cliente_id", "columna_faltante", "critical")]
    # a second failing run replaces its critical row instead of adding one
    assert not materializar(instance, staging.llamadas).success
    assert len(_criticos(warehouse)) == 1

    # a column the query itself needs: the same, through the SQL error
    fuente_alterada.execute("ALTER TABLE ivr.llamadas RENAME COLUMN cliente TO cliente_id")
    fuente_alterada.execute("ALTER TABLE ivr.llamadas RENAME COLUMN inicio TO comienzo")
    assert not materializar(instance, staging.llamadas).success
    assert _criticos(warehouse) == [(DIA, None, "inicio", "columna_faltante", "critical")]


def test_unparseable_type_fails_and_records_the_record(fuente_alterada, warehouse, instance):
    fuente_alterada.execute("ALTER TABLE ivr.llamadas ALTER COLUMN fin TYPE text")
    fila_buena, fila_mala = llamada(1), llamada(2, fin="ayer por la tarde")
    fila_buena["fin"] = fila_buena["fin"].isoformat()
    insertar(fuente_alterada, "llamadas", [fila_buena, fila_mala])

    result = materializar(instance, staging.llamadas)

    assert not result.success
    assert "1 valor(es) de fin no se pueden leer como datetime64[us, UTC] (el primero: 'ayer por la tarde')" in (
        _fallo(result).user_failure_data.description
    )
    assert en_staging(warehouse, "llamadas", "llamada_id") == []
    assert _criticos(warehouse) == [(DIA, "2", "fin", "tipo_invalido", "critical")]
    (registro,) = warehouse.execute("SELECT record_data FROM etl_validation_errors").fetchone()
    assert registro["fin"] == "ayer por la tarde" and registro["llamada_id"] == 2


def test_definitions_load_with_the_staging_assets():
    from iact_pipelines.definitions import defs

    grafo = defs.resolve_asset_graph()
    for tabla in FUENTES:
        clave = dg.AssetKey(["staging", tabla])
        assert grafo.get(clave).parent_keys == {dg.AssetKey(["ivr", tabla])}
        assert grafo.get(clave).group_name == "staging"
