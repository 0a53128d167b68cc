"""Users of the internal inbox (`usuarios`): who can send and receive messages, and which
active admins receive the pipeline's failure alerts.

A person is a `usuarios` row AND a PostgreSQL login role named like it (lower case), member of
the group role `iact_buzon`: row-level security on `internal_messages` (migration 060) lets
that role see and change only its own messages. Names are case-insensitive and unique.
Creating, deactivating and giving passwords need the platform's own role (CREATEROLE).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.rows import class_row

GRUPO_BUZON = "iact_buzon"
# Roles a person's name may never take over: PostgreSQL's own and the platform's groups.
# PostgreSQL's own reserved role names (CREATE ROLE refuses them) and the platform's roles.
_ROLES_RESERVADOS = re.compile(
    r"^(pg_.*|postgres|public|none|current_user|current_role|session_user|iact_analista|iact_buzon)$"
)
_MAX_ROL = 63  # PostgreSQL truncates identifiers beyond NAMEDATALEN - 1 bytes

# Mirrors the CHECK on usuarios.nombre, so a person gets a readable error before the database's.
_NOMBRE_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,150}$")

_COLUMNAS = "id, nombre, nombre_completo, es_admin, activo, created_at"

_CREAR = f"""
INSERT INTO usuarios (nombre, nombre_completo, es_admin)
VALUES (%(nombre)s, %(nombre_completo)s, %(es_admin)s)
ON CONFLICT DO NOTHING  -- either unique index: the name, or the name in any case
RETURNING {_COLUMNAS}
"""
_POR_NOMBRE = f"SELECT {_COLUMNAS} FROM usuarios WHERE lower(nombre) = lower(%s)"
_POR_ID = f"SELECT {_COLUMNAS} FROM usuarios WHERE id = %s"
_LISTAR = f"""
SELECT {_COLUMNAS} FROM usuarios
WHERE (activo OR NOT %(solo_activos)s) AND (es_admin OR NOT %(solo_admins)s)
ORDER BY nombre
"""
_CAMBIAR_ACTIVO = f"""
UPDATE usuarios SET activo = %(activo)s
WHERE id = %(id)s AND activo IS DISTINCT FROM %(activo)s
RETURNING {_COLUMNAS}
"""
# Locks the active admins so two concurrent deactivations cannot both see "another admin left".
_ADMINS_ACTIVOS_BLOQUEO = "SELECT id FROM usuarios WHERE es_admin AND activo ORDER BY id FOR UPDATE"
# What a person's own role may read of usuarios (column grants in migration 060).
_DIRECTORIO_NOMBRE = "SELECT id, nombre, nombre_completo, activo FROM usuarios WHERE lower(nombre) = lower(%s)"
_DIRECTORIO_ID = "SELECT id, nombre, nombre_completo, activo FROM usuarios WHERE id = %s"
_ROL = "SELECT rolsuper OR rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = %s"


class UsuarioError(ValueError):
    """A mistake about users (unknown, duplicate, malformed name), reported as one line."""


@dataclass(frozen=True)
class Usuario:
    id: int
    nombre: str
    nombre_completo: str
    es_admin: bool
    activo: bool
    created_at: datetime

    def como_dict(self) -> dict:
        datos = asdict(self)
        datos["created_at"] = self.created_at.isoformat()
        return datos


@dataclass(frozen=True)
class Contacto:
    """A person as the directory shows them to another person (no admin flag, no dates)."""

    id: int
    nombre: str
    nombre_completo: str
    activo: bool


def validar_nombre(nombre: str) -> str:
    if not _NOMBRE_RE.match(nombre or ""):
        raise UsuarioError(f"nombre de usuario {nombre!r} no válido: 1-150 caracteres entre letras, dígitos y _ . @ -")
    return nombre


def nombre_de_rol(nombre: str) -> str:
    """The PostgreSQL login role of a person: the name in lower case."""
    rol = validar_nombre(nombre).lower()
    if len(rol.encode()) > _MAX_ROL:
        raise UsuarioError(
            f"nombre de usuario {nombre!r} demasiado largo para un rol de PostgreSQL (máximo {_MAX_ROL})"
        )
    if _ROLES_RESERVADOS.match(rol):
        raise UsuarioError(f"el nombre {nombre!r} está reservado (rol de PostgreSQL o de la plataforma)")
    return rol


def _asegurar_rol(conn: psycopg.Connection, rol: str, *, login: bool) -> None:
    """Create the person's login role if missing (an existing plain role, e.g. an analyst's
    login, is reused) and make it a member of iact_buzon."""
    existente = conn.execute(_ROL, (rol,)).fetchone()
    ident = sql.Identifier(rol)
    try:
        if existente is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
        elif existente[0]:
            raise UsuarioError(f"el rol {rol!r} ya existe y salta la seguridad por filas: no puede ser una persona")
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(GRUPO_BUZON), ident))
        conn.execute(sql.SQL("ALTER ROLE {} {}").format(ident, sql.SQL("LOGIN" if login else "NOLOGIN")))
    except psycopg.errors.InsufficientPrivilege:
        raise UsuarioError(
            f"sin permiso para crear o cambiar el rol {rol!r}: hazlo con el rol de la plataforma (CREATEROLE)"
        ) from None
    except psycopg.errors.ReservedName:  # a name a later PostgreSQL reserves
        raise UsuarioError(f"el nombre {rol!r} está reservado por PostgreSQL") from None


def _fijar_clave(conn: psycopg.Connection, rol: str, clave: str) -> None:
    if not clave:
        raise UsuarioError("la contraseña está vacía")
    # Hashed here (SCRAM-SHA-256, libpq's own routine): the password itself never reaches the
    # server, its statement log or pg_stat_activity.
    cifrada = conn.pgconn.encrypt_password(clave.encode(), rol.encode(), b"scram-sha-256").decode()
    conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(rol), sql.Literal(cifrada)))


def crear(
    conn: psycopg.Connection,
    nombre: str,
    *,
    nombre_completo: str = "",
    es_admin: bool = False,
    clave: str | None = None,
) -> Usuario:
    """Create a person: the usuarios row and their login role (with a password if given), in
    one transaction. An existing name, in any case, is an error (never silently reused)."""
    rol = nombre_de_rol(nombre)
    if len(nombre_completo) > 200:
        raise UsuarioError("nombre completo demasiado largo (máximo 200 caracteres)")
    with conn.transaction(), conn.cursor(row_factory=class_row(Usuario)) as cur:
        cur.execute(_CREAR, {"nombre": rol, "nombre_completo": nombre_completo, "es_admin": es_admin})
        usuario = cur.fetchone()
        if usuario is None:
            raise UsuarioError(f"el usuario {nombre!r} ya existe")
        _asegurar_rol(conn, rol, login=True)
        if clave is not None:
            _fijar_clave(conn, rol, clave)
    return usuario


def cambiar_clave(conn: psycopg.Connection, nombre: str, clave: str) -> Usuario:
    """Set a person's password (creating their login role if the row predates roles)."""
    usuario = obtener(conn, nombre)
    rol = nombre_de_rol(usuario.nombre)
    with conn.transaction():
        _asegurar_rol(conn, rol, login=usuario.activo)
        _fijar_clave(conn, rol, clave)
    return usuario


