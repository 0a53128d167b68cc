"""The reports' part of the code location: the report assets, their jobs, schedules and sensor."""

import dagster as dg

from iact_pipelines.plataforma import catalogo
from iact_pipelines.reportes import jobs, schedules, sensors
from iact_pipelines.reportes.assets import report_assets

# The per-center targets admins set with `iact objetivos`, read by the staffing reports.
objetivos_centro = catalogo.tabla("objetivos_centro").activo_externo(["reportes", "objetivos_centro"], [])

defs = dg.Definitions(
    assets=[*report_assets, objetivos_centro],
    jobs=jobs.jobs,
    schedules=schedules.schedules,
    sensors=sensors.sensors,
)
