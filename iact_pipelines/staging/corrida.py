"""The conductor of a staging run: the run's local days, in batches of whole days, each batch
loaded in the order its phases happen.

For each batch: open the days (`carga.reemplazar_dias`: one transaction), read a chunk
(`extraccion.leer_trozos`), validate it (`validacion.validar`), load it (`carga.Copiador`) and
record its error rows (`errores.copiar`); after the last chunk, the rules over the whole batch
(duplicate ids), then the gate (`compuerta.Volumen`) and the close (first calls, commit). A day
the gate blocks after its rows were streamed in is rolled back and the batch redone without it.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from iact_pipelines.fuentes.contrato import FUENTES, Fuente
from iact_pipelines.plataforma import catalogo, ejecuciones, hilos, markdown, memoria
from iact_pipelines.plataforma.fechas import Ventana
from iact_pipelines.plataforma.resources import IvrResource, PipelineSettings, WarehouseResource
from iact_pipelines.staging import carga, clientes, compuerta, errores, extraccion, publicacion, validacion

# A backfill is one run, but its window is read in batches of whole days sized to stay under
# this many source rows (peak memory measured at ~0.5 KB per row: Arrow, pandas, failure
# cases), so a range of years cannot exhaust memory. The first batch is one day; later ones
# are sized from the rows per day seen so far.
FILAS_POR_LOTE = 1_200_000
# The source changing under the run between attempts (the blocked days differ each time) is
# retried this many times.
INTENTOS_BLOQUEO = 3


@dataclass(frozen=True)
class Resumen:
    """What a run did to its window, per day and in total."""

    por_dia: pd.DataFrame  # index: fecha (ISO); columns: leidos, rechazados, advertidos, cargados
    por_regla: dict[str, int]
    segundos: dict[str, float]  # extraccion, validacion, carga

    def total(self, columna: str) -> int:
        return int(self.por_dia[columna].sum())

    @staticmethod
    def unir(resumenes: list[Resumen]) -> Resumen:
        por_regla: dict[str, int] = {}
        segundos: dict[str, float] = {}
        for r in resumenes:
            for regla, n in r.por_regla.items():
                por_regla[regla] = por_regla.get(regla, 0) + n
            for fase, t in r.segundos.items():
                segundos[fase] = segundos.get(fase, 0.0) + t
        return Resumen(pd.concat([r.por_dia for r in resumenes]), dict(sorted(por_regla.items())), segundos)


@dataclass
class Lote:
    """One batch of whole days and what every phase of its load shares."""

    context: dg.AssetExecutionContext
    fuente: Fuente
    ventana: Ventana
    ivr_url: str
    warehouse: WarehouseResource
    centros: list[str]
    juez: compuerta.Volumen
    excluidos: set[str] = field(default_factory=set)  # days streamed and validated, not loaded

    @property
    def asset_key(self) -> str:
        return self.context.asset_key.to_user_string()

    def a_cargar(self) -> list[date]:
        return [d for d in self.ventana.dias() if d.isoformat() not in self.excluidos]

    def excluir(self) -> np.ndarray:
        """Per day offset of the batch, whether that day is left out (one more slot: False)."""
        return np.array([c in self.excluidos for c in self.ventana.claves()] + [False], dtype=bool)

    def job_id(self, conn: psycopg.Connection) -> int:
        rango = self.context.partition_key_range
        clave = rango.start if rango.start == rango.end else f"{rango.start}...{rango.end}"
        return ejecuciones.asegurar_job(
            conn, run_id=self.context.run_id, job_name=self.context.job_name, partition_key=clave
        )


class _Critico(Exception):
    """A chunk is unusable: the batch's transaction is rolled back, then recorded as critical."""

    def __init__(self, frame: pd.DataFrame | None, criticos: pd.DataFrame):
        super().__init__("critical validation failure")
        self.frame, self.criticos = frame, criticos


class _Bloqueados(Exception):
    """Days the `volumen` check blocks were streamed in: roll back, redo without them."""

    def __init__(self, dias: set[str]):
        super().__init__(", ".join(sorted(dias)))
        self.dias = dias


