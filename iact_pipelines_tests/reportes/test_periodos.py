"""Closed periods are complete: a month (and quarter) is rebuilt when one of its days is
reloaded, states how many of its days are loaded, and any real year can be reported."""

import warnings
from datetime import date

import dagster as dg

from iact_pipelines.plataforma import reemplazo
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes import metricas
from iact_pipelines.reportes.sensors import ETIQUETA_PERIODOS_DESPUES, periodos_tras_dias
from iact_pipelines.staging import assets as staging
from iact_pipelines_tests.reportes.ayudas import cargar, llamada
from iact_pipelines_tests.staging.ayudas import DIA, insertar
from iact_pipelines_tests.staging.ayudas import llamada as llamada_fuente

_MES = "SELECT fecha_inicio::text, total_clientes_unicos, nuevos_clientes FROM reportes_clientes_unicos ORDER BY 1"
_TRIMESTRE = "SELECT trimestre, anio, total_llamadas FROM reportes_trimestral ORDER BY fecha_inicio"


def _defs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from iact_pipelines.definitions import defs
    return defs


def _cargar_dia(instance):
    assert dg.materialize([staging.llamadas], partition_key=DIA, instance=instance, resources=build_resources()).success


def _ejecutar(instance, pedidos):
    defs = _defs()
    for pedido in pedidos:
        result = defs.resolve_job_def(pedido.job_name).execute_in_process(
            partition_key=pedido.partition_key, instance=instance, tags=pedido.tags
        )
        assert result.success
    return result


def test_a_month_is_rebuilt_after_one_of_its_days_changes(ivr_writer, warehouse, instance):
    insertar(ivr_writer, "llamadas", [llamada_fuente(1, cliente="C1")])
    _cargar_dia(instance)
    contexto = dg.build_sensor_context(instance=instance)
    primero = periodos_tras_dias(contexto)
    assert [(p.job_name, p.partition_key) for p in primero.run_requests] == [
        ("reportes_mensuales", "2024-03-01"),
        ("reportes_trimestrales", "2024-01-01"),
    ]
    _ejecutar(instance, primero.run_requests)
    assert warehouse.execute(_MES).fetchall() == [("2024-03-01", 1, 1)]
    assert warehouse.execute(_TRIMESTRE).fetchall() == [("Q1", 2024, 1)]

    # late data: two more callers of that day reach the source; the day is loaded again
    insertar(ivr_writer, "llamadas", [llamada_fuente(2, cliente="C2"), llamada_fuente(3, cliente="C3")])
    _cargar_dia(instance)
    segundo = periodos_tras_dias(dg.build_sensor_context(instance=instance, cursor=primero.cursor))
    assert [(p.job_name, p.partition_key) for p in segundo.run_requests] == [
        ("reportes_mensuales", "2024-03-01"),
        ("reportes_trimestrales", "2024-01-01"),
    ]
    assert len({p.run_key for p in primero.run_requests + segundo.run_requests}) == 4
    _ejecutar(instance, segundo.run_requests)

    assert warehouse.execute(_MES).fetchall() == [("2024-03-01", 3, 3)]
    assert warehouse.execute(_TRIMESTRE).fetchall() == [("Q1", 2024, 3)]
    (mes,) = instance.fetch_materializations(dg.AssetKey(["reportes", "clientes_unicos"]), limit=1).records
    metadata = {k: v.value for k, v in mes.asset_materialization.metadata.items()}
    assert (metadata["dias_cargados"], metadata["dias_del_periodo"], metadata["final"]) == (1, 31, False)
    # nothing new: the next tick asks for nothing
    assert not periodos_tras_dias(dg.build_sensor_context(instance=instance, cursor=segundo.cursor)).run_requests


