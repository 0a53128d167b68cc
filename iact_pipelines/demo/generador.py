"""Deterministic demo data for the IVR source (`iact demo seed`): generated in bulk with numpy,
loaded with binary COPY, one day (and within a big day, one block of hours) at a time.

Determinism: a day's rows are a pure function of (semilla, day, calls per day, time zone). Each
day draws its calls per hour from its own RNG seeded by (semilla, day), and each block of hours
from an RNG seeded by (semilla, day, block), so a day never depends on the range it was seeded in.
Ids are the day number times a multiplier plus a position, so days never collide; re-seeding a
day deletes its id ranges and loads it again in one transaction.

The mix (the source contract of sql/ivr_source.sql, the defect kinds of staging/validacion.py):
six centers, Nacional and Puebla with ~60% of calls; an intraday arrival curve in the reporting time zone; a tree of IVR menus, ~4
menu events per call; ATENDIDA ~70% / ABANDONADA ~15% / IVR ~15%; ~10% of calls transferred;
a skewed client pool so callers come back across days and months (~8% unidentified); ~1% of
rows with each injectable defect kind (0.6%, so ~3% of calls are rejected, under the default
5% threshold). Two kinds cannot be injected into this source: a repeated
`llamada_id` (the primary key forbids it) and a malformed `centro_id` on an extracted call or
menu event (the column is varchar(8): PostgreSQL truncates a space-padded '19028031 ' back to
'19028031', and anything else fails the extraction filter); malformed codes go to
`transferencias.centro_destino` instead.
"""

from __future__ import annotations

import functools
import itertools
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from iact_pipelines.plataforma import copia_binaria, db, fechas, migrations
from iact_pipelines.plataforma.config import CENTRO_NACIONAL, CENTRO_PUEBLA

# id = day number (days since 1970-01-01) * multiplier + position in the day.
ID_LLAMADA_POR_DIA = 10_000_000
ID_EVENTO_POR_DIA = 100_000_000
ID_TRANSFERENCIA_POR_DIA = 10_000_000
# Keeps every day's ids inside its range (events: at most _MAX_PASOS per call, plus duplicates).
MAX_LLAMADAS_POR_DIA = 5_000_000
# A day is generated in blocks of consecutive hours holding at most this many calls (one hour
# alone may hold more): bounds memory, and lets the next block be generated during a COPY.
# Part of the generator's definition: changing it changes the rows of days bigger than a block.
LLAMADAS_POR_BLOQUE = 200_000

# Six centers: code -> share of calls. Nacional + Puebla (the allowed pair) hold 60%.
CENTROS: tuple[tuple[str, float], ...] = (
    (CENTRO_NACIONAL, 0.36),
    (CENTRO_PUEBLA, 0.24),
    ("19014002", 0.13),  # Guadalajara
    ("19019039", 0.11),  # Monterrey
    ("19031050", 0.09),  # Mérida
    ("19002004", 0.07),  # Tijuana
)

# Relative arrivals per local hour 0..23: quiet nights, a late-morning peak and an afternoon one.
CURVA_HORARIA = np.array(
    [
        0.6,
        0.4,
        0.3,
        0.25,
        0.3,
        0.6,
        1.5,
        3.0,
        5.0,
        7.0,
        8.5,
        9.0,
        8.0,
        6.5,
        6.5,
        7.5,
        8.0,
        7.0,
        5.5,
        4.0,
        3.0,
        2.2,
        1.5,
        1.0,
    ]
)

ATENDIDA, ABANDONADA, IVR = 0, 1, 2
RESULTADOS_LLAMADA = ("ATENDIDA", "ABANDONADA", "IVR")
OK, ABANDONO, TIMEOUT, ERROR = 0, 1, 2, 3
RESULTADOS_EVENTO = ("OK", "ABANDONO", "TIMEOUT", "ERROR")
# Values a legacy system wrote that the contract does not know.
RESULTADOS_LLAMADA_RAROS = ("TRANSFERIDA", "COLGADA", "DESCONOCIDO", "BUZON")
RESULTADOS_EVENTO_RAROS = ("FALLA", "COLGO", "REINTENTO")
CENTROS_MALFORMADOS = ("1902803", "19O20084", "PUEBLA", "190280-1")


@dataclass(frozen=True)
class Menu:
    id: str
    nombre: str
    segundos: float  # median time a caller spends in it
    falla: float  # chance a visit ends in TIMEOUT or ERROR (and is retried)
    hijos: tuple[tuple[str, float], ...] = ()  # (child id, weight); a leaf has none


