"""Warehouse sessions: timeouts on every session, a lock wait that names the run
holding the lock, and connection failures classified by what they are."""

import time
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import psycopg
import pytest

from iact_pipelines.plataforma import db
from iact_pipelines.plataforma.config import ConfigError
from iact_pipelines.plataforma.resources import WarehouseResource, build_resources
from iact_pipelines.reportes import assets as reportes


def _otra_base(url: str, nombre: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{nombre}"))


def test_every_session_has_timeouts_from_the_environment(urls, monkeypatch):
    with db.connect(urls.warehouse) as conn:
        valores = [
            conn.execute(f"SHOW {g}").fetchone()[0]
            for g in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "work_mem")
        ]
    assert valores == ["30min", "10min", "10min", "64MB"]  # the documented defaults
    monkeypatch.setenv("IACT_PG_LOCK_TIMEOUT_S", "3")
    monkeypatch.setenv("IACT_PG_WORK_MEM_MB", "256")
    monkeypatch.setenv("IACT_PG_STATEMENT_TIMEOUT_S", "0")  # 0 disables
    with db.connect(urls.warehouse) as conn:
        assert conn.execute("SHOW lock_timeout").fetchone() == ("3s",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)
        assert conn.execute("SHOW work_mem").fetchone() == ("256MB",)
    adbc = db.connect_adbc(urls.ivr, read_only=True)
    with adbc, adbc.cursor() as cur:
        cur.execute("SELECT current_setting('lock_timeout')")
        assert cur.fetchone() == ("3s",)


def test_a_work_mem_out_of_bounds_is_one_readable_line(urls, monkeypatch):
    monkeypatch.setenv("IACT_PG_WORK_MEM_MB", "1")
    with pytest.raises(ConfigError, match="IACT_PG_WORK_MEM_MB"):
        db.connect(urls.warehouse)


def test_an_idle_open_transaction_is_ended_by_the_server(urls, monkeypatch):
    monkeypatch.setenv("IACT_PG_IDLE_TX_TIMEOUT_S", "1")
    with db.connect(urls.warehouse) as conn:
        conn.execute("SELECT 1")  # opens the transaction, then stays idle in it
        time.sleep(2.5)
        with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
            conn.execute("SELECT 1")


def test_a_held_partition_lock_fails_the_waiting_run_naming_the_holder(urls, instance, monkeypatch):
    monkeypatch.setenv("IACT_PG_LOCK_TIMEOUT_S", "2")
    clave = db.advisory_key("reportes_llamadas_dia", "2024-05-07")
    # Another run's session (as WarehouseResource names them) holds the day's lock.
    with db.connect(urls.warehouse, application_name=f"{db.PREFIJO_RUN}run-que-bloquea") as titular:
        titular.execute("SELECT pg_advisory_xact_lock(%s)", (clave,))
        inicio = time.monotonic()
        result = dg.materialize(
            [reportes.llamadas_dia],
            partition_key="2024-05-07",
            instance=instance,
            resources=build_resources(),
            raise_on_error=False,
        )
        segundos = time.monotonic() - inicio
        pid = titular.info.backend_pid
    assert not result.success
    assert segundos < 30  # bounded: the lock_timeout, not forever
    (fallo,) = result.get_step_failure_events()
    datos = fallo.step_failure_data
    assert datos.user_failure_data.description == (
        f"reportes_llamadas_dia 2024-05-07 está bloqueada por run run-que-bloquea (pid {pid}): se esperó 2s "
        "(IACT_PG_LOCK_TIMEOUT_S); no se cambió nada, vuelva a correrlo cuando aquel termine"
    )
    assert len(instance.get_runs()) == 1  # not retried


def test_a_run_s_sessions_carry_its_run_id(urls, instance):
    @dg.asset
    def quien_soy(warehouse: WarehouseResource) -> str:
        """Reads its own session's application_name."""
        with warehouse.connect() as conn:
            return conn.execute("SELECT current_setting('application_name')").fetchone()[0]

    result = dg.materialize([quien_soy], instance=instance, resources=build_resources())
    assert result.output_for_node("quien_soy") == f"iact run {result.run_id}"


def test_missing_database_is_a_configuration_error_at_once(urls):
    inicio = time.monotonic()
    with pytest.raises(ConfigError) as err:
        db.connect(_otra_base(urls.warehouse, "no_existe"))
    assert time.monotonic() - inicio < 1.0  # not retried
    assert 'database "no_existe" does not exist' in str(err.value) and "no se reintenta" in str(err.value)


@pytest.fixture
def sin_permisos(urls):
    """A login role with no grant on the warehouse tables."""
    with db.connect(urls.warehouse, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS iact_sin_permisos")
        conn.execute("CREATE ROLE iact_sin_permisos LOGIN")
    partes = urlsplit(urls.warehouse)
    netloc = "iact_sin_permisos@" + partes.netloc.rpartition("@")[2]
    yield urlunsplit(partes._replace(netloc=netloc))
    with db.connect(urls.warehouse, autocommit=True) as conn:
        conn.execute("DROP OWNED BY iact_sin_permisos")
        conn.execute("DROP ROLE iact_sin_permisos")


def test_permission_denied_fails_the_step_once_as_a_permission_error(urls, instance, sin_permisos, monkeypatch):
    monkeypatch.setenv("IACT_WAREHOUSE_URL", sin_permisos)
    result = dg.materialize(
        [reportes.llamadas_dia],
        partition_key="2024-05-07",
        instance=instance,
        resources=build_resources(),
        raise_on_error=False,
    )
    assert not result.success
    (fallo,) = result.get_step_failure_events()
    descripcion = fallo.step_failure_data.user_failure_data.description
    assert descripcion.startswith("error de configuración o de permisos (no se reintenta): permission denied for table")
    assert [e.event_type for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY] == []


def test_a_lost_copy_raises_its_error_without_psycopg_s_terminating_warning(urls, caplog):
    with db.connect(urls.warehouse) as conn, db.connect(urls.warehouse, autocommit=True) as verdugo:
        conn.execute("CREATE TEMP TABLE t (x int)")
        with pytest.raises(psycopg.OperationalError), caplog.at_level("WARNING"):
            with conn.cursor().copy("COPY t (x) FROM STDIN") as copy:
                copy.write_row((1,))
                verdugo.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
                time.sleep(0.2)
                for i in range(100_000):
                    copy.write_row((i,))
    assert not [r for r in caplog.records if "error ignored terminating" in r.getMessage()]
