"""Dagster's PostgreSQL instance storage, keeping one connection per storage open in a process.

`dagster-postgres` opens and closes a connection for every event it writes and every query it
makes (SQLAlchemy's NullPool), except in the webserver: a 20,000-call day's run made about 400
connections to the Dagster database, a third of its instance time. This storage is the same one
with the pool the webserver gets (one open connection per storage, more only while in use at
once, closed when given back), in every process that opens the instance: `iact materializar`,
the daemon, the run workers and their steps. `dagster.yaml` names it (`storage: custom`).
"""

from __future__ import annotations

from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.config import pg_config
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config

# Beyond the one kept open, connections a process's threads take at once, closed on return.
_DESBORDE = 10
# Seconds after which an idle kept connection is replaced (a server restart, a proxy's cut).
_RECICLAJE_S = 600


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
            pool_pre_ping=True,  # a kept connection the server dropped is replaced, not failed on
        )

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()


class _Runs(_ConPool, PostgresRunStorage):
    pass


class _Eventos(_ConPool, PostgresEventLogStorage):
    pass


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
