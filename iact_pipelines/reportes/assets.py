"""Report assets: one per entry of `registro.REPORTES`, aggregated from staging inside PostgreSQL.

Each asset replaces its window's rows in one transaction (`reemplazo.reemplazar_periodo`: a
re-run is idempotent, a failure leaves the old rows, two runs of one period serialize) with one
`INSERT ... SELECT ... GROUP BY` statement from `metricas` (why in SQL: see that module). A
backfill of a range is one run (`BackfillPolicy.single_run`) and that run one statement over the
whole window rather than a loop over days.

Trust: a daily report leaves out the days the staging gate holds back (`compuerta.dias_retenidos`:
they keep their previous rows; the other days are built, then the step fails naming them), and
every report reads staging under the shared per-day locks, so it never sees a day a concurrent
load has truncated but not yet committed. A month or quarter states how many of its days are
loaded (`compuerta.dias_cargados`), and is `final` only when it has ended and all of them are.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
from psycopg import sql

from iact_pipelines.plataforma import catalogo, ejecuciones, fechas, markdown, partitions, reemplazo
from iact_pipelines.plataforma.resources import PipelineSettings, WarehouseResource, errores_clasificados
from iact_pipelines.reportes import registro
from iact_pipelines.reportes.registro import Reporte
from iact_pipelines.staging import compuerta

GRUPO = "reportes"
_FILAS_PREVIA = 24

STAGING_LLAMADAS = dg.AssetKey(["staging", "llamadas"])

# A month or quarter maps onto its days; the open one onto days that do not exist yet.
_DIAS_DEL_PERIODO = dg.TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)


def _spec(reporte: Reporte) -> dg.AssetSpec:
    """`reportes/<nombre>` writing its table, described by the catalog, on its staging input
    (a month or quarter reads all of its days)."""
    tabla = catalogo.tabla(reporte.tabla)
    mapeo = None if reporte.diario else _DIAS_DEL_PERIODO
    return dg.AssetSpec(
        key=reporte.clave,
        description=tabla.descripcion,
        group_name=GRUPO,
        kinds={"postgres"},
        tags={partitions.ETIQUETA: reporte.particiones},
        deps=[
            *([dg.AssetDep(reporte.clave_staging, partition_mapping=mapeo)] if reporte.staging else []),
            *reporte.claves_entrada,
        ],
        metadata=tabla.metadata_dagster(),
        # a period with no loaded day publishes nothing: the step ends without its output
        skippable=not reporte.diario,
    )


def _previa(conn, tabla: str, desde: date, hasta: date) -> str:
    """The first rows written, as a markdown table (same transaction: sees the new rows)."""
    claves = catalogo.tabla(tabla).clave
    nombres = catalogo.tabla(tabla).nombres()
    consulta = sql.SQL("SELECT {} FROM {} WHERE {} >= %s AND {} < %s ORDER BY {} LIMIT %s").format(
        sql.SQL(", ").join(map(sql.Identifier, nombres)),
        sql.Identifier(tabla),
        sql.Identifier(claves[0]),
        sql.Identifier(claves[0]),
        sql.SQL(", ").join(map(sql.Identifier, claves)),
    )
    return markdown.tabla_md(nombres, conn.execute(consulta, (desde, hasta, _FILAS_PREVIA)).fetchall())


def _a_metadato(valor):
    """Headline figures as plain numbers (Decimal is not a metadata type)."""
    if isinstance(valor, int):
        return valor
    return float(valor)


def _segmentos(desde: date, hasta: date, fuera: list[date]) -> list[tuple[date, date]]:
    """[desde, hasta) split into runs of consecutive days, leaving out the days in `fuera`."""
    segmentos, inicio = [], None
    for dia in fechas.dias_semiabiertos(desde, hasta):
        if dia in fuera:
            if inicio is not None:
                segmentos.append((inicio, dia))
            inicio = None
        elif inicio is None:
            inicio = dia
    if inicio is not None:
        segmentos.append((inicio, hasta))
    return segmentos


@dataclass
class _Construccion:
    """What one report's run wrote: rows, headline figures, the days the gate held back."""

    reporte: Reporte
    desde: date
    hasta: date
    retenidos: list[date] = field(default_factory=list)  # daily: days the gate holds back
    vacios: list[str] = field(default_factory=list)  # periods: partition keys with no loaded day
    segmentos: list[tuple[date, date]] = field(default_factory=list)
    registros: int = 0
    cifras: dict = field(default_factory=dict)
    por_particion: dict[str, dict] = field(default_factory=dict)  # each written partition's own figures
    periodos: dict[str, tuple[date, date]] = field(default_factory=dict)  # periods: each key's days
    cargas: dict[str, dict] = field(default_factory=dict)  # periods: each key's loaded days, final
    previa: str = ""

    @property
    def construidos(self) -> list[str]:
        return sorted(self.por_particion)


