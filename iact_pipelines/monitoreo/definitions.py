"""Monitoring's part of the code location: the tables it writes outside the asset graph, the
freshness checks of the daily assets and of the sources, and the monitoring sensors."""

import dagster as dg

from iact_pipelines.fuentes.assets import ivr_sources
from iact_pipelines.monitoreo import frescura, objetivos, sensors
from iact_pipelines.plataforma import catalogo
from iact_pipelines.reportes.assets import DIARIOS
from iact_pipelines.staging.assets import staging_assets

# Written by the staging assets and the etl_jobs mirror as a side effect of their own work:
# declared so the UI shows each one, what writes it and what it is built from.
_STAGING = [clave for asset in staging_assets for clave in asset.keys]
tablas = [
    catalogo.tabla("etl_validation_errors").activo_externo(["monitoreo", "etl_validation_errors"], _STAGING),
    catalogo.tabla("etl_jobs").activo_externo(["monitoreo", "etl_jobs"], []),
]

checks_frescura = frescura.checks([*staging_assets, *DIARIOS], [k for s in ivr_sources for k in s.keys])

defs = dg.Definitions(
    assets=tablas,
    asset_checks=checks_frescura,
    sensors=[
        *sensors.sensors,
        frescura.sensor_de_checks(checks_frescura),
        frescura.sensor_de_alertas(checks_frescura),
        objetivos.alertas_objetivo,
    ],
)
