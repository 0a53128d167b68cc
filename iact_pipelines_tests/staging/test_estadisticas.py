"""Loaded staging partitions carry planner statistics before any report reads them:
a report's first run on new data is planned on real row counts, not on an empty table's."""

from iact_pipelines.staging import assets as staging
from iact_pipelines_tests.staging.ayudas import insertar, llamada, materializar

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


def test_the_parent_is_sampled_again_only_when_its_partitions_moved_more_than_a_tenth(ivr_writer, warehouse, instance):
    if warehouse.info.server_version < 180000:
        return  # no ANALYZE ONLY of the parent before PostgreSQL 18: nothing to count

    def muestreos() -> int:
        warehouse.execute("SELECT pg_stat_clear_snapshot()")
        fila = warehouse.execute(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE schemaname = 'staging' AND relname = 'llamadas'"
        ).fetchone()
        return fila[0] if fila else 0

    insertar(ivr_writer, "llamadas", [llamada(i) for i in range(1, 101)])
    assert materializar(instance, staging.llamadas).success
    primero = muestreos()
    assert primero >= 1
    # the same day again, and 5 more rows: the parent's statistics still count it within 10%
    assert materializar(instance, staging.llamadas).success
    insertar(ivr_writer, "llamadas", [llamada(i) for i in range(101, 106)])
    assert materializar(instance, staging.llamadas).success
    assert muestreos() == primero
    # 20% more rows: sampled again, and its row count follows
    insertar(ivr_writer, "llamadas", [llamada(i) for i in range(106, 127)])
    assert materializar(instance, staging.llamadas).success
    assert muestreos() == primero + 1
    assert warehouse.execute("SELECT reltuples FROM pg_class WHERE oid = 'staging.llamadas'::regclass").fetchone() == (
        126,
    )
