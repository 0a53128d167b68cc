"""Staging assets (issue 3): extraction of the allowed centers, validation, load.

Each asset handles a whole range of local days in one run (backfills are single runs). Per
batch of whole days (one query each; a daily run is one batch): extract the allowed centers'
rows from the IVR source, validate them with pandera, load the valid rows (warned ones
included) replacing those days' partitions, and record every rejected or warned row in
`etl_validation_errors` in the same transaction. Then report: metadata, and a blocking
`tasa_rechazo` check that keeps reports off days with too many rejected rows.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn
from zoneinfo import ZoneInfo

import dagster as dg
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
from psycopg import sql

from iact_pipelines.plataforma import catalogo, copia_binaria, markdown
from iact_pipelines.staging import clientes, extraccion
from iact_pipelines.plataforma import partitions
from iact_pipelines.plataforma import reemplazo
from iact_pipelines.monitoreo import seguimiento
from iact_pipelines.staging import validacion
from iact_pipelines.staging.extraccion import Fuente, FuenteInutilizable, Ventana
from iact_pipelines.plataforma.resources import IvrResource, PipelineSettings, WarehouseResource, errores_clasificados
from iact_pipelines.monitoreo.seguimiento import CLAVE_SEVERIDAD

CHECK_TASA_RECHAZO = "tasa_rechazo"

_COLUMNAS_ERROR = (
    "job_id", "run_id", "asset_key", "partition_key", "record_id", "field_name",
    "error_type", "error_message", "severity", "record_data",
)
_BORRAR_ERRORES = "DELETE FROM etl_validation_errors WHERE asset_key = %s AND partition_key = ANY(%s)"
_BORRAR_CRITICOS = _BORRAR_ERRORES + " AND severity = 'critical'"


# A backfill is one run, but its window is read in batches of whole days sized to stay under
# this many source rows (peak memory measured at ~0.5 KB per row: Arrow, pandas, failure
# cases), so a range of years cannot exhaust memory. The first batch is one day; later ones
# are sized from the rows per day seen so far.
FILAS_POR_LOTE = 1_200_000


@dataclass(frozen=True)
class Resumen:
    """What a run did to its window, per day and in total."""

    por_dia: pd.DataFrame  # index: fecha (ISO); columns: leidos, rechazados, advertidos, cargados
    por_regla: dict[str, int]
    segundos: dict[str, float]  # extraccion, validacion, carga

    def total(self, columna: str) -> int:
        return int(self.por_dia[columna].sum())

    @staticmethod
    def unir(resumenes: list["Resumen"]) -> "Resumen":
        por_regla: dict[str, int] = {}
        segundos: dict[str, float] = {}
        for r in resumenes:
            for regla, n in r.por_regla.items():
                por_regla[regla] = por_regla.get(regla, 0) + n
            for fase, t in r.segundos.items():
                segundos[fase] = segundos.get(fase, 0.0) + t
        return Resumen(pd.concat([r.por_dia for r in resumenes]), dict(sorted(por_regla.items())), segundos)


def _materializar(
    context: dg.AssetExecutionContext,
    tabla: str,
    ivr: IvrResource,
    warehouse: WarehouseResource,
    settings: PipelineSettings,
) -> dg.MaterializeResult:
    fuente = extraccion.FUENTES[tabla]
    resumenes, previa = [], None
    for lote in _lotes(_ventana(context, settings), resumenes):
        resumen, validas = _lote(context, fuente, lote, ivr.url_lectura(), warehouse, settings.centros_permitidos())
        resumenes.append(resumen)
        previa = previa if previa is not None and previa.num_rows else validas.slice(0, 5)
    with warehouse.connect() as conn:
        reemplazo.analizar_tabla_staging(conn, tabla)
    resumen = Resumen.unir(resumenes)
    return dg.MaterializeResult(
        metadata=_metadata(fuente, previa, resumen),
        check_results=[_tasa_rechazo(resumen, settings.tasa_rechazo_maxima())],
    )


def _lote(
    context: dg.AssetExecutionContext,
    fuente: Fuente,
    lote: Ventana,
    ivr_url: str,
    warehouse: WarehouseResource,
    centros: list[str],
) -> tuple[Resumen, pa.Table]:
    """Extract, validate, load and record one batch of whole days."""
    reloj = time.perf_counter()
    try:
        extraido = extraccion.extraer(ivr_url, fuente, lote, centros)
    except FuenteInutilizable as exc:
        critico = {"regla": validacion.COLUMNA_FALTANTE, "campo": exc.campo, "mensaje": str(exc),
                   "fila": -1, "casos": 1}
        _fallar_critico(context, warehouse, fuente, lote, None, pd.DataFrame([critico]))
    frame = extraccion.a_pandas(extraido)
    segundos = {"extraccion": time.perf_counter() - reloj}

    reloj = time.perf_counter()
    resultado = validacion.validar(fuente.tabla, frame)
    if not resultado.criticos.empty:
        _fallar_critico(context, warehouse, fuente, lote, frame, resultado.criticos)

    validas = extraido.filter(pa.array(~resultado.rechazadas)).select(list(fuente.columnas_staging))
    validas = validas.cast(fuente.esquema_staging)
    segundos["validacion"] = time.perf_counter() - reloj

    reloj = time.perf_counter()
    _cargar(
        context, warehouse, fuente, lote, validas,
        lambda: validacion.filas_de_error(frame, resultado, id_col=fuente.id, columnas=list(fuente.columnas)),
    )
    segundos["carga"] = time.perf_counter() - reloj

    resumen = _resumir(frame, lote, resultado, segundos)
    context.log.info(
        f"{context.asset_key.to_user_string()} {_rango(lote)}: {resumen.total('leidos')} read, "
        f"{resumen.total('cargados')} loaded, {resumen.total('rechazados')} rejected, "
        f"{resumen.total('advertidos')} warned"
    )
    return resumen, validas


def _lotes(ventana: Ventana, hechos: list[Resumen]):
    """Batches of whole days covering the window, sized from the rows per day of `hechos`
    (the summaries of the batches already processed, appended by the caller)."""
    dias = ventana.dias()
    i = 0
    while i < len(dias):
        leidos = sum(r.total("leidos") for r in hechos)
        vistos = sum(len(r.por_dia) for r in hechos)
        tam = 1 if not vistos else max(1, int(FILAS_POR_LOTE // max(leidos / vistos, 1)))
        fin = min(i + tam, len(dias))
        yield Ventana(dias[i], dias[fin - 1] + timedelta(days=1), ventana.zona)
        i = fin


def _ventana(context: dg.AssetExecutionContext, settings: PipelineSettings) -> Ventana:
    """The run's local days: one partition or a whole backfill range."""
    zona = settings.zona()
    tz = ZoneInfo(zona)
    ventana = context.partition_time_window
    return Ventana(ventana.start.astimezone(tz).date(), ventana.end.astimezone(tz).date(), zona)


