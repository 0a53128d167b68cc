"""Freshness: a nightly run that never happened, or a source that stopped changing, is an alert.

Each daily asset must have yesterday's partition by a local deadline (`IACT_FRESCURA_HORA`,
07:00 in the reporting time zone: `build_time_partition_freshness_checks` judges that exact
partition, so a backfill of an old day cannot make it pass, as a `FreshnessPolicy` on the
latest materialization would). Each `ivr/*` table must show a new latest call start within
`IACT_FUENTE_SIN_CAMBIOS_HORAS` (the observations carry `dagster/last_updated_timestamp`).
The `frescura` sensor evaluates the checks when Dagster's own rule says they may have changed (and
a run that builds the assets evaluates them after it); `alertas_frescura` turns a failed one into one
inbox alert per asset and local day to each active admin, with its RUNBOOK section.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
from dagster._core.definitions.asset_checks.asset_check_factories.freshness_checks.sensor import (
    MAXIMUM_RUNTIME_SECONDS,
    freshness_checks_get_evaluations_iter,
)
from dagster_shared.utils.warnings import SupersessionWarning

from iact_pipelines.buzon import mensajes
from iact_pipelines.plataforma import config
from iact_pipelines.plataforma.resources import PipelineSettings, WarehouseResource

SECCION_RUNBOOK = "Un dato no llegó a tiempo"
_PRIORIDAD = "high"

# Dagster's verdicts of its freshness checks (no parameter replaces them), passed or not, in Spanish.
_VEREDICTOS = [
    (re.compile(p), r)
    for p, r in (
        (
            r"The asset has never been observed/materialized\. We currently expect partition (\S+) to have arrived\.",
            r"El activo nunca se materializó: a esta hora debía estar la partición \1.",
        ),
        (
            r"Asset is currently fresh, since partition (\S+) has been observed/materialized\.",
            r"El activo está al día: la partición \1 ya se materializó.",
        ),
        (
            r"Asset is currently fresh\. The last update was (.+?) ago, within the allowed time range of (.+)\.",
            r"El activo está al día: su último cambio fue hace \1, dentro del margen de \2.",
        ),
        (r"Asset has never been observed/materialized\.", "El activo nunca se observó ni se materializó."),
        (
            r"Asset is overdue for an update\. The last update was (.+?) ago, which is past the allowed "
            r"distance of (.+?) ago\.",
            r"El activo está atrasado: su último cambio fue hace \1, más que el margen de \2.",
        ),
        (
            r"Asset is overdue\. We expected partition (\S+) to have arrived, and it has not\.",
            r"El activo está atrasado: debía estar la partición \1 y no está.",
        ),
        (
            r"Partition (\S+) is overdue\. Expected the partition to arrive within the last (.+)\.",
            r"La partición \1 está atrasada: debía llegar en los últimos \2.",
        ),
        (
            r"Asset is overdue\. Expected an update within the last (.+)\.",
            r"El activo está atrasado: se esperaba un cambio en los últimos \1.",
        ),
        (
            r"Asset is in an unknown state\. Expected an update within the last (.+?), but .*",
            r"Estado desconocido: se esperaba un cambio en los últimos \1 y no llegó ninguna observación en ese tiempo.",
        ),
        (r"\b(\d+) days?\b", r"\1 día(s)"),
        (r"\b(\d+) hours?\b", r"\1 hora(s)"),
        (r"\b(\d+) minutes?\b", r"\1 minuto(s)"),
        (r"\b(\d+) seconds?\b", r"\1 segundo(s)"),
    )
]


def veredicto(descripcion: str | None) -> str:
    """A freshness check's verdict in Spanish (Dagster writes it in English)."""
    texto = descripcion or ""
    for patron, reemplazo in _VEREDICTOS:
        texto = patron.sub(reemplazo, texto)
    return texto


def checks(diarios: list, fuentes: list) -> list[dg.AssetChecksDefinition]:
    """The freshness checks of the daily assets and of the IVR source tables.

    Dagster 1.13 marks these builders superseded by `FreshnessPolicy`, which judges only the
    latest materialization of any partition (a backfill of an old day would make it pass): the
    per-partition deadline is what this platform needs, so they are kept, their notice silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SupersessionWarning)
        return _checks(diarios, fuentes)


_DESCRIPCION = "Frescura del activo: su última partición o su último cambio llegaron a tiempo."


def _en_espanol(checks_def: dg.AssetChecksDefinition) -> dg.AssetChecksDefinition:
    """The same check, its description and its results' texts in Spanish: Dagster's builders
    write both in English and take no parameter for them. Its rule, its metadata (the freshness
    sensor reads them) and its check keys stay Dagster's."""
    regla = checks_def.node_def.compute_fn.decorated_fn

    @dg.multi_asset_check(
        specs=[spec._replace(description=_DESCRIPCION) for spec in checks_def.check_specs],
        can_subset=True,
        name=checks_def.node_def.name,
    )
    def _check(context):
        for resultado in regla(context):
            yield dg.AssetCheckResult(
                passed=resultado.passed,
                asset_key=resultado.asset_key,
                check_name=resultado.check_name,
                metadata=resultado.metadata,
                severity=resultado.severity,
                description=veredicto(resultado.description),
            )

    return _check