# The IVR tree. "Hablar con un asesor" (MP.9) and some leaves hand the caller to the queue.
MENUS: tuple[Menu, ...] = (
    Menu(
        "MP",
        "Menú principal",
        12,
        0.04,
        (("MP.1", 0.30), ("MP.2", 0.22), ("MP.3", 0.20), ("MP.4", 0.10), ("MP.5", 0.06), ("MP.9", 0.12)),
    ),
    Menu("MP.1", "Consulta de saldo", 10, 0.03, (("MP.1.1", 0.5), ("MP.1.2", 0.3), ("MP.1.3", 0.2))),
    Menu("MP.1.1", "Saldo de cuenta", 25, 0.03),
    Menu("MP.1.2", "Últimos movimientos", 40, 0.05),
    Menu("MP.1.3", "Fecha límite de pago", 20, 0.03),
    Menu("MP.2", "Pagos y facturación", 10, 0.03, (("MP.2.1", 0.5), ("MP.2.2", 0.3), ("MP.2.3", 0.2))),
    Menu("MP.2.1", "Pago con tarjeta", 75, 0.22),  # a known troublesome menu
    Menu("MP.2.2", "Aclaración de cargos", 30, 0.06),
    Menu("MP.2.3", "Envío de factura por correo", 35, 0.08),
    Menu("MP.3", "Soporte técnico", 10, 0.04, (("MP.3.1", 0.5), ("MP.3.2", 0.3), ("MP.3.3", 0.2))),
    Menu("MP.3.1", "Falla de internet", 12, 0.05, (("MP.3.1.1", 0.6), ("MP.3.1.2", 0.4))),
    Menu("MP.3.1.1", "Reinicio guiado de módem", 120, 0.28),  # long and often times out
    Menu("MP.3.1.2", "Levantar reporte de falla", 45, 0.07),
    Menu("MP.3.2", "Falla de telefonía fija", 30, 0.06),
    Menu("MP.3.3", "Estado de un reporte", 25, 0.05),
    Menu("MP.4", "Contratación y cambio de plan", 10, 0.03, (("MP.4.1", 0.6), ("MP.4.2", 0.4))),
    Menu("MP.4.1", "Nuevos servicios", 35, 0.04),
    Menu("MP.4.2", "Cambio de plan", 30, 0.04),
    Menu("MP.5", "Cancelaciones", 20, 0.05),
    Menu("MP.9", "Hablar con un asesor", 8, 0.02),
)
_INDICE_MENU = {m.id: i for i, m in enumerate(MENUS)}
_MAX_PASOS = 12
_PLANTILLAS = 4096


@dataclass
class Bloque:
    """Rows of one block of a day, as Arrow tables named like the source tables."""

    llamadas: pa.Table
    menu_eventos: pa.Table
    transferencias: pa.Table


TABLAS = ("llamadas", "menu_eventos", "transferencias")


# ---------------------------------------------------------------------------------------------
# IVR walks: a library of menu paths per seed, each ending either in the queue or in the IVR.
# Calls pick a path that matches their outcome, which keeps the per-call work vectorized.


@dataclass(frozen=True)
class _Plantillas:
    menus: np.ndarray  # (T, _MAX_PASOS) menu index per step, -1 past the end
    resultados: np.ndarray  # (T, _MAX_PASOS) OK / TIMEOUT / ERROR per step
    largo: np.ndarray  # (T,) number of steps
    a_cola: np.ndarray  # (T,) bool: the walk ends asking for an agent


@functools.lru_cache(maxsize=8)
def _plantillas(semilla: int) -> _Plantillas:
    """The walk library of a seed (a few thousand walks, built once per process)."""
    rng = np.random.default_rng([semilla, 0x1D7])
    menus = np.full((_PLANTILLAS, _MAX_PASOS), -1, dtype=np.int16)
    resultados = np.zeros((_PLANTILLAS, _MAX_PASOS), dtype=np.int8)
    largo = np.zeros(_PLANTILLAS, dtype=np.int16)
    a_cola = np.zeros(_PLANTILLAS, dtype=bool)
    for t in range(_PLANTILLAS):
        quiere_asesor = t % 2 == 0  # half the library ends in the queue, half in the IVR
        paso, actual, vueltas = 0, "MP", 0
        while paso < _MAX_PASOS:
            menu = MENUS[_INDICE_MENU[actual]]
            menus[t, paso] = _INDICE_MENU[actual]
            falla = rng.random() < menu.falla
            resultados[t, paso] = (TIMEOUT if rng.random() < 0.6 else ERROR) if falla else OK
            paso += 1
            if falla:
                continue  # the IVR plays the same menu again
            if menu.hijos:
                ids, pesos = zip(*menu.hijos, strict=True)
                pesos = np.array(pesos)
                if not quiere_asesor:  # IVR-only callers rarely choose the agent option
                    pesos = np.where(np.array(ids) == "MP.9", 0.0, pesos)
                actual = ids[rng.choice(len(ids), p=pesos / pesos.sum())]
                continue
            # A leaf: some callers go back to the main menu for another option.
            if actual != "MP.9" and vueltas < 2 and rng.random() < 0.25:
                actual, vueltas = "MP", vueltas + 1
                continue
            break
        largo[t] = paso
        a_cola[t] = quiere_asesor
    return _Plantillas(menus, resultados, largo, a_cola)


