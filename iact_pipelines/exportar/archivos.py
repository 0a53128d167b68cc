"""Export of the registered report tables (`reportes.registro`) for a period: CSV for tools, an
Excel workbook for people who filter and sort, a PDF with a title, the period, a chart of the
headline measure and the table.

A period [desde, hasta] (inclusive) selects every row whose own period overlaps it: a daily row
by its `fecha`, a monthly unique-clients row by `fecha_inicio`..`fecha_fin`, a quarterly row by
its quarter; so a mid-month or mid-quarter period still finds the month's or quarter's row. An
empty period is an ExportError and writes no file.

Files are written to a temporary name and renamed, so a failed export never leaves half a file
behind. An existing file is never replaced unless asked (`sobrescribir`), a missing folder is an
error (never created, except the default `exports/`), and the file's extension must be the
format's. Text from the source (menu names) cannot become a spreadsheet formula: in CSV a cell
starting with = + - @ tab or CR gets a leading apostrophe; in Excel text cells are typed text.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from iact_pipelines.plataforma import catalogo
from iact_pipelines.reportes import registro
from iact_pipelines.reportes.registro import Grafico

FORMATOS = ("csv", "xlsx", "pdf")
DIRECTORIO_POR_DEFECTO = Path("exports")


class ExportError(ValueError):
    """A mistake exporting (empty period, reversed dates, unknown report), as one line."""


@dataclass(frozen=True)
class Columna:
    nombre: str
    etiqueta: str  # header for people (PDF)
    tipo: str  # fecha | entero | decimal | texto | clave (an integer key: hour, year)
    peso: float = 1.0  # relative column width in the PDF
    envolver: bool = False  # long text that wraps inside its PDF cell


@dataclass(frozen=True)
class Reporte:
    nombre: str
    tabla: str
    titulo: str
    columnas: tuple[Columna, ...]
    fecha: sql.Composable  # the first day of the row's own period
    orden: tuple[str, ...]
    grafico: Grafico
    fecha_fin: sql.Composable | None = None  # the last day of the row's period; None: one day


def _tipo(tabla: catalogo.Tabla, columna: catalogo.Columna) -> str:
    if columna.tipo == catalogo.DATE:
        return "fecha"
    if columna.tipo in (catalogo.INTEGER, catalogo.SMALLINT, catalogo.BIGINT):
        return "clave" if columna.nombre in _CLAVES_ENTERAS else "entero"
    if columna.tipo.startswith("numeric"):
        return "decimal"
    return "texto"


# Integers that name a period (an hour, a year) rather than count something: not summed,
# not formatted with thousands separators.
_CLAVES_ENTERAS = ("hora", "anio")


def _columnas(
    nombre_tabla: str,
    *,
    primeras: tuple[str, ...] = (),
    sin: tuple[str, ...] = (),
    anchas: dict[str, float] | None = None,
) -> tuple[Columna, ...]:
    """A report's export columns from the table catalog: its business columns (`primeras`
    first, `sin` left out), headed by their catalog label; `anchas` widens long text in the PDF."""
    tabla = catalogo.tabla(nombre_tabla)
    nombres = [*primeras, *(n for n in tabla.nombres() if n not in primeras and n not in sin)]
    anchas = anchas or {}
    return tuple(
        Columna(n, tabla.columna(n).encabezado, _tipo(tabla, tabla.columna(n)), anchas.get(n, 1.0), n in anchas)
        for n in nombres
    )


def _exportable(entrada: registro.Reporte) -> Reporte:
    """A registered report as it is exported."""
    exportacion = entrada.exportacion
    return Reporte(
        nombre=entrada.nombre,
        tabla=entrada.tabla,
        titulo=exportacion.titulo,
        columnas=_columnas(
            entrada.tabla, primeras=exportacion.primeras, sin=exportacion.sin, anchas=dict(exportacion.anchas)
        ),
        fecha=exportacion.fecha,
        fecha_fin=exportacion.fecha_fin,
        orden=exportacion.orden,
        grafico=exportacion.grafico,
    )


REPORTES: dict[str, Reporte] = {r.nombre: _exportable(r) for r in registro.REPORTES}


@dataclass(frozen=True)
class Exportado:
    ruta: Path
    filas: int


def reporte(nombre: str) -> Reporte:
    try:
        return REPORTES[nombre]
    except KeyError:
        raise ExportError(f"reporte desconocido {nombre!r} (uno de: {', '.join(REPORTES)})") from None


def consultar(conn: psycopg.Connection, rep: Reporte, desde: date, hasta: date) -> list[dict[str, Any]]:
    """The report's rows whose period overlaps [desde, hasta], in the report's natural order."""
    if desde > hasta:
        raise ExportError(f"periodo al revés: --desde {desde} es posterior a --hasta {hasta}")
    query = sql.SQL(
        "SELECT {columnas} FROM {tabla} WHERE {inicio} <= %(hasta)s AND {fin} >= %(desde)s ORDER BY {orden}"
    ).format(
        columnas=sql.SQL(", ").join(sql.Identifier(c.nombre) for c in rep.columnas),
        tabla=sql.Identifier(rep.tabla),
        inicio=rep.fecha,
        fin=rep.fecha_fin if rep.fecha_fin is not None else rep.fecha,
        orden=sql.SQL(", ").join(sql.Identifier(c) for c in rep.orden),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, {"desde": desde, "hasta": hasta})
        return cur.fetchall()


def ruta_por_defecto(nombre: str, desde: date, hasta: date, formato: str) -> Path:
    return DIRECTORIO_POR_DEFECTO / f"{nombre}_{desde:%Y-%m-%d}_{hasta:%Y-%m-%d}.{formato}"


def exportar(
    conn: psycopg.Connection,
    nombre: str,
    desde: date,
    hasta: date,
    formato: str,
    salida: Path | None = None,
    *,
    sobrescribir: bool = False,
) -> Exportado:
    """Write one report for a period to a file; returns where and how many rows."""
    rep = reporte(nombre)
    if formato not in FORMATOS:
        raise ExportError(f"formato desconocido {formato!r} (uno de: {', '.join(FORMATOS)})")
    ruta = ruta_de_salida(nombre, desde, hasta, formato, salida, sobrescribir=sobrescribir)
    filas = consultar(conn, rep, desde, hasta)
    if not filas:
        raise ExportError(f"no hay datos de {rep.tabla} entre {desde} y {hasta}: no se escribió ningún archivo")
    if salida is None:
        ruta.parent.mkdir(parents=True, exist_ok=True)  # only the default folder is ours to create
    temporal = ruta.with_name(f".{ruta.name}.{os.getpid()}.tmp")
    escritor = {"csv": escribir_csv, "xlsx": escribir_xlsx, "pdf": escribir_pdf}[formato]
    try:
        escritor(temporal, rep, filas, desde, hasta)
        if sobrescribir:
            os.replace(temporal, ruta)
        else:
            # A hard link never replaces: a file that appeared meanwhile is still refused.
            try:
                os.link(temporal, ruta)
            except FileExistsError:
                raise ExportError(_YA_EXISTE.format(ruta=ruta)) from None
    finally:
        temporal.unlink(missing_ok=True)
    return Exportado(ruta=ruta, filas=len(filas))


_YA_EXISTE = "{ruta} ya existe: no se reemplaza (usa --sobrescribir para reemplazarlo)"


def ruta_de_salida(
    nombre: str, desde: date, hasta: date, formato: str, salida: Path | None, *, sobrescribir: bool = False
) -> Path:
    """Where the export goes, checked before any query: existing folder -> default name inside
    it; the folder must exist; the extension must be the format's; no silent overwrite."""
    por_defecto = ruta_por_defecto(nombre, desde, hasta, formato)
    if salida is None:
        ruta = por_defecto
    else:
        ruta = Path(salida)
        if ruta.is_dir():
            ruta = ruta / por_defecto.name
        elif not ruta.parent.is_dir():
            raise ExportError(f"la carpeta {ruta.parent} no existe: créala antes o elige otra --salida")
    if ruta.suffix.lower() != f".{formato}":
        raise ExportError(f"{ruta}: la extensión no corresponde a --formato {formato} (usa .{formato})")
    if ruta.is_dir():
        raise ExportError(f"{ruta} es una carpeta, no un archivo")
    if ruta.exists() and not sobrescribir:
        raise ExportError(_YA_EXISTE.format(ruta=ruta))
    return ruta


