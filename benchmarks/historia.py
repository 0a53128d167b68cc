"""The history line of `make bench`: do the monthly and quarterly reports cost the same with
1 month of earlier history as with 12? They should: each reads its own period's days (the
monthly one also the small first-call tables), never the history before it.

The history is seeded straight into staging.llamadas, the only table those two reports read:
the demo generator's calls of each day (same generator as `iact demo seed`), filtered to the
allowed centers and to rows staging can hold (NOT NULL columns), with their local day and
hour, loaded a month at a time through the pipeline's own day replace
(`staging.carga.reemplazar_dias` + binary COPY), which also maintains the first-call
tables. Skipping the source, extraction and pandera is what makes 15 months at 100k calls/day
take about a minute and a half instead of half an hour; the validation rejects ~1-2% more rows
in a real run, which changes nothing about how the reports scale. The reports themselves run
as Dagster assets in-process on the bench instance; their `segundos_reporte` is measured.

Layout: the measured periods are December 2025 (monthly) and Q4 2025 (quarterly). First
staging holds September to December 2025 (1 month of history before each period), then
October 2024 to August 2025 is backfilled before it (12 or more months before each).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from iact_pipelines.demo import generador
from iact_pipelines.fuentes.contrato import FUENTES
from iact_pipelines.plataforma import db, fechas
from iact_pipelines.plataforma.config import load_settings
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes import assets as reportes
from iact_pipelines.staging import carga, extraccion

MES = date(2025, 12, 1)
TRIMESTRE = date(2025, 10, 1)
CORTA = (date(2025, 9, 1), date(2026, 1, 1))  # 1 month before each measured period, and the periods
LARGA = (date(2024, 10, 1), date(2025, 9, 1))  # then 11 more months before it: 12 before Q4, 14 before December
_SEMILLA = 42
# Warnings and up only: each measured run would print its whole event log otherwise.
_REGISTRO = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _meses(desde: date, hasta: date) -> list[tuple[date, date]]:
    meses, inicio = [], desde
    while inicio < hasta:
        fin = (inicio.replace(day=28) + timedelta(days=4)).replace(day=1)
        meses.append((inicio, min(fin, hasta)))
        inicio = fin
    return meses


def _llamadas_de_mes(desde: date, hasta: date, llamadas: int, zona: str, centros: list[str]) -> pa.Table:
    fuente = FUENTES["llamadas"]
    tablas = [
        bloque.llamadas
        for dia in fechas.dias_semiabiertos(desde, hasta)
        for bloque in generador.generar_dia(dia, llamadas, _SEMILLA, zona)
    ]
    tabla = pa.concat_tables(tablas)
    cabe = pc.is_in(tabla["centro_id"], pa.array(centros))
    for columna in ("llamada_id", "fin", "resultado"):
        cabe = pc.and_(cabe, pc.is_valid(tabla[columna]))
    tabla = extraccion.con_dia_local(tabla.filter(cabe), fuente.inicio, zona)
    return tabla.select(list(fuente.columnas_staging)).cast(fuente.esquema_staging)


def sembrar(urls: db.Urls, desde: date, hasta: date, llamadas: int) -> int:
    """Load staging.llamadas for [desde, hasta) month by month; returns the rows loaded. The
    next month is generated in a thread while the current one is loaded."""
    ajustes = load_settings()
    meses = _meses(desde, hasta)
    filas = 0
    with db.connect(urls.warehouse) as conn, ThreadPoolExecutor(max_workers=1) as hilo:
        generar = lambda m: hilo.submit(_llamadas_de_mes, *m, llamadas, ajustes.zona_horaria, list(ajustes.centros))  # noqa: E731
        siguiente = generar(meses[0])
        for i, (inicio, fin) in enumerate(meses):
            tabla = siguiente.result()
            if i + 1 < len(meses):
                siguiente = generar(meses[i + 1])
            with carga.reemplazar_dias(conn, "llamadas", inicio, fin):
                conn.execute("SET LOCAL synchronous_commit = off")  # bench data: speed over durability
                filas += carga.copiar_dias(conn, "llamadas", tabla)
    with db.connect(urls.warehouse, autocommit=True) as conn:
        conn.execute("ANALYZE staging.llamadas, staging.clientes_dia, staging.clientes_primera_llamada")
    return filas


def _segundos_reporte(instance: dg.DagsterInstance, asset, particion: date) -> float:
    resultado = dg.materialize(
        [asset],
        partition_key=particion.isoformat(),
        instance=instance,
        resources=build_resources(),
        run_config=_REGISTRO,
    )
    (mat,) = resultado.asset_materializations_for_node(asset.op.name)
    return float(mat.metadata["segundos_reporte"].value)


def medir(instance: dg.DagsterInstance, repeticiones: int) -> dict[str, float]:
    """Median seconds of the monthly and the quarterly report (`segundos_reporte`), measured in
    alternation; one warm-up run each first."""
    mediciones: dict[str, list[float]] = {"mensual": [], "trimestral": []}
    _segundos_reporte(instance, reportes.clientes_unicos, MES)
    _segundos_reporte(instance, reportes.trimestral, TRIMESTRE)
    for _ in range(repeticiones):
        mediciones["mensual"].append(_segundos_reporte(instance, reportes.clientes_unicos, MES))
        mediciones["trimestral"].append(_segundos_reporte(instance, reportes.trimestral, TRIMESTRE))
    return {nombre: sorted(v)[len(v) // 2] for nombre, v in mediciones.items()}


def historia(urls: db.Urls, llamadas: int, repeticiones: int) -> float:
    """Print the history line; returns H = cost with 12 months / cost with 1 month, the worse report."""
    inicio = time.perf_counter()
    filas = sembrar(urls, *CORTA, llamadas)
    print(
        f"history: seeded {filas:,} staging calls ({CORTA[0]} .. {CORTA[1] - timedelta(days=1)}) "
        f"in {time.perf_counter() - inicio:.1f} s",
        flush=True,
    )
    with dg.DagsterInstance.get() as instance:
        corta = medir(instance, repeticiones)
        inicio = time.perf_counter()
        filas = sembrar(urls, *LARGA, llamadas)
        print(
            f"history: backfilled {filas:,} staging calls ({LARGA[0]} .. {LARGA[1] - timedelta(days=1)}) "
            f"before them in {time.perf_counter() - inicio:.1f} s",
            flush=True,
        )
        larga = medir(instance, repeticiones)
    ratios = {nombre: larga[nombre] / corta[nombre] for nombre in corta}
    print(
        f"history at {llamadas:,} calls/day, medians of {repeticiones}: monthly {MES:%Y-%m} "
        f"{corta['mensual']:.3f} s with 1 month before it vs {larga['mensual']:.3f} s with 14 "
        f"({ratios['mensual']:.2f}x); quarterly {TRIMESTRE:%Y}-Q4 {corta['trimestral']:.3f} s with 1 month "
        f"before it vs {larga['trimestral']:.3f} s with 12 ({ratios['trimestral']:.2f}x)",
        flush=True,
    )
    return max(ratios.values())
