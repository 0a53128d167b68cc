"""`iact demo seed`: fill the IVR source with deterministic demo data (the only command that
writes to the IVR database)."""

from __future__ import annotations

import time
from datetime import date

from iact_pipelines.cli import CliError
from iact_pipelines.plataforma.config import parse_fecha


def register(sub) -> None:
    parser = sub.add_parser("demo", help="demo data for the IVR source")
    demosub = parser.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    seed = demosub.add_parser(
        "seed",
        help="fill ivr.llamadas, ivr.menu_eventos and ivr.transferencias for a range of days "
        "(deterministic; re-seeding a day replaces it)",
    )
    seed.add_argument("--desde", required=True, metavar="YYYY-MM-DD", help="first day (inclusive)")
    seed.add_argument("--hasta", required=True, metavar="YYYY-MM-DD", help="last day (inclusive)")
    seed.add_argument("--llamadas-por-dia", default="20000", metavar="N", help="calls per day (default 20000)")
    seed.add_argument("--semilla", default="42", metavar="S", help="random seed (default 42)")
    seed.set_defaults(func=_seed)


def _entero(nombre: str, valor: str) -> int:
    try:
        return int(valor)
    except ValueError:
        raise CliError(f"{nombre}: {valor!r} is not a whole number") from None


def _seed(args) -> int:
    desde = parse_fecha("--desde", args.desde)
    hasta = parse_fecha("--hasta", args.hasta)
    # numpy and pyarrow only for a seed, not for every `iact` command's start
    from iact_pipelines.demo import generador as demo
    from iact_pipelines.plataforma import db

    llamadas = _entero("--llamadas-por-dia", args.llamadas_por_dia)
    semilla = _entero("--semilla", args.semilla)
    if hasta < desde:
        raise CliError(f"--hasta {hasta} is before --desde {desde}")
    if not 0 < llamadas <= demo.MAX_LLAMADAS_POR_DIA:
        raise CliError(f"--llamadas-por-dia must be between 1 and {demo.MAX_LLAMADAS_POR_DIA}, not {llamadas}")
    if desde < date(1970, 1, 2):
        raise CliError(f"--desde {desde} is too early (demo ids count days from 1970-01-01)")
    if semilla < 0:
        raise CliError(f"--semilla must be 0 or more, not {semilla}")
    urls = db.resolve_urls()
    dias = (hasta - desde).days + 1
    t0 = time.perf_counter()
    segundos: dict[str, float] = {}
    filas = demo.seed(urls.ivr, desde, hasta, llamadas, semilla, segundos=segundos)
    print(f"generated {dias} day(s) {desde}..{hasta} (semilla {semilla}) in {segundos['generar']:.1f} s")
    for tabla in demo.TABLAS:
        print(f"ivr.{tabla}: {filas[tabla]:,} rows loaded in {segundos[tabla]:.1f} s")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0
