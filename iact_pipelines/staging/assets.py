"""Staging assets (issue 3): extraction of the allowed centers, validation, load.

Each asset handles a whole range of local days in one run (backfills are single runs). Per
batch of whole days (one query each; a daily run is one batch): extract the allowed centers'
rows from the IVR source, validate them with pandera, load the valid rows (warned ones
included) replacing those days' partitions, and record every rejected or warned row in
`etl_validation_errors` in the same transaction. Then report: metadata, and a blocking
`tasa_rechazo` check that keeps reports off days with too many rejected rows.
"""

import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NoReturn
from zoneinfo import ZoneInfo

import dagster as dg
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from iact_pipelines.monitoreo import seguimiento
from iact_pipelines.monitoreo.seguimiento import CLAVE_SEVERIDAD
from iact_pipelines.plataforma import catalogo, copia_binaria, markdown, partitions, reemplazo
from iact_pipelines.plataforma.resources import IvrResource, PipelineSettings, WarehouseResource, errores_clasificados
from iact_pipelines.staging import clientes, extraccion, validacion
from iact_pipelines.staging.extraccion import Fuente, FuenteInutilizable, Ventana

CHECK_TASA_RECHAZO = "tasa_rechazo"
CHECK_VOLUMEN = "volumen"
# Run tag naming the local days (comma-separated) a person accepts although the `volumen`
# check would block them (a holiday); `iact materializar --aceptar-dias` sets it, and
# `iact/aceptado_por` names who.
ETIQUETA_ACEPTAR_DIAS = "iact/aceptar_dias"
ETIQUETA_ACEPTADO_POR = "iact/aceptado_por"
SEMANAS_REFERENCIA = (7, 14, 21, 28)

