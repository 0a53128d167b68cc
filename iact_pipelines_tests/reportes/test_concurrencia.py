"""A report never reads a half-loaded staging day, and never waits for a load: a report run of a
day started while a staging load of that day has written its rows and not committed (two
processes) ends before that commit and reports exactly the staging committed before the load."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from datetime import date

import dagster as dg
from psycopg import sql

from iact_pipelines.demo import generador
from iact_pipelines.fuentes.contrato import FUENTES
from iact_pipelines.plataforma import db, reemplazo
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes import assets as reportes
from iact_pipelines.staging import assets as staging

DIA = "2024-03-10"
VECES = 3


def _reporte_aparte(dagster_home: str) -> bool:
    """A run of reportes/llamadas_dia for DIA in a child process, on the test's Dagster instance."""
    instancia = dg.DagsterInstance.from_config(dagster_home)
    try:
        return dg.materialize(
            [reportes.llamadas_dia],
            partition_key=DIA,
            instance=instancia,
            resources=build_resources(),
            raise_on_error=False,
        ).success
    finally:
        instancia.dispose()


def test_a_report_racing_a_staging_load_equals_staging(urls, warehouse, instance):
    generador.seed(urls.ivr, date.fromisoformat(DIA), date.fromisoformat(DIA), 2000, 7)
    assert dg.materialize([staging.llamadas], partition_key=DIA, instance=instance, resources=build_resources()).success
    columnas = [c for c in FUENTES["llamadas"].columnas_staging]
    filas = warehouse.execute(
        sql.SQL("SELECT {} FROM staging.llamadas").format(sql.SQL(", ").join(map(sql.Identifier, columnas)))
    ).fetchall()
    (esperado,) = warehouse.execute("SELECT count(*) FROM staging.llamadas").fetchone()
    assert esperado > 1000

    totales = []
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        for vez in range(VECES):
            (previa,) = warehouse.execute("SELECT count(*) FROM staging.llamadas").fetchone()
            # The staging load, through the same replace helper the asset uses, held open after
            # its COPY until the report run (the other process) has ended.
            with db.connect(urls.warehouse) as carga:
                dia = date.fromisoformat(DIA)
                with reemplazo.reemplazar_dias_staging(carga, "llamadas", dia, dia.replace(day=dia.day + 1)):
                    mitad = filas[: len(filas) // 2] if vez % 2 else filas
                    destino = reemplazo.particion_nueva("staging", "llamadas", dia)
                    with carga.cursor().copy(
                        sql.SQL("COPY {} ({}) FROM STDIN").format(
                            destino, sql.SQL(", ").join(map(sql.Identifier, columnas))
                        )
                    ) as copy:
                        for fila in mitad:
                            copy.write_row(fila)
                    assert pool.submit(_reporte_aparte, instance.root_directory).result(timeout=120)
                    (total,) = warehouse.execute(
                        "SELECT sum(total_llamadas)::int FROM reportes_llamadas_dia WHERE fecha = %s", (DIA,)
                    ).fetchone()
            (en_staging,) = warehouse.execute("SELECT count(*) FROM staging.llamadas").fetchone()
            totales.append((previa, total, en_staging))

    mitad = len(filas) // 2
    assert totales == [(esperado, esperado, esperado), (esperado, esperado, mitad), (mitad, mitad, esperado)]
