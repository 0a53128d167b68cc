"""Staging's part of the code location: its assets (with their blocking checks), job and schedule."""

import dagster as dg

from iact_pipelines.staging import programas
from iact_pipelines.staging.assets import staging_assets

defs = dg.Definitions(assets=staging_assets, jobs=[programas.diario], schedules=[programas.diario_ayer])