def _reemplazar_segmento(
    conn: psycopg.Connection,
    context: dg.AssetExecutionContext,
    settings: PipelineSettings,
    obra: _Construccion,
    inicio: date,
    fin: date,
) -> None:
    """Replace the report's rows of [inicio, fin) in one transaction: lock the staging days it
    reads, run the preparation and the report statement, read its headline figures (a daily
    report's statement answers one row per day)."""
    reporte = obra.reporte
    preparacion, sentencia = reporte.sentencias(settings)
    diario = reporte.diario
    claves = [d.isoformat() for d in fechas.dias_semiabiertos(inicio, fin)] if diario else context.partition_keys
    columna = catalogo.tabla(reporte.tabla).clave[0]
    parametros = {
        "desde": inicio,
        "hasta": fin,
        "umbral": settings.umbral_espera_segundos(),
        **reporte.parametros(settings),
    }
    with reemplazo.reemplazar_periodo(conn, reporte.tabla, columna, inicio, fin, claves):
        if reporte.staging:
            reemplazo.leer_staging(conn, [reporte.staging])
        for paso in preparacion:
            if callable(paso):
                paso(conn, parametros)  # work done in Python, in the same transaction
            else:
                conn.execute(paso, parametros)
        cur = conn.execute(sentencia, parametros)
        nombres = [d.name for d in cur.description]
        filas = [dict(zip(nombres, fila, strict=True)) for fila in cur.fetchall()]
        if nombres[0] == "fecha":
            por_dia = {f.pop("fecha").isoformat(): f for f in filas}
            for dia in fechas.dias_semiabiertos(inicio, fin):
                obra.por_particion[dia.isoformat()] = por_dia.get(dia.isoformat(), {"registros_cargados": 0})
            obra.cifras = dict(filas[0]) if len(filas) == 1 and fin - inicio == timedelta(days=1) else {}
        else:
            (obra.cifras,) = filas
        if reporte.cifras is not None:
            obra.cifras.update(reporte.cifras(conn, settings, inicio, fin))
        obra.registros += int(sum(int(f["registros_cargados"]) for f in filas))
        obra.cifras.pop("registros_cargados", None)


def _periodos(context: dg.AssetExecutionContext) -> dict[str, tuple[date, date]]:
    """The run's partition keys and their [start, end) days."""
    definicion = context.assets_def.partitions_def
    ventanas = {k: definicion.time_window_for_partition_key(k) for k in context.partition_keys}
    return {k: (v.start.date(), v.end.date()) for k, v in ventanas.items()}


def _cifras_del_periodo(conn: psycopg.Connection, obra: _Construccion, desde: date, hasta: date) -> dict:
    """A month's or quarter's loaded days, and whether it is final (ended, every day loaded)."""
    clave = obra.reporte.clave_staging.to_user_string()
    cargados = compuerta.dias_cargados(conn, clave, desde, hasta)
    del_periodo = (hasta - desde).days
    cerrado = hasta <= datetime.now(ZoneInfo(partitions.ZONA_HORARIA)).date()
    return {
        "dias_cargados": int(cargados),
        "dias_del_periodo": del_periodo,
        "final": bool(cerrado and cargados == del_periodo),
    }


