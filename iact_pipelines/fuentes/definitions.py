"""The sources' part of the code location: the observed IVR tables, their job and schedule."""

import dagster as dg

from iact_pipelines.fuentes import assets

defs = dg.Definitions(assets=assets.ivr_sources, jobs=assets.jobs, schedules=assets.schedules)
