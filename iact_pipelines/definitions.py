"""Assembles the code location: each area's definitions merged, the resources, the executor of
every job, and the owner and area tag of every asset."""

import dagster as dg

from iact_pipelines.buzon import definitions as buzon
from iact_pipelines.fuentes import definitions as fuentes
from iact_pipelines.monitoreo import definitions as monitoreo
from iact_pipelines.plataforma import ejecutores
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes import definitions as reportes
from iact_pipelines.staging import definitions as staging

# Every asset belongs to the data platform team and is tagged with its area (its group), so the
# catalog can be filtered by owner and area.
EQUIPO = "team:plataforma_datos"


def _con_propietario(spec: dg.AssetSpec) -> dg.AssetSpec:
    return spec.replace_attributes(owners=[EQUIPO]).merge_attributes(tags={"area": spec.group_name or "default"})


def _ensamblar() -> dg.Definitions:
    # Inside a function: Dagster loads the one Definitions object found at this module's scope.
    areas = dg.Definitions.merge(fuentes.defs, staging.defs, reportes.defs, monitoreo.defs, buzon.defs)
    return dg.Definitions(
        assets=dg.map_asset_specs(_con_propietario, areas.assets),
        asset_checks=areas.asset_checks,
        jobs=areas.jobs,
        schedules=areas.schedules,
        sensors=areas.sensors,
        resources=build_resources(),
        # One executor for every job, the UI's asset selections and backfills included: left to
        # Dagster, those ran a process per step (a Python start-up and a definitions load each).
        executor=ejecutores.elegido(),
    )


defs = _ensamblar()
