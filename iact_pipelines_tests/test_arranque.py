"""What starting costs: `iact --help` (every subcommand's parser) loads no Dagster, and loading
the definitions (the code server, every run's process) loads none of the data-frame libraries:
only the staging step that validates rows imports pandas, pandera and pyarrow."""

import json
import subprocess
import sys

from iact_pipelines.plataforma.config import PROJECT_ROOT

_PESADOS = ("pandas", "pandera", "pyarrow", "numpy", "adbc_driver_postgresql", "openpyxl", "reportlab", "celery")

_SONDA = f"""
import json, sys
cargados = lambda: sorted({{m.split(".")[0] for m in sys.modules}} & set({list(("dagster", *_PESADOS))!r}))
from iact_pipelines.cli import build_parser
build_parser()
tras_parser = cargados()
from iact_pipelines.definitions import defs
defs.resolve_asset_graph()
print(json.dumps({{"parser": tras_parser, "definiciones": cargados()}}))
"""


def test_the_cli_parser_and_the_definitions_load_only_what_they_use():
    salida = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _SONDA], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    cargados = json.loads(salida.stdout.strip().splitlines()[-1])
    assert cargados == {"parser": [], "definiciones": ["dagster"]}
