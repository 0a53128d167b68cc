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
        help="export a report for a period to CSV, Excel or PDF",
        description="Export one report table for a period (inclusive; every row whose own day, month or "
        "quarter overlaps it) to a file. Default output: ./exports/<reporte>_<desde>_<hasta>.<formato>. "
        "An existing file is kept unless --sobrescribir; a missing folder is an error; the file's "
        "extension must match --formato.",
    )
    parser.add_argument("reporte", choices=list(exportar.REPORTES), help="report to export")
    parser.add_argument("--desde", required=True, metavar="YYYY-MM-DD", help="first day of the period")
    parser.add_argument("--hasta", required=True, metavar="YYYY-MM-DD", help="last day of the period (inclusive)")
    parser.add_argument("--formato", required=True, choices=exportar.FORMATOS)
    parser.add_argument(
        "--salida",
        type=Path,
        metavar="RUTA",
        help="output file with the format's extension, in an existing folder (or an existing folder)",
    )
    parser.add_argument("--sobrescribir", action="store_true", help="replace the output file if it exists")
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
