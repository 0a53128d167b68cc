"""Loaded staging partitions carry planner statistics before any report reads them (issue 15):
a report's first run on new data is planned on real row counts, not on an empty table's."""

from iact_pipelines.staging import assets as staging
from iact_pipelines_tests.staging.test_assets import insertar, llamada, materializar

_PARTICION = "llamadas_20240310"


def test_a_loaded_day_partition_and_its_parent_have_fresh_statistics(ivr_writer, warehouse, instance):
    n = 300
    insertar(ivr_writer, "llamadas", [llamada(i, cliente=f"C{i % 7}") for i in range(1, n + 1)])

    assert materializar(instance, staging.llamadas).success

    # pg_class: the planner's row count is the loaded count (an unanalyzed partition says -1)
    assert warehouse.execute(
        "SELECT reltuples FROM pg_class WHERE oid = 'staging.llamadas_20240310'::regclass"
    ).fetchone() == (n,)
    (analizada,) = warehouse.execute(
        "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE schemaname = 'staging' AND relname = %s",
        (_PARTICION,),
    ).fetchone()
    assert analizada
    # pg_stats: per-column statistics of the partition, and the parent's over all partitions
    assert warehouse.execute(
        "SELECT n_distinct FROM pg_stats WHERE schemaname = 'staging' AND tablename = %s AND attname = 'cliente_id'",
        (_PARTICION,),
    ).fetchone() == (7,)
    if warehouse.info.server_version >= 180000:  # ANALYZE ONLY of the parent needs PostgreSQL 18
        assert warehouse.execute(
            "SELECT n_distinct FROM pg_stats WHERE schemaname = 'staging' AND tablename = 'llamadas'"
            " AND attname = 'cliente_id' AND inherited",
        ).fetchone() == (7,)


def test_a_reload_refreshes_the_statistics(ivr_writer, warehouse, instance):
    insertar(ivr_writer, "llamadas", [llamada(i) for i in range(1, 11)])
    assert materializar(instance, staging.llamadas).success
    insertar(ivr_writer, "llamadas", [llamada(i) for i in range(11, 51)])

    assert materializar(instance, staging.llamadas).success

    assert warehouse.execute(
        "SELECT reltuples FROM pg_class WHERE oid = 'staging.llamadas_20240310'::regclass"
    ).fetchone() == (50,)