def _fuera_de_la_ventana(context, conn: psycopg.Connection, obra: _Construccion) -> list[date]:
    """The days not to rebuild: a daily report's days the gate holds back (they keep their rows;
    the step then fails naming them); a period's days when none of them was loaded (nothing is
    published from nothing: the period keeps any row it had)."""
    reporte = obra.reporte
    if reporte.staging is None:
        return []  # built from other reports' tables: those have their own gates
    with conn.transaction():  # its own: each segment after it must be a transaction, not a savepoint
        if reporte.diario:
            obra.retenidos = compuerta.dias_retenidos(
                conn, [reporte.clave_staging.to_user_string()], obra.desde, obra.hasta
            )
            return obra.retenidos
        obra.periodos = _periodos(context)
        obra.cargas = {k: _cifras_del_periodo(conn, obra, d, h) for k, (d, h) in obra.periodos.items()}
        obra.vacios = [k for k, cifras in obra.cargas.items() if not cifras["dias_cargados"]]
    return [dia for k in obra.vacios for dia in fechas.dias_semiabiertos(*obra.periodos[k])]


def _escribir(context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings, obra: _Construccion):
    """Every segment of the window to rebuild, each its own transaction, then each written
    partition's figures and preview."""
    reporte = obra.reporte
    with errores_clasificados(), warehouse.connect() as conn:
        obra.segmentos = _segmentos(obra.desde, obra.hasta, _fuera_de_la_ventana(context, conn, obra))
        for inicio, fin in obra.segmentos:
            _reemplazar_segmento(conn, context, settings, obra, inicio, fin)
        if len(obra.segmentos) != 1:
            obra.cifras = {}  # headline figures of one segment would misdescribe the window
        with conn.transaction():
            for clave in (k for k in obra.periodos if k not in obra.vacios):
                desde, hasta = obra.periodos[clave]
                obra.por_particion[clave] = {
                    "registros_cargados": _contar(conn, reporte.tabla, desde, hasta),
                    **obra.cargas[clave],
                }
            if len(obra.periodos) == 1 and obra.por_particion:
                obra.cifras.update(next(iter(obra.por_particion.values())))
            obra.previa = _previa(conn, reporte.tabla, obra.desde, obra.hasta)
            if len(context.partition_keys) > 1:
                for clave, cifras in obra.por_particion.items():
                    desde, hasta = obra.periodos[clave] if not reporte.diario else _dia(clave)
                    cifras["previa"] = _previa(conn, reporte.tabla, desde, hasta)


def _dia(clave: str) -> tuple[date, date]:
    dia = date.fromisoformat(clave)
    return dia, dia + timedelta(days=1)


def _contar(conn: psycopg.Connection, tabla: str, desde: date, hasta: date) -> int:
    columna = sql.Identifier(catalogo.tabla(tabla).clave[0])
    consulta = sql.SQL("SELECT count(*) FROM {} WHERE {} >= %s AND {} < %s").format(
        sql.Identifier(tabla), columna, columna
    )
    return conn.execute(consulta, (desde, hasta)).fetchone()[0]


def _metadata_de_particion(obra: _Construccion, clave: str, run_id: str) -> dict:
    """What one partition's own materialization says: the rows the table holds for it (it was
    just replaced), its headline figures, its preview."""
    cifras = dict(obra.por_particion[clave])
    filas = int(cifras.pop("registros_cargados"))
    previa = cifras.pop("previa", None)
    return {
        "dagster/partition_row_count": filas,
        "dagster/row_count": filas,
        "dagster/table_name": obra.reporte.tabla,
        "particion": clave,
        "registros_cargados": filas,
        **({"previa": dg.MetadataValue.md(previa)} if previa is not None else {}),
        **{nombre: _a_metadato(valor) for nombre, valor in cifras.items() if valor is not None},
        "run_id": run_id,
    }


