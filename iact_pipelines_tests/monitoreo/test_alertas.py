"""Alert messages: what an admin reads, and delivery into internal_messages (real database)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from iact_pipelines.monitoreo import alertas
from iact_pipelines.monitoreo.seguimiento import CheckFallido, PasoFallido, ResumenRun

UI = "http://dagster.interno:3000/"


def resumen(**cambios) -> ResumenRun:
    base = dict(
        run_id="r-1",
        job_name="reportes_diarios",
        estado="failed",
        estado_dagster="FAILURE",
        particion="2024-03-05",
        tags={"dagster/partition": "2024-03-05"},
        ubicacion="iact_pipelines",
        started_at=datetime(2024, 3, 6, 6, 0, tzinfo=UTC),
        completed_at=datetime(2024, 3, 6, 6, 1, tzinfo=UTC),
        pasos_fallidos=[PasoFallido("reportes__llamadas_dia", "UniqueViolation", "UniqueViolation: duplicate key")],
        error="UniqueViolation: duplicate key",
        motivo="STEP_FAILURE",
    )
    base.update(cambios)
    return ResumenRun(**base)


def test_alerta_de_un_fallo_comun():
    alerta = alertas.construir_alerta(resumen(), UI)
    assert alerta.priority == "high"
    assert alerta.dedupe_key == "run-failure:r-1"
    assert alerta.subject == "[HIGH] reportes_diarios (2024-03-05): fallo en reportes__llamadas_dia"
    assert alerta.body.splitlines() == [
        "La corrida r-1 del job reportes_diarios falló.",
        "Partición: 2024-03-05",
        "Pasos fallidos:",
        "  - reportes__llamadas_dia: UniqueViolation: duplicate key",
        "Ver la corrida en Dagster: http://dagster.interno:3000/runs/r-1",
        'Qué hacer: docs/RUNBOOK.md, sección "Corrida fallida".',
    ]
    assert alerta.metadata["link"] == "http://dagster.interno:3000/runs/r-1"
    assert alerta.metadata["failed_steps"] == ["reportes__llamadas_dia"]
    assert alerta.metadata["partition"] == "2024-03-05"


def test_fallo_fuera_de_los_pasos_y_sin_particion():
    alerta = alertas.construir_alerta(
        resumen(pasos_fallidos=[], particion=None, error="This run has been marked as failed from outside"), UI
    )
    assert alerta.subject == (
        "[HIGH] reportes_diarios (sin partición): fallo en This run has been marked as failed from outside"
    )
    assert "Error: This run has been marked as failed from outside" in alerta.body


def test_prioridad_critica_por_check_bloqueante_o_validacion_critica():
    bloqueo = resumen(
        checks_fallidos=[
            CheckFallido("staging/llamadas", "tasa_rechazo", "ERROR", True, "tasa=0.12, umbral=0.05"),
            CheckFallido("staging/llamadas", "solo_aviso", "WARN", False),
        ]
    )
    alerta = alertas.construir_alerta(bloqueo, UI)
    assert alerta.priority == "critical"
    assert alerta.subject.endswith("check bloqueante en staging/llamadas:tasa_rechazo")
    assert "  - staging/llamadas:tasa_rechazo (tasa=0.12, umbral=0.05)" in alerta.body
    assert "solo_aviso" not in alerta.body  # a warning check blocks nothing
    assert 'sección "Un check bloquea una partición"' in alerta.body

    paso = PasoFallido("staging__llamadas", "Failure", "columna fin ausente", severidad="critical")
    assert alertas.construir_alerta(resumen(pasos_fallidos=[paso]), UI).priority == "critical"
    assert alertas.construir_alerta(resumen(), UI, validacion_critica=True).priority == "critical"
    # A warning-severity blocking check does not block, so it is not critical.
    aviso = resumen(checks_fallidos=[CheckFallido("staging/llamadas", "tasa_rechazo", "WARN", True)])
    assert alertas.construir_alerta(aviso, UI).priority == "high"


def test_reejecucion_reintento_y_nota():
    reejecucion = resumen(tags={"dagster/parent_run_id": "r-0", "dagster/root_run_id": "r-0"})
    assert "Re-ejecución de la corrida r-0." in alertas.construir_alerta(reejecucion, UI).body
    reintento = resumen(
        tags={"dagster/parent_run_id": "r-0", "dagster/root_run_id": "r-0", "dagster/retry_number": "1"}
    )
    alerta = alertas.construir_alerta(reintento, UI, nota="Nota de prueba.")
    assert "Intento 2: reintento automático de la corrida r-0 (corrida original r-0)" in alerta.body
    assert "Nota de prueba." in alerta.body
    assert alerta.metadata["retry_number"] == 1


def test_asunto_y_listas_largas_se_recortan():
    pasos = [PasoFallido(f"paso_{i}", "ValueError", "x" * 300) for i in range(12)]
    alerta = alertas.construir_alerta(resumen(job_name="j" * 300, pasos_fallidos=pasos), UI)
    assert len(alerta.subject) == 255 and alerta.subject.endswith("…")
    assert "  - y 2 más" in alerta.body
    assert len(alerta.metadata["failed_steps"]) == 12  # metadata keeps them all


@pytest.fixture
def usuarios(warehouse):
    filas = warehouse.execute(
        """
        INSERT INTO usuarios (nombre, es_admin, activo) VALUES
            ('ana', true, true), ('beto', true, false), ('dora', false, true)
        RETURNING nombre, id
        """
    ).fetchall()
    return dict(filas)


def test_escribir_alertas_una_por_admin_activo_e_idempotente(warehouse, usuarios):
    lote = [alertas.construir_alerta(resumen(run_id=r), UI) for r in ("r-1", "r-2")]
    with warehouse.transaction():
        assert alertas.escribir_alertas(warehouse, lote) == 2
    with warehouse.transaction():
        assert alertas.escribir_alertas(warehouse, lote) == 0
    filas = warehouse.execute(
        "SELECT recipient_id, dedupe_key, created_by_system, sender_id, message_type FROM internal_messages ORDER BY id"
    ).fetchall()
    assert filas == [
        (usuarios["ana"], "run-failure:r-1", True, None, "alert"),
        (usuarios["ana"], "run-failure:r-2", True, None, "alert"),
    ]
    # An admin reactivated later receives what is written from then on (a re-processed batch
    # included); the others still get nothing twice.
    warehouse.execute("UPDATE usuarios SET activo = true WHERE nombre = 'beto'")
    assert alertas.escribir_alertas(warehouse, lote[:1]) == 1
    assert alertas.escribir_alertas(warehouse, []) == 0


def test_sin_admin_activo_no_se_descarta_nada(warehouse, usuarios):
    warehouse.execute("UPDATE usuarios SET activo = false WHERE es_admin")
    with pytest.raises(alertas.SinAdministradores, match="iact usuarios crear NOMBRE --admin"):
        alertas.escribir_alertas(warehouse, [alertas.construir_alerta(resumen(), UI)])
    assert warehouse.execute("SELECT count(*) FROM internal_messages").fetchone() == (0,)


def test_runs_con_validacion_critica(warehouse):
    warehouse.execute(
        """
        INSERT INTO etl_validation_errors (run_id, asset_key, partition_key, error_type, error_message, severity)
        VALUES ('r-1', 'staging/llamadas', '2024-03-05', 'columna_faltante', 'x', 'critical'),
               ('r-2', 'staging/llamadas', '2024-03-05', 'orden_tiempos', 'x', 'error')
        """
    )
    assert alertas.runs_con_validacion_critica(warehouse, ["r-1", "r-2", "r-3"]) == {"r-1"}
    assert alertas.runs_con_validacion_critica(warehouse, []) == set()


_RUNBOOK = (Path(__file__).resolve().parents[2] / "docs" / "RUNBOOK.md").read_text()
_NO_RECONSTRUIDO = (
    "reportes_llamadas_dia: 2024-03-05 sin reconstruir (se conservan las filas anteriores): lo retuvo el check "
    "volumen o tasa_rechazo de staging; 0 día(s) más construido(s)"
)


@pytest.mark.parametrize(
    "cambios, validacion_critica, seccion",
    [
        ({}, False, alertas.SECCION_FALLO),
        ({"checks_fallidos": [CheckFallido("staging/llamadas", "volumen", "ERROR", True)]}, False, "volumen"),
        ({"pasos_fallidos": [PasoFallido("reportes__llamadas_dia", "Failure", _NO_RECONSTRUIDO)]}, False, "volumen"),
        ({"checks_fallidos": [CheckFallido("staging/llamadas", "tasa_rechazo", "ERROR", True)]}, False, "check"),
        ({}, True, alertas.SECCION_CRITICA),
        (
            {
                "pasos_fallidos": [
                    PasoFallido(
                        "staging__llamadas",
                        "Failure",
                        'ivr.llamadas no coincide con el contrato de la fuente: relation "ivr.llamadas" does not exist',
                        severidad="critical",
                    )
                ]
            },
            False,
            alertas.SECCION_SIN_FUENTE,
        ),
        (
            {
                "pasos_fallidos": [
                    PasoFallido("staging__llamadas", "Failure", "no existe la base de datos del IVR 'ivr_x'")
                ]
            },
            True,
            alertas.SECCION_SIN_FUENTE,
        ),
    ],
)
def test_each_cause_names_its_own_runbook_section(cambios, validacion_critica, seccion):
    seccion = {"volumen": alertas.SECCION_VOLUMEN, "check": alertas.SECCION_CHECK}.get(seccion, seccion)
    alerta = alertas.construir_alerta(resumen(**cambios), UI, validacion_critica=validacion_critica)
    assert alerta.body.splitlines()[-1] == f'Qué hacer: docs/RUNBOOK.md, sección "{seccion}".'
    # the section exists in the RUNBOOK under that exact title
    assert any(linea.startswith(f"### {seccion}") for linea in _RUNBOOK.splitlines()), seccion


def test_held_alerts_are_logged_once_and_past_ten_counted():
    class Registro:
        def __init__(self):
            self.avisos, self.depuracion = [], []

        def warning(self, linea):
            self.avisos.append(linea)

        def debug(self, linea):
            self.depuracion.append(linea)

    retenidas = alertas.SinAdministradores("sin admins", [alertas.retenida(f"alerta {i}") for i in range(12)])
    primero = Registro()
    avisadas = alertas.avisar_retenidas(primero, retenidas, [])
    assert primero.avisos[:10] == retenidas.retenidas[:10] and len(primero.avisos) == 11
    assert primero.avisos[10].startswith("… y 2 alerta(s) retenida(s) más, sin administrador activo")
    segundo = Registro()
    assert alertas.avisar_retenidas(segundo, retenidas, avisadas) == avisadas
    assert segundo.avisos == [] and segundo.depuracion == retenidas.retenidas
