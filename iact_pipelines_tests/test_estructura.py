"""The package's shape: short functions, and the staging gate's states spelled only by the gate."""

import ast
import re
from pathlib import Path

import iact_pipelines
from iact_pipelines.plataforma import catalogo
from iact_pipelines.staging import compuerta

PAQUETE = Path(next(iter(iact_pipelines.__path__)))
MAXIMO_LINEAS = 80
ESTADOS = (compuerta.BLOQUEADO, compuerta.CARGADO, compuerta.ACEPTADO)
# The gate writes the states; the catalog declares the column's allowed values (and describes them).
_DUENOS = {PAQUETE / "staging" / "compuerta.py", PAQUETE / "plataforma" / "catalogo.py"}


def _arboles():
    for archivo in sorted(PAQUETE.rglob("*.py")):
        yield archivo.relative_to(PAQUETE), ast.parse(archivo.read_text(encoding="utf-8"))


def test_no_function_is_over_80_lines():
    largas = [
        f"{ruta}:{nodo.lineno} {nodo.name} ({nodo.end_lineno - nodo.lineno + 1} lines)"
        for ruta, arbol in _arboles()
        for nodo in ast.walk(arbol)
        if isinstance(nodo, (ast.FunctionDef, ast.AsyncFunctionDef))
        and nodo.end_lineno - nodo.lineno + 1 > MAXIMO_LINEAS
    ]
    assert largas == []


def test_the_gate_states_are_the_catalog_s_and_spelled_only_by_the_gate():
    assert set(catalogo.tabla("staging_cargas").columna("estado").valores) == set(ESTADOS)
    literal = re.compile(r"'({})'".format("|".join(ESTADOS)))
    fuera = [
        f"{ruta}:{nodo.lineno} {nodo.value[:60]!r}"
        for ruta, arbol in _arboles()
        if PAQUETE / ruta not in _DUENOS
        for nodo in ast.walk(arbol)
        if isinstance(nodo, ast.Constant)
        and isinstance(nodo.value, str)
        and (nodo.value in ESTADOS or literal.search(nodo.value))
    ]
    assert fuera == []
