"""Report assets: the five seed reports, aggregated from staging inside PostgreSQL.

Each asset replaces its window's rows in one transaction (`reemplazo.reemplazar_periodo`: a
re-run is idempotent, a failure leaves the old rows, two runs of one period serialize) with one
`INSERT ... SELECT ... GROUP BY` statement from `metricas` (why in SQL: see that module). A
backfill of a range is one run (`BackfillPolicy.single_run`) and that run one statement over the
whole window rather than a loop over days.
"""

import math
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import dagster as dg
from psycopg import sql

from iact_pipelines.plataforma import catalogo, fechas, markdown, partitions, reemplazo
from iact_pipelines.plataforma.resources import PipelineSettings, WarehouseResource, errores_clasificados
from iact_pipelines.reportes import metricas

GRUPO = "reportes"
_FILAS_PREVIA = 24

STAGING_LLAMADAS = dg.AssetKey(["staging", "llamadas"])
STAGING_MENU_EVENTOS = dg.AssetKey(["staging", "menu_eventos"])
STAGING_TRANSFERENCIAS = dg.AssetKey(["staging", "transferencias"])

# A month or quarter maps onto its days; the open one onto days that do not exist yet.
_DIAS_DEL_PERIODO = dg.TimeWindowPartitionMapping(allow_nonexistent_upstream_partitions=True)

# Only when the value changed: an unchanged setting takes no row lock, so menu runs of
# different days never wait on each other here.
_GUARDAR_UMBRAL_MENU = """
INSERT INTO config_reportes (clave, valor, updated_at)
SELECT 'menu_umbral_problema', %(umbral)s, now()
WHERE NOT EXISTS (SELECT 1 FROM config_reportes WHERE clave = 'menu_umbral_problema' AND valor = %(umbral)s)
ON CONFLICT (clave) DO UPDATE SET valor = EXCLUDED.valor, updated_at = EXCLUDED.updated_at
"""
_CONTAR_MENUS_PROBLEMATICOS = (
    "SELECT count(*) FROM menus_problematicos(%(desde)s, %(hasta)s::date - 1, %(umbral)s::numeric)"
)


def _reporte(
    nombre: str, tabla: str, particiones: dg.PartitionsDefinition, staging: dg.AssetKey, *, por_periodo: bool = False
) -> dict:
    """The declaration every report asset shares: `reportes/<nombre>` writing `tabla`, on its
    staging input (a month or quarter reads all of its days), one run per backfill range."""
    return {
        "key": ["reportes", nombre],
        "group_name": GRUPO,
        "kinds": {"postgres"},
        "partitions_def": particiones,
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "deps": [dg.AssetDep(staging, partition_mapping=_DIAS_DEL_PERIODO if por_periodo else None)],
        "metadata": _definicion(tabla),
    }


def _definicion(tabla: str) -> dict:
    """Static metadata shown in the UI before any materialization: table and column schema."""
    return catalogo.tabla(tabla).metadata_dagster()


