"""Failure-alert sensor on a real Dagster instance and the real warehouse: one alert per
active admin, exactly once across re-evaluations, crashes, bursts and automatic retries."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    AUTO_RETRY_RUN_ID_TAG,
    PARENT_RUN_ID_TAG,
    RETRY_NUMBER_TAG,
    ROOT_RUN_ID_TAG,
    WILL_RETRY_TAG,
)

from iact_pipelines.monitoreo import alertas, sensors
from iact_pipelines.plataforma.resources import build_resources

DIARIA = dg.DailyPartitionsDefinition(start_date="2024-01-01")


@dg.asset(key=["staging", "llamadas"], partitions_def=DIARIA)
def llamadas_rotas():
    """Fails like an unreachable table would."""
    raise ValueError("relation ivr.llamadas does not exist\nsecond line nobody needs")


@dg.asset(key=["staging", "llamadas"], partitions_def=DIARIA)
def llamadas_criticas():
    """Fails the way the staging assets do on a critical validation failure."""
    raise dg.Failure(description="columna 'fin' ausente en la extracción", metadata={"severidad": "critical"})


@dg.asset(key=["staging", "menu_eventos"], partitions_def=DIARIA)
def menu_eventos():
    """Loads fine."""
    return dg.MaterializeResult(metadata={"registros_extraidos": 10, "registros_cargados": 9})


@dg.asset_check(asset=menu_eventos, name="tasa_rechazo", blocking=True)
def tasa_rechazo():
    """Rejected share over the threshold."""
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata={"tasa": 0.2})


@dg.asset(key=["reportes", "menu_problemas"], deps=[menu_eventos], partitions_def=DIARIA)
def menu_problemas():
    """Would be built on bad data if the check did not block."""


@dg.asset
def bien():
    """Succeeds."""


@pytest.fixture(autouse=True)
def sin_margen(monkeypatch):
    # Test runs are milliseconds old; the straggler margin has its own test.
    monkeypatch.setattr(sensors, "MARGEN_S", 0.0)


def evaluar(instance, cursor=None):
    contexto = dg.build_sensor_context(instance=instance, cursor=cursor, resources=build_resources())
    resultado = sensors.alertas_fallos(contexto)
    return resultado.cursor


def mensajes(warehouse):
    return warehouse.execute(
        """
        SELECT recipient_id, sender_id, subject, body, message_type, priority, created_by_system,
               is_read, metadata, dedupe_key
        FROM internal_messages ORDER BY id
        """
    ).fetchall()


def fallar(instance, asset=llamadas_rotas, particion="2024-03-05", tags=None, extra=()):
    resultado = dg.materialize(
        [asset, *extra], instance=instance, partition_key=particion, raise_on_error=False, tags=tags
    )
    assert not resultado.success
    return resultado.run_id


def test_un_fallo_una_alerta_por_admin_activo_y_nunca_dos(instance, warehouse, admins):
    run_id = fallar(instance)

    cursor = evaluar(instance)
    filas = mensajes(warehouse)
    assert sorted(f[0] for f in filas) == admins  # not the inactive admin, not the non-admin
    for _recipient, sender, subject, body, tipo, prioridad, sistema, leido, metadata, clave in filas:
        assert (sender, tipo, prioridad, sistema, leido) == (None, "alert", "high", True, False)
        assert clave == f"run-failure:{run_id}"
        assert subject == "[HIGH] activos: staging/llamadas (2024-03-05): fallo en staging__llamadas"
        assert "Partición: 2024-03-05" in body
        assert "  - staging__llamadas: ValueError: relation ivr.llamadas does not exist" in body
        assert "second line" not in body
        assert f"http://127.0.0.1:3000/runs/{run_id}" in body
        assert metadata["run_id"] == run_id
        assert metadata["job"] == "activos: staging/llamadas"
        assert metadata["partition"] == "2024-03-05"
        assert metadata["failed_steps"] == ["staging__llamadas"]
        assert metadata["link"] == f"http://127.0.0.1:3000/runs/{run_id}"
        assert metadata["error"] == "ValueError: relation ivr.llamadas does not exist"

    # The cursor stands on the failure event, with nothing waiting.
    (evento,) = instance.fetch_run_status_changes(dg.DagsterEventType.RUN_FAILURE, limit=1).records
    assert json.loads(cursor) == {"id": evento.storage_id, "espera": {}}

    # Evaluating again, and re-evaluating with the old cursor (a crash after the commit and
    # before Dagster stored the new cursor), write nothing.
    assert evaluar(instance, cursor) == cursor
    assert evaluar(instance, None) == cursor
    assert len(mensajes(warehouse)) == 2


def test_una_corrida_exitosa_no_escribe_mensajes(instance, warehouse, admins):
    assert dg.materialize([bien], instance=instance).success
    cursor = evaluar(instance)
    assert mensajes(warehouse) == []
    assert json.loads(cursor)["espera"] == {}


def test_rafaga_de_20_fallos_en_un_tick_y_en_varios(instance, warehouse, admins, monkeypatch):
    monkeypatch.setattr(sensors, "LOTE", 7)  # three queries' worth in one tick
    run_ids = {fallar(instance, particion=f"2024-03-{dia:02d}") for dia in range(1, 21)}

    cursor = evaluar(instance)
    claves = warehouse.execute("SELECT dedupe_key, count(*) FROM internal_messages GROUP BY 1").fetchall()
    assert {c for c, _ in claves} == {f"run-failure:{r}" for r in run_ids}
    assert all(n == 2 for _, n in claves)
    assert evaluar(instance, cursor) == cursor
    assert len(mensajes(warehouse)) == 40

    # A tick out of time stops after one batch; the following ticks finish the burst.
    warehouse.execute("TRUNCATE internal_messages")
    monkeypatch.setattr(sensors, "PRESUPUESTO_S", 0.0)
    cursor = None
    entregadas = []
    for _ in range(4):
        cursor = evaluar(instance, cursor)
        entregadas.append(len(mensajes(warehouse)) // 2)
    assert entregadas == [7, 14, 20, 20]


def test_sin_admins_el_tick_retiene_las_alertas_con_una_linea_cada_una(instance, warehouse, capfd):
    run_id = fallar(instance)
    warehouse.execute("INSERT INTO usuarios (nombre, es_admin, activo) VALUES ('eva', false, true)")
    with pytest.raises(alertas.SinAdministradores, match="no hay ningún administrador activo"):
        sensors.revisar_fallos(instance, warehouse, None, ui_url="http://ui")
    cursor = None
    for tick in range(3):  # and again, until someone can receive it: never a traceback
        capfd.readouterr()
        contexto = dg.build_sensor_context(instance=instance, cursor=cursor, resources=build_resources())
        resultado = sensors.alertas_fallos(contexto)
        razon = resultado.skip_reason.skip_message
        assert "administrador activo" in razon and run_id in razon
        salida = capfd.readouterr().err  # the sensor's log, as the daemon's terminal shows it
        avisos = [linea for linea in salida.splitlines() if " - WARNING - " in linea]
        if tick == 0:
            assert len(avisos) == 1 and "alerta retenida" in avisos[0] and run_id in avisos[0]
            assert "iact usuarios crear" in avisos[0]
        else:  # said once; the later ticks' skip reason (in the UI) still says it
            assert avisos == []
        assert "Traceback" not in salida
        cursor = resultado.cursor
    assert mensajes(warehouse) == []

    (nuevo,) = warehouse.execute(
        "INSERT INTO usuarios (nombre, es_admin, activo) VALUES ('fer', true, true) RETURNING id"
    ).fetchone()
    evaluar(instance, cursor)  # the position never advanced: the alert is delivered now
    assert [(f[0], f[9]) for f in mensajes(warehouse)] == [(nuevo, f"run-failure:{run_id}")]


def test_check_bloqueante_es_alerta_critica(instance, warehouse, admins):
    run_id = fallar(instance, asset=menu_eventos, extra=[tasa_rechazo, menu_problemas])
    evaluar(instance)
    filas = mensajes(warehouse)
    assert len(filas) == 2
    _, _, subject, body, _, prioridad, _, _, metadata, _ = filas[0]
    assert prioridad == "critical"
    assert subject == (
        "[CRITICAL] activos: reportes/menu_problemas, staging/menu_eventos (2024-03-05): "
        "check bloqueante en staging/menu_eventos:tasa_rechazo"
    )
    assert "  - staging/menu_eventos:tasa_rechazo (tasa=0.2)" in body
    assert "1 check(s) bloqueante(s) fallido(s) con severidad ERROR: staging/menu_eventos: tasa_rechazo" in body
    assert "Activos no materializados: reportes/menu_problemas" in body
    assert metadata["failed_checks"] == ["staging/menu_eventos:tasa_rechazo"]
    assert metadata["unmaterialized_assets"] == ["reportes/menu_problemas"]
    assert metadata["blocked_by_check"] is True
    assert metadata["run_id"] == run_id


def test_validacion_critica_es_alerta_critica(instance, warehouse, admins):
    fallar(instance, asset=llamadas_criticas)
    evaluar(instance)
    (fila, _) = mensajes(warehouse)
    assert fila[5] == "critical"
    assert "staging__llamadas: columna 'fin' ausente en la extracción" in fila[3]
    assert fila[8]["critical_validation"] is True


def test_error_critico_registrado_en_validacion_hace_critica_la_alerta(instance, warehouse, admins):
    run_id = fallar(instance)
    warehouse.execute(
        """
        INSERT INTO etl_validation_errors (run_id, asset_key, partition_key, error_type, error_message, severity)
        VALUES (%s, 'staging/llamadas', '2024-03-05', 'columna_faltante', 'falta fin', 'critical')
        """,
        (run_id,),
    )
    evaluar(instance)
    assert {f[5] for f in mensajes(warehouse)} == {"critical"}


def test_reintento_automatico_alerta_solo_el_fallo_final(instance, warehouse, admins):
    original = fallar(instance)
    # Dagster tags a run it will retry (run worker lost, etc.); step failures are not retried
    # in dagster.yaml, so the tag is set here as the daemon's failure handler would.
    instance.add_run_tags(original, {WILL_RETRY_TAG: "true"})
    cursor = evaluar(instance)
    assert mensajes(warehouse) == []
    assert list(json.loads(cursor)["espera"]) == [original]
    cursor = evaluar(instance, cursor)
    assert mensajes(warehouse) == []

    # The daemon launches the retry (a new run) and it fails too: that is the final failure.
    reintento = fallar(instance, tags={PARENT_RUN_ID_TAG: original, ROOT_RUN_ID_TAG: original, RETRY_NUMBER_TAG: "1"})
    instance.add_run_tags(original, {AUTO_RETRY_RUN_ID_TAG: reintento})
    cursor = evaluar(instance, cursor)
    filas = mensajes(warehouse)
    assert {f[9] for f in filas} == {f"run-failure:{reintento}"}
    assert len(filas) == 2
    assert f"Intento 2: reintento automático de la corrida {original}" in filas[0][3]
    assert filas[0][8]["root_run_id"] == original
    assert filas[0][8]["retry_number"] == 1
    assert json.loads(cursor)["espera"] == {}
    assert evaluar(instance, cursor) == cursor
    assert len(mensajes(warehouse)) == 2


def test_reintento_que_nunca_llega_se_alerta_tras_la_espera(instance, warehouse, admins):
    original = fallar(instance)
    instance.add_run_tags(original, {WILL_RETRY_TAG: "true"})
    cursor = evaluar(instance)
    assert mensajes(warehouse) == []

    # ESPERA_REINTENTO_S later and still no retry run (daemon stopped): alert the original.
    estado = json.loads(cursor)
    estado["espera"][original] -= sensors.ESPERA_REINTENTO_S + 1
    cursor = evaluar(instance, json.dumps(estado))
    filas = mensajes(warehouse)
    assert {f[9] for f in filas} == {f"run-failure:{original}"} and len(filas) == 2
    assert "el reintento no se lanzó en 10 min" in filas[0][3]
    assert json.loads(cursor)["espera"] == {}


def test_reintento_cancelado_por_el_daemon_se_alerta_enseguida(instance, warehouse, admins):
    original = fallar(instance)
    instance.add_run_tags(original, {WILL_RETRY_TAG: "true"})
    cursor = evaluar(instance)
    assert mensajes(warehouse) == []
    # The daemon could not launch the retry and flipped the tag (auto_run_reexecution.py).
    instance.add_run_tags(original, {WILL_RETRY_TAG: "false"})
    evaluar(instance, cursor)
    assert {f[9] for f in mensajes(warehouse)} == {f"run-failure:{original}"}


def test_eventos_recientes_esperan_el_margen(instance, warehouse, admins, monkeypatch):
    monkeypatch.setattr(sensors, "MARGEN_S", 3600.0)
    fallar(instance)
    cursor = evaluar(instance)
    assert mensajes(warehouse) == []
    # The cursor stays before the young event, so the next tick (margin elapsed) gets it.
    monkeypatch.setattr(sensors, "MARGEN_S", 0.0)
    evaluar(instance, cursor)
    assert len(mensajes(warehouse)) == 2


def test_primer_tick_ignora_fallos_de_hace_mas_de_un_dia(instance, warehouse, admins, monkeypatch):
    fallar(instance)
    monkeypatch.setattr(sensors, "RETROSPECTIVA_INICIAL_S", -3600.0)  # "a day" ends in the future
    cursor = evaluar(instance)
    assert mensajes(warehouse) == []
    # ...but from then on nothing is skipped.
    nuevo = fallar(instance, particion="2024-03-06")
    evaluar(instance, cursor)
    assert {f[9] for f in mensajes(warehouse)} == {f"run-failure:{nuevo}"}


def test_definiciones_cargan_los_sensores():
    from iact_pipelines.definitions import defs

    nombres = {s.name for s in defs.get_repository_def().sensor_defs}
    assert {"alertas_fallos", "espejo_etl_jobs"} <= nombres
    assert sensors.alertas_fallos.default_status == dg.DefaultSensorStatus.RUNNING
