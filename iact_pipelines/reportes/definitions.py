"""The reports' part of the code location: the report assets, their jobs, schedules and sensor."""

import dagster as dg

from iact_pipelines.reportes import jobs, schedules, sensors
from iact_pipelines.reportes.assets import report_assets

defs = dg.Definitions(assets=report_assets, jobs=jobs.jobs, schedules=schedules.schedules, sensors=sensors.sensors)
