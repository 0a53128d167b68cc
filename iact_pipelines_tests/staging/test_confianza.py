"""Never publish a wrong day: the `volumen` check, accepting a day, per-day
results in a range, over-long values, on the real assets and databases."""

from datetime import date, timedelta

import dagster as dg

from iact_pipelines.cli import main
from iact_pipelines.monitoreo import alertas, seguimiento
from iact_pipelines.monitoreo import sensors as sensores
from iact_pipelines.plataforma import eventos
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes import assets as reportes
from iact_pipelines.staging import assets as staging
from iact_pipelines.staging import compuerta
from iact_pipelines_tests.staging.ayudas import DIA, PUE, evento, insertar, llamada, verdad_por_dia

_RANGO = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
_INFORME = "SELECT fecha::text, sum(total_llamadas)::int FROM reportes_llamadas_dia GROUP BY 1 ORDER BY 1"


def _dia(d: str, n: int) -> str:
    return (date.fromisoformat(d) + timedelta(days=n)).isoformat()


def llamadas_del_dia(dia: str, n: int, primero: int, abandonadas: int = 0) -> list[dict]:
    """`n` calls of the local day, the first `abandonadas` of them abandoned, the rest answered."""
    return [
        llamada(
            primero + i, f"{dia} {10 + i % 10:02d}:{i % 60:02d}:00", "ABANDONADA" if i < abandonadas else "ATENDIDA"
        )
        for i in range(n)
    ]


def correr(instance, desde: str, hasta: str | None = None, tags: dict | None = None):
    """staging/llamadas and its daily report in one run, as the `diario` job runs them."""
    tags = dict(tags or {})
    opciones = {"partition_key": desde} if hasta is None else {}
    if hasta is not None:
        tags.update({_RANGO[0]: desde, _RANGO[1]: hasta})
    return dg.materialize(
        [staging.llamadas, reportes.llamadas_dia],
        instance=instance,
        tags=tags,
        resources=build_resources(),
        raise_on_error=False,
        **opciones,
    )


def cargas(conn) -> list[tuple]:
    return conn.execute(
        "SELECT fecha::text, estado, filas_leidas, filas_cargadas, mediana_referencia::float, aceptado_por "
        "FROM staging_cargas WHERE asset_key = 'staging/llamadas' ORDER BY fecha"
    ).fetchall()


def en_staging(conn) -> list[tuple]:
    return conn.execute("SELECT fecha::text, count(*)::int FROM staging.llamadas GROUP BY 1 ORDER BY 1").fetchall()


def volumen(result) -> list:
    """Every `volumen` evaluation of the run: results and per-day events alike."""
    return [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.check_name == "volumen"
    ]


def test_an_empty_day_is_blocked_and_keeps_its_previous_rows(ivr_writer, warehouse, instance):
    insertar(ivr_writer, "llamadas", llamadas_del_dia(DIA, 3, 1))
    assert correr(instance, DIA).success
    assert _filas(warehouse) == ([(DIA, 3)], [(DIA, 3)])

    ivr_writer.execute("DELETE FROM ivr.llamadas")  # the source lags: the day reads 0 rows
    result = correr(instance, DIA)

    assert not result.success
    assert _filas(warehouse) == ([(DIA, 3)], [(DIA, 3)])  # staging and reports as they were
    assert cargas(warehouse) == [(DIA, "bloqueado", 0, 0, None, None)]
    (evaluacion,) = volumen(result)
    assert (evaluacion.passed, evaluacion.partition, evaluacion.blocking) == (False, DIA, True)
    assert evaluacion.description.startswith(f"{DIA} leyó 0 filas: no se publica")
    # what the alert sensor and the etl_jobs mirror read: the run failed on the blocking check
    (record,) = instance.get_run_records(limit=1)
    resumen = seguimiento.resumir_run(instance, record)
    assert [(c.check, c.bloqueante) for c in resumen.checks_fallidos] == [("volumen", True)]
    assert resumen.estado == "failed"


def _filas(conn):
    return en_staging(conn), conn.execute(_INFORME).fetchall()