def _fallo_por_retenidos(context: dg.AssetExecutionContext, obra: _Construccion) -> dg.Failure:
    """The built days get their materialization, then the step fails naming the rest. Events
    logged through the context are dropped when the step raises, so they are reported to the
    instance directly (tagged with this run)."""
    tabla, retenidos = obra.reporte.tabla, obra.retenidos
    for dia in obra.construidos:
        metadata = _metadata_de_particion(obra, dia, context.run_id)
        metadata["construido_sin"] = ", ".join(d.isoformat() for d in retenidos)
        context.instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=obra.reporte.clave, partition=dia, metadata=metadata)
        )
    nombres = ", ".join(d.isoformat() for d in retenidos)
    return dg.Failure(
        description=f"{tabla}: {nombres} {ejecuciones.NO_RECONSTRUIDO}: {'lo' if len(retenidos) == 1 else 'los'} "
        f"retuvo el check volumen o tasa_rechazo de staging; {len(obra.construidos)} día(s) más construido(s)",
        metadata={
            "dias_bloqueados": dg.MetadataValue.json([d.isoformat() for d in retenidos]),
            "dias_construidos": len(obra.construidos),
        },
        allow_retries=False,
    )


@dataclass
class Construido:
    """A report's run: the materialization of its window, and (for a window of several
    partitions) each written partition's own, logged after it."""

    resultado: dg.MaterializeResult | None  # None: nothing was published (no loaded day)
    por_particion: list[dg.AssetMaterialization]


def construir_reporte(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings, reporte: Reporte
) -> Construido:
    """Replace the rows of `reporte`'s table for the run's window (its days the gate holds
    back left out, then named in the step's failure) and describe what was written."""
    ventana = context.partition_time_window
    obra = _Construccion(reporte, ventana.start.date(), ventana.end.date())
    reloj = time.perf_counter()
    _escribir(context, warehouse, settings, obra)
    segundos = time.perf_counter() - reloj
    desde, hasta, tabla = obra.desde, obra.hasta, reporte.tabla
    context.log.info(
        f"{tabla}: {obra.registros} filas para [{desde}, {hasta}) ({len(context.partition_keys)} particiones)"
    )
    if obra.retenidos:
        raise _fallo_por_retenidos(context, obra)
    if not obra.por_particion:
        context.log.info(f"{tabla}: ningún día del periodo está cargado; no se publica nada (se conservan sus filas)")
        return Construido(None, [])
    varias = len(context.partition_keys) > 1
    metadata = {
        **(
            {"rango": f"{desde}...{hasta - timedelta(days=1)}", "particiones_del_rango": len(context.partition_keys)}
            if varias
            else {"dagster/row_count": obra.registros, "periodo": f"{desde} .. {hasta - timedelta(days=1)}"}
        ),
        "dagster/table_name": tabla,
        # The run's total: the etl_jobs mirror reads it from the run's first materialization.
        "registros_cargados": obra.registros,
        "previa": dg.MetadataValue.md(obra.previa),
        **{nombre: _a_metadato(valor) for nombre, valor in obra.cifras.items() if valor is not None},
        "segundos_reporte": round(segundos, 3),  # the benchmark reads `segundos_*`
    }
    if not varias and obra.construidos:
        metadata.update({"dagster/partition_row_count": obra.registros})
    propias = [
        dg.AssetMaterialization(
            asset_key=reporte.clave, partition=clave, metadata=_metadata_de_particion(obra, clave, context.run_id)
        )
        for clave in obra.construidos
        if varias
    ]
    return Construido(dg.MaterializeResult(asset_key=reporte.clave, metadata=metadata), propias)


def publicar(context: dg.AssetExecutionContext, construido: Construido):
    """Yield the window's materialization, then log each partition's own after it (their latest)."""
    if construido.resultado is None:
        return
    yield construido.resultado
    for evento in construido.por_particion:
        context.log_event(evento)


