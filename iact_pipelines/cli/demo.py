"""`iact demo seed`: fill the IVR source with deterministic demo data (the only command that
writes to the IVR database); `iact demo rango`: the days the demo holds, for the examples of the
README and docs/; `iact demo admin`: the demo's admin, so that a first failed run can alert."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from iact_pipelines.cli import CliError
from iact_pipelines.plataforma.config import load_settings, parse_fecha

ADMIN_DEMO = "demo"


def register(sub) -> None:
    parser = sub.add_parser("demo", help="datos de demostración para la fuente IVR")
    demosub = parser.add_subparsers(dest="demo_command", required=True, metavar="ACCION", title="acciones")
    seed = demosub.add_parser(
        "seed",
        help="llena ivr.llamadas, ivr.menu_eventos e ivr.transferencias para un rango de días "
        "(determinista; volver a sembrar un día lo reemplaza)",
    )
    seed.add_argument("--desde", metavar="AAAA-MM-DD", help="primer día (inclusive)")
    seed.add_argument("--hasta", metavar="AAAA-MM-DD", help="último día (inclusive)")
    seed.add_argument(
        "--dias",
        metavar="N",
        help="en lugar de --desde/--hasta: los últimos N días hasta ayer (zona IACT_ZONA_HORARIA)",
    )
    seed.add_argument("--llamadas-por-dia", default="20000", metavar="N", help="llamadas por día (20000)")
    seed.add_argument("--semilla", default="42", metavar="S", help="semilla aleatoria (42)")
    seed.set_defaults(func=_seed)
    rango = demosub.add_parser(
        "rango",
        help="imprime los días que tiene la demo como DEMO_DESDE=… y DEMO_HASTA=… "
        '(eval "$(iact demo rango)" los deja en la terminal)',
    )
    rango.set_defaults(func=_rango)
    admin = demosub.add_parser(
        "admin",
        help=f"crea el administrador {ADMIN_DEMO!r} del demo si no hay ningún administrador activo "
        "(recibe las alertas de fallos)",
    )
    admin.set_defaults(func=_admin)


def _entero(nombre: str, valor: str) -> int:
    try:
        return int(valor)
    except ValueError:
        raise CliError(f"{nombre}: {valor!r} no es un número entero") from None


def _ayer_local() -> date:
    return datetime.now(ZoneInfo(load_settings().zona_horaria)).date() - timedelta(days=1)


def _dias_pedidos(args) -> tuple[date, date]:
    if args.dias is not None:
        if args.desde or args.hasta:
            raise CliError("--dias va sin --desde ni --hasta")
        dias = _entero("--dias", args.dias)
        if dias < 1:
            raise CliError(f"--dias debe ser 1 o más, no {dias}")
        hasta = _ayer_local()
        return hasta - timedelta(days=dias - 1), hasta
    if not (args.desde and args.hasta):
        raise CliError("indique --desde y --hasta, o --dias")
    return parse_fecha("--desde", args.desde), parse_fecha("--hasta", args.hasta)


def _seed(args) -> int:
    desde, hasta = _dias_pedidos(args)
    # numpy and pyarrow only for a seed, not for every `iact` command's start
    from iact_pipelines.demo import generador as demo
    from iact_pipelines.plataforma import db

    llamadas = _entero("--llamadas-por-dia", args.llamadas_por_dia)
    semilla = _entero("--semilla", args.semilla)
    if hasta < desde:
        raise CliError(f"--hasta {hasta} es anterior a --desde {desde}")
    if not 0 < llamadas <= demo.MAX_LLAMADAS_POR_DIA:
        raise CliError(f"--llamadas-por-dia debe estar entre 1 y {demo.MAX_LLAMADAS_POR_DIA}, no {llamadas}")
    if desde < date(1970, 1, 2):
        raise CliError(f"--desde {desde} es demasiado temprano (los ids de la demo cuentan días desde 1970-01-01)")
    if semilla < 0:
        raise CliError(f"--semilla debe ser 0 o más, no {semilla}")
    urls = db.resolve_urls()
    dias = (hasta - desde).days + 1
    t0 = time.perf_counter()
    segundos: dict[str, float] = {}
    filas = demo.seed(urls.ivr, desde, hasta, llamadas, semilla, segundos=segundos)
    from iact_pipelines.plataforma import partitions

    partitions.registrar_demo(desde, hasta)  # the embedded demo's partitions start on its first day
    print(f"generados {dias} día(s) del {desde} al {hasta} (semilla {semilla}) en {segundos['generar']:.1f} s")
    for tabla in demo.TABLAS:
        print(f"ivr.{tabla}: {filas[tabla]:,} filas cargadas en {segundos[tabla]:.1f} s")
    print(f"listo en {time.perf_counter() - t0:.1f} s")
    return 0


# The first and last start of the demo's calls; the source has no index but its key, and a
# sequential scan of 90 demo days takes well under a second.
_RANGO = "SELECT min(inicio), max(inicio) FROM ivr.llamadas"


def _rango(args) -> int:
    from iact_pipelines.plataforma import db

    with db.connect(db.resolve_urls().ivr, read_only=True) as conn:
        primero, ultimo = conn.execute(_RANGO).fetchone()
    if primero is None:
        raise CliError("la fuente IVR no tiene llamadas: siembre la demo con `iact demo seed --dias 90`")
    zona = ZoneInfo(load_settings().zona_horaria)
    print(f"# días locales de la demo ({zona.key})")
    print(f"DEMO_DESDE={primero.astimezone(zona).date()}")
    print(f"DEMO_HASTA={ultimo.astimezone(zona).date()}")
    return 0


def _admin(args) -> int:
    from iact_pipelines.buzon import usuarios
    from iact_pipelines.plataforma import db

    with db.connect(db.warehouse_url()) as conn:
        if usuarios.admins_activos(conn):
            return 0
        try:
            usuarios.crear(conn, ADMIN_DEMO, nombre_completo="Administrador del demo", es_admin=True)
        except usuarios.UsuarioError:  # created once and deactivated since: it comes back
            usuarios.activar(conn, ADMIN_DEMO)
    print(
        f"administrador del demo: {ADMIN_DEMO!r} (recibe las alertas de fallos); "
        f"lea su buzón con: .venv/bin/iact buzon listar --usuario {ADMIN_DEMO}"
    )
    return 0
