"""`make bench-recarga`: readers of a staging day while that day is reloaded.

Seeds one day of N calls (`--llamadas`, default 900,000) into a fresh IVR source, builds its
staging and its daily calls report (`iact materializar`), removes a tenth of the day's calls at
the source and materializes the day again (staging/llamadas and reportes/llamadas_dia, one run)
while `--lectores` threads count the day's staging calls continuously (10 ms apart), each query
one plain statement as an analyst sends it. Prints the readers' latency (p50, p99, max) before and during
the reload, the staging step's time, whether any reader saw a count other than the old or the
new day, and how long staging and reportes_llamadas_dia disagreed about the day (from the
staging commit to the report's commit, polled every 20 ms).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from datetime import date

import dagster as dg

from benchmarks import entorno
from iact_pipelines.plataforma import db
from iact_pipelines.plataforma.config import PROJECT_ROOT

DIA = date(2025, 3, 4)
IACT = [sys.executable, "-m", "iact_pipelines.cli"]
_LLAMADAS = "SELECT count(*) FROM staging.llamadas WHERE fecha = %s"
_REPORTE = "SELECT coalesce(sum(total_llamadas), 0)::bigint FROM reportes_llamadas_dia WHERE fecha = %s"
_POR_FUERA = "DELETE FROM ivr.llamadas WHERE llamada_id %% 10 = 0 AND inicio >= %s::date - 1 AND inicio < %s::date + 2"
_SONDEO_S = 0.02
_PAUSA_S = 0.01  # between a reader's queries: continuous, without taking every core


def _iact(*args: str) -> float:
    inicio = time.perf_counter()
    proc = subprocess.run([*IACT, *args], cwd=PROJECT_ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"bench: `iact {' '.join(args)}` failed with exit code {proc.returncode}")
    return time.perf_counter() - inicio


def _percentil(valores: list[float], p: float) -> float:
    ordenados = sorted(valores)
    return ordenados[min(len(ordenados) - 1, int(p * len(ordenados)))]


def _resumen(latencias: list[float]) -> str:
    if not latencias:
        return "no queries"
    return (
        f"p50 {_percentil(latencias, 0.5) * 1000:.0f} ms, p99 {_percentil(latencias, 0.99) * 1000:.0f} ms, "
        f"max {max(latencias) * 1000:.0f} ms ({len(latencias)} queries)"
    )


class Lectores:
    """`n` threads counting the day's staging calls until stopped: (start, seconds, count)."""

    def __init__(self, url: str, n: int):
        self._url, self._alto = url, threading.Event()
        self.vistos: list[tuple[float, float, int]] = []
        self._hilos = [threading.Thread(target=self._leer, daemon=True) for _ in range(n)]

    def _leer(self) -> None:
        with db.connect(self._url, autocommit=True) as conn:
            while not self._alto.is_set():
                inicio = time.monotonic()
                (n,) = conn.execute(_LLAMADAS, (DIA,)).fetchone()
                self.vistos.append((inicio, time.monotonic() - inicio, n))
                time.sleep(_PAUSA_S)

    def __enter__(self) -> Lectores:
        for hilo in self._hilos:
            hilo.start()
        return self

    def __exit__(self, *exc) -> None:
        self._alto.set()
        for hilo in self._hilos:
            hilo.join(timeout=60)


class Sondeo:
    """Staging's and the report's figure for the day every 20 ms: when each changed."""

    def __init__(self, url: str, staging: int, reporte: int):
        self._url, self._alto = url, threading.Event()
        self.antes = (staging, reporte)
        self.cambios: dict[str, float] = {}
        self._hilo = threading.Thread(target=self._sondear, daemon=True)

    def _sondear(self) -> None:
        with db.connect(self._url, autocommit=True) as conn:
            while not self._alto.is_set() and len(self.cambios) < 2:
                ahora = time.monotonic()
                actual = (conn.execute(_LLAMADAS, (DIA,)).fetchone()[0], conn.execute(_REPORTE, (DIA,)).fetchone()[0])
                for nombre, previo, valor in zip(("staging", "reporte"), self.antes, actual, strict=True):
                    if valor != previo and nombre not in self.cambios:
                        self.cambios[nombre] = ahora
                time.sleep(_SONDEO_S)

    def __enter__(self) -> Sondeo:
        self._hilo.start()
        return self

    def __exit__(self, *exc) -> None:
        self._alto.set()
        self._hilo.join(timeout=60)


