"""A typical day: what a 20,000-call day costs as a whole process, against the floor and the unit.

    python -m benchmarks.dia_tipico [--llamadas 20000] [--historia 30] [--repeticiones 3] [--sin-daemon]

Seeds `--historia` days plus the measured day into a fresh IVR source, builds the history days
through `iact materializar` (one range run, as a backfill would), then measures in alternation:
- the unit: the least of several `python -c "import dagster"` processes timed from this script;
- the floor on the measured day (benchmarks/piso.py: binary COPY of the day's rows and the five
  reports as bare SQL);
- the CLI's daily run: `iact materializar` of the `diario` job's assets for that day, as a whole
  process (start to exit), split into before the run, the run itself and after it;
- `diario` launched through a running webserver and daemon as the UI launches it (GraphQL
  `launchRun` with the day's partition), run start to run end (and queue to end).
The last line compares both with the goals: CLI <= floor + 4 units, daemon <= floor + 3 units.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date, timedelta

from benchmarks import entorno, fases, piso
from iact_pipelines.plataforma.config import PROJECT_ROOT, load_settings

DIA = date(2025, 3, 31)
IACT = [sys.executable, "-m", "iact_pipelines.cli"]
PUERTO = int(os.environ.get("IACT_BENCH_PUERTO", "3391"))


def _mediana(valores: list[float]) -> float:
    valores = sorted(valores)
    return valores[len(valores) // 2]


def unidad(muestras: int = 5) -> float:
    """Seconds Python takes to `import dagster` in a fresh process, the least of `muestras`."""
    tiempos = []
    for _ in range(muestras):
        inicio = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import dagster"], check=True)
        tiempos.append(time.perf_counter() - inicio)
    return min(tiempos)


def _iact(*args: str) -> tuple[float, int]:
    """Run `iact`; its seconds and its pid (the runs it executes carry it as a tag)."""
    inicio = time.perf_counter()
    proc = subprocess.Popen(
        [*IACT, *args], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    salida, _ = proc.communicate()
    segundos = time.perf_counter() - inicio
    if proc.returncode != 0:
        print(salida, file=sys.stderr)
        raise SystemExit(f"bench: `iact {' '.join(args)}` failed with exit code {proc.returncode}")
    return segundos, proc.pid


def esperar_quietud(instance, limite: float = 300) -> None:
    """Until no run is queued or in progress (a sensor's run would share the cores with the next
    measurement)."""
    import dagster as dg

    activos = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
    fin = time.monotonic() + limite
    while instance.get_runs(filters=dg.RunsFilter(statuses=activos), limit=1) and time.monotonic() < fin:
        time.sleep(1)


def _seleccion_diario() -> str:
    import dagster as dg

    from iact_pipelines.definitions import defs

    with_keys = defs.resolve_job_def("diario").asset_layer.selected_asset_keys
    del dg
    return ",".join(sorted("/".join(k.path) for k in with_keys))


def _tiempos_run(instance, run_id: str) -> dict[str, float]:
    """Run start/end, queue time and the steps' wall time from the run's events."""
    import dagster as dg

    marcas: dict[str, float] = {}
    pasos = 0.0
    inicio_paso: dict[str, float] = {}
    for evento in instance.all_logs(run_id):
        tipo = evento.dagster_event_type
        if tipo == dg.DagsterEventType.RUN_ENQUEUED:
            marcas["encolado"] = evento.timestamp
        elif tipo == dg.DagsterEventType.RUN_START:
            marcas["inicio"] = evento.timestamp
        elif tipo in (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE):
            marcas["fin"] = evento.timestamp
            marcas["exito"] = float(tipo == dg.DagsterEventType.RUN_SUCCESS)
        elif tipo == dg.DagsterEventType.STEP_START:
            inicio_paso[evento.step_key] = evento.timestamp
        elif tipo in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            pasos += evento.timestamp - inicio_paso.pop(evento.step_key, evento.timestamp)
    marcas["pasos"] = pasos
    return marcas


def cli(instance, seleccion: str, dia: date) -> dict[str, float]:
    """`iact materializar` of the day as a whole process, and where its time went."""
    import dagster as dg

    lanzado = time.time()
    total, pid = _iact("materializar", "--desde", dia.isoformat(), "--hasta", dia.isoformat(), "--activos", seleccion)
    (run,) = instance.get_runs(filters=dg.RunsFilter(tags={"iact/pid": str(pid)}), limit=1)
    run_id = run.run_id
    t = _tiempos_run(instance, run_id)
    if not t.get("exito"):
        raise SystemExit(f"bench: CLI run {run_id} failed")
    f = fases.fases_de_runs(instance, [run_id])
    return {
        "total": total,
        "antes": t["inicio"] - lanzado,
        "run": t["fin"] - t["inicio"],
        "pasos": t["pasos"],
        "propio": sum(f.get(k, 0.0) for k in ("extraccion", "validacion", "carga", "reporte")),
        "despues": lanzado + total - t["fin"],
    }


def _esperar_puerto(puerto: int, limite: float) -> None:
    fin = time.monotonic() + limite
    while time.monotonic() < fin:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", puerto)) == 0:
                return
        time.sleep(0.5)
    raise SystemExit(f"bench: nothing answers on port {puerto} after {limite:.0f} s")


def iniciar_servicios() -> subprocess.Popen:
    """`iact dev` (webserver, daemon, code server) on the bench home, in its own process group."""
    proc = subprocess.Popen(
        [*IACT, "dev", "--port", str(PUERTO)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _esperar_puerto(PUERTO, 180)
    return proc


def detener_servicios(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def daemon(instance, dia: date) -> dict[str, float]:
    """`diario` for the day launched as the UI launches it; waits for the run to end."""
    from dagster_graphql import DagsterGraphQLClient

    cliente = DagsterGraphQLClient("127.0.0.1", port_number=PUERTO)
    for intento in range(60):  # the code location may still be loading
        try:
            run_id = cliente.submit_job_execution(
                "diario",
                repository_location_name="iact_pipelines",
                repository_name="__repository__",
                tags={"dagster/partition": dia.isoformat()},
            )
            break
        except Exception:  # noqa: BLE001 - retried until the location answers
            if intento == 59:
                raise
            time.sleep(2)
    limite = time.monotonic() + 600
    while time.monotonic() < limite:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            break
        time.sleep(0.25)
    else:
        raise SystemExit(f"bench: daemon run {run_id} did not end within 600 s")
    t = _tiempos_run(instance, run_id)
    if not t.get("exito"):
        raise SystemExit(f"bench: daemon run {run_id} failed")
    return {"run": t["fin"] - t["inicio"], "cola": t["fin"] - t.get("encolado", t["inicio"]), "pasos": t["pasos"]}


def preparar_dias(urls, llamadas: int, historia: int, seleccion: str) -> None:
    desde = DIA - timedelta(days=historia)
    entorno.vaciar(urls)
    s, _ = _iact(
        "demo", "seed", "--desde", desde.isoformat(), "--hasta", DIA.isoformat(), "--llamadas-por-dia", str(llamadas)
    )
    print(f"seed: {historia + 1} days x {llamadas:,} calls in {s:.1f} s", flush=True)
    if historia:
        fin = DIA - timedelta(days=1)
        s, _ = _iact("materializar", "--desde", desde.isoformat(), "--hasta", fin.isoformat(), "--activos", seleccion)
        print(f"history: {desde}..{fin} built in one run in {s:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dia_tipico")
    parser.add_argument("--llamadas", type=int, default=20_000)
    parser.add_argument("--historia", type=int, default=30, help="days built before the measured one")
    parser.add_argument("--repeticiones", type=int, default=3)
    parser.add_argument("--sin-daemon", action="store_true", help="measure the CLI only")
    parser.add_argument("--reusar", action="store_true", help="keep the days a previous run seeded and built")
    args = parser.parse_args()

    ya_corria = entorno.servidor_corriendo()
    urls = entorno.preparar()
    import dagster as dg

    ajustes = load_settings()
    try:
        seleccion = _seleccion_diario()
        if not args.reusar:
            preparar_dias(urls, args.llamadas, args.historia, seleccion)
        servicios = None if args.sin_daemon else iniciar_servicios()
        u, pisos, clis, daemons = [], [], [], []
        try:
            with dg.DagsterInstance.get() as instance:
                if servicios is not None:
                    daemon(instance, DIA)  # warm-up: the first launch also loads the code location
                for i in range(args.repeticiones):
                    esperar_quietud(instance)
                    u.append(unidad())
                    p = piso.medir(urls, DIA, ajustes.zona_horaria, list(ajustes.centros))["total"]
                    pisos.append(p)
                    c = cli(instance, seleccion, DIA)
                    clis.append(c["total"])
                    linea = (
                        f"#{i + 1}: unit {u[-1]:.2f} s, floor {p:.2f} s, CLI {c['total']:.2f} s "
                        f"(before the run {c['antes']:.2f} + run {c['run']:.2f} [steps {c['pasos']:.2f}, assets' own work "
                        f"{c['propio']:.2f}] "
                        f"+ after {c['despues']:.2f})"
                    )
                    if servicios is not None:
                        esperar_quietud(instance)
                        d = daemon(instance, DIA)
                        daemons.append(d["run"])
                        linea += (
                            f", daemon run {d['run']:.2f} s (queued to end {d['cola']:.2f}, steps {d['pasos']:.2f})"
                        )
                    print(linea, flush=True)
        finally:
            if servicios is not None:
                detener_servicios(servicios)
        unidad_s, piso_s, cli_s = min(u), _mediana(pisos), _mediana(clis)
        with os.popen("uptime") as f:
            carga = f.read().strip()
        resumen = (
            f"day at {args.llamadas:,} calls ({args.historia} days before it), medians of {args.repeticiones}: "
            f"unit {unidad_s:.2f} s, floor {piso_s:.2f} s, CLI {cli_s:.2f} s "
            f"(goal floor + 4 units = {piso_s + 4 * unidad_s:.2f} s: {(cli_s - piso_s) / unidad_s:.1f} units)"
        )
        if daemons:
            d_s = _mediana(daemons)
            resumen += (
                f", daemon {d_s:.2f} s (goal floor + 3 units = {piso_s + 3 * unidad_s:.2f} s: "
                f"{(d_s - piso_s) / unidad_s:.1f} units)"
            )
        print(resumen + f"; load: {carga}", flush=True)
    finally:
        if not ya_corria:
            entorno.detener()


if __name__ == "__main__":
    main()
