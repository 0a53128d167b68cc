"""The settings table: every setting declared once, documented, and read through its parser."""

import os
import subprocess
import sys

import dagster as dg
import pytest

from iact_pipelines.plataforma import config
from iact_pipelines.plataforma.config import AJUSTES, ConfigError
from iact_pipelines.plataforma.resources import PipelineSettings, build_resources


def test_the_markdown_table_documents_every_setting():
    lineas = config.tabla_markdown().splitlines()
    assert lineas[0] == "| Variable | Por defecto | Descripción |"
    filas = lineas[2:]
    assert len(filas) == len(AJUSTES)
    for ajuste, fila in zip(AJUSTES, filas, strict=True):
        assert fila.startswith(f"| `{ajuste.nombre}` | ") and ajuste.descripcion in fila
    assert str(config.PROJECT_ROOT) not in config.tabla_markdown()


def test_every_default_is_valid_and_every_number_has_bounds():
    for ajuste in AJUSTES:
        ajuste.convertir(ajuste.defecto)
        numerico = ajuste.parser in (config.parse_number, config.parse_entero, config.parse_horas)
        assert (ajuste.limites is not None) == numerico, ajuste.nombre
    assert len({a.nombre for a in AJUSTES}) == len({a.campo for a in AJUSTES}) == len(AJUSTES)


def test_the_resource_carries_settings_of_the_table_through_their_parsers(monkeypatch):
    assert set(PipelineSettings.model_fields) <= {a.campo for a in AJUSTES}
    monkeypatch.setenv("IACT_VOLUMEN_MINIMO", "1.5")
    assert build_resources()["settings"].volumen_minimo == dg.EnvVar("IACT_VOLUMEN_MINIMO")
    textos = {campo: config.por_campo(campo).defecto for campo in PipelineSettings.model_fields}
    with pytest.raises(ConfigError, match=r"^IACT_VOLUMEN_MINIMO: 1.5 está fuera de 0..1$"):
        PipelineSettings(**{**textos, "volumen_minimo": "1.5"}).volumen_minimo_fraccion()
    with pytest.raises(ConfigError, match=r"^IACT_VOLUMEN_MINIMO: 1.5 está fuera de 0..1$"):
        config.validar()


def test_importing_the_partitions_reads_no_setting():
    codigo = (
        "from iact_pipelines.plataforma import partitions\n"
        "from iact_pipelines.plataforma.config import ConfigError\n"
        "try:\n"
        "    partitions.diaria\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", codigo],
        capture_output=True,
        text=True,
        env={**os.environ, "IACT_ZONA_HORARIA": "Mars/Olympus"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "IACT_ZONA_HORARIA: zona horaria desconocida 'Mars/Olympus' (p. ej. America/Mexico_City)"
    ]
