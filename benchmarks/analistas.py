"""The three analyst reports (intervalos, rellamadas, devolucion) on a seeded demo day: the wall
time of their one step (they run at once), each one's own time (`segundos_reporte`), medians,
and the day's headline figures.

    python -m benchmarks.analistas --llamadas 100000

Seeds the day and the day before it (the repeat-call look-back reads it), materializes staging
and the reports of both, then re-materializes the three reports of the day `--repeticiones`
times. `medir(instance, dia)` is the part `make bench` can call on a day already staged.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta

import dagster as dg

from benchmarks import entorno, fases
from iact_pipelines.demo import generador
from iact_pipelines.plataforma import db
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes import assets as reportes
from iact_pipelines.staging.assets import staging_assets

_CIFRAS = """
SELECT d.ofrecidas, d.atendidas, d.abandonadas, d.tiempo_promedio_espera, d.tiempo_promedio_atencion,
       d.nivel_servicio, d.nivel_servicio_sin_cortos, d.tasa_abandono, d.tasa_abandono_sin_cortos, d.contencion_ivr,
       (SELECT tasa_rellamada FROM (SELECT round(100.0 * sum(rellamadas) / nullif(sum(llamadas_identificadas), 0), 2)
            AS tasa_rellamada FROM reportes_rellamadas WHERE fecha = %(dia)s) AS r),
       (SELECT count(*) FROM lista_devolucion WHERE fecha = %(dia)s)
FROM v_intervalos_dia AS d WHERE d.fecha = %(dia)s
"""
_NOMBRES = (
    "ofrecidas",
    "atendidas",
    "abandonadas",
    "asa_s",
    "atencion_s",
    "nivel_servicio",
    "ns_sin_cortos",
    "tasa_abandono",
    "abandono_sin_cortos",
    "contencion_ivr",
    "tasa_rellamada",
    "lista_devolucion",
)


def medir(instance: dg.DagsterInstance, dia: date) -> dict[str, float]:
    """Materialize the three reports of `dia` (staging loaded) once: each report's own seconds
    (they run at once, so these overlap) and `paso`, the wall time of their one step, Dagster's
    work inside it included: what they add to the daily run."""
    result = dg.materialize(
        reportes.ANALISTAS, partition_key=dia.isoformat(), instance=instance, resources=build_resources()
    )
    segundos = {
        m.asset_key.path[-1]: float(m.metadata["segundos_reporte"].value)
        for m in result.asset_materializations_for_node(reportes.analistas.op.name)
    }
    segundos["paso"] = fases.fases_de_runs(instance, [result.run_id])["pasos"]
    return segundos


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.analistas")
    parser.add_argument("--llamadas", type=int, default=100_000)
    parser.add_argument("--repeticiones", type=int, default=3)
    args = parser.parse_args()

    urls = entorno.preparar()
    entorno.vaciar(urls)
    dia = date(2025, 3, 4)
    generador.seed(urls.ivr, dia - timedelta(days=1), dia, args.llamadas)
    with dg.DagsterInstance.ephemeral() as instance:
        for d in (dia - timedelta(days=1), dia):
            assert dg.materialize(
                [*staging_assets, reportes.llamadas_dia, *reportes.ANALISTAS],
                partition_key=d.isoformat(),
                instance=instance,
                resources=build_resources(),
            ).success
        with db.connect(urls.warehouse, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        corridas = [medir(instance, dia) for _ in range(args.repeticiones)]
    medianas = {k: sorted(c[k] for c in corridas)[len(corridas) // 2] for k in corridas[0]}
    print(
        f"analyst reports at {args.llamadas:,} calls/day (medians of {args.repeticiones}), each at once: "
        + ", ".join(f"{k} {v:.3f} s" for k, v in medianas.items() if k != "paso")
        + f"; their step {medianas['paso']:.3f} s",
        flush=True,
    )
    with db.connect(urls.warehouse) as conn:
        fila = conn.execute(_CIFRAS, {"dia": dia}).fetchone()
    print(
        "demo day "
        + dia.isoformat()
        + " (all centers): "
        + ", ".join(f"{n}={v}" for n, v in zip(_NOMBRES, fila, strict=True)),
        flush=True,
    )


def medir_reportes_analista(warehouse_url: str, dia: date) -> dict[str, float]:
    """`make bench`'s hook: the three reports of `dia`, whose staging the day benchmark just
    loaded, on the bench's Dagster instance; seconds of each report's own work."""
    with dg.DagsterInstance.get() as instance:
        return medir(instance, dia)


if __name__ == "__main__":
    main()
