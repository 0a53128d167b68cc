"""The merged code location, written out as text and compared with `definiciones.txt`.

Any change to the definitions (an asset added, a check renamed, a job's selection widened, a
schedule moved) shows up as a diff of that file. When the change is intended, rewrite it:

    IACT_ACTUALIZAR_DEFINICIONES=1 python -m pytest -q iact_pipelines_tests/test_definitions_snapshot.py

and commit the new file with the change, so the review sees exactly what moved.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from iact_pipelines import definitions
from iact_pipelines.definitions import defs

ARCHIVO = Path(__file__).with_name("definiciones.txt")


def _claves(claves) -> str:
    return ", ".join(sorted(c.to_user_string() for c in claves)) or "-"


def _particiones(definicion) -> str:
    return str(definicion) if definicion is not None else "-"


def _activos(grafo) -> list[str]:
    lineas = []
    for clave in sorted(grafo.get_all_asset_keys(), key=lambda c: c.to_user_string()):
        nodo = grafo.get(clave)
        etiquetas = ", ".join(f"{k}={v}" for k, v in sorted(nodo.tags.items())) or "-"
        lineas += [
            f"asset {clave.to_user_string()}",
            f"  group: {nodo.group_name}",
            f"  partitions: {_particiones(nodo.partitions_def)}",
            f"  deps: {_claves(nodo.parent_keys)}",
            f"  owners: {', '.join(nodo.owners) or '-'}",
            f"  tags: {etiquetas}",
        ]
        lineas.append(f"  execution: {_ejecucion(nodo)}")
        if nodo.is_materializable:  # the step that builds it (several assets may share one)
            lineas.append(f"  step: {nodo.assets_def.node_def.name}")
        for check in sorted(nodo.check_keys, key=lambda c: c.name):
            bloqueante = " (blocking)" if grafo.get(check).blocking else ""
            lineas.append(f"  check {check.name}{bloqueante}")
    return lineas


def _ejecucion(nodo) -> str:
    if nodo.is_materializable:
        return "materializable"
    return "observable" if nodo.is_observable else "external"


def _jobs() -> list[str]:
    lineas = []
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__ASSET_JOB"):
            continue  # Dagster's implicit job: every asset, already listed above
        capa = job.asset_layer
        lineas += [f"job {job.name}", f"  partitions: {_particiones(job.partitions_def)}"]
        lineas += [f"  asset {c.to_user_string()}" for c in sorted(capa.executable_asset_keys, key=str)]
        lineas += [f"  check {c.to_user_string()}" for c in sorted(capa.asset_graph.asset_check_keys, key=str)]
        if not capa.executable_asset_keys:
            lineas += [f"  op {n.name}" for n in sorted(job.nodes_in_topological_order, key=lambda n: n.name)]
    return lineas


def _schedules() -> list[str]:
    lineas = []
    for programa in sorted(defs.get_repository_def().schedule_defs, key=lambda s: s.name):
        lineas += [
            f"schedule {programa.name}",
            f"  job: {programa.job_name}",
            f"  cron: {programa.cron_schedule}",
            f"  timezone: {programa.execution_timezone or '-'}",
            f"  default: {programa.default_status.value}",
        ]
    return lineas


def _sensors() -> list[str]:
    lineas = []
    for sensor in sorted(defs.get_repository_def().sensor_defs, key=lambda s: s.name):
        jobs = ", ".join(sorted(t.job_name for t in sensor.targets)) or "-"
        lineas += [
            f"sensor {sensor.name}",
            f"  jobs: {jobs}",
            f"  interval: {sensor.minimum_interval_seconds}",
            f"  default: {sensor.default_status.value}",
        ]
    return lineas


def describir() -> str:
    """The merged definitions as sorted, stable text (no descriptions: wording is not shape)."""
    grafo = defs.resolve_asset_graph()
    lineas = [*_activos(grafo), *_jobs(), *_schedules(), *_sensors()]
    lineas.append(f"resources: {', '.join(sorted(defs.resources or {}))}")
    return "\n".join(lineas) + "\n"


def test_the_merged_definitions_are_the_snapshot():
    actual = describir()
    if os.environ.get("IACT_ACTUALIZAR_DEFINICIONES"):
        ARCHIVO.write_text(actual, encoding="utf-8")
    # Dagster's loader accepts exactly one Definitions object at the module's scope.
    assert [v for v in vars(definitions).values() if isinstance(v, dg.Definitions)] == [defs]
    assert actual == ARCHIVO.read_text(encoding="utf-8"), (
        "the definitions changed: if intended, rewrite the snapshot with IACT_ACTUALIZAR_DEFINICIONES=1 "
        "(see this module's docstring) and commit it"
    )