_COLUMNAS_ERROR = (
    "job_id",
    "run_id",
    "asset_key",
    "partition_key",
    "record_id",
    "field_name",
    "error_type",
    "error_message",
    "severity",
    "record_data",
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
    juez = Volumen(
        asset_key=context.asset_key.to_user_string(),
        fraccion=settings.volumen_minimo_fraccion(),
        tasa_maxima=settings.tasa_rechazo_maxima(),
        aceptados=dias_aceptados(context.run.tags),
        aceptado_por=_aceptado_por(context),
        run_id=context.run_id,
    )
    resumenes, previa = [], None
    for lote in _lotes(_ventana(context, settings), resumenes):
        resumen, validas = _lote(
            context, fuente, lote, ivr.url_lectura(), warehouse, settings.centros_permitidos(), juez
        )
        resumenes.append(resumen)
        previa = previa if previa is not None and previa.num_rows else validas.slice(0, 5)
    reloj = time.perf_counter()
    with warehouse.connect() as conn:
        reemplazo.analizar_tabla_staging(conn, tabla)
        for derivada in clientes.DERIVADAS.get(tabla, ()):
            # joins across days of the derived table (the repeat calls' look-back) are estimated
            # from the parent's statistics: without them, 200 clients for a 500k-client day
            reemplazo.analizar_tabla_staging(conn, derivada)
    resumen = Resumen.unir(resumenes)
    resumen.segundos["carga"] = resumen.segundos.get("carga", 0.0) + time.perf_counter() - reloj
    if context.has_partition_key:
        checks = [_tasa_rechazo(resumen, settings.tasa_rechazo_maxima())]
        # One day: a real (partitioned, blocking) check result; a failure stops its reports.
        checks.append(juez.resultado(juez.veredictos[0]))
    else:
        # A range: Dagster 1.13 attaches an AssetCheckResult to the run's whole range, and a
        # failed blocking one would hold back every day's reports. Each day gets its own
        # evaluation event instead (partition set), and the reports skip the blocked days
        # themselves (staging_cargas), so the other days are built.
        # The same for the reject rate: per-day evaluations, a range summary that never gates.
        checks = [_tasa_rechazo(resumen, settings.tasa_rechazo_maxima(), dg.AssetCheckSeverity.WARN)]
        for dia, fila in resumen.por_dia.iterrows():
            context.log_event(_tasa_rechazo_dia(context.asset_key, dia, fila, settings.tasa_rechazo_maxima()))
        for veredicto in juez.veredictos:
            context.log_event(juez.evaluacion(veredicto))
            context.log_event(
                dg.AssetObservation(
                    asset_key=context.asset_key,
                    partition=veredicto.fecha,
                    metadata={
                        "dagster/row_count": veredicto.cargadas,
                        "filas_leidas": veredicto.leidas,
                        "estado": veredicto.estado,
                    },
                )
            )
        bloqueados = [v.fecha for v in juez.veredictos if v.estado == BLOQUEADO]
        retenidos = [v.fecha for v in juez.veredictos if v.estado == BLOQUEADO or v.tasa_excedida]
        # Dagster still requires one result for the range (it has no partition): a summary
        # that never gates (WARN), so it cannot hold back the good days' reports.
        checks.append(
            dg.AssetCheckResult(
                check_name=CHECK_VOLUMEN,
                passed=not bloqueados,
                severity=dg.AssetCheckSeverity.WARN,
                description=(
                    f"blocked: {', '.join(bloqueados)} (see each day's evaluation)"
                    if bloqueados
                    else f"every day of the range passed ({len(juez.veredictos)} days)"
                ),
                metadata={
                    "dias_bloqueados": dg.MetadataValue.json(bloqueados),
                    "dias_aceptados": dg.MetadataValue.json([v.fecha for v in juez.veredictos if v.estado == ACEPTADO]),
                },
            )
        )
        if retenidos and not _reportes_en_el_run(context):
            raise dg.Failure(
                description=f"{context.asset_key.to_user_string()}: {', '.join(retenidos)} held back by the "
                "volumen or tasa_rechazo check (their reports are not rebuilt; the other days were loaded)",
                metadata={"dias_retenidos": dg.MetadataValue.json(retenidos)},
                allow_retries=False,
            )
    return dg.MaterializeResult(
        metadata=_metadata(fuente, previa, resumen, por_dia=context.has_partition_key),
        check_results=checks,
    )


BLOQUEADO, CARGADO, ACEPTADO = "bloqueado", "cargado", "aceptado"


def dias_aceptados(tags) -> set[str]:
    """The days of the run tag `iact/aceptar_dias` (ISO dates, comma-separated)."""
    return {d.strip() for d in (tags.get(ETIQUETA_ACEPTAR_DIAS) or "").split(",") if d.strip()}


def _aceptado_por(context: dg.AssetExecutionContext) -> str:
    tags = context.run.tags
    return (tags.get(ETIQUETA_ACEPTADO_POR) or tags.get("dagster/user") or f"run {context.run_id}")[:150]


def _reportes_en_el_run(context: dg.AssetExecutionContext) -> bool:
    """Whether assets downstream of this one run in the same run (they then skip the blocked
    days and fail naming them; otherwise this step must fail itself)."""
    seleccion = context.run.asset_selection or set(context.job_def.asset_layer.selected_asset_keys)
    return any(clave.path[0] != "staging" for clave in seleccion)


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


_HISTORIA = """
SELECT fecha::text, filas_leidas FROM staging_cargas
WHERE asset_key = %s AND fecha = ANY(%s::date[]) AND estado IN ('cargado', 'aceptado') AND filas_leidas > 0
"""
_REGISTRAR_CARGA = """
INSERT INTO staging_cargas (asset_key, fecha, estado, filas_leidas, filas_cargadas, mediana_referencia, motivo,
                            aceptado_por, run_id, tasa_rechazo_excedida, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
ON CONFLICT (asset_key, fecha) DO UPDATE SET
    tasa_rechazo_excedida = EXCLUDED.tasa_rechazo_excedida,
    estado = EXCLUDED.estado, filas_leidas = EXCLUDED.filas_leidas, filas_cargadas = EXCLUDED.filas_cargadas,
    mediana_referencia = EXCLUDED.mediana_referencia, motivo = EXCLUDED.motivo,
    aceptado_por = EXCLUDED.aceptado_por, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at
"""


@dataclass
class Volumen:
    """The blocking `volumen` check (DESIGN.md, "Trust"): a day fails when it read 0 rows, or
    fewer than `fraccion` x the median rows of the same weekday 7, 14, 21 and 28 days earlier,
    counting only days loaded with rows, when at least two were. A day in `aceptados` is
    loaded anyway and recorded as accepted."""

    asset_key: str
    fraccion: float
    tasa_maxima: float
    aceptados: set[str]
    aceptado_por: str
    run_id: str
    veredictos: list[Veredicto] = field(default_factory=list)

    def juzgar(self, conn: psycopg.Connection, leidas_por_dia: dict[str, int]) -> list[Veredicto]:
        """Verdicts for a batch's days, in day order; earlier days of this run count as history."""
        from datetime import date as _date

        dias = sorted(leidas_por_dia)
        referencias = sorted(
            {(_date.fromisoformat(d) - timedelta(days=k)).isoformat() for d in dias for k in SEMANAS_REFERENCIA}
        )
        historia = dict(conn.execute(_HISTORIA, (self.asset_key, referencias)).fetchall())
        for v in self.veredictos:  # this run's earlier batches and days
            if v.estado in (CARGADO, ACEPTADO) and v.leidas > 0:
                historia[v.fecha] = v.leidas
            else:
                historia.pop(v.fecha, None)
        nuevos = []
        for dia in dias:
            leidas = leidas_por_dia[dia]
            previas = [
                historia[r]
                for r in ((_date.fromisoformat(dia) - timedelta(days=k)).isoformat() for k in SEMANAS_REFERENCIA)
                if r in historia
            ]
            mediana = float(np.median(previas)) if len(previas) >= 2 else None
            motivo = None
            if leidas == 0:
                motivo = "read 0 rows"
            elif mediana is not None and leidas < self.fraccion * mediana:
                motivo = (
                    f"read {leidas} rows, under {self.fraccion:g} x {mediana:g} (median of the same "
                    "weekday 7, 14, 21 and 28 days earlier)"
                )
            if motivo is None:
                estado = CARGADO
            elif dia in self.aceptados:
                estado = ACEPTADO
            else:
                estado = BLOQUEADO
            v = Veredicto(dia, leidas, 0, mediana, estado, motivo, self.aceptado_por if estado == ACEPTADO else None)
            if estado != BLOQUEADO and leidas > 0:
                historia[dia] = leidas
            else:
                historia.pop(dia, None)
            nuevos.append(v)
        self.veredictos.extend(nuevos)
        return nuevos

    def registrar(self, conn: psycopg.Connection, veredictos: list[Veredicto]) -> None:
        """Record the batch's verdicts (same transaction as its load)."""
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
                    )
                    for v in veredictos
                ],
            )

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
            return f"{v.fecha} {v.motivo}: not published (accept it with --aceptar-dias {v.fecha})"
        if v.estado == ACEPTADO:
            return f"{v.fecha} {v.motivo}: accepted by {v.aceptado_por}"
        return f"{v.fecha}: {v.leidas} rows read" + (f" (median {v.mediana:g})" if v.mediana is not None else "")

    def resultado(self, v: Veredicto) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            check_name=CHECK_VOLUMEN,
            passed=v.estado != BLOQUEADO,
            severity=dg.AssetCheckSeverity.ERROR,
            description=self._descripcion(v),
            metadata=self._metadata(v),
        )

    def evaluacion(self, v: Veredicto) -> dg.AssetCheckEvaluation:
        return dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(self.asset_key.split("/")),
            check_name=CHECK_VOLUMEN,
            passed=v.estado != BLOQUEADO,
            severity=dg.AssetCheckSeverity.ERROR,
            blocking=True,
            description=self._descripcion(v),
            metadata=self._metadata(v),
            partition=v.fecha,
        )