# ---------------------------------------------------------------------------------------------
# Generation


def numero_dia(dia: date) -> int:
    """Days since 1970-01-01: the prefix of the day's ids and part of its RNG seed."""
    return (dia - date(1970, 1, 1)).days


def rangos_id(dia: date) -> dict[str, tuple[int, int]]:
    """Inclusive id range of each table for one day."""
    n = numero_dia(dia)
    return {
        "llamadas": (n * ID_LLAMADA_POR_DIA, (n + 1) * ID_LLAMADA_POR_DIA - 1),
        "menu_eventos": (n * ID_EVENTO_POR_DIA, (n + 1) * ID_EVENTO_POR_DIA - 1),
        "transferencias": (n * ID_TRANSFERENCIA_POR_DIA, (n + 1) * ID_TRANSFERENCIA_POR_DIA - 1),
    }


def _ventana_local(dia: date, zona: str) -> tuple[int, int]:
    """UTC epoch seconds of the local day's start, and its length (23 or 25 h on DST changes)."""
    tz = ZoneInfo(zona)
    siguiente = dia + timedelta(days=1)
    inicio = datetime(dia.year, dia.month, dia.day, tzinfo=tz).timestamp()
    fin = datetime(siguiente.year, siguiente.month, siguiente.day, tzinfo=tz).timestamp()
    return int(inicio), int(fin - inicio)


def _grupos_de_horas(por_hora: np.ndarray) -> list[list[int]]:
    """Consecutive hours grouped into blocks of at most LLAMADAS_POR_BLOQUE calls."""
    grupos: list[list[int]] = [[]]
    en_grupo = 0
    for hora, n in enumerate(por_hora):
        if grupos[-1] and en_grupo + n > LLAMADAS_POR_BLOQUE:
            grupos.append([])
            en_grupo = 0
        grupos[-1].append(hora)
        en_grupo += int(n)
    return grupos


def _lognormal(rng: np.random.Generator, mediana, sigma: float, n: int) -> np.ndarray:
    return mediana * np.exp(sigma * rng.standard_normal(n))


# Share of rows per defect kind. About 1% each, but kept below the default 5% reject threshold
# in total (five kinds of call defect at 0.6% is ~3% rejected), so the demo's reports are not
# blocked by the staging check: a real source that rejects 5% of its calls is an incident.
TASA_POR_DEFECTO = 0.006


def _clases(rng: np.random.Generator, n: int, tipos: int) -> np.ndarray:
    """Disjoint defect classes: class k (0..tipos-1) for TASA_POR_DEFECTO of rows each, -1 clean."""
    sorteo = rng.random(n)
    return np.where(sorteo < tipos * TASA_POR_DEFECTO, (sorteo / TASA_POR_DEFECTO).astype(np.int16), -1)


def _texto(valores: tuple[str, ...], indices: np.ndarray, nulos: np.ndarray | None = None) -> pa.Array:
    """A string column kept dictionary-encoded (category indices): no Python string per row."""
    idx = pa.array(indices.astype(np.int32), mask=nulos)
    return pa.DictionaryArray.from_arrays(idx, pa.array(valores, type=pa.string()))


def _instantes(segundos: np.ndarray, nulos: np.ndarray | None = None) -> pa.Array:
    return pa.array(segundos.astype(np.int64), type=pa.timestamp("s", tz="UTC"), mask=nulos)


def _clientes(indices: np.ndarray, nulos: np.ndarray) -> pa.Array:
    numeros = pc.utf8_lpad(pc.cast(pa.array(indices, mask=nulos), pa.string()), width=9, padding="0")
    return pc.binary_join_element_wise("CLI", numeros, "")


