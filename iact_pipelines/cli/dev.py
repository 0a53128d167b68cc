"""`iact dev`: Dagster UI and daemon on 127.0.0.1:3000 over the configured databases.

`dagster dev` runs in its own process group (a backgrounded `dagster dev` ignores SIGTERM
otherwise); SIGTERM or Ctrl-C here stops that whole group, then the embedded PostgreSQL if
this `iact dev` started it.

One `iact dev` per IACT_HOME: `$IACT_HOME/dev.lock` is held (flock) while it runs and names
its pid, address and `dagster dev` process group. A second one exits at once with one line.
After a `kill -9` the lock is free but the group may still run: the next start stops it first.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import psutil

from iact_pipelines.cli import CliError
from iact_pipelines.plataforma import db, embedded, migrations
from iact_pipelines.plataforma.config import PROJECT_ROOT, load_settings
from iact_pipelines.plataforma.instance import prepare_dagster_home


def register(sub) -> None:
    parser = sub.add_parser("dev", help="corre la interfaz y el daemon de Dagster (127.0.0.1:3000)")
    parser.add_argument("--host", default="127.0.0.1", help="dirección donde escucha la interfaz (127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="puerto de la interfaz (3000)")
    parser.set_defaults(func=_dev)


def _leer_candado(ruta) -> dict:
    try:
        return json.loads(ruta.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _tomar_candado(home):
    """Hold `$IACT_HOME/dev.lock` for this process's life; CliError naming the holder if taken."""
    home.mkdir(parents=True, exist_ok=True)
    ruta = home / "dev.lock"
    fd = os.open(ruta, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        otro = _leer_candado(ruta)
        raise CliError(
            f"`iact dev` is already running for IACT_HOME={home} (pid {otro.get('pid', '?')}, "
            f"{otro.get('url', 'address unknown')}); stop it first"
        ) from None
    return fd, ruta, _leer_candado(ruta)


def _escribir_candado(fd: int, datos: dict) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(datos).encode(), 0)


def _restos(home_dagster: str) -> list[psutil.Process]:
    """Dagster processes serving this IACT_HOME (their DAGSTER_HOME says so), whatever their
    process group: `dagster dev` starts code servers in sessions of their own, and once it is
    gone they are orphans that no process group reaches."""
    restos = []
    for proceso in psutil.process_iter(["cmdline"]):
        if proceso.pid == os.getpid() or "dagster" not in " ".join(proceso.info["cmdline"] or []):
            continue
        try:
            if proceso.environ().get("DAGSTER_HOME") == home_dagster:
                restos.append(proceso)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return restos


def _limpiar_restos(home_iact, *, avisar: bool = True) -> None:
    """Stop what a killed `iact dev` left running on this IACT_HOME (its webserver, daemon and
    code servers would hold the port and run a second daemon): SIGTERM, then SIGKILL after 10 s."""
    restos = _restos(str(home_iact / "dagster"))
    if not restos:
        return
    if avisar:
        print(f"stopping {len(restos)} leftover process(es) of a previous `iact dev`", flush=True)
    for proceso in restos:
        with contextlib.suppress(psutil.NoSuchProcess):
            proceso.terminate()
    _, vivos = psutil.wait_procs(restos, timeout=10)
    for proceso in vivos:
        with contextlib.suppress(psutil.NoSuchProcess):
            proceso.kill()
    psutil.wait_procs(vivos, timeout=5)


def _dev(args) -> int:
    home_iact = load_settings().home
    fd, _ruta, anterior = _tomar_candado(home_iact)
    _limpiar_restos(home_iact)
    # The embedded server is stopped at the end when this session starts it, or when it is the
    # orphan of a killed session that had started it (its lock says so): that one is adopted,
    # so a SIGTERM after a kill -9 leaves nothing running. Another command's server is left
    # as it was found.
    ya_corria = embedded.running_url(home_iact) is not None and not anterior.get("servidor_propio")
    urls = db.resolve_urls()
    migrations.setup(urls)
    home = prepare_dagster_home(urls)
    # Alerts link to runs in this UI unless a public URL was configured.
    os.environ.setdefault("IACT_UI_URL", f"http://{args.host}:{args.port}")
    cmd = [
        os.path.join(os.path.dirname(sys.executable), "dagster"),
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={home}); Ctrl-C stops everything", flush=True)
    # A process started in the background inherits SIGINT ignored, and `dagster dev` maps
    # SIGTERM onto whatever SIGINT does: restore the default so it can be stopped at all.
    proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, start_new_session=True, preexec_fn=_preparar_hijo)
    _escribir_candado(
        fd,
        {
            "pid": os.getpid(),
            "pgid": proc.pid,
            "url": f"http://{args.host}:{args.port}",
            "servidor_propio": bool(urls.embedded and not ya_corria),
        },
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
        if urls.embedded and not ya_corria:
            # A code server outside the group still loading would start the server again.
            _limpiar_restos(home_iact, avisar=False)
            embedded.stop(home_iact)
        _escribir_candado(fd, {})
    return 0 if code in (0, -signal.SIGINT, -signal.SIGTERM, 130) else code


def _preparar_hijo() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # Linux: `dagster dev` gets SIGINT (its orderly shutdown) if this process dies, kill -9 included.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


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
