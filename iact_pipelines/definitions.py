"""Assembles the code location: assets, checks, jobs, schedules, sensors and resources."""

import dagster as dg

from iact_pipelines import mantenimiento
from iact_pipelines.assets.ivr import ivr_sources
from iact_pipelines.assets.reportes import report_assets
from iact_pipelines.assets.staging import staging_assets, staging_checks
from iact_pipelines.jobs import jobs
from iact_pipelines.resources import build_resources
from iact_pipelines.schedules import schedules
from iact_pipelines.sensors import sensors

defs = dg.Definitions(
    assets=[*ivr_sources, *staging_assets, *report_assets],
    asset_checks=staging_checks,
    jobs=[*jobs, *mantenimiento.jobs],
    schedules=[*schedules, *mantenimiento.schedules],
    sensors=sensors,
    resources=build_resources(),
)
