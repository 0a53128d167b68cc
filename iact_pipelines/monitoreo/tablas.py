"""The tables the platform writes outside the asset graph, declared as external assets so the
UI shows each one, what writes it, and what it is built from (etl_jobs and alerts: monitoreo/;
the inbox: buzon/). Dagster never materializes them:
the sensors and the staging assets write them as a side effect of their own work."""

import dagster as dg

from iact_pipelines.plataforma import catalogo

_STAGING = [dg.AssetKey(["staging", t]) for t in ("llamadas", "menu_eventos", "transferencias")]


def _tabla(clave: list[str], tabla: str, deps: list[dg.AssetKey]) -> dg.AssetSpec:
    t = catalogo.tabla(tabla)
    return dg.AssetSpec(
        key=dg.AssetKey(clave),
        description=f"{t.descripcion} Escrita por: {t.escrita_por}.",
        group_name=clave[0],
        kinds={"postgres"},
        deps=deps,
        metadata={**t.metadata_dagster(), "escrita_por": t.escrita_por},
    )


tablas_externas = [
    _tabla(["monitoreo", "etl_validation_errors"], "etl_validation_errors", _STAGING),
    _tabla(["monitoreo", "etl_jobs"], "etl_jobs", []),
    _tabla(["buzon", "internal_messages"], "internal_messages", [dg.AssetKey(["monitoreo", "etl_jobs"])]),
]
