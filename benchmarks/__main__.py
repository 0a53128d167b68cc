"""`make bench`: the pipeline against the PostgreSQL floor, on this machine.

1. Seeds two days at 1,000,000 calls into a fresh IVR source (`iact demo seed`) and stages
   the first day's calls, as a daily run finds them (the repeat calls look back into it).
2. Measures the floor on the same rows (benchmarks/piso.py).
3. Materializes the day's staging and daily reports through Dagster (`iact materializar`, a
   real instance on PostgreSQL) and reports each phase, Dagster's own overhead and peak RSS.
   The whole run (Dagster included, start to end) is compared with the floor too, and the
   analyst reports are timed through the hook in benchmarks/analistas.py once they exist.
4. A 10-day backfill (--backfill-dias) at 100,000 calls/day as one run vs a single day, and the quarterly
   report over those days vs the bare SQL aggregate.
5. The history line (benchmarks/historia.py): the monthly and quarterly reports with 1 month
   vs 12 months of earlier history at 100,000 calls/day.
With --escalas N,N,... (`make bench BENCH_ESCALAS=...`) only the scaling line runs: the bench
day at each size, its seconds per million rows, peak RSS and ratio to the floor.
The last line is `ratio_to_floor=R run_ratio=W peak_rss_mb=M history_ratio=H`: R = the assets'
own work / floor, W = the whole run / floor (medians of interleaved floor/pipeline pairs),
M = peak RSS of the `iact` process tree, H = cost with 12 months / with 1 month (worse report).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date, timedelta

import numpy as np
import psutil

from benchmarks import analistas, entorno, fases, historia, piso
from iact_pipelines.plataforma import db
from iact_pipelines.plataforma.config import PROJECT_ROOT, load_settings

DIARIOS = "staging/*,reportes/llamadas_dia,reportes/menu_problemas,reportes/transferencias"
IACT = [sys.executable, "-m", "iact_pipelines.cli"]
# The assets' own work: what the ratio to the floor compares (Dagster's overhead is shown apart).
FASES = ("extraccion", "validacion", "carga", "reporte")


def _iact(*args: str) -> tuple[float, float, list[str]]:
    """Run an `iact` command; returns (seconds, peak RSS MB of its process tree, new run ids)."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        antes = {r.run_id for r in instance.get_runs()}
    inicio = time.perf_counter()
    proc = subprocess.Popen(
        [*IACT, *args], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    pico = 0
    padre = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            rss = padre.memory_info().rss + sum(h.memory_info().rss for h in padre.children(recursive=True))
            pico = max(pico, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    salida = proc.stdout.read()
    segundos = time.perf_counter() - inicio
    if proc.returncode != 0:
        print(salida, file=sys.stderr)
        raise SystemExit(f"bench: `iact {' '.join(args)}` failed with exit code {proc.returncode}")
    with dg.DagsterInstance.get() as instance:
        nuevos = [r.run_id for r in instance.get_runs() if r.run_id not in antes]
    return segundos, pico / 2**20, nuevos


def _fases(run_ids: list[str]) -> dict[str, float]:
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        return fases.fases_de_runs(instance, run_ids)


def _mediana(valores: list[float]) -> float:
    valores = sorted(valores)
    return valores[len(valores) // 2]


def dia(urls: db.Urls, llamadas: int, repeticiones: int) -> dict:
    ajustes = load_settings()
    d = date(2025, 3, 4)
    previo = d - timedelta(days=1)
    entorno.vaciar(urls)
    segundos, _, _ = _iact(
        "demo", "seed", "--desde", previo.isoformat(), "--hasta", d.isoformat(), "--llamadas-por-dia", str(llamadas)
    )
    print(f"seed: {llamadas:,} calls/day on {previo} and {d} in {segundos:.1f} s", flush=True)
    # The day before is staged as in a daily run (the repeat calls' look-back reads it); the
    # floor and the pipeline are measured on the bench day only.
    segundos, _, _ = _iact(
        "materializar", "--desde", previo.isoformat(), "--hasta", previo.isoformat(), "--activos", "staging/llamadas"
    )
    print(f"previous day's calls staged ({previo}) in {segundos:.1f} s", flush=True)

    pisos, corridas = [], []
    for i in range(repeticiones):
        p = piso.medir(urls, d, ajustes.zona_horaria, list(ajustes.centros))
        pisos.append(p)
        print(
            f"floor #{i + 1}: {p['total']:.2f} s  (copy calls {p['copy_llamadas']:.2f}, events "
            f"{p['copy_menu_eventos']:.2f}, transfers {p['copy_transferencias']:.2f}, reports {p['reportes_sql']:.2f}; "
            f"rows {p['filas_llamadas']:,} / {p['filas_menu_eventos']:,} / {p['filas_transferencias']:,})",
            flush=True,
        )
        segundos, rss, runs = _iact(
            "materializar", "--desde", d.isoformat(), "--hasta", d.isoformat(), "--activos", DIARIOS
        )
        f = _fases(runs)
        f.update(proceso=segundos, rss_mb=rss, runs=len(runs))
        f["propio"] = sum(f.get(k, 0.0) for k in FASES)
        extra = analistas.medir_reportes_analista(urls.warehouse, d)
        if extra:
            # Not in the ratio: the floor computes the seed's five reports only.
            paso = extra.pop("paso")
            print(
                "analyst reports on the same day (the day before staged), one step running the three at once: "
                + ", ".join(f"{k} {v:.2f} s" for k, v in extra.items())
                + f"; the step {paso:.2f} s, Dagster included (goal at 1M calls: at most 1 s)",
                flush=True,
            )
            f["analistas"] = paso
        corridas.append(f)
        print(
            f"pipeline #{i + 1}: assets' own work {f['propio']:.2f} s = extract {f.get('extraccion', 0):.2f} + validate "
            f"{f.get('validacion', 0):.2f} + load {f.get('carga', 0):.2f} + reports {f.get('reporte', 0):.2f}; "
            f"Dagster overhead: in steps {f['pasos'] - f['propio']:.2f} s, per run {f['run'] - f['pasos']:.2f} s "
            f"({f['runs']} run); whole run {f['run']:.2f} s; process {segundos:.2f} s incl. start-up; "
            f"peak RSS {rss:.0f} MB",
            flush=True,
        )
    piso_s = _mediana([p["total"] for p in pisos])
    propio = _mediana([c["propio"] for c in corridas])
    run_s = _mediana([c["run"] for c in corridas])
    pasos_analistas = [c["analistas"] for c in corridas if "analistas" in c]
    analistas_s = f", analyst step {_mediana(pasos_analistas):.2f} s" if pasos_analistas else ""
    print(
        f"day at {llamadas:,} calls, medians of {repeticiones}: floor {piso_s:.2f} s, assets' own work "
        f"{propio:.2f} s ({propio / piso_s:.2f}x), whole run {run_s:.2f} s ({run_s / piso_s:.2f}x){analistas_s}",
        flush=True,
    )
    return {
        "piso": piso_s,
        "propio": propio,
        "ratio": propio / piso_s,
        "run_ratio": run_s / piso_s,
        "rss": max(c["rss_mb"] for c in corridas),
        "dia_s": _mediana([c["run"] for c in corridas]),
        "proceso_s": _mediana([c["proceso"] for c in corridas]),
        "filas": sum(pisos[-1][f"filas_{t}"] for t in ("llamadas", "menu_eventos", "transferencias")),
    }


def escalas(urls: db.Urls, tamanos: list[int], repeticiones: int) -> None:
    """The scaling line: the bench day at each size against the floor on the same rows; seconds
    per million rows (the day's calls, menu events and transfers) should stay flat.

    Per size: the whole run (Dagster's run start to end: the assets' own work plus Dagster's
    step and run overhead; not the `iact` process start-up, printed apart as `process`), the
    assets' own work alone (extract + validate + load + reports, from their metadata) and the
    floor, each per million rows; then a least-squares line seconds = fixed + per_million x rows
    through the sizes, whose fixed part is what makes a small day cost more per row."""
    filas, corridas = [], []
    for llamadas in tamanos:
        r = dia(urls, llamadas, repeticiones)
        m = r["filas"] / 1e6
        filas.append(m)
        corridas.append(r)
        print(
            f"scale {llamadas:,} calls/day ({r['filas']:,} rows): whole run {r['dia_s']:.2f} s = "
            f"{r['dia_s'] / m:.2f} s per million rows (own work {r['propio'] / m:.2f}, floor {r['piso'] / m:.2f}), "
            f"process {r['proceso_s']:.2f} s, peak RSS {r['rss']:.0f} MB, floor {r['piso']:.2f} s, "
            f"run / floor {r['run_ratio']:.2f}, own work / floor {r['ratio']:.2f}",
            flush=True,
        )
    for nombre, clave in (("whole run", "dia_s"), ("own work", "propio"), ("floor", "piso")):
        por_millon = [c[clave] / m for c, m in zip(corridas, filas, strict=True)]
        linea = f"scaling {tamanos[0]:,}..{tamanos[-1]:,} calls/day, {nombre}: "
        linea += f"{min(por_millon):.2f}..{max(por_millon):.2f} s per million rows (spread {max(por_millon) / min(por_millon) - 1:.0%}"
        if len(filas) > 1:
            pendiente, fijo = np.polyfit(filas, [c[clave] for c in corridas], 1)
            linea += f"; fit: {fijo:.2f} s fixed + {pendiente:.2f} s per million rows"
        print(linea + ("; goal: within 25 %)" if clave == "dia_s" else ")"), flush=True)


# The quarter's measures as one bare aggregate: calls, answered, abandoned, wait and handle sums,
# answered within 20 s: what the quarterly report computes, without the framework around it.
_AGREGADO_TRIMESTRAL = """
SELECT count(*), count(*) FILTER (WHERE resultado = 'ATENDIDA'), count(*) FILTER (WHERE resultado = 'ABANDONADA'),
       sum(extract(epoch FROM atencion - ingreso_cola)) FILTER (WHERE resultado = 'ATENDIDA'),
       sum(extract(epoch FROM fin - atencion)) FILTER (WHERE resultado = 'ATENDIDA'),
       count(*) FILTER (WHERE resultado = 'ATENDIDA' AND extract(epoch FROM atencion - ingreso_cola) <= 20)
FROM staging.llamadas WHERE fecha >= %s AND fecha < %s
"""


def _agregado_trimestral(urls: db.Urls, desde: date, hasta: date) -> float:
    with db.connect(urls.warehouse) as conn:
        inicio = time.perf_counter()
        conn.execute(_AGREGADO_TRIMESTRAL, (desde, hasta + timedelta(days=1))).fetchall()
        return time.perf_counter() - inicio


def backfill(urls: db.Urls, dias: int, llamadas: int) -> None:
    desde = date(2025, 1, 1)
    hasta = desde + timedelta(days=dias - 1)
    entorno.vaciar(urls)
    segundos, _, _ = _iact(
        "demo", "seed", "--desde", desde.isoformat(), "--hasta", hasta.isoformat(), "--llamadas-por-dia", str(llamadas)
    )
    print(f"seed: {dias} days x {llamadas:,} calls in {segundos:.1f} s", flush=True)

    segundos, rss, runs = _iact(
        "materializar", "--desde", desde.isoformat(), "--hasta", hasta.isoformat(), "--activos", DIARIOS
    )
    f = _fases(runs)
    primera_vs_repeticion(urls, desde, min(hasta, desde + timedelta(days=30)))
    por_dia_rango = sum(f.get(k, 0.0) for k in FASES) / dias
    print(
        f"backfill {dias} days as {len(runs)} run(s): own work {por_dia_rango * dias:.1f} s ({por_dia_rango:.2f} s/day), "
        f"run {f['run']:.1f} s, process {segundos:.1f} s, peak RSS {rss:.0f} MB",
        flush=True,
    )

    unico = desde + timedelta(days=dias // 2)
    segundos, rss, runs = _iact(
        "materializar", "--desde", unico.isoformat(), "--hasta", unico.isoformat(), "--activos", DIARIOS
    )
    f1 = _fases(runs)
    un_dia = sum(f1.get(k, 0.0) for k in FASES)
    print(
        f"single day {unico}: own work {un_dia:.2f} s, run {f1['run']:.2f} s, process {segundos:.1f} s "
        f"-> the backfill costs {por_dia_rango / un_dia:.2f}x a single day, per day",
        flush=True,
    )

    bare = _agregado_trimestral(urls, desde, hasta)  # also warms the cache for the asset
    segundos, rss, runs = _iact(
        "materializar", "--desde", desde.isoformat(), "--hasta", hasta.isoformat(), "--activos", "reportes/trimestral"
    )
    ft = _fases(runs)
    bare = min(bare, _agregado_trimestral(urls, desde, hasta))
    print(
        f"quarterly report over {dias} days: asset {ft.get('reporte', 0):.2f} s (step {ft['pasos']:.2f} s) "
        f"vs bare SQL aggregate {bare:.2f} s -> {ft.get('reporte', 0) / bare:.2f}x",
        flush=True,
    )


def primera_vs_repeticion(urls: db.Urls, desde: date, hasta: date) -> None:
    """The monthly report's first run on freshly loaded staging partitions against its re-run
    (without fresh planner statistics the first run was once hundreds of times slower)."""
    mes = "reportes/clientes_unicos"
    _, _, runs = _iact("materializar", "--desde", desde.isoformat(), "--hasta", hasta.isoformat(), "--activos", mes)
    primera = _fases(runs).get("reporte", 0.0)
    _, _, runs = _iact("materializar", "--desde", desde.isoformat(), "--hasta", hasta.isoformat(), "--activos", mes)
    repeticion = _fases(runs).get("reporte", 0.0)
    print(
        f"monthly report on freshly loaded partitions: first run {primera:.2f} s, re-run {repeticion:.2f} s "
        f"-> {primera / max(repeticion, 1e-6):.2f}x (goal: at most 3x)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--llamadas", type=int, default=1_000_000, help="calls of the bench day; 0 skips it")
    parser.add_argument("--repeticiones", type=int, default=int(os.environ.get("IACT_BENCH_REPETICIONES", "2")))
    parser.add_argument(
        "--backfill-dias", type=int, default=10, help="days of the range build (90 in the README diary)"
    )
    parser.add_argument("--backfill-llamadas", type=int, default=100_000)
    parser.add_argument("--historia-llamadas", type=int, default=20_000, help="0 skips the history line")
    parser.add_argument(
        "--escalas",
        default=os.environ.get("IACT_BENCH_ESCALAS", ""),
        metavar="N[,N...]",
        help="only the scaling line: the bench day at each of these calls/day (e.g. 100000,1000000,3000000)",
    )
    args = parser.parse_args()

    ya_corria = entorno.servidor_corriendo()
    urls = entorno.preparar()
    print(f"bench server: embedded PostgreSQL under {entorno.BENCH_HOME}", flush=True)
    try:
        if args.escalas:
            escalas(urls, [int(n) for n in args.escalas.split(",") if n.strip()], args.repeticiones)
            return
        if args.backfill_dias > 0:
            backfill(urls, args.backfill_dias, args.backfill_llamadas)
        h = float("nan")
        if args.historia_llamadas > 0:
            entorno.vaciar(urls)
            h = historia.historia(urls, args.historia_llamadas, args.repeticiones)
        if args.llamadas <= 0:
            print(f"history_ratio={h:.2f}")
            return
        r = dia(urls, args.llamadas, args.repeticiones)
        print(
            f"ratio_to_floor={r['ratio']:.2f} run_ratio={r['run_ratio']:.2f} peak_rss_mb={r['rss']:.0f} "
            f"history_ratio={h:.2f}"
        )
    finally:
        if not ya_corria:  # stop what the bench started, leave a server it found running
            entorno.detener()


if __name__ == "__main__":
    main()
