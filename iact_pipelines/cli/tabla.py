"""Output helpers shared by the people-facing subcommands: aligned tables and JSON."""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from iact_pipelines.plataforma.config import load_settings


def hora_local(valor: datetime | None) -> str:
    """A timestamp as people read it: minutes, in the reporting time zone, labelled with it."""
    if valor is None:
        return ""
    # The zone's abbreviation says which clock it is (CST, CDT): the UI shows the browser's.
    return valor.astimezone(ZoneInfo(load_settings().zona_horaria)).strftime("%Y-%m-%d %H:%M %Z")


# Characters a terminal acts on instead of showing: C0/C1 controls and DEL (escape sequences,
# carriage return, backspace), line/paragraph separators, and bidirectional overrides that
# reorder what is displayed.
_BIDI = {0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def _peligroso(caracter: str) -> bool:
    return unicodedata.category(caracter) in ("Cc", "Zl", "Zp") or ord(caracter) in _BIDI


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def legible(texto: str, *, conservar: str = "") -> str:
    """Text safe to print: every control character shown escaped (\\n, \\e, \\x07, \\u202e),
    never sent raw to the terminal. `conservar` lists the ones kept as they are (a body's \\n)."""
    return "".join(
        c
        if c in conservar or not _peligroso(c)
        else _ESCAPES.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        for c in texto
    )


def recortar(texto: str, ancho: int) -> str:
    texto = " ".join(texto.split())  # one line per row, whatever the text holds
    return texto if len(texto) <= ancho else texto[: ancho - 1] + "…"


def imprimir_tabla(encabezados: Sequence[str], filas: Sequence[Sequence[object]], *, vacio: str) -> None:
    if not filas:
        print(vacio)
        return
    celdas = [[legible(str(c)) for c in encabezados]] + [
        ["" if v is None else legible(str(v)) for v in fila] for fila in filas
    ]
    anchos = [max(len(fila[i]) for fila in celdas) for i in range(len(encabezados))]
    for n, fila in enumerate(celdas):
        print("  ".join(valor.ljust(ancho) for valor, ancho in zip(fila, anchos, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * ancho for ancho in anchos))


# json.dumps escapes U+0000-U+001F itself; these it would leave raw.
_JSON_CRUDOS = re.compile("[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def imprimir_json(datos: object) -> None:
    """JSON with the exact values; the characters a terminal would act on as \\u escapes."""
    texto = json.dumps(datos, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write(_JSON_CRUDOS.sub(lambda m: f"\\u{ord(m.group()):04x}", texto) + "\n")
