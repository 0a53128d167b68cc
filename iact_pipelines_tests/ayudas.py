"""What the tests of every area share about their server and the IVR source."""

import os

from psycopg import sql

from iact_pipelines.fuentes.contrato import FUENTES

# The PostgreSQL server at IACT_TEST_PG_URL, when the tests run on it instead of the embedded
# one: the few tests that need the embedded server (its hba file, its default URLs) skip then.
PG_EXTERNO = os.environ.get("IACT_TEST_PG_URL", "").strip()

# An empty IVR source: every table of the source contract.
VACIAR_FUENTE = sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(sql.Identifier("ivr", t) for t in FUENTES))
