"""Configuration: every setting the platform reads from the environment, declared once.

`AJUSTES` is the one table: each setting's variable, default, parser, bounds and description.
It feeds `load_settings` (code outside Dagster), the Dagster resources (`resources.py` fills
their fields with `dg.EnvVar` and reads them through the same parsers), the CLI's fail-early
guard (`validar`, every setting before any command) and the README (`tabla_markdown`).
Nothing here reads the environment when imported: a setting is read when its value is asked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from iact_pipelines.plataforma.markdown import tabla_md
from iact_pipelines.plataforma.secretos import redact

PROJECT_ROOT = Path(__file__).resolve().parents[2]

CENTRO_NACIONAL = "19028031"
CENTRO_PUEBLA = "19020084"

_CENTRO_RE = re.compile(r"^\d{8}$")
_URL_RE = re.compile(r"^postgres(ql)?(\+\w+)?://")


class ConfigError(ValueError):
    """A configuration mistake, reported to a person as one line."""


# Parsers: (setting name, raw text) -> value, or ConfigError with one line naming the setting.


def parse_url(name: str, raw: str) -> str:
    if not _URL_RE.match(raw):
        raise ConfigError(f"{name}: {redact(raw)!r} no es una URL postgresql://")
    return raw


def parse_ruta(name: str, raw: str) -> Path:
    return Path(raw).expanduser().resolve()


def parse_direccion(name: str, raw: str) -> str:
    """A web address, its trailing slash dropped so that `/runs/...` can be appended."""
    return raw.rstrip("/")


def parse_centros(name: str, raw: str) -> tuple[str, ...]:
    centros = tuple(c.strip() for c in raw.split(",") if c.strip())
    if not centros:
        raise ConfigError(f"{name} está vacío: indique al menos un código de centro de 8 dígitos")
    bad = [c for c in centros if not _CENTRO_RE.match(c)]
    if bad:
        raise ConfigError(
            f"{name}: código de centro desconocido {bad[0]!r} (se esperan 8 dígitos, p. ej. {CENTRO_NACIONAL})"
        )
    return centros


def parse_zona(name: str, raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}: zona horaria desconocida {raw!r} (p. ej. America/Mexico_City)") from None
    return raw


def parse_clientes_anonimos(name: str, raw: str) -> tuple[str, ...]:
    """The placeholders, trimmed and in lower case."""
    return tuple(dict.fromkeys(p.strip().lower() for p in raw.split(",") if p.strip()))


EJECUTORES = ("en_proceso", "multiproceso", "celery")


def parse_ejecutor(name: str, raw: str) -> str:
    valor = raw.strip().lower()
    if valor not in EJECUTORES:
        raise ConfigError(f"{name}: {raw!r} no es un ejecutor (uno de: {', '.join(EJECUTORES)})")
    return valor


def parse_url_cola(name: str, raw: str) -> str:
    """A Celery broker or result backend address (amqp://, pyamqp://, redis://, rpc://)."""
    if not re.match(r"^(py)?amqps?://|^rediss?://|^rpc://", raw):
        raise ConfigError(f"{name}: {redact(raw)!r} no es una dirección amqp://, redis:// o rpc://")
    return raw


def parse_nombre_cola(name: str, raw: str) -> str:
    """A queue name: letters, digits, '.', '_' and '-' (it is also a routing key)."""
    valor = raw.strip()
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", valor):
        raise ConfigError(f"{name}: {raw!r} no es un nombre de cola (letras, dígitos, '.', '_' o '-')")
    return valor


def parse_fecha(name: str, raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} no es una fecha (AAAA-MM-DD)") from None


def parse_number(name: str, raw: str) -> float:
    """A number within the closed bounds the table gives the setting."""
    low, high = ajuste(name).limites
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} no es un número") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: {value} está fuera de {low}..{high}")
    return value


def parse_entero(name: str, raw: str) -> int:
    """A count (days, seconds, megabytes): a number within its bounds, its fraction dropped."""
    return int(parse_number(name, raw))


