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
from iact_pipelines.plataforma import partitions
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

_INT, _DEC, _DATE, _TXT = "integer", "numeric", "date", "varchar"
_SEG = "seconds, 2 decimals"
_PCT = "percent 0-100, 2 decimals"
_COLUMNAS_LLAMADAS = [
    ("total_llamadas", _INT, "calls"),
    ("llamadas_atendidas", _INT, "answered by an agent"),
    ("llamadas_abandonadas", _INT, "hung up while queued"),
    ("tiempo_promedio_espera", _DEC, f"mean wait of answered calls (ASA), {_SEG}"),
    ("tiempo_promedio_atencion", _DEC, f"mean fin - atencion of answered calls, {_SEG}"),
    ("nivel_servicio", _DEC, f"answered within the threshold / (answered + abandoned), {_PCT}"),
]
_ESQUEMAS = {
    "reportes_llamadas_dia": [
        ("fecha", _DATE, "local day of the call's start"),
        ("hora", _INT, "local hour 0-23 (all 24 present)"),
        *_COLUMNAS_LLAMADAS,
    ],
    "reportes_trimestral": [
        ("trimestre", _TXT, "Q1-Q4"),
        ("anio", _INT, "year"),
        *_COLUMNAS_LLAMADAS,
        ("tasa_abandono", _DEC, f"abandoned / (answered + abandoned), {_PCT}"),
        ("fecha_inicio", _DATE, "first day of the quarter"),
    ],
    "reportes_menu_problemas": [
        ("fecha", _DATE, "local day"),
        ("menu_id", _TXT, "menu"),
        ("menu_nombre", _TXT, "menu name"),
        ("veces_accedido", _INT, "visits"),
        ("abandonos", _INT, "visits ended in ABANDONO"),
        ("timeout", _INT, "visits ended in TIMEOUT"),
        ("errores", _INT, "visits ended in ERROR"),
        ("tasa_abandono", _DEC, f"abandonos / veces_accedido, {_PCT}"),
        ("tiempo_promedio_permanencia", _DEC, f"mean salida - entrada where salida is set, {_SEG}"),
    ],
    "reportes_transferencias": [
        ("fecha", _DATE, "local day"),
        ("centro_origen", _TXT, "origin center"),
        ("centro_destino", _TXT, "destination center"),
        ("total_transferencias", _INT, "transfers"),
        ("transferencias_exitosas", _INT, "successful"),
        ("transferencias_fallidas", _INT, "failed"),
        ("tiempo_promedio_transferencia", _DEC, f"mean fin - inicio where fin is set, {_SEG}"),
        ("tasa_exito", _DEC, f"successful / total, {_PCT}"),
    ],
    "reportes_clientes_unicos": [
        ("fecha_inicio", _DATE, "first day of the month"),
        ("fecha_fin", _DATE, "last day of the month"),
        ("total_clientes_unicos", _INT, "distinct identified callers"),
        ("nuevos_clientes", _INT, "first call in the loaded history falls in the month"),
        ("clientes_recurrentes", _INT, "called before the month too"),
        ("promedio_llamadas_cliente", _DEC, "identified calls / unique clients, 2 decimals"),
    ],
}
# Each table's key columns, the period's date first: rows are replaced by that date's window,
# and previewed in this order.
_CLAVES = {
    "reportes_llamadas_dia": ("fecha", "hora"),
    "reportes_trimestral": ("fecha_inicio",),
    "reportes_menu_problemas": ("fecha", "menu_id"),
    "reportes_transferencias": ("fecha", "centro_origen", "centro_destino"),
    "reportes_clientes_unicos": ("fecha_inicio",),
}


def _definicion(tabla: str) -> dict:
    """Static metadata shown in the UI before any materialization: table and column schema."""
    return {
        "dagster/table_name": tabla,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(nombre, tipo, descripcion) for nombre, tipo, descripcion in _ESQUEMAS[tabla]]
        ),
    }


def _ventana(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """[desde, hasta) local dates of the run's partition or partition range."""
    ventana = context.partition_time_window
    return ventana.start.date(), ventana.end.date()


def _previa(conn, tabla: str, desde: date, hasta: date) -> str:
    """The first rows written, as a markdown table (same transaction: sees the new rows)."""
    claves = _CLAVES[tabla]
    nombres = [c for c, *_ in _ESQUEMAS[tabla]]
    consulta = sql.SQL("SELECT {} FROM {} WHERE {} >= %s AND {} < %s ORDER BY {} LIMIT %s").format(
        sql.SQL(", ").join(map(sql.Identifier, nombres)),
        sql.Identifier(tabla),
        sql.Identifier(claves[0]),
        sql.Identifier(claves[0]),
        sql.SQL(", ").join(map(sql.Identifier, claves)),
    )
    filas = conn.execute(consulta, (desde, hasta, _FILAS_PREVIA)).fetchall()
    lineas = ["| " + " | ".join(nombres) + " |", "|" + "---|" * len(nombres)]
    lineas += ["| " + " | ".join("" if v is None else str(v) for v in fila) + " |" for fila in filas]
    return "\n".join(lineas)


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
    columna = _CLAVES[tabla][0]
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


DIARIOS = [llamadas_dia, menu_problemas, transferencias]
report_assets = [*DIARIOS, clientes_unicos, trimestral]
