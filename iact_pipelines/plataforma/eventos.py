"""Per-partition events that Dagster shows as current, whatever the run covered.

In a single-run range Dagster 1.13 records the step's MaterializeResult on every partition of
the range with the same metadata. A per-partition `AssetMaterialization` logged after it
becomes that partition's latest, with its own metadata; a per-partition check evaluation is
current for that partition only when it is logged after it and targets it
(`target_materialization_data`, a class Dagster keeps on a private path: imported here only).
"""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)


def ultimas_materializaciones(
    instance: dg.DagsterInstance, clave: dg.AssetKey, particiones: list[str]
) -> dict[str, dg.EventLogRecord]:
    """The latest materialization record of each partition (one event-log query)."""
    ultimas: dict[str, dg.EventLogRecord] = {}
    cursor = None
    while len(ultimas) < len(particiones):
        pagina = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=clave, asset_partitions=particiones), limit=1000, cursor=cursor
        )
        for registro in pagina.records:  # newest first
            ultimas.setdefault(registro.partition_key, registro)
        if not pagina.has_more:
            break
        cursor = pagina.cursor
    return ultimas


def objetivo(registro: dg.EventLogRecord | None) -> AssetCheckEvaluationTargetMaterializationData | None:
    """What a per-partition check evaluation passes as `target_materialization_data` to be
    current for the partition whose latest materialization is `registro` (None: it has none)."""
    if registro is None:
        return None
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=registro.storage_id, run_id=registro.run_id, timestamp=registro.timestamp
    )
