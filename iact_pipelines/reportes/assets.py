"""Report assets: the five seed reports, aggregated from staging inside PostgreSQL.

Each asset replaces its window's rows in one transaction (`reemplazo.reemplazar_periodo`: a
re-run is idempotent, a failure leaves the old rows, two runs of one period serialize) with one
`INSERT ... SELECT ... GROUP BY` statement from `metricas` (why in SQL: see that module). A
backfill of a range is one run (`BackfillPolicy.single_run`) and that run one statement over the
whole window rather than a loop over days.
"""

import time
from datetime import date, timedelta
from decimal import Decimal

import dagster as dg
from psycopg import sql

from iact_pipelines.reportes import metricas
from iact_pipelines.plataforma import catalogo, markdown, partitions
from iact_pipelines.plataforma import reemplazo
from iact_pipelines.plataforma.resources import PipelineSettings, WarehouseResource, errores_clasificados

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


def _materializar(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    settings: PipelineSettings,
    tabla: str,
    sentencia: str,
    extra=None,
    preparacion: str | None = None,
) -> dg.MaterializeResult:
    """Replace the rows of `tabla` for the run's window with `sentencia` in one transaction
    (after `preparacion`, if any, in the same transaction); `extra(conn, desde, hasta)` adds
    headline figures read inside that transaction."""
    desde, hasta = _ventana(context)
    columna = catalogo.tabla(tabla).clave[0]
    parametros = {"desde": desde, "hasta": hasta, "umbral": settings.umbral_espera_segundos()}
    reloj = time.perf_counter()
    with errores_clasificados(), warehouse.connect() as conn:
        with reemplazo.reemplazar_periodo(conn, tabla, columna, desde, hasta, context.partition_keys):
            if preparacion is not None:
                conn.execute(preparacion, parametros)
            cur = conn.execute(sentencia, parametros)
            cifras = dict(zip([d.name for d in cur.description], cur.fetchone(), strict=True))
            if extra is not None:
                cifras.update(extra(conn, desde, hasta))
            previa = _previa(conn, tabla, desde, hasta)
    segundos = time.perf_counter() - reloj
    registros = int(cifras.pop("registros_cargados"))
    context.log.info(f"{tabla}: {registros} rows for [{desde}, {hasta}) ({len(context.partition_keys)} partitions)")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": registros,
            "dagster/table_name": tabla,
            "registros_cargados": registros,
            "periodo": dg.MetadataValue.text(f"{desde} .. {hasta - timedelta(days=1)}"),
            "previa": dg.MetadataValue.md(previa),
            **{nombre: _a_metadato(valor) for nombre, valor in cifras.items()},
            "segundos_reporte": round(segundos, 3),  # the benchmark reads `segundos_*`
        }
    )