# Rows per chunk of a streamed batch: big enough that pandera's fixed cost per call is noise,
# small enough that extraction, validation and the COPY of neighbouring chunks overlap.
FILAS_POR_TROZO = 250_000
# A day found blocked after its rows were streamed in is rolled back and the batch redone
# without it; the source changing under the run between attempts is retried this many times.
INTENTOS_BLOQUEO = 3


class _Critico(Exception):
    """A chunk is unusable: the batch's transaction is rolled back, then recorded as critical."""

    def __init__(self, frame: pd.DataFrame, criticos: pd.DataFrame):
        super().__init__("critical validation failure")
        self.frame, self.criticos = frame, criticos


class _Bloqueados(Exception):
    """Days the `volumen` check blocks were streamed in: roll back, redo without them."""

    def __init__(self, dias: set[str]):
        super().__init__(", ".join(sorted(dias)))
        self.dias = dias


def _lote(
    context: dg.AssetExecutionContext,
    fuente: Fuente,
    lote: Ventana,
    ivr_url: str,
    warehouse: WarehouseResource,
    centros: list[str],
    juez: "Volumen",
) -> tuple[Resumen, pa.Table]:
    """Extract, validate, load and record one batch of whole days (the days the `volumen`
    check blocks are not loaded: they keep their previous rows)."""
    excluidos: set[str] = set()
    for _ in range(INTENTOS_BLOQUEO):
        try:
            resumen, validas = _lote_en_trozos(context, fuente, lote, ivr_url, warehouse, centros, juez, excluidos)
        except FuenteInutilizable as exc:
            critico = {
                "regla": validacion.COLUMNA_FALTANTE,
                "campo": exc.campo,
                "mensaje": str(exc),
                "fila": -1,
                "casos": 1,
            }
            _fallar_critico(context, warehouse, fuente, lote, None, pd.DataFrame([critico]))
        except _Critico as exc:
            _fallar_critico(context, warehouse, fuente, lote, exc.frame, exc.criticos)
        except _Bloqueados as exc:
            excluidos = exc.dias
            continue
        context.log.info(
            f"{context.asset_key.to_user_string()} {_rango(lote)}: {resumen.total('leidos')} read, "
            f"{resumen.total('cargados')} loaded, {resumen.total('rechazados')} rejected, "
            f"{resumen.total('advertidos')} warned"
        )
        return resumen, validas
    raise dg.Failure(
        description=f"{context.asset_key.to_user_string()} {_rango(lote)}: the days the volumen check blocks "
        f"kept changing while the source was read ({INTENTOS_BLOQUEO} attempts); nothing was loaded, run it again",
        allow_retries=True,
    )