def cargar_ventana(
    context: dg.AssetExecutionContext,
    tabla: str,
    ivr: IvrResource,
    warehouse: WarehouseResource,
    settings: PipelineSettings,
):
    """The run's days of `staging.<tabla>`, batch after batch; then what Dagster shows of them."""
    juez = compuerta.Volumen(
        asset_key=context.asset_key.to_user_string(),
        fraccion=settings.volumen_minimo_fraccion(),
        pico=settings.volumen_pico_factor(),
        tasa_maxima=settings.tasa_rechazo_maxima(),
        aceptados=compuerta.dias_aceptados(context.run.tags),
        aceptado_por=compuerta.aceptado_por(context),
        run_id=context.run_id,
        centros=tuple(settings.centros_permitidos()),
    )
    fuente = FUENTES[tabla]
    resumenes: list[Resumen] = []
    for ventana in _lotes(_ventana(context, settings), resumenes):
        lote = Lote(context, fuente, ventana, ivr.url_lectura(), warehouse, settings.centros_permitidos(), juez)
        resumenes.append(_cargar_sin_bloqueados(lote))
        del lote
        memoria.devolver()  # the next batch, or the next step of this run, starts from here
    reloj = hilos.Cronometro()
    with warehouse.connect() as conn:
        carga.analizar(conn, tabla)
        reloj.marcar("carga")
        resumen = Resumen.unir(resumenes)
        resumen.segundos["carga"] = resumen.segundos.get("carga", 0.0) + reloj.segundos["carga"]
        figuras = publicacion.dias(conn, fuente, juez, resumen.por_dia)
    un_dia = context.has_partition_key
    yield dg.MaterializeResult(
        metadata=_metadata(fuente, resumen, figuras, un_dia),
        check_results=compuerta.resultados(juez, resumen.por_dia, resumen.por_regla, un_dia=un_dia),
    )
    if not un_dia:
        publicacion.publicar_rango(context, juez, resumen.por_dia, figuras)
        falla = compuerta.falla_si_retenidos(context, juez)
        if falla is not None:
            raise falla


def _ventana(context: dg.AssetExecutionContext, settings: PipelineSettings) -> Ventana:
    """The run's local days: one partition or a whole backfill range."""
    zona = settings.zona()
    tz = ZoneInfo(zona)
    ventana = context.partition_time_window
    return Ventana(ventana.start.astimezone(tz).date(), ventana.end.astimezone(tz).date(), zona)


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


def _cargar_sin_bloqueados(lote: Lote) -> Resumen:
    """One batch loaded, the days the `volumen` check blocks left out (they keep their
    previous rows); an unusable batch is recorded as critical and fails the run."""
    for _ in range(INTENTOS_BLOQUEO):
        try:
            resumen = _cargar_lote(lote)
        except extraccion.FuenteInutilizable as exc:
            critico = {"regla": validacion.COLUMNA_FALTANTE, "campo": exc.campo, "mensaje": str(exc), "fila": -1}
            _fallar_critico(lote, _Critico(None, pd.DataFrame([{**critico, "casos": 1}])))
        except _Critico as exc:
            _fallar_critico(lote, exc)
        except _Bloqueados as exc:
            lote.excluidos = exc.dias
            continue
        lote.context.log.info(
            f"{lote.asset_key} {lote.ventana.rango()}: {resumen.total('leidos')} leídas, "
            f"{resumen.total('cargados')} cargadas, {resumen.total('rechazados')} rechazadas, "
            f"{resumen.total('advertidos')} con advertencia"
        )
        return resumen
    raise dg.Failure(
        description=f"{lote.asset_key} {lote.ventana.rango()}: los días que retiene el check volumen cambiaron "
        f"mientras se leía la fuente ({INTENTOS_BLOQUEO} intentos); no se cargó nada, vuelva a correrlo",
        allow_retries=True,
    )


def _fallar_critico(lote: Lote, exc: _Critico):
    with lote.warehouse.connect() as conn, conn.transaction():
        causas = errores.registrar_criticos(
            conn, lote.job_id(conn), lote.context, lote.fuente, lote.ventana, exc.frame, exc.criticos
        )
    raise errores.falla_critica(lote.asset_key, lote.ventana, causas)