def _clave_run(context: dg.AssetExecutionContext) -> str:
    """The run's partition as etl_jobs shows it: one key, or `first...last` for a range."""
    rango = context.partition_key_range
    return rango.start if rango.start == rango.end else f"{rango.start}...{rango.end}"


def _cargar(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    fuente: Fuente,
    ventana: Ventana,
    validas: pa.Table,
    construir_errores,
) -> None:
    """Replace the window's staging rows and its error rows in one transaction: a failure
    leaves both as they were; two runs of one window serialize on the partition locks.

    The error rows are built (pandas, `construir_errores`) while the staging COPY runs in a
    worker thread: the COPY's encoding (Arrow kernels) and sending release the GIL and the
    server does the rest, so the two overlap on two cores instead of adding up."""
    with warehouse.connect() as conn:
        with clientes.reemplazar_dias(conn, fuente.tabla, ventana.desde, ventana.hasta):
            with ThreadPoolExecutor(max_workers=1) as hilo:
                copia = hilo.submit(copia_binaria.copiar, conn, sql.Identifier("staging", fuente.tabla), validas)
                errores = construir_errores()
                copia.result()
            job_id = _job(conn, context)
            conn.execute(_BORRAR_ERRORES, (context.asset_key.to_user_string(), ventana.claves()))
            _copiar_errores(conn, context, job_id, errores)