def _en_segundo_plano(generador, profundidad: int = 1):
    """Iterate `generador` in a worker thread, `profundidad` items ahead: the ADBC reader
    decodes the next chunk (GIL released) while this thread validates the current one."""
    cola: queue.Queue = queue.Queue(maxsize=profundidad)
    parar = threading.Event()
    fin = object()

    def producir() -> None:
        try:
            for item in generador:
                while not parar.is_set():
                    try:
                        cola.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if parar.is_set():
                    return
            cola.put((fin, None))
        except BaseException as exc:  # handed to the consumer, raised there
            cola.put((fin, exc))
        finally:
            generador.close()

    hilo = threading.Thread(target=producir, name="extraccion", daemon=True)
    hilo.start()
    try:
        while True:
            item, error = cola.get()
            if item is fin:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        parar.set()
        hilo.join()


def _lote_en_trozos(
    context: dg.AssetExecutionContext,
    fuente: Fuente,
    lote: Ventana,
    ivr_url: str,
    warehouse: WarehouseResource,
    centros: list[str],
    juez: "Volumen",
    excluidos: set[str],
) -> tuple[Resumen, pa.Table]:
    """The batch in overlapping chunks, inside the one transaction that replaces its days:
    while chunk k is validated here, chunk k+1 is read from the source (worker thread) and
    chunk k-1 and its error rows are COPYed in (another). What needs the whole batch comes after the last
    chunk: the duplicate rules over every row's keys (rows they reject that were already
    loaded are deleted again), the per-day counts and the `volumen` verdicts. A day they block
    that was loaded raises _Bloqueados: the transaction rolls back (its previous rows stay) and
    the caller redoes the batch with that day in `excluidos` (streamed, validated, not loaded)."""
    claves = lote.claves()
    desde_dia = (lote.desde - date(1970, 1, 1)).days
    excluir = np.array([c in excluidos for c in claves] + [False], dtype=bool)
    segundos = {"extraccion": 0.0, "validacion": 0.0, "carga": 0.0}
    destino = sql.Identifier("staging", fuente.tabla)
    trozos: list[pa.Table] = []
    dias, rechazos, avisos, previa = [], [], [], None
    por_regla: dict[str, int] = {}
    cargar = [date.fromisoformat(c) for c in claves if c not in excluidos]
    reloj = time.perf_counter()
    with warehouse.connect() as conn:
        with clientes.reemplazar_dias(conn, fuente.tabla, lote.desde, lote.hasta, solo=cargar) as carga:
            # The days' earlier error rows go first: each chunk's own follow its COPY, on the
            # same worker thread, while later chunks are read and validated (rather than all
            # of them in one COPY after the last chunk, with one core idle).
            job_id = _job(conn, context)
            conn.execute(_BORRAR_ERRORES, (context.asset_key.to_user_string(), [d.isoformat() for d in cargar]))
            with (
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="copia") as hilo,
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="duplicados") as reglas,
            ):
                copia, copias_errores, duplicados = None, [], []
                lector = _en_segundo_plano(
                    _con_duplicados(
                        extraccion.leer_trozos(ivr_url, fuente, lote, centros, FILAS_POR_TROZO),
                        fuente,
                        reglas,
                        duplicados,
                    )
                )
                for trozo in lector:
                    ahora = time.perf_counter()
                    segundos["extraccion"] += ahora - reloj
                    reloj = ahora
                    frame = extraccion.a_pandas(trozo)
                    resultado = validacion.validar(fuente.tabla, frame, entre_filas=False)
                    if not resultado.criticos.empty:
                        raise _Critico(frame, resultado.criticos)
                    dia = pc.cast(trozo["fecha"], pa.int32()).to_numpy(zero_copy_only=False) - desde_dia
                    advertencia = np.zeros(len(frame), dtype=bool)
                    advertencia[resultado.fallas.loc[resultado.fallas["severidad"] == validacion.WARNING, "fila"]] = (
                        True
                    )
                    mantener = ~resultado.rechazadas & ~excluir[dia]
                    validas = trozo.filter(pa.array(mantener)).select(list(fuente.columnas_staging))
                    validas = validas.cast(fuente.esquema_staging)
                    ahora = time.perf_counter()
                    segundos["validacion"] += ahora - reloj
                    reloj = ahora
                    if copia is not None:
                        copia.result()  # the previous chunk's COPY (raises its error)
                    particion = _particion_del_trozo(fuente, validas)
                    copia = hilo.submit(
                        copia_binaria.copiar,
                        conn,
                        particion or destino,
                        validas,
                        # the day's partition was truncated in this transaction (reemplazar_dias)
                        congelar=particion is not None,
                    )
                    ahora = time.perf_counter()
                    segundos["carga"] += ahora - reloj
                    reloj = ahora
                    # The chunk's error rows, built while its COPY runs.
                    filas = validacion.filas_de_error(
                        frame, resultado, id_col=fuente.id, columnas=list(fuente.columnas)
                    )
                    filas = filas[~filas["partition_key"].isin(excluidos)] if excluidos else filas
                    copias_errores.append(hilo.submit(_copiar_errores, conn, context, job_id, filas))
                    for regla, n in resultado.por_regla().items():
                        por_regla[regla] = por_regla.get(regla, 0) + n
                    trozos.append(trozo)
                    dias.append(dia)
                    rechazos.append(resultado.rechazadas)
                    avisos.append(advertencia)
                    previa = previa if previa is not None and previa.num_rows else validas.slice(0, 5)
                    segundos["validacion"] += time.perf_counter() - reloj
                    reloj = time.perf_counter()

                # The rules that compare rows ran once, over the whole batch's keys (a copy in
                # another chunk is a copy too), started when the last chunk was read; the copies
                # the chunks loaded are deleted again by id below.
                todo = pa.concat_tables(trozos)
                dia = np.concatenate(dias)
                rechazada = np.concatenate(rechazos)
                advertida = np.concatenate(avisos)
                nuevas = duplicados[0].result()
                # What follows from the whole batch's rules is computed while the last COPYs
                # run: the rows they reject, their error rows, the days' client rows.
                cargadas, errores_nuevos = np.array([], dtype="int64"), None
                if not nuevas.empty:
                    filas_nuevas = nuevas["fila"].to_numpy()
                    cargadas = np.unique(filas_nuevas[~rechazada[filas_nuevas] & ~excluir[dia[filas_nuevas]]])
                    rechazada[filas_nuevas] = True
                    por_regla["id_duplicado"] = por_regla.get("id_duplicado", 0) + len(nuevas)
                    errores_nuevos = _errores_de(fuente, todo, nuevas, excluidos)
                if fuente.tabla == "llamadas":
                    # the days' client rows, from the rows loaded (not read back from staging)
                    carga.clientes_dia = clientes.dias_de_clientes(todo.filter(pa.array(~rechazada & ~excluir[dia])))
                ahora = time.perf_counter()
                segundos["validacion"] += ahora - reloj
                reloj = ahora
                if copia is not None:
                    copia.result()
                for copia_errores in copias_errores:
                    copia_errores.result()
            ahora = time.perf_counter()
            segundos["carga"] += ahora - reloj
            reloj = ahora

            if errores_nuevos is not None:
                _copiar_errores(conn, context, job_id, errores_nuevos)
                if len(cargadas):
                    ids = pc.unique(todo[fuente.id].take(pa.array(cargadas))).to_pylist()
                    conn.execute(
                        sql.SQL("DELETE FROM {} WHERE fecha >= %s AND fecha < %s AND {} = ANY(%s)").format(
                            destino, sql.Identifier(fuente.id)
                        ),
                        (lote.desde, lote.hasta, ids),
                    )
            n = len(claves)
            por_dia = pd.DataFrame(
                {
                    "leidos": np.bincount(dia, minlength=n)[:n],
                    "rechazados": np.bincount(dia[rechazada], minlength=n)[:n],
                    "advertidos": np.bincount(dia[advertida & ~rechazada], minlength=n)[:n],
                },
                index=pd.Index(claves, name="dia"),
                dtype="int64",
            )
            por_dia["cargados"] = por_dia["leidos"] - por_dia["rechazados"]
            resumen = Resumen(por_dia, dict(sorted(por_regla.items())), segundos)

            veredictos = juez.juzgar(conn, {d: int(k) for d, k in por_dia["leidos"].items()})
            bloqueados = {v.fecha for v in veredictos if v.estado == BLOQUEADO}
            if bloqueados != excluidos:
                del juez.veredictos[-len(veredictos) :]
                raise _Bloqueados(bloqueados)
            if bloqueados:
                por_dia.loc[sorted(bloqueados), "cargados"] = 0
            for v in veredictos:
                v.cargadas = int(por_dia.loc[v.fecha, "cargados"])
                leidos, rechazados = (int(por_dia.loc[v.fecha, c]) for c in ("leidos", "rechazados"))
                v.tasa_excedida = v.estado != BLOQUEADO and leidos > 0 and rechazados / leidos > juez.tasa_maxima
            juez.registrar(conn, veredictos)
        # (leaving the block: the days' first-call rows, ANALYZE and the commit)
    segundos["carga"] += time.perf_counter() - reloj
    if previa is None:
        previa = fuente.esquema_staging.empty_table()
    return resumen, previa