@dg.asset(
    key=["reportes", "llamadas_dia"],
    group_name=GRUPO,
    kinds={"postgres"},
    partitions_def=partitions.diaria,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(STAGING_LLAMADAS)],
    metadata=_definicion("reportes_llamadas_dia"),
)
def llamadas_dia(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> dg.MaterializeResult:
    """Calls per local day and hour (all 24 hours): volume, answered, abandoned, ASA, handle time, service level."""
    return _materializar(
        context, warehouse, settings, "reportes_llamadas_dia", metricas.REPORTE_LLAMADAS_DIA,
        preparacion=metricas.AGREGADO_LLAMADAS_DIA,
    )


@dg.asset(
    key=["reportes", "menu_problemas"],
    group_name=GRUPO,
    kinds={"postgres"},
    partitions_def=partitions.diaria,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(STAGING_MENU_EVENTOS)],
    metadata=_definicion("reportes_menu_problemas"),
)
def menu_problemas(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> dg.MaterializeResult:
    """IVR menus per local day: visits, abandons, timeouts, errors, abandon rate and mean stay."""
    umbral = settings.umbral_menu_problema()

    def problematicos(conn, desde: date, hasta: date) -> dict:
        # The analysts' view (v_menus_problematicos) reads the threshold from config_reportes:
        # keep it equal to the configured setting, in the same transaction as the rows.
        conn.execute(_GUARDAR_UMBRAL_MENU, {"umbral": Decimal(str(umbral))})
        (n,) = conn.execute(_CONTAR_MENUS_PROBLEMATICOS, {"desde": desde, "hasta": hasta, "umbral": umbral}).fetchone()
        return {"menus_problematicos": n}

    return _materializar(
        context, warehouse, settings, "reportes_menu_problemas", metricas.REPORTE_MENU_PROBLEMAS,
        extra=problematicos, preparacion=metricas.AGREGADO_MENU_PROBLEMAS,
    )


@dg.asset(
    key=["reportes", "transferencias"],
    group_name=GRUPO,
    kinds={"postgres"},
    partitions_def=partitions.diaria,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(STAGING_TRANSFERENCIAS)],
    metadata=_definicion("reportes_transferencias"),
)
def transferencias(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> dg.MaterializeResult:
    """Transfers per local day, origin and destination center: totals, success rate, mean duration."""
    return _materializar(
        context, warehouse, settings, "reportes_transferencias", metricas.REPORTE_TRANSFERENCIAS,
        preparacion=metricas.AGREGADO_TRANSFERENCIAS,
    )


@dg.asset(
    key=["reportes", "clientes_unicos"],
    group_name=GRUPO,
    kinds={"postgres"},
    partitions_def=partitions.mensual_en_curso,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(STAGING_LLAMADAS, partition_mapping=_DIAS_DEL_PERIODO)],
    metadata=_definicion("reportes_clientes_unicos"),
)
def clientes_unicos(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> dg.MaterializeResult:
    """Identified callers per calendar month: unique, new (first call ever), recurrent, calls per client."""
    return _materializar(
        context, warehouse, settings, "reportes_clientes_unicos", metricas.REPORTE_CLIENTES_UNICOS
    )


@dg.asset(
    key=["reportes", "trimestral"],
    group_name=GRUPO,
    kinds={"postgres"},
    partitions_def=partitions.trimestral_en_curso,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(STAGING_LLAMADAS, partition_mapping=_DIAS_DEL_PERIODO)],
    metadata=_definicion("reportes_trimestral"),
)
def trimestral(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> dg.MaterializeResult:
    """Calls per calendar quarter: volume, answered, abandoned, ASA, handle time, service level, abandon rate."""
    return _materializar(
        context, warehouse, settings, "reportes_trimestral", metricas.REPORTE_TRIMESTRAL,
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


@dg.asset(
    key=["reportes", "intervalos"],
    group_name=GRUPO,
    kinds={"postgres"},
    partitions_def=partitions.diaria,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(STAGING_LLAMADAS)],
    metadata=_definicion("reportes_intervalos"),
)
def intervalos(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> dg.MaterializeResult:
    """Calls per local day, quarter hour and center (all 96 slots): volume, IVR containment, ASA, service levels, abandons."""
    preparacion, sentencia = _analistas(settings).intervalos
    return _materializar(
        context, warehouse, settings, "reportes_intervalos", sentencia, preparacion=preparacion
    )


@dg.asset(
    key=["reportes", "rellamadas"],
    group_name=GRUPO,
    kinds={"postgres"},
    partitions_def=partitions.diaria,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(STAGING_LLAMADAS)],
    metadata=_definicion("reportes_rellamadas"),
)
def rellamadas(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> dg.MaterializeResult:
    """Repeat calls per local day and center: identified callers who called again within H hours."""
    preparacion, sentencia = _analistas(settings).rellamadas
    return _materializar(
        context, warehouse, settings, "reportes_rellamadas", sentencia, preparacion=preparacion
    )


@dg.asset(
    key=["reportes", "devolucion"],
    group_name=GRUPO,
    kinds={"postgres"},
    partitions_def=partitions.diaria,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(STAGING_LLAMADAS)],
    metadata=_definicion("lista_devolucion"),
)
def devolucion(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: PipelineSettings
) -> dg.MaterializeResult:
    """Callback worklist per local day: callers whose last abandon was not followed by an answered call."""
    preparacion, sentencia = _analistas(settings).devolucion
    return _materializar(
        context, warehouse, settings, "lista_devolucion", sentencia, preparacion=preparacion
    )


ANALISTAS = [intervalos, rellamadas, devolucion]
DIARIOS = [llamadas_dia, menu_problemas, transferencias, *ANALISTAS]
report_assets = [*DIARIOS, clientes_unicos, trimestral]