# --- CSV: for tools. Header of column names, ISO dates, '.' decimals, UTF-8, RFC 4180 quoting.


def escribir_csv(ruta: Path, rep: Reporte, filas: list[dict], desde: date, hasta: date) -> None:
    with open(ruta, "w", newline="", encoding="utf-8") as archivo:
        writer = csv.writer(archivo)
        writer.writerow([c.nombre for c in rep.columnas])
        for fila in filas:
            writer.writerow([_celda_csv(fila[c.nombre]) for c in rep.columnas])


# A spreadsheet opening the CSV would take a cell starting with these as a formula.
_INICIO_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _celda_csv(valor: Any) -> str:
    texto = _texto_csv(valor)
    if isinstance(valor, str) and texto.startswith(_INICIO_FORMULA):
        return "'" + texto  # shown as the text it is, never evaluated
    return texto


def _texto_csv(valor: Any) -> str:
    if valor is None:
        return ""
    if isinstance(valor, date):
        return valor.isoformat()
    return str(valor)  # Decimal('12.50') -> '12.50', never a locale comma


# --- Excel: typed cells (numbers as numbers, dates as dates), filterable frozen header.

_FORMATO_EXCEL = {"fecha": "yyyy-mm-dd", "entero": "#,##0", "decimal": "#,##0.00", "texto": "@", "clave": "0"}
_NUMERICAS = ("entero", "decimal", "clave")