def parse_tramos(name: str, raw: str) -> tuple[float, ...]:
    """Upper limits of the wait buckets, seconds: positive, strictly increasing (a last bucket
    above the final limit is implied)."""
    try:
        limites = tuple(float(p) for p in raw.split(",") if p.strip())
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} no es una lista de segundos separados por comas (p. ej. 5,10,20)") from None
    if not limites or limites[0] <= 0 or any(b <= a for a, b in zip(limites, limites[1:], strict=False)):
        raise ConfigError(f"{name}: {raw!r} deben ser segundos positivos en orden creciente (p. ej. 5,10,20)")
    if len(limites) > 30 or limites[-1] > 86400:
        raise ConfigError(f"{name}: a lo sumo 30 límites, el último dentro de un día (86400 s)")
    return limites


def parse_hora(name: str, raw: str) -> tuple[int, int]:
    """A local time of day, HH:MM."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", raw.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ConfigError(f"{name}: {raw!r} no es una hora del día (HH:MM, p. ej. 07:00)")
    return int(m.group(1)), int(m.group(2))


def parse_horas(name: str, raw: str) -> int:
    """Whole hours within the setting's bounds."""
    valor = parse_number(name, raw)
    if valor != int(valor):
        raise ConfigError(f"{name}: {raw!r} no es un número entero de horas")
    return int(valor)


@dataclass(frozen=True)
class Ajuste:
    """One setting: its environment variable, its default text (None: may stay unset), the
    parser of its text, the closed range of a numeric one, and what it does (for the README)."""

    nombre: str
    defecto: str | None
    parser: Callable[[str, str], object]
    descripcion: str
    limites: tuple[float, float] | None = None

    @property
    def campo(self) -> str:
        """The attribute carrying it in `Settings` and `resources.PipelineSettings`."""
        return self.nombre.removeprefix("IACT_").lower()

    def texto(self) -> str | None:
        """The environment's text if set and not blank, else the default."""
        return os.environ.get(self.nombre, "").strip() or self.defecto

    def convertir(self, texto: str | None):
        """The value of `texto` (None stays None: an optional setting left unset)."""
        return None if texto is None else self.parser(self.nombre, texto)

    def valor(self):
        return self.convertir(self.texto())


_SEMANA_S = (0, 7 * 86400)  # session timeouts: a week at most, 0 disables one

