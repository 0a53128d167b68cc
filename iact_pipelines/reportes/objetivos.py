"""Per-center service-level targets: the X and T in `objetivos_centro` that replace the settings
(`IACT_OBJETIVO_NIVEL_SERVICIO`, `IACT_UMBRAL_NIVEL_SERVICIO`) for one center. Admins change them
with `iact objetivos`; a NULL keeps the setting for that value. The reports read them when they
are built (T by reportes/intervalos, which counts the calls answered within it; X by
reportes/dimensionamiento), and every row records the values it used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import psycopg

_CENTRO = re.compile(r"^\d{8}$")

_FIJAR = """
INSERT INTO objetivos_centro (centro_id, objetivo, umbral_s, actualizado_por, updated_at)
VALUES (%(centro)s, %(objetivo)s, %(umbral)s, current_user, now())
ON CONFLICT (centro_id) DO UPDATE SET
    objetivo = CASE WHEN %(cambia_objetivo)s THEN EXCLUDED.objetivo ELSE objetivos_centro.objetivo END,
    umbral_s = CASE WHEN %(cambia_umbral)s THEN EXCLUDED.umbral_s ELSE objetivos_centro.umbral_s END,
    actualizado_por = EXCLUDED.actualizado_por, updated_at = EXCLUDED.updated_at
RETURNING centro_id
"""
# A row left with neither value means the center follows the settings: it goes.
_LIMPIAR = "DELETE FROM objetivos_centro WHERE centro_id = %s AND objetivo IS NULL AND umbral_s IS NULL"
_QUITAR = "DELETE FROM objetivos_centro WHERE centro_id = %s RETURNING centro_id"
_LEER = "SELECT centro_id, objetivo, umbral_s, actualizado_por, updated_at FROM objetivos_centro ORDER BY centro_id"


class ObjetivoError(ValueError):
    """A mistake setting a target, as one line for a person."""


@dataclass(frozen=True)
class Objetivo:
    """The target a center's rows are built with, and where each value comes from."""

    centro_id: str
    objetivo: Decimal
    umbral_s: Decimal
    objetivo_propio: bool  # from objetivos_centro, not the setting
    umbral_propio: bool
    actualizado_por: str | None = None


def _validar(centro: str, objetivo: Decimal | None, umbral: Decimal | None) -> None:
    if not _CENTRO.match(centro):
        raise ObjetivoError(f"centro {centro!r} no válido: 8 dígitos, p. ej. 19028031")
    if objetivo is not None and not Decimal(0) <= objetivo <= Decimal("99.99"):
        raise ObjetivoError(f"objetivo {objetivo} fuera de 0..99.99 (porcentaje)")
    if umbral is not None and not Decimal(0) <= umbral <= Decimal(86400):
        raise ObjetivoError(f"umbral {umbral} fuera de 0..86400 segundos")


def fijar(
    conn: psycopg.Connection,
    centro: str,
    *,
    objetivo: Decimal | None = None,
    umbral: Decimal | None = None,
    quitar_objetivo: bool = False,
    quitar_umbral: bool = False,
) -> None:
    """Set (or with quitar_*, return to the setting) a center's X and/or T."""
    _validar(centro, objetivo, umbral)
    if objetivo is None and umbral is None and not (quitar_objetivo or quitar_umbral):
        raise ObjetivoError("nada que cambiar: indica --objetivo, --umbral o qué quitar")
    with conn.transaction():
        conn.execute(
            _FIJAR,
            {
                "centro": centro,
                "objetivo": objetivo,
                "umbral": umbral,
                "cambia_objetivo": objetivo is not None or quitar_objetivo,
                "cambia_umbral": umbral is not None or quitar_umbral,
            },
        )
        conn.execute(_LIMPIAR, (centro,))


def quitar(conn: psycopg.Connection, centro: str) -> bool:
    """The center follows the settings again; False when it had no target of its own."""
    _validar(centro, None, None)
    with conn.transaction():
        return conn.execute(_QUITAR, (centro,)).fetchone() is not None


def efectivos(conn: psycopg.Connection, centros: list[str], objetivo: float, umbral: float) -> dict[str, Objetivo]:
    """Each center's target: the allowed centers and any center with a row, the settings where
    the table has no value."""
    propios = {fila[0]: fila for fila in conn.execute(_LEER).fetchall()}
    defecto_x, defecto_t = Decimal(str(objetivo)), Decimal(str(umbral))
    resultado = {}
    for centro in sorted({*centros, *propios}):
        _, x, t, por, _ = propios.get(centro, (centro, None, None, None, None))
        resultado[centro] = Objetivo(
            centro,
            x if x is not None else defecto_x,
            t if t is not None else defecto_t,
            x is not None,
            t is not None,
            por,
        )
    return resultado


def umbrales_propios(conn: psycopg.Connection) -> dict[str, float]:
    """The centers whose T is their own (reportes/intervalos counts their calls within it)."""
    return {c: float(t) for c, _, t, _, _ in conn.execute(_LEER).fetchall() if t is not None}


def objetivos_propios(conn: psycopg.Connection) -> dict[str, float]:
    return {c: float(x) for c, x, _, _, _ in conn.execute(_LEER).fetchall() if x is not None}
