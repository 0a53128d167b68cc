"""Who may see what in the inbox, enforced by PostgreSQL (migration 060), tested with real logins.

The embedded server trusts every local connection, which would accept any password. So for
these tests the fixture puts the rule the docs recommend in front of its pg_hba.conf
(`local all +iact_buzon scram-sha-256`: members of iact_buzon must give their password) and
reloads; the rule is removed afterwards. With IACT_TEST_PG_URL (a server whose pg_hba we do not
own) the same tests connect as the roles, and only the wrong-password check is skipped.
"""

import io
import json
import secrets
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from iact_pipelines.buzon import mensajes as buzon
from iact_pipelines.buzon import usuarios
from iact_pipelines.buzon.mensajes import BuzonError
from iact_pipelines.cli import main
from iact_pipelines.plataforma import db
from iact_pipelines.plataforma.config import ConfigError
from iact_pipelines_tests.ayudas import PG_EXTERNO

REGLA = "local all +iact_buzon scram-sha-256  # iact tests: inbox users need their password\n"
PERSONAS = ("lucia", "mateo", "nora")


@pytest.fixture
def claves_exigidas(warehouse):
    """True when the server now checks the passwords of iact_buzon members."""
    if PG_EXTERNO:
        yield False
        return
    hba = warehouse.execute("SHOW hba_file").fetchone()[0]
    with open(hba) as archivo:
        original = archivo.read()
    with open(hba, "w") as archivo:
        archivo.write(REGLA + original)
    warehouse.execute("SELECT pg_reload_conf()")
    try:
        yield True
    finally:
        with open(hba, "w") as archivo:
            archivo.write(original)
        warehouse.execute("SELECT pg_reload_conf()")


@pytest.fixture
def gente(warehouse, claves_exigidas):
    """lucia (admin) and mateo with passwords, nora without; returns {name: password}."""
    claves = {nombre: secrets.token_urlsafe(12) for nombre in PERSONAS[:2]}
    usuarios.crear(warehouse, "lucia", es_admin=True, clave=claves["lucia"])
    usuarios.crear(warehouse, "Mateo", clave=claves["mateo"])  # stored and logged in lower case
    usuarios.crear(warehouse, "nora")
    yield claves
    for nombre in PERSONAS:
        warehouse.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(nombre)))


def _url(pg_urls, usuario: str, clave: str | None) -> str:
    partes = urlsplit(db.libpq_url(pg_urls.warehouse))
    host = partes.netloc.rsplit("@", 1)[-1]
    credencial = usuario if clave is None else f"{usuario}:{quote(clave)}"
    return urlunsplit(partes._replace(netloc=f"{credencial}@{host}"))


@pytest.fixture
def como(pg_urls, gente):
    """Open an autocommit connection as a person, with their password."""
    abiertas = []

    def abrir(nombre: str):
        conn = db.connect(_url(pg_urls, nombre, gente.get(nombre)), autocommit=True)
        abiertas.append(conn)
        return conn

    yield abrir
    for conn in abiertas:
        conn.close()


def _correo(warehouse):
    """As the platform: two system alerts and two person-to-person messages, one expired."""
    a_lucia = buzon.mensaje_sistema(warehouse, "lucia", "Run fallido", "staging", tipo="alert")
    a_mateo = buzon.mensaje_sistema(warehouse, "mateo", "Aviso", "para mateo")
    de_mateo = buzon.enviar(warehouse, "mateo", "lucia", "Turno", "¿cubres?")
    expirado = buzon.enviar(warehouse, "mateo", "lucia", "viejo", "")
    warehouse.execute(
        "UPDATE internal_messages SET expires_at = now() - interval '1 hour' WHERE id = %s", (expirado.id,)
    )
    return a_lucia, a_mateo, de_mateo, expirado