_CODIGOS = tuple(c for c, _ in CENTROS)
_PESOS_CENTRO = np.array([p for _, p in CENTROS])
_CURVA = CURVA_HORARIA / CURVA_HORARIA.sum()

# The queue (calibrated to published ranges for real centers: Brown et al., JASA 2005, and the
# usual 80/20 target): each center staffs every hour with the fewest agents whose Erlang C
# service level reaches its target for that hour's load; the plan runs leaner at the peaks
# (target lower by up to 8 points) than in the valleys, as real rosters do. Staffing follows the
# square-root rule that way at any volume, so the demo looks alike at 20k and 1M calls a day. A
# queued caller waits as in M/M/N; they abandon when their patience runs out first (most are
# patient, a few hang up within seconds: the short abandons).
QUEUED = 0.85  # share of calls that ask for an agent (the rest end in the IVR)
SERVICIO_MEDIO = 180.0  # mean talk time, seconds (lognormal below)
PACIENCIA_MEDIA = 150.0  # mean patience of the patient callers, seconds (exponential)
IMPACIENTES = 0.03  # callers who hang up within 1-8 s if not answered at once
TIMBRE = (2, 6)  # seconds an answered call rings before the agent speaks (uniform, inclusive)
OBJETIVO_T = 20.0  # the staffing plan's service-level threshold, seconds
# Staffing target per center (Puebla runs a little leaner), then per hour: lower at the peaks.
OBJETIVO_NS = np.array([0.82, 0.77, 0.82, 0.80, 0.82, 0.82])
_OBJETIVO = OBJETIVO_NS[:, None] - 0.08 * (CURVA_HORARIA / CURVA_HORARIA.max())[None, :]


def _erlang(carga: np.ndarray, agentes: np.ndarray) -> np.ndarray:
    """Erlang C (probability of waiting) for each (load, agents) pair; agents > load."""
    b = np.ones_like(carga)
    c = np.zeros_like(carga)
    for n in range(1, int(agentes.max()) + 1):
        b = carga * b / (n + carga * b)  # Erlang B by its stable recursion
        aqui = agentes == n
        c[aqui] = (n * b / (n - carga * (1 - b)))[aqui]
    return c


def _cola(llamadas_por_dia: int, escala: float) -> tuple[np.ndarray, np.ndarray]:
    """Per (center, hour): probability that a queued call waits, and the rate (1/s) of that wait."""
    mu = 1 / SERVICIO_MEDIO
    por_centro = llamadas_por_dia * QUEUED * _PESOS_CENTRO[:, None]
    carga = por_centro * _CURVA[None, :] / (3600 * escala) / mu  # offered load, erlangs
    # The plan: fewest agents above the load that meet the hour's target. Start near the
    # square-root rule's answer and add agents where the target is not met yet.
    agentes = np.floor(carga + 0.5 * np.sqrt(carga)).astype(np.int64) + 1
    while True:
        ns = 1 - _erlang(carga, agentes) * np.exp(-(agentes - carga) * mu * OBJETIVO_T)
        corto = ns < _OBJETIVO
        if not corto.any():
            return _erlang(carga, agentes), (agentes - carga) * mu
        agentes = agentes + corto


@dataclass
class _Llamadas:
    """Clean calls of a block and their menu events (arrays; seconds since the Unix epoch)."""

    inicio: np.ndarray
    centro: np.ndarray
    resultado: np.ndarray
    ingreso_cola: np.ndarray
    atencion: np.ndarray
    fin: np.ndarray
    conversacion: np.ndarray
    # menu events
    llamada_de_evento: np.ndarray
    menu: np.ndarray
    res_evento: np.ndarray
    entrada: np.ndarray
    salida: np.ndarray
    salida_nula: np.ndarray