def _particion_del_trozo(fuente: Fuente, validas: pa.Table) -> sql.Identifier | None:
    """The day partition a chunk's rows are COPYed straight into when they all belong to one
    day (always, in a daily run): PostgreSQL then routes no row through the parent (about a
    tenth of the COPY) and can write them frozen. None: the chunk spans days (the parent)."""
    extremos = pc.min_max(validas["fecha"]).as_py()
    if validas.num_rows and extremos["min"] == extremos["max"]:
        return reemplazo.particion_dia("staging", fuente.tabla, extremos["min"])
    return None


def _con_duplicados(trozos, fuente: Fuente, hilo: ThreadPoolExecutor, futuro: list):
    """Pass the chunks through keeping their key columns; once the last one is read, the whole
    batch's duplicate rules start on `hilo` (their future appended to `futuro`), so they run
    while the last chunks are still validated and COPYed instead of after them (0.6-0.9 s of
    a 2.4M-event day's tail)."""
    claves = []
    for trozo in trozos:
        claves.append(trozo.select(validacion.columnas_duplicados(fuente.tabla)))
        yield trozo
    futuro.append(hilo.submit(_duplicados, fuente, pa.concat_tables(claves)))


def _duplicados(fuente: Fuente, claves: pa.Table) -> pd.DataFrame:
    """id_duplicado failures over the whole batch's key columns (rows by position in `claves`,
    which `_con_duplicados` gathered): the rules run on the rows that can break them only, read
    into pandas with their positions as index."""
    filas = validacion.filas_candidatas(fuente.tabla, claves)
    candidatas = extraccion.a_pandas(claves.take(pa.array(filas)))
    return validacion.duplicados(fuente.tabla, candidatas.set_axis(pd.Index(filas)))


