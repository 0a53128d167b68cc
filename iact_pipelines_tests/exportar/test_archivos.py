import csv
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from iact_pipelines.cli import main
from iact_pipelines.exportar import archivos as exportar
from iact_pipelines.exportar.archivos import ExportError

D1, D2, FUERA = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 5)


@pytest.fixture
def reportes(warehouse):
    """Hand-made rows in the five report tables, some inside 2024-03-01..02 and some outside."""
    with warehouse.cursor() as cur:
        # llamadas_dia: all 24 hours of two days (hour h: 10*h calls on D1, 1000 at 9h on D2)
        # plus one day outside the period.
        filas = []
        for dia, base in ((D1, 10), (D2, 0), (FUERA, 7)):
            for hora in range(24):
                total = base * hora
                if dia == D2 and hora == 9:
                    total = 1000
                atendidas = total // 2
                filas.append((dia, hora, total, atendidas, total - atendidas - (total > 0), 12.5, 180.25, 87.5))
        cur.executemany(
            "INSERT INTO reportes_llamadas_dia (fecha, hora, total_llamadas, llamadas_atendidas,"
            " llamadas_abandonadas, tiempo_promedio_espera, tiempo_promedio_atencion, nivel_servicio)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            filas,
        )
        cur.executemany(
            "INSERT INTO reportes_menu_problemas (fecha, menu_id, menu_nombre, veces_accedido, abandonos,"
            " timeout, errores, tasa_abandono, tiempo_promedio_permanencia) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (D1, "M01", "Saldo & <pagos>", 200, 50, 10, 4, 25.00, 33.33),
                (D1, "M02", "Aclaraciones", 100, 5, 0, 0, 5.00, 12.00),
                (D2, "M01", "Saldo & <pagos>", 300, 30, 6, 3, 10.00, 40.10),
                (FUERA, "M01", "Saldo & <pagos>", 999, 999, 0, 0, 100.00, 1.00),
            ],
        )
        cur.executemany(
            "INSERT INTO reportes_transferencias (fecha, centro_origen, centro_destino, total_transferencias,"
            " transferencias_exitosas, transferencias_fallidas, tiempo_promedio_transferencia, tasa_exito)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (D1, "19028031", "19020084", 40, 30, 10, 15.50, 75.00),
                (D2, "19028031", "19020084", 20, 19, 1, 9.75, 95.00),
                (D2, "19020084", "19028031", 5, 5, 0, 3.00, 100.00),
                (FUERA, "19028031", "19020084", 77, 0, 77, 0, 0),
            ],
        )
        cur.executemany(
            "INSERT INTO reportes_clientes_unicos (fecha_inicio, fecha_fin, total_clientes_unicos, nuevos_clientes,"
            " clientes_recurrentes, promedio_llamadas_cliente) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (date(2024, 1, 1), date(2024, 1, 31), 1500, 1500, 0, 1.80),
                (date(2024, 2, 1), date(2024, 2, 29), 1700, 400, 1300, 2.25),
                (date(2024, 3, 1), date(2024, 3, 31), 1650, 150, 1500, 2.10),
            ],
        )
        cur.executemany(
            "INSERT INTO reportes_trimestral (trimestre, anio, total_llamadas, llamadas_atendidas,"
            " llamadas_abandonadas, tiempo_promedio_espera, tiempo_promedio_atencion, nivel_servicio,"
            " tasa_abandono) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                ("Q1", 2024, 91000, 80000, 9000, 14.20, 200.00, 81.50, 10.11),
                ("Q2", 2024, 88000, 79000, 8000, 11.00, 190.00, 85.25, 9.20),
                ("Q3", 2024, 70000, 60000, 9500, 18.00, 210.00, 70.00, 13.67),
            ],
        )
    return warehouse


