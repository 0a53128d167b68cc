"""Users of the internal inbox (`usuarios`): who can send and receive messages, and which
active admins receive the pipeline's failure alerts."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

# Mirrors the CHECK on usuarios.nombre, so a person gets a readable error before the database's.
_NOMBRE_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,150}$")

_COLUMNAS = "id, nombre, nombre_completo, es_admin, activo, created_at"

_CREAR = f"""
INSERT INTO usuarios (nombre, nombre_completo, es_admin)
VALUES (%(nombre)s, %(nombre_completo)s, %(es_admin)s)
ON CONFLICT (nombre) DO NOTHING
RETURNING {_COLUMNAS}
"""
_POR_NOMBRE = f"SELECT {_COLUMNAS} FROM usuarios WHERE nombre = %s"
_POR_ID = f"SELECT {_COLUMNAS} FROM usuarios WHERE id = %s"
_LISTAR = f"""
SELECT {_COLUMNAS} FROM usuarios
WHERE (activo OR NOT %(solo_activos)s) AND (es_admin OR NOT %(solo_admins)s)
ORDER BY nombre
"""
_CAMBIAR_ACTIVO = f"""
UPDATE usuarios SET activo = %(activo)s
WHERE nombre = %(nombre)s AND activo IS DISTINCT FROM %(activo)s
RETURNING {_COLUMNAS}
"""


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


def validar_nombre(nombre: str) -> str:
    if not _NOMBRE_RE.match(nombre or ""):
        raise UsuarioError(
            f"nombre de usuario {nombre!r} no válido: 1-150 caracteres entre letras, dígitos y _ . @ -"
        )
    return nombre


def crear(conn: psycopg.Connection, nombre: str, *, nombre_completo: str = "", es_admin: bool = False) -> Usuario:
    """Create a user; an existing name is an error (never silently reused)."""
    validar_nombre(nombre)
    if len(nombre_completo) > 200:
        raise UsuarioError("nombre completo demasiado largo (máximo 200 caracteres)")
    with conn.transaction(), conn.cursor(row_factory=class_row(Usuario)) as cur:
        cur.execute(_CREAR, {"nombre": nombre, "nombre_completo": nombre_completo, "es_admin": es_admin})
        usuario = cur.fetchone()
    if usuario is None:
        raise UsuarioError(f"el usuario {nombre!r} ya existe")
    return usuario


def obtener(conn: psycopg.Connection, usuario: str | int) -> Usuario:
    """A user by name (str) or id (int); unknown is an error."""
    with conn.cursor(row_factory=class_row(Usuario)) as cur:
        if isinstance(usuario, int) and not isinstance(usuario, bool):
            cur.execute(_POR_ID, (usuario,))
        else:
            cur.execute(_POR_NOMBRE, (str(usuario),))
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


def _cambiar_activo(conn: psycopg.Connection, nombre: str, activo: bool) -> Usuario:
    actual = obtener(conn, nombre)
    with conn.transaction(), conn.cursor(row_factory=class_row(Usuario)) as cur:
        cur.execute(_CAMBIAR_ACTIVO, {"nombre": actual.nombre, "activo": activo})
        cambiado = cur.fetchone()
    # Already in the asked state: report the user as is (idempotent, like `activo` itself).
    return cambiado or obtener(conn, nombre)


def desactivar(conn: psycopg.Connection, nombre: str) -> Usuario:
    """An inactive user keeps their messages but can no longer send, receive or get alerts."""
    return _cambiar_activo(conn, nombre, False)


def activar(conn: psycopg.Connection, nombre: str) -> Usuario:
    return _cambiar_activo(conn, nombre, True)