def escribir_xlsx(ruta: Path, rep: Reporte, filas: list[dict], desde: date, hasta: date) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    libro = Workbook()
    hoja = libro.active
    hoja.title = rep.nombre[:31]
    hoja.append([c.nombre for c in rep.columnas])
    for fila in filas:
        hoja.append([_valor_excel(fila[c.nombre], c.tipo) for c in rep.columnas])
    # openpyxl turns a string starting with "=" into a formula: text from the source is typed
    # text instead, so Excel shows it and never evaluates it.
    for fila in hoja.iter_rows(min_row=2):
        for celda in fila:
            if isinstance(celda.value, str):
                celda.data_type = "s"

    encabezado = Font(bold=True, color="FFFFFF")
    relleno = PatternFill("solid", fgColor="1F4E78")
    for n, columna in enumerate(rep.columnas, start=1):
        celda = hoja.cell(row=1, column=n)
        celda.font, celda.fill = encabezado, relleno
        letra = get_column_letter(n)
        for (c,) in hoja.iter_rows(min_row=2, min_col=n, max_col=n):
            c.number_format = _FORMATO_EXCEL[columna.tipo]
        ancho = max([len(columna.nombre)] + [len(_texto_csv(f[columna.nombre])) for f in filas[:500]])
        hoja.column_dimensions[letra].width = min(ancho + 3, 60)
    hoja.auto_filter.ref = f"A1:{get_column_letter(len(rep.columnas))}{len(filas) + 1}"
    hoja.freeze_panes = "A2"

    info = libro.create_sheet("info")
    for clave, valor in (
        ("reporte", rep.titulo),
        ("tabla", rep.tabla),
        ("desde", desde),
        ("hasta", hasta),
        ("filas", len(filas)),
        ("generado", datetime.now().replace(microsecond=0)),
    ):
        info.append([clave, valor])
    for (c,) in info.iter_rows(min_row=3, max_row=4, min_col=2, max_col=2):
        c.number_format = "yyyy-mm-dd"
    info["B6"].number_format = "yyyy-mm-dd hh:mm:ss"
    info.column_dimensions["A"].width = 12
    info.column_dimensions["B"].width = 40
    libro.properties.title = f"{rep.titulo} {desde} a {hasta}"
    libro.save(ruta)


def _valor_excel(valor: Any, tipo: str) -> Any:
    if valor is None:
        return None
    if tipo == "decimal":
        return float(valor)  # an Excel number; the cell format shows 2 decimals
    if isinstance(valor, datetime) and valor.tzinfo is not None:
        return valor.isoformat()  # Excel has no time zones: keep the instant, offset included, as text
    return valor


# --- PDF: title, period, chart of the headline measure, then the table (header repeated).

_MAX_ETIQUETAS = 31  # beyond this many categories the axis labels only every n-th one


def _numero(valor: Any, tipo: str) -> str:
    if valor is None:
        return ""
    if tipo == "entero":
        return f"{valor:,}"
    if tipo == "decimal":
        return f"{Decimal(valor):,.2f}"
    if isinstance(valor, date):
        return valor.isoformat()
    return str(valor)


def datos_grafico(rep: Reporte, filas: Sequence[dict]) -> tuple[list[str], list[list[float]]]:
    """Categories and one list of values per series, summed over the rows of each category."""
    graf = rep.grafico
    categorias: list[str] = list(graf.categorias_fijas or ())
    totales: dict[str, list[float]] = {c: [0.0] * len(graf.series) for c in categorias}
    for fila in filas:
        clave = graf.categoria(fila)
        if clave not in totales:
            categorias.append(clave)
            totales[clave] = [0.0] * len(graf.series)
        for i, (_, valor) in enumerate(graf.series):
            totales[clave][i] += float(valor(fila) or 0)
    return categorias, [[totales[c][i] for c in categorias] for i in range(len(graf.series))]


