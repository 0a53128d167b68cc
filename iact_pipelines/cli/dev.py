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
import re
import signal
import subprocess
import sys
import time

import psutil

from iact_pipelines.cli import CliError
from iact_pipelines.plataforma import db, embedded, migrations
from iact_pipelines.plataforma.config import PROJECT_ROOT, load_settings
from iact_pipelines.plataforma.instance import prepare_dagster_home

# Dagster APIs this project uses although Dagster marks them beta, preview or superseded (known and
# accepted; each process would repeat the notice at every code load and every run):
# multi_observable_source_asset and backfill_policy (beta), TimeWindowPartitionMapping's
# allow_nonexistent_upstream_partitions (beta), AssetCheckSpec's partitions_def (preview), the
# freshness-check builders and `dagster dev` itself (superseded). Ignored in every process of
# `iact dev` (the webserver, the daemon, code servers and run workers inherit the environment).
_AVISOS_CONOCIDOS = ",".join(
    f"ignore:{inicio}"  # PYTHONWARNINGS: each message's literal start, any category
    for inicio in (
        "Function `multi_observable_source_asset` is currently in beta",
        "Parameter `backfill_policy` of function `asset` is currently in beta",
        "Parameter `allow_nonexistent_upstream_partitions` of initializer",
        "Specifying a partitions_def on an AssetCheckSpec is currently in preview",
        "Function `dev_command` is superseded",
    )
)

# Lines of `dagster dev` that say nothing happened: sensor ticks that found nothing to do (the
# daemon's and the sensors' own "0 …" reports), the queue's idle polling, and click's "Aborted!"
# when a stop arrives during shutdown. Everything else (INFO and above) is forwarded as it comes.
_SIN_NOVEDAD = re.compile(
    r"Checking for new runs for sensor: |Sensor \S+ skipped: |Priority sorting and checking tag concurrency"
    r"|No cursor for event type|- __repository__ - \S+ - 0 |^Aborted!$"
    # a run's step-by-step DEBUG events (the run's page shows them), the queue full while runs go on,
    # the run monitor's polling of a run in progress, the sensor daemon's steps before its launch line
    r"| - dagster - DEBUG - |won't launch more|Collected \d+ runs? for monitoring|MonitoringDaemon - .*Checking run "
    r"|SensorDaemon - .*(Creating new run|Launching run) for |SchedulerDaemon - .*Evaluating schedule `"
    # after a stop, a schedule without partitions runs its latest missed tick only (observing the
    # source again is all it does): Dagster warns about it at every start
    r"|has no partition set, so not trying to catch up"
)
# Dagster's own lines that do say something, in Spanish (the rest of the line, time and logger, as is).
_EN_ESPANOL = [
    (re.compile(p), r)
    for p, r in (
        (r"Launching Dagster services\.\.\.", "iniciando los servicios de Dagster"),
        (r"Instance is configured with the following daemons: ", "daemons de la instancia: "),
        (r"Completed (?:scheduled )?launch of run (\S+) for (\S+)", r"\2 lanzó el run \1"),
        (r"Launched (\d+) runs?\.", r"la cola lanzó \1 run(s)"),
        (r"(\S+) has fallen behind, only launching (\d+) runs", r"\1 se atrasó: solo se lanzan sus últimos \2 runs"),
        (r"KeyboardInterrupt received", "detención pedida"),
        (r"Shutting down Dagster services\.\.\.", "deteniendo los servicios de Dagster"),
        (r"Received interrupt, shutting down daemon threads\.\.\.", "deteniendo los hilos del daemon"),
        (r"Daemon threads shut down\.", "hilos del daemon detenidos"),
        (r"Dagster services shut down\.", "servicios de Dagster detenidos"),
    )
]
_SIRVIENDO = re.compile(r"Serving dagster-webserver on (\S+)")


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
            f"`iact dev` ya corre para IACT_HOME={home} (pid {otro.get('pid', '?')}, "
            f"{otro.get('url', 'dirección desconocida')}); deténgalo primero"
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
        print(f"deteniendo {len(restos)} proceso(s) que dejó un `iact dev` anterior", flush=True)
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
    print(f"iniciando Dagster (DAGSTER_HOME={home}); Ctrl-C lo detiene todo", flush=True)
    # A process started in the background inherits SIGINT ignored, and `dagster dev` maps
    # SIGTERM onto whatever SIGINT does: restore the default so it can be stopped at all.
    # It runs in its Dagster home, not in the project folder: there it would warn that the
    # project's dagster.yaml "will not be used" (iact copies it into the home, which is used).
    entorno = {
        **os.environ,
        "PYTHONWARNINGS": _AVISOS_CONOCIDOS,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        cmd,
        cwd=home,
        env=entorno,
        start_new_session=True,
        preexec_fn=_preparar_hijo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="backslashreplace",
    )
    _escribir_candado(
        fd,
        {
            "pid": os.getpid(),
            "pgid": proc.pid,
            "url": f"http://{args.host}:{args.port}",
            "servidor_propio": bool(urls.embedded and not ya_corria),
        },
    )
    detenido = []

    def _forward(signum, frame):
        # Only `dagster dev` itself: it shuts its webserver, daemon and code servers down in
        # order; signalling the whole group at once leaves it waiting on half-dead children.
        detenido.append(signum)
        try:
            proc.send_signal(signal.SIGINT)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    try:
        _reenviar(proc.stdout)
        code = proc.wait()
    finally:
        _kill_group_after_grace(proc.pid)
        if urls.embedded and not ya_corria:
            # A code server outside the group still loading would start the server again.
            _limpiar_restos(home_iact, avisar=False)
            embedded.stop(home_iact)
        _escribir_candado(fd, {})
    # A stop asked for is a clean end, whatever `dagster dev` answered while shutting down.
    return 0 if detenido or code in (0, -signal.SIGINT, -signal.SIGTERM, 130) else code


def _reenviar(salida) -> None:
    """`dagster dev`'s lines to stderr, without those that say nothing happened; the UI's
    address once it serves."""
    for linea in salida:
        sirviendo = _SIRVIENDO.search(linea)
        if sirviendo:
            print(f"interfaz de Dagster lista: {sirviendo.group(1)}", flush=True)
            continue
        linea = para_la_terminal(linea)
        if linea is not None:
            sys.stderr.write(linea)
            sys.stderr.flush()


def para_la_terminal(linea: str) -> str | None:
    """A line of `dagster dev` as the terminal shows it: None when it says nothing happened,
    Dagster's own known lines in Spanish."""
    if _SIN_NOVEDAD.search(linea):
        return None
    for patron, reemplazo in _EN_ESPANOL:
        linea = patron.sub(reemplazo, linea)
    return linea


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
