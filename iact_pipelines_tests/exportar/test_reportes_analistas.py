"""`iact exportar` knows the three analyst reports: every format, rows of the period only."""

import csv

import pytest
from openpyxl import load_workbook

from iact_pipelines.cli import main
from iact_pipelines.exportar import archivos as exportar
from iact_pipelines.reportes import assets as reportes
from iact_pipelines_tests.reportes.ayudas import PUE, cargar, llamada, materializar


@pytest.mark.parametrize("reporte, filas", [("intervalos", 192), ("rellamadas", 2), ("devolucion", 2)])
def test_analyst_reports_export_in_every_format(warehouse, instance, tmp_path, monkeypatch, capsys, reporte, filas):
    cargar(
        warehouse,
        "llamadas",
        [
            llamada("2024-03-10 09:00:00", "ABANDONADA", espera=30, cliente="F"),
            llamada("2024-03-10 11:00:00", "ABANDONADA", espera=45, cliente="G", centro=PUE),
            llamada("2024-03-10 12:00:00", "ATENDIDA", espera=4, habla=90, cliente="G"),
            llamada("2024-03-10 13:00:00", "ABANDONADA", espera=3, cliente="G"),
            llamada("2024-03-11 09:00:00", "ABANDONADA", espera=30, cliente="F"),  # outside the period
        ],
    )
    asset = {"intervalos": reportes.intervalos, "rellamadas": reportes.rellamadas, "devolucion": reportes.devolucion}
    assert materializar(instance, asset[reporte], "2024-03-10", "2024-03-11").success
    monkeypatch.chdir(tmp_path)
    for formato in exportar.FORMATOS:
        assert main(["exportar", reporte, "--desde", "2024-03-10", "--hasta", "2024-03-10", "--formato", formato]) == 0
        assert f": {filas} fila(s) de {reporte}" in capsys.readouterr().out
    base = tmp_path / "exports" / f"{reporte}_2024-03-10_2024-03-10"
    with open(f"{base}.csv", newline="", encoding="utf-8") as f:
        filas_csv = list(csv.reader(f))
    assert len(filas_csv) == filas + 1
    assert filas_csv[0] == [c.nombre for c in exportar.REPORTES[reporte].columnas]
    assert len(list(load_workbook(f"{base}.xlsx").active.rows)) == filas + 1
    if reporte == "devolucion":
        assert [f[:2] for f in filas_csv[1:]] == [["2024-03-10", "F"], ["2024-03-10", "G"]]
