"""No password in any surface: whatever form a connection string gives it in (userinfo,
`password=` anywhere in the query, a key=value DSN, PGPASSWORD), a failed run shows it nowhere:
CLI output, Dagster's event log and runs, etl_jobs, the alert."""

import socket

import pytest

from iact_pipelines.cli import main
from iact_pipelines.monitoreo import sensors
from iact_pipelines.plataforma import db, resources


def _puerto_cerrado() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sin_esperas(monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", "/nonexistent")
    monkeypatch.setattr(resources, "ESPERA_REINTENTO_S", 0)
    monkeypatch.setattr(sensors, "MARGEN_S", 0.0)


@pytest.mark.parametrize(
    "secretos, forma",
    [
        (["Sq1ParamPw"], "postgresql://iact@127.0.0.1:{puerto}/ivr?password={0}"),
        (["Sq2UserPw", "Sq2ParamPw"], "postgresql://iact:{0}@127.0.0.1:{puerto}/ivr?sslmode=disable&password={1}"),
    ],
)
def test_a_failed_run_shows_no_password_anywhere(
    secretos, forma, urls, warehouse, instance, sin_esperas, monkeypatch, capsys
):
    warehouse.execute("INSERT INTO usuarios (nombre, es_admin, activo) VALUES ('ana', true, true)")
    monkeypatch.setenv("IACT_IVR_URL", forma.format(*secretos, puerto=_puerto_cerrado()))
    monkeypatch.setenv("PGPASSWORD", "Sq3EnvPw")
    secretos = [*secretos, "Sq3EnvPw"]

    codigo = main(["materializar", "--desde", "2024-05-07", "--hasta", "2024-05-07", "--activos", "staging/llamadas"])

    salida = capsys.readouterr()
    assert codigo == 2 and "127.0.0.1" in salida.err, salida.err
    with db.connect(urls.warehouse) as conn:
        sensors.revisar_fallos(instance, conn, None, ui_url="http://ui")
        conn.commit()
    superficies = {"stdout": salida.out, "stderr": salida.err}
    with db.connect(db.libpq_url(urls.dagster)) as conn:
        superficies["event_logs"] = "\n".join(r[0] for r in conn.execute("SELECT event FROM event_logs"))
        superficies["runs"] = "\n".join(r[0] for r in conn.execute("SELECT run_body FROM runs"))
        superficies["run_tags"] = "\n".join(r[0] for r in conn.execute("SELECT key || value FROM run_tags"))
    for tabla in ("etl_jobs", "internal_messages"):
        superficies[tabla] = "\n".join(r[0] for r in warehouse.execute(f"SELECT t::text FROM {tabla} t"))
    assert "STEP_UP_FOR_RETRY" in superficies["event_logs"]  # the retried failure is in the log
    assert superficies["etl_jobs"] and superficies["internal_messages"]
    # after the retries ran out, the cause in one line, not Dagster's "Exceeded max_retries of 3"
    (error,) = warehouse.execute("SELECT error_message FROM etl_jobs").fetchone()
    assert "no se puede conectar a" in error and "tras 3 reintentos" in error and "max_retries" not in error
    (cuerpo,) = warehouse.execute("SELECT body FROM internal_messages LIMIT 1").fetchone()
    assert "no se puede conectar a" in cuerpo and "max_retries" not in cuerpo
    fugas = {(s, nombre) for s in secretos for nombre, texto in superficies.items() if s in texto}
    assert fugas == set()


def test_a_key_value_dsn_is_refused_without_its_password(urls, sin_esperas, monkeypatch, capsys):
    monkeypatch.setenv("IACT_IVR_URL", "host=127.0.0.1 port=5999 dbname=ivr password='Sq4 Kv\\'Pw'")

    codigo = main(["materializar", "--desde", "2024-05-07", "--hasta", "2024-05-07", "--activos", "staging/llamadas"])

    error = capsys.readouterr().err
    assert codigo == 2 and "IACT_IVR_URL" in error and "127.0.0.1" in error
    assert "Sq4" not in error and "Kv" not in error


@pytest.mark.parametrize(
    "texto, esperado",
    [
        ("postgresql://u:pw1@h/db", "postgresql://u:***@h/db"),
        (
            "at postgres://u@h/db?sslmode=disable&password=pw2&x=1 now",
            "at postgres://u@h/db?sslmode=disable&password=***&x=1 now",
        ),
        ("host=h password=pw3 dbname=d", "host=h password=*** dbname=d"),
        ("host=h password = 'p w\\'4' dbname=d", "host=h password = *** dbname=d"),
        ("postgresql+psycopg2://u:p%40w5@h/db", "postgresql+psycopg2://u:***@h/db"),
        ("no secret here", "no secret here"),
    ],
)
def test_redact_every_form(texto, esperado):
    assert db.redact(texto) == esperado
