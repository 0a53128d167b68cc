"""Read a run's phases back from the Dagster instance: step durations and the seconds each
asset reports in its materialization metadata (`segundos_*`)."""

from __future__ import annotations

from collections import defaultdict

import dagster as dg


def fases_de_runs(instance: dg.DagsterInstance, run_ids: list[str]) -> dict[str, float]:
    """Seconds by phase summed over the runs: extract/validate/load/report from the assets'
    metadata, `pasos` (sum of step wall times) and `run` (run start to end)."""
    fases: dict[str, float] = defaultdict(float)
    for run_id in run_ids:
        inicio_paso: dict[str, float] = {}
        inicio_run = fin_run = None
        vistos: set = set()
        for evento in instance.all_logs(run_id):
            tipo = evento.dagster_event_type
            if tipo == dg.DagsterEventType.RUN_START:
                inicio_run = evento.timestamp
            elif tipo in (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE):
                fin_run = evento.timestamp
            elif tipo == dg.DagsterEventType.STEP_START:
                inicio_paso[evento.step_key] = evento.timestamp
            elif tipo in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                fases["pasos"] += evento.timestamp - inicio_paso.pop(evento.step_key, evento.timestamp)
            elif tipo == dg.DagsterEventType.ASSET_MATERIALIZATION:
                # A range run repeats the same metadata for every partition: once per asset.
                if evento.dagster_event.asset_key in vistos:
                    continue
                vistos.add(evento.dagster_event.asset_key)
                metadata = evento.dagster_event.event_specific_data.materialization.metadata
                for clave, valor in metadata.items():
                    if clave.startswith("segundos_"):
                        fases[clave.removeprefix("segundos_")] += float(valor.value)
        if inicio_run is not None and fin_run is not None:
            fases["run"] += fin_run - inicio_run
    return dict(fases)
