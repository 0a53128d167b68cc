"""Erlang C staffing: how many agents a quarter hour needed to answer X % of its calls within T s.

Pure functions, no I/O. The probability of waiting C(N, A) comes from the Erlang B recursion
(B0 = 1, Bk = A·Bk-1 / (k + A·Bk-1), C = N·B / (N − A·(1 − B))): every term stays in [0, 1],
so loads of hundreds or thousands of Erlangs (a 1M-call day) never overflow, where A^N / N!
does at about 170 Erlangs in double precision. The search walks k upward once, carrying B, so
finding N costs N steps, not N².

Why Python and not PL/pgSQL: measured (`python -m benchmarks.dimensionamiento`): a day's 192
intervals of two centers at up to 1,700 Erlangs take 0.04-0.06 s here, the same loop in PL/pgSQL
0.08-0.11 s; either way the day is a few hundred rows read from `reportes_intervalos` and written
back, and Python keeps the formulas testable on their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

SEGUNDOS_INTERVALO = 900  # a quarter hour


@dataclass(frozen=True)
class Dotacion:
    """The staffing of one interval at full precision (the report rounds to 2 decimals)."""

    agentes: int  # N
    nivel_servicio: float  # SL(N), 0..1
    ocupacion: float  # A / N, 0..1
    asa: float  # expected mean wait of all calls, seconds
    prob_espera: float  # C(N, A)


SIN_CARGA = Dotacion(0, 0.0, 0.0, 0.0, 0.0)


def carga(llamadas: float, aht: float) -> float:
    """Offered load in Erlangs of `llamadas` calls of mean handle time `aht` s in a quarter hour."""
    return llamadas * aht / SEGUNDOS_INTERVALO


def erlang_b(n: int, a: float) -> float:
    """Erlang B blocking probability of n servers at load a, by the stable recursion."""
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def _c_desde_b(n: int, a: float, b: float) -> float:
    return n * b / (n - a * (1.0 - b))


def erlang_c(n: int, a: float) -> float:
    """Probability that a call waits, n agents (n > a) at load a Erlangs."""
    if n <= a:
        return 1.0
    return _c_desde_b(n, a, erlang_b(n, a))


def _nivel(n: int, a: float, c: float, aht: float, umbral: float) -> float:
    return 1.0 - c * math.exp(-(n - a) * umbral / aht)


def nivel_servicio(n: int, a: float, aht: float, umbral: float) -> float:
    """SL(N) = 1 − C(N, A) · exp(−(N − A) · T / AHT): share answered within T seconds."""
    return _nivel(n, a, erlang_c(n, a), aht, umbral)


def dotacion(a: float, aht: float, umbral: float, objetivo: float) -> Dotacion:
    """The smallest N > A whose SL(N) >= objetivo / 100 (compared at full precision), with its
    service level, occupancy and ASA; zeros when there is no load."""
    if a <= 0 or aht <= 0:
        return SIN_CARGA
    meta = objetivo / 100.0
    b, k = 1.0, 0
    while True:
        k += 1
        b = a * b / (k + a * b)
        if k <= a:
            continue
        c = _c_desde_b(k, a, b)
        nivel = _nivel(k, a, c, aht, umbral)
        if nivel >= meta:
            return Dotacion(k, nivel, a / k, c * aht / (k - a), c)


def con_ausentismo(agentes: int, ausentismo: float) -> int:
    """ceil(N / (1 − s)): the rostered headcount that leaves N at work. In decimal arithmetic,
    so 21 / (1 − 0.30) is 30, not the 31 of binary floating point's 30.000000000000004."""
    if agentes == 0:
        return 0
    cociente = Decimal(agentes) / (Decimal(1) - Decimal(str(ausentismo)))
    return int(cociente.to_integral_value(rounding=ROUND_CEILING))
