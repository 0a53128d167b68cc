"""The internal inbox (buzón interno) over `internal_messages` and `usuarios`.

Every operation acts as one user (by name or id) and only ever sees or changes that user's own
received messages. Connected as a person's own role, PostgreSQL's row-level security enforces
that whatever name is passed (migration 060); the platform's own role may act for anyone
(operators, system alerts). Anything else (an unknown user, someone else's message, a message that does
not exist or has expired) raises BuzonError: never a silent no-op. Expired messages are hidden
from every operation until the scheduled purge deletes them. No e-mail, by design.

Functions take a psycopg connection; writes run in `conn.transaction()`, so they commit on
their own on a fresh connection and become a savepoint inside a caller's transaction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from iact_pipelines.buzon import usuarios

TIPOS = ("info", "warning", "alert", "system")
PRIORIDADES = ("low", "medium", "high", "critical")
MAX_ASUNTO = 255

# A message is visible while it has not expired.
_VISIBLE = "(m.expires_at IS NULL OR m.expires_at > now())"

_SELECT = """
SELECT m.id, m.recipient_id, d.nombre AS destinatario, m.sender_id, r.nombre AS remitente,
       m.subject, m.body, m.message_type, m.priority, m.is_read, m.read_at, m.created_at,
       m.expires_at, m.created_by_system, m.metadata
