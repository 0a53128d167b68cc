"""Configuration: every setting the platform reads from the environment, with its default.

The table here is the single source for names and defaults; the README documents it and
`definitions.py` hands the values to Dagster resources through `dg.EnvVar` when they are set.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parents[2]

CENTRO_NACIONAL = "19028031"
CENTRO_PUEBLA = "19020084"

# name -> default (None: no default, an existing server is optional)
DEFAULTS: dict[str, str | None] = {
    "IACT_IVR_URL": None,
    "IACT_WAREHOUSE_URL": None,
    "DAGSTER_PG_URL": None,
    "IACT_HOME": str(PROJECT_ROOT / ".iact" / "dev"),
    "IACT_CENTROS": f"{CENTRO_NACIONAL},{CENTRO_PUEBLA}",
    "IACT_ZONA_HORARIA": "America/Mexico_City",
    "IACT_PARTICIONES_DESDE": "2024-01-01",
    "IACT_UMBRAL_NIVEL_SERVICIO": "20",
    "IACT_ABANDONO_CORTO": "5",
    "IACT_VENTANA_RELLAMADA_HORAS": "24",
    "IACT_MAX_TASA_RECHAZO": "0.05",
    "IACT_VOLUMEN_MINIMO": "0.5",
    "IACT_UI_URL": "http://127.0.0.1:3000",
    "IACT_MENU_UMBRAL_PROBLEMA": "0.20",
    "IACT_PURGA_DIAS": "30",
    # Placeholders a source writes for "no caller id" (comma-separated, any case): staging
    # stores them as NULL, like '' and blanks, so no report counts them as a client.
    "IACT_CLIENTES_ANONIMOS": "anonymous,anonimo,anónimo,desconocido,unknown,null",
    # Session timeouts of every connection (seconds; 0 disables one). A statement must fit a
    # quarter's report; a lock wait gives a concurrent run of the same partition time to end;
    # an idle open transaction means a hung process holding locks.
    "IACT_PG_STATEMENT_TIMEOUT_S": "1800",
    "IACT_PG_LOCK_TIMEOUT_S": "600",
    "IACT_PG_IDLE_TX_TIMEOUT_S": "600",
    # work_mem of every session (MB). PostgreSQL's 4 MB default spills a day's sorts and hash
    # tables to disk and makes the planner pick sort-based plans for the day's aggregates.
    "IACT_PG_WORK_MEM_MB": "64",
}

# The numeric settings and the closed range each must fall in: the one bounds table, used by
# `load_settings` and by the Dagster resources alike.
LIMITES: dict[str, tuple[float, float]] = {
    "IACT_UMBRAL_NIVEL_SERVICIO": (0, 86400),
    "IACT_MAX_TASA_RECHAZO": (0, 1),
    "IACT_MENU_UMBRAL_PROBLEMA": (0, 1),
    "IACT_PURGA_DIAS": (0, 3650),
    "IACT_ABANDONO_CORTO": (0, 3600),
    "IACT_VOLUMEN_MINIMO": (0, 1),
    "IACT_VENTANA_RELLAMADA_HORAS": (1, 720),
    # Session timeouts in seconds (0 = off): a week at most.
    "IACT_PG_STATEMENT_TIMEOUT_S": (0, 7 * 86400),
    "IACT_PG_LOCK_TIMEOUT_S": (0, 7 * 86400),
    "IACT_PG_IDLE_TX_TIMEOUT_S": (0, 7 * 86400),
    # Per sort or hash node of a session, so a few at once: from PostgreSQL's default to 2 GB.
    "IACT_PG_WORK_MEM_MB": (4, 2048),
}

_CENTRO_RE = re.compile(r"^\d{8}$")


class ConfigError(ValueError):
    """A configuration mistake, reported to a person as one line."""


def env(name: str) -> str | None:
    """The value of a setting: the environment's if set and not empty, else its default."""
    value = os.environ.get(name, "").strip()
    return value if value else DEFAULTS[name]


def parse_centros(raw: str) -> tuple[str, ...]:
    centros = tuple(c.strip() for c in raw.split(",") if c.strip())
    if not centros:
        raise ConfigError("IACT_CENTROS is empty: give at least one 8-digit center code")
    bad = [c for c in centros if not _CENTRO_RE.match(c)]
    if bad:
        raise ConfigError(f"IACT_CENTROS: unknown center code {bad[0]!r} (expected 8 digits, e.g. {CENTRO_NACIONAL})")
    return centros


def parse_zona(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"IACT_ZONA_HORARIA: unknown time zone {raw!r} (e.g. America/Mexico_City)") from None
    return raw


def parse_clientes_anonimos(raw: str) -> tuple[str, ...]:
    """IACT_CLIENTES_ANONIMOS: the placeholders, trimmed and in lower case."""
    return tuple(dict.fromkeys(p.strip().lower() for p in (raw or "").split(",") if p.strip()))


def parse_fecha(name: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a date (YYYY-MM-DD)") from None


def parse_number(name: str, raw: str) -> float:
    """A numeric setting, checked against its range in LIMITES."""
    low, high = LIMITES[name]
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: {value} is outside {low}..{high}")
    return value


def parse_horas(raw: str) -> int:
    """IACT_VENTANA_RELLAMADA_HORAS: whole hours, 1 to 720 (30 days)."""
    valor = parse_number("IACT_VENTANA_RELLAMADA_HORAS", raw)
    if valor != int(valor):
        raise ConfigError(f"IACT_VENTANA_RELLAMADA_HORAS: {raw!r} is not a whole number of hours")
    return int(valor)


@dataclass(frozen=True)
class Settings:
    home: Path
    centros: tuple[str, ...]
    zona_horaria: str
    particiones_desde: date
    umbral_nivel_servicio: float
    abandono_corto: float
    ventana_rellamada_horas: int
    max_tasa_rechazo: float
    menu_umbral_problema: float
    purga_dias: int
    ui_url: str


def load_settings() -> Settings:
    """Read and validate every non-connection setting; raises ConfigError with one readable line."""
    return Settings(
        home=Path(env("IACT_HOME")).expanduser().resolve(),
        centros=parse_centros(env("IACT_CENTROS")),
        zona_horaria=parse_zona(env("IACT_ZONA_HORARIA")),
        particiones_desde=parse_fecha("IACT_PARTICIONES_DESDE", env("IACT_PARTICIONES_DESDE")),
        umbral_nivel_servicio=parse_number("IACT_UMBRAL_NIVEL_SERVICIO", env("IACT_UMBRAL_NIVEL_SERVICIO")),
        abandono_corto=parse_number("IACT_ABANDONO_CORTO", env("IACT_ABANDONO_CORTO")),
        ventana_rellamada_horas=parse_horas(env("IACT_VENTANA_RELLAMADA_HORAS")),
        max_tasa_rechazo=parse_number("IACT_MAX_TASA_RECHAZO", env("IACT_MAX_TASA_RECHAZO")),
        menu_umbral_problema=parse_number("IACT_MENU_UMBRAL_PROBLEMA", env("IACT_MENU_UMBRAL_PROBLEMA")),
        purga_dias=int(parse_number("IACT_PURGA_DIAS", env("IACT_PURGA_DIAS"))),
        ui_url=env("IACT_UI_URL").rstrip("/"),
    )