@dataclass
class _Leido:
    """What the chunks of a batch leave for the phases over the whole batch."""

    trozos: list[pa.Table] = field(default_factory=list)
    dias: list[np.ndarray] = field(default_factory=list)  # each row's day offset in the batch
    rechazos: list[np.ndarray] = field(default_factory=list)
    avisos: list[np.ndarray] = field(default_factory=list)
    por_regla: dict[str, int] = field(default_factory=dict)


@dataclass
class _Validado:
    trozo: pa.Table  # as read, impossible instants nulled (their rows rejected)
    frame: pd.DataFrame
    resultado: validacion.Resultado
    dia: np.ndarray
    advertida: np.ndarray
    validas: pa.Table  # the rows to load, with staging's columns and types


def _cargar_lote(lote: Lote) -> Resumen:
    """The batch in overlapping chunks, inside the one transaction that replaces its days:
    while chunk k is validated here, chunk k+1 is read from the source (worker thread) and
    chunk k-1 and its error rows are COPYed in (another). What needs the whole batch comes
    after the last chunk: the duplicate rules over every row's keys, the per-day counts and
    the `volumen` verdicts."""
    fuente, reloj, excluir = lote.fuente, hilos.Cronometro(), lote.excluir()
    with lote.warehouse.connect() as conn:
        with carga.reemplazar_dias(conn, fuente.tabla, lote.ventana.desde, lote.ventana.hasta, lote.a_cargar()) as dias:
            # The days' earlier error rows go first: each chunk's own follow its COPY.
            job_id = lote.job_id(conn)
            errores.borrar(conn, lote.asset_key, [d.isoformat() for d in lote.a_cargar()])
            with carga.Copiador(conn, fuente) as copiador, ThreadPoolExecutor(1, "duplicados") as reglas:
                leido, duplicados = _Leido(), []
                trozos = extraccion.leer_trozos(lote.ivr_url, fuente, lote.ventana, lote.centros, carga.FILAS_POR_TROZO)
                with closing(hilos.en_segundo_plano(_con_duplicados(trozos, fuente, reglas, duplicados))) as lector:
                    for trozo in reloj.iterar("extraccion", lector):
                        validado = _validar(lote, trozo, excluir)
                        reloj.marcar("validacion")
                        copiador.copiar(validado.validas)
                        reloj.marcar("carga")
                        filas = validacion.filas_de_error(
                            validado.frame, validado.resultado, id_col=fuente.id, columnas=list(fuente.columnas)
                        )
                        copiador.enviar(_copiar_errores, lote, job_id, errores.sin_excluidos(filas, lote.excluidos))
                        _acumular(leido, validado.trozo, validado)
                        reloj.marcar("validacion")
                lote_entero = _reglas_del_lote(lote, leido, duplicados[0].result(), excluir)
                if fuente.tabla == "llamadas":
                    # the days' client rows, from the rows loaded (not read back from staging)
                    dias.clientes_dia = clientes.dias_de_clientes(lote_entero.cargables(excluir, clientes.COLUMNAS))
                reloj.marcar("validacion")
                copiador.esperar()
            reloj.marcar("carga")
            por_dia = _quitar_duplicados(conn, lote, job_id, lote_entero)
            _juzgar(conn, lote, por_dia, _leidas_por_centro(lote, lote_entero))
        # (leaving the block: the days' first-call rows, ANALYZE and the commit)
    reloj.marcar("carga")
    return Resumen(por_dia, dict(sorted(leido.por_regla.items())), reloj.segundos)


def _copiar_errores(conn: psycopg.Connection, lote: Lote, job_id: int, filas: pd.DataFrame) -> None:
    errores.copiar(conn, job_id, lote.context.run_id, lote.asset_key, filas)


