"""Schedules (reporting time zone, running as soon as the daemon starts).

- 02:00 daily: staging and daily reports of yesterday, and again of the day before yesterday
  (late data: rows that reached the source after its first load).
- 05:00 daily: unique clients of the month containing yesterday: month to date, and on the 1st
  the month that just closed, rebuilt final with its last day. Three hours after the daily job,
  which takes seconds for a day of a million calls.
- 05:00 Mondays and the first day of each quarter: the quarterly report of the quarter
  containing yesterday: quarter to date weekly, and the just-closed quarter once it closes.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from iact_pipelines.plataforma import partitions
from iact_pipelines.reportes import jobs

_ZONA = ZoneInfo(partitions.ZONA_HORARIA)


def ayer_local(context: dg.ScheduleEvaluationContext) -> date:
    """The local day before the tick (the tick's own time, so a late tick still means its day)."""
    momento = context.scheduled_execution_time or datetime.now(tz=_ZONA)
    return momento.astimezone(_ZONA).date() - timedelta(days=1)


def inicio_trimestre(dia: date) -> date:
    return date(dia.year, 3 * ((dia.month - 1) // 3) + 1, 1)


def _pedido(programa: str, clave: str, ayer: date) -> dg.RunRequest:
    """A run of partition `clave` for the tick of the day after `ayer`. The run key names the
    tick's day: a tick retried after a daemon restart launches nothing twice, while the open
    month/quarter is still refreshed on each later day."""
    return dg.RunRequest(run_key=f"{programa}:{clave}:{ayer}", partition_key=clave, tags={"iact/programa": programa})


@dg.schedule(
    name="diario_ayer",
    job=jobs.diario,
    cron_schedule="0 2 * * *",
    execution_timezone=partitions.ZONA_HORARIA,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Staging y reportes diarios de ayer y anteayer (datos tardíos), 02:00.",
)
def diario_ayer(context: dg.ScheduleEvaluationContext):
    ayer = ayer_local(context)
    anteayer = ayer - timedelta(days=1)
    # The day before yesterday once more: the source may have received rows after its first
    # load (late data). Its month and quarter follow (sensor periodos_tras_dias).
    return [_pedido("diario_ayer", ayer.isoformat(), ayer), _pedido("diario_ayer", anteayer.isoformat(), ayer)]


@dg.schedule(
    name="clientes_mes_en_curso",
    job=jobs.reportes_mensuales,
    cron_schedule="0 5 * * *",
    execution_timezone=partitions.ZONA_HORARIA,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Clientes únicos del mes en curso, diario 05:00; el día 1, el mes recién cerrado.",
)
def clientes_mes_en_curso(context: dg.ScheduleEvaluationContext):
    ayer = ayer_local(context)
    return _pedido("clientes_mes_en_curso", ayer.replace(day=1).isoformat(), ayer)


@dg.schedule(
    name="trimestre_en_curso",
    job=jobs.reportes_trimestrales,
    # Weekly on Mondays, and on each quarter's first day to close the previous quarter.
    cron_schedule=["0 5 * * 1", "0 5 1 1,4,7,10 *"],
    execution_timezone=partitions.ZONA_HORARIA,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Reporte trimestral en curso, lunes 05:00; el primer día de un trimestre, el recién cerrado.",
)
def trimestre_en_curso(context: dg.ScheduleEvaluationContext):
    ayer = ayer_local(context)
    return _pedido("trimestre_en_curso", inicio_trimestre(ayer).isoformat(), ayer)


schedules = [diario_ayer, clientes_mes_en_curso, trimestre_en_curso]
