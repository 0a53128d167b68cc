"""The inbox's part of the code location: its table (written by the alert sensors and the CLI,
declared so the UI shows it) and the daily purge."""

import dagster as dg

from iact_pipelines.buzon import purga
from iact_pipelines.plataforma import catalogo

internal_messages = catalogo.tabla("internal_messages").activo_externo(
    ["buzon", "internal_messages"], [dg.AssetKey(["monitoreo", "etl_jobs"])]
)

defs = dg.Definitions(assets=[internal_messages], jobs=purga.jobs, schedules=purga.schedules)