def test_roles_de_personas(warehouse, gente):
    filas = warehouse.execute(
        "SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolbypassrls,"
        "       pg_has_role(r.oid, 'iact_buzon', 'MEMBER'), pg_has_role(r.oid, 'iact_analista', 'MEMBER'),"
        "       left(a.rolpassword, 14)"
        " FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid WHERE r.rolname = ANY(%s) ORDER BY 1",
        (list(PERSONAS),),
    ).fetchall()
    assert filas == [
        ("lucia", True, False, False, False, True, False, "SCRAM-SHA-256$"),
        ("mateo", True, False, False, False, True, False, "SCRAM-SHA-256$"),
        ("nora", True, False, False, False, True, False, None),
    ]
    assert [u.nombre for u in usuarios.listar(warehouse)] == ["lucia", "mateo", "nora"]


def test_login_con_clave_real(pg_urls, gente, claves_exigidas, como):
    conn = como("lucia")
    assert conn.execute("SELECT current_user, session_user").fetchone() == ("lucia", "lucia")
    if not claves_exigidas:
        pytest.skip("IACT_TEST_PG_URL: this server's pg_hba decides whether passwords are checked")
    with pytest.raises(ConfigError, match="password authentication failed"):
        db.connect(_url(pg_urls, "lucia", "no-es-su-clave"))
    with pytest.raises(ConfigError, match="password authentication failed"):
        db.connect(_url(pg_urls, "mateo", gente["lucia"]))  # someone else's password


