"""`etl_jobs`: the mirror of Dagster runs (lifecycle, record counts) in the warehouse.

`resumir_run` reads what a run did from Dagster's run storage and event log (status, times,
partition, record counts from materialization metadata, failed steps and checks);
`registrar_run` upserts it into `etl_jobs` by run id without ever moving a row backwards
(pending -> running -> completed/failed/cancelled). The failure alerts (`alertas.py`) reuse
the same summary.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg
import psycopg
from dagster._core.events import DagsterEventType
from dagster._core.storage.dagster_run import RunRecord
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster._utils.error import SerializableErrorInfo

from iact_pipelines.plataforma import db
from iact_pipelines.plataforma.ejecuciones import CLAVE_SEVERIDAD

_ESTADO_ETL = {
    dg.DagsterRunStatus.QUEUED: "pending",
    dg.DagsterRunStatus.NOT_STARTED: "pending",
    dg.DagsterRunStatus.MANAGED: "pending",
    dg.DagsterRunStatus.STARTING: "running",
    dg.DagsterRunStatus.STARTED: "running",
    # Still running until the cancellation lands (RUN_CANCELED).
    dg.DagsterRunStatus.CANCELING: "running",
    dg.DagsterRunStatus.SUCCESS: "completed",
    dg.DagsterRunStatus.FAILURE: "failed",
    dg.DagsterRunStatus.CANCELED: "cancelled",
}

# Materialization metadata keys the assets emit -> etl_jobs columns.
CLAVES_REGISTROS = {
    "registros_extraidos": "records_extracted",
    "registros_transformados": "records_transformed",
    "registros_cargados": "records_loaded",
    "registros_fallidos": "records_failed",
}

REGISTROS_REPORTES = "records_reported"
_PREFIJO_REPORTES = "reportes/"

_EVENTOS_RESUMEN = {
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    DagsterEventType.ASSET_CHECK_EVALUATION,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.RUN_FAILURE,
    DagsterEventType.RUN_CANCELED,
}

_ERROR_CHECK_BLOQUEANTE = "DagsterAssetCheckFailedError"
_ENVOLTURA_PASO = "DagsterExecutionStepExecutionError"
_REINTENTO = "RetryRequested"  # a step whose retries ran out: the cause is what failed
_MAX_TRAZA = 8000
_MAX_DETALLE = 8


@dataclass(frozen=True)
class PasoFallido:
    paso: str
    clase: str
    error: str  # first line, what a person reads
    severidad: str | None = None  # 'critical' when the step said so (dg.Failure metadata)

    @property
    def bloqueado_por_check(self) -> bool:
        return self.clase == _ERROR_CHECK_BLOQUEANTE


@dataclass(frozen=True)
class CheckFallido:
    activo: str
    check: str
    severidad: str  # ERROR / WARN
    bloqueante: bool
    detalle: str = ""  # its description, else its scalar metadata ("tasa_rechazo=0.12, ...")

    def __str__(self) -> str:
        return f"{self.activo}:{self.check}"


@dataclass
class ResumenRun:
    """What a run did, as the mirror and the alerts need it."""

    run_id: str
    job_name: str
    estado: str  # etl_jobs status
    estado_dagster: str
    particion: str | None
    tags: dict[str, str]
    ubicacion: str | None
    started_at: datetime | None
    completed_at: datetime | None
    registros: dict[str, int] = field(default_factory=dict)
    pasos_fallidos: list[PasoFallido] = field(default_factory=list)
    checks_fallidos: list[CheckFallido] = field(default_factory=list)
    activos_sin_materializar: list[str] = field(default_factory=list)
    error: str | None = None  # first line of the error that ended the run
    motivo: str | None = None  # Dagster's failure reason (STEP_FAILURE, RUN_EXCEPTION, ...)
    traza: str | None = None

    @property
    def execution_time_seconds(self) -> float | None:
        if self.started_at is None or self.completed_at is None:
            return None
        return max((self.completed_at - self.started_at).total_seconds(), 0.0)


def particion_de(tags: dict[str, str]) -> str | None:
    """The run's partition, or `start...end` for a one-run range backfill."""
    if tags.get(PARTITION_NAME_TAG):
        return tags[PARTITION_NAME_TAG]
    inicio, fin = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if inicio and fin:
        return inicio if inicio == fin else f"{inicio}...{fin}"
    return None