def test_a_half_full_day_against_the_same_weekdays_is_blocked(ivr_writer, warehouse, instance):
    hace_14, hace_7 = _dia(DIA, -14), _dia(DIA, -7)
    insertar(
        ivr_writer,
        "llamadas",
        llamadas_del_dia(hace_14, 4, 100) + llamadas_del_dia(hace_7, 6, 200) + llamadas_del_dia(DIA, 5, 1),
    )
    for dia in (hace_14, hace_7, DIA):
        assert correr(instance, dia).success
    # median of 4 and 6 = 5; 5 rows pass
    assert cargas(warehouse)[-1] == (DIA, "cargado", 5, 5, 5.0, None)

    ivr_writer.execute("DELETE FROM ivr.llamadas WHERE llamada_id BETWEEN 1 AND 3")  # 2 left, under 0.5 x 5
    result = correr(instance, DIA)

    assert not result.success
    assert _filas(warehouse) == ([(hace_14, 4), (hace_7, 6), (DIA, 5)], [(hace_14, 4), (hace_7, 6), (DIA, 5)])
    assert cargas(warehouse)[-1] == (DIA, "bloqueado", 2, 0, 5.0, None)
    (evaluacion,) = volumen(result)
    assert not evaluacion.passed and evaluacion.metadata["mediana_referencia"].value == 5.0


