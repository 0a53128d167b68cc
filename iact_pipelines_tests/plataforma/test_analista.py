import secrets
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from iact_pipelines.plataforma import db, migrations

ROL = "iact_analista"
REPORTES = (
    "reportes_llamadas_dia",
    "reportes_menu_problemas",
    "reportes_transferencias",
    "reportes_clientes_unicos",
    "reportes_trimestral",
)
PRIVADAS = (
    "internal_messages",
    "usuarios",
    "etl_jobs",
    "etl_validation_errors",
    "staging.llamadas",
    "schema_migrations",
)


def _vistas(conn):
    return [
        v
        for (v,) in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm') ORDER BY 1"
        )
    ]


def test_el_rol_existe_sin_login(warehouse):
    assert warehouse.execute(
        "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s", (ROL,)
    ).fetchone() == (False, False, False, False)


def test_la_migracion_es_idempotente(warehouse):
    texto = (migrations.MIGRATIONS_DIR / "040_buzon_analista.sql").read_text()
    # Rolled back: re-applying the grants here would hide a view the migrations left ungranted.
    with warehouse.transaction(force_rollback=True):
        warehouse.execute(texto)
        warehouse.execute(texto)
        assert warehouse.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (ROL,)).fetchone() == (1,)


def test_privilegios_en_el_catalogo(warehouse):
    for tabla in REPORTES:
        for privilegio, esperado in (
            ("SELECT", True),
            ("INSERT", False),
            ("UPDATE", False),
            ("DELETE", False),
            ("TRUNCATE", False),
            ("REFERENCES", False),
            ("TRIGGER", False),
        ):
            assert warehouse.execute("SELECT has_table_privilege(%s, %s, %s)", (ROL, tabla, privilegio)).fetchone() == (
                esperado,
            ), (tabla, privilegio)
    for tabla in PRIVADAS:
        assert warehouse.execute("SELECT has_table_privilege(%s, %s, 'SELECT')", (ROL, tabla)).fetchone() == (False,)
    # No table anywhere can be written by the role.
    escribibles = warehouse.execute(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname IN ('public', 'staging')"
        " AND (has_table_privilege(%(rol)s, c.oid, 'INSERT') OR has_table_privilege(%(rol)s, c.oid, 'UPDATE')"
        "      OR has_table_privilege(%(rol)s, c.oid, 'DELETE') OR has_table_privilege(%(rol)s, c.oid, 'TRUNCATE'))",
        {"rol": ROL},
    ).fetchall()
    assert escribibles == []
    for esquema in ("public", "staging"):
        assert warehouse.execute("SELECT has_schema_privilege(%s, %s, 'CREATE')", (ROL, esquema)).fetchone() == (False,)
    assert warehouse.execute("SELECT has_database_privilege(%s, current_database(), 'CREATE')", (ROL,)).fetchone() == (
        False,
    )


