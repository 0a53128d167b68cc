"""The Dagster home: `$IACT_HOME/dagster`, holding a copy of the project's `dagster.yaml`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from iact_pipelines.plataforma import db
from iact_pipelines.plataforma.config import PROJECT_ROOT, load_settings


def prepare_dagster_home(urls: db.Urls) -> Path:
    """Create DAGSTER_HOME with the project's dagster.yaml and export the URLs Dagster and the
    run workers read (DAGSTER_PG_URL in psycopg2 form, as dagster-postgres needs)."""
    home = load_settings().home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    db.export_env(urls)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
