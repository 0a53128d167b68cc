"""The analyst reports' faster statements against their first formulation, frozen in
analistas_anterior.py: on seeded demo days, with several settings and windows, both write
exactly the same rows."""

from datetime import date, timedelta

import dagster as dg
import pytest
from psycopg import sql

from iact_pipelines.demo import generador as demo
from iact_pipelines.plataforma.config import load_settings
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes import metricas
from iact_pipelines.staging.assets import staging_assets
from iact_pipelines_tests.reportes import analistas_anterior

_TABLAS = {"intervalos": "reportes_intervalos", "rellamadas": "reportes_rellamadas", "devolucion": "lista_devolucion"}
_FUERA = ("id", "created_at", "updated_at")  # differ by construction


def _filas(conn, tabla: str, preparacion, sentencia, parametros: dict) -> tuple[list, tuple]:
    """The rows `tabla` gets for the window and the statement's headline row, then undone."""
    with conn.transaction(force_rollback=True):
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE fecha >= %(desde)s AND fecha < %(hasta)s").format(sql.Identifier(tabla)),
            parametros,
        )
        for paso in preparacion:
            conn.execute(paso, parametros)
        cifras = conn.execute(sentencia, parametros).fetchall()
        columnas = [sql.Identifier(c) for c in _columnas(conn, tabla)]
        filas = conn.execute(
            sql.SQL("SELECT {} FROM {} WHERE fecha >= %(desde)s AND fecha < %(hasta)s ORDER BY {}").format(
                sql.SQL(", ").join(columnas), sql.Identifier(tabla), sql.SQL(", ").join(columnas)
            ),
            parametros,
        ).fetchall()
    return filas, cifras


def _columnas(conn, tabla: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s"
            " ORDER BY ordinal_position",
            (tabla,),
        ).fetchall()
        if r[0] not in _FUERA
    ]


@pytest.mark.parametrize(
    "zona, dia", [("America/Mexico_City", date(2025, 3, 4)), ("America/New_York", date(2024, 11, 3))]
)
def test_new_statements_write_exactly_the_former_rows(urls, warehouse, instance, monkeypatch, zona, dia):
    monkeypatch.setenv("IACT_ZONA_HORARIA", zona)
    desde = dia - timedelta(days=2)
    demo.seed(urls.ivr, desde, dia, 3000, 7, zona=zona)
    for d in (desde, desde + timedelta(days=1), dia):
        assert dg.materialize(
            staging_assets, partition_key=d.isoformat(), instance=instance, resources=build_resources()
        ).success
    (dias,) = warehouse.execute("SELECT count(DISTINCT fecha) FROM staging.llamadas").fetchone()
    assert dias == 3

    centros = list(load_settings().centros)
    comparados = rellamadas = 0
    for corto, ventana, umbral in [(5, 24, 20), (7.5, 36, 15.5), (0, 1, 0)]:
        nuevas = metricas.analistas(corto=corto, ventana=ventana, zona=zona, centros=centros)
        anteriores = analistas_anterior.preparaciones(corto=corto, ventana=ventana, zona=zona, centros=centros)
        for inicio, fin in [(dia, dia + timedelta(days=1)), (desde + timedelta(days=1), dia + timedelta(days=1))]:
            parametros = {"desde": inicio, "hasta": fin, "umbral": umbral}
            for reporte, tabla in _TABLAS.items():
                preparacion, sentencia = getattr(nuevas, reporte)
                prep_anterior, sent_anterior = anteriores[reporte]
                nuevo = _filas(warehouse, tabla, preparacion, sentencia, parametros)
                anterior = _filas(warehouse, tabla, (prep_anterior,), sent_anterior or sentencia, parametros)
                assert nuevo[0] == anterior[0], (reporte, corto, ventana, umbral, inicio, fin)
                # the headline: now one row per day (fecha, registros_cargados, ...), the former
                # one row for the window (registros_cargados, ...): the same rows written
                assert [r[0] for r in nuevo[1]] == sorted({f[0] for f in nuevo[0]})
                if sent_anterior is None:  # the same statement on both sides
                    assert nuevo[1] == anterior[1]
                else:
                    ((registros_antes, *_),) = anterior[1]
                    assert sum(r[1] for r in nuevo[1]) == registros_antes == len(nuevo[0])
                assert len(nuevo[0]) > 0  # every report has rows: repeats and a worklist on each window
                comparados += len(nuevo[0])
                if reporte == "rellamadas":
                    rellamadas += sum(r[3] for r in nuevo[1])  # fecha, registros, identificadas, rellamadas
    assert comparados > 3 * 3 * 96 * len(centros)
    assert rellamadas > 0