def test_como_analista_lee_reportes_y_vistas_y_no_escribe_nada(warehouse):
    warehouse.execute("INSERT INTO reportes_trimestral (trimestre, anio, total_llamadas) VALUES ('Q1', 2024, 123)")
    vistas = _vistas(warehouse)
    with warehouse.transaction(force_rollback=True):
        warehouse.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(ROL)))
        assert warehouse.execute("SELECT current_user").fetchone() == (ROL,)
        assert warehouse.execute("SELECT anio, trimestre, total_llamadas FROM reportes_trimestral").fetchall() == [
            (2024, "Q1", 123)
        ]
        for tabla in REPORTES:
            warehouse.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(tabla)))
        # Every analyst view answers (views built on functions need the tables those read too).
        for vista in vistas:
            warehouse.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(vista)))

        prohibidas = [
            "INSERT INTO reportes_trimestral (trimestre, anio) VALUES ('Q2', 2024)",
            "UPDATE reportes_trimestral SET total_llamadas = 0",
            "DELETE FROM reportes_trimestral",
            "TRUNCATE reportes_llamadas_dia",
            "SELECT * FROM internal_messages",
            "SELECT * FROM usuarios",
            "SELECT * FROM etl_jobs",
            "SELECT * FROM staging.llamadas",
            "CREATE TABLE public.mia (x int)",
            "CREATE TABLE staging.mia (x int)",
            "CREATE VIEW public.mia AS SELECT 1",
            "CREATE SCHEMA mio",
            "CREATE INDEX ON reportes_trimestral (anio)",
            "ALTER TABLE reportes_trimestral ADD COLUMN x int",
            "DROP TABLE reportes_trimestral",
            "SELECT conceder_lectura_analistas()",
        ]
        permitidas = []
        for sentencia in prohibidas:
            try:
                with warehouse.transaction():  # a savepoint: the outer transaction goes on
                    warehouse.execute(sentencia)
                permitidas.append(sentencia)
            except psycopg.errors.InsufficientPrivilege:
                pass
        assert permitidas == []
        # Passing its read access on is a no-op (PostgreSQL only warns): the ACL stays the same.
        acl = "SELECT relacl::text FROM pg_class WHERE oid = 'reportes_trimestral'::regclass"
        antes = warehouse.execute(acl).fetchone()
        warehouse.execute("GRANT SELECT ON reportes_trimestral TO PUBLIC")
        assert warehouse.execute(acl).fetchone() == antes
    assert warehouse.execute("SELECT count(*) FROM reportes_trimestral").fetchone() == (1,)


def test_un_analista_con_login_propio_se_conecta_y_solo_lee(warehouse, pg_urls):
    nombre = f"iact_prueba_{secrets.token_hex(4)}"
    clave = secrets.token_urlsafe(16)
    # What docs/ANALISTAS.md tells a DBA to run.
    warehouse.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
            sql.Identifier(nombre), sql.Literal(clave), sql.Identifier(ROL)
        )
    )
    try:
        partes = urlsplit(db.libpq_url(pg_urls.warehouse))
        host = partes.netloc.rsplit("@", 1)[-1]
        url = urlunsplit(partes._replace(netloc=f"{nombre}:{quote(clave)}@{host}"))
        with db.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (nombre,)
            assert conn.execute("SELECT count(*) FROM reportes_llamadas_dia").fetchone() == (0,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("INSERT INTO reportes_llamadas_dia (fecha, hora) VALUES ('2024-01-01', 0)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE mia (x int)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM internal_messages")
    finally:
        warehouse.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(nombre)))


def test_vista_buzon_no_leidos_cuenta_sin_mostrar_contenidos(warehouse):
    from iact_pipelines.buzon import mensajes as buzon
    from iact_pipelines.buzon import usuarios

    usuarios.crear(warehouse, "ana", es_admin=True)
    usuarios.crear(warehouse, "beto")
    buzon.mensaje_sistema(warehouse, "ana", "Run fallido", "", tipo="alert", prioridad="critical")
    buzon.mensaje_sistema(warehouse, "ana", "Run fallido 2", "", tipo="alert", prioridad="high")
    leido = buzon.enviar(warehouse, "beto", "ana", "leído", "", prioridad="critical")
    buzon.leer(warehouse, "ana", leido.id)
    expirado = buzon.enviar(warehouse, "beto", "ana", "expirado", "", prioridad="critical")
    warehouse.execute(
        "UPDATE internal_messages SET expires_at = now() - interval '1 hour' WHERE id = %s", (expirado.id,)
    )
    with warehouse.transaction(force_rollback=True):
        warehouse.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(ROL)))
        filas = warehouse.execute(
            "SELECT usuario, es_admin, no_leidos, criticos, prioridad_alta, alertas, del_sistema"
            " FROM vista_buzon_no_leidos ORDER BY usuario"
        ).fetchall()
        columnas = [c.name for c in warehouse.execute("SELECT * FROM vista_buzon_no_leidos LIMIT 0").description]
    assert filas == [("ana", True, 2, 1, 1, 2, 2), ("beto", False, 0, 0, 0, 0, 0)]
    assert not {"subject", "body", "asunto", "cuerpo"} & set(columnas)
