"""Housekeeping: a daily job that purges inbox messages expired for more than IACT_PURGA_DIAS
days (expired messages are already hidden from users; the grace period keeps them around for
anyone investigating before they are deleted)."""

# No `from __future__ import annotations`: Dagster reads the op's annotations at definition time.

import dagster as dg

from iact_pipelines.buzon import mensajes as buzon
from iact_pipelines.plataforma.config import load_settings
from iact_pipelines.plataforma.partitions import ZONA_HORARIA
from iact_pipelines.plataforma.resources import WarehouseResource, errores_clasificados


class PurgaConfig(dg.Config):
    # None: the IACT_PURGA_DIAS setting (default 30), read when the run starts.
    dias: int | None = None


@dg.op(description="Borra los mensajes del buzón vencidos hace más que el periodo de gracia (días).")
def purgar_mensajes_expirados(
    context: dg.OpExecutionContext, config: PurgaConfig, warehouse: WarehouseResource
) -> dg.Output[int]:
    dias = config.dias if config.dias is not None else load_settings().purga_dias
    with errores_clasificados(), warehouse.connect() as conn:
        purgados = buzon.purgar_expirados(conn, dias=dias)
    context.log.info(f"purgado(s) {purgados} mensaje(s) vencido(s) hace más de {dias} día(s)")
    return dg.Output(purgados, metadata={"mensajes_purgados": purgados, "dias_de_gracia": dias})


@dg.job(description="Purga los mensajes del buzón vencidos hace más de IACT_PURGA_DIAS días.")
def purga_buzon():
    purgar_mensajes_expirados()


purga_buzon_diaria = dg.ScheduleDefinition(
    name="purga_buzon_diaria",
    job=purga_buzon,
    cron_schedule="30 3 * * *",  # a quiet hour, after the nightly report schedules
    execution_timezone=ZONA_HORARIA,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Purga diaria de mensajes vencidos hace más de IACT_PURGA_DIAS días.",
)

jobs: list = [purga_buzon]
schedules: list = [purga_buzon_diaria]
