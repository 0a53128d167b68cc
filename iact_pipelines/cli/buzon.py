"""`iact buzon listar|leer|enviar|contar|eliminar`: the internal inbox of the person connected.

Run with a person's own login (IACT_WAREHOUSE_URL, or the PG* variables / ~/.pgpass libpq reads),
it acts as that person and PostgreSQL's row-level security shows and changes only their own
messages. `--usuario NOMBRE` is for operators connected as the platform's own role."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from iact_pipelines.buzon import mensajes as buzon
from iact_pipelines.cli import CliError
from iact_pipelines.cli.tabla import hora_local, imprimir_json, imprimir_tabla, legible, recortar
from iact_pipelines.plataforma import db
from iact_pipelines.plataforma.config import load_settings, parse_fecha


def register(sub) -> None:
    parser = sub.add_parser(
        "buzon",
        help="su buzón interno (sin correo): listar, leer, enviar, contar, eliminar",
        description="El buzón de la persona conectada (su propio login de PostgreSQL: IACT_WAREHOUSE_URL, "
        "o PGUSER/PGPASSWORD/~/.pgpass). La seguridad por filas muestra y cambia solo sus propios mensajes.",
    )
    acciones = parser.add_subparsers(dest="buzon_command", required=True, metavar="ACCION", title="acciones")

    def accion(nombre: str, ayuda: str, func):
        p = acciones.add_parser(nombre, help=ayuda)
        p.add_argument(
            "--usuario",
            metavar="NOMBRE",
            help="solo operadores, conectados con el rol de la plataforma: actúa sobre el buzón de este usuario "
            "(la conexión propia de una persona actúa siempre como ella y rechaza cualquier otro nombre)",
        )
        p.add_argument("--json", action="store_true", help="salida para programas (JSON)")
        p.set_defaults(func=func)
        return p

    listar = accion(
        "listar", "lista los mensajes recibidos, el más reciente primero (los vencidos no se muestran)", _listar
    )
    listar.add_argument("--no-leidos", action="store_true", help="solo mensajes sin leer")
    listar.add_argument("--prioridad", choices=buzon.PRIORIDADES, help="solo esta prioridad")
    listar.add_argument("--tipo", choices=buzon.TIPOS, help="solo este tipo")

    leer = accion("leer", "muestra un mensaje y lo marca leído", _leer)
    leer.add_argument("id", type=int, help="id del mensaje (ver `listar`)")

    enviar = accion("enviar", "envía un mensaje a otro usuario", _enviar)
    enviar.add_argument("--para", required=True, metavar="NOMBRE", help="destinatario")
    enviar.add_argument("--asunto", required=True, help="asunto del mensaje")
    enviar.add_argument("--cuerpo", required=True, help="texto del mensaje")
    enviar.add_argument("--prioridad", choices=buzon.PRIORIDADES, default="medium", help="prioridad (medium)")
    enviar.add_argument("--tipo", choices=[t for t in buzon.TIPOS if t != "system"], default="info", help="tipo (info)")
    enviar.add_argument(
        "--expira", metavar="AAAA-MM-DD", help="último día en que se muestra el mensaje (zona de los reportes)"
    )

    accion("contar", "cuenta los mensajes sin leer", _contar)

    eliminar = accion("eliminar", "elimina un mensaje", _eliminar)
    eliminar.add_argument("id", type=int, help="id del mensaje (ver `listar`)")


def _conectar():
    return db.connect(db.warehouse_url())


def fin_del_dia(texto: str) -> datetime:
    """`--expira 2025-01-31`: shown through that local day, hidden from the next midnight on."""
    dia = parse_fecha("--expira", texto)
    zona = ZoneInfo(load_settings().zona_horaria)
    return datetime.combine(dia + timedelta(days=1), time(0), tzinfo=zona)


def _ejecutar(args, funcion, *posicionales, **kwargs):
    """Run `funcion(conn, persona, ...)` as the person connected (or --usuario, for operators)."""
    with _conectar() as conn:
        try:
            args.usuario = buzon.persona(conn, args.usuario)
            return funcion(conn, args.usuario, *posicionales, **kwargs)
        except buzon.BuzonError as exc:
            raise CliError(str(exc)) from None
        except psycopg.errors.InsufficientPrivilege:
            rol = conn.info.user
            raise CliError(
                f"el rol {rol!r} no tiene buzón (no es miembro de iact_buzon): un operador lo da con "
                f"`iact usuarios crear {rol}`"
            ) from None


def _listar(args) -> int:
    mensajes = _ejecutar(args, buzon.listar, solo_no_leidos=args.no_leidos, prioridad=args.prioridad, tipo=args.tipo)
    if args.json:
        imprimir_json([m.como_dict() for m in mensajes])
        return 0
    imprimir_tabla(
        ["ID", "FECHA", "DE", "PRIORIDAD", "TIPO", "LEÍDO", "ASUNTO"],
        [
            [
                m.id,
                hora_local(m.created_at),
                m.remitente or "(sistema)",
                m.priority,
                m.message_type,
                "sí" if m.is_read else "no",
                recortar(legible(m.subject), 60),
            ]
            for m in mensajes
        ],
        vacio=f"no hay mensajes para {args.usuario}",
    )
    return 0


def _leer(args) -> int:
    mensaje = _ejecutar(args, buzon.leer, args.id)
    if args.json:
        imprimir_json(mensaje.como_dict())
        return 0
    # The message first: subject, sender and date, then the body; the bookkeeping and the
    # alert's data (without empty values) after it.
    detalle = [
        f"mensaje {mensaje.id} para {mensaje.destinatario}",
        f"prioridad {mensaje.priority}",
        mensaje.message_type,
    ]
    if mensaje.read_at is not None:
        detalle.append(f"leído {hora_local(mensaje.read_at)}")
    if mensaje.expires_at is not None:
        detalle.append(f"expira {hora_local(mensaje.expires_at)}")
    cabecera = [
        f"Asunto:    {legible(mensaje.subject)}",
        f"De:        {mensaje.remitente or '(sistema)'}",
        f"Fecha:     {hora_local(mensaje.created_at)}",
    ]
    datos = [f"({', '.join(detalle)})"]
    for clave, valor in mensaje.metadata.items():
        if valor in (None, "", [], {}):
            continue
        if isinstance(valor, list):
            texto = ", ".join(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in valor)
        else:
            texto = valor if isinstance(valor, str) else json.dumps(valor, ensure_ascii=False)
        datos.append(f"  {legible(clave)}: {legible(texto)}")
    # The body keeps its line breaks and tabs; every other control character shows escaped.
    cuerpo = legible(mensaje.body, conservar="\n\t").rstrip("\n")
    print("\n".join(cabecera) + "\n\n" + cuerpo + "\n\n" + "\n".join(datos))
    return 0


def _enviar(args) -> int:
    expira = fin_del_dia(args.expira) if args.expira else None
    mensaje = _ejecutar(
        args,
        buzon.enviar,
        args.para,
        args.asunto,
        args.cuerpo,
        tipo=args.tipo,
        prioridad=args.prioridad,
        expira=expira,
    )
    if args.json:
        imprimir_json(mensaje.como_dict())
    else:
        print(f"enviado mensaje {mensaje.id} a {mensaje.destinatario}")
    return 0


def _contar(args) -> int:
    total = _ejecutar(args, buzon.contar_no_leidos)
    if args.json:
        imprimir_json({"usuario": args.usuario, "no_leidos": total})
    else:
        print(f"{total} mensaje(s) sin leer")
    return 0


def _eliminar(args) -> int:
    _ejecutar(args, buzon.eliminar, args.id)
    if args.json:
        imprimir_json({"eliminado": args.id})
    else:
        print(f"eliminado mensaje {args.id}")
    return 0
