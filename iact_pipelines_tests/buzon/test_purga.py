import dagster as dg
import pytest

from iact_pipelines.buzon import mensajes as buzon
from iact_pipelines.buzon import purga as mantenimiento
from iact_pipelines.buzon import usuarios
from iact_pipelines.plataforma.resources import build_resources


@pytest.fixture
def buzon_con_expirados(warehouse):
    """Messages expired 45 and 31 days ago, 5 days ago, expiring tomorrow, and without expiry."""
    usuarios.crear(warehouse, "ana", es_admin=True)
    usuarios.crear(warehouse, "beto")
    for dias in (45, 31, 5):
        m = buzon.mensaje_sistema(warehouse, "ana", f"expiró hace {dias} días", "", tipo="alert")
        warehouse.execute(
            "UPDATE internal_messages SET expires_at = now() - make_interval(days => %s) WHERE id = %s", (dias, m.id)
        )
    m = buzon.enviar(warehouse, "beto", "ana", "expira mañana", "")
    warehouse.execute("UPDATE internal_messages SET expires_at = now() + interval '1 day' WHERE id = %s", (m.id,))
    buzon.enviar(warehouse, "ana", "beto", "sin expiración", "")
    return warehouse


def _asuntos(conn):
    return [s for (s,) in conn.execute("SELECT subject FROM internal_messages ORDER BY id")]


def test_job_purga_lo_expirado_hace_mas_de_los_dias_configurados(buzon_con_expirados, instance):
    resultado = mantenimiento.purga_buzon.execute_in_process(instance=instance, resources=build_resources())
    assert resultado.success
    assert resultado.output_for_node("purgar_mensajes_expirados") == 2  # 45 and 31 days > 30 (default)
    assert _asuntos(buzon_con_expirados) == ["expiró hace 5 días", "expira mañana", "sin expiración"]
    # The run is recorded in the instance, with the count as output metadata.
    [run] = instance.get_runs()
    assert run.job_name == "purga_buzon" and run.is_success
    salida = [e for e in resultado.all_node_events if e.event_type_value == "STEP_OUTPUT"][0]
    metadata = salida.event_specific_data.metadata
    assert metadata["mensajes_purgados"].value == 2 and metadata["dias_de_gracia"].value == 30


def test_dias_de_gracia_desde_el_entorno_o_la_configuracion_del_run(buzon_con_expirados, instance, monkeypatch):
    monkeypatch.setenv("IACT_PURGA_DIAS", "40")
    resultado = mantenimiento.purga_buzon.execute_in_process(instance=instance, resources=build_resources())
    assert resultado.output_for_node("purgar_mensajes_expirados") == 1
    resultado = mantenimiento.purga_buzon.execute_in_process(
        instance=instance,
        resources=build_resources(),
        run_config=dg.RunConfig(ops={"purgar_mensajes_expirados": mantenimiento.PurgaConfig(dias=0)}),
    )
    assert resultado.output_for_node("purgar_mensajes_expirados") == 2
    assert _asuntos(buzon_con_expirados) == ["expira mañana", "sin expiración"]


def test_schedule_diario_encendido_por_defecto(instance):
    schedule = mantenimiento.purga_buzon_diaria
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.cron_schedule == "30 3 * * *"
    assert schedule.execution_timezone == "America/Mexico_City"
    assert schedule.job_name == "purga_buzon"
    [peticion] = schedule.evaluate_tick(dg.build_schedule_context(instance=instance)).run_requests
    assert isinstance(peticion, dg.RunRequest)
    # The definitions load with the project's resources (what `dagster dev` does).
    defs = dg.Definitions(jobs=mantenimiento.jobs, schedules=mantenimiento.schedules, resources=build_resources())
    assert defs.resolve_job_def("purga_buzon").name == "purga_buzon"
    assert defs.resolve_schedule_def("purga_buzon_diaria").job_name == "purga_buzon"