AJUSTES: tuple[Ajuste, ...] = (
    Ajuste(
        "IACT_IVR_URL",
        None,
        parse_url,
        "URL de la base IVR de origen, leída siempre en modo solo lectura; "
        "sin valor: la base `ivr` del PostgreSQL embebido",
    ),
    Ajuste(
        "IACT_WAREHOUSE_URL",
        None,
        parse_url,
        "URL del almacén (staging, reportes, buzón, seguimiento ETL); "
        "sin valor: la base `iact` del PostgreSQL embebido",
    ),
    Ajuste(
        "DAGSTER_PG_URL",
        None,
        parse_url,
        "URL del almacenamiento de Dagster (runs, eventos, schedules); "
        "sin valor: la base `dagster` del PostgreSQL embebido",
    ),
    Ajuste(
        "IACT_HOME",
        str(PROJECT_ROOT / ".iact" / "dev"),
        parse_ruta,
        "directorio local del PostgreSQL embebido y de la instancia de Dagster",
    ),
    Ajuste(
        "IACT_CENTROS",
        f"{CENTRO_NACIONAL},{CENTRO_PUEBLA}",
        parse_centros,
        "centros cuyos registros se cargan: códigos de 8 dígitos separados por comas",
    ),
    Ajuste(
        "IACT_ZONA_HORARIA",
        "America/Mexico_City",
        parse_zona,
        "zona horaria de los reportes (nombre IANA): un registro pertenece al día local de su inicio",
    ),
    Ajuste(
        "IACT_PARTICIONES_DESDE",
        "2024-01-01",
        parse_fecha,
        "primer día de las particiones diarias, mensuales y trimestrales (AAAA-MM-DD); sin valor, sobre la "
        "demo embebida (`make dev`): el primer día de la demo",
    ),
    Ajuste(
        "IACT_UMBRAL_NIVEL_SERVICIO",
        "20",
        parse_number,
        "T del nivel de servicio: espera máxima de una llamada atendida a tiempo, en segundos",
        (0, 86400),
    ),
    Ajuste(
        "IACT_OBJETIVO_NIVEL_SERVICIO",
        "80",
        parse_number,
        "X: objetivo de nivel de servicio, porcentaje de llamadas atendidas dentro de T (por centro: `iact objetivos`)",
        (0, 99.99),
    ),
    Ajuste(
        "IACT_AUSENTISMO",
        "0.30",
        parse_number,
        "s: fracción de la plantilla ausente (0 a 0.95); agentes_con_ausentismo = ceil(N ÷ (1 − s))",
        (0, 0.95),
    ),
    Ajuste(
        "IACT_MARGEN_EN_RIESGO",
        "5",
        parse_number,
        "puntos porcentuales por debajo del objetivo en que un día es `en_riesgo` y no `incumple`",
        (0, 100),
    ),
    Ajuste(
        "IACT_TRAMOS_ESPERA",
        "5,10,20,30,60,120,300",
        parse_tramos,
        "límites superiores de los tramos de espera de reportes_esperas, segundos, crecientes (el último tramo: más)",
    ),
    Ajuste(
        "IACT_ABANDONO_CORTO",
        "5",
        parse_number,
        "S: un abandono con espera de hasta S segundos es un abandono corto",
        (0, 3600),
    ),
    Ajuste(
        "IACT_VENTANA_RELLAMADA_HORAS",
        "24",
        parse_horas,
        "H: otra llamada del mismo cliente dentro de H horas es una rellamada, en horas enteras",
        (1, 720),
    ),
    Ajuste(
        "IACT_MAX_TASA_RECHAZO",
        "0.05",
        parse_number,
        "fracción máxima de filas rechazadas de un día (0 a 1); por encima, sus reportes no se reconstruyen",
        (0, 1),
    ),
    Ajuste(
        "IACT_VOLUMEN_MINIMO",
        "0.5",
        parse_number,
        "fracción (0 a 1) de la mediana del mismo día de la semana de las 4 semanas previas por debajo de "
        "la cual un día se retiene",
        (0, 1),
    ),
    # A replayed or doubled day is as wrong as a missing one.
    Ajuste(
        "IACT_VOLUMEN_PICO",
        "1.8",
        parse_number,
        "múltiplo de la misma mediana por encima del cual un día se retiene (un día repetido o duplicado; "
        "0 lo desactiva)",
        (0, 100),
    ),
    Ajuste(
        "IACT_UI_URL",
        "http://127.0.0.1:3000",
        parse_direccion,
        "dirección de la interfaz de Dagster que citan las alertas y los errores de `iact`",
    ),
    Ajuste(
        "IACT_MENU_UMBRAL_PROBLEMA",
        "0.20",
        parse_number,
        "tasa de abandono (0 a 1) desde la cual un menú del IVR es problemático",
        (0, 1),
    ),
    Ajuste(
        "IACT_FRESCURA_HORA",
        "07:00",
        parse_hora,
        "hora local (HH:MM) en que cada activo diario ya debe tener la partición de ayer (check de frescura)",
    ),
    Ajuste(
        "IACT_FUENTE_SIN_CAMBIOS_HORAS",
        "6",
        parse_number,
        "horas que una tabla del IVR puede pasar sin una llamada nueva antes de que falle su check de frescura",
        (1, 720),
    ),
    Ajuste(
        "IACT_PURGA_DIAS",
        "30",
        parse_entero,
        "días que un mensaje vencido del buzón se conserva antes de purgarse",
        (0, 3650),
    ),
    # Placeholders a source writes for "no caller id": staging stores them as NULL, like ''
    # and blanks, so no report counts them as a client.
    Ajuste(
        "IACT_CLIENTES_ANONIMOS",
        "anonymous,anonimo,anónimo,desconocido,unknown,null",
        parse_clientes_anonimos,
        "marcadores de «sin identificador de cliente», separados por comas (sin distinguir mayúsculas): "
        "se guardan como NULL y ningún reporte los cuenta como cliente",
    ),
    # A statement must fit a quarter's report; a lock wait gives a concurrent run of the same
    # partition time to end; an idle open transaction means a hung process holding locks.
    Ajuste(
        "IACT_PG_STATEMENT_TIMEOUT_S",
        "1800",
        parse_entero,
        "duración máxima de una sentencia SQL, en segundos (0: sin límite)",
        _SEMANA_S,
    ),
    Ajuste(
        "IACT_PG_LOCK_TIMEOUT_S",
        "600",
        parse_entero,
        "espera máxima por un bloqueo, en segundos (0: sin límite)",
        _SEMANA_S,
    ),
    Ajuste(
        "IACT_PG_IDLE_TX_TIMEOUT_S",
        "600",
        parse_entero,
        "duración máxima de una transacción abierta e inactiva, en segundos (0: sin límite)",
        _SEMANA_S,
    ),
    # A writer that stopped (a frozen process, a stalled network) must not hold its partitions'
    # readers and the next writer for the idle-transaction or statement timeouts (10 and 30 min):
    # a transaction holding partition locks may pause this long, and a COPY frozen this long is
    # ended by whoever waits for its lock (plataforma/db.py).
    Ajuste(
        "IACT_PG_CARGA_SIN_PROGRESO_S",
        "60",
        parse_entero,
        "tiempo máximo sin progreso de una escritura que bloquea particiones (un COPY detenido o una "
        "pausa dentro de su transacción), en segundos: pasado ese tiempo se termina su sesión y el día queda libre",
        (1, 3600),
    ),
    # PostgreSQL's 4 MB default spills a day's sorts and hash tables to disk and makes the
    # planner pick sort-based plans for the day's aggregates; it is per sort or hash node of a
    # session, so a few at once: 2 GB at most.
    # In-process: a typical day's steps are seconds of work each, and a process per step costs
    # a Python start-up and a definitions load apiece; multiproceso or celery are one setting away.
    Ajuste(
        "IACT_EJECUTOR_DIARIO",
        "en_proceso",
        parse_ejecutor,
        "cómo ejecutan sus pasos los runs que lanza el daemon (el job `diario`, los runs de los sensores, "
        "las materializaciones y backfills de la UI): "
        "`en_proceso` (todos en el proceso del run), `multiproceso` (un proceso por paso) o `celery` "
        "(workers de dagster-celery en IACT_CELERY_BROKER); `iact materializar` siempre en proceso",
    ),
    Ajuste(
        "IACT_CELERY_BROKER",
        "pyamqp://guest@127.0.0.1:5672//",
        parse_url_cola,
        "broker de Celery (RabbitMQ) del que toman pasos los workers con IACT_EJECUTOR_DIARIO=celery",
    ),
    Ajuste(
        "IACT_CELERY_BACKEND",
        "redis://127.0.0.1:6379/0",
        parse_url_cola,
        "backend de resultados de Celery (Redis) con IACT_EJECUTOR_DIARIO=celery",
    ),
    Ajuste(
        "IACT_CELERY_COLA",
        "dagster",
        parse_nombre_cola,
        "cola del broker de la que toman pasos los workers (`-Q` del worker): dos despliegues que comparten "
        "broker usan colas distintas",
    ),
    Ajuste(
        "IACT_PG_WORK_MEM_MB",
        "64",
        parse_entero,
        "memoria de cada ordenamiento o tabla hash de una sesión (work_mem), en MB",
        (4, 2048),
    ),
)