def ubicacion_de(run: dg.DagsterRun) -> str | None:
    """The code location that launched the run; None for runs executed in process
    (`dg.materialize`, the CLI)."""
    origen = run.remote_job_origin
    return origen.repository_origin.code_location_origin.location_name if origen else None


def primera_linea(error: SerializableErrorInfo) -> tuple[str, str]:
    """(class, first line) of the error a person should read: the user's exception rather
    than Dagster's wrapper around it; for retries run out, their cause (Dagster's own line,
    "Exceeded max_retries of 3", says nothing about what failed)."""
    agotados = None
    while error.cause is not None and error.cls_name in (_ENVOLTURA_PASO, _REINTENTO):
        if error.cls_name == _REINTENTO:
            agotados = re.search(r"max_retries of (\d+)", error.message or "")
        error = error.cause
    lineas = (error.message or "").strip().splitlines()
    linea = lineas[0] if lineas else error.cls_name or "error"
    nombre, sep, resto = linea.partition(": ")
    if sep and error.cls_name and nombre.endswith(error.cls_name):
        # "dagster._core.definitions.events.Failure: x" -> "Failure: x"
        linea = f"{error.cls_name}: {resto}"
    if agotados:
        linea += f" (tras {agotados.group(1)} reintentos)"
    return error.cls_name or "", linea


def _traza(error: SerializableErrorInfo) -> str:
    while error.cls_name == _ENVOLTURA_PASO and error.cause is not None:
        error = error.cause
    texto = "".join(error.stack or []) + (error.message or "")
    return texto[-_MAX_TRAZA:]


def _fecha(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=UTC) if ts is not None else None


def _entero(valor) -> int:
    try:
        return max(int(valor), 0)
    except (TypeError, ValueError):
        return 0


def _detalle(metadata) -> str:
    """Scalar metadata as `k=v, ...` (numbers and short texts only), for a person."""
    partes = []
    for clave, valor in (metadata or {}).items():
        valor = getattr(valor, "value", valor)
        if isinstance(valor, bool) or not isinstance(valor, (int, float, str)):
            continue
        if isinstance(valor, str) and len(valor) > 60:
            continue
        partes.append(f"{clave}={round(valor, 4) if isinstance(valor, float) else valor}")
    return ", ".join(partes[:_MAX_DETALLE])


# Dagster's own words for a step stopped by blocking checks, which an alert quotes in Spanish.
_CHECKS_BLOQUEANTES = re.compile(r"^(\d+) blocking asset checks? failed with ERROR severity:\s*")


def paso_fallido(evento) -> PasoFallido:
    """A failed step as a person reads it: a Failure's own sentence, else the user's error's first line."""
    datos = evento.step_failure_data
    clase, linea = primera_linea(datos.error) if datos.error else ("", "error desconocido")
    if clase == _ERROR_CHECK_BLOQUEANTE:
        # Its first line only says "N blocking asset check failed"; the checks follow.
        texto = " ".join(parte.strip() for parte in (datos.error.message or "").splitlines() if parte.strip())
        linea = _CHECKS_BLOQUEANTES.sub(
            r"\1 check(s) bloqueante(s) fallido(s) con severidad ERROR: ", texto.partition(f"{clase}: ")[2] or texto
        )
    severidad = None
    usuario = datos.user_failure_data
    if usuario is not None:
        if usuario.description:
            linea = usuario.description.strip().splitlines()[0]
        valor = (usuario.metadata or {}).get(CLAVE_SEVERIDAD)
        if valor is not None:
            severidad = str(getattr(valor, "value", valor)).lower()
    return PasoFallido(paso=evento.step_key or "?", clase=clase, error=linea, severidad=severidad)


_MAX_ACTIVOS_EN_NOMBRE = 3


