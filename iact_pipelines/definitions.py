"""Assembles the code location: assets, checks, jobs, schedules, sensors and resources."""

import dagster as dg

from iact_pipelines.buzon import purga
from iact_pipelines.fuentes import assets as fuentes
from iact_pipelines.fuentes.assets import ivr_sources
from iact_pipelines.monitoreo import frescura
from iact_pipelines.monitoreo.sensors import sensors
from iact_pipelines.monitoreo.tablas import tablas_externas
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes.assets import DIARIOS, report_assets
from iact_pipelines.reportes.jobs import jobs
from iact_pipelines.reportes.schedules import schedules
from iact_pipelines.reportes.sensors import sensors as sensores_reportes
from iact_pipelines.staging.assets import staging_assets

# Every asset belongs to the data platform team and is tagged with its area (its group), so the
# catalog can be filtered by owner and area.
EQUIPO = "team:plataforma_datos"


def _con_propietario(spec: dg.AssetSpec) -> dg.AssetSpec:
    return spec.replace_attributes(owners=[EQUIPO]).merge_attributes(tags={"area": spec.group_name or "default"})


checks_frescura = frescura.checks([*staging_assets, *DIARIOS], [k for s in ivr_sources for k in s.keys])

defs = dg.Definitions(
    assets=dg.map_asset_specs(_con_propietario, [*ivr_sources, *staging_assets, *report_assets, *tablas_externas]),
    asset_checks=checks_frescura,
    jobs=[*jobs, *fuentes.jobs, *purga.jobs],
    schedules=[*schedules, *fuentes.schedules, *purga.schedules],
    sensors=[
        *sensors,
        *sensores_reportes,
        frescura.sensor_de_checks(checks_frescura),
        frescura.sensor_de_alertas(checks_frescura),
    ],
    resources=build_resources(),
)
