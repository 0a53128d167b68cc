"""Dagster's pooled storage: a kept connection the server dropped is replaced on its next use
after sitting idle, and a schema check answered yes is not asked again in the process."""

import time

import psycopg

from iact_pipelines.plataforma import almacen_dagster, db


def _terminar_conexiones(dagster_url: str) -> int:
    """End every other session of the Dagster database, as a server restart would."""
    with psycopg.connect(db.libpq_url(dagster_url), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()) t"
        ).fetchone()[0]


def test_idle_connection_dropped_by_the_server_is_replaced(instance, pg_urls):
    assert instance.get_runs(limit=1) == []  # the pool now keeps a connection open
    assert _terminar_conexiones(pg_urls.dagster) >= 1
    time.sleep(almacen_dagster._PING_TRAS_S + 0.2)
    # the dead connection is found on checkout and replaced: the query itself does not fail
    assert instance.get_runs(limit=1) == []
    assert instance.get_runs(limit=1) == []


def test_schema_yes_is_remembered(instance):
    eventos = instance._event_storage
    consultas = []
    motor = eventos._engine

    from sqlalchemy import event

    def contar(conn, cursor, sentencia, *args):
        if "pg_catalog" in sentencia:
            consultas.append(sentencia)

    event.listen(motor, "before_cursor_execute", contar)
    try:
        assert eventos.has_table("asset_check_executions")
        assert eventos.has_asset_key_index_cols()
        primeras = len(consultas)  # (the instance's own start may have asked already)
        for _ in range(5):
            assert eventos.has_table("asset_check_executions")
            assert eventos.has_asset_key_index_cols()
            assert eventos.supports_asset_checks
        assert len(consultas) == primeras
        assert not eventos.has_table("no_existe_esta_tabla")
        assert not eventos.has_table("no_existe_esta_tabla")
        assert len(consultas) == primeras + 2  # a no is asked each time
    finally:
        event.remove(motor, "before_cursor_execute", contar)
