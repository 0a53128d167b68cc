"""Asset jobs, one per partitioning: a job's runs cover one partition or one range of it."""

import dagster as dg

from iact_pipelines.plataforma import partitions
from iact_pipelines.reportes import registro


def _reportes(particiones: str) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*(r.clave for r in registro.de_particiones(particiones)))


# Staging (whatever assets sit under staging/, with their blocking checks) and the daily
# reports built on it: the blocking checks stop a day's reports when its staging is bad.
diario = dg.define_asset_job(
    "diario",
    selection=dg.AssetSelection.key_prefixes("staging") | _reportes("diaria"),
    partitions_def=partitions.diaria,
    description="Staging de un día local y sus reportes diarios (llamadas por hora, menús, transferencias, "
    "intervalos de 15 minutos, rellamadas, lista de devolución).",
)
reportes_mensuales = dg.define_asset_job(
    "reportes_mensuales",
    selection=_reportes("mensual_en_curso"),
    partitions_def=partitions.mensual_en_curso,
    description="Clientes únicos de un mes calendario (el mes en curso hasta la fecha).",
)
reportes_trimestrales = dg.define_asset_job(
    "reportes_trimestrales",
    selection=_reportes("trimestral_en_curso"),
    partitions_def=partitions.trimestral_en_curso,
    description="Reporte trimestral de llamadas (el trimestre en curso hasta la fecha).",
)

jobs = [diario, reportes_mensuales, reportes_trimestrales]
