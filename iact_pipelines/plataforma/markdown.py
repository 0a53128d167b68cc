"""The one Markdown table renderer, for materialization metadata shown in the Dagster UI."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def _celda(valor) -> str:
    """A cell: empty for NULL/NaN, `|` escaped and line breaks flattened so a value from the
    source can never break the table's layout."""
    if valor is None or (isinstance(valor, float) and math.isnan(valor)):
        return ""
    texto = str(valor)
    if texto in ("NaT", "<NA>"):
        return ""
    return texto.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def tabla_md(columnas: Sequence[str], filas: Iterable[Sequence]) -> str:
    lineas = ["| " + " | ".join(_celda(c) for c in columnas) + " |", "|" + "---|" * len(columnas)]
    lineas += ["| " + " | ".join(_celda(v) for v in fila) + " |" for fila in filas]
    return "\n".join(lineas)
