"""`make bench-distribuido`: a range build of `diario` through the daemon with its steps on
dagster-celery workers (IACT_EJECUTOR_DIARIO=celery), with 1 and then 2 workers.

Seeds --dias days at --llamadas calls/day into the bench server (benchmarks/entorno.py), then
for each worker count: an empty warehouse, `iact dev` (webserver, daemon, code server) and that
many workers on a queue of their own, and one `diario` run over the whole range launched as the
UI launches a range backfill (GraphQL, the range's partition tags: one run, its assets over the
range). Prints the run's time (start to end), the rows it loaded and which worker ran each step.
Needs the broker and the backend of IACT_CELERY_BROKER / IACT_CELERY_BACKEND.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from benchmarks import dia_tipico, entorno
from iact_pipelines.plataforma import db
from iact_pipelines.plataforma.config import PROJECT_ROOT

BIN = Path(sys.executable).parent
_RANGO = {"inicio": "dagster/asset_partition_range_start", "fin": "dagster/asset_partition_range_end"}
_FILAS = "SELECT (SELECT count(*) FROM staging.llamadas), (SELECT count(*) FROM staging.menu_eventos)"


def _trabajadores(cantidad: int, cola: str) -> list[tuple[str, subprocess.Popen]]:
    nombres = [f"b{i}-{uuid.uuid4().hex[:4]}@{socket.gethostname()}" for i in range(1, cantidad + 1)]
    return [
        (
            nombre,
            subprocess.Popen(
                [str(BIN / "celery"), "-A", "iact_pipelines.plataforma.trabajador", "worker", "-Q", cola]
                + ["--pool", "solo", "-n", nombre, "--without-gossip", "--without-mingle", "-l", "WARNING"],
                cwd=PROJECT_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            ),
        )
        for nombre in nombres
    ]


def _lanzar_rango(desde: date, hasta: date) -> str:
    from dagster_graphql import DagsterGraphQLClient

    cliente = DagsterGraphQLClient("127.0.0.1", port_number=dia_tipico.PUERTO)
    tags = {_RANGO["inicio"]: desde.isoformat(), _RANGO["fin"]: hasta.isoformat()}
    for intento in range(60):  # the code location may still be loading
        try:
            return cliente.submit_job_execution(
                "diario", repository_location_name="iact_pipelines", repository_name="__repository__", tags=tags
            )
        except Exception:  # noqa: BLE001 - retried until the location answers
            if intento == 59:
                raise
            time.sleep(2)
    raise AssertionError("unreachable")


def _pasos_por_trabajador(instance, run_id: str) -> dict[str, str]:
    import dagster as dg

    pasos = {}
    for evento in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        metadata = evento.dagster_event.engine_event_data.metadata
        if "Celery worker" in metadata:
            pasos[evento.step_key] = metadata["Celery worker"].value
    return pasos


def construir(urls: db.Urls, desde: date, hasta: date, cantidad: int, limite: float) -> dict:
    """One `diario` run over [desde, hasta] with `cantidad` workers; its time, rows and steps."""
    import dagster as dg

    entorno.vaciar_almacen(urls)
    os.environ["IACT_CELERY_COLA"] = f"iact-bench-{uuid.uuid4().hex[:8]}"
    trabajadores = _trabajadores(cantidad, os.environ["IACT_CELERY_COLA"])
    servicios = dia_tipico.iniciar_servicios()
    try:
        run_id = _lanzar_rango(desde, hasta)
        with dg.DagsterInstance.get() as instance:
            fin = time.monotonic() + limite
            while not (run := instance.get_run_by_id(run_id)) or not run.is_finished:
                if time.monotonic() > fin:
                    raise SystemExit(f"bench: run {run_id} did not end within {limite:.0f} s")
                time.sleep(1)
            tiempos = dia_tipico._tiempos_run(instance, run_id)
            pasos = _pasos_por_trabajador(instance, run_id)
    finally:
        dia_tipico.detener_servicios(servicios)
        for _, proc in trabajadores:
            os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in trabajadores:
            proc.wait(timeout=60)
    with db.connect(urls.warehouse) as conn:
        llamadas, eventos = conn.execute(_FILAS).fetchone()
    por_trabajador: dict[str, list[str]] = {}
    for paso, nombre in sorted(pasos.items()):
        por_trabajador.setdefault(nombre.split("@")[0], []).append(paso)
    return {
        "exito": bool(tiempos.get("exito")),
        "run": tiempos["fin"] - tiempos["inicio"],
        "pasos": tiempos["pasos"],
        "llamadas": llamadas,
        "eventos": eventos,
        "por_trabajador": por_trabajador,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distribuido")
    parser.add_argument("--dias", type=int, default=90)
    parser.add_argument("--llamadas", type=int, default=20_000, help="calls per day of the seeded range")
    parser.add_argument("--trabajadores", default="1,2", help="worker counts to measure, in order")
    parser.add_argument("--limite", type=float, default=1800, help="seconds a run may take before the bench gives up")
    args = parser.parse_args()

    ya_corria = entorno.servidor_corriendo()
    urls = entorno.preparar()
    os.environ["IACT_EJECUTOR_DIARIO"] = "celery"
    hasta = date(2025, 3, 31)
    desde = hasta - timedelta(days=args.dias - 1)
    try:
        entorno.vaciar(urls)
        inicio = time.perf_counter()
        dia_tipico._iact(
            "demo",
            "seed",
            "--desde",
            desde.isoformat(),
            "--hasta",
            hasta.isoformat(),
            "--llamadas-por-dia",
            str(args.llamadas),
        )
        print(f"seed: {args.dias} days x {args.llamadas:,} calls in {time.perf_counter() - inicio:.1f} s", flush=True)
        for cantidad in [int(n) for n in args.trabajadores.split(",")]:
            r = construir(urls, desde, hasta, cantidad, args.limite)
            reparto = "; ".join(f"{t}: {len(p)} steps ({', '.join(p)})" for t, p in sorted(r["por_trabajador"].items()))
            print(
                f"{args.dias}-day build with {cantidad} worker(s): {'success' if r['exito'] else 'FAILED'}, "
                f"run {r['run']:.1f} s (steps {r['pasos']:.1f} s), {r['llamadas']:,} calls and "
                f"{r['eventos']:,} menu events loaded; {reparto}",
                flush=True,
            )
    finally:
        if not ya_corria:
            entorno.detener()


if __name__ == "__main__":
    main()