def _llamadas(
    rng: np.random.Generator,
    inicio: np.ndarray,
    hora: np.ndarray,
    plantillas: _Plantillas,
    cola: tuple[np.ndarray, np.ndarray],
) -> _Llamadas:
    """Centers, outcomes, the IVR walk (menu events) and the queue/talk timeline of each call."""
    n = len(inicio)
    centro = rng.choice(len(CENTROS), size=n, p=_PESOS_CENTRO)
    # The queue decides who is answered: the wait a caller would need against their patience.
    p_espera, tasa = cola
    espera_necesaria = np.where(
        rng.random(n) < p_espera[centro, hora], rng.exponential(1.0, n) / tasa[centro, hora], 0.0
    ) + rng.integers(TIMBRE[0], TIMBRE[1] + 1, n)
    paciencia = np.where(rng.random(n) < IMPACIENTES, rng.uniform(1, 8, n), rng.exponential(PACIENCIA_MEDIA, n))
    resultado = np.where(rng.random(n) >= QUEUED, IVR, np.where(paciencia < espera_necesaria, ABANDONADA, ATENDIDA))

    # The IVR walk: a path from the library that matches the outcome (queue or not).
    a_cola = np.flatnonzero(plantillas.a_cola)
    sin_cola = np.flatnonzero(~plantillas.a_cola)
    plantilla = np.where(
        resultado == IVR, sin_cola[rng.integers(0, len(sin_cola), n)], a_cola[rng.integers(0, len(a_cola), n)]
    )
    pasos = plantillas.largo[plantilla].astype(np.int64)
    m = int(pasos.sum())
    llamada_de_evento = np.repeat(np.arange(n), pasos)
    primero = np.cumsum(pasos) - pasos
    paso = np.arange(m) - primero[llamada_de_evento]
    fila_plantilla = plantilla[llamada_de_evento]
    menu = plantillas.menus[fila_plantilla, paso].astype(np.int64)
    res_evento = plantillas.resultados[fila_plantilla, paso].astype(np.int64)
    medianas = np.array([x.segundos for x in MENUS])
    duracion = np.maximum(2, np.round(_lognormal(rng, medianas[menu], 0.45, m))).astype(np.int64)
    ocupado = duracion + rng.integers(0, 2, m)  # plus the IVR's own gap between prompts
    previo = np.cumsum(ocupado) - ocupado
    desde_inicio = previo - previo[primero][llamada_de_evento]
    entrada = inicio[llamada_de_evento] + desde_inicio
    salida = entrada + duracion
    salida_nula = np.zeros(m, dtype=bool)
    tiempo_ivr = np.add.reduceat(ocupado, primero)

    # IVR-only callers: ~40% hang up inside their last menu (ABANDONO, no exit time).
    ultimo = (primero + pasos - 1)[(resultado == IVR) & (rng.random(n) < 0.4)]
    res_evento[ultimo] = ABANDONO
    salida_nula[ultimo] = True
    tiempo_ivr[llamada_de_evento[ultimo]] = desde_inicio[ultimo] + np.maximum(1, duracion[ultimo] // 2)

    # Queue, wait and talk (whole seconds).
    ingreso_cola = inicio + tiempo_ivr + 1
    espera = np.round(np.minimum(np.where(resultado == ATENDIDA, espera_necesaria, paciencia), 3000)).astype(np.int64)
    atascada = (resultado != IVR) & (rng.random(n) < 0.002)  # a few waits over 1 h: a stuck queue
    espera[atascada] = rng.integers(3700, 9000, int(atascada.sum()))
    # lognormal, median 140 s: mean about SERVICIO_MEDIO (140 * e^(0.7^2 / 2) = 178 s)
    conversacion = np.round(np.clip(_lognormal(rng, 140, 0.7, n), 20, 5400)).astype(np.int64)
    atencion = ingreso_cola + espera
    fin_ivr = inicio + tiempo_ivr + rng.integers(0, 3, n)
    fin = np.where(
        resultado == ATENDIDA,
        atencion + conversacion,
        np.where(resultado == ABANDONADA, ingreso_cola + espera, fin_ivr),
    )
    return _Llamadas(
        inicio,
        centro,
        resultado,
        ingreso_cola,
        atencion,
        fin,
        conversacion,
        llamada_de_evento,
        menu,
        res_evento,
        entrada,
        salida,
        salida_nula,
    )


def _tabla_llamadas(rng: np.random.Generator, ll: _Llamadas, primer_id: int, clientes: int) -> pa.Table:
    """ivr.llamadas with callers and ~1% of rows per defect kind (disjoint)."""
    n = len(ll.inicio)
    # A skewed pool of `clientes`: frequent callers come back day after day; 8% unidentified.
    cliente = np.floor(clientes * rng.random(n) ** 2).astype(np.int64)
    cliente_nulo = rng.random(n) < 0.08

    atencion, fin, resultado = ll.atencion.copy(), ll.fin.copy(), ll.resultado.copy()
    fin_nulo = np.zeros(n, dtype=bool)
    resultado_nulo = np.zeros(n, dtype=bool)
    clase = _clases(rng, n, 5)
    mitad = rng.random(n) < 0.5
    # 0 nulo_requerido: NULL fin or NULL resultado
    fin_nulo |= (clase == 0) & mitad
    resultado_nulo |= (clase == 0) & ~mitad
    # 1 resultado_desconocido
    c = clase == 1
    resultado[c] = len(RESULTADOS_LLAMADA) + rng.integers(0, len(RESULTADOS_LLAMADA_RAROS), int(c.sum()))
    # 2 orden_tiempos: answered before queued, or ended before it started
    c = clase == 2
    antes_de_cola = c & (ll.resultado == ATENDIDA) & mitad
    atencion[antes_de_cola] = ll.ingreso_cola[antes_de_cola] - rng.integers(5, 120, int(antes_de_cola.sum()))
    antes_de_inicio = c & ~antes_de_cola
    fin[antes_de_inicio] = ll.inicio[antes_de_inicio] - rng.integers(1, 600, int(antes_de_inicio.sum()))
    # 3 resultado_inconsistente: another outcome's label on this call's timestamps
    c = clase == 3
    resultado[c & (ll.resultado == ATENDIDA)] = ABANDONADA
    resultado[c & (ll.resultado == ABANDONADA)] = IVR
    resultado[c & (ll.resultado == IVR)] = ATENDIDA
    # 4 duracion_excesiva: a line left open for more than a day
    c = clase == 4
    fin[c] += 86400 + rng.integers(60, 6 * 3600, int(c.sum()))

    return pa.table(
        {
            "llamada_id": pa.array(primer_id + np.arange(n, dtype=np.int64)),
            "centro_id": _texto(_CODIGOS, ll.centro),
            "cliente_id": _clientes(cliente, cliente_nulo),
            "inicio": _instantes(ll.inicio),
            "ingreso_cola": _instantes(ll.ingreso_cola, ll.resultado == IVR),
            "atencion": _instantes(atencion, ll.resultado != ATENDIDA),
            "fin": _instantes(fin, fin_nulo),
            "resultado": _texto(RESULTADOS_LLAMADA + RESULTADOS_LLAMADA_RAROS, resultado, resultado_nulo),
        }
    )


def _tabla_eventos(rng: np.random.Generator, ll: _Llamadas, primer_llamada: int, primer_id: int) -> pa.Table:
    """ivr.menu_eventos with ~1% of rows per defect kind (disjoint); duplicates are extra rows."""
    m = len(ll.menu)
    salida, salida_nula, resultado = ll.salida.copy(), ll.salida_nula.copy(), ll.res_evento.copy()
    clase = _clases(rng, m, 4)
    # 0 nulo_requerido: one of llamada_id, menu_id, menu_nombre, resultado
    cual = np.where(clase == 0, rng.integers(0, 4, m), -1)
    # 1 resultado_desconocido
    c = clase == 1
    resultado[c] = len(RESULTADOS_EVENTO) + rng.integers(0, len(RESULTADOS_EVENTO_RAROS), int(c.sum()))
    # 2 orden_tiempos: exit logged before entry
    c = clase == 2
    salida[c] = ll.entrada[c] - rng.integers(1, 120, int(c.sum()))
    salida_nula &= ~c
    # 3 id_duplicado: the same (llamada_id, menu_id, entrada) logged again under a new evento_id
    filas = np.concatenate([np.arange(m), np.flatnonzero(clase == 3)])
    cual = cual[filas]
    return pa.table(
        {
            "evento_id": pa.array(primer_id + np.arange(len(filas), dtype=np.int64)),
            "llamada_id": pa.array(primer_llamada + ll.llamada_de_evento[filas], mask=cual == 0),
            "centro_id": _texto(_CODIGOS, ll.centro[ll.llamada_de_evento[filas]]),
            "menu_id": _texto(tuple(x.id for x in MENUS), ll.menu[filas], cual == 1),
            "menu_nombre": _texto(tuple(x.nombre for x in MENUS), ll.menu[filas], cual == 2),
            "entrada": _instantes(ll.entrada[filas]),
            "salida": _instantes(salida[filas], salida_nula[filas]),
            "resultado": _texto(RESULTADOS_EVENTO + RESULTADOS_EVENTO_RAROS, resultado[filas], cual == 3),
        }
    )


def _tabla_transferencias(rng: np.random.Generator, ll: _Llamadas, primer_llamada: int, primer_id: int) -> pa.Table:
    """ivr.transferencias: ~1 in 7 answered calls (10% of all) moved to another center
    mid-conversation, with ~1% of rows per defect kind (disjoint); duplicates are extra rows."""
    llamada = np.flatnonzero((ll.resultado == ATENDIDA) & (rng.random(len(ll.inicio)) < 0.10 / 0.70))
    nt = len(llamada)
    origen = ll.centro[llamada]
    # Destination: another center by share, so some leave the allowed pair.
    destino = np.empty(nt, dtype=np.int64)
    for centro in range(len(CENTROS)):
        filas_centro = np.flatnonzero(origen == centro)
        pesos = np.where(np.arange(len(CENTROS)) == centro, 0.0, _PESOS_CENTRO)
        destino[filas_centro] = rng.choice(len(CENTROS), size=len(filas_centro), p=pesos / pesos.sum())
    avance = np.round(ll.conversacion[llamada] * rng.uniform(0.3, 0.9, nt)).astype(np.int64)
    inicio = ll.atencion[llamada] + avance
    exitosa = rng.random(nt) < 0.9
    fin = inicio + rng.integers(3, 40, nt)
    fin_nulo = ~exitosa

    clase = _clases(rng, nt, 5)
    # 0 nulo_requerido: llamada_id, centro_destino or exitosa
    cual = np.where(clase == 0, rng.integers(0, 3, nt), -1)
    # 1 centro_malformado (in the destination: a malformed origin could not be extracted)
    c = clase == 1
    destino[c] = len(CENTROS) + rng.integers(0, len(CENTROS_MALFORMADOS), int(c.sum()))
    # 2 orden_tiempos: connected before it started
    c = clase == 2
    exitosa[c], fin_nulo[c] = True, False
    fin[c] = inicio[c] - rng.integers(1, 60, int(c.sum()))
    # 3 resultado_inconsistente: successful but never connected
    c = clase == 3
    exitosa[c], fin_nulo[c] = True, True
    # 4 id_duplicado: the same (llamada_id, inicio) logged twice
    filas = np.concatenate([np.arange(nt), np.flatnonzero(clase == 4)])
    cual = cual[filas]
    return pa.table(
        {
            "transferencia_id": pa.array(primer_id + np.arange(len(filas), dtype=np.int64)),
            "llamada_id": pa.array(primer_llamada + llamada[filas], mask=cual == 0),
            "centro_origen": _texto(_CODIGOS, origen[filas]),
            "centro_destino": _texto(_CODIGOS + CENTROS_MALFORMADOS, destino[filas], cual == 1),
            "inicio": _instantes(inicio[filas]),
            "fin": _instantes(fin[filas], fin_nulo[filas]),
            "exitosa": pa.array(exitosa[filas], mask=cual == 2),
        }
    )


def generar_dia(dia: date, llamadas_por_dia: int, semilla: int, zona: str) -> Iterator[Bloque]:
    """The day's rows in blocks of consecutive local hours (ids and times ascend across blocks)."""
    numero = numero_dia(dia)
    plantillas = _plantillas(semilla)
    por_hora = np.random.default_rng([semilla, numero]).multinomial(llamadas_por_dia, _CURVA)
    medianoche, largo_dia = _ventana_local(dia, zona)
    clientes = max(1000, 10 * llamadas_por_dia)  # the pool callers are drawn from
    escala = largo_dia / 86400  # DST days: stretch the 24 curve hours over 23 or 25 real ones
    cola = _cola(llamadas_por_dia, escala)
    siguiente = {nombre: rango[0] for nombre, rango in rangos_id(dia).items()}
    for numero_bloque, horas in enumerate(_grupos_de_horas(por_hora)):
        n = int(por_hora[horas].sum())
        if n == 0:
            continue
        rng = np.random.default_rng([semilla, numero, 1 + numero_bloque])
        hora = np.repeat(horas, por_hora[horas])
        inicio = medianoche + np.floor((hora + rng.random(n)) * 3600 * escala).astype(np.int64)
        orden = np.argsort(inicio, kind="stable")  # ids grow with time, as in a legacy log
        ll = _llamadas(rng, inicio[orden], hora[orden], plantillas, cola)
        bloque = Bloque(
            llamadas=_tabla_llamadas(rng, ll, siguiente["llamadas"], clientes),
            menu_eventos=_tabla_eventos(rng, ll, siguiente["llamadas"], siguiente["menu_eventos"]),
            transferencias=_tabla_transferencias(rng, ll, siguiente["llamadas"], siguiente["transferencias"]),
        )
        for nombre in TABLAS:
            siguiente[nombre] += getattr(bloque, nombre).num_rows
        yield bloque


def dia_completo(dia: date, llamadas_por_dia: int, semilla: int, zona: str) -> Bloque:
    """All of a day's rows in one Bloque (tests and inspection; seeding streams the blocks)."""
    bloques = list(generar_dia(dia, llamadas_por_dia, semilla, zona))
    return Bloque(*(pa.concat_tables([getattr(b, nombre) for b in bloques]) for nombre in TABLAS))


# ---------------------------------------------------------------------------------------------
# Loading

_ID = {"llamadas": "llamada_id", "menu_eventos": "evento_id", "transferencias": "transferencia_id"}
_BORRAR = sql.SQL("DELETE FROM {} WHERE {} BETWEEN %s AND %s")
T = TypeVar("T")


def _en_segundo_plano(items: Iterable[T], capacidad: int = 2) -> Iterator[T]:
    """Iterate `items` in a worker thread, a few ahead of the caller: the next block is generated
    while the current one is loaded (numpy and Arrow release the GIL)."""
    cola: queue.Queue = queue.Queue(maxsize=capacidad)
    parar = threading.Event()
    fin = object()

    def poner(item) -> bool:
        while not parar.is_set():
            try:
                cola.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def trabajar() -> None:
        try:
            for item in items:
                if not poner((True, item)):
                    return
            poner((True, fin))
        except BaseException as exc:  # handed to the caller's thread
            poner((False, exc))

    hilo = threading.Thread(target=trabajar, name="demo-generar", daemon=True)
    hilo.start()
    try:
        while True:
            ok, item = cola.get()
            if not ok:
                raise item
            if item is fin:
                return
            yield item
    finally:
        parar.set()
        hilo.join()


def seed(
    ivr_url: str,
    desde: date,
    hasta: date,
    llamadas_por_dia: int = 20_000,
    semilla: int = 42,
    *,
    zona: str | None = None,
    segundos: dict[str, float] | None = None,
) -> dict[str, int]:
    """Create the IVR source tables if missing and (re)load every day of [desde, hasta], one
    transaction per day (delete the day's id ranges, then COPY). Returns the rows loaded per
    table; fills `segundos` when given (per table: delete + COPY; "generar": generation time,
    which overlaps the loading)."""
    if hasta < desde:
        raise ValueError(f"hasta {hasta} es anterior a desde {desde}")
    if not 0 < llamadas_por_dia <= MAX_LLAMADAS_POR_DIA:
        raise ValueError(f"las llamadas por día deben estar entre 1 y {MAX_LLAMADAS_POR_DIA}, no {llamadas_por_dia}")
    if desde < date(1970, 1, 2) or semilla < 0:
        raise ValueError("desde debe ser posterior a 1970-01-01 y semilla 0 o más (siembran el generador aleatorio)")
    if zona is None:
        from iact_pipelines.plataforma.config import load_settings

        zona = load_settings().zona_horaria
    migrations.create_ivr_source(ivr_url)
    filas = dict.fromkeys(TABLAS, 0)
    tiempos = segundos if segundos is not None else {}
    for clave in ("generar", *TABLAS):
        tiempos.setdefault(clave, 0.0)

    def bloques() -> Iterator[tuple[date, Bloque]]:
        for dia in fechas.dias_semiabiertos(desde, hasta + fechas.UN_DIA):
            produccion = generar_dia(dia, llamadas_por_dia, semilla, zona)
            while True:
                t0 = time.perf_counter()
                bloque = next(produccion, None)
                tiempos["generar"] += time.perf_counter() - t0
                if bloque is None:
                    break
                yield dia, bloque

    with db.connect(ivr_url) as conn, conn.cursor() as cur:
        for dia, del_dia in itertools.groupby(_en_segundo_plano(bloques()), key=lambda par: par[0]):
            with conn.transaction():
                cur.execute("SET LOCAL synchronous_commit = off")  # demo data: speed over durability
                for nombre, rango in rangos_id(dia).items():
                    t0 = time.perf_counter()
                    cur.execute(_BORRAR.format(sql.Identifier("ivr", nombre), sql.Identifier(_ID[nombre])), rango)
                    tiempos[nombre] += time.perf_counter() - t0
                for _, bloque in del_dia:
                    for nombre in TABLAS:
                        t0 = time.perf_counter()
                        tabla = getattr(bloque, nombre)
                        copia_binaria.copiar(conn, sql.Identifier("ivr", nombre), tabla)
                        filas[nombre] += tabla.num_rows
                        tiempos[nombre] += time.perf_counter() - t0
    return filas