def _ventana(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """[desde, hasta) local dates of the run's partition or partition range."""
    ventana = context.partition_time_window
    return ventana.start.date(), ventana.end.date()


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


_BLOQUEADOS = """
SELECT DISTINCT fecha FROM staging_cargas
WHERE asset_key = ANY(%s) AND fecha >= %s AND fecha < %s AND (estado = 'bloqueado' OR tasa_rechazo_excedida)
ORDER BY fecha
"""
_DIAS_CARGADOS = """
SELECT count(*) FROM staging_cargas
WHERE asset_key = %s AND fecha >= %s AND fecha < %s AND estado IN ('cargado', 'aceptado')
"""


def _staging_de(context: dg.AssetExecutionContext, clave: dg.AssetKey) -> list[dg.AssetKey]:
    """The staging assets report `clave` reads (its deps under `staging/`)."""
    deps = context.assets_def.asset_deps.get(clave, set())
    return sorted((k for k in deps if k.path[0] == "staging"), key=lambda k: k.to_user_string())


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


def _pasos(preparacion) -> tuple:
    if preparacion is None:
        return ()
    return tuple(preparacion) if isinstance(preparacion, (tuple, list)) else (preparacion,)


def _materializar(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    settings: PipelineSettings,
    tabla: str,
    sentencia: str,
    extra=None,
    preparacion=None,
    dias_previos: int = 0,
    clave: dg.AssetKey | None = None,
) -> dg.MaterializeResult:
    """Replace the rows of `tabla` for the run's window with `sentencia` in one transaction
    (after `preparacion`, one statement or a sequence of them, in the same transaction);
    `extra(conn, desde, hasta)` adds headline figures read inside that transaction. A report that
    also reads the `dias_previos` staging days before its window locks them too.

    Trust (DESIGN.md): a daily report leaves out the days its staging's `volumen` or
    `tasa_rechazo` check blocked
    (they keep their previous rows; the other days are built, then the step fails naming them),
    and every report reads staging under the shared per-day locks, so it never sees a day a
    concurrent load has truncated but not yet committed. A month or quarter states how many of
    its days are loaded, and is `final` only when it has ended and all of them are.
    `clave`: the asset written, when the step materializes several (default: the step's one)."""
    clave = clave or context.asset_key
    desde, hasta = _ventana(context)
    columna = catalogo.tabla(tabla).clave[0]
    parametros = {"desde": desde, "hasta": hasta, "umbral": settings.umbral_espera_segundos()}
    staging = _staging_de(context, clave)
    diario = context.assets_def.partitions_def == partitions.diaria
    reloj = time.perf_counter()
    cifras: dict = {}
    with errores_clasificados(), warehouse.connect() as conn:
        bloqueados = []
        if diario:
            # Its own transaction: each segment below must be a transaction of its own, not a savepoint.
            with conn.transaction():
                claves_staging = [k.to_user_string() for k in staging]
                bloqueados = [r[0] for r in conn.execute(_BLOQUEADOS, (claves_staging, desde, hasta)).fetchall()]
        segmentos = _segmentos(desde, hasta, bloqueados)
        registros = 0
        for inicio, fin in segmentos:
            claves = (
                [d.isoformat() for d in fechas.dias_semiabiertos(inicio, fin)] if diario else context.partition_keys
            )
            with reemplazo.reemplazar_periodo(conn, tabla, columna, inicio, fin, claves):
                reemplazo.leer_dias_staging(
                    conn, [k.path[-1] for k in staging], inicio - timedelta(days=dias_previos), fin
                )
                parametros.update(desde=inicio, hasta=fin)
                for paso in _pasos(preparacion):
                    conn.execute(paso, parametros)
                cur = conn.execute(sentencia, parametros)
                cifras = dict(zip([d.name for d in cur.description], cur.fetchone(), strict=True))
                if extra is not None:
                    cifras.update(extra(conn, inicio, fin))
                registros += int(cifras.pop("registros_cargados"))
        if len(segmentos) != 1:
            cifras = {}  # headline figures of one segment would misdescribe the window
        with conn.transaction():
            if not diario and STAGING_LLAMADAS in staging:
                (cargados,) = conn.execute(_DIAS_CARGADOS, (STAGING_LLAMADAS.to_user_string(), desde, hasta)).fetchone()
                del_periodo = (hasta - desde).days
                cerrado = hasta <= datetime.now(ZoneInfo(partitions.ZONA_HORARIA)).date()
                cifras.update(
                    dias_cargados=int(cargados),
                    dias_del_periodo=del_periodo,
                    final=bool(cerrado and cargados == del_periodo),
                )
            previa = _previa(conn, tabla, desde, hasta)
    segundos = time.perf_counter() - reloj
    context.log.info(f"{tabla}: {registros} rows for [{desde}, {hasta}) ({len(context.partition_keys)} partitions)")
    metadata = {
        "dagster/row_count": registros,
        "dagster/table_name": tabla,
        "registros_cargados": registros,
        "periodo": dg.MetadataValue.text(f"{desde} .. {hasta - timedelta(days=1)}"),
        "previa": dg.MetadataValue.md(previa),
        **{nombre: _a_metadato(valor) for nombre, valor in cifras.items()},
        "segundos_reporte": round(segundos, 3),  # the benchmark reads `segundos_*`
    }
    if bloqueados:
        # The built days get their materialization, then the step fails naming the rest. Events
        # logged through the context are dropped when the step raises, so they are reported to
        # the instance directly (tagged with this run).
        construidos = [d.isoformat() for inicio, fin in segmentos for d in fechas.dias_semiabiertos(inicio, fin)]
        for dia in construidos:
            context.instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset_key=clave,
                    partition=dia,
                    metadata={
                        "dagster/table_name": tabla,
                        "run_id": context.run_id,
                        "construido_sin": ", ".join(d.isoformat() for d in bloqueados),
                    },
                )
            )
        nombres = ", ".join(d.isoformat() for d in bloqueados)
        raise dg.Failure(
            description=f"{tabla}: {nombres} not rebuilt (previous rows kept): the staging volumen or tasa_rechazo check blocked "
            f"{'it' if len(bloqueados) == 1 else 'them'}; {len(construidos)} other day(s) built",
            metadata={
                "dias_bloqueados": dg.MetadataValue.json([d.isoformat() for d in bloqueados]),
                "dias_construidos": len(construidos),
            },
            allow_retries=False,
        )
    return dg.MaterializeResult(asset_key=clave, metadata=metadata)