def _job(conn: psycopg.Connection, context: dg.AssetExecutionContext) -> int:
    return seguimiento.asegurar_job(
        conn, run_id=context.run_id, job_name=context.job_name, partition_key=_clave_run(context)
    )


def _copiar_errores(
    conn: psycopg.Connection, context: dg.AssetExecutionContext, job_id: int, errores: pd.DataFrame
) -> None:
    if errores.empty:
        return
    n = len(errores)
    tabla = pa.table(
        {
            "job_id": pa.array(np.full(n, job_id, dtype="int64")),
            "run_id": pa.array([context.run_id] * n, pa.string()),
            "asset_key": pa.array([context.asset_key.to_user_string()] * n, pa.string()),
            **{c: pa.array(errores[c].to_numpy(dtype=object), pa.string()) for c in _COLUMNAS_ERROR[3:]},
        }
    )
    extraccion.copiar_csv(conn, sql.Identifier("etl_validation_errors"), tabla)


def _fallar_critico(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    fuente: Fuente,
    ventana: Ventana,
    frame: pd.DataFrame | None,
    criticos: pd.DataFrame,
) -> NoReturn:
    """The frame is unusable: record why (replacing earlier critical rows of the window),
    load nothing (the previous staging rows stay), and fail the asset in one line."""
    asset_key = context.asset_key.to_user_string()
    # Missing columns and unreadable types make the checks that use them fail too: report the cause.
    causas = criticos[criticos["regla"] != validacion.CHECK_FALLIDO]
    criticos = (causas if not causas.empty else criticos).reset_index(drop=True)
    filas = []
    for critico in criticos.itertuples():
        if frame is not None and critico.fila >= 0:
            registro = frame.iloc[[critico.fila]]
            dias = [str(pd.Timestamp(registro["fecha"].iloc[0]).date())]
            record_id = str(registro[fuente.id].iloc[0])
            columnas = [c for c in fuente.columnas if c in registro.columns]
            record_data = validacion.json_registros(registro[columnas])[0]
        else:
            dias, record_id, record_data = ventana.claves(), None, "{}"
        for dia in dias:
            filas.append(
                {
                    "partition_key": dia, "record_id": record_id, "field_name": critico.campo,
                    "error_type": critico.regla, "error_message": critico.mensaje,
                    "severity": validacion.CRITICAL, "record_data": record_data,
                }
            )
    with warehouse.connect() as conn, conn.transaction():
        reemplazo.bloquear_particiones(conn, f"staging.{fuente.tabla}", ventana.claves())
        job_id = _job(conn, context)
        conn.execute(_BORRAR_CRITICOS, (asset_key, ventana.claves()))
        _copiar_errores(conn, context, job_id, pd.DataFrame(filas))
    mensajes = "; ".join(dict.fromkeys(criticos["mensaje"]))
    raise dg.Failure(
        description=f"{asset_key} {_rango(ventana)}: the source data is unusable, nothing was loaded: {mensajes}",
        metadata={
            CLAVE_SEVERIDAD: validacion.CRITICAL,
            "errores_criticos": dg.MetadataValue.json(criticos.to_dict("records")),
        },
        allow_retries=False,
    )


def _resumir(
    frame: pd.DataFrame, ventana: Ventana, resultado: validacion.Resultado, segundos: dict[str, float]
) -> Resumen:
    dia = pd.Series(frame["fecha"].to_numpy(), dtype="datetime64[s]").dt.strftime("%Y-%m-%d")
    por_dia = (
        pd.DataFrame({"dia": dia, "leidos": 1, "rechazados": resultado.rechazadas, "advertidos": resultado.advertidas})
        .groupby("dia")
        .sum()
        .astype("int64")
        .reindex(ventana.claves(), fill_value=0)
    )
    por_dia["cargados"] = por_dia["leidos"] - por_dia["rechazados"]
    return Resumen(por_dia=por_dia, por_regla=resultado.por_regla(), segundos=segundos)


