"""The `iact` command. Each subcommand lives in its own module with a `register(subparsers)`.

Every failure ends with ONE line on stderr, `iact: error: ...`, and exit status 2 (a run's id
and where to look when there is a run); the full trace only with `--verbose`. A closed output
pipe (`iact buzon listar | head`) ends quietly with 141, as a process killed by SIGPIPE would.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from iact_pipelines.cli import idioma
from iact_pipelines.plataforma.config import ConfigError, validar

# Module names under iact_pipelines.cli, in the order `iact --help` lists them.
SUBCOMMANDS = ["db", "demo", "dev", "materializar", "buzon", "usuarios", "objetivos", "exportar"]

SALIDA_ERROR = 2
SALIDA_TUBERIA_CERRADA = 141  # 128 + SIGPIPE


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    idioma.instalar()
    parser = argparse.ArgumentParser(prog="iact", description="IACT Pipelines: reportes del IVR sobre Dagster.")
    parser.add_argument(
        "--verbose", action="store_true", help="ante un fallo, la traza completa (y el log de Dagster) en stderr"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMANDO", title="comandos")
    for name in SUBCOMMANDS:
        importlib.import_module(f"iact_pipelines.cli.{name}").register(sub)
    return parser


_COLA = 160  # the end of a long line is kept whole: the run's link and what to do next go there


def una_linea(texto: str, largo: int = 400) -> str:
    """The text on one line; a long one is cut in the middle, so its end (the run's link) stays."""
    linea = " ".join(str(texto).split())
    return linea if len(linea) <= largo else linea[: largo - _COLA - 5] + " ... " + linea[-_COLA:]


def _error(mensaje: str) -> int:
    from iact_pipelines.plataforma.db import redact

    print(f"iact: error: {una_linea(redact(mensaje))}", file=sys.stderr, flush=True)
    return SALIDA_ERROR


def _no_es_utf8(argumento: str) -> bool:
    try:
        argumento.encode("utf-8")
    except UnicodeEncodeError:  # bytes that were not UTF-8 arrive as lone surrogates
        return True
    return False


def _tuberia_cerrada() -> int:
    # Point stdout at /dev/null so the interpreter's final flush does not raise again.
    try:
        nulo = os.open(os.devnull, os.O_WRONLY)
        os.dup2(nulo, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return SALIDA_TUBERIA_CERRADA


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")  # never a UnicodeEncodeError on output
    malos = [a for a in argv if _no_es_utf8(a)]
    if malos:
        crudo = malos[0].encode("utf-8", "surrogateescape")
        return _error(f"el argumento {crudo!r} no es UTF-8 válido (use texto UTF-8)")
    # Accepted anywhere on the line (`iact materializar ... --verbose` too).
    verbose = "--verbose" in argv
    argv = [a for a in argv if a != "--verbose"]
    try:
        args = build_parser().parse_args(argv)
        args.verbose = verbose
        validar()  # a mistake in any setting stops every command before it starts (before any run)
        codigo = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers, not at exit
        return codigo
    except (ConfigError, CliError) as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _tuberia_cerrada()
    except SystemExit:
        raise  # argparse's own usage errors (exit 2) and --help
    except Exception as exc:  # noqa: BLE001 - anything else is still one line, the trace on demand
        from iact_pipelines.plataforma.db import ServidorNoDisponible

        if verbose:
            traceback.print_exc()
        if isinstance(exc, ServidorNoDisponible):
            return _error(str(exc))
        primera = next((linea for linea in str(exc).splitlines() if linea.strip()), "")
        return _error(f"{type(exc).__name__}: {primera}" + ("" if verbose else " (--verbose muestra la traza)"))


def principal() -> None:
    """The `iact` command: `main`, then out without the interpreter's teardown. Freeing a run's
    modules and objects one by one (pandas, pyarrow, Dagster) took 1.5-2 s after the work was
    done; the output is flushed and the exit handlers (logging's among them) still run."""
    import atexit

    codigo = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    atexit._run_exitfuncs()
    os._exit(codigo)


if __name__ == "__main__":
    principal()
