import subprocess
import sys

import psycopg
import pytest

from iact_pipelines.plataforma import db, migrations


def test_migrations_twice_change_nothing(pg_urls):
    with db.connect(pg_urls.warehouse) as conn:
        before = conn.execute("SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version").fetchall()
        tables_before = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2"
        ).fetchall()
    assert migrations.migrate(pg_urls.warehouse) == []
    with db.connect(pg_urls.warehouse) as conn:
        after = conn.execute("SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version").fetchall()
        tables_after = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2"
        ).fetchall()
    assert before == after
    assert [v for v, *_ in before] == [p.name for p in migrations.migration_files()]
    assert tables_before == tables_after
    names = {t for _, t in tables_after}
    for table in (
        "reportes_trimestral",
        "reportes_transferencias",
        "reportes_menu_problemas",
        "reportes_llamadas_dia",
        "reportes_clientes_unicos",
        "internal_messages",
        "etl_jobs",
        "etl_validation_errors",
        "usuarios",
    ):
        assert table in names


def test_ivr_connection_refuses_writes(urls):
    with db.connect(urls.ivr, read_only=True) as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO ivr.llamadas (llamada_id) VALUES (1)")


def test_check_constraints_make_impossible_values_impossible(warehouse):
    with pytest.raises(psycopg.errors.CheckViolation):
        warehouse.execute("INSERT INTO reportes_llamadas_dia (fecha, hora) VALUES ('2024-01-01', 24)")
    with pytest.raises(psycopg.errors.CheckViolation):
        warehouse.execute("INSERT INTO reportes_trimestral (trimestre, anio, tasa_abandono) VALUES ('Q1', 2024, 101)")
    with pytest.raises(psycopg.errors.CheckViolation):
        warehouse.execute(
            "INSERT INTO reportes_transferencias (fecha, centro_origen, centro_destino, total_transferencias)"
            " VALUES ('2024-01-01', 'a', 'b', -1)"
        )


def test_bad_url_is_one_clear_line():
    # Nothing listens there: transient (a server restarting looks the same), not a ConfigError.
    with pytest.raises(db.ServidorNoDisponible) as err:
        db.connect("postgresql://user:s3cret@127.0.0.1:1/nada")
    message = str(err.value)
    assert "\n" not in message and "no se puede conectar" in message
    assert "s3cret" not in message and "***" in message


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"IACT_WAREHOUSE_URL": "mysql://x@y/z"}, "no es una URL postgresql://"),
        (
            {
                "IACT_WAREHOUSE_URL": "postgresql://u:pw@127.0.0.1:1/z",
                "IACT_IVR_URL": "postgresql://u:pw@127.0.0.1:1/z",
                "DAGSTER_PG_URL": "postgresql://u:pw@127.0.0.1:1/z",
            },
            "no se puede conectar",
        ),
        ({"IACT_CENTROS": "19028031,ABC"}, "código de centro desconocido 'ABC'"),
        ({"IACT_ZONA_HORARIA": "Mars/Olympus"}, "zona horaria desconocida"),
    ],
)
def test_cli_configuration_mistakes_stop_with_one_line(env, expected, tmp_path):
    import os

    full_env = {**os.environ, "IACT_HOME": str(tmp_path), **env}
    for name in ("IACT_IVR_URL", "IACT_WAREHOUSE_URL", "DAGSTER_PG_URL"):
        if name not in env:
            full_env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "-m", "iact_pipelines.cli", "db", "migrate"],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0]
    assert "pw@" not in lines[0]


def test_a_database_migrated_before_its_comments_were_reworded_migrates_on(pg_urls):
    """A file whose comments were reworded after it was applied (recorded with the whole old
    file's checksum) is accepted, its record moved to the SQL-only checksum; a change of its
    SQL still stops migrate (test_una_linea)."""
    version = "050_completitud.sql"
    texto = (migrations.MIGRATIONS_DIR / version).read_text()
    with db.connect(pg_urls.warehouse, autocommit=True) as conn:
        antigua = migrations._ANTES_DE_SUS_COMENTARIOS[version]
        conn.execute("UPDATE schema_migrations SET checksum = %s WHERE version = %s", (antigua, version))
        assert migrations.migrate(pg_urls.warehouse) == []
        (registrada,) = conn.execute("SELECT checksum FROM schema_migrations WHERE version = %s", (version,)).fetchone()
    assert registrada == migrations.huella(texto) != antigua
    assert migrations.huella(texto) == migrations.huella(texto.replace("-- Trust", "-- Confianza"))
