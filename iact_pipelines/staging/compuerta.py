"""The day gate: which staging days are published, and why not.

Two blocking checks judge every local day a staging run reads: `volumen` (a day that read no
rows, or far fewer than the same weekday of the previous weeks, keeps its previous rows) and
`tasa_rechazo` (a day that rejected more than the allowed share is loaded but held back from
its reports). Each verdict is recorded in `staging_cargas`, in the transaction of the day's
load; the reports and the CLI read it through `dias_retenidos` and `dias_cargados`, so the
states below are never spelled anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

import dagster as dg
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

if TYPE_CHECKING:
    import pandas as pd  # the day tables a run passes in; the gate itself never builds one

CHECK_TASA_RECHAZO = "tasa_rechazo"
CHECK_VOLUMEN = "volumen"
# Run tag naming the local days (comma-separated) a person accepts although the `volumen`
# check would block them (a holiday); `iact materializar --aceptar-dias` sets it, and
# `iact/aceptado_por` names who.
ETIQUETA_ACEPTAR_DIAS = "iact/aceptar_dias"
ETIQUETA_ACEPTADO_POR = "iact/aceptado_por"
SEMANAS_REFERENCIA = (7, 14, 21, 28)

BLOQUEADO, CARGADO, ACEPTADO = "bloqueado", "cargado", "aceptado"

_HISTORIA = """
SELECT fecha::text, filas_leidas, filas_por_centro FROM staging_cargas
WHERE asset_key = %s AND fecha = ANY(%s::date[]) AND estado IN ('cargado', 'aceptado') AND filas_leidas > 0
"""
_REGISTRAR_CARGA = """
INSERT INTO staging_cargas (asset_key, fecha, estado, filas_leidas, filas_cargadas, mediana_referencia, motivo,
                            aceptado_por, run_id, tasa_rechazo_excedida, filas_por_centro, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (asset_key, fecha) DO UPDATE SET
    tasa_rechazo_excedida = EXCLUDED.tasa_rechazo_excedida, filas_por_centro = EXCLUDED.filas_por_centro,
    estado = EXCLUDED.estado, filas_leidas = EXCLUDED.filas_leidas, filas_cargadas = EXCLUDED.filas_cargadas,
    mediana_referencia = EXCLUDED.mediana_referencia, motivo = EXCLUDED.motivo,
    aceptado_por = EXCLUDED.aceptado_por, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at
"""
_RETENIDOS = """
SELECT DISTINCT fecha FROM staging_cargas
WHERE asset_key = ANY(%s) AND fecha >= %s AND fecha < %s AND (estado = 'bloqueado' OR tasa_rechazo_excedida)
ORDER BY fecha
"""
# A day counts as loaded when the gate let it through, or when staging holds rows for it that no
# gate judged (history written straight into staging, as the benchmark and the tests do); a day
# the gate held, or that has no rows, does not: a period of such days publishes nothing.
_CARGADOS = """
SELECT count(*) FROM generate_series(%(desde)s::date, %(hasta)s::date - 1, interval '1 day') AS d (dia)
LEFT JOIN staging_cargas AS c ON c.asset_key = %(clave)s AND c.fecha = d.dia::date
WHERE c.estado IN ('cargado', 'aceptado')
   OR (c.fecha IS NULL AND EXISTS (SELECT 1 FROM {tabla} AS t WHERE t.fecha = d.dia::date))
"""


def dias_retenidos(conn: psycopg.Connection, asset_keys: list[str], desde: date, hasta: date) -> list[date]:
    """The days of [desde, hasta) that any of these staging assets holds back (blocked by
    `volumen`, or over the reject rate): their reports are not rebuilt."""
    return [d for (d,) in conn.execute(_RETENIDOS, (asset_keys, desde, hasta)).fetchall()]


def dias_cargados(conn: psycopg.Connection, asset_key: str, desde: date, hasta: date) -> int:
    """How many days of [desde, hasta) this staging asset loaded (or a person accepted)."""
    tabla = sql.Identifier(*asset_key.split("/"))  # staging/<tabla> is staging.<tabla>
    consulta = sql.SQL(_CARGADOS).format(tabla=tabla)
    return conn.execute(consulta, {"clave": asset_key, "desde": desde, "hasta": hasta}).fetchone()[0]


def dias_aceptados(tags) -> set[str]:
    """The days of the run tag `iact/aceptar_dias` (ISO dates, comma-separated)."""
    return {d.strip() for d in (tags.get(ETIQUETA_ACEPTAR_DIAS) or "").split(",") if d.strip()}


def aceptado_por(context: dg.AssetExecutionContext) -> str:
    tags = context.run.tags
    return (tags.get(ETIQUETA_ACEPTADO_POR) or tags.get("dagster/user") or f"run {context.run_id}")[:150]


@dataclass
class Veredicto:
    """The `volumen` check's verdict on one local day."""

    fecha: str
    leidas: int
    cargadas: int
    mediana: float | None
    estado: str
    motivo: str | None
    aceptado_por: str | None = None
    tasa_excedida: bool = False
    por_centro: dict[str, int] = field(default_factory=dict)  # rows read per allowed center


_REFERENCIA = "la mediana del mismo día de la semana 7, 14, 21 y 28 días antes"


def _mediana(valores: list) -> float:
    # numpy is imported by the run that judges a day, not with the definitions the reports load
    import numpy as np

    return float(np.median(valores))


def motivo_volumen(leidas: int, previas: list[int], fraccion: float, pico: float) -> str | None:
    """Why `leidas` rows are not a believable day against `previas` (the same weekday of the
    previous weeks), or None: no rows at all; fewer than `fraccion` x their median; more than
    `pico` x it (0 disables). With fewer than two reference days only the first applies."""
    if leidas == 0:
        return "leyó 0 filas"
    if len(previas) < 2:
        return None
    mediana = _mediana(previas)
    if leidas < fraccion * mediana:
        return f"leyó {leidas} filas, menos de {fraccion:g} x {mediana:g} ({_REFERENCIA})"
    if pico and leidas > pico * mediana:
        return f"leyó {leidas} filas, más de {pico:g} x {mediana:g} ({_REFERENCIA}): ¿un día repetido o duplicado?"
    return None


def _referencias(dia: str) -> list[str]:
    return [(date.fromisoformat(dia) - timedelta(days=k)).isoformat() for k in SEMANAS_REFERENCIA]


@dataclass
class Volumen:
    """The blocking `volumen` check (`motivo_volumen`), on the day's rows and on each allowed
    center's own (one center silent while the other grows): against the same weekday 7, 14,
    21 and 28 days earlier, counting only days loaded with rows. A day in `aceptados` is
    loaded anyway and recorded as accepted."""

    asset_key: str
    fraccion: float
    tasa_maxima: float
    aceptados: set[str]
    aceptado_por: str
    run_id: str
    centros: tuple[str, ...] = ()
    pico: float = 0.0  # IACT_VOLUMEN_PICO
    veredictos: list[Veredicto] = field(default_factory=list)

    def juzgar(
        self, conn: psycopg.Connection, leidas_por_dia: dict[str, int], por_centro: dict[str, dict[str, int]]
    ) -> list[Veredicto]:
        """Verdicts for a batch's days, in day order; earlier days of this run count as history.
        `por_centro`: each day's rows read per center."""
        dias = sorted(leidas_por_dia)
        referencias = sorted({r for d in dias for r in _referencias(d)})
        historia = {f: (n, c or {}) for f, n, c in conn.execute(_HISTORIA, (self.asset_key, referencias)).fetchall()}
        for v in self.veredictos:  # this run's earlier batches and days
            self._recordar(historia, v)
        nuevos = []
        for dia in dias:
            previas = [historia[r] for r in _referencias(dia) if r in historia]
            v = self._veredicto(dia, leidas_por_dia[dia], por_centro.get(dia, {}), previas)
            self._recordar(historia, v)
            nuevos.append(v)
        self.veredictos.extend(nuevos)
        return nuevos

    @staticmethod
    def _recordar(historia: dict, v: Veredicto) -> None:
        if v.estado != BLOQUEADO and v.leidas > 0:
            historia[v.fecha] = (v.leidas, v.por_centro)
        else:
            historia.pop(v.fecha, None)

    def _veredicto(self, dia: str, leidas: int, por_centro: dict[str, int], previas: list) -> Veredicto:
        mediana = _mediana([n for n, _ in previas]) if len(previas) >= 2 else None
        motivo = motivo_volumen(leidas, [n for n, _ in previas], self.fraccion, self.pico)
        for centro in self.centros if motivo is None else ():
            # only the reference days that recorded this center's rows
            del_centro = [c[centro] for _, c in previas if centro in c]
            propio = motivo_volumen(por_centro.get(centro, 0), del_centro, self.fraccion, self.pico)
            if propio is not None and del_centro:
                motivo = f"el centro {centro} {propio}"
                break
        if motivo is None:
            estado = CARGADO
        elif dia in self.aceptados:
            estado = ACEPTADO
        else:
            estado = BLOQUEADO
        aceptado = self.aceptado_por if estado == ACEPTADO else None
        return Veredicto(dia, leidas, 0, mediana, estado, motivo, aceptado, por_centro=por_centro)

    def cerrar(self, conn: psycopg.Connection, veredictos: list[Veredicto], por_dia: pd.DataFrame) -> None:
        """Complete the batch's verdicts with what was loaded and the reject rate, and record
        them in `staging_cargas` (same transaction as the batch's load)."""
        for v in veredictos:
            v.cargadas = int(por_dia.loc[v.fecha, "cargados"])
            leidos, rechazados = (int(por_dia.loc[v.fecha, c]) for c in ("leidos", "rechazados"))
            v.tasa_excedida = v.estado != BLOQUEADO and leidos > 0 and rechazados / leidos > self.tasa_maxima
        with conn.cursor() as cur:
            cur.executemany(
                _REGISTRAR_CARGA,
                [
                    (
                        self.asset_key,
                        v.fecha,
                        v.estado,
                        v.leidas,
                        v.cargadas,
                        v.mediana,
                        v.motivo,
                        v.aceptado_por,
                        self.run_id,
                        v.tasa_excedida,
                        Jsonb(v.por_centro),
                    )
                    for v in veredictos
                ],
            )

    def bloqueados(self) -> list[str]:
        return [v.fecha for v in self.veredictos if v.estado == BLOQUEADO]

    def retenidos(self) -> list[str]:
        return [v.fecha for v in self.veredictos if v.estado == BLOQUEADO or v.tasa_excedida]

    def _metadata(self, v: Veredicto) -> dict:
        return {
            "fecha": v.fecha,
            "estado": v.estado,
            "filas_leidas": v.leidas,
            "filas_cargadas": v.cargadas,
            "mediana_referencia": v.mediana if v.mediana is not None else dg.MetadataValue.null(),
            "volumen_minimo": self.fraccion,
            "aceptado": v.estado == ACEPTADO,
            "aceptado_por": v.aceptado_por or "",
        }

    def _descripcion(self, v: Veredicto) -> str:
        if v.estado == BLOQUEADO:
            return f"{v.fecha} {v.motivo}: no se publica (acéptelo con --aceptar-dias {v.fecha})"
        if v.estado == ACEPTADO:
            return f"{v.fecha} {v.motivo}: aceptado por {v.aceptado_por}"
        return f"{v.fecha}: {v.leidas} filas leídas" + (f" (mediana {v.mediana:g})" if v.mediana is not None else "")

    def resultado(self, v: Veredicto) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            check_name=CHECK_VOLUMEN,
            passed=v.estado != BLOQUEADO,
            severity=dg.AssetCheckSeverity.ERROR,
            description=self._descripcion(v),
            metadata=self._metadata(v),
        )

    def evaluacion(self, v: Veredicto, objetivo=None) -> dg.AssetCheckEvaluation:
        """The day's verdict as a per-partition evaluation; `objetivo`: the day's latest
        materialization (`eventos.objetivo`), which makes it current for that day."""
        return dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(self.asset_key.split("/")),
            check_name=CHECK_VOLUMEN,
            passed=v.estado != BLOQUEADO,
            severity=dg.AssetCheckSeverity.ERROR,
            blocking=True,
            description=self._descripcion(v),
            metadata=self._metadata(v),
            partition=v.fecha,
            target_materialization_data=objetivo,
        )

    def resumen_del_rango(self) -> dg.AssetCheckResult:
        """Dagster requires one result for a range run (it has no partition): a summary that
        never gates (WARN), so it cannot hold back the good days' reports."""
        bloqueados = self.bloqueados()
        return dg.AssetCheckResult(
            check_name=CHECK_VOLUMEN,
            passed=not bloqueados,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"retenidos: {', '.join(bloqueados)} (vea la evaluación de cada día)"
                if bloqueados
                else f"todos los días del rango pasaron ({len(self.veredictos)} días)"
            ),
            metadata={
                "dias_bloqueados": dg.MetadataValue.json(bloqueados),
                "dias_aceptados": dg.MetadataValue.json([v.fecha for v in self.veredictos if v.estado == ACEPTADO]),
            },
        )


