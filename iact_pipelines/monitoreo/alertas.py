"""Failure alerts in the internal inbox: one `internal_messages` row per active admin.

An alert is a system message (`created_by_system`, no sender, type `alert`) whose
`dedupe_key` is `run-failure:<run_id>`: the unique index on (recipient_id, dedupe_key) makes
writing it again a no-op, which is what lets the sensor re-process a batch after a crash
without delivering anything twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import psycopg
from dagster._core.storage.tags import PARENT_RUN_ID_TAG, RETRY_NUMBER_TAG, ROOT_RUN_ID_TAG

from iact_pipelines.buzon import mensajes
from iact_pipelines.monitoreo.seguimiento import ResumenRun
from iact_pipelines.plataforma import db, ejecuciones

PRIORIDAD_CRITICA = "critical"
PRIORIDAD_ALTA = "high"
_MAX_ASUNTO = 255
_MAX_LISTA = 10  # steps/assets named in the body; the rest are counted


class SinAdministradores(RuntimeError):
    """There is nobody to deliver an alert to: the tick keeps it (its cursor stays), never drops it.
    `retenidas` holds one line per held alert, for the sensor's log."""

    def __init__(self, mensaje: str, retenidas: list[str] | None = None):
        super().__init__(mensaje)
        self.retenidas = retenidas or [mensaje]


SIN_ADMINISTRADORES = "no hay ningún administrador activo en usuarios"
COMO_CREAR_ADMIN = (
    "cree uno con `iact usuarios crear NOMBRE --admin --clave-stdin` (o `iact demo admin`) o "
    "reactive uno con `iact usuarios activar NOMBRE`; el siguiente tick la entrega"
)


def retenida(que: str) -> str:
    """The sensor's log line for one alert held for lack of an admin."""
    return f"alerta retenida, sin administrador activo: {que}; {COMO_CREAR_ADMIN}"


def avisar_retenidas(log, exc: SinAdministradores, avisadas: list[str]) -> list[str]:
    """Log each held alert's line at WARNING on the first tick that holds it and at DEBUG on
    the later ones (every tick's skip reason in the UI still says it), so an idle terminal
    says it once, not every 15 s; past the first ten new ones, one line counts the rest.
    `avisadas`: what the previous tick returned (kept in the sensor's cursor); returns what to
    keep for the next."""
    huellas = [hashlib.blake2b(linea.encode(), digest_size=6).hexdigest() for linea in exc.retenidas]
    nuevas = 0
    for linea, huella in zip(exc.retenidas, huellas, strict=True):
        nuevas += huella not in avisadas
        (log.warning if huella not in avisadas and nuevas <= _MAX_LISTA else log.debug)(linea)
    if nuevas > _MAX_LISTA:
        log.warning(
            f"… y {nuevas - _MAX_LISTA} alerta(s) retenida(s) más, sin administrador activo; {COMO_CREAR_ADMIN}"
        )
    return huellas


@dataclass(frozen=True)
class Alerta:
    run_id: str
    subject: str
    body: str
    priority: str
    metadata: dict
    dedupe_key: str


def clave_fallo(run_id: str) -> str:
    return f"run-failure:{run_id}"


def enlace_run(ui_url: str, run_id: str) -> str:
    return f"{ui_url.rstrip('/')}/runs/{run_id}"


def _lista(items: list[str]) -> str:
    if len(items) <= _MAX_LISTA:
        return ", ".join(items)
    return ", ".join(items[:_MAX_LISTA]) + f" y {len(items) - _MAX_LISTA} más"


def _reintento(resumen: ResumenRun) -> str | None:
    tags = resumen.tags
    if tags.get(RETRY_NUMBER_TAG):
        intento = int(tags[RETRY_NUMBER_TAG]) + 1
        return (
            f"Intento {intento}: reintento automático de la corrida {tags.get(PARENT_RUN_ID_TAG, '?')} "
            f"(corrida original {tags.get(ROOT_RUN_ID_TAG, '?')}); ya no se reintentará sola."
        )
    if tags.get(PARENT_RUN_ID_TAG):
        return f"Re-ejecución de la corrida {tags[PARENT_RUN_ID_TAG]}."
    return None


