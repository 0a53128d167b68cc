"""`iact usuarios crear|clave|listar|desactivar|activar`: who uses the inbox; active admins get
the pipeline's failure alerts. Each person is also a PostgreSQL login role (lower-case name,
member of iact_buzon); these commands run as the platform's own role (CREATEROLE)."""

from __future__ import annotations

import sys
from contextlib import contextmanager

import psycopg

from iact_pipelines.buzon import usuarios
from iact_pipelines.cli import CliError
from iact_pipelines.cli.tabla import hora_local, imprimir_json, imprimir_tabla
from iact_pipelines.plataforma import db


def register(sub) -> None:
    parser = sub.add_parser(
        "usuarios", help="usuarios del buzón interno (los administradores reciben las alertas del pipeline)"
    )
    acciones = parser.add_subparsers(dest="usuarios_command", required=True, metavar="ACCION", title="acciones")

    crear = acciones.add_parser("crear", help="crea un usuario")
    crear.add_argument(
        "nombre", help="nombre de login: letras, dígitos y _ . @ - (sin distinguir mayúsculas; el rol va en minúsculas)"
    )
    crear.add_argument("--nombre-completo", default="", help="nombre completo, para las personas")
    crear.add_argument("--admin", action="store_true", help="recibe las alertas de fallos del pipeline")
    crear.add_argument(
        "--clave-stdin",
        action="store_true",
        help="lee la contraseña del login de la entrada estándar (primera línea); sin esta opción, fíjela "
        "después con `iact usuarios clave`",
    )
    crear.add_argument("--json", action="store_true", help="salida para programas (JSON)")
    crear.set_defaults(func=_crear)

    clave = acciones.add_parser(
        "clave", help="fija la contraseña del login de una persona (leída de la entrada estándar)"
    )
    clave.add_argument("nombre", help="nombre del usuario")
    clave.add_argument(
        "--clave-stdin",
        action="store_true",
        required=True,
        help="lee la contraseña de la entrada estándar (primera línea); nunca se muestra ni se registra",
    )
    clave.set_defaults(func=_clave)

    listar = acciones.add_parser("listar", help="lista los usuarios")
    listar.add_argument("--activos", action="store_true", help="solo usuarios activos")
    listar.add_argument("--admins", action="store_true", help="solo administradores")
    listar.add_argument("--json", action="store_true", help="salida para programas (JSON)")
    listar.set_defaults(func=_listar)

    for nombre, ayuda, func in (
        (
            "desactivar",
            "desactiva un usuario: conserva sus mensajes, deja de enviar, recibir y recibir alertas",
            _desactivar,
        ),
        ("activar", "reactiva un usuario", _activar),
    ):
        accion = acciones.add_parser(nombre, help=ayuda)
        accion.add_argument("nombre", help="nombre del usuario")
        accion.add_argument("--json", action="store_true", help="salida para programas (JSON)")
        accion.set_defaults(func=func)
        if nombre == "desactivar":
            accion.add_argument(
                "--forzar",
                action="store_true",
                help="desactiva incluso al último administrador activo (las alertas de fallos no tendrán destinatario)",
            )


@contextmanager
def _conectar():
    """The warehouse as the platform's own role; a person's login gets one line, not a traceback."""
    with db.connect(db.warehouse_url()) as conn:
        try:
            yield conn
        except psycopg.errors.InsufficientPrivilege:
            raise CliError(
                f"el rol {conn.info.user!r} no administra usuarios: `iact usuarios` es para el rol de la plataforma"
            ) from None


def _mostrar(usuario: usuarios.Usuario, accion: str, como_json: bool) -> None:
    if como_json:
        imprimir_json(usuario.como_dict())
    else:
        rol = "admin" if usuario.es_admin else "usuario"
        estado = "activo" if usuario.activo else "desactivado"
        print(f"{accion} {usuario.nombre} (id {usuario.id}, {rol}, {estado})")


def _leer_clave() -> str:
    """The first line of standard input, without its line break (never echoed back)."""
    linea = sys.stdin.readline().rstrip("\r\n")
    if not linea:
        raise CliError("--clave-stdin: la entrada estándar no trae contraseña (la primera línea está vacía)")
    return linea


def _crear(args) -> int:
    clave = _leer_clave() if args.clave_stdin else None
    with _conectar() as conn:
        try:
            usuario = usuarios.crear(
                conn, args.nombre, nombre_completo=args.nombre_completo, es_admin=args.admin, clave=clave
            )
        except usuarios.UsuarioError as exc:
            raise CliError(str(exc)) from None
    _mostrar(usuario, "creado", args.json)
    return 0


def _clave(args) -> int:
    clave = _leer_clave()
    with _conectar() as conn:
        try:
            usuario = usuarios.cambiar_clave(conn, args.nombre, clave)
        except usuarios.UsuarioError as exc:
            raise CliError(str(exc)) from None
    print(f"contraseña fijada para {usuario.nombre} (rol {usuarios.nombre_de_rol(usuario.nombre)})")
    return 0


def _listar(args) -> int:
    with _conectar() as conn:
        todos = usuarios.listar(conn, solo_activos=args.activos, solo_admins=args.admins)
    if args.json:
        imprimir_json([u.como_dict() for u in todos])
        return 0
    imprimir_tabla(
        ["ID", "NOMBRE", "NOMBRE COMPLETO", "ADMIN", "ACTIVO", "CREADO"],
        [
            [
                u.id,
                u.nombre,
                u.nombre_completo,
                "sí" if u.es_admin else "no",
                "sí" if u.activo else "no",
                hora_local(u.created_at),
            ]
            for u in todos
        ],
        vacio="no hay usuarios (créalos con `iact usuarios crear NOMBRE`)",
    )
    return 0


def _cambiar(args, funcion, accion: str) -> int:
    with _conectar() as conn:
        try:
            usuario = funcion(conn, args.nombre)
        except usuarios.UsuarioError as exc:
            raise CliError(str(exc)) from None
    _mostrar(usuario, accion, args.json)
    return 0


def _desactivar(args) -> int:
    return _cambiar(args, lambda conn, nombre: usuarios.desactivar(conn, nombre, forzar=args.forzar), "desactivado")


def _activar(args) -> int:
    return _cambiar(args, usuarios.activar, "activado")