def nombre_del_run(run: dg.DagsterRun, planeados: list[str] = ()) -> str:
    """The run's name for a person: its job's, or for a selection launched from the UI (Dagster's
    hidden `__ASSET_JOB`, or an ad-hoc materialization) the assets it built (its selection,
    else the assets it planned)."""
    if not run.job_name.startswith("__"):
        return run.job_name
    claves = sorted(k.to_user_string() for k in (run.asset_selection or ())) or sorted(planeados)
    if not claves:
        return "materialización de activos"
    nombre = ", ".join(claves[:_MAX_ACTIVOS_EN_NOMBRE])
    if len(claves) > _MAX_ACTIVOS_EN_NOMBRE:
        nombre += f" y {len(claves) - _MAX_ACTIVOS_EN_NOMBRE} más"
    return f"activos: {nombre}"


def _contar_registros(resumen: ResumenRun, evento, materializados: set[str]) -> None:
    """Add a materialization's row counts to the run's, once per asset."""
    clave_activo = evento.asset_key.to_user_string()
    if clave_activo in materializados:
        # A range run records one materialization per partition, each carrying the
        # counts of the whole range: count an asset once per run.
        return
    materializados.add(clave_activo)
    metadata = evento.step_materialization_data.materialization.metadata or {}
    if clave_activo.startswith(_PREFIJO_REPORTES):
        # rows written into report tables, apart from the staging rows loaded
        if "registros_cargados" in metadata:
            valor = getattr(metadata["registros_cargados"], "value", metadata["registros_cargados"])
            resumen.registros[REGISTROS_REPORTES] = resumen.registros.get(REGISTROS_REPORTES, 0) + _entero(valor)
        return
    for clave, columna in CLAVES_REGISTROS.items():
        if clave in metadata:
            valor = getattr(metadata[clave], "value", metadata[clave])
            resumen.registros[columna] = resumen.registros.get(columna, 0) + _entero(valor)


def _check_fallido(evaluacion) -> CheckFallido:
    return CheckFallido(
        activo=evaluacion.asset_key.to_user_string(),
        check=evaluacion.check_name,
        severidad=evaluacion.severity.value,
        bloqueante=bool(evaluacion.blocking),
        # The check's own sentence if it has one, else its figures.
        detalle=(evaluacion.description or "").strip() or _detalle(evaluacion.metadata),
    )


def resumir_run(instance: dg.DagsterInstance, record: RunRecord) -> ResumenRun:
    """Summarize a run from its record and its event log (one query)."""
    run = record.dagster_run
    resumen = ResumenRun(
        run_id=run.run_id,
        job_name=run.job_name,  # a person's name for it once its planned assets are read, below
        estado=_ESTADO_ETL.get(run.status, "running"),
        estado_dagster=run.status.value,
        particion=particion_de(dict(run.tags)),
        tags=dict(run.tags),
        ubicacion=ubicacion_de(run),
        started_at=_fecha(record.start_time),
        completed_at=_fecha(record.end_time) if run.is_finished else None,
    )
    planeados: list[str] = []
    materializados: set[str] = set()
    for entrada in instance.all_logs(run.run_id, of_type=_EVENTOS_RESUMEN):
        evento = entrada.dagster_event
        tipo = evento.event_type
        if tipo == DagsterEventType.ASSET_MATERIALIZATION:
            _contar_registros(resumen, evento, materializados)
        elif tipo == DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            clave = evento.asset_key.to_user_string()
            if clave not in planeados:
                planeados.append(clave)
        elif tipo == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluacion = evento.event_specific_data
            if not evaluacion.passed:
                resumen.checks_fallidos.append(_check_fallido(evaluacion))
        elif tipo == DagsterEventType.STEP_FAILURE:
            resumen.pasos_fallidos.append(paso_fallido(evento))
            if resumen.traza is None and evento.step_failure_data.error:
                resumen.traza = _traza(evento.step_failure_data.error)
        elif tipo == DagsterEventType.RUN_FAILURE:
            datos = evento.event_specific_data
            motivo = getattr(datos, "failure_reason", None)
            resumen.motivo = motivo.value if motivo is not None else None
            if getattr(datos, "error", None) is not None:
                resumen.error = primera_linea(datos.error)[1]
                resumen.traza = resumen.traza or _traza(datos.error)
            else:
                # Failed from outside the steps (worker lost, run monitoring): only a message.
                mensaje = (evento.message or entrada.message or "").strip()
                resumen.error = mensaje.splitlines()[0] if mensaje else None
        elif tipo == DagsterEventType.RUN_CANCELED:
            mensaje = (evento.message or entrada.message or "").strip()
            resumen.error = mensaje.splitlines()[0] if mensaje else "corrida cancelada"
    if resumen.pasos_fallidos:
        # The first failed step says more than the run-level "Steps failed: [...]".
        resumen.error = resumen.pasos_fallidos[0].error
    if resumen.estado == "failed":
        resumen.activos_sin_materializar = [a for a in planeados if a not in materializados]
    resumen.job_name = nombre_del_run(run, planeados)
    return resumen


