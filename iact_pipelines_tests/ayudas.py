"""What the tests of every area share about their server and the IVR source."""

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from psycopg import sql

from iact_pipelines.fuentes.contrato import FUENTES
from iact_pipelines.plataforma.config import PROJECT_ROOT

# The PostgreSQL server at IACT_TEST_PG_URL, when the tests run on it instead of the embedded
# one: the few tests that need the embedded server (its hba file, its default URLs) skip then.
PG_EXTERNO = os.environ.get("IACT_TEST_PG_URL", "").strip()

# An empty IVR source: every table of the source contract.
VACIAR_FUENTE = sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(sql.Identifier("ivr", t) for t in FUENTES))


@contextmanager
def instancia_de_prueba(anadido: str = ""):
    """A real Dagster instance on the project's dagster.yaml (plus `anadido`, more of its YAML),
    storing runs and events in the test PostgreSQL, wiped first and removed after."""
    import dagster as dg  # after the tests' environment is configured

    home = Path(tempfile.mkdtemp(prefix="iact-dagster-"))
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text() + anadido)
    inst = dg.DagsterInstance.from_config(str(home))
    inst.wipe()
    try:
        yield inst
    finally:
        inst.dispose()
        shutil.rmtree(home, ignore_errors=True)
