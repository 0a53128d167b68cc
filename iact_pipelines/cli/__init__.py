"""The `iact` command. Each subcommand lives in its own module with a `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import sys

from iact_pipelines.plataforma.config import ConfigError, load_settings

# Module names under iact_pipelines.cli, in the order `iact --help` lists them.
SUBCOMMANDS = ["db", "demo", "dev", "materializar", "buzon", "usuarios", "exportar"]


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iact", description="IACT Pipelines: IVR reports on Dagster.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"iact_pipelines.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        load_settings()  # a configuration mistake stops every command before it starts
        return int(args.func(args) or 0)
    except (ConfigError, CliError) as exc:
        print(f"iact: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