def test_cada_uno_ve_y_cambia_solo_lo_suyo(warehouse, como):
    a_lucia, a_mateo, de_mateo, expirado = _correo(warehouse)
    lucia, mateo = como("lucia"), como("mateo")

    # Plain SQL, no CLI: the server decides what each session sees.
    assert lucia.execute("SELECT id FROM internal_messages ORDER BY id").fetchall() == [(a_lucia.id,), (de_mateo.id,)]
    assert mateo.execute("SELECT id FROM internal_messages ORDER BY id").fetchall() == [(a_mateo.id,)]
    assert [m.id for m in buzon.listar(lucia, "lucia")] == [de_mateo.id, a_lucia.id]
    # Naming someone else gets nothing of theirs.
    assert buzon.listar(lucia, "mateo") == []
    with pytest.raises(BuzonError, match="no está en el buzón"):
        buzon.leer(lucia, "mateo", a_mateo.id)

    # Mark read: everything lucia may touch is her two visible messages.
    assert lucia.execute("UPDATE internal_messages SET is_read = true, read_at = now()").rowcount == 2
    assert lucia.execute("DELETE FROM internal_messages WHERE id = %s", (a_mateo.id,)).rowcount == 0
    assert lucia.execute("DELETE FROM internal_messages WHERE id = %s", (expirado.id,)).rowcount == 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        lucia.execute("UPDATE internal_messages SET subject = 'otro', recipient_id = %s", (a_mateo.recipient_id,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        lucia.execute("TRUNCATE internal_messages")

    estado = warehouse.execute("SELECT id, is_read FROM internal_messages ORDER BY id").fetchall()
    assert estado == [(a_lucia.id, True), (a_mateo.id, False), (de_mateo.id, True), (expirado.id, False)]
    assert buzon.contar_no_leidos(mateo, "mateo") == 1


def test_no_puede_enviar_como_otro_ni_como_sistema(warehouse, como):
    lucia = como("lucia")
    ids = dict(warehouse.execute("SELECT nombre, id FROM usuarios").fetchall())
    with pytest.raises(BuzonError, match="no puedes enviar mensajes como 'mateo'"):
        buzon.enviar(lucia, "mateo", "nora", "suplantado", "")
    for sentencia, valores in (
        (
            "INSERT INTO internal_messages (recipient_id, sender_id, subject, body) VALUES (%s, %s, 'x', '')",
            (ids["nora"], ids["mateo"]),
        ),
        (
            "INSERT INTO internal_messages (recipient_id, subject, body, created_by_system) VALUES (%s, 'x', '', true)",
            (ids["nora"],),
        ),
        (
            "INSERT INTO internal_messages (recipient_id, sender_id, subject, body, dedupe_key)"
            " VALUES (%s, %s, 'x', '', 'run-failure:r1')",
            (ids["nora"], ids["lucia"]),
        ),
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            lucia.execute(sentencia, valores)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        buzon.mensaje_sistema(lucia, "nora", "falsa alerta", "", tipo="alert")
    # To an inactive person: refused by the server too, not only by the service.
    usuarios.desactivar(warehouse, "nora")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        lucia.execute(
            "INSERT INTO internal_messages (recipient_id, sender_id, subject, body) VALUES (%s, %s, 'x', '')",
            (ids["nora"], ids["lucia"]),
        )
    assert warehouse.execute("SELECT count(*) FROM internal_messages").fetchone() == (0,)


def test_directorio_sin_columnas_de_mas(como):
    lucia = como("lucia")
    assert lucia.execute("SELECT nombre, activo FROM usuarios ORDER BY nombre").fetchall() == [
        ("lucia", True),
        ("mateo", True),
        ("nora", True),
    ]
    for columna in ("es_admin", "created_at", "updated_at"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            lucia.execute(sql.SQL("SELECT {} FROM usuarios").format(sql.Identifier(columna)))
    for sentencia in (
        "UPDATE usuarios SET es_admin = true",
        "DELETE FROM usuarios",
        "INSERT INTO usuarios (nombre) VALUES ('intruso')",
        "SELECT * FROM reportes_llamadas_dia",
        "SELECT * FROM etl_jobs",
        "SELECT * FROM staging.llamadas",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            lucia.execute(sentencia)


def test_cada_operacion_del_buzon_sin_superusuario(warehouse, como):
    """The whole inbox through the service, as the people themselves."""
    lucia, mateo = como("lucia"), como("mateo")
    for conn in (lucia, mateo):
        assert conn.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchone() == (
            False,
            False,
        )
        assert buzon.es_plataforma(conn) is False
    enviado = buzon.enviar(mateo, "mateo", "lucia", "Hola", "cuerpo\ncon línea", prioridad="high", metadata={"k": 1})
    guardado = warehouse.execute(
        "SELECT id, sender_id, subject, body, priority, metadata, created_at FROM internal_messages"
    ).fetchone()
    assert guardado == (
        enviado.id,
        enviado.sender_id,
        "Hola",
        "cuerpo\ncon línea",
        "high",
        {"k": 1},
        enviado.created_at,
    )
    assert buzon.listar(mateo, "mateo") == []  # the sender does not see what he sent
    assert [m.id for m in buzon.listar(lucia, "lucia", solo_no_leidos=True)] == [enviado.id]
    assert buzon.contar_no_leidos(lucia, "lucia") == 1
    assert buzon.obtener(lucia, "lucia", enviado.id).is_read is False
    leido = buzon.leer(lucia, "lucia", enviado.id)
    assert leido.is_read and leido.remitente == "mateo" and leido.metadata == {"k": 1}
    assert buzon.contar_no_leidos(lucia, "lucia") == 0
    with pytest.raises(BuzonError, match="no está en el buzón"):
        buzon.eliminar(mateo, "mateo", enviado.id)
    buzon.eliminar(lucia, "lucia", enviado.id)
    assert warehouse.execute("SELECT count(*) FROM internal_messages").fetchone() == (0,)
    # Purging is the platform's job: as a person it removes nothing (expired rows are invisible).
    buzon.enviar(mateo, "mateo", "lucia", "vence", "")
    warehouse.execute("UPDATE internal_messages SET expires_at = now() - interval '40 days'")
    assert buzon.purgar_expirados(lucia) == 0
    assert buzon.purgar_expirados(warehouse) == 1


def test_cli_actua_como_la_persona_conectada(pg_urls, warehouse, gente, monkeypatch, capsys):
    _correo(warehouse)
    monkeypatch.setenv("IACT_WAREHOUSE_URL", _url(pg_urls, "lucia", gente["lucia"]))
    assert main(["buzon", "contar", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"usuario": "lucia", "no_leidos": 2}
    assert main(["buzon", "listar", "--json"]) == 0
    assert [m["subject"] for m in json.loads(capsys.readouterr().out)] == ["Turno", "Run fallido"]
    assert main(["buzon", "enviar", "--para", "mateo", "--asunto", "Hecho", "--cuerpo", "ok"]) == 0
    assert capsys.readouterr().out.startswith("enviado mensaje ")
    # --usuario is for the platform's role: a person naming someone else gets one line.
    assert main(["buzon", "listar", "--usuario", "mateo"]) == 2
    assert capsys.readouterr().err == (
        "iact: error: --usuario es solo para el rol de la plataforma: conectado como 'lucia', solo ves tu propio buzón\n"
    )
    assert main(["buzon", "listar", "--usuario", "LUCIA", "--json"]) == 0  # herself, in any case
    assert len(json.loads(capsys.readouterr().out)) == 2
    # Administration is not a person's business.
    assert main(["usuarios", "listar"]) == 2
    assert capsys.readouterr().err == (
        "iact: error: el rol 'lucia' no administra usuarios: `iact usuarios` es para el rol de la plataforma\n"
    )
    assert main(["usuarios", "desactivar", "mateo"]) == 2
    capsys.readouterr()
    assert warehouse.execute("SELECT activo FROM usuarios WHERE nombre = 'mateo'").fetchone() == (True,)

    monkeypatch.setenv("IACT_WAREHOUSE_URL", db.libpq_url(pg_urls.warehouse))  # the platform's role
    assert main(["buzon", "listar"]) == 2
    assert "indica de quién es el buzón con --usuario NOMBRE" in capsys.readouterr().err
    assert main(["buzon", "contar", "--usuario", "mateo"]) == 0
    assert capsys.readouterr().out == "2 mensaje(s) sin leer\n"


def test_cli_un_rol_sin_buzon_recibe_una_linea(pg_urls, warehouse, monkeypatch, capsys):
    nombre = f"iact_prueba_{secrets.token_hex(4)}"
    warehouse.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE iact_analista").format(sql.Identifier(nombre)))
    try:
        monkeypatch.setenv("IACT_WAREHOUSE_URL", _url(pg_urls, nombre, None))
        assert main(["buzon", "listar"]) == 2
        assert capsys.readouterr().err == (
            f"iact: error: el rol '{nombre}' no tiene buzón (no es miembro de iact_buzon): un operador lo da con "
            f"`iact usuarios crear {nombre}`\n"
        )
    finally:
        warehouse.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(nombre)))


def test_el_analista_sigue_leyendo_reportes_y_vistas_y_no_el_buzon(pg_urls, warehouse, gente):
    _correo(warehouse)
    warehouse.execute("INSERT INTO reportes_trimestral (trimestre, anio, total_llamadas) VALUES ('Q1', 2025, 7)")
    nombre = f"iact_prueba_{secrets.token_hex(4)}"
    warehouse.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE iact_analista").format(sql.Identifier(nombre)))
    try:
        with db.connect(_url(pg_urls, nombre, None), autocommit=True) as analista:
            assert analista.execute("SELECT total_llamadas FROM reportes_trimestral").fetchall() == [(7,)]
            assert analista.execute(
                "SELECT usuario, no_leidos FROM vista_buzon_no_leidos ORDER BY usuario"
            ).fetchall() == [("lucia", 2), ("mateo", 1), ("nora", 0)]
            for sentencia in (
                "SELECT * FROM internal_messages",
                "SELECT nombre FROM usuarios",
                "DELETE FROM internal_messages",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    analista.execute(sentencia)
    finally:
        warehouse.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(nombre)))


def test_desactivar_quita_el_login_y_el_ultimo_admin_pide_forzar(pg_urls, warehouse, gente, capsys):
    usuarios.desactivar(warehouse, "mateo")
    assert warehouse.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'mateo'").fetchone() == (False,)
    with pytest.raises(ConfigError, match="not permitted to log in"):
        db.connect(_url(pg_urls, "mateo", gente["mateo"]))
    usuarios.activar(warehouse, "mateo")
    with db.connect(_url(pg_urls, "mateo", gente["mateo"])) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("mateo",)

    # lucia is the only active admin.
    with pytest.raises(usuarios.UsuarioError, match="último admin activo"):
        usuarios.desactivar(warehouse, "lucia")
    assert main(["usuarios", "desactivar", "lucia"]) == 2
    assert capsys.readouterr().err == (
        "iact: error: 'lucia' es el último admin activo: sin admins las alertas de fallos no se entregan; "
        "crea o activa otro admin antes, o repite con --forzar\n"
    )
    assert warehouse.execute("SELECT activo FROM usuarios WHERE nombre = 'lucia'").fetchone() == (True,)
    assert main(["usuarios", "desactivar", "lucia", "--forzar"]) == 0
    assert capsys.readouterr().out.startswith("desactivado lucia")
    assert warehouse.execute(
        "SELECT u.activo, r.rolcanlogin FROM usuarios u JOIN pg_roles r ON r.rolname = u.nombre WHERE u.nombre = 'lucia'"
    ).fetchone() == (False, False)
    # With another active admin the guard does not get in the way.
    usuarios.activar(warehouse, "lucia")
    usuarios.crear(warehouse, "nora2", es_admin=True)
    try:
        assert usuarios.desactivar(warehouse, "lucia").activo is False
    finally:
        warehouse.execute("DROP ROLE IF EXISTS nora2")


def test_nombres_sin_distinguir_mayusculas(warehouse, gente, capsys):
    with pytest.raises(usuarios.UsuarioError, match="ya existe"):
        usuarios.crear(warehouse, "LUCIA")
    assert main(["usuarios", "crear", "Mateo"]) == 2
    assert capsys.readouterr().err == "iact: error: el usuario 'Mateo' ya existe\n"
    assert usuarios.obtener(warehouse, "MATEO").nombre == "mateo"
    for reservado in ("postgres", "iact_buzon", "IACT_ANALISTA", "pg_monitor"):
        with pytest.raises(usuarios.UsuarioError, match="reservado"):
            usuarios.crear(warehouse, reservado)
    assert warehouse.execute("SELECT count(*) FROM usuarios").fetchone() == (3,)
    # The database refuses a case-twin even when the service is bypassed.
    with pytest.raises(psycopg.errors.UniqueViolation):
        warehouse.execute("INSERT INTO usuarios (nombre) VALUES ('Nora')")


def test_clave_por_stdin_sin_eco(pg_urls, warehouse, gente, claves_exigidas, monkeypatch, capsys):
    nueva = "Clave con espacios y ñ " + secrets.token_urlsafe(8)
    monkeypatch.setattr("sys.stdin", io.StringIO(nueva + "\n"))
    assert main(["usuarios", "clave", "nora", "--clave-stdin"]) == 0
    salida = capsys.readouterr()
    assert salida.out == "contraseña fijada para nora (rol nora)\n" and nueva not in salida.out + salida.err
    with db.connect(_url(pg_urls, "nora", nueva)) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("nora",)
    if claves_exigidas:
        with pytest.raises(ConfigError, match="no password supplied"):
            db.connect(_url(pg_urls, "nora", None))

    otra = secrets.token_urlsafe(12)
    monkeypatch.setattr("sys.stdin", io.StringIO(otra + "\n"))
    try:
        assert main(["usuarios", "crear", "olga", "--clave-stdin", "--json"]) == 0
        salida = capsys.readouterr()
        assert json.loads(salida.out)["nombre"] == "olga" and otra not in salida.out + salida.err
        with db.connect(_url(pg_urls, "olga", otra)) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("olga",)
        monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
        assert main(["usuarios", "clave", "olga", "--clave-stdin"]) == 2
        assert (
            capsys.readouterr().err
            == "iact: error: --clave-stdin: la entrada estándar no trae contraseña (la primera línea está vacía)\n"
        )
    finally:
        warehouse.execute("DROP ROLE IF EXISTS olga")