_POR_NOMBRE = {a.nombre: a for a in AJUSTES}
_POR_CAMPO = {a.campo: a for a in AJUSTES}


def ajuste(nombre: str) -> Ajuste:
    return _POR_NOMBRE[nombre]


def por_campo(campo: str) -> Ajuste:
    return _POR_CAMPO[campo]


def valor(nombre: str):
    """The parsed value of one setting, read from the environment now."""
    return ajuste(nombre).valor()


def validar() -> None:
    """Parse every setting: ConfigError with one readable line at the first bad one."""
    for a in AJUSTES:
        a.valor()


def _defecto_legible(defecto: str | None) -> str:
    # A default under the project (IACT_HOME's) is shown relative to it, so that the rendered
    # table is the same on every machine.
    if defecto is None:
        return "(sin valor)"
    return f"`{defecto.replace(str(PROJECT_ROOT), '.', 1)}`"


def tabla_markdown() -> str:
    """The settings as a Markdown table (variable | default | description), for the README."""
    filas = [(f"`{a.nombre}`", _defecto_legible(a.defecto), a.descripcion) for a in AJUSTES]
    return tabla_md(["Variable", "Por defecto", "Descripción"], filas)


@dataclass(frozen=True)
class Settings:
    """The settings read outside Dagster resources; each field is the `campo` of its setting."""

    home: Path
    centros: tuple[str, ...]
    zona_horaria: str
    particiones_desde: date
    purga_dias: int
    frescura_hora: tuple[int, int]
    fuente_sin_cambios_horas: float
    ui_url: str


def load_settings() -> Settings:
    """Read and validate the settings of `Settings`; raises ConfigError with one readable line."""
    return Settings(**{f.name: por_campo(f.name).valor() for f in fields(Settings)})
