"""Schedules of the periods (reporting time zone, running as soon as the daemon starts); the
daily one, 02:00, is staging's (`staging.programas`).

- 05:00 daily: unique clients of the month containing yesterday: month to date, and on the 1st
  the month that just closed, rebuilt final with its last day. Three hours after the daily job,
  which takes seconds for a day of a million calls.
- 05:00 Mondays and the first day of each quarter: the quarterly report of the quarter
  containing yesterday: quarter to date weekly, and the just-closed quarter once it closes.
"""

from datetime import date

import dagster as dg

from iact_pipelines.plataforma import partitions, programas
from iact_pipelines.reportes import jobs


def inicio_trimestre(dia: date) -> date:
    return date(dia.year, 3 * ((dia.month - 1) // 3) + 1, 1)


@dg.schedule(
    name="clientes_mes_en_curso",
    job=jobs.reportes_mensuales,
    cron_schedule="0 5 * * *",
    execution_timezone=partitions.ZONA_HORARIA,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Clientes únicos del mes en curso, diario 05:00; el día 1, el mes recién cerrado.",
)
def clientes_mes_en_curso(context: dg.ScheduleEvaluationContext):
    ayer = programas.ayer_local(context)
    return programas.pedido("clientes_mes_en_curso", ayer.replace(day=1).isoformat(), ayer)


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
    ayer = programas.ayer_local(context)
    return programas.pedido("trimestre_en_curso", inicio_trimestre(ayer).isoformat(), ayer)


schedules = [clientes_mes_en_curso, trimestre_en_curso]
