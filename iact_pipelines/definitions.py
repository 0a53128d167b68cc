"""Assembles the code location: assets, checks, jobs, schedules, sensors and resources."""

import dagster as dg

from iact_pipelines.buzon import purga
from iact_pipelines.fuentes import assets as fuentes
from iact_pipelines.fuentes.assets import ivr_sources
from iact_pipelines.reportes.assets import report_assets
from iact_pipelines.staging.assets import staging_assets, staging_checks
from iact_pipelines.reportes.jobs import jobs
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes.schedules import schedules
from iact_pipelines.reportes.sensores import sensors as sensores_reportes
from iact_pipelines.monitoreo.sensors import sensors

defs = dg.Definitions(
    assets=[*ivr_sources, *staging_assets, *report_assets],
    asset_checks=staging_checks,
    jobs=[*jobs, *fuentes.jobs, *purga.jobs],
    schedules=[*schedules, *fuentes.schedules, *purga.schedules],
    sensors=[*sensors, *sensores_reportes],
    resources=build_resources(),
)
