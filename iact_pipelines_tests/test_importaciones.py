"""No test module imports another test module (nor a conftest): shared builders live in modules
of their own (`ayudas.py`) and shared fixtures in each folder's conftest.py, so a test module can
be read, run and deleted on its own, and a fixture is never defined twice under one name."""

import ast
from pathlib import Path

RAIZ = Path(__file__).parent


def _es_de_pruebas(modulo: str) -> bool:
    ultimo = modulo.rsplit(".", 1)[-1]
    return ultimo.startswith("test_") or ultimo == "conftest"


def _importados(arbol: ast.Module) -> list[str]:
    """Every module an import statement names, `from a import b` counted as both a and a.b."""
    modulos = []
    for nodo in ast.walk(arbol):
        if isinstance(nodo, ast.Import):
            modulos += [alias.name for alias in nodo.names]
        elif isinstance(nodo, ast.ImportFrom):
            base = "." * nodo.level + (nodo.module or "")
            modulos += [base, *(f"{base}.{alias.name}" for alias in nodo.names)]
    return modulos


def test_no_test_module_imports_another():
    cruzados = [
        f"{ruta.relative_to(RAIZ)} imports {modulo}"
        for ruta in sorted(RAIZ.rglob("test_*.py"))
        for modulo in _importados(ast.parse(ruta.read_text(), str(ruta)))
        if _es_de_pruebas(modulo)
    ]
    assert cruzados == []