@dg.asset(**_reporte("llamadas_dia", "reportes_llamadas_dia", partitions.diaria, STAGING_LLAMADAS))
def llamadas_dia(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> dg.MaterializeResult:
    """Llamadas por día y hora local (las 24 horas): volumen, atendidas, abandonadas, ASA, atención y nivel de servicio."""
    return _materializar(
        context,
        warehouse,
        settings,
        "reportes_llamadas_dia",
        metricas.REPORTE_LLAMADAS_DIA,
        preparacion=metricas.AGREGADO_LLAMADAS_DIA,
    )


@dg.asset(**_reporte("menu_problemas", "reportes_menu_problemas", partitions.diaria, STAGING_MENU_EVENTOS))
def menu_problemas(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> dg.MaterializeResult:
    """Menús del IVR por día local: visitas, abandonos, timeouts, errores, tasa de abandono y permanencia media."""
    umbral = settings.umbral_menu_problema()

    def problematicos(conn, desde: date, hasta: date) -> dict:
        # The analysts' view (v_menus_problematicos) reads the threshold from config_reportes:
        # keep it equal to the configured setting, in the same transaction as the rows.
        conn.execute(_GUARDAR_UMBRAL_MENU, {"umbral": Decimal(str(umbral))})
        (n,) = conn.execute(_CONTAR_MENUS_PROBLEMATICOS, {"desde": desde, "hasta": hasta, "umbral": umbral}).fetchone()
        return {"menus_problematicos": n}

    return _materializar(
        context,
        warehouse,
        settings,
        "reportes_menu_problemas",
        metricas.REPORTE_MENU_PROBLEMAS,
        extra=problematicos,
        preparacion=metricas.AGREGADO_MENU_PROBLEMAS,
    )


@dg.asset(**_reporte("transferencias", "reportes_transferencias", partitions.diaria, STAGING_TRANSFERENCIAS))
def transferencias(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> dg.MaterializeResult:
    """Transferencias por día local, centro de origen y de destino: totales, tasa de éxito y duración media."""
    return _materializar(
        context,
        warehouse,
        settings,
        "reportes_transferencias",
        metricas.REPORTE_TRANSFERENCIAS,
        preparacion=metricas.AGREGADO_TRANSFERENCIAS,
    )


@dg.asset(
    **_reporte(
        "clientes_unicos", "reportes_clientes_unicos", partitions.mensual_en_curso, STAGING_LLAMADAS, por_periodo=True
    )
)
def clientes_unicos(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> dg.MaterializeResult:
    """Clientes identificados por mes calendario: únicos, nuevos (primera llamada), recurrentes y llamadas por cliente."""
    return _materializar(context, warehouse, settings, "reportes_clientes_unicos", metricas.REPORTE_CLIENTES_UNICOS)


@dg.asset(
    **_reporte("trimestral", "reportes_trimestral", partitions.trimestral_en_curso, STAGING_LLAMADAS, por_periodo=True)
)
def trimestral(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> dg.MaterializeResult:
    """Llamadas por trimestre: volumen, atendidas, abandonadas, ASA, atención, nivel de servicio y tasa de abandono."""
    return _materializar(
        context,
        warehouse,
        settings,
        "reportes_trimestral",
        metricas.REPORTE_TRIMESTRAL,
        preparacion=metricas.AGREGADO_TRIMESTRAL,
    )


# --- Analyst reports beyond the seed ---------------------------------------------------------


def _analistas(settings: PipelineSettings) -> metricas.Analistas:
    return metricas.analistas(
        corto=settings.abandono_corto_segundos(),
        ventana=settings.ventana_rellamada(),
        zona=settings.zona(),
        centros=settings.centros_permitidos(),
    )


intervalos = dg.AssetKey(["reportes", "intervalos"])
rellamadas = dg.AssetKey(["reportes", "rellamadas"])
devolucion = dg.AssetKey(["reportes", "devolucion"])

# asset: (table, description in the UI)
_ANALISTAS = {
    intervalos: (
        "reportes_intervalos",
        "Llamadas por día local, cuarto de hora y centro (los 96): volumen, contención IVR, ASA, niveles de "
        "servicio y abandonos.",
    ),
    rellamadas: (
        "reportes_rellamadas",
        "Rellamadas por día local y centro: clientes identificados que volvieron a llamar dentro de H horas.",
    ),
    devolucion: (
        "lista_devolucion",
        "Lista de devolución por día local: clientes cuyo último abandono no fue seguido de una llamada atendida.",
    ),
}


def _spec(clave: dg.AssetKey) -> dg.AssetSpec:
    tabla, descripcion = _ANALISTAS[clave]
    declaracion = _reporte(clave.path[-1], tabla, partitions.diaria, STAGING_LLAMADAS)
    # The same declaration as every report, less what the multi-asset holds for all three.
    comunes = ("group_name", "kinds", "deps", "metadata")
    return dg.AssetSpec(key=clave, description=descripcion, **{k: declaracion[k] for k in comunes})


def _analista(context, warehouse: WarehouseResource, settings: PipelineSettings, clave: dg.AssetKey):
    preparacion, sentencia = getattr(_analistas(settings), clave.path[-1])
    # The repeat-call look-back reads staging back to the local day of (the window's first
    # instant − H): ceil(H / 24) days, one more when a 23-hour day lies in between.
    previos = math.ceil(settings.ventana_rellamada() / 24) + 1 if clave == rellamadas else 0
    tabla = _ANALISTAS[clave][0]
    return _materializar(
        context, warehouse, settings, tabla, sentencia, preparacion=preparacion, dias_previos=previos, clave=clave
    )


@dg.multi_asset(
    name="reportes_analistas",
    specs=[_spec(clave) for clave in _ANALISTAS],
    partitions_def=partitions.diaria,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=True,
)
def analistas(context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings):
    """Los tres reportes para analistas de un día local, calculados a la vez: intervalos, rellamadas y devolución."""
    # One step, the three statements at once on three sessions: they read the same staged calls
    # under the same gates (a blocked day stops all three), and one at a time left a core idle
    # (statements alone on a 1M-call day: 3.24 s one after another, 2.50 s at once).
    elegidas = [clave for clave in _ANALISTAS if clave in context.selected_asset_keys]
    with ThreadPoolExecutor(max_workers=len(elegidas), thread_name_prefix="analista") as hilos:
        futuros = [hilos.submit(_analista, context, warehouse, settings, clave) for clave in elegidas]
    # Every report that was built is recorded, then the step fails for the others.
    errores = [futuro.exception() for futuro in futuros]
    for futuro, error in zip(futuros, errores, strict=True):
        if error is None:
            yield futuro.result()
    fallas = [error for error in errores if error is not None]
    otras = [f for f in fallas if not isinstance(f, dg.Failure)]
    if otras:
        raise otras[0]
    if len(fallas) == 1:
        raise fallas[0]
    if fallas:
        raise dg.Failure(
            description="; ".join(f.description for f in fallas),
            metadata=fallas[0].metadata,
            allow_retries=all(f.allow_retries for f in fallas),
        )


ANALISTAS = [analistas]
DIARIOS = [llamadas_dia, menu_problemas, transferencias, *ANALISTAS]
report_assets = [*DIARIOS, clientes_unicos, trimestral]
