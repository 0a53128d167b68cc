"""argparse's own texts in Spanish ("usage:", "show this help message and exit", its errors).

argparse marks them for gettext and looks its `_`/`ngettext` up at call time, so replacing those
two names in its module translates every parser of the process without touching argparse
itself. A text argparse adds in a later Python and missing here stays in English.
"""

from __future__ import annotations

import argparse

TEXTOS = {
    "usage: ": "uso: ",
    "positional arguments": "argumentos posicionales",
    "options": "opciones",
    "optional arguments": "opciones",
    "show this help message and exit": "muestra esta ayuda y termina",
    "show program's version number and exit": "muestra la versión y termina",
    "%(prog)s: error: %(message)s\n": "%(prog)s: error: %(message)s\n",
    "the following arguments are required: %s": "faltan los argumentos obligatorios: %s",
    "unrecognized arguments: %s": "argumentos no reconocidos: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "opción no válida: %(value)r (elija entre %(choices)s)",
    "invalid %(type)s value: %(value)r": "valor %(type)s no válido: %(value)r",
    "argument %(argument_name)s: %(message)s": "argumento %(argument_name)s: %(message)s",
    "ambiguous option: %(option)s could match %(matches)s": "opción ambigua: %(option)s puede ser %(matches)s",
    "not allowed with argument %s": "no se permite junto con el argumento %s",
    "ignored explicit argument %r": "argumento explícito ignorado %r",
    "one of the arguments %s is required": "se requiere uno de los argumentos %s",
    "expected one argument": "se esperaba un argumento",
    "expected at most one argument": "se esperaba como máximo un argumento",
    "expected at least one argument": "se esperaba al menos un argumento",
    "unexpected option string: %s": "opción inesperada: %s",
    "%r is not callable": "%r no se puede llamar",
    "cannot merge actions - two groups are named %r": "no se pueden unir acciones: dos grupos se llaman %r",
}
_PLURALES = {
    "expected %s argument": ("se esperaba %s argumento", "se esperaban %s argumentos"),
}


def traducir(texto: str) -> str:
    return TEXTOS.get(texto, texto)


def traducir_plural(singular: str, plural: str, n: int) -> str:
    uno, varios = _PLURALES.get(singular, (singular, plural))
    return uno if n == 1 else varios


def instalar() -> None:
    """Every argparse text of this process in Spanish from now on."""
    argparse._ = traducir
    argparse.ngettext = traducir_plural
