"""`iact exportar REPORTE --desde YYYY-MM-DD --hasta YYYY-MM-DD --formato csv|xlsx|pdf [--salida RUTA]`."""

from __future__ import annotations

from pathlib import Path

from iact_pipelines.cli import CliError
from iact_pipelines.exportar import archivos as exportar
from iact_pipelines.plataforma import db
from iact_pipelines.plataforma.config import parse_fecha


def register(sub) -> None:
    parser = sub.add_parser(
        "exportar",
        help="exporta un reporte de un periodo a CSV, Excel o PDF",
        description="Exporta una tabla de reportes de un periodo (inclusivo: cada fila cuyo día, mes o "
        "trimestre lo toca) a un archivo. Salida por defecto: ./exports/<reporte>_<desde>_<hasta>.<formato>. "
        "Un archivo existente se conserva salvo con --sobrescribir; una carpeta inexistente es un error; la "
        "extensión del archivo debe ser la de --formato.",
    )
    parser.add_argument("reporte", choices=list(exportar.REPORTES), help="reporte a exportar")
    parser.add_argument("--desde", required=True, metavar="AAAA-MM-DD", help="primer día del periodo")
    parser.add_argument("--hasta", required=True, metavar="AAAA-MM-DD", help="último día del periodo (inclusive)")
    parser.add_argument("--formato", required=True, choices=exportar.FORMATOS, help="formato del archivo")
    parser.add_argument(
        "--salida",
        type=Path,
        metavar="RUTA",
        help="archivo de salida con la extensión del formato, en una carpeta existente (o una carpeta existente)",
    )
    parser.add_argument("--sobrescribir", action="store_true", help="reemplaza el archivo de salida si existe")
    parser.set_defaults(func=_exportar)


def _exportar(args) -> int:
    desde = parse_fecha("--desde", args.desde)
    hasta = parse_fecha("--hasta", args.hasta)
    with db.connect(db.warehouse_url(), read_only=True) as conn:
        try:
            hecho = exportar.exportar(
                conn, args.reporte, desde, hasta, args.formato, args.salida, sobrescribir=args.sobrescribir
            )
        except exportar.ExportError as exc:
            raise CliError(str(exc)) from None
    print(f"{hecho.ruta}: {hecho.filas} fila(s) de {args.reporte} ({desde} a {hasta})")
    return 0