def _validar(lote: Lote, trozo: pa.Table, excluir: np.ndarray) -> _Validado:
    """A chunk's row rules; the rows to load are the valid (or only warned) ones of the days
    not left out. An unusable chunk raises _Critico."""
    fuente = lote.fuente
    trozo, imposibles = extraccion.sin_fechas_imposibles(trozo)
    frame = extraccion.a_pandas(trozo)
    resultado = validacion.validar(fuente.tabla, frame, entre_filas=False).con_fallas(imposibles)
    if not resultado.criticos.empty:
        raise _Critico(frame, resultado.criticos)
    desde_dia = (lote.ventana.desde - date(1970, 1, 1)).days
    dia = pc.cast(trozo["fecha"], pa.int32()).to_numpy(zero_copy_only=False) - desde_dia
    advertida = np.zeros(len(frame), dtype=bool)
    advertida[resultado.fallas.loc[resultado.fallas["severidad"] == validacion.WARNING, "fila"]] = True
    mantener = ~resultado.rechazadas & ~excluir[dia]
    validas = trozo.filter(pa.array(mantener)).select(list(fuente.columnas_staging)).cast(fuente.esquema_staging)
    return _Validado(trozo, frame, resultado, dia, advertida, validas)


def _acumular(leido: _Leido, trozo: pa.Table, validado: _Validado) -> None:
    for regla, n in validado.resultado.por_regla().items():
        leido.por_regla[regla] = leido.por_regla.get(regla, 0) + n
    leido.trozos.append(trozo)
    leido.dias.append(validado.dia)
    leido.rechazos.append(validado.resultado.rechazadas)
    leido.avisos.append(validado.advertida)


def _con_duplicados(trozos, fuente: Fuente, hilo: ThreadPoolExecutor, futuro: list[Future]):
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
    """id_duplicado failures over the whole batch's key columns (rows by position in `claves`):
    the rules run on the rows that can break them only, read into pandas with their positions
    as index."""
    filas = validacion.filas_candidatas(fuente.tabla, claves)
    candidatas = extraccion.a_pandas(extraccion.tomar(claves, filas))
    return validacion.duplicados(fuente.tabla, candidatas.set_axis(pd.Index(filas)))


@dataclass
class _LoteEntero:
    """The batch's rows after the rules over the whole batch."""

    todo: pa.Table
    dia: np.ndarray
    rechazada: np.ndarray
    advertida: np.ndarray
    ya_cargadas: np.ndarray  # rows the chunks loaded that those rules reject
    errores_nuevos: pd.DataFrame | None

    def cargables(self, excluir: np.ndarray, columnas: list[str]) -> pa.Table:
        """`columnas` of the rows loaded (filtering the whole batch would copy every column)."""
        return self.todo.select(columnas).filter(pa.array(~self.rechazada & ~excluir[self.dia]))


def _reglas_del_lote(lote: Lote, leido: _Leido, nuevas: pd.DataFrame, excluir: np.ndarray) -> _LoteEntero:
    """The rules that compare rows ran once, over the whole batch's keys (a copy in another
    chunk is a copy too); what follows from them is computed while the last COPYs run."""
    todo = pa.concat_tables(leido.trozos)
    dia, rechazada, advertida = (np.concatenate(x) for x in (leido.dias, leido.rechazos, leido.avisos))
    ya_cargadas, errores_nuevos = np.array([], dtype="int64"), None
    if not nuevas.empty:
        filas_nuevas = nuevas["fila"].to_numpy()
        ya_cargadas = np.unique(filas_nuevas[~rechazada[filas_nuevas] & ~excluir[dia[filas_nuevas]]])
        rechazada[filas_nuevas] = True
        leido.por_regla["id_duplicado"] = leido.por_regla.get("id_duplicado", 0) + len(nuevas)
        errores_nuevos = errores.de_fallas(lote.fuente, todo, nuevas, lote.excluidos)
    return _LoteEntero(todo, dia, rechazada, advertida, ya_cargadas, errores_nuevos)


def _quitar_duplicados(conn: psycopg.Connection, lote: Lote, job_id: int, entero: _LoteEntero) -> pd.DataFrame:
    """Record the whole-batch rules' error rows, delete the copies the chunks loaded, and
    count each day: read, rejected, warned, loaded."""
    if entero.errores_nuevos is not None:
        errores.copiar(conn, job_id, lote.context.run_id, lote.asset_key, entero.errores_nuevos)
        if len(entero.ya_cargadas):
            copias = extraccion.tomar(entero.todo.select([lote.fuente.id]), entero.ya_cargadas)
            ids = pc.unique(copias[lote.fuente.id]).to_pylist()
            carga.borrar_ids(conn, lote.fuente, lote.a_cargar(), ids)
    claves = lote.ventana.claves()
    n, dia = len(claves), entero.dia
    por_dia = pd.DataFrame(
        {
            "leidos": np.bincount(dia, minlength=n)[:n],
            "rechazados": np.bincount(dia[entero.rechazada], minlength=n)[:n],
            "advertidos": np.bincount(dia[entero.advertida & ~entero.rechazada], minlength=n)[:n],
        },
        index=pd.Index(claves, name="dia"),
        dtype="int64",
    )
    por_dia["cargados"] = por_dia["leidos"] - por_dia["rechazados"]
    return por_dia


