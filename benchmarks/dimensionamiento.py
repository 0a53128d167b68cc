"""Staffing and targets on a 1M-call day: what reportes/dimensionamiento, cumplimiento and esperas
add to the daily run, and the measurement that chose Python for the Erlang C search.

    python -m benchmarks.dimensionamiento --llamadas 1000000

1. Seeds the day, materializes its staging and reportes/intervalos (the staffing's input).
2. The Erlang C search over that day's intervals, the same loop in Python (reportes/erlang.py)
   and in PL/pgSQL (a function created in pg_temp for the comparison only), medians of 3.
3. The three assets materialized `--repeticiones` times: each one's own seconds
   (`segundos_reporte`) and the wall time of their steps (Dagster's work inside them included).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

import dagster as dg

from benchmarks import entorno, fases
from iact_pipelines.demo import generador
from iact_pipelines.plataforma import db
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes import assets as reportes
from iact_pipelines.reportes import erlang
from iact_pipelines.staging.assets import staging_assets

# The same search as erlang.dotacion, in PL/pgSQL: B carried upward, SL checked once k > A.
_ERLANG_PLPGSQL = """
CREATE OR REPLACE FUNCTION pg_temp.agentes(a float8, aht float8, umbral float8, objetivo float8)
RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE b float8 := 1; k integer := 0; c float8;
BEGIN
    IF a <= 0 OR aht <= 0 THEN RETURN 0; END IF;
    LOOP
        k := k + 1;
        b := a * b / (k + a * b);
        CONTINUE WHEN k <= a;
        c := k * b / (k - a * (1 - b));
        IF 1 - c * exp(-(k - a) * umbral / aht) >= objetivo / 100 THEN RETURN k; END IF;
    END LOOP;
END $$
"""
_CARGAS = """
SELECT atendidas + abandonadas AS llamadas,
       CASE WHEN atendidas > 0 THEN suma_atencion / atendidas
            ELSE coalesce(sum(suma_atencion) OVER w / nullif(sum(atendidas) OVER w, 0), 0) END AS aht
FROM reportes_intervalos WHERE fecha = %s
WINDOW w AS (PARTITION BY centro_id)
"""
_EN_PLPGSQL = "SELECT sum(pg_temp.agentes(a, aht, 20, 80)) FROM unnest(%s::float8[], %s::float8[]) AS t (a, aht)"
NUEVOS = ("dimensionamiento", "cumplimiento", "esperas")


def comparar_erlang(warehouse_url: str, dia: date, repeticiones: int = 3) -> dict[str, float]:
    """Seconds of the Erlang search over the day's intervals: Python vs PL/pgSQL (medians)."""
    with db.connect(warehouse_url, autocommit=True) as conn:
        filas = [(float(n), float(aht)) for n, aht in conn.execute(_CARGAS, (dia,)).fetchall()]
        cargas = [erlang.carga(n, aht) for n, aht in filas]
        ahts = [aht for _, aht in filas]
        conn.execute(_ERLANG_PLPGSQL)
        python, plpgsql = [], []
        for _ in range(repeticiones):
            inicio = time.perf_counter()
            en_python = sum(erlang.dotacion(a, aht, 20, 80).agentes for a, aht in zip(cargas, ahts, strict=True))
            python.append(time.perf_counter() - inicio)
            inicio = time.perf_counter()
            (en_sql,) = conn.execute(_EN_PLPGSQL, (cargas, ahts)).fetchone()
            plpgsql.append(time.perf_counter() - inicio)
            assert en_python == en_sql, (en_python, en_sql)
    return {
        "intervalos": len(filas),
        "carga_max_erlangs": max(cargas, default=0),
        "python_s": statistics.median(python),
        "plpgsql_s": statistics.median(plpgsql),
    }


def medir(instance: dg.DagsterInstance, dia: date) -> dict[str, float]:
    """The three assets of `dia` once (intervalos and staging loaded): each one's own seconds and
    the wall time of their steps."""
    result = dg.materialize(
        reportes.OBJETIVOS, partition_key=dia.isoformat(), instance=instance, resources=build_resources()
    )
    segundos = {}
    for definicion in reportes.OBJETIVOS:
        for m in result.asset_materializations_for_node(definicion.op.name):
            segundos[m.asset_key.path[-1]] = float(m.metadata["segundos_reporte"].value)
    segundos["pasos"] = fases.fases_de_runs(instance, [result.run_id])["pasos"]
    return segundos


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dimensionamiento")
    parser.add_argument("--llamadas", type=int, default=1_000_000)
    parser.add_argument("--repeticiones", type=int, default=3)
    args = parser.parse_args()

    urls = entorno.preparar()
    entorno.vaciar(urls)
    dia = date(2025, 3, 4)
    generador.seed(urls.ivr, dia, dia, args.llamadas)
    with dg.DagsterInstance.ephemeral() as instance:
        assert dg.materialize(
            [*staging_assets, *reportes.ANALISTAS],
            partition_key=dia.isoformat(),
            instance=instance,
            resources=build_resources(),
            selection=[*[k for s in staging_assets for k in s.keys], reportes.intervalos],
        ).success
        with db.connect(urls.warehouse, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        comparacion = comparar_erlang(urls.warehouse, dia)
        print(
            f"Erlang C search over {comparacion['intervalos']} intervals (max load "
            f"{comparacion['carga_max_erlangs']:.1f} Erlangs), medians of 3: Python {comparacion['python_s']:.3f} s, "
            f"PL/pgSQL {comparacion['plpgsql_s']:.3f} s",
            flush=True,
        )
        corridas = [medir(instance, dia) for _ in range(args.repeticiones)]
    medianas = {k: statistics.median(c[k] for c in corridas) for k in corridas[0]}
    print(
        f"staffing and targets at {args.llamadas:,} calls/day (medians of {args.repeticiones}): "
        + ", ".join(f"{k} {medianas[k]:.3f} s" for k in NUEVOS if k in medianas)
        + f"; their steps {medianas['pasos']:.3f} s (budget 2 s)",
        flush=True,
    )


if __name__ == "__main__":
    main()