def _errores_de(fuente: Fuente, todo: pa.Table, fallas: pd.DataFrame, excluidos: set[str]) -> pd.DataFrame:
    """The error rows of failures found over the whole batch (rows by position in `todo`)."""
    unicas = np.unique(fallas["fila"].to_numpy())
    frame = extraccion.a_pandas(todo.take(pa.array(unicas)))
    locales = fallas.assign(fila=np.searchsorted(unicas, fallas["fila"].to_numpy()))
    resultado = validacion.Resultado(fallas=locales, criticos=validacion._CRITICOS_VACIOS.copy(), filas=len(frame))
    filas = validacion.filas_de_error(frame, resultado, id_col=fuente.id, columnas=list(fuente.columnas))
    return filas[~filas["partition_key"].isin(excluidos)] if excluidos else filas


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
                    "partition_key": dia,
                    "record_id": record_id,
                    "field_name": critico.campo,
                    "error_type": critico.regla,
                    "error_message": critico.mensaje,
                    "severity": validacion.CRITICAL,
                    "record_data": record_data,
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


def _tasa_rechazo_dia(clave: dg.AssetKey, dia: str, fila, maxima: float) -> dg.AssetCheckEvaluation:
    """One day's reject-rate verdict, as a per-partition evaluation (range runs)."""
    tasa = float(fila["rechazados"] / fila["leidos"]) if fila["leidos"] else 0.0
    return dg.AssetCheckEvaluation(
        asset_key=clave,
        check_name=CHECK_TASA_RECHAZO,
        passed=tasa <= maxima,
        partition=dia,
        severity=dg.AssetCheckSeverity.ERROR,
        blocking=True,
        description=f"{dia}: rejected share {tasa:.2%} ({'above' if tasa > maxima else 'within'} {maxima:.2%})",
        metadata={
            "leidos": int(fila["leidos"]),
            "rechazados": int(fila["rechazados"]),
            "advertidos": int(fila["advertidos"]),
            "tasa_rechazo": round(tasa, 6),
            "tasa_rechazo_maxima": maxima,
        },
    )


