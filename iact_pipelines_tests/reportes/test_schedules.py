"""Schedules request the right partitions, in the reporting time zone, and run by default."""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from iact_pipelines.plataforma import partitions
from iact_pipelines.reportes import jobs
from iact_pipelines.reportes.schedules import clientes_mes_en_curso, trimestre_en_curso
from iact_pipelines.staging import programas
from iact_pipelines.staging.programas import diario_ayer

schedules = [diario_ayer, clientes_mes_en_curso, trimestre_en_curso]

ZONA = ZoneInfo("America/Mexico_City")


def _claves(schedule, momento: datetime) -> list[str]:
    context = dg.build_schedule_context(scheduled_execution_time=momento)
    resultado = schedule(context)
    pedidos = resultado if isinstance(resultado, list) else [resultado]
    assert all(isinstance(p, dg.RunRequest) for p in pedidos)
    return [p.partition_key for p in pedidos]


def test_all_schedules_run_by_default_in_the_reporting_zone():
    assert {s.name for s in schedules} == {"diario_ayer", "clientes_mes_en_curso", "trimestre_en_curso"}
    for schedule in schedules:
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
        assert schedule.execution_timezone == "America/Mexico_City"
    assert diario_ayer.job_name == "diario" and diario_ayer.cron_schedule == "0 2 * * *"
    # the month-to-date run comes hours after the daily job has loaded yesterday
    assert clientes_mes_en_curso.job_name == "reportes_mensuales"
    assert trimestre_en_curso.job_name == "reportes_trimestrales"
    assert set(trimestre_en_curso.cron_schedule) == {"0 5 * * 1", "0 5 1 1,4,7,10 *"}


@pytest.mark.parametrize(
    "momento, esperado",
    [
        (datetime(2024, 3, 10, 2, 0, tzinfo=ZONA), ["2024-03-09", "2024-03-08"]),
        (datetime(2024, 3, 1, 2, 0, tzinfo=ZONA), ["2024-02-29", "2024-02-28"]),  # leap day
        (datetime(2025, 1, 1, 2, 0, tzinfo=ZONA), ["2024-12-31", "2024-12-30"]),
        # a tick given in UTC still means the local day: 07:00 UTC on the 10th is 01:00 local
        (datetime(2024, 3, 10, 7, 0, tzinfo=ZoneInfo("UTC")), ["2024-03-09", "2024-03-08"]),
        (datetime(2024, 3, 10, 5, 0, tzinfo=ZoneInfo("UTC")), ["2024-03-08", "2024-03-07"]),  # 23:00 local on the 9th
    ],
)
def test_daily_job_is_yesterday_and_the_day_before(momento, esperado):
    """Yesterday, and the day before once more for late data."""
    assert _claves(diario_ayer, momento) == esperado


@pytest.mark.parametrize(
    "momento, esperado",
    [
        (datetime(2024, 3, 15, 5, 0, tzinfo=ZONA), "2024-03-01"),  # month to date
        (datetime(2024, 3, 2, 5, 0, tzinfo=ZONA), "2024-03-01"),
        (datetime(2024, 3, 1, 5, 0, tzinfo=ZONA), "2024-02-01"),  # February just closed: final rebuild
        (datetime(2025, 1, 1, 5, 0, tzinfo=ZONA), "2024-12-01"),
    ],
)
def test_clients_month_to_date_and_the_closed_month(momento, esperado):
    assert _claves(clientes_mes_en_curso, momento) == [esperado]


@pytest.mark.parametrize(
    "momento, esperado",
    [
        (datetime(2024, 4, 15, 5, 0, tzinfo=ZONA), "2024-04-01"),  # Monday: quarter to date
        (datetime(2024, 6, 24, 5, 0, tzinfo=ZONA), "2024-04-01"),
        (datetime(2024, 4, 1, 5, 0, tzinfo=ZONA), "2024-01-01"),  # Q1 just closed (a Monday too)
        (datetime(2024, 10, 1, 5, 0, tzinfo=ZONA), "2024-07-01"),  # Q3 just closed (a Tuesday)
        (datetime(2025, 1, 1, 5, 0, tzinfo=ZONA), "2024-10-01"),
    ],
)
def test_quarter_to_date_and_the_closed_quarter(momento, esperado):
    assert _claves(trimestre_en_curso, momento) == [esperado]


def _ticks(schedule, desde: datetime):
    # The iterator the daemon uses: with several cron strings a shared time ticks once.
    from dagster._utils.schedules import schedule_execution_time_iterator

    return schedule_execution_time_iterator(desde.timestamp(), schedule.cron_schedule, schedule.execution_timezone)


def test_the_quarter_schedule_ticks_weekly_and_on_quarter_starts():
    ticks = _ticks(trimestre_en_curso, datetime(2024, 3, 28, tzinfo=ZONA))
    primeros = [next(ticks).strftime("%Y-%m-%d %a") for _ in range(4)]
    # Monday 1 April is both: one tick
    assert primeros == ["2024-04-01 Mon", "2024-04-08 Mon", "2024-04-15 Mon", "2024-04-22 Mon"]
    ticks = _ticks(trimestre_en_curso, datetime(2024, 9, 28, tzinfo=ZONA))
    assert [next(ticks).strftime("%Y-%m-%d") for _ in range(3)] == ["2024-09-30", "2024-10-01", "2024-10-07"]


def test_todays_ticks_request_partitions_that_exist():
    """The open month and quarter exist as partitions (end_offset=1), yesterday as a day."""
    ahora = datetime.now(tz=ZONA)
    for schedule, job in (
        (diario_ayer, programas.diario),
        (clientes_mes_en_curso, jobs.reportes_mensuales),
        (trimestre_en_curso, jobs.reportes_trimestrales),
    ):
        for clave in _claves(schedule, ahora):
            assert clave in job.partitions_def.get_partition_keys(), (schedule.name, clave)
    assert programas.diario.partitions_def == partitions.diaria


def test_jobs_select_staging_with_the_daily_reports():
    from iact_pipelines.definitions import defs

    diario = defs.resolve_job_def("diario")
    claves = {"/".join(k.path) for k in diario.asset_layer.executable_asset_keys}
    assert {"reportes/llamadas_dia", "reportes/menu_problemas", "reportes/transferencias"} <= claves
    assert all(c.startswith(("staging/", "reportes/")) for c in claves)
    assert {"/".join(k.path) for k in defs.resolve_job_def("reportes_mensuales").asset_layer.executable_asset_keys} == {
        "reportes/clientes_unicos"
    }