def _bloqueantes(resumen: ResumenRun) -> list:
    return [c for c in resumen.checks_fallidos if c.bloqueante and c.severidad == "ERROR"]


# The RUNBOOK section of each cause, by its exact title (a test checks each exists there).
SECCION_FALLO = "Corrida fallida"
SECCION_CRITICA = "Validación crítica"
SECCION_CHECK = "Un check bloquea una partición"
SECCION_VOLUMEN = "Un día con poco volumen"
SECCION_SIN_FUENTE = "La fuente no existe"
# A report step that left out a held day, and a staging step without its IVR database, say so in
# the words of plataforma/ejecuciones.py; a missing IVR table in PostgreSQL's.
_NO_RECONSTRUIDO = ejecuciones.NO_RECONSTRUIDO
_FUENTE_INEXISTENTE = re.compile(r'relation "ivr\.\w+" does not exist|' + re.escape(ejecuciones.SIN_BASE_IVR))


def _clase(resumen: ResumenRun, bloqueado: bool, critica: bool) -> tuple[str, str]:
    """What kind of failure (for the subject) and the RUNBOOK section of its actual cause."""
    errores = "\n".join([*(p.error for p in resumen.pasos_fallidos), resumen.error or ""])
    if critica and _FUENTE_INEXISTENTE.search(errores):
        return "fuente inexistente", SECCION_SIN_FUENTE
    checks = {c.check for c in _bloqueantes(resumen)}
    if bloqueado or _NO_RECONSTRUIDO in errores:
        # volumen holds a day back whole; tasa_rechazo loads it and holds its reports
        volumen = "volumen" in checks or (_NO_RECONSTRUIDO in errores and "tasa_rechazo" not in checks)
        return "check bloqueante", SECCION_VOLUMEN if volumen else SECCION_CHECK
    if critica:
        return "validación crítica", SECCION_CRITICA
    return "fallo", SECCION_FALLO


def _asunto(resumen: ResumenRun, prioridad: str, que: str) -> str:
    pasos = [p.paso for p in resumen.pasos_fallidos]
    bloqueantes = _bloqueantes(resumen)
    donde = str(bloqueantes[0]) if bloqueantes else pasos[0] if pasos else (resumen.error or "error de la corrida")
    asunto = f"[{prioridad.upper()}] {resumen.job_name} ({resumen.particion or 'sin partición'}): {que} en {donde}"
    if len(asunto) > _MAX_ASUNTO:
        asunto = asunto[: _MAX_ASUNTO - 1] + "…"
    return asunto


def _lineas_del_fallo(resumen: ResumenRun, critica: bool) -> list[str]:
    """The failed steps (or the run's error), blocking checks and critical validation."""
    lineas = []
    if resumen.pasos_fallidos:
        lineas.append("Pasos fallidos:")
        lineas += [f"  - {p.paso}: {p.error}" for p in resumen.pasos_fallidos[:_MAX_LISTA]]
        if len(resumen.pasos_fallidos) > _MAX_LISTA:
            lineas.append(f"  - y {len(resumen.pasos_fallidos) - _MAX_LISTA} más")
    elif resumen.error:
        lineas.append(f"Error: {resumen.error}")
    bloqueantes = _bloqueantes(resumen)
    if bloqueantes:
        lineas.append(
            "Checks bloqueantes fallidos (los activos de aguas abajo de esa partición no se "
            "construyeron, para no publicar datos malos):"
        )
        lineas += [f"  - {c}" + (f" ({c.detalle})" if c.detalle else "") for c in bloqueantes[:_MAX_LISTA]]
    if critica:
        lineas.append(
            "Validación crítica: la extracción no se pudo validar (columna faltante o tipo "
            "ilegible); no se cargó nada de la partición."
        )
    return lineas


def _cuerpo(resumen: ResumenRun, enlace: str, seccion: str, critica: bool, nota: str | None) -> str:
    lineas = [
        f"La corrida {resumen.run_id} del job {resumen.job_name} falló.",
        f"Partición: {resumen.particion or 'sin partición'}",
        *_lineas_del_fallo(resumen, critica),
    ]
    if resumen.activos_sin_materializar:
        lineas.append(f"Activos no materializados: {_lista(resumen.activos_sin_materializar)}")
    reintento = _reintento(resumen)
    if reintento:
        lineas.append(reintento)
    if nota:
        lineas.append(nota)
    lineas += [
        f"Ver la corrida en Dagster: {enlace}",
        f'Qué hacer: docs/RUNBOOK.md, sección "{seccion}".',
    ]
    return "\n".join(lineas)