def _paso_staging(run_ids: list[str]) -> float:
    """The staging step's wall seconds in the reload's run."""
    with dg.DagsterInstance.get() as instance:
        inicio = fin = None
        for run_id in run_ids:
            for evento in instance.all_logs(run_id):
                if evento.step_key != "staging__llamadas":
                    continue
                if evento.dagster_event_type == dg.DagsterEventType.STEP_START:
                    inicio = evento.timestamp
                elif evento.dagster_event_type == dg.DagsterEventType.STEP_SUCCESS:
                    fin = evento.timestamp
        return (fin - inicio) if inicio and fin else float("nan")


def _runs() -> set[str]:
    with dg.DagsterInstance.get() as instance:
        return {r.run_id for r in instance.get_runs()}


def medir(urls: db.Urls, llamadas: int, lectores: int) -> None:
    entorno.vaciar(urls)
    dia = DIA.isoformat()
    segundos = _iact("demo", "seed", "--desde", dia, "--hasta", dia, "--llamadas-por-dia", str(llamadas))
    print(f"seed: {llamadas:,} calls on {dia} in {segundos:.1f} s", flush=True)
    activos = "staging/llamadas,reportes/llamadas_dia"
    segundos = _iact("materializar", "--desde", dia, "--hasta", dia, "--activos", activos)
    print(f"first load of the day (staging and its daily calls report) in {segundos:.1f} s", flush=True)
    with db.connect(urls.ivr, autocommit=True) as conn:
        quitadas = conn.execute(_POR_FUERA, (DIA, DIA)).rowcount
    with db.connect(urls.warehouse, autocommit=True) as conn:
        vieja = conn.execute(_LLAMADAS, (DIA,)).fetchone()[0]
        reporte = conn.execute(_REPORTE, (DIA,)).fetchone()[0]
    print(f"the day holds {vieja:,} staged calls; {quitadas:,} source rows removed before the reload", flush=True)

    with Lectores(urls.warehouse, lectores) as quietos:
        time.sleep(3)
    antes = _runs()
    with Lectores(urls.warehouse, lectores) as durante, Sondeo(urls.warehouse, vieja, reporte) as sondeo:
        inicio = time.monotonic()
        recarga = _iact("materializar", "--desde", dia, "--hasta", dia, "--activos", activos)
        fin = time.monotonic()
    with db.connect(urls.warehouse, autocommit=True) as conn:
        nueva = conn.execute(_LLAMADAS, (DIA,)).fetchone()[0]
    paso = _paso_staging(sorted(_runs() - antes))
    en_recarga = [s for t, s, _ in durante.vistos if inicio <= t <= fin]
    otros = sorted({n for _, _, n in durante.vistos} - {vieja, nueva})
    print(f"readers ({lectores}) idle day: {_resumen([s for _, s, _ in quietos.vistos])}", flush=True)
    print(f"readers ({lectores}) during the reload: {_resumen(en_recarga)}", flush=True)
    print(
        f"reload: {vieja:,} -> {nueva:,} calls; staging step {paso:.2f} s, whole command {recarga:.2f} s; "
        f"counts other than old or new seen by readers: {otros or 'none'}",
        flush=True,
    )
    if len(sondeo.cambios) == 2:
        brecha = sondeo.cambios["reporte"] - sondeo.cambios["staging"]
        print(
            f"staging and reportes_llamadas_dia disagreed about {dia} for {brecha:.2f} s "
            f"(staging committed first; polled every {_SONDEO_S * 1000:.0f} ms)",
            flush=True,
        )
    else:
        print(f"gap not measured: changes seen {sondeo.cambios}", flush=True)
    peor = max(en_recarga, default=0.0)
    print(
        f"reload_calls={llamadas} readers_p99_ms={_percentil(en_recarga, 0.99) * 1000:.0f} readers_max_ms={peor * 1000:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recarga", description=__doc__.splitlines()[0])
    parser.add_argument("--llamadas", type=int, default=900_000, help="calls of the reloaded day")
    parser.add_argument("--lectores", type=int, default=4, help="reader threads")
    args = parser.parse_args()
    urls = entorno.preparar()
    print(f"bench server: embedded PostgreSQL under {entorno.BENCH_HOME}", flush=True)
    medir(urls, args.llamadas, args.lectores)


if __name__ == "__main__":
    main()
