"""Imports follow the data: an area imports only itself, the platform and the areas before it.

The flow is sources → staging → reports (and their exports) → monitoring → inbox; the platform
sits below all of them; the CLI and the code location's assembly sit above. Every import
statement of the package counts, those inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import iact_pipelines

PAQUETE = Path(next(iter(iact_pipelines.__path__)))

# Each area's place in the flow; an area may import only areas with a lower or equal number.
ORDEN = {
    "plataforma": 0,
    "demo": 1,  # writes a demo IVR source: reads only the platform
    "fuentes": 2,
    "staging": 3,
    "reportes": 4,
    "exportar": 5,
    "monitoreo": 6,
    "buzon": 7,
    "cli": 8,
    "definitions": 8,
}
# Against the flow, knowingly: monitoring delivers its alerts through the inbox's own writer
# (`buzon.mensajes.alerta_a_admins`), the one place that knows the message table.
EXCEPCIONES = {("monitoreo", "buzon")}


def _area(modulo: str) -> str | None:
    partes = modulo.split(".")
    if partes[0] != "iact_pipelines" or len(partes) < 2:
        return None
    return partes[1]


def _importados(archivo: Path) -> set[str]:
    modulos = set()
    for nodo in ast.walk(ast.parse(archivo.read_text(encoding="utf-8"))):
        if isinstance(nodo, ast.Import):
            modulos.update(a.name for a in nodo.names)
        elif isinstance(nodo, ast.ImportFrom) and nodo.module and nodo.level == 0:
            modulos.add(nodo.module)
            # `from iact_pipelines import reportes` names an area too
            modulos.update(f"{nodo.module}.{a.name}" for a in nodo.names if nodo.module == "iact_pipelines")
    return modulos


def _contra_el_flujo() -> list[str]:
    encontradas = []
    for archivo in sorted(PAQUETE.rglob("*.py")):
        relativo = archivo.relative_to(PAQUETE)
        propia = relativo.parts[0].removesuffix(".py")
        if propia not in ORDEN:
            continue
        for modulo in _importados(archivo):
            otra = _area(modulo)
            if otra is None or otra == propia or (propia, otra) in EXCEPCIONES:
                continue
            if otra not in ORDEN:
                encontradas.append(f"{relativo}: imports {modulo}, an area this test does not place")
            elif ORDEN[otra] > ORDEN[propia]:
                encontradas.append(f"{relativo}: imports {modulo} (later in the flow)")
    return encontradas


def test_no_area_imports_a_later_one():
    assert _contra_el_flujo() == []


def test_the_named_directions_hold():
    # The ones that once ran backwards: the source contract lived in staging, staging asked
    # monitoring for its run id.
    assert ORDEN["fuentes"] < ORDEN["staging"] < ORDEN["monitoreo"]
    for archivo in PAQUETE.joinpath("fuentes").rglob("*.py"):
        assert not any(_area(m) == "staging" for m in _importados(archivo)), archivo
    for archivo in PAQUETE.joinpath("staging").rglob("*.py"):
        assert not any(_area(m) == "monitoreo" for m in _importados(archivo)), archivo
