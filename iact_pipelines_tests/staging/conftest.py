"""Fixtures shared by the staging tests."""

import pytest


@pytest.fixture
def sin_umbral(monkeypatch):
    """Rule tests craft mostly bad rows: let the reject-rate check pass so the run succeeds."""
    monkeypatch.setenv("IACT_MAX_TASA_RECHAZO", "1")


@pytest.fixture
def llamadas_legado(ivr_writer):
    """ivr.llamadas as a laxer legacy source: no primary key, a wider center column."""
    ivr_writer.execute("ALTER TABLE ivr.llamadas DROP CONSTRAINT llamadas_pkey")
    ivr_writer.execute("ALTER TABLE ivr.llamadas ALTER COLUMN centro_id TYPE varchar(10)")
    try:
        yield ivr_writer
    finally:
        ivr_writer.execute("TRUNCATE ivr.llamadas")
        ivr_writer.execute("ALTER TABLE ivr.llamadas ALTER COLUMN centro_id TYPE varchar(8)")
        ivr_writer.execute("ALTER TABLE ivr.llamadas ADD PRIMARY KEY (llamada_id)")
