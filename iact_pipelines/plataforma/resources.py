"""Dagster resources: the IVR source (read-only), the warehouse, and the pipeline settings.

A URL left unset means the embedded PostgreSQL (see `db.py`); `build_resources` fills these
fields from the environment with `dg.EnvVar`, so the UI shows variable names, never passwords.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import dagster as dg
import psycopg
from pydantic import PrivateAttr

from iact_pipelines.plataforma import config, db


class _Database(dg.ConfigurableResource):
    url: str | None = None
    # Which of db.Urls this resource falls back to when `url` is unset (the embedded server).
    ROL: ClassVar[str] = "warehouse"

    def resolved_url(self) -> str:
        return self.url or getattr(db.resolve_urls(), self.ROL)


REINTENTOS_PASO = 3  # step retries of a transient failure, waiting 5, 10, 20 s
ESPERA_REINTENTO_S = 5  # the first wait; each retry doubles it


def _intento_actual() -> int:
    try:
        return dg.OpExecutionContext.get().retry_number
    except Exception:  # noqa: BLE001 - outside a step (direct calls, tests): first attempt
        return 0


def fuente_no_disponible() -> dg.RetryRequested:
    """What a step raises on a transient failure (source or warehouse unreachable, server
    restarting, serialization failure, deadlock): Dagster retries the step with exponential
    backoff before the run fails and alerts."""
    return dg.RetryRequested(max_retries=REINTENTOS_PASO, seconds_to_wait=ESPERA_REINTENTO_S * 2 ** _intento_actual())


def error_de_configuracion(exc: Exception) -> dg.Failure:
    """A configuration or permission mistake: one line, never retried (retrying cannot fix it)."""
    linea = " ".join(db.redact(str(exc)).split()) or type(exc).__name__
    return dg.Failure(
        description=f"error de configuración o de permisos (no se reintenta): {linea}", allow_retries=False
    )


def sin_secretos(exc: Exception) -> Exception:
    """The exception itself, or a stand-in with its text masked when it carries a password:
    the event log stores a step's error (and its cause) for anyone with the UI to read."""
    limpio = db.redact(str(exc))
    return exc if limpio == str(exc) else RuntimeError(f"{type(exc).__name__}: {limpio}")


@contextmanager
def errores_clasificados() -> Iterator[None]:
    """Wraps an asset's body so that each failure is handled by what it is: transient ones
    retried with backoff, configuration and permission ones failed at once in one line, a
    partition lock wait that timed out failed naming the run that holds it."""
    try:
        yield
    except db.ParticionOcupada as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    except db.ServidorNoDisponible as exc:
        raise fuente_no_disponible() from sin_secretos(exc)
    except config.ConfigError as exc:
        raise error_de_configuracion(exc) from None
    except psycopg.Error as exc:
        if db.es_de_configuracion(exc.sqlstate):
            raise error_de_configuracion(exc) from None
        # No SQLSTATE on an OperationalError: the connection itself broke (server restart).
        if db.es_transitorio(exc.sqlstate) or (exc.sqlstate is None and isinstance(exc, psycopg.OperationalError)):
            raise fuente_no_disponible() from sin_secretos(exc)
        limpia = sin_secretos(exc)
        if limpia is exc:
            raise
        raise limpia from None


class IvrResource(_Database):
    """The legacy IVR database; `extraccion` always opens it read-only: the pipeline never
    writes to the source."""

    ROL: ClassVar[str] = "ivr"
    # Set per run, as for the warehouse: the run's IVR sessions show as `iact run <run id>`.
    _run_id: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_id = context.run_id

    def url_lectura(self) -> str:
        """The source's URL (a ConfigError when it is misconfigured: not retried), carrying the
        run's application_name, which ADBC and psycopg sessions alike take from it."""
        url = self.resolved_url()
        if not self._run_id:
            return url
        return db.con_parametro(url, "application_name", f"{db.PREFIJO_RUN}{self._run_id}")


class WarehouseResource(_Database):
    """The warehouse database: staging schema, report tables, inbox and ETL tracking."""

    # Set per run: the run's sessions carry its id as application_name, so a run waiting on a
    # lock (and an operator in pg_stat_activity) can tell which run holds it.
    _run_id: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_id = context.run_id

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        nombre = f"{db.PREFIJO_RUN}{self._run_id}" if self._run_id else "iact"
        with db.connect(self.resolved_url(), application_name=nombre) as conn:
            yield conn


class PipelineSettings(dg.ConfigurableResource):
    """Business settings: allowed centers, reporting time zone and thresholds.

    Each field is the text of the setting of `config.AJUSTES` whose `campo` it is named after,
    read through that setting's own parser (so bounds and messages are the table's)."""

    centros: str
    zona_horaria: str
    umbral_nivel_servicio: str
    abandono_corto: str
    ventana_rellamada_horas: str
    max_tasa_rechazo: str
    volumen_minimo: str
    volumen_pico: str
    menu_umbral_problema: str
    objetivo_nivel_servicio: str
    ausentismo: str
    margen_en_riesgo: str
    tramos_espera: str
    ui_url: str

    def _valor(self, campo: str):
        return config.por_campo(campo).convertir(getattr(self, campo))

    def centros_permitidos(self) -> list[str]:
        return list(self._valor("centros"))

    def zona(self) -> str:
        return self._valor("zona_horaria")

    def umbral_espera_segundos(self) -> float:
        return self._valor("umbral_nivel_servicio")

    def abandono_corto_segundos(self) -> float:
        return self._valor("abandono_corto")

    def ventana_rellamada(self) -> int:
        return self._valor("ventana_rellamada_horas")

    def tasa_rechazo_maxima(self) -> float:
        return self._valor("max_tasa_rechazo")

    def volumen_minimo_fraccion(self) -> float:
        return self._valor("volumen_minimo")

    def volumen_pico_factor(self) -> float:
        return self._valor("volumen_pico")

    def umbral_menu_problema(self) -> float:
        return self._valor("menu_umbral_problema")

    def objetivo(self) -> float:
        return self._valor("objetivo_nivel_servicio")

    def fraccion_ausentismo(self) -> float:
        return self._valor("ausentismo")

    def margen_riesgo(self) -> float:
        return self._valor("margen_en_riesgo")

    def limites_espera(self) -> tuple[float, ...]:
        return self._valor("tramos_espera")


def _from_env(name: str) -> dg.EnvVar | str | None:
    """`dg.EnvVar(name)` when the variable is set (resolved at run time, shown by name in the
    UI), else the table's default."""
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else config.ajuste(name).defecto


def build_resources() -> dict[str, dg.ConfigurableResource]:
    ajustes = {campo: _from_env(config.por_campo(campo).nombre) for campo in PipelineSettings.model_fields}
    return {
        "ivr": IvrResource(url=_from_env("IACT_IVR_URL")),
        "warehouse": WarehouseResource(url=_from_env("IACT_WAREHOUSE_URL")),
        "settings": PipelineSettings(**ajustes),
    }