def tasa_rechazo_dia(clave: dg.AssetKey, dia: str, fila, maxima: float, objetivo=None) -> dg.AssetCheckEvaluation:
    """One day's reject-rate verdict, as a per-partition evaluation (range runs)."""
    tasa = float(fila["rechazados"] / fila["leidos"]) if fila["leidos"] else 0.0
    return dg.AssetCheckEvaluation(
        asset_key=clave,
        check_name=CHECK_TASA_RECHAZO,
        passed=tasa <= maxima,
        partition=dia,
        target_materialization_data=objetivo,
        severity=dg.AssetCheckSeverity.ERROR,
        blocking=True,
        description=f"{dia}: tasa de rechazo {tasa:.2%} ({'sobre' if tasa > maxima else 'dentro de'} {maxima:.2%})",
        metadata={
            "leidos": int(fila["leidos"]),
            "rechazados": int(fila["rechazados"]),
            "advertidos": int(fila["advertidos"]),
            "tasa_rechazo": round(tasa, 6),
            "tasa_rechazo_maxima": maxima,
        },
    )


def tasa_rechazo(
    por_dia: pd.DataFrame,
    por_regla: dict[str, int],
    maxima: float,
    severidad: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetCheckResult:
    """Fails (ERROR, blocking) when any day of the window rejected more than the allowed share;
    WARN in a range run, where each day has its own evaluation and the reports gate per day."""
    tasa = (por_dia["rechazados"] / por_dia["leidos"].where(por_dia["leidos"] > 0)).fillna(0.0)
    excedidos = tasa[tasa > maxima]
    leidos, rechazados = int(por_dia["leidos"].sum()), int(por_dia["rechazados"].sum())
    return dg.AssetCheckResult(
        check_name=CHECK_TASA_RECHAZO,
        passed=excedidos.empty,
        severity=severidad,
        description=(
            f"tasa de rechazo sobre {maxima:.2%} en {', '.join(f'{d} ({t:.2%})' for d, t in excedidos.items())}"
            if not excedidos.empty
            else f"tasa de rechazo dentro de {maxima:.2%} todos los días"
        ),
        metadata={
            "leidos": leidos,
            "cargados": int(por_dia["cargados"].sum()),
            "rechazados": rechazados,
            "advertidos": int(por_dia["advertidos"].sum()),
            "tasa_rechazo": round(rechazados / leidos, 6) if leidos else 0.0,
            "tasa_rechazo_maxima": maxima,
            "dias_excedidos": dg.MetadataValue.json({d: round(float(t), 6) for d, t in excedidos.items()}),
            "por_regla": dg.MetadataValue.json(por_regla),
        },
    )


def resultados(juez: Volumen, por_dia: pd.DataFrame, por_regla: dict[str, int], *, un_dia: bool) -> list:
    """The run's check results. One day: real (partitioned, blocking) results; a failure stops
    its reports. A range: Dagster 1.13 attaches an AssetCheckResult to the run's whole range,
    and a failed blocking one would hold back every day's reports, so the results are range
    summaries that never gate, each day gets its own evaluation (`evaluaciones`), and the
    reports skip the held days themselves (`dias_retenidos`)."""
    if un_dia:
        return [tasa_rechazo(por_dia, por_regla, juez.tasa_maxima), juez.resultado(juez.veredictos[0])]
    return [tasa_rechazo(por_dia, por_regla, juez.tasa_maxima, dg.AssetCheckSeverity.WARN), juez.resumen_del_rango()]


def evaluaciones(clave: dg.AssetKey, juez: Volumen, por_dia: pd.DataFrame, objetivos: dict) -> list:
    """Each day's two verdicts of a range run, targeting the day's latest materialization."""
    eventos = [
        tasa_rechazo_dia(clave, dia, fila, juez.tasa_maxima, objetivos.get(dia)) for dia, fila in por_dia.iterrows()
    ]
    return eventos + [juez.evaluacion(v, objetivos.get(v.fecha)) for v in juez.veredictos]


def falla_si_retenidos(context: dg.AssetExecutionContext, juez: Volumen) -> dg.Failure | None:
    """A range run's held days fail the step, unless reports of the same run skip them and
    fail naming them; the other days were loaded and are shown so."""
    retenidos = juez.retenidos()
    if context.has_partition_key or not retenidos or _reportes_en_el_run(context):
        return None
    return dg.Failure(
        description=f"{context.asset_key.to_user_string()}: {', '.join(retenidos)} retenido(s) por el check "
        "volumen o tasa_rechazo (sus reportes no se reconstruyen; los demás días se cargaron)",
        metadata={"dias_retenidos": dg.MetadataValue.json(retenidos)},
        allow_retries=False,
    )


def _reportes_en_el_run(context: dg.AssetExecutionContext) -> bool:
    """Whether assets downstream of this one run in the same run (they then skip the blocked
    days and fail naming them; otherwise this step must fail itself)."""
    seleccion = context.run.asset_selection or set(context.job_def.asset_layer.selected_asset_keys)
    return any(clave.path[0] != "staging" for clave in seleccion)
