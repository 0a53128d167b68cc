"""The ivr/* source assets are observed: rows per recent local day and latest start, read-only,
on a 15-minute schedule."""

import warnings
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from iact_pipelines_tests.staging.ayudas import evento, insertar, llamada

ZONA = ZoneInfo("America/Mexico_City")


def _defs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from iact_pipelines.definitions import defs
    return defs


def test_observation_counts_rows_per_recent_local_day(ivr_writer, instance):
    hoy = datetime.now(ZONA).date()
    momento = lambda dias, h, m=0: datetime.combine(hoy - timedelta(days=dias), time(h, m), ZONA)  # noqa: E731
    insertar(
        ivr_writer,
        "llamadas",
        [
            llamada(1, momento(0, 0, 30)),
            llamada(2, momento(0, 0, 10)),
            llamada(3, momento(2, 23, 59)),
            llamada(4, momento(2, 0, 0)),
            llamada(5, momento(2, 12)),
            llamada(6, momento(10, 12)),
        ],
    )  # 10 days ago: outside the observed week
    insertar(ivr_writer, "menu_eventos", [evento(1, momento(1, 8).strftime("%Y-%m-%d %H:%M:%S"))])
    antes = ivr_writer.execute("SELECT count(*) FROM ivr.llamadas").fetchone()

    defs = _defs()
    result = defs.resolve_job_def("observar_fuentes").execute_in_process(instance=instance)

    assert result.success
    observaciones = {
        "/".join(e.asset_key.path): {k: v.value for k, v in e.event_specific_data.asset_observation.metadata.items()}
        for e in result.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    }
    semana = [(hoy - timedelta(days=i)).isoformat() for i in reversed(range(7))]
    assert observaciones["ivr/llamadas"]["filas_por_dia"] == {
        d: {0: 2, 2: 3}.get((hoy - datetime.fromisoformat(d).date()).days, 0) for d in semana
    }
    assert observaciones["ivr/llamadas"]["filas_hoy"] == 2
    assert observaciones["ivr/llamadas"]["ultimo_inicio"] == momento(0, 0, 30).timestamp()
    assert observaciones["ivr/menu_eventos"]["filas_por_dia"][semana[-2]] == 1
    assert sum(observaciones["ivr/transferencias"]["filas_por_dia"].values()) == 0
    assert observaciones["ivr/transferencias"]["ultimo_inicio"] is None
    assert ivr_writer.execute("SELECT count(*) FROM ivr.llamadas").fetchone() == antes
    # the UI shows the latest observation of each source asset
    registro = instance.get_latest_data_version_record(dg.AssetKey(["ivr", "llamadas"]), is_source=True)
    assert registro is not None


def test_sources_are_observed_every_15_minutes():
    defs = _defs()
    programa = defs.resolve_schedule_def("observar_fuentes_cada_15_min")
    assert programa.cron_schedule == "*/15 * * * *" and programa.default_status == dg.DefaultScheduleStatus.RUNNING
    claves = {"/".join(k.path) for k in defs.resolve_job_def("observar_fuentes").asset_layer.executable_asset_keys}
    assert claves == {"ivr/llamadas", "ivr/menu_eventos", "ivr/transferencias"}