def _tasa_rechazo(
    resumen: Resumen, maxima: float, severidad: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR
) -> dg.AssetCheckResult:
    """Fails (ERROR, blocking) when any day of the window rejected more than the allowed share;
    WARN in a range run, where each day has its own evaluation and the reports gate per day."""
    por_dia = resumen.por_dia
    tasa = (por_dia["rechazados"] / por_dia["leidos"].where(por_dia["leidos"] > 0)).fillna(0.0)
    excedidos = tasa[tasa > maxima]
    leidos = resumen.total("leidos")
    return dg.AssetCheckResult(
        check_name=CHECK_TASA_RECHAZO,
        passed=excedidos.empty,
        severity=severidad,
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


def _metadata(fuente: Fuente, previa: pa.Table, resumen: Resumen, *, por_dia: bool) -> dict:
    """`por_dia`: the run is one day. A range run's materialization is recorded on every day
    of the range with this same metadata, so it carries no `dagster/row_count` (that would be
    the range's total on each day); each day's count is an observation of its own."""
    cargados = resumen.total("cargados")
    return {
        **({"dagster/row_count": cargados} if por_dia else {}),
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
                partitions_def=partitions.diaria,
                description="Rejected rows of each day stay within IACT_MAX_TASA_RECHAZO (default 5%).",
            ),
            dg.AssetCheckSpec(
                CHECK_VOLUMEN,
                asset=clave,
                blocking=True,
                partitions_def=partitions.diaria,
                description="Each day read rows, and at least IACT_VOLUMEN_MINIMO (default 0.5) x the median of "
                "the same weekday 7, 14, 21 and 28 days earlier; a blocked day keeps its previous rows.",
            ),
        ],
    )
    def _staging(
        context: dg.AssetExecutionContext,
        ivr: IvrResource,
        warehouse: WarehouseResource,
        settings: PipelineSettings,
    ):
        # Yielded, not returned: in a range run the per-partition `volumen` check is not one of
        # the step's outputs, and Dagster reads a returned MaterializeResult (a NamedTuple)
        # against the output count.
        with errores_clasificados():
            yield _materializar(context, tabla, ivr, warehouse, settings)

    return _staging


llamadas = _asset("llamadas", "Llamadas validadas de los centros permitidos, por día local de inicio.")
menu_eventos = _asset(
    "menu_eventos", "Visitas validadas a menús del IVR de los centros permitidos, por día local de entrada."
)
transferencias = _asset(
    "transferencias", "Transferencias validadas desde los centros permitidos, por día local de inicio."
)

staging_assets = [llamadas, menu_eventos, transferencias]
# The reject-rate checks live inside the assets (check_specs), so they run in the same step
# and block downstream assets of the same run.
staging_checks: list = []
