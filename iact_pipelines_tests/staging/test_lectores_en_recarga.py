"""Readers of a staging day during its reload: each answers within a second and sees either the
whole previous day or the whole new one (its calls and its client rows together), never a part,
and a reload that fails leaves the previous day as it was."""

import threading
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from iact_pipelines.fuentes.contrato import FUENTES
from iact_pipelines.plataforma import db, reemplazo
from iact_pipelines.staging import carga

DIA = date(2024, 3, 12)
# The load holds its transaction open this long after its COPY, as a large day's load does
# (a 900k-call day: 20-30 s); before the swap a reader of the day waited all of it.
CARGA_S = 1.5
LECTORES = 3


def _llamadas(n: int, clientes: int, semilla: int) -> pa.Table:
    """n staging calls of DIA over `clientes` caller ids (a tenth without one)."""
    rng = np.random.default_rng(semilla)
    inicio = datetime.combine(DIA, datetime.min.time(), UTC) + timedelta(hours=6)
    segundos = rng.integers(0, 12 * 3600, n)
    inicios = pa.array(
        np.datetime64(inicio.replace(tzinfo=None), "us") + segundos.astype("timedelta64[s]"), pa.timestamp("us", "UTC")
    )
    fines = pa.array(
        np.datetime64(inicio.replace(tzinfo=None), "us") + (segundos + 90).astype("timedelta64[s]"),
        pa.timestamp("us", "UTC"),
    )
    ids = rng.integers(0, clientes, n)
    cliente = pa.array([f"c{i}" if i % 10 else None for i in ids], pa.string())
    columnas = {
        "llamada_id": pa.array(np.arange(semilla * 10_000_000, semilla * 10_000_000 + n), pa.int64()),
        "centro_id": pa.array(["19028031"] * n, pa.string()),
        "cliente_id": cliente,
        "inicio": inicios,
        "ingreso_cola": inicios,
        "atencion": inicios,
        "fin": fines,
        "resultado": pa.array(["atendida"] * n, pa.string()),
        "fecha": pa.array([DIA] * n, pa.date32()),
        "hora": pa.array(6 + segundos // 3600, pa.int16()),
    }
    return pa.table(columnas).cast(FUENTES["llamadas"].esquema_staging)


def _figuras(tabla: pa.Table) -> tuple[int, int]:
    """What staging must hold for the day: its calls, and its identified clients (counted here)."""
    return tabla.num_rows, len({c for c in tabla["cliente_id"].to_pylist() if c is not None})


def _recargar(urls, tabla: pa.Table, espera_s: float = 0.0, fallar: bool = False) -> None:
    with db.connect(urls.warehouse) as conn:
        with carga.reemplazar_dias(conn, "llamadas", DIA, DIA + timedelta(days=1)):
            carga.copiar_dias(conn, "llamadas", tabla)
            time.sleep(espera_s)
            if fallar:
                raise RuntimeError("la carga falla a propósito")


_DEL_DIA = """SELECT (SELECT count(*) FROM staging.llamadas WHERE fecha = %(dia)s),
    (SELECT count(*) FROM staging.clientes_dia WHERE fecha = %(dia)s)"""


def _leer(urls, fijar: bool, alto: threading.Event, vistos: list) -> None:
    """Read the day's figures in a loop, as a report (pinned, `leer_staging`) or an analyst
    (one plain statement) does; record (seconds, figures)."""
    with db.connect(urls.warehouse, autocommit=True) as conn:
        while not alto.is_set():
            inicio = time.monotonic()
            with conn.transaction():
                if fijar:
                    reemplazo.leer_staging(conn, ["llamadas"])
                figuras = conn.execute(_DEL_DIA, {"dia": DIA}).fetchone()
            vistos.append((time.monotonic() - inicio, tuple(figuras)))
            time.sleep(0.01)


def test_readers_of_a_reloaded_day_are_never_held_and_never_see_a_part(urls, warehouse):
    vieja, nueva = _llamadas(40_000, 20_000, 1), _llamadas(60_000, 25_000, 2)
    _recargar(urls, vieja)
    assert tuple(warehouse.execute(_DEL_DIA, {"dia": DIA}).fetchone()) == _figuras(vieja)

    alto, vistos = threading.Event(), [[] for _ in range(LECTORES)]
    lectores = [
        threading.Thread(target=_leer, args=(urls, i % 2 == 0, alto, vistos[i]), daemon=True) for i in range(LECTORES)
    ]
    for lector in lectores:
        lector.start()
    inicio = time.monotonic()
    _recargar(urls, nueva, espera_s=CARGA_S)
    duracion = time.monotonic() - inicio
    time.sleep(0.5)
    alto.set()
    for lector in lectores:
        lector.join(timeout=30)

    todos = [v for lista in vistos for v in lista]
    assert duracion >= CARGA_S
    assert all(lista for lista in vistos), "a reader never answered"
    lentos = sorted(s for s, _ in todos if s >= 1.0)
    assert not lentos, f"readers held {lentos} s during a {duracion:.1f} s reload"
    assert {f for _, f in todos} == {_figuras(vieja), _figuras(nueva)}

    # a reload that fails after its COPY: the day stays the new one, whole
    with pytest.raises(RuntimeError):
        _recargar(urls, vieja, fallar=True)
    assert tuple(warehouse.execute(_DEL_DIA, {"dia": DIA}).fetchone()) == _figuras(nueva)
    _recargar(urls, vieja)  # and the next one replaces what the failed one left
    assert tuple(warehouse.execute(_DEL_DIA, {"dia": DIA}).fetchone()) == _figuras(vieja)


def _leer_lento(urls, desfase_s: float, alto: threading.Event, vistos: list) -> None:
    """A reader whose every statement holds staging 0.3 s, started `desfase_s` after the others:
    together they never leave staging free for 100 ms."""
    time.sleep(desfase_s)
    with db.connect(urls.warehouse, autocommit=True) as conn:
        while not alto.is_set():
            inicio = time.monotonic()
            conn.execute("SELECT count(*), pg_sleep(0.3) FROM staging.llamadas WHERE fecha = %s", (DIA,))
            vistos.append(time.monotonic() - inicio)


def test_readers_that_always_overlap_do_not_keep_a_reload_out(urls, warehouse, monkeypatch):
    monkeypatch.setenv("IACT_PG_LOCK_TIMEOUT_S", "8")  # kept out, the reload fails after this
    vieja, nueva = _llamadas(2_000, 1_000, 3), _llamadas(3_000, 1_500, 4)
    _recargar(urls, vieja)
    alto, vistos = threading.Event(), [[] for _ in range(3)]
    lectores = [
        threading.Thread(target=_leer_lento, args=(urls, i * 0.1, alto, vistos[i]), daemon=True) for i in range(3)
    ]
    for lector in lectores:
        lector.start()
    time.sleep(0.5)
    inicio = time.monotonic()
    _recargar(urls, nueva)
    duracion = time.monotonic() - inicio
    alto.set()
    for lector in lectores:
        lector.join(timeout=30)
    # the swap's attempts grow until the readers' statements end within one: it gets through in
    # a few attempts, and no reader statement waited a second for it
    assert duracion < 5, f"the reload waited {duracion:.1f} s for its readers"
    assert max(s for lista in vistos for s in lista) < 0.3 + 1.0
    assert tuple(warehouse.execute(_DEL_DIA, {"dia": DIA}).fetchone()) == _figuras(nueva)
