"""The staging day's job and schedule.

`diario` runs every asset partitioned by local day (tag `particiones=diaria`: staging and the
daily reports built on it), so the staging checks block a day's reports in the same run when its
staging is bad. 02:00 daily it runs yesterday, and again the day before yesterday (late data:
rows that reached the source after its first load).
"""

from datetime import timedelta

import dagster as dg

from iact_pipelines.plataforma import partitions, programas

diario = dg.define_asset_job(
    "diario",
    selection=dg.AssetSelection.tag(partitions.ETIQUETA, "diaria"),
    partitions_def=partitions.diaria,
    description="Staging de un día local y sus reportes diarios (llamadas por hora, menús, transferencias, "
    "intervalos de 15 minutos, rellamadas, lista de devolución).",
)


@dg.schedule(
    name="diario_ayer",
    job=diario,
    cron_schedule="0 2 * * *",
    execution_timezone=partitions.ZONA_HORARIA,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Staging y reportes diarios de ayer y anteayer (datos tardíos), 02:00.",
)
def diario_ayer(context: dg.ScheduleEvaluationContext):
    ayer = programas.ayer_local(context)
    anteayer = ayer - timedelta(days=1)
    # The day before yesterday once more: the source may have received rows after its first
    # load (late data). Its month and quarter follow (sensor periodos_tras_dias).
    return [
        programas.pedido("diario_ayer", ayer.isoformat(), ayer),
        programas.pedido("diario_ayer", anteayer.isoformat(), ayer),
    ]