def obtener(conn: psycopg.Connection, usuario: str | int) -> Usuario:
    """A user by name (str, any case) or id (int); unknown is an error."""
    with conn.cursor(row_factory=class_row(Usuario)) as cur:
        if isinstance(usuario, int) and not isinstance(usuario, bool):
            cur.execute(_POR_ID, (usuario,))
        else:
            cur.execute(_POR_NOMBRE, (str(usuario),))
        encontrado = cur.fetchone()
    if encontrado is None:
        raise UsuarioError(f"usuario desconocido: {usuario!r}")
    return encontrado


def contacto(conn: psycopg.Connection, usuario: str | int) -> Contacto:
    """A user by name or id through the directory columns a person's own role may read."""
    with conn.cursor(row_factory=class_row(Contacto)) as cur:
        if isinstance(usuario, int) and not isinstance(usuario, bool):
            cur.execute(_DIRECTORIO_ID, (usuario,))
        else:
            cur.execute(_DIRECTORIO_NOMBRE, (str(usuario),))
        encontrado = cur.fetchone()
    if encontrado is None:
        raise UsuarioError(f"usuario desconocido: {usuario!r}")
    return encontrado


def listar(conn: psycopg.Connection, *, solo_activos: bool = False, solo_admins: bool = False) -> list[Usuario]:
    with conn.cursor(row_factory=class_row(Usuario)) as cur:
        cur.execute(_LISTAR, {"solo_activos": solo_activos, "solo_admins": solo_admins})
        return cur.fetchall()


def admins_activos(conn: psycopg.Connection) -> list[Usuario]:
    """Who receives the pipeline's failure alerts."""
    return listar(conn, solo_activos=True, solo_admins=True)


def _cambiar_activo(conn: psycopg.Connection, nombre: str, activo: bool, *, forzar: bool = False) -> Usuario:
    actual = obtener(conn, nombre)
    with conn.transaction():
        if not activo and actual.es_admin and not forzar:
            admins = [i for (i,) in conn.execute(_ADMINS_ACTIVOS_BLOQUEO)]
            if admins == [actual.id]:
                raise UsuarioError(
                    f"{actual.nombre!r} es el último admin activo: sin admins las alertas de fallos no se "
                    "entregan; crea o activa otro admin antes, o repite con --forzar"
                )
        with conn.cursor(row_factory=class_row(Usuario)) as cur:
            cur.execute(_CAMBIAR_ACTIVO, {"id": actual.id, "activo": activo})
            cambiado = cur.fetchone()
        # The login follows the person: a deactivated person cannot connect any more.
        _asegurar_rol(conn, nombre_de_rol(actual.nombre), login=activo)
    # Already in the asked state: report the user as is (idempotent, like `activo` itself).
    return cambiado or obtener(conn, nombre)


def desactivar(conn: psycopg.Connection, nombre: str, *, forzar: bool = False) -> Usuario:
    """An inactive user keeps their messages but can no longer log in, send, receive or get
    alerts. The last active admin needs `forzar` (alerts would have nobody to go to)."""
    return _cambiar_activo(conn, nombre, False, forzar=forzar)


def activar(conn: psycopg.Connection, nombre: str) -> Usuario:
    return _cambiar_activo(conn, nombre, True)