def _tasa_rechazo(resumen: Resumen, maxima: float) -> dg.AssetCheckResult:
    """Fails (ERROR, blocking) when any day of the window rejected more than the allowed share."""
    por_dia = resumen.por_dia
    tasa = (por_dia["rechazados"] / por_dia["leidos"].where(por_dia["leidos"] > 0)).fillna(0.0)
    excedidos = tasa[tasa > maxima]
    leidos = resumen.total("leidos")
    return dg.AssetCheckResult(
        check_name=CHECK_TASA_RECHAZO,
        passed=excedidos.empty,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"rejected share above {maxima:.2%} on {', '.join(f'{d} ({t:.2%})' for d, t in excedidos.items())}"
            if not excedidos.empty
            else f"rejected share within {maxima:.2%} on every day"
        ),
        metadata={
            "leidos": leidos,
            "cargados": resumen.total("cargados"),
            "rechazados": resumen.total("rechazados"),
            "advertidos": resumen.total("advertidos"),
            "tasa_rechazo": round(resumen.total("rechazados") / leidos, 6) if leidos else 0.0,
            "tasa_rechazo_maxima": maxima,
            "dias_excedidos": dg.MetadataValue.json({d: round(float(t), 6) for d, t in excedidos.items()}),
            "por_regla": dg.MetadataValue.json(resumen.por_regla),
        },
    )


def _metadata(fuente: Fuente, previa: pa.Table, resumen: Resumen) -> dict:
    cargados = resumen.total("cargados")
    return {
        "dagster/row_count": cargados,
        **catalogo.tabla(f"staging.{fuente.tabla}").metadata_dagster(),
        "previa": dg.MetadataValue.md(_vista_previa(previa)),
        "errores_por_regla": dg.MetadataValue.json(resumen.por_regla),
        "por_dia": dg.MetadataValue.md(_tabla_md(resumen.por_dia.reset_index(names="fecha"))),
        # Plain integers: the etl_jobs mirror sums these over the run's steps.
        "registros_extraidos": resumen.total("leidos"),
        "registros_transformados": cargados,
        "registros_cargados": cargados,
        "registros_fallidos": resumen.total("rechazados"),
        "registros_advertidos": resumen.total("advertidos"),
        # Wall seconds per phase (the benchmark reads `segundos_*`).
        **{f"segundos_{fase}": round(t, 3) for fase, t in resumen.segundos.items()},
    }


def _vista_previa(validas: pa.Table, filas: int = 5) -> str:
    muestra = validas.slice(0, filas).to_pandas(date_as_object=True)
    return _tabla_md(muestra) if len(muestra) else "_no rows loaded_"


def _tabla_md(frame: pd.DataFrame) -> str:
    return markdown.tabla_md(list(frame.columns), frame.itertuples(index=False))


def _rango(ventana: Ventana) -> str:
    ultimo = ventana.dias()[-1].isoformat()
    return ventana.desde.isoformat() if ultimo == ventana.desde.isoformat() else f"{ventana.desde}...{ultimo}"


def _asset(tabla: str, descripcion: str):
    """A staging asset over `ivr/<tabla>` with its blocking reject-rate check."""
    clave = dg.AssetKey(["staging", tabla])

    @dg.asset(
        key=clave,
        description=descripcion,
        group_name="staging",
        deps=[dg.AssetKey(["ivr", tabla])],
        partitions_def=partitions.diaria,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"postgres", "pandas"},
        metadata=catalogo.tabla(f"staging.{tabla}").metadata_dagster(),
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_TASA_RECHAZO,
                asset=clave,
                blocking=True,
                description="Rejected rows of each day stay within IACT_MAX_TASA_RECHAZO (default 5%).",
            )
        ],
    )
    def _staging(
        context: dg.AssetExecutionContext,
        ivr: IvrResource,
        warehouse: WarehouseResource,
        settings: PipelineSettings,
    ) -> dg.MaterializeResult:
        with errores_clasificados():
            return _materializar(context, tabla, ivr, warehouse, settings)

    return _staging


llamadas = _asset(
    "llamadas", "Validated calls of the allowed centers, by local day of their start (inicio)."
)
menu_eventos = _asset(
    "menu_eventos", "Validated IVR menu visits of the allowed centers, by local day of their entry (entrada)."
)
transferencias = _asset(
    "transferencias", "Validated transfers from the allowed centers, by local day of their start (inicio)."
)

staging_assets = [llamadas, menu_eventos, transferencias]
# The reject-rate checks live inside the assets (check_specs), so they run in the same step
# and block downstream assets of the same run.
staging_checks: list = []