def _leidas_por_centro(lote: Lote, entero: _LoteEntero) -> dict[str, dict[str, int]]:
    """Each day's rows read per center (as the allowed list names it: legacy padding trimmed)."""
    # Chunk by chunk: the whole batch's centers trimmed at once were a copy of the column.
    cuentas, inicio = [], 0
    for trozo in entero.todo[lote.fuente.centro].chunks:
        centros = pc.utf8_trim_whitespace(trozo.cast(pa.string()))
        dias = entero.dia[inicio : inicio + len(trozo)]
        cuentas.append(
            pa.table({"dia": dias, "centro": centros}).group_by(["dia", "centro"]).aggregate([("dia", "count")])
        )
        inicio += len(trozo)
    if not cuentas:
        return {}
    grupos = pa.concat_tables(cuentas).group_by(["dia", "centro"]).aggregate([("dia_count", "sum")])
    claves = lote.ventana.claves()
    resultado: dict[str, dict[str, int]] = {}
    for dia, centro, n in zip(*(grupos[c].to_pylist() for c in ("dia", "centro", "dia_count_sum")), strict=True):
        if centro is not None:
            resultado.setdefault(claves[dia], {})[centro] = n
    return resultado


def _juzgar(conn: psycopg.Connection, lote: Lote, por_dia: pd.DataFrame, por_centro: dict) -> None:
    """The gate: the batch's `volumen` verdicts. A day it blocks that was loaded raises
    _Bloqueados: the transaction rolls back (its previous rows stay) and the batch is redone
    with that day left out (streamed, validated, not loaded)."""
    veredictos = lote.juez.juzgar(conn, {d: int(k) for d, k in por_dia["leidos"].items()}, por_centro)
    bloqueados = {v.fecha for v in veredictos if v.estado == compuerta.BLOQUEADO}
    if bloqueados != lote.excluidos:
        del lote.juez.veredictos[-len(veredictos) :]
        raise _Bloqueados(bloqueados)
    if bloqueados:
        por_dia.loc[sorted(bloqueados), "cargados"] = 0
    lote.juez.cerrar(conn, veredictos, por_dia)


def _metadata(fuente: Fuente, resumen: Resumen, figuras: list[publicacion.Dia], un_dia: bool) -> dict:
    """One day: that day's figures. A range: Dagster records this materialization on every day
    of the range, so it carries the range's totals, labelled as such, and no day's figures
    (each day's own materialization follows it)."""
    cargados = resumen.total("cargados")
    dias = resumen.por_dia.index
    return {
        **(figuras[0].metadata() if un_dia else {"rango": f"{dias[0]}...{dias[-1]}", "dias_del_rango": len(dias)}),
        **catalogo.tabla(f"staging.{fuente.tabla}").metadata_dagster(),
        **({} if un_dia else {"por_dia": dg.MetadataValue.md(_tabla_md(resumen.por_dia.reset_index(names="fecha")))}),
        # The run's totals, plain integers: the etl_jobs mirror reads them from the run's first
        # materialization of each asset.
        "registros_extraidos": resumen.total("leidos"),
        "registros_transformados": cargados,
        "registros_cargados": cargados,
        "registros_fallidos": resumen.total("rechazados"),
        "registros_advertidos": resumen.total("advertidos"),
        # Wall seconds per phase (the benchmark reads `segundos_*`).
        **{f"segundos_{fase}": round(t, 3) for fase, t in resumen.segundos.items()},
    }


def _tabla_md(frame: pd.DataFrame) -> str:
    return markdown.tabla_md(list(frame.columns), frame.itertuples(index=False))