def _metadata(resumen: ResumenRun, enlace: str, bloqueado: bool, critica: bool) -> dict:
    return {
        "run_id": resumen.run_id,
        "job": resumen.job_name,
        "partition": resumen.particion,
        "failed_steps": [p.paso for p in resumen.pasos_fallidos],
        "errors": {p.paso: p.error for p in resumen.pasos_fallidos},
        "error": resumen.error,
        "failure_reason": resumen.motivo,
        "failed_checks": [str(c) for c in resumen.checks_fallidos],
        "unmaterialized_assets": resumen.activos_sin_materializar,
        "critical_validation": critica,
        "blocked_by_check": bloqueado,
        "parent_run_id": resumen.tags.get(PARENT_RUN_ID_TAG),
        "root_run_id": resumen.tags.get(ROOT_RUN_ID_TAG),
        "retry_number": int(resumen.tags[RETRY_NUMBER_TAG]) if resumen.tags.get(RETRY_NUMBER_TAG) else None,
        "link": enlace,
    }


def construir_alerta(
    resumen: ResumenRun, ui_url: str, *, validacion_critica: bool = False, nota: str | None = None
) -> Alerta:
    """The message an admin reads: what failed, where, the error, what to open next.

    `validacion_critica`: the run recorded a critical row in etl_validation_errors.
    `nota`: an extra line (e.g. why an expected automatic retry did not happen)."""
    bloqueado = bool(_bloqueantes(resumen)) or any(p.bloqueado_por_check for p in resumen.pasos_fallidos)
    critica = validacion_critica or any(p.severidad == "critical" for p in resumen.pasos_fallidos)
    prioridad = PRIORIDAD_CRITICA if (bloqueado or critica) else PRIORIDAD_ALTA
    enlace = enlace_run(ui_url, resumen.run_id)
    que, seccion = _clase(resumen, bloqueado, critica)
    return Alerta(
        run_id=resumen.run_id,
        subject=_asunto(resumen, prioridad, que),
        body=_cuerpo(resumen, enlace, seccion, critica, nota),
        priority=prioridad,
        metadata=_metadata(resumen, enlace, bloqueado, critica),
        dedupe_key=clave_fallo(resumen.run_id),
    )


_VALIDACION_CRITICA = """
SELECT DISTINCT run_id FROM etl_validation_errors
WHERE run_id = ANY(%s) AND severity = 'critical'
"""


def runs_con_validacion_critica(conn: psycopg.Connection, run_ids: list[str]) -> set[str]:
    """The runs that recorded a critical validation error (the frame itself was unusable)."""
    if not run_ids:
        return set()
    return {row[0] for row in conn.execute(_VALIDACION_CRITICA, (run_ids,))}


def escribir_alertas(conn: psycopg.Connection, alertas: list[Alerta]) -> int:
    """Deliver each alert to every active admin (idempotent); returns the rows written.

    Raises SinAdministradores when there are alerts and no active admin: run it inside the
    caller's transaction so nothing is half-written and the sensor's cursor stays put."""
    if not alertas:
        return 0
    if mensajes.admins_activos(conn) == 0:
        ejemplo = alertas[0]
        raise SinAdministradores(
            f"{SIN_ADMINISTRADORES}: {len(alertas)} alerta(s) de fallo retenida(s) "
            f"(la primera: run {ejemplo.run_id}, {ejemplo.subject!r}); {COMO_CREAR_ADMIN}",
            [retenida(f"{db.redact(a.subject)} (run {a.run_id})") for a in alertas],
        )
    return sum(
        mensajes.alerta_a_admins(
            conn,
            asunto=db.redact(a.subject),
            cuerpo=db.redact(a.body),
            prioridad=a.priority,
            metadata=json.loads(db.redact(json.dumps(a.metadata))),
            dedupe_key=a.dedupe_key,
        )
        for a in alertas
    )
