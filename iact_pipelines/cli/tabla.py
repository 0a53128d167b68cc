"""Output helpers shared by the people-facing subcommands: aligned tables and JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from iact_pipelines.plataforma.config import load_settings


def hora_local(valor: datetime | None) -> str:
    """A timestamp as people read it: minutes, in the reporting time zone."""
    if valor is None:
        return ""
    return valor.astimezone(ZoneInfo(load_settings().zona_horaria)).strftime("%Y-%m-%d %H:%M")


def recortar(texto: str, ancho: int) -> str:
    texto = " ".join(texto.split())  # one line per row, whatever the text holds
    return texto if len(texto) <= ancho else texto[: ancho - 1] + "…"


def imprimir_tabla(encabezados: Sequence[str], filas: Sequence[Sequence[object]], *, vacio: str) -> None:
    if not filas:
        print(vacio)
        return
    celdas = [[str(c) for c in encabezados]] + [["" if v is None else str(v) for v in fila] for fila in filas]
    anchos = [max(len(fila[i]) for fila in celdas) for i in range(len(encabezados))]
    for n, fila in enumerate(celdas):
        print("  ".join(valor.ljust(ancho) for valor, ancho in zip(fila, anchos)).rstrip())
        if n == 0:
            print("  ".join("-" * ancho for ancho in anchos))


def imprimir_json(datos: object) -> None:
    json.dump(datos, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
