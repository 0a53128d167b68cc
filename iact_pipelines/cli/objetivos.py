"""`iact objetivos fijar|quitar|listar`: the service-level target of each center (X % answered
within T s), replacing IACT_OBJETIVO_NIVEL_SERVICIO / IACT_UMBRAL_NIVEL_SERVICIO for that center.
The reports built afterwards use it (re-materialize a day to rebuild it with the new target)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import psycopg

from iact_pipelines.cli import CliError
from iact_pipelines.cli.tabla import imprimir_json, imprimir_tabla
from iact_pipelines.plataforma import config, db
from iact_pipelines.reportes import objetivos


def _decimal(texto: str) -> Decimal:
    try:
        return Decimal(texto)
    except InvalidOperation:
        raise CliError(f"{texto!r} no es un número") from None


def register(sub) -> None:
    parser = sub.add_parser(
        "objetivos",
        help="objetivo de nivel de servicio por centro (X %% atendidas dentro de T s)",
        description="Objetivos de nivel de servicio por centro. Sin objetivo propio, un centro usa "
        "IACT_OBJETIVO_NIVEL_SERVICIO e IACT_UMBRAL_NIVEL_SERVICIO. Los días se reconstruyen con el objetivo "
        "vigente al materializarlos.",
    )
    acciones = parser.add_subparsers(dest="objetivos_command", required=True, metavar="ACCION")

    fijar = acciones.add_parser("fijar", help="fija el objetivo (X) y/o el umbral (T) de un centro")
    fijar.add_argument("centro", help="código de 8 dígitos, p. ej. 19028031")
    fijar.add_argument("--objetivo", type=_decimal, metavar="X", help="porcentaje 0-99.99 a atender dentro de T")
    fijar.add_argument("--umbral", type=_decimal, metavar="T", help="segundos de espera de una atendida a tiempo")
    fijar.add_argument("--quitar-objetivo", action="store_true", help="el centro vuelve a usar el objetivo general")
    fijar.add_argument("--quitar-umbral", action="store_true", help="el centro vuelve a usar el umbral general")
    fijar.set_defaults(func=_fijar)

    quitar = acciones.add_parser("quitar", help="el centro vuelve a usar la configuración general")
    quitar.add_argument("centro")
    quitar.set_defaults(func=_quitar)

    listar = acciones.add_parser("listar", help="el objetivo vigente de cada centro y de dónde viene")
    listar.add_argument("--json", action="store_true", help="salida para máquinas")
    listar.set_defaults(func=_listar)


def _conectar():
    return db.connect(db.warehouse_url())


def _fijar(args) -> int:
    with _conectar() as conn:
        try:
            objetivos.fijar(
                conn,
                args.centro,
                objetivo=args.objetivo,
                umbral=args.umbral,
                quitar_objetivo=args.quitar_objetivo,
                quitar_umbral=args.quitar_umbral,
            )
        except objetivos.ObjetivoError as exc:
            raise CliError(str(exc)) from None
        except psycopg.errors.InsufficientPrivilege:
            raise CliError(f"el rol {conn.info.user!r} no puede cambiar objetivos_centro") from None
    print(f"objetivo del centro {args.centro} actualizado; materializa de nuevo los días a recalcular")
    return 0


def _quitar(args) -> int:
    with _conectar() as conn:
        try:
            quitado = objetivos.quitar(conn, args.centro)
        except objetivos.ObjetivoError as exc:
            raise CliError(str(exc)) from None
    print(f"el centro {args.centro} usa la configuración general" + ("" if quitado else " (ya la usaba)"))
    return 0


def _listar(args) -> int:
    with _conectar() as conn:
        vigentes = objetivos.efectivos(
            conn,
            list(config.valor("IACT_CENTROS")),
            config.valor("IACT_OBJETIVO_NIVEL_SERVICIO"),
            config.valor("IACT_UMBRAL_NIVEL_SERVICIO"),
        )
    if args.json:
        imprimir_json(
            [
                {
                    "centro_id": o.centro_id,
                    "objetivo": str(o.objetivo),
                    "umbral_s": str(o.umbral_s),
                    "objetivo_propio": o.objetivo_propio,
                    "umbral_propio": o.umbral_propio,
                }
                for o in vigentes.values()
            ]
        )
        return 0

    def origen(propio: bool) -> str:
        return "centro" if propio else "configuración"

    imprimir_tabla(
        ["CENTRO", "OBJETIVO (%)", "DE", "UMBRAL (s)", "DE", "POR"],
        [
            [
                o.centro_id,
                f"{o.objetivo:.2f}",
                origen(o.objetivo_propio),
                f"{o.umbral_s:.2f}",
                origen(o.umbral_propio),
                o.actualizado_por or "",
            ]
            for o in vigentes.values()
        ],
        vacio="no hay centros configurados",
    )
    return 0
