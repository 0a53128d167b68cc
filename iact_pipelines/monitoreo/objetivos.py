"""Target-miss alerts: a center's day that misses its service-level target (reportes_cumplimiento,
`cumple` false) is one inbox alert to each active admin.

The `alertas_objetivo` sensor reads the verdicts built since its cursor (less an hour: a
transaction that committed late with an earlier `created_at` is still seen) and writes them with
`mensajes.alerta_a_admins`, like every system alert: the dedupe key `objetivo:<center>:<day>` and
the unique index on (recipient_id, dedupe_key) make it exactly once per center, day and admin
across re-runs, restarts and ticks that see a verdict twice. A re-run of the day still below
target writes nothing more; one that turns it into `cumple` leaves no missed row to alert on.
With no active admin the tick logs one line per held alert (once: later ticks at DEBUG) and keeps
its position, so nothing is lost.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import dagster as dg
import psycopg

from iact_pipelines.buzon import mensajes
from iact_pipelines.monitoreo import alertas
from iact_pipelines.plataforma.resources import PipelineSettings, WarehouseResource

SECCION_RUNBOOK = "Un centro no cumplió su objetivo de nivel de servicio"
_PRIORIDAD = {"en_riesgo": "medium", "incumple": "high"}
# The first tick looks back this far; later ticks from their cursor less the overlap.
_PRIMERA_VEZ = timedelta(days=2)
_SOLAPE = timedelta(hours=1)

_INCUMPLIDOS = """
SELECT fecha, centro_id, nivel_servicio, objetivo, umbral_s, estado, peor_racha, peor_racha_inicio,
       intervalos_bajo_objetivo, created_at
FROM reportes_cumplimiento
WHERE NOT cumple AND created_at > %s
ORDER BY created_at, fecha, centro_id
"""

_ENTREGADAS = "SELECT DISTINCT dedupe_key FROM internal_messages WHERE dedupe_key = ANY(%s)"


def clave(centro: str, dia) -> str:
    return f"objetivo:{centro}:{dia.isoformat()}"


def _racha(largo: int, inicio) -> str:
    if not largo:
        return "ninguna"
    fin_min = inicio.hour * 60 + inicio.minute + 15 * largo
    return f"{largo} intervalos de 15 min seguidos, de {inicio:%H:%M} a {fin_min // 60 % 24:02d}:{fin_min % 60:02d}"


def _alerta(conn: psycopg.Connection, fila: tuple, ui_url: str) -> int:
    dia, centro, nivel, objetivo, umbral, estado, racha, inicio, bajo, _ = fila
    prioridad = _PRIORIDAD[estado]
    return mensajes.alerta_a_admins(
        conn,
        asunto=f"[{prioridad.upper()}] Centro {centro}: nivel de servicio {nivel} % bajo el objetivo "
        f"{objetivo} % ({dia})",
        cuerpo="\n".join(
            [
                f"El centro {centro} no cumplió su objetivo de nivel de servicio el {dia} ({estado}).",
                f"Nivel de servicio del día: {nivel} % atendidas dentro de {umbral} s; objetivo: {objetivo} %.",
                f"Intervalos bajo el objetivo: {bajo}; peor racha: {_racha(racha, inicio)}.",
                f"Detalle: reportes_cumplimiento y reportes_dimensionamiento del {dia}; "
                f"activo: {ui_url}/assets/reportes/cumplimiento",
                f'Qué hacer: docs/RUNBOOK.md, sección "{SECCION_RUNBOOK}".',
            ]
        ),
        prioridad=prioridad,
        metadata={
            "centro_id": centro,
            "dia": dia.isoformat(),
            "nivel_servicio": float(nivel),
            "objetivo": float(objetivo),
            "umbral_s": float(umbral),
            "estado": estado,
            "peor_racha": racha,
            "peor_racha_inicio": inicio.strftime("%H:%M") if inicio else None,
        },
        dedupe_key=clave(centro, dia),
    )


def alertar(conn: psycopg.Connection, desde: datetime, ui_url: str) -> tuple[int, datetime | None]:
    """One alert per missed center and day whose verdict was built after `desde`, to each active
    admin; returns (rows written, the latest verdict seen). SinAdministradores when there are
    misses and nobody to tell: run it in the caller's transaction."""
    filas = conn.execute(_INCUMPLIDOS, (desde,)).fetchall()
    if not filas:
        return 0, None
    if mensajes.admins_activos(conn) == 0:
        # A verdict read again through the overlap that an admin (now inactive) already got is not held.
        claves = [clave(f[1], f[0]) for f in filas]
        entregadas = {r[0] for r in conn.execute(_ENTREGADAS, (claves,))}
        retenidas = [f for f, k in zip(filas, claves, strict=True) if k not in entregadas]
        if not retenidas:
            return 0, max(f[-1] for f in filas)
        raise alertas.SinAdministradores(
            f"{alertas.SIN_ADMINISTRADORES}: {len(retenidas)} alerta(s) de objetivo retenida(s) "
            f"(la primera: centro {retenidas[0][1]}, {retenidas[0][0]}); {alertas.COMO_CREAR_ADMIN}",
            [alertas.retenida(f"centro {f[1]} bajo su objetivo de nivel de servicio el {f[0]}") for f in retenidas],
        )
    return sum(_alerta(conn, fila, ui_url) for fila in filas), max(f[-1] for f in filas)


@dg.sensor(
    name="alertas_objetivo",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Escribe en el buzón de cada administrador activo una alerta por centro y día que no cumplió su "
    "objetivo de nivel de servicio.",
)
def alertas_objetivo(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, settings: PipelineSettings):
    visto, avisadas = _cursor(context.cursor)
    desde = visto - _SOLAPE if visto else datetime.now().astimezone() - _PRIMERA_VEZ
    try:
        with warehouse.connect() as conn, conn.transaction():
            escritas, ultimo = alertar(conn, desde, settings.ui_url)
    except alertas.SinAdministradores as exc:
        # One line per held alert, no traceback; the position stays, so the alerts wait for an admin.
        avisadas = alertas.avisar_retenidas(context.log, exc, avisadas)
        context.update_cursor(json.dumps({"visto": visto.isoformat() if visto else None, "avisadas": avisadas}))
        return dg.SkipReason(str(exc))
    if ultimo is not None and (not visto or ultimo > visto):
        visto = ultimo
    context.update_cursor(json.dumps({"visto": visto.isoformat() if visto else None, "avisadas": []}))
    return dg.SkipReason(f"{escritas} alertas de objetivo escritas")


def _cursor(cursor: str | None) -> tuple[datetime | None, list[str]]:
    """(the latest verdict seen, the held alerts already logged); a plain timestamp is the
    cursor's earlier form."""
    if not cursor:
        return None, []
    if not cursor.startswith("{"):
        return datetime.fromisoformat(cursor), []
    estado = json.loads(cursor)
    visto = estado.get("visto")
    return (datetime.fromisoformat(visto) if visto else None), list(estado.get("avisadas", []))
