"""`iact dev`: Dagster UI and daemon on 127.0.0.1:3000 over the configured databases.

`dagster dev` runs in its own process group (a backgrounded `dagster dev` ignores SIGTERM
otherwise); SIGTERM or Ctrl-C here stops that whole group, then the embedded PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from iact_pipelines.plataforma import db
from iact_pipelines.plataforma import embedded
from iact_pipelines.plataforma import migrations
from iact_pipelines.plataforma.config import PROJECT_ROOT, load_settings
from iact_pipelines.plataforma.instance import prepare_dagster_home


def register(sub) -> None:
    parser = sub.add_parser("dev", help="run the Dagster UI and daemon (127.0.0.1:3000)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.set_defaults(func=_dev)


def _dev(args) -> int:
    urls = db.resolve_urls()
    migrations.setup(urls)
    home = prepare_dagster_home(urls)
    # Alerts link to runs in this UI unless a public URL was configured.
    os.environ.setdefault("IACT_UI_URL", f"http://{args.host}:{args.port}")
    cmd = [
        os.path.join(os.path.dirname(sys.executable), "dagster"), "dev",
        "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", args.host, "-p", str(args.port),
    ]
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={home}); Ctrl-C stops everything", flush=True)
    # A process started in the background inherits SIGINT ignored, and `dagster dev` maps
    # SIGTERM onto whatever SIGINT does: restore the default so it can be stopped at all.
    proc = subprocess.Popen(
        cmd, cwd=PROJECT_ROOT, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )

    def _forward(signum, frame):
        # Only `dagster dev` itself: it shuts its webserver, daemon and code servers down in
        # order; signalling the whole group at once leaves it waiting on half-dead children.
        try:
            proc.send_signal(signal.SIGINT)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    try:
        code = proc.wait()
    finally:
        _kill_group_after_grace(proc.pid)
        if urls.embedded:
            embedded.stop(load_settings().home)
    return 0 if code in (0, -signal.SIGINT, -signal.SIGTERM, 130) else code


def _kill_group_after_grace(pgid: int, grace_seconds: float = 20.0) -> None:
    """Give the group's stragglers (code servers, run workers) time to exit, then kill them."""
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