def _csv(ruta):
    with open(ruta, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _pdf_texto(ruta):
    return "\n".join(page.extract_text() for page in PdfReader(ruta).pages)


def test_csv_llamadas_dia(reportes, tmp_path):
    hecho = exportar.exportar(reportes, "llamadas_dia", D1, D2, "csv", tmp_path / "l.csv")
    assert hecho.filas == 48 and hecho.ruta == tmp_path / "l.csv"
    filas = _csv(hecho.ruta)
    assert filas[0] == [
        "fecha",
        "hora",
        "total_llamadas",
        "llamadas_atendidas",
        "llamadas_abandonadas",
        "tiempo_promedio_espera",
        "tiempo_promedio_atencion",
        "nivel_servicio",
    ]
    assert len(filas) == 49
    assert filas[1] == ["2024-03-01", "0", "0", "0", "0", "12.50", "180.25", "87.50"]
    assert filas[24] == ["2024-03-01", "23", "230", "115", "114", "12.50", "180.25", "87.50"]
    assert filas[25 + 9][:4] == ["2024-03-02", "9", "1000", "500"]
    assert {f[0] for f in filas[1:]} == {"2024-03-01", "2024-03-02"}


def test_xlsx_columnas_con_tipo_y_filtro(reportes, tmp_path):
    ruta = exportar.exportar(reportes, "transferencias", D1, D2, "xlsx", tmp_path / "t.xlsx").ruta
    libro = load_workbook(ruta)
    hoja = libro["transferencias"]
    filas = list(hoja.iter_rows(values_only=True))
    assert filas[0] == (
        "fecha",
        "centro_origen",
        "centro_destino",
        "total_transferencias",
        "transferencias_exitosas",
        "transferencias_fallidas",
        "tiempo_promedio_transferencia",
        "tasa_exito",
    )
    assert filas[1:] == [
        (datetime(2024, 3, 1), "19028031", "19020084", 40, 30, 10, 15.5, 75),
        (datetime(2024, 3, 2), "19020084", "19028031", 5, 5, 0, 3, 100),
        (datetime(2024, 3, 2), "19028031", "19020084", 20, 19, 1, 9.75, 95),
    ]
    assert hoja["A2"].is_date and hoja["A2"].number_format == "yyyy-mm-dd"
    assert hoja["D2"].data_type == "n" and hoja["G2"].number_format == "#,##0.00"
    assert hoja["B2"].data_type == "s"  # center codes stay text (leading digits kept as typed)
    assert hoja.auto_filter.ref == "A1:H4"
    assert hoja.freeze_panes == "A2"
    info = dict(libro["info"].iter_rows(values_only=True))
    assert info["desde"] == datetime(2024, 3, 1) and info["hasta"] == datetime(2024, 3, 2) and info["filas"] == 3


def test_pdf_llamadas_dia_titulo_periodo_tabla_y_grafico(reportes, tmp_path):
    ruta = exportar.exportar(reportes, "llamadas_dia", D1, D2, "pdf", tmp_path / "l.pdf").ruta
    texto = _pdf_texto(ruta)
    assert "Llamadas por día y hora" in texto
    assert "Periodo: 2024-03-01 a 2024-03-02" in texto
    assert "48 filas de reportes_llamadas_dia" in texto
    assert "Llamadas por hora (suma del periodo)" in texto
    # Chart bar labels: calls per hour summed over both days (hour 9: 90 + 1,000; hour 23: 230).
    assert "1,090" in texto
    # Table rows (the ninth hour of the second day, and hour 23 of the first).
    assert "2024-03-02\n9\n1,000\n500\n499\n12.50\n180.25\n87.50" in texto
    assert "2024-03-01\n23\n230\n115\n114\n12.50\n180.25\n87.50" in texto
    assert "2024-03-05" not in texto
    # the period's totals of the count columns close the table; pages say how many there are
    # calls 2,760 + 1,000; answered 1,380 + 500; abandoned 1,357 + 499 (the fixture's rows)
    assert "Total del periodo\n3,760\n1,880\n1,856" in texto
    assert "página 1 de 2" in texto and "página 2 de 2" in texto


def test_datos_del_grafico(reportes):
    rep = exportar.REPORTES["llamadas_dia"]
    categorias, series = exportar.datos_grafico(rep, exportar.consultar(reportes, rep, D1, D2))
    assert categorias == [str(h) for h in range(24)]
    assert series == [[10.0 * h + (1000 if h == 9 else 0) for h in range(24)]]
    rep = exportar.REPORTES["transferencias"]
    categorias, series = exportar.datos_grafico(rep, exportar.consultar(reportes, rep, D1, D2))
    assert categorias == ["2024-03-01", "2024-03-02"]
    assert series == [[30.0, 24.0], [10.0, 1.0]]  # exitosas, fallidas per day


def test_pdf_menus_escapa_texto_y_muestra_cifras(reportes, tmp_path):
    ruta = exportar.exportar(reportes, "menu_problemas", D1, D2, "pdf", tmp_path / "m.pdf").ruta
    texto = _pdf_texto(ruta)
    assert "Menús con problemas" in texto and "Periodo: 2024-03-01 a 2024-03-02" in texto
    assert "Saldo & <pagos>" in texto
    assert "25.00" in texto and "33.33" in texto and "40.10" in texto
    assert "999" not in texto


def test_trimestral_filtra_por_solapamiento_con_el_trimestre(reportes, tmp_path):
    filas = _csv(
        exportar.exportar(reportes, "trimestral", date(2024, 1, 1), date(2024, 6, 30), "csv", tmp_path / "t.csv").ruta
    )
    assert [f[:3] for f in filas] == [
        ["anio", "trimestre", "total_llamadas"],
        ["2024", "Q1", "91000"],
        ["2024", "Q2", "88000"],
    ]
    # Every quarter the period touches: Q1 (from Feb 1st), Q2 (whole), Q3 (its first day).
    filas = _csv(
        exportar.exportar(reportes, "trimestral", date(2024, 2, 1), date(2024, 7, 1), "csv", tmp_path / "t2.csv").ruta
    )
    assert [f[1] for f in filas[1:]] == ["Q1", "Q2", "Q3"]
    texto = _pdf_texto(
        exportar.exportar(reportes, "trimestral", date(2024, 1, 1), date(2024, 12, 31), "pdf", tmp_path / "t.pdf").ruta
    )
    assert "Llamadas por trimestre" in texto and "2024 Q3" in texto
    assert "91,000" in texto and "85.25" in texto and "13.67" in texto


def test_clientes_unicos_por_fecha_inicio(reportes, tmp_path):
    ruta = exportar.exportar(
        reportes, "clientes_unicos", date(2024, 2, 1), date(2024, 3, 31), "xlsx", tmp_path / "c.xlsx"
    ).ruta
    filas = list(load_workbook(ruta)["clientes_unicos"].iter_rows(values_only=True))
    assert filas[1:] == [
        (datetime(2024, 2, 1), datetime(2024, 2, 29), 1700, 400, 1300, 2.25),
        (datetime(2024, 3, 1), datetime(2024, 3, 31), 1650, 150, 1500, 2.1),
    ]


@pytest.mark.parametrize(
    "reporte, filas",
    [("llamadas_dia", 48), ("menu_problemas", 3), ("transferencias", 3), ("clientes_unicos", 3), ("trimestral", 1)],
)
def test_cada_reporte_en_cada_formato_por_la_cli(reportes, tmp_path, monkeypatch, capsys, reporte, filas):
    monkeypatch.chdir(tmp_path)
    for formato in exportar.FORMATOS:
        assert main(["exportar", reporte, "--desde", "2024-01-01", "--hasta", "2024-03-02", "--formato", formato]) == 0
        ruta = tmp_path / "exports" / f"{reporte}_2024-01-01_2024-03-02.{formato}"
        assert (
            capsys.readouterr().out == f"exports/{ruta.name}: {filas} fila(s) de {reporte} (2024-01-01 a 2024-03-02)\n"
        )
        assert ruta.stat().st_size > 0
    assert len(_csv(tmp_path / "exports" / f"{reporte}_2024-01-01_2024-03-02.csv")) == filas + 1
    assert (
        len(list(load_workbook(tmp_path / "exports" / f"{reporte}_2024-01-01_2024-03-02.xlsx").active.rows))
        == filas + 1
    )
    assert "Periodo: 2024-01-01 a 2024-03-02" in _pdf_texto(
        tmp_path / "exports" / f"{reporte}_2024-01-01_2024-03-02.pdf"
    )
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == sorted(
        f"{reporte}_2024-01-01_2024-03-02.{f}" for f in exportar.FORMATOS
    )  # no temporary files left behind


def test_periodo_vacio_es_un_mensaje_claro_sin_archivo(reportes, tmp_path, capsys):
    salida = tmp_path / "vacio.pdf"
    with pytest.raises(ExportError, match="no hay datos de reportes_transferencias entre 2023-01-01 y 2023-12-31"):
        exportar.exportar(reportes, "transferencias", date(2023, 1, 1), date(2023, 12, 31), "pdf", salida)
    assert not salida.exists()
    assert (
        main(
            [
                "exportar",
                "llamadas_dia",
                "--desde",
                "2023-01-01",
                "--hasta",
                "2023-01-31",
                "--formato",
                "pdf",
                "--salida",
                str(salida),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err == (
        "iact: error: no hay datos de reportes_llamadas_dia entre 2023-01-01 y 2023-01-31:"
        " no se escribió ningún archivo\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_errores_de_uso(reportes, tmp_path, capsys):
    assert (
        main(
            [
                "exportar",
                "trimestral",
                "--desde",
                "2024-12-31",
                "--hasta",
                "2024-01-01",
                "--formato",
                "csv",
                "--salida",
                str(tmp_path / "x.csv"),
            ]
        )
        == 2
    )
    assert "periodo al revés" in capsys.readouterr().err
    assert main(["exportar", "trimestral", "--desde", "2024-13-01", "--hasta", "2024-12-31", "--formato", "csv"]) == 2
    assert capsys.readouterr().err == "iact: error: --desde: '2024-13-01' no es una fecha (AAAA-MM-DD)\n"
    with pytest.raises(ExportError, match="reporte desconocido"):
        exportar.exportar(reportes, "ventas", D1, D2, "csv", tmp_path / "x.csv")
    with pytest.raises(ExportError, match="formato desconocido"):
        exportar.exportar(reportes, "trimestral", D1, D2, "docx", tmp_path / "x.docx")
    assert list(tmp_path.iterdir()) == []


def test_salida_en_una_carpeta_existente(reportes, tmp_path):
    hecho = exportar.exportar(reportes, "transferencias", D1, D2, "csv", tmp_path)
    assert hecho.ruta == tmp_path / "transferencias_2024-03-01_2024-03-02.csv"
    assert _csv(hecho.ruta)[1][5] == "10"


def test_un_anio_de_horas_en_pdf_es_rapido(warehouse, tmp_path):
    import time

    warehouse.execute(
        "INSERT INTO reportes_llamadas_dia (fecha, hora, total_llamadas, llamadas_atendidas)"
        " SELECT d::date, h, 100 + h, 50 FROM generate_series('2024-01-01'::date, '2024-12-31', '1 day') d,"
        " generate_series(0, 23) h"
    )
    inicio = time.perf_counter()
    hecho = exportar.exportar(
        warehouse, "llamadas_dia", date(2024, 1, 1), date(2024, 12, 31), "pdf", tmp_path / "a.pdf"
    )
    segundos = time.perf_counter() - inicio
    assert hecho.filas == 366 * 24
    reader = PdfReader(hecho.ruta)
    assert len(reader.pages) > 100
    assert "Periodo: 2024-01-01 a 2024-12-31" in reader.pages[0].extract_text()
    # Hour 23 over the leap year: 366 * 123 calls.
    assert f"{366 * 123:,}" in reader.pages[0].extract_text()
    assert segundos < 30, segundos


def test_periodo_dentro_de_un_trimestre_o_de_un_mes_encuentra_su_fila(reportes, tmp_path):
    """A range inside one quarter: 2025-03-01..2025-03-21 once said "no data" although the Q1 row
    exists."""
    reportes.execute("INSERT INTO reportes_trimestral (trimestre, anio, total_llamadas) VALUES ('Q1', 2025, 5)")
    filas = _csv(
        exportar.exportar(reportes, "trimestral", date(2025, 3, 1), date(2025, 3, 21), "csv", tmp_path / "t.csv").ruta
    )
    assert [f[:3] for f in filas[1:]] == [["2025", "Q1", "5"]]
    # Q4 2024 ends 2024-12-31: a period starting 2025-01-01 does not touch it; one ending that day does.
    assert [
        f[1]
        for f in _csv(
            exportar.exportar(
                reportes, "trimestral", date(2024, 9, 30), date(2024, 9, 30), "csv", tmp_path / "q3.csv"
            ).ruta
        )[1:]
    ] == ["Q3"]
    with pytest.raises(ExportError, match="no hay datos"):
        exportar.exportar(reportes, "trimestral", date(2024, 10, 1), date(2024, 12, 31), "csv", tmp_path / "q4.csv")
    # Mid-month: the month's unique-clients row overlaps; neighbours that end before or start after do not.
    filas = _csv(
        exportar.exportar(
            reportes, "clientes_unicos", date(2024, 2, 10), date(2024, 2, 12), "csv", tmp_path / "c.csv"
        ).ruta
    )
    assert [f[:3] for f in filas[1:]] == [["2024-02-01", "2024-02-29", "1700"]]
    filas = _csv(
        exportar.exportar(
            reportes, "clientes_unicos", date(2024, 1, 31), date(2024, 3, 1), "csv", tmp_path / "c2.csv"
        ).ruta
    )
    assert [f[0] for f in filas[1:]] == ["2024-01-01", "2024-02-01", "2024-03-01"]
    # Daily reports: the day itself, as before.
    assert exportar.exportar(reportes, "llamadas_dia", D2, D2, "csv", tmp_path / "d.csv").filas == 24


def test_no_sobrescribe_un_archivo_existente(reportes, tmp_path, capsys):
    ajeno = tmp_path / "passwd.csv"
    ajeno.write_text("root:x:0:0:root:/root:/bin/bash\n")
    with pytest.raises(ExportError, match="ya existe"):
        exportar.exportar(reportes, "transferencias", D1, D2, "csv", ajeno)
    argumentos = [
        "exportar",
        "transferencias",
        "--desde",
        "2024-03-01",
        "--hasta",
        "2024-03-02",
        "--formato",
        "csv",
        "--salida",
        str(ajeno),
    ]
    assert main(argumentos) == 2
    assert capsys.readouterr().err == (
        f"iact: error: {ajeno} ya existe: no se reemplaza (usa --sobrescribir para reemplazarlo)\n"
    )
    assert ajeno.read_text() == "root:x:0:0:root:/root:/bin/bash\n"
    # The default name inside a folder is checked the same way.
    primero = exportar.exportar(reportes, "transferencias", D1, D2, "csv", tmp_path)
    with pytest.raises(ExportError, match="ya existe"):
        exportar.exportar(reportes, "transferencias", D1, D2, "csv", tmp_path)
    assert main(argumentos + ["--sobrescribir"]) == 0
    capsys.readouterr()
    assert _csv(ajeno)[0][0] == "fecha" and len(_csv(ajeno)) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["passwd.csv", primero.ruta.name]  # no temporaries


def test_carpeta_inexistente_es_un_error_y_no_se_crea(reportes, tmp_path, capsys):
    destino = tmp_path / "no" / "existe" / "m.csv"
    assert (
        main(
            [
                "exportar",
                "menu_problemas",
                "--desde",
                "2024-03-01",
                "--hasta",
                "2024-03-02",
                "--formato",
                "csv",
                "--salida",
                str(destino),
            ]
        )
        == 2
    )
    assert capsys.readouterr().err == (
        f"iact: error: la carpeta {destino.parent} no existe: créala antes o elige otra --salida\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_la_extension_debe_ser_la_del_formato(reportes, tmp_path, capsys):
    pdf = tmp_path / "menu.pdf"
    pdf.write_bytes(b"%PDF-1.4 original")
    assert (
        main(
            [
                "exportar",
                "menu_problemas",
                "--desde",
                "2024-03-01",
                "--hasta",
                "2024-03-02",
                "--formato",
                "csv",
                "--salida",
                str(pdf),
                "--sobrescribir",
            ]
        )
        == 2
    )
    assert capsys.readouterr().err == f"iact: error: {pdf}: la extensión no corresponde a --formato csv (usa .csv)\n"
    assert pdf.read_bytes() == b"%PDF-1.4 original"
    for nombre, formato in (("sin_extension", "csv"), ("libro.xls", "xlsx"), ("a.csv.pdf", "csv")):
        with pytest.raises(ExportError, match="la extensión no corresponde"):
            exportar.exportar(reportes, "menu_problemas", D1, D2, formato, tmp_path / nombre)
    assert exportar.exportar(reportes, "menu_problemas", D1, D2, "xlsx", tmp_path / "MAYUS.XLSX").filas == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MAYUS.XLSX", "menu.pdf"]


PELIGROSOS = ["=1+1", "+SUMA(A1)", "-2+3", "@SUM(1)", "\tTab", "\rCR", '=HYPERLINK("http://x","y")']


def test_nombres_de_menu_que_parecen_formulas(warehouse, tmp_path):
    warehouse.cursor().executemany(
        "INSERT INTO reportes_menu_problemas (fecha, menu_id, menu_nombre, veces_accedido) VALUES (%s, %s, %s, 1)",
        [(D1, f"M{i:02d}", nombre) for i, nombre in enumerate(PELIGROSOS + ["Saldo = ok", "normal"])],
    )
    filas = _csv(exportar.exportar(warehouse, "menu_problemas", D1, D1, "csv", tmp_path / "m.csv").ruta)
    assert [f[2] for f in filas[1:]] == ["'" + n for n in PELIGROSOS] + ["Saldo = ok", "normal"]
    assert [f[3] for f in filas[1:]] == ["1"] * 9  # numbers untouched

    hoja = load_workbook(exportar.exportar(warehouse, "menu_problemas", D1, D1, "xlsx", tmp_path / "m.xlsx").ruta)[
        "menu_problemas"
    ]
    celdas = [fila[2] for fila in hoja.iter_rows(min_row=2)]
    # The exact text, as text (a bare CR comes back as LF: XML end-of-line normalization on reading).
    assert [c.value for c in celdas] == [n.replace("\r", "\n") for n in PELIGROSOS] + ["Saldo = ok", "normal"]
    assert {c.data_type for c in celdas} == {"s"}  # never "f" (formula)
    assert {fila[3].data_type for fila in hoja.iter_rows(min_row=2)} == {"n"}