FROM {origen} m
JOIN usuarios d ON d.id = m.recipient_id
LEFT JOIN usuarios r ON r.id = m.sender_id
"""

_INSERTAR = """
WITH nuevo AS (
    INSERT INTO internal_messages
        (recipient_id, sender_id, subject, body, message_type, priority, expires_at,
         created_by_system, metadata, dedupe_key)
    VALUES (%(recipient_id)s, %(sender_id)s, %(subject)s, %(body)s, %(message_type)s, %(priority)s,
            %(expires_at)s, %(created_by_system)s, %(metadata)s, %(dedupe_key)s)
    ON CONFLICT (recipient_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
    RETURNING *
)""" + _SELECT.format(origen="nuevo")

_POR_DEDUPE = _SELECT.format(origen="internal_messages") + "WHERE m.recipient_id = %s AND m.dedupe_key = %s"

_LISTAR = (
    _SELECT.format(origen="internal_messages")
    + f"""
WHERE m.recipient_id = %(usuario)s AND {_VISIBLE}
  AND (NOT m.is_read OR NOT %(solo_no_leidos)s)
  AND (m.priority = %(prioridad)s::text OR %(prioridad)s::text IS NULL)
  AND (m.message_type = %(tipo)s::text OR %(tipo)s::text IS NULL)
ORDER BY m.created_at DESC, m.id DESC
"""
)

_UNO = _SELECT.format(origen="internal_messages") + f"WHERE m.id = %s AND m.recipient_id = %s AND {_VISIBLE}"

# `AND NOT is_read`: read_at is set once; reading again keeps the first time (and under
# READ COMMITTED a concurrent second reader re-checks the condition and updates nothing).
_MARCAR_LEIDO = f"""
UPDATE internal_messages m SET is_read = true, read_at = now()
WHERE m.id = %s AND m.recipient_id = %s AND NOT m.is_read AND {_VISIBLE}
"""

_ELIMINAR = f"DELETE FROM internal_messages m WHERE m.id = %s AND m.recipient_id = %s AND {_VISIBLE} RETURNING m.id"

_CONTAR_NO_LEIDOS = (
    f"SELECT count(*) FROM internal_messages m WHERE m.recipient_id = %s AND NOT m.is_read AND {_VISIBLE}"
)

# A person may not SELECT what they send (it is the recipient's), so no RETURNING: the id comes
# from the identity's sequence and created_at is the transaction's now(), as the column default.
_ENVIAR = """
INSERT INTO internal_messages
    (recipient_id, sender_id, subject, body, message_type, priority, expires_at, metadata)
VALUES (%(recipient_id)s, %(sender_id)s, %(subject)s, %(body)s, %(message_type)s, %(priority)s,
        %(expires_at)s, %(metadata)s)
"""
_ENVIADO = "SELECT currval(pg_get_serial_sequence('internal_messages', 'id')), now()"

# The platform's own role: superuser, BYPASSRLS, or owner of internal_messages (exempt from RLS).
_ES_PLATAFORMA = """
SELECT r.rolsuper OR r.rolbypassrls OR pg_has_role(current_user, c.relowner, 'USAGE')
FROM pg_roles r, pg_class c
WHERE r.rolname = current_user AND c.oid = 'public.internal_messages'::regclass
"""

_PURGAR = """
DELETE FROM internal_messages
WHERE expires_at IS NOT NULL AND expires_at < now() - make_interval(days => %s)
"""


class BuzonError(ValueError):
    """A mistake using the inbox (unknown user, not your message, bad value), as one line."""


@dataclass(frozen=True)
class Mensaje:
    id: int
    recipient_id: int
    destinatario: str
    sender_id: int | None
    remitente: str | None
    subject: str
    body: str
    message_type: str
    priority: str
    is_read: bool
    read_at: datetime | None
    created_at: datetime
    expires_at: datetime | None
    created_by_system: bool
    metadata: dict[str, Any]

    def como_dict(self) -> dict[str, Any]:
        """JSON-ready: timestamps as ISO 8601 strings."""
        datos = asdict(self)
        for campo in ("read_at", "created_at", "expires_at"):
            valor = datos[campo]
            datos[campo] = valor.isoformat() if valor is not None else None
        return datos


def es_plataforma(conn: psycopg.Connection) -> bool:
    """True when connected as the platform's own role, which row-level security does not bind."""
    return bool(conn.execute(_ES_PLATAFORMA).fetchone()[0])


def persona(conn: psycopg.Connection, usuario: str | None = None) -> str:
    """Whose inbox this connection acts on: a person's connection is that person (naming anyone
    else is refused); the platform's own role must name the user (operators)."""
    actual = conn.execute("SELECT current_user").fetchone()[0]
    if es_plataforma(conn):
        if usuario is None:
            raise BuzonError(
                f"conectado como {actual!r}, el rol de la plataforma: indica de quién es el buzón con --usuario NOMBRE"
            )
        return usuario
    if usuario is not None and usuario.lower() != actual:
        raise BuzonError(
            f"--usuario es solo para el rol de la plataforma: conectado como {actual!r}, solo ves tu propio buzón"
        )
    return actual


def _usuario(conn: psycopg.Connection, ref: str | int) -> usuarios.Contacto:
    try:
        return usuarios.contacto(conn, ref)
    except usuarios.UsuarioError as exc:
        raise BuzonError(str(exc)) from None


def _destinatario(conn: psycopg.Connection, ref: str | int) -> usuarios.Contacto:
    destino = _usuario(conn, ref)
    if not destino.activo:
        raise BuzonError(f"el usuario {destino.nombre!r} está desactivado y no recibe mensajes")
    return destino


def _validar(asunto: str, tipo: str, prioridad: str, expira: datetime | None) -> None:
    if not asunto or not asunto.strip():
        raise BuzonError("el asunto no puede estar vacío")
    if len(asunto) > MAX_ASUNTO:
        raise BuzonError(f"el asunto tiene {len(asunto)} caracteres (máximo {MAX_ASUNTO})")
    if tipo not in TIPOS:
        raise BuzonError(f"tipo desconocido {tipo!r} (uno de: {', '.join(TIPOS)})")
    if prioridad not in PRIORIDADES:
        raise BuzonError(f"prioridad desconocida {prioridad!r} (una de: {', '.join(PRIORIDADES)})")
    if expira is not None:
        if expira.tzinfo is None:
            raise BuzonError("la fecha de expiración necesita zona horaria")
        if expira <= datetime.now(expira.tzinfo):
            raise BuzonError(f"la fecha de expiración {expira.isoformat()} ya pasó")


def _insertar(conn: psycopg.Connection, valores: dict[str, Any]) -> Mensaje:
    with conn.transaction(), conn.cursor(row_factory=class_row(Mensaje)) as cur:
        cur.execute(_INSERTAR, valores)
        mensaje = cur.fetchone()
        if mensaje is None:  # same dedupe_key already delivered: return that message
            cur.execute(_POR_DEDUPE, (valores["recipient_id"], valores["dedupe_key"]))
            mensaje = cur.fetchone()
    return mensaje


def enviar(
    conn: psycopg.Connection,
    remitente: str | int,
    destinatario: str | int,
    asunto: str,
    cuerpo: str,
    *,
    tipo: str = "info",
    prioridad: str = "medium",
    expira: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> Mensaje:
    """Send a message from one user to another; inactive users can neither send nor receive."""
    _validar(asunto, tipo, prioridad, expira)
    if tipo == "system":
        raise BuzonError("el tipo 'system' es solo para mensajes del sistema")
    origen = _usuario(conn, remitente)
    if not origen.activo:
        raise BuzonError(f"el usuario {origen.nombre!r} está desactivado y no puede enviar mensajes")
    destino = _destinatario(conn, destinatario)
    try:
        with conn.transaction():
            conn.execute(
                _ENVIAR,
                {
                    "recipient_id": destino.id,
                    "sender_id": origen.id,
                    "subject": asunto,
                    "body": cuerpo,
                    "message_type": tipo,
                    "priority": prioridad,
                    "expires_at": expira,
                    "metadata": Jsonb(metadata or {}),
                },
            )
            mensaje_id, creado = conn.execute(_ENVIADO).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        # Row-level security: a person's role sends only as itself.
        raise BuzonError(f"no puedes enviar mensajes como {origen.nombre!r}") from None
    return Mensaje(
        id=mensaje_id,
        recipient_id=destino.id,
        destinatario=destino.nombre,
        sender_id=origen.id,
        remitente=origen.nombre,
        subject=asunto,
        body=cuerpo,
        message_type=tipo,
        priority=prioridad,
        is_read=False,
        read_at=None,
        created_at=creado,
        expires_at=expira,
        created_by_system=False,
        metadata=metadata or {},
    )


def mensaje_sistema(
    conn: psycopg.Connection,
    destinatario: str | int,
    asunto: str,
    cuerpo: str,
    *,
    tipo: str = "system",
    prioridad: str = "medium",
    expira: datetime | None = None,
    metadata: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> Mensaje:
    """A message from the system (no sender). With a dedupe_key it is delivered at most once
    per recipient: a repeated call returns the message already delivered."""
    _validar(asunto, tipo, prioridad, expira)
    destino = _destinatario(conn, destinatario)
    return _insertar(
        conn,
        {
            "recipient_id": destino.id,
            "sender_id": None,
            "subject": asunto,
            "body": cuerpo,
            "message_type": tipo,
            "priority": prioridad,
            "expires_at": expira,
            "created_by_system": True,
            "metadata": Jsonb(metadata or {}),
            "dedupe_key": dedupe_key,
        },
    )


_ADMINS_ACTIVOS = "SELECT count(*) FROM usuarios WHERE es_admin AND activo"

# One row per active admin; the dedupe key makes a repeated delivery (a sensor tick replayed
# after a crash) write nothing.
_ALERTA_A_ADMINS = """
INSERT INTO internal_messages (
    recipient_id, sender_id, subject, body, message_type, priority, created_by_system, metadata, dedupe_key
)
SELECT u.id, NULL, %(subject)s, %(body)s, 'alert', %(priority)s, true, %(metadata)s, %(dedupe_key)s
FROM usuarios u
WHERE u.es_admin AND u.activo
ORDER BY u.id
ON CONFLICT (recipient_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
"""


def admins_activos(conn: psycopg.Connection) -> int:
    (n,) = conn.execute(_ADMINS_ACTIVOS).fetchone()
    return n


def alerta_a_admins(
    conn: psycopg.Connection, *, asunto: str, cuerpo: str, prioridad: str, metadata: dict[str, Any], dedupe_key: str
) -> int:
    """A system alert to every active admin, at most once per admin and dedupe key; returns the
    rows written (0 when it was already delivered)."""
    cur = conn.execute(
        _ALERTA_A_ADMINS,
        {
            "subject": asunto,
            "body": cuerpo,
            "priority": prioridad,
            "metadata": Jsonb(metadata),
            "dedupe_key": dedupe_key,
        },
    )
    return cur.rowcount


def listar(
    conn: psycopg.Connection,
    usuario: str | int,
    *,
    solo_no_leidos: bool = False,
    prioridad: str | None = None,
    tipo: str | None = None,
) -> list[Mensaje]:
    """The user's received messages, newest first; expired ones are hidden."""
    if prioridad is not None and prioridad not in PRIORIDADES:
        raise BuzonError(f"prioridad desconocida {prioridad!r} (una de: {', '.join(PRIORIDADES)})")
    if tipo is not None and tipo not in TIPOS:
        raise BuzonError(f"tipo desconocido {tipo!r} (uno de: {', '.join(TIPOS)})")
    propietario = _usuario(conn, usuario)
    with conn.cursor(row_factory=class_row(Mensaje)) as cur:
        cur.execute(
            _LISTAR,
            {"usuario": propietario.id, "solo_no_leidos": solo_no_leidos, "prioridad": prioridad, "tipo": tipo},
        )
        return cur.fetchall()


def _no_encontrado(mensaje_id: int, propietario: usuarios.Contacto) -> BuzonError:
    # One message for "does not exist", "expired" and "someone else's": the inbox does not
    # reveal which messages other users have.
    return BuzonError(f"el mensaje {mensaje_id} no está en el buzón de {propietario.nombre!r}")


def obtener(conn: psycopg.Connection, usuario: str | int, mensaje_id: int) -> Mensaje:
    """One of the user's messages, without marking it read."""
    propietario = _usuario(conn, usuario)
    with conn.cursor(row_factory=class_row(Mensaje)) as cur:
        cur.execute(_UNO, (mensaje_id, propietario.id))
        mensaje = cur.fetchone()
    if mensaje is None:
        raise _no_encontrado(mensaje_id, propietario)
    return mensaje


def marcar_leido(conn: psycopg.Connection, usuario: str | int, mensaje_id: int) -> Mensaje:
    """Mark one of the user's messages read (read_at is set the first time only); returns it."""
    propietario = _usuario(conn, usuario)
    with conn.transaction(), conn.cursor(row_factory=class_row(Mensaje)) as cur:
        cur.execute(_MARCAR_LEIDO, (mensaje_id, propietario.id))
        cur.execute(_UNO, (mensaje_id, propietario.id))
        mensaje = cur.fetchone()
    if mensaje is None:
        raise _no_encontrado(mensaje_id, propietario)
    return mensaje


# Reading a message is opening it: it becomes read.
leer = marcar_leido


def eliminar(conn: psycopg.Connection, usuario: str | int, mensaje_id: int) -> None:
    """Delete one of the user's messages."""
    propietario = _usuario(conn, usuario)
    with conn.transaction():
        borrado = conn.execute(_ELIMINAR, (mensaje_id, propietario.id)).fetchone()
    if borrado is None:
        raise _no_encontrado(mensaje_id, propietario)


def contar_no_leidos(conn: psycopg.Connection, usuario: str | int) -> int:
    propietario = _usuario(conn, usuario)
    return conn.execute(_CONTAR_NO_LEIDOS, (propietario.id,)).fetchone()[0]


def purgar_expirados(conn: psycopg.Connection, *, dias: int = 0) -> int:
    """Delete messages expired for more than `dias` days (all users); returns how many."""
    if dias < 0:
        raise BuzonError(f"días de gracia negativos: {dias}")
    with conn.transaction():
        return conn.execute(_PURGAR, (dias,)).rowcount
