"""Erlang C staffing (reportes/erlang.py), pure: the published check values, and C(N, A) against
the textbook factorial formula evaluated in exact rational arithmetic (a different method)."""

import math
from fractions import Fraction

import pytest

from iact_pipelines.reportes import erlang


def _c_exacta(n: int, a: int) -> float:
    """Erlang C from its definition, A^N/N! · N/(N−A) over Σ_{k<N} A^k/k! + that, exactly."""
    ultimo = Fraction(a**n, math.factorial(n)) * Fraction(n, n - a)
    suma = sum(Fraction(a**k, math.factorial(k)) for k in range(n))
    return float(ultimo / (suma + ultimo))


def _n_exacto(a: int, aht: float, umbral: float, objetivo: float) -> int:
    n = a + 1
    while 1 - _c_exacta(n, a) * math.exp(-(n - a) * umbral / aht) < objetivo / 100:
        n += 1
    return n


def test_published_example_a10_aht180():
    # pyworkforce / CRAN ErlangC: 10 Erlangs, AHT 180 s, 80 % within 20 s.
    d = erlang.dotacion(10, 180, 20, 80)
    assert d.agentes == 14
    assert round(100 * d.nivel_servicio, 2) == 88.84
    assert round(100 * d.ocupacion, 2) == 71.43
    assert round(d.asa, 2) == 7.84
    assert erlang.nivel_servicio(13, 10, 180, 20) < 0.80 <= erlang.nivel_servicio(14, 10, 180, 20)


def test_large_load_a400_aht240_is_stable():
    d = erlang.dotacion(400, 240, 20, 80)
    assert d.agentes == 411 == _n_exacto(400, 240, 20, 80)
    # The factorial form overflows a float here; the recursion agrees with exact arithmetic.
    assert erlang.erlang_c(411, 400) == pytest.approx(_c_exacta(411, 400), rel=1e-12)
    # Thousands of Erlangs stay finite (a 1M-call day).
    grande = erlang.dotacion(5000.5, 300, 20, 80)
    assert grande.agentes > 5000.5 and 0.8 <= grande.nivel_servicio < 1


@pytest.mark.parametrize("a", [1, 3, 7, 25, 60])
def test_recursion_equals_the_factorial_formula(a):
    for n in (a + 1, a + 2, a + 5):
        assert erlang.erlang_c(n, a) == pytest.approx(_c_exacta(n, a), rel=1e-12)
    assert erlang.dotacion(a, 200, 20, 90).agentes == _n_exacto(a, 200, 20, 90)


def test_no_load_gives_zeros_and_n_is_above_a():
    assert erlang.dotacion(0, 180, 20, 80) == erlang.SIN_CARGA
    assert erlang.dotacion(5, 0, 20, 80) == erlang.SIN_CARGA
    # Target 0 % still needs N > A (a queue with N <= A never empties).
    assert erlang.dotacion(4.0, 180, 20, 0).agentes == 5
    assert erlang.dotacion(0.01, 180, 20, 80).agentes == 1


def test_absenteeism_in_decimal_arithmetic():
    assert 21 / (1 - 0.30) > 30  # binary floating point would roster 31
    assert erlang.con_ausentismo(21, 0.30) == 30
    assert erlang.con_ausentismo(14, 0.30) == 20
    assert erlang.con_ausentismo(15, 0.30) == 22
    assert erlang.con_ausentismo(0, 0.30) == 0
    assert erlang.con_ausentismo(7, 0) == 7