def _checks(diarios: list, fuentes: list) -> list[dg.AssetChecksDefinition]:
    ajustes = config.load_settings()
    hora, minuto = ajustes.frescura_hora
    de_dagster = [
        *dg.build_time_partition_freshness_checks(
            assets=diarios,
            deadline_cron=f"{minuto} {hora} * * *",
            timezone=ajustes.zona_horaria,
            severity=dg.AssetCheckSeverity.ERROR,
        ),
        *dg.build_last_update_freshness_checks(
            assets=fuentes,
            lower_bound_delta=timedelta(hours=ajustes.fuente_sin_cambios_horas),
            severity=dg.AssetCheckSeverity.ERROR,
        ),
    ]
    return [_en_espanol(c) for c in de_dagster]


class _ContextoCallado:
    """The sensor's context with Dagster's per-check reasoning lowered to DEBUG: it would write
    one English INFO line per check at every tick, most of them to say it skipped it."""

    def __init__(self, context: dg.SensorEvaluationContext):
        self._context = context
        self.log = SimpleNamespace(info=context.log.debug, debug=context.log.debug)

    def __getattr__(self, nombre: str):
        return getattr(self._context, nombre)


def sensor_de_checks(checks_frescura: list[dg.AssetChecksDefinition]) -> dg.SensorDefinition:
    """The freshness checks' sensor: Dagster's own choice of which checks are due (never run,
    fresh no longer, failed and since updated), at most 35 s a tick (it resumes from its cursor),
    and one Spanish line when it launches an evaluation; silent otherwise."""

    @dg.sensor(
        name="frescura",
        minimum_interval_seconds=300,
        asset_selection=dg.AssetSelection.checks(*checks_frescura),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Evalúa los checks de frescura que pueden haber cambiado: nunca evaluados, o cuya "
        "hora límite llegó, o fallidos cuyo activo se actualizó después.",
    )
    def frescura(context: dg.SensorEvaluationContext):
        inicio = datetime.now().astimezone()
        pendiente = dg.AssetCheckKey.from_user_string(context.cursor) if context.cursor else None
        revision = freshness_checks_get_evaluations_iter(
            context=_ContextoCallado(context),
            start_time=inicio,
            left_off_asset_check_key=pendiente,
            freshness_checks=checks_frescura,
        )
        por_evaluar = []
        clave, evaluar = next(revision, (None, False))
        while clave is not None and (datetime.now().astimezone() - inicio).total_seconds() < MAXIMUM_RUNTIME_SECONDS:
            if evaluar:
                por_evaluar.append(clave)
            clave, evaluar = next(revision, (None, False))
        context.update_cursor(clave.to_user_string() if clave else None)
        if not por_evaluar:
            return dg.SkipReason("ningún check de frescura por evaluar")
        context.log.info(
            f"{len(por_evaluar)} check(s) de frescura por evaluar: "
            + ", ".join(sorted(k.asset_key.to_user_string() for k in por_evaluar))
        )
        return dg.RunRequest(asset_check_keys=por_evaluar)

    return frescura


def _claves(checks_frescura: list[dg.AssetChecksDefinition]) -> list[dg.AssetCheckKey]:
    return [clave for definicion in checks_frescura for clave in definicion.check_keys]


def alertar(
    instance: dg.DagsterInstance, conn: psycopg.Connection, claves: list[dg.AssetCheckKey], zona: str, ui_url: str
) -> int:
    """One alert per failed freshness check, asset and local day, to each active admin (the
    dedupe key makes every later tick of the same day write nothing); returns rows written."""
    ultimas = instance.event_log_storage.get_latest_asset_check_execution_by_key(claves)
    escritas = 0
    for clave, registro in sorted(ultimas.items(), key=lambda kv: kv[0].to_user_string()):
        if registro.status.value != "FAILED" or registro.event is None:
            continue
        evaluacion = registro.event.dagster_event.event_specific_data
        activo = clave.asset_key.to_user_string()
        dia = datetime.fromtimestamp(registro.create_timestamp, ZoneInfo(zona)).date().isoformat()
        escritas += mensajes.alerta_a_admins(
            conn,
            asunto=f"[{_PRIORIDAD.upper()}] {activo}: sin datos frescos ({dia})",
            cuerpo="\n".join(
                [
                    f"El check de frescura de {activo} falló el {dia}.",
                    # (evaluations stored before the checks spoke Spanish are in English)
                    veredicto(evaluacion.description),
                    f"Activo: {ui_url}/assets/{'/'.join(clave.asset_key.path)}",
                    f'Qué hacer: docs/RUNBOOK.md, sección "{SECCION_RUNBOOK}".',
                ]
            ),
            prioridad=_PRIORIDAD,
            metadata={"activo": activo, "check": clave.name, "dia": dia, "run_id": registro.run_id},
            dedupe_key=f"frescura:{activo}:{dia}",
        )
    return escritas


def sensor_de_alertas(checks_frescura: list[dg.AssetChecksDefinition]) -> dg.SensorDefinition:
    claves = _claves(checks_frescura)

    @dg.sensor(
        name="alertas_frescura",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Escribe en el buzón de cada administrador activo una alerta por activo y día sin datos frescos.",
    )
    def alertas_frescura(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, settings: PipelineSettings):
        with warehouse.connect() as conn, conn.transaction():
            escritas = alertar(context.instance, conn, claves, settings.zona(), settings.ui_url)
        return dg.SkipReason(f"{escritas} alertas de frescura escritas")

    return alertas_frescura