def datos_linea(rep: Reporte, filas: Sequence[dict], categorias: list[str]) -> list[float | None]:
    """The reference line's value at each category (its last row's; None where it has none)."""
    _, valor = rep.grafico.linea
    por_categoria = {rep.grafico.categoria(f): float(valor(f)) for f in filas}
    return [por_categoria.get(c) for c in categorias]


def _linea(dibujo, barras, rep: Reporte, filas: Sequence[dict], categorias: list[str]) -> None:
    """The target as a red step line over the bars, on the fixed value axis, with its legend."""
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import PolyLine
    from reportlab.lib import colors

    rojo = colors.HexColor("#C00000")
    ancho_categoria = barras.width / max(len(categorias), 1)
    for i, valor in enumerate(datos_linea(rep, filas, categorias)):
        if valor is None:
            continue
        y = barras.y + barras.height * min(valor, rep.grafico.maximo) / rep.grafico.maximo
        x = barras.x + i * ancho_categoria
        dibujo.add(PolyLine([x, y, x + ancho_categoria, y], strokeColor=rojo, strokeWidth=1.5))
    leyenda = Legend()
    leyenda.x, leyenda.y = barras.x + barras.width, 205
    leyenda.boxAnchor = "ne"
    leyenda.fontSize = 7
    leyenda.colorNamePairs = [(colors.HexColor("#1F4E78"), rep.grafico.series[0][0]), (rojo, rep.grafico.linea[0])]
    dibujo.add(leyenda)


