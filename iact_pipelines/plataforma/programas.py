"""What every area's schedules share: the tick's local yesterday and the run it requests."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from iact_pipelines.plataforma import partitions


def ayer_local(context: dg.ScheduleEvaluationContext) -> date:
    """The local day before the tick (the tick's own time, so a late tick still means its day)."""
    zona = ZoneInfo(partitions.ZONA_HORARIA)
    momento = context.scheduled_execution_time or datetime.now(tz=zona)
    return momento.astimezone(zona).date() - timedelta(days=1)


def pedido(programa: str, clave: str, ayer: date) -> dg.RunRequest:
    """A run of partition `clave` for the tick of the day after `ayer`. The run key names the
    tick's day: a tick retried after a daemon restart launches nothing twice, while the open
    month/quarter is still refreshed on each later day."""
    return dg.RunRequest(run_key=f"{programa}:{clave}:{ayer}", partition_key=clave, tags={"iact/programa": programa})
