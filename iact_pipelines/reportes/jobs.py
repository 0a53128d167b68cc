"""Asset jobs of the periods, one per partitioning: a job's runs cover one partition or one range
of it. The daily reports run in staging's daily job (`staging.programas.diario`)."""

import dagster as dg

from iact_pipelines.plataforma import partitions
from iact_pipelines.reportes import registro


def _reportes(particiones: str) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*(r.clave for r in registro.de_particiones(particiones)))


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

jobs = [reportes_mensuales, reportes_trimestrales]