def test_a_1999_quarter_can_be_reported(warehouse):
    cargar(
        warehouse,
        "llamadas",
        [
            llamada("1999-12-31 10:00:00", "ATENDIDA", espera=10, habla=60),
            llamada("1999-11-02 10:00:00", "ABANDONADA", espera=30),
        ],
    )
    parametros = {"desde": date(1999, 10, 1), "hasta": date(2000, 1, 1), "umbral": 20.0}
    with reemplazo.reemplazar_periodo(
        warehouse, "reportes_trimestral", "fecha_inicio", date(1999, 10, 1), date(2000, 1, 1), ["1999-10-01"]
    ):
        warehouse.execute(metricas.AGREGADO_TRIMESTRAL, parametros)
        warehouse.execute(metricas.REPORTE_TRIMESTRAL, parametros)
    assert warehouse.execute(
        "SELECT trimestre, anio, fecha_inicio, total_llamadas, llamadas_abandonadas FROM reportes_trimestral"
    ).fetchall() == [("Q4", 1999, date(1999, 10, 1), 2, 1)]


def test_days_of_a_command_that_builds_its_own_periods_are_left_to_it(ivr_writer, instance):
    insertar(ivr_writer, "llamadas", [llamada_fuente(1, cliente="C1")])
    etiqueta = {ETIQUETA_PERIODOS_DESPUES: "true"}
    assert dg.materialize(
        [staging.llamadas], partition_key=DIA, instance=instance, resources=build_resources(), tags=etiqueta
    ).success
    tick = periodos_tras_dias(dg.build_sensor_context(instance=instance))
    assert not tick.run_requests and tick.cursor  # read, left to the command
    # the same command's run failing: its later period runs are skipped, so the sensor builds them
    ivr_writer.execute("DELETE FROM ivr.llamadas")
    fallido = dg.materialize(
        [staging.llamadas],
        partition_key=DIA,
        instance=instance,
        resources=build_resources(),
        tags=etiqueta,
        raise_on_error=False,
    )
    assert not fallido.success  # a day that read nothing is held (volumen)
    otro = periodos_tras_dias(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
    assert [(p.job_name, p.partition_key) for p in otro.run_requests] == [
        ("reportes_mensuales", "2024-03-01"),
        ("reportes_trimestrales", "2024-01-01"),
    ]


def test_a_month_whose_only_day_was_held_publishes_nothing_from_the_sensor(ivr_writer, warehouse, instance):
    """The automation's path: the sensor follows a held day to its month and quarter, whose
    runs publish nothing from a period with no loaded day and keep the rows they had."""
    insertar(ivr_writer, "llamadas", [llamada_fuente(1, cliente="C1"), llamada_fuente(2, cliente="C2")])
    _cargar_dia(instance)
    primero = periodos_tras_dias(dg.build_sensor_context(instance=instance))
    _ejecutar(instance, primero.run_requests)
    assert warehouse.execute(_MES).fetchall() == [("2024-03-01", 2, 2)]
    publicados = {
        clave: instance.get_latest_materialization_event(clave).run_id
        for clave in (dg.AssetKey(["reportes", "clientes_unicos"]), dg.AssetKey(["reportes", "trimestral"]))
    }
    ivr_writer.execute("DELETE FROM ivr.llamadas")  # the source emptied the month's only day
    warehouse.execute("DELETE FROM reportes_trimestral")  # so that a quarter built from nothing would show
    assert not dg.materialize(
        [staging.llamadas], partition_key=DIA, instance=instance, resources=build_resources(), raise_on_error=False
    ).success  # held by volumen

    segundo = periodos_tras_dias(dg.build_sensor_context(instance=instance, cursor=primero.cursor))
    assert [(p.job_name, p.partition_key) for p in segundo.run_requests] == [
        ("reportes_mensuales", "2024-03-01"),
        ("reportes_trimestrales", "2024-01-01"),
    ]
    _ejecutar(instance, segundo.run_requests)

    assert warehouse.execute(_MES).fetchall() == [("2024-03-01", 2, 2)]  # kept as it was
    assert warehouse.execute(_TRIMESTRE).fetchall() == []  # nothing published from nothing
    for clave, run_id in publicados.items():
        assert instance.get_latest_materialization_event(clave).run_id == run_id, clave