_REGISTRAR = """
INSERT INTO etl_jobs AS j (
    job_name, run_id, partition_key, status, started_at, completed_at, execution_time_seconds,
    records_extracted, records_transformed, records_loaded, records_failed, records_reported,
    error_message, error_details, metadata
) VALUES (
    %(job_name)s, %(run_id)s, %(partition_key)s, %(status)s, %(started_at)s, %(completed_at)s,
    %(execution_time_seconds)s, %(records_extracted)s, %(records_transformed)s, %(records_loaded)s,
    %(records_failed)s, %(records_reported)s, %(error_message)s, %(error_details)s, %(metadata)s
)
ON CONFLICT (run_id) DO UPDATE SET
    job_name = EXCLUDED.job_name,
    partition_key = COALESCE(EXCLUDED.partition_key, j.partition_key),
    status = EXCLUDED.status,
    started_at = COALESCE(EXCLUDED.started_at, j.started_at),
    completed_at = EXCLUDED.completed_at,
    execution_time_seconds = EXCLUDED.execution_time_seconds,
    records_extracted = EXCLUDED.records_extracted,
    records_transformed = EXCLUDED.records_transformed,
    records_loaded = EXCLUDED.records_loaded,
    records_failed = EXCLUDED.records_failed,
    records_reported = EXCLUDED.records_reported,
    error_message = EXCLUDED.error_message,
    error_details = EXCLUDED.error_details,
    metadata = EXCLUDED.metadata
-- Never backwards: an event processed late (or a re-processed batch) must not turn a finished
-- run back into running, nor a running one into pending.
WHERE j.status = EXCLUDED.status
   OR j.status = 'pending'
   OR (j.status = 'running' AND EXCLUDED.status <> 'pending')
RETURNING id
"""


def fila_etl(resumen: ResumenRun) -> dict:
    """The etl_jobs row of a run summary."""
    detalles: dict = {}
    if resumen.estado in ("failed", "cancelled"):
        detalles = {
            "motivo": resumen.motivo,
            "pasos_fallidos": [
                {"paso": p.paso, "clase": p.clase, "error": p.error, "severidad": p.severidad}
                for p in resumen.pasos_fallidos
            ],
            "checks_fallidos": [
                {
                    "activo": c.activo,
                    "check": c.check,
                    "severidad": c.severidad,
                    "bloqueante": c.bloqueante,
                    "detalle": c.detalle,
                }
                for c in resumen.checks_fallidos
            ],
            "activos_sin_materializar": resumen.activos_sin_materializar,
            "traza": resumen.traza,
        }
    metadata = {
        "run_id": resumen.run_id,
        "particion": resumen.particion,
        "estado_dagster": resumen.estado_dagster,
        "ubicacion": resumen.ubicacion,
        "tags": resumen.tags,
    }
    return {
        "job_name": resumen.job_name[:200],
        "run_id": resumen.run_id,
        "partition_key": resumen.particion[:100] if resumen.particion else None,
        "status": resumen.estado,
        "started_at": resumen.started_at,
        "completed_at": resumen.completed_at,
        "execution_time_seconds": resumen.execution_time_seconds,
        **{columna: resumen.registros.get(columna, 0) for columna in (*CLAVES_REGISTROS.values(), REGISTROS_REPORTES)},
        "error_message": db.redact(resumen.error)
        if resumen.estado in ("failed", "cancelled") and resumen.error
        else None,
        "error_details": db.redact(json.dumps(detalles)),
        "metadata": json.dumps(metadata),
    }


def registrar_run(conn: psycopg.Connection, resumen: ResumenRun) -> int | None:
    """Upsert the run's etl_jobs row; returns its id, or None when the row already holds a
    later state (nothing changed)."""
    row = conn.execute(_REGISTRAR, fila_etl(resumen)).fetchone()
    return row[0] if row else None
