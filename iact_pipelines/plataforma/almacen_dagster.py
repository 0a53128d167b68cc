"""Dagster's PostgreSQL instance storage, keeping one connection per storage open in a process.

`dagster-postgres` opens and closes a connection for every event it writes and every query it
makes (SQLAlchemy's NullPool), except in the webserver: a 20,000-call day's run made about 400
connections to the Dagster database, a third of its instance time. This storage is the same one
with the pool the webserver gets (one open connection per storage, more only while in use at
once, closed when given back), in every process that opens the instance: `iact materializar`,
the daemon, the run workers and their steps. `dagster.yaml` names it (`storage: custom`).

Two more per-statement costs of the stock storage are paid once here instead:
- the liveness check of a kept connection (`SELECT 1`) runs when it comes back to use after
  sitting idle, not on every one of the ~500 checkouts a 20,000-call day's run makes within
  milliseconds of each other;
- the schema checks Dagster repeats per event (does `asset_keys` have column X, does table Y
  exist: ~90 catalog queries per run) remember a positive answer for the process: Dagster's
  migrations only add tables and columns, so a yes cannot turn into a no.
"""

from __future__ import annotations

import time

from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.config import pg_config
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config
from sqlalchemy import event, exc

# Beyond the one kept open, connections a process's threads take at once, closed on return.
_DESBORDE = 10
# Seconds after which an idle kept connection is replaced (a server restart, a proxy's cut).
_RECICLAJE_S = 600
# A kept connection idle this long is checked (`SELECT 1`) before it is handed out again; one
# handed back less than this ago is used as is: a dropped one fails the next statement only if
# the server went away within this time, as it could between a check and its statement anyway.
_PING_TRAS_S = 2.0


def _ping_si_estuvo_quieta(engine) -> None:
    """Check a pooled connection on checkout only after it sat idle `_PING_TRAS_S` seconds; a dead
    one is replaced by the pool (DisconnectionError), as `pool_pre_ping` does on every checkout."""

    @event.listens_for(engine, "connect")
    def _nueva(dbapi_connection, registro) -> None:
        registro.info["devuelta"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _devuelta(dbapi_connection, registro) -> None:
        if registro is not None:
            registro.info["devuelta"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _prestada(dbapi_connection, registro, proxy) -> None:
        if time.monotonic() - registro.info.get("devuelta", 0.0) < _PING_TRAS_S:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as error:  # noqa: BLE001 - any failure means the connection is unusable
            raise exc.DisconnectionError() from error


class _ConPool:
    """What `optimize_for_webserver` does, without its statement_timeout (a run's writes keep the
    server's own limit, as unpooled); the pool is closed with the instance."""

    def _agrupar(self, postgres_url: str, token_provider) -> None:
        self._engine = create_pg_engine(
            postgres_url,
            token_provider,
            isolation_level="AUTOCOMMIT",
            pool_size=1,
            max_overflow=_DESBORDE,
            pool_recycle=_RECICLAJE_S,
        )
        # a kept connection the server dropped is replaced, not failed on
        _ping_si_estuvo_quieta(self._engine)

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()


class _SiUnaVezSi:
    """Remembers a schema check's yes for the process (a no is asked again: `dagster instance
    migrate` may add the table or column meanwhile)."""

    def _recordar(self, clave: tuple, preguntar) -> bool:
        presentes = self.__dict__.setdefault("_esquema_presente", set())
        if clave in presentes:
            return True
        if preguntar():
            presentes.add(clave)
            return True
        return False


class _Runs(_SiUnaVezSi, _ConPool, PostgresRunStorage):
    def has_run_stats_index_cols(self) -> bool:
        return self._recordar(("run_stats_index_cols",), super().has_run_stats_index_cols)

    def has_bulk_actions_selector_cols(self) -> bool:
        return self._recordar(("bulk_actions_selector_cols",), super().has_bulk_actions_selector_cols)

    def has_backfill_id_column(self) -> bool:
        return self._recordar(("backfill_id_column",), super().has_backfill_id_column)

    def has_bulk_action_job_name_column(self) -> bool:
        return self._recordar(("bulk_action_job_name_column",), super().has_bulk_action_job_name_column)

    def has_backfill_tags_table(self) -> bool:
        return self._recordar(("backfill_tags_table",), super().has_backfill_tags_table)


class _Eventos(_SiUnaVezSi, _ConPool, PostgresEventLogStorage):
    def has_table(self, table_name: str) -> bool:
        return self._recordar(("table", table_name), lambda: super(_Eventos, self).has_table(table_name))

    def has_asset_key_col(self, column_name: str) -> bool:
        # a remembered yes takes no connection from the pool
        return self._recordar(("asset_keys", column_name), lambda: super(_Eventos, self).has_asset_key_col(column_name))

    def _has_asset_key_col_on_connection(self, conn, column_name: str) -> bool:
        return self._recordar(
            ("asset_keys", column_name),
            lambda: super(_Eventos, self)._has_asset_key_col_on_connection(conn, column_name),
        )


class _Horarios(_ConPool, PostgresScheduleStorage):
    pass


class AlmacenDagster(DagsterPostgresStorage):
    """`DagsterPostgresStorage` with pooled connections; the same configuration (`postgres_url`)."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data=None, token_provider=None):
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        self._run_storage = _Runs(postgres_url, should_autocreate_tables, token_provider=token_provider)
        self._event_log_storage = _Eventos(postgres_url, should_autocreate_tables, token_provider=token_provider)
        self._schedule_storage = _Horarios(postgres_url, should_autocreate_tables, token_provider=token_provider)
        for almacen in (self._run_storage, self._event_log_storage, self._schedule_storage):
            almacen._agrupar(postgres_url, token_provider)
        DagsterStorage.__init__(self)

    @classmethod
    def config_type(cls):
        return pg_config()

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> AlmacenDagster:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
