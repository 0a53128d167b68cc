"""Dagster resources: the IVR source (read-only), the warehouse, and the pipeline settings.

A URL left unset means the embedded PostgreSQL (see `db.py`); `definitions.py` fills these
fields from the environment with `dg.EnvVar`, so the UI shows variable names, never passwords.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import dagster as dg
import psycopg

from iact_pipelines.plataforma import config
from iact_pipelines.plataforma import db


class _Database(dg.ConfigurableResource):
    url: str | None = None
    # Which of db.Urls this resource falls back to when `url` is unset (the embedded server).
    ROL: ClassVar[str] = "warehouse"

    def resolved_url(self) -> str:
        return self.url or getattr(db.resolve_urls(), self.ROL)


def fuente_no_disponible() -> dg.RetryRequested:
    """What a step raises when the IVR source cannot be reached: that is usually transient
    (network, maintenance window), so Dagster retries the step a few times before the run
    fails and alerts."""
    return dg.RetryRequested(max_retries=2, seconds_to_wait=5)


class IvrResource(_Database):
    """The legacy IVR database; `extraccion` always opens it read-only: the pipeline never
    writes to the source."""

    ROL: ClassVar[str] = "ivr"

    def url_lectura(self) -> str:
        """The source's URL, or a step retry when it cannot be resolved (embedded server down)."""
        try:
            return self.resolved_url()
        except config.ConfigError as exc:
            raise fuente_no_disponible() from exc


class WarehouseResource(_Database):
    """The warehouse database: staging schema, report tables, inbox and ETL tracking."""

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        with db.connect(self.resolved_url()) as conn:
            yield conn


class PipelineSettings(dg.ConfigurableResource):
    """Business settings: allowed centers, reporting time zone and thresholds."""

    centros: str = config.DEFAULTS["IACT_CENTROS"]
    zona_horaria: str = config.DEFAULTS["IACT_ZONA_HORARIA"]
    umbral_nivel_servicio: str = config.DEFAULTS["IACT_UMBRAL_NIVEL_SERVICIO"]
    max_tasa_rechazo: str = config.DEFAULTS["IACT_MAX_TASA_RECHAZO"]
    volumen_minimo: str = config.DEFAULTS["IACT_VOLUMEN_MINIMO"]
    menu_umbral_problema: str = config.DEFAULTS["IACT_MENU_UMBRAL_PROBLEMA"]
    ui_url: str = config.DEFAULTS["IACT_UI_URL"]

    def centros_permitidos(self) -> list[str]:
        return list(config.parse_centros(self.centros))

    def zona(self) -> str:
        return config.parse_zona(self.zona_horaria)

    def umbral_espera_segundos(self) -> float:
        return config.parse_number("IACT_UMBRAL_NIVEL_SERVICIO", self.umbral_nivel_servicio, low=0, high=86400)

    def tasa_rechazo_maxima(self) -> float:
        return config.parse_number("IACT_MAX_TASA_RECHAZO", self.max_tasa_rechazo, low=0, high=1)

    def volumen_minimo_fraccion(self) -> float:
        return config.parse_number("IACT_VOLUMEN_MINIMO", self.volumen_minimo, low=0, high=1)

    def umbral_menu_problema(self) -> float:
        return config.parse_number("IACT_MENU_UMBRAL_PROBLEMA", self.menu_umbral_problema, low=0, high=1)


def _from_env(name: str) -> dg.EnvVar | str | None:
    """`dg.EnvVar(name)` when the variable is set (resolved at run time, shown by name in the
    UI), else the documented default."""
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else config.DEFAULTS[name]


def build_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "ivr": IvrResource(url=_from_env("IACT_IVR_URL")),
        "warehouse": WarehouseResource(url=_from_env("IACT_WAREHOUSE_URL")),
        "settings": PipelineSettings(
            centros=_from_env("IACT_CENTROS"),
            zona_horaria=_from_env("IACT_ZONA_HORARIA"),
            umbral_nivel_servicio=_from_env("IACT_UMBRAL_NIVEL_SERVICIO"),
            max_tasa_rechazo=_from_env("IACT_MAX_TASA_RECHAZO"),
            volumen_minimo=_from_env("IACT_VOLUMEN_MINIMO"),
            menu_umbral_problema=_from_env("IACT_MENU_UMBRAL_PROBLEMA"),
            ui_url=_from_env("IACT_UI_URL"),
        ),
    }