def _grafico(rep: Reporte, filas: Sequence[dict], ancho: float):
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors

    categorias, series = datos_grafico(rep, filas)
    dibujo = Drawing(ancho, 210)
    barras = VerticalBarChart()
    # Few categories: keep bars narrow instead of stretching a handful across the page.
    barras.x, barras.y, barras.height = 45, 45, 140
    barras.width = min(ancho - 60, 60 * max(len(categorias), 3))
    barras.data = [tuple(s) for s in series]
    paso = max(1, -(-len(categorias) // _MAX_ETIQUETAS))
    barras.categoryAxis.categoryNames = [c if i % paso == 0 else "" for i, c in enumerate(categorias)]
    barras.categoryAxis.labels.fontSize = 6
    if len(categorias) > 12 and max(len(c) for c in categorias) > 3:
        barras.categoryAxis.labels.angle = 45
        barras.categoryAxis.labels.boxAnchor = "ne"
    barras.valueAxis.valueMin = 0
    total_max = max((sum(v) for v in zip(*series, strict=True)), default=0)
    if rep.grafico.maximo is not None:
        barras.valueAxis.valueMax = rep.grafico.maximo  # a percentage: the whole 0-100 scale
    elif total_max <= 0:
        barras.valueAxis.valueMax = 1  # an all-zero period still draws a readable axis
    barras.valueAxis.labels.fontSize = 7
    barras.valueAxis.labelTextFormat = lambda v: f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"
    paleta = (colors.HexColor("#1F4E78"), colors.HexColor("#C0504D"), colors.HexColor("#9BBB59"))
    for i in range(len(series)):
        barras.bars[i].fillColor = paleta[i % len(paleta)]
        barras.bars[i].strokeColor = None
    if len(series) > 1:
        barras.categoryAxis.style = "stacked"
        leyenda = Legend()
        leyenda.x, leyenda.y = barras.x + barras.width, 205
        leyenda.alignment = "right"
        leyenda.boxAnchor = "ne"
        leyenda.fontSize = 7
        leyenda.columnMaximum = 1
        leyenda.colorNamePairs = [(paleta[i % len(paleta)], nombre) for i, (nombre, _) in enumerate(rep.grafico.series)]
        dibujo.add(leyenda)
    elif len(categorias) <= _MAX_ETIQUETAS:
        # One series and few bars: print each bar's value on top, so the figures are readable.
        barras.barLabelFormat = lambda v: f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"
        barras.barLabels.fontSize = 6
        barras.barLabels.nudge = 6
    dibujo.add(barras)
    if rep.grafico.linea is not None and rep.grafico.maximo is not None:
        _linea(dibujo, barras, rep, filas, categorias)
    return dibujo


def escribir_pdf(ruta: Path, rep: Reporte, filas: list[dict], desde: date, hasta: date) -> None:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    estilos = getSampleStyleSheet()
    celda = ParagraphStyle("celda", parent=estilos["BodyText"], fontSize=7, leading=8.5)
    cabecera = ParagraphStyle("cabecera", parent=celda, fontName="Helvetica-Bold", textColor=colors.white)
    generado = datetime.now().strftime("%Y-%m-%d %H:%M")

    def pie(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(doc.leftMargin, 0.7 * cm, f"IACT · {rep.tabla} · {desde} a {hasta} · generado {generado}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        str(ruta),
        pagesize=landscape(A4),
        leftMargin=1.2 * cm,
        rightMargin=1.2 * cm,
        topMargin=1.2 * cm,
        bottomMargin=1.5 * cm,
        title=f"{rep.titulo} {desde} a {hasta}",
        author="IACT Pipelines",
    )
    ancho = doc.width
    pesos = [c.peso for c in rep.columnas]
    anchos = [ancho * p / sum(pesos) for p in pesos]

    # Long text (menu names) are Paragraphs so they wrap; the rest are plain strings (cheap:
    # a year of hourly rows is ~9,000 table rows).
    def contenido(valor: Any, columna: Columna):
        texto = _numero(valor, columna.tipo)
        return Paragraph(escape(texto), celda) if columna.envolver else texto

    cabecera_derecha = ParagraphStyle("cabecera_derecha", parent=cabecera, alignment=2)

    def titulo_columna(columna: Columna):
        numerica = columna.tipo in _NUMERICAS
        return Paragraph(escape(columna.etiqueta), cabecera_derecha if numerica else cabecera)

    tabla = Table(
        [[titulo_columna(c) for c in rep.columnas]]
        + [[contenido(f[c.nombre], c) for c in rep.columnas] for f in filas]
        + [totales(rep, filas)],
        colWidths=anchos,
        # Without wrapping text, every row has the same height: giving it spares reportlab
        # measuring every remaining row at each page split (a year of hours is ~250 pages).
        rowHeights=None if any(c.envolver for c in rep.columnas) else [24] + [11] * (len(filas) + 1),
        repeatRows=1,
    )
    estilo = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1F4E78")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#EEF3F8")]),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#B0B7C3")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("FONT", (0, 1), (-1, -1), "Helvetica", 7),
        ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 7),
    ]
    estilo += [("ALIGN", (i, 1), (i, -1), "RIGHT") for i, c in enumerate(rep.columnas) if c.tipo in _NUMERICAS]
    tabla.setStyle(TableStyle(estilo))

    historia = [
        Paragraph(rep.titulo, estilos["Title"]),
        Paragraph(
            f"Periodo: {desde:%Y-%m-%d} a {hasta:%Y-%m-%d} · {len(filas):,} filas de {rep.tabla}", estilos["Normal"]
        ),
        Spacer(1, 0.4 * cm),
        KeepTogether([Paragraph(rep.grafico.titulo, estilos["Heading3"]), _grafico(rep, filas, ancho)]),
        Spacer(1, 0.4 * cm),
        tabla,
    ]
    doc.build(historia, onFirstPage=pie, onLaterPages=pie, canvasmaker=_lienzo_numerado(doc.rightMargin, 0.7 * cm))


def totales(rep: Reporte, filas: list[dict]) -> list[str]:
    """The table's last row: the period's sum of every count column (averages and rates do not
    add up: the period's own are in the report's metrics, docs/METRICAS.md)."""
    fila = [_numero(sum(f[c.nombre] or 0 for f in filas), c.tipo) if c.tipo == "entero" else "" for c in rep.columnas]
    fila[0] = "Total del periodo"
    return fila


def _lienzo_numerado(margen_derecho: float, altura: float):
    """A canvas that numbers its pages "página N de M": each page is kept until the last one
    is known, then drawn with the total."""
    from reportlab.pdfgen.canvas import Canvas

    class LienzoNumerado(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._paginas: list[dict] = []

        def showPage(self):
            self._paginas.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._paginas)
            for estado in self._paginas:
                self.__dict__.update(estado)
                self.setFont("Helvetica", 7)
                self.drawRightString(
                    self._pagesize[0] - margen_derecho, altura, f"página {self._pageNumber} de {total}"
                )
                super().showPage()
            super().save()

    return LienzoNumerado