def test_an_accepted_empty_day_is_published_and_recorded(ivr_writer, warehouse, instance, pg_urls, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", "/nonexistent")  # `iact materializar` sets it for its process
    insertar(ivr_writer, "llamadas", llamadas_del_dia(DIA, 3, 1))
    assert correr(instance, DIA).success
    ivr_writer.execute("DELETE FROM ivr.llamadas")  # a holiday: genuinely no calls

    codigo = main(
        [
            "materializar",
            "--desde",
            DIA,
            "--hasta",
            DIA,
            "--activos",
            "staging/llamadas,reportes/llamadas_dia",
            "--aceptar-dias",
            DIA,
        ]
    )

    assert codigo == 0, capsys.readouterr().err
    assert _filas(warehouse) == ([], [(DIA, 0)])  # the empty day is published: 24 hours of zeros
    ((fecha, estado, leidas, cargadas, mediana, por),) = cargas(warehouse)
    assert (fecha, estado, leidas, cargadas, mediana) == (DIA, "aceptado", 0, 0, None) and por
    (record,) = instance.get_run_records(limit=1)
    (evaluacion,) = [
        e
        for e in instance.event_log_storage.get_logs_for_run(record.dagster_run.run_id)
        if e.dagster_event
        and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.dagster_event.event_specific_data.check_name == "volumen"
    ]
    datos = evaluacion.dagster_event.event_specific_data
    assert datos.passed and datos.metadata["aceptado"].value is True and datos.metadata["aceptado_por"].value == por
    fila = seguimiento.fila_etl(seguimiento.resumir_run(instance, record))
    import json

    assert json.loads(fila["metadata"])["tags"]["iact/aceptar_dias"] == DIA


def test_a_range_with_one_bad_day_builds_the_other_thirteen(ivr_writer, warehouse, instance):
    """14 days in one run, one of them emptied at the source: every day reads in Dagster as the
    warehouse holds it (`verdad_por_dia`), the emptied one held with its previous rows."""
    dias = [_dia(DIA, i) for i in range(14)]
    malo = dias[4]
    insertar(ivr_writer, "llamadas", llamadas_del_dia(malo, 3, 1, abandonadas=1))
    assert correr(instance, malo).success  # the bad day's previous, good load
    ivr_writer.execute("DELETE FROM ivr.llamadas")
    insertar(
        ivr_writer,
        "llamadas",
        [
            f
            for i, d in enumerate(dias)
            if d != malo
            for f in llamadas_del_dia(d, 2 + i % 2, 100 * (i + 1), abandonadas=i % 3)
        ],
    )

    result = correr(instance, dias[0], dias[-1])

    assert not result.success
    esperado = [(d, 3 if d == malo else 2 + i % 2) for i, d in enumerate(dias)]
    assert _filas(warehouse) == (esperado, esperado)  # 13 days rebuilt, the bad one kept its rows
    verdad_por_dia(instance, warehouse, ivr_writer, dias, {malo}, {result.run_id})
    (fallo,) = [e for e in result.get_step_failure_events()]
    assert fallo.step_key == "reportes__llamadas_dia"
    assert fallo.step_failure_data.user_failure_data.description.startswith(
        f"reportes_llamadas_dia: {malo} sin reconstruir (se conservan las filas anteriores)"
    )
    assert {e.partition: e.passed for e in volumen(result) if e.partition} == {d: d != malo for d in dias}
    # the range's own materialization carries the range's totals, on every day, no day's count
    mats = result.asset_materializations_for_node("staging__llamadas")
    rango = [m for m in mats if "rango" in m.metadata]
    assert len(rango) == 14 and all("dagster/row_count" not in m.metadata for m in rango)
    informe = {
        r.partition_key
        for r in instance.fetch_materializations(reportes.llamadas_dia.key, limit=100).records
        if r.asset_materialization.metadata.get("run_id")
        and r.asset_materialization.metadata["run_id"].value == result.run_id
    }
    assert informe == set(dias) - {malo}
    assert [c[:2] for c in cargas(warehouse)] == [(d, "bloqueado" if d == malo else "cargado") for d in dias]
    ultimas = eventos.ultimas_materializaciones(instance, reportes.llamadas_dia.key, dias)
    assert all(ultimas[d].asset_materialization.metadata["particion"].value == d for d in set(dias) - {malo})
    assert all("rango" not in ultimas[d].asset_materialization.metadata for d in dias)


def test_a_month_whose_every_day_was_held_publishes_no_row(ivr_writer, warehouse, instance, capsys):
    """A month of one loaded day: its month is published; once its only day is held back (the
    source emptied it), the month is not rebuilt from nothing: its row stays as it was."""
    mes = "2024-03-31"  # alone in its month in the run below
    insertar(ivr_writer, "llamadas", llamadas_del_dia(mes, 3, 1))
    argumentos = [
        "materializar",
        "--desde",
        mes,
        "--hasta",
        mes,
        "--activos",
        "staging/llamadas,reportes/clientes_unicos",
    ]
    assert main(argumentos) == 0, capsys.readouterr().err
    antes = warehouse.execute("SELECT fecha_inicio, total_clientes_unicos FROM reportes_clientes_unicos").fetchall()
    assert antes == [(date(2024, 3, 1), 1)]
    ivr_writer.execute("DELETE FROM ivr.llamadas")
    warehouse.execute("DELETE FROM reportes_clientes_unicos")  # so that a rebuilt month would show

    assert main(argumentos) != 0  # the held day fails the run, loudly
    assert warehouse.execute("SELECT count(*) FROM reportes_clientes_unicos").fetchone() == (0,)
    # the month alone, as an analyst would ask for it: nothing to publish, nothing published
    capsys.readouterr()
    solo_mes = ["materializar", "--desde", mes, "--hasta", mes, "--activos", "reportes/clientes_unicos"]
    assert main(solo_mes) == 0, capsys.readouterr().err
    assert warehouse.execute("SELECT count(*) FROM reportes_clientes_unicos").fetchone() == (0,)
    ultima = instance.get_latest_materialization_event(reportes.clientes_unicos.key)
    assert ultima.run_id != instance.get_run_records(limit=1)[0].dagster_run.run_id


def test_an_over_long_value_is_a_rejected_row(ivr_writer, warehouse, instance, monkeypatch):
    monkeypatch.setenv("IACT_MAX_TASA_RECHAZO", "1")
    ivr_writer.execute("ALTER TABLE ivr.menu_eventos ALTER COLUMN menu_nombre TYPE varchar(1000)")
    try:
        insertar(ivr_writer, "menu_eventos", [evento(1), evento(2, menu_nombre="x" * 500)])
        result = dg.materialize(
            [staging.menu_eventos],
            partition_key=DIA,
            instance=instance,
            resources=build_resources(),
            raise_on_error=False,
        )
        assert result.success
        assert warehouse.execute("SELECT evento_id FROM staging.menu_eventos").fetchall() == [(1,)]
        assert warehouse.execute(
            "SELECT record_id, field_name, error_type, severity, error_message FROM etl_validation_errors"
        ).fetchall() == [
            (
                "2",
                "menu_nombre",
                "valor_demasiado_largo",
                "error",
                "menu_nombre es más largo de lo que admite su columna de staging",
            )
        ]
    finally:
        ivr_writer.execute("TRUNCATE ivr.menu_eventos")
        ivr_writer.execute("ALTER TABLE ivr.menu_eventos ALTER COLUMN menu_nombre TYPE varchar(200)")


def test_a_range_with_one_day_over_the_reject_rate_builds_the_others(ivr_writer, warehouse, instance):
    dias = [_dia(DIA, i) for i in range(3)]
    insertar(
        ivr_writer,
        "llamadas",
        llamadas_del_dia(dias[0], 2, 10)
        + llamadas_del_dia(dias[2], 3, 30)
        + [llamada(20, f"{dias[1]} 10:00:00"), llamada(21, f"{dias[1]} 11:00:00", fin=None)],
    )  # 50% rejected

    result = correr(instance, dias[0], dias[-1])

    assert not result.success
    assert warehouse.execute(_INFORME).fetchall() == [(dias[0], 2), (dias[2], 3)]
    assert en_staging(warehouse) == [(dias[0], 2), (dias[1], 1), (dias[2], 3)]  # the valid rows are loaded
    tasa = {
        e.event_specific_data.partition: e.event_specific_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.event_specific_data.check_name == "tasa_rechazo"
        and e.event_specific_data.partition
    }
    assert tasa == {dias[0]: True, dias[1]: False, dias[2]: True}
    assert warehouse.execute("SELECT fecha::text, tasa_rechazo_excedida FROM staging_cargas ORDER BY 1").fetchall() == [
        (dias[0], False),
        (dias[1], True),
        (dias[2], False),
    ]


def test_the_analyst_reports_step_builds_the_good_days_and_fails_naming_the_three_tables(
    ivr_writer, warehouse, instance
):
    dias = [_dia(DIA, i) for i in range(3)]
    malo = dias[1]
    insertar(ivr_writer, "llamadas", llamadas_del_dia(malo, 3, 1))
    assert correr(instance, malo).success
    ivr_writer.execute("DELETE FROM ivr.llamadas")
    insertar(
        ivr_writer,
        "llamadas",
        [f for i, d in enumerate(dias) if d != malo for f in llamadas_del_dia(d, 2, 100 * (i + 1))],
    )

    result = dg.materialize(
        [staging.llamadas, *reportes.ANALISTAS],
        instance=instance,
        tags={_RANGO[0]: dias[0], _RANGO[1]: dias[-1]},
        resources=build_resources(),
        raise_on_error=False,
    )

    assert not result.success
    (fallo,) = result.get_step_failure_events()
    assert fallo.step_key == reportes.analistas.op.name
    descripcion = fallo.step_failure_data.user_failure_data.description
    for tabla in ("reportes_intervalos", "reportes_rellamadas", "lista_devolucion"):
        assert f"{tabla}: {malo} sin reconstruir (se conservan las filas anteriores)" in descripcion
    # The good days were built by all three (a 2-call day: the intervals count them), the bad
    # one has no rows: it was never built before.
    assert warehouse.execute(
        "SELECT fecha::text, sum(ofrecidas)::int FROM reportes_intervalos GROUP BY 1 ORDER BY 1"
    ).fetchall() == [(dias[0], 2), (dias[2], 2)]
    assert warehouse.execute("SELECT DISTINCT fecha::text FROM reportes_rellamadas ORDER BY 1").fetchall() == [
        (dias[0],),
        (dias[2],),
    ]
    for clave in (reportes.intervalos, reportes.rellamadas, reportes.devolucion):
        construidos = {
            r.partition_key
            for r in instance.fetch_materializations(clave, limit=100).records
            if r.asset_materialization.metadata.get("run_id")
            and r.asset_materialization.metadata["run_id"].value == result.run_id
        }
        assert construidos == {dias[0], dias[2]}


def test_each_center_is_judged_on_its_own_and_a_doubled_day_is_held(ivr_writer, warehouse, instance, monkeypatch):
    # two same weekdays of history: 10 calls of each center
    historia = [_dia(DIA, -14), _dia(DIA, -7)]
    filas = []
    for k, dia in enumerate(historia):
        filas += llamadas_del_dia(dia, 10, 1000 * (k + 1))
        filas += [dict(f, centro_id=PUE) for f in llamadas_del_dia(dia, 10, 1000 * (k + 1) + 500)]
    # the day: Nacional grows to 15, Puebla falls silent (the total, 15 against 20, is no drop)
    filas += llamadas_del_dia(DIA, 15, 5000)
    # a week later: both centers, but doubled (90 against a median of 20)
    siguiente = _dia(DIA, 7)
    filas += llamadas_del_dia(siguiente, 45, 7000) + [
        dict(f, centro_id=PUE) for f in llamadas_del_dia(siguiente, 45, 8000)
    ]
    insertar(ivr_writer, "llamadas", filas)

    for dia in (*historia, DIA, siguiente):
        correr(instance, dia)

    estados = {f: (e, leidas) for f, e, leidas, *_ in cargas(warehouse)}
    assert estados == {
        historia[0]: ("cargado", 20),
        historia[1]: ("cargado", 20),
        DIA: ("bloqueado", 15),
        siguiente: ("bloqueado", 90),
    }
    motivos = dict(
        warehouse.execute("SELECT fecha::text, motivo FROM staging_cargas WHERE estado = 'bloqueado'").fetchall()
    )
    assert motivos[DIA].startswith(f"el centro {PUE} leyó 0 filas")
    assert motivos[siguiente].startswith("leyó 90 filas, más de 1.8 x 20")
    # the doubled day's failure reaches the inbox once, sent to the volumen section of the RUNBOOK
    warehouse.execute("INSERT INTO usuarios (nombre, es_admin, activo) VALUES ('ana', true, true)")
    monkeypatch.setattr(sensores, "MARGEN_S", 0.0)
    contexto = dg.build_sensor_context(instance=instance, resources=build_resources())
    sensores.alertas_fallos(contexto)
    sensores.alertas_fallos(
        dg.build_sensor_context(instance=instance, cursor=contexto.cursor, resources=build_resources())
    )
    cuerpos = [
        b for (b,) in warehouse.execute("SELECT body FROM internal_messages WHERE body LIKE %s", (f"%{siguiente}%",))
    ]
    assert len(cuerpos) == 1 and cuerpos[0].endswith(f'sección "{alertas.SECCION_VOLUMEN}".'), cuerpos


def test_the_volume_rule_over_a_table_of_days():
    casos = [
        # leidas, previas, fraccion, pico -> start of the reason (None: a believable day)
        (0, [], 0.5, 1.8, "leyó 0 filas"),
        (0, [100, 100], 0.5, 1.8, "leyó 0 filas"),
        (5, [], 0.5, 1.8, None),  # no history: only an empty day is held
        (5, [100], 0.5, 1.8, None),  # one reference day is not a median
        (49, [100, 100], 0.5, 1.8, "leyó 49 filas, menos de 0.5 x 100"),
        (50, [100, 100], 0.5, 1.8, None),
        (180, [100, 100], 0.5, 1.8, None),
        (181, [100, 100], 0.5, 1.8, "leyó 181 filas, más de 1.8 x 100"),
        (500, [100, 100], 0.5, 0, None),  # pico 0: spikes not judged
        (99, [100, 200, 300, 400], 0.4, 1.8, "leyó 99 filas, menos de 0.4 x 250"),
    ]
    for leidas, previas, fraccion, pico, esperado in casos:
        motivo = compuerta.motivo_volumen(leidas, previas, fraccion, pico)
        assert (motivo if esperado is None else motivo[: len(esperado)]) == esperado, (leidas, previas, motivo)