def _fallas_juntas(fallas: list[BaseException]) -> BaseException:
    """One error for the reports of a step that failed: an unexpected error as it is, else one
    Failure naming every report's."""
    otras = [f for f in fallas if not isinstance(f, dg.Failure)]
    if otras:
        return otras[0]
    if len(fallas) == 1:
        return fallas[0]
    return dg.Failure(
        description="; ".join(f.description for f in fallas),
        metadata=fallas[0].metadata,
        allow_retries=all(f.allow_retries for f in fallas),
    )


def _construir_juntos(context, warehouse: WarehouseResource, settings: PipelineSettings, reportes: list[Reporte]):
    """The step's selected reports at once, one session each; every report that was built is
    recorded, then the step fails for the others."""
    # Statements alone on a 1M-call day: 3.24 s one after another, 2.50 s at once.
    with ThreadPoolExecutor(max_workers=len(reportes), thread_name_prefix="analista") as hilos:
        futuros = [hilos.submit(construir_reporte, context, warehouse, settings, r) for r in reportes]
    errores = [futuro.exception() for futuro in futuros]
    for futuro, error in zip(futuros, errores, strict=True):
        if error is None:
            yield from publicar(context, futuro.result())
    fallas = [error for error in errores if error is not None]
    if fallas:
        raise _fallas_juntas(fallas)


def _paso(nombre: str, reportes: list[Reporte], descripcion: str) -> dg.AssetsDefinition:
    """The step that builds `reportes` (one, or several of one partitioning at once)."""
    particiones = reportes[0].definicion_particiones()

    @dg.multi_asset(
        name=nombre,
        specs=[_spec(r) for r in reportes],
        partitions_def=particiones,
        backfill_policy=dg.BackfillPolicy.single_run(),
        can_subset=len(reportes) > 1,
        description=descripcion,
    )
    def _reportes(context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings):
        """Builds the step's report tables for the run's window."""
        elegidos = [r for r in reportes if r.clave in context.selected_asset_keys]
        if len(elegidos) == 1:
            yield from publicar(context, construir_reporte(context, warehouse, settings, elegidos[0]))
        else:
            yield from _construir_juntos(context, warehouse, settings, elegidos)

    return _reportes


def _pasos() -> dict[str, dg.AssetsDefinition]:
    """One step per report, except reports sharing a `paso`: one step for all of them."""
    por_paso: dict[str, list[Reporte]] = {}
    for reporte in registro.REPORTES:
        por_paso.setdefault(reporte.paso or f"reportes__{reporte.nombre}", []).append(reporte)
    return {
        nombre: _paso(nombre, reportes, _DESCRIPCION_PASO.get(nombre, catalogo.tabla(reportes[0].tabla).descripcion))
        for nombre, reportes in por_paso.items()
    }


_DESCRIPCION_PASO = {
    registro.ANALISTAS: "Los tres reportes para analistas de un día local, calculados a la vez: intervalos, "
    "rellamadas y devolución."
}
PASOS = _pasos()

llamadas_dia = PASOS["reportes__llamadas_dia"]
menu_problemas = PASOS["reportes__menu_problemas"]
transferencias = PASOS["reportes__transferencias"]
clientes_unicos = PASOS["reportes__clientes_unicos"]
trimestral = PASOS["reportes__trimestral"]
analistas = PASOS[registro.ANALISTAS]
intervalos, rellamadas, devolucion = (registro.reporte(n).clave for n in ("intervalos", "rellamadas", "devolucion"))

dimensionamiento, cumplimiento, esperas = (
    PASOS[f"reportes__{n}"] for n in ("dimensionamiento", "cumplimiento", "esperas")
)

ANALISTAS = [analistas]
OBJETIVOS = [dimensionamiento, cumplimiento, esperas]
DIARIOS = [a for a in PASOS.values() if a.partitions_def == partitions.diaria]
report_assets = list(PASOS.values())
