"""Every report, declared once: its table, partitioning, staging input, statements and export.

The report assets (`assets`), their jobs (`jobs`) and the exports (`exportar.archivos`) are
built by iterating over `REPORTES`; the table's description and columns come from the catalog
(`plataforma.catalogo`), its formulas from `metricas`. Adding a report is one entry here (plus
its table in the catalog and the migrations).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from iact_pipelines.reportes import dimensionamiento, metricas, objetivos

if TYPE_CHECKING:
    import dagster as dg

    from iact_pipelines.plataforma.resources import PipelineSettings

# (preparation statements, report statement) for the run's settings.
Sentencias = tuple[tuple, object]


@dataclass(frozen=True)
class Grafico:
    """The headline measure of an export: bars per category, one series or stacked series."""

    titulo: str
    categoria: Callable[[dict], str]
    series: tuple[tuple[str, Callable[[dict], float]], ...]
    categorias_fijas: tuple[str, ...] | None = None  # every category shown, zeros included
    # A reference drawn over the bars (the target of a service level), per category, and the
    # value axis's fixed top (100 for a percentage).
    linea: tuple[str, Callable[[dict], float]] | None = None
    maximo: float | None = None


@dataclass(frozen=True)
class Exportacion:
    """How a report is exported: title, the row's own period, natural order, columns, chart."""

    titulo: str
    fecha: sql.Composable  # the first day of the row's own period
    orden: tuple[str, ...]
    grafico: Grafico
    fecha_fin: sql.Composable | None = None  # the last day of the row's period; None: one day
    primeras: tuple[str, ...] = ()  # columns first, then the table's in catalog order
    sin: tuple[str, ...] = ()  # table columns left out of the export
    anchas: tuple[tuple[str, float], ...] = ()  # long text: relative PDF width, wrapped


@dataclass(frozen=True)
class Reporte:
    """One report asset, `reportes/<nombre>`, writing `tabla` from `staging/<staging>` (None: a
    report built from other report tables, `entradas`, with no staging gate of its own)."""

    nombre: str
    tabla: str
    particiones: str  # a partitioning of `plataforma.partitions`: diaria, mensual_en_curso, ...
    staging: str | None
    # (preparation steps, report statement); a step may be a callable `paso(conn, parametros)`.
    sentencias: Callable[[PipelineSettings], Sentencias]
    exportacion: Exportacion
    # Headline figures read inside the report's transaction: (conn, settings, desde, hasta) -> dict.
    cifras: Callable[[psycopg.Connection, PipelineSettings, date, date], dict] | None = None
    # Reports built together in one step (on one session each), named by that step.
    paso: str | None = None
    # Other assets it reads (`reportes/intervalos`), same partition.
    entradas: tuple[str, ...] = ()
    # Bound parameters the statements take beyond desde, hasta and umbral.
    parametros: Callable[[PipelineSettings], dict] = lambda settings: {}

    # Dagster is imported where a key or partitioning is asked for, not with the registry:
    # `iact exportar` and `iact --help` read the registry without loading Dagster.
    @property
    def clave(self) -> dg.AssetKey:
        import dagster as dg

        return dg.AssetKey(["reportes", self.nombre])

    @property
    def clave_staging(self) -> dg.AssetKey | None:
        import dagster as dg

        return dg.AssetKey(["staging", self.staging]) if self.staging else None

    @property
    def claves_entrada(self) -> list[dg.AssetKey]:
        import dagster as dg

        return [dg.AssetKey.from_user_string(e) for e in self.entradas]

    @property
    def diario(self) -> bool:
        return self.particiones == "diaria"

    def definicion_particiones(self) -> dg.PartitionsDefinition:
        from iact_pipelines.plataforma import partitions

        return getattr(partitions, self.particiones)


def _fijas(preparacion: str | None, sentencia: str) -> Callable[[PipelineSettings], Sentencias]:
    return lambda settings: ((preparacion,) if preparacion else (), sentencia)


def _analista(nombre: str) -> Callable[[PipelineSettings], Sentencias]:
    def sentencias(settings: PipelineSettings, umbrales: dict[str, float] | None = None) -> Sentencias:
        todas = metricas.analistas(
            corto=settings.abandono_corto_segundos(),
            ventana=settings.ventana_rellamada(),
            zona=settings.zona(),
            centros=settings.centros_permitidos(),
            umbrales=umbrales,
        )
        return getattr(todas, nombre)

    return sentencias


def _intervalos(settings: PipelineSettings) -> Sentencias:
    """The quarter hours, each center's calls counted within its own T (objetivos_centro, read
    in the report's transaction), the setting's T for the rest."""
    base = _analista("intervalos")

    def agregado(conn: psycopg.Connection, parametros: dict) -> None:
        preparacion, _ = base(settings, objetivos.umbrales_propios(conn))
        for paso in preparacion:
            conn.execute(paso, parametros)

    return (agregado,), base(settings)[1]


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


def _menus_problematicos(conn: psycopg.Connection, settings: PipelineSettings, desde: date, hasta: date) -> dict:
    # The analysts' view (v_menus_problematicos) reads the threshold from config_reportes:
    # keep it equal to the configured setting, in the same transaction as the rows.
    umbral = settings.umbral_menu_problema()
    conn.execute(_GUARDAR_UMBRAL_MENU, {"umbral": Decimal(str(umbral))})
    (n,) = conn.execute(_CONTAR_MENUS_PROBLEMATICOS, {"desde": desde, "hasta": hasta, "umbral": umbral}).fetchone()
    return {"menus_problematicos": n}


_FECHA = sql.Identifier("fecha")
_INICIO_TRIMESTRE = sql.SQL("make_date(anio, (substring(trimestre from 2)::int - 1) * 3 + 1, 1)")
_FIN_TRIMESTRE = sql.SQL(
    "(make_date(anio, (substring(trimestre from 2)::int - 1) * 3 + 1, 1)"
    " + interval '3 months' - interval '1 day')::date"
)
_HORAS = tuple(str(h) for h in range(24))
ANALISTAS = "reportes_analistas"

REPORTES: tuple[Reporte, ...] = (
    Reporte(
        nombre="llamadas_dia",
        tabla="reportes_llamadas_dia",
        particiones="diaria",
        staging="llamadas",
        sentencias=_fijas(metricas.AGREGADO_LLAMADAS_DIA, metricas.REPORTE_LLAMADAS_DIA),
        exportacion=Exportacion(
            titulo="Llamadas por día y hora",
            fecha=_FECHA,
            orden=("fecha", "hora"),
            grafico=Grafico(
                titulo="Llamadas por hora (suma del periodo)",
                categoria=lambda f: str(f["hora"]),
                series=(("Llamadas", lambda f: f["total_llamadas"]),),
                categorias_fijas=_HORAS,
            ),
        ),
    ),
    Reporte(
        nombre="menu_problemas",
        tabla="reportes_menu_problemas",
        particiones="diaria",
        staging="menu_eventos",
        sentencias=_fijas(metricas.AGREGADO_MENU_PROBLEMAS, metricas.REPORTE_MENU_PROBLEMAS),
        cifras=_menus_problematicos,
        exportacion=Exportacion(
            titulo="Menús con problemas",
            fecha=_FECHA,
            orden=("fecha", "menu_id"),
            anchas=(("menu_nombre", 3.0),),
            grafico=Grafico(
                titulo="Eventos con problema por día (abandonos, timeout y errores)",
                categoria=lambda f: f["fecha"].isoformat(),
                series=(
                    ("Abandonos", lambda f: f["abandonos"]),
                    ("Timeout", lambda f: f["timeout"]),
                    ("Errores", lambda f: f["errores"]),
                ),
            ),
        ),
    ),
    Reporte(
        nombre="transferencias",
        tabla="reportes_transferencias",
        particiones="diaria",
        staging="transferencias",
        sentencias=_fijas(metricas.AGREGADO_TRANSFERENCIAS, metricas.REPORTE_TRANSFERENCIAS),
        exportacion=Exportacion(
            titulo="Transferencias entre centros",
            fecha=_FECHA,
            orden=("fecha", "centro_origen", "centro_destino"),
            grafico=Grafico(
                titulo="Transferencias por día",
                categoria=lambda f: f["fecha"].isoformat(),
                series=(
                    ("Exitosas", lambda f: f["transferencias_exitosas"]),
                    ("Fallidas", lambda f: f["transferencias_fallidas"]),
                ),
            ),
        ),
    ),
    Reporte(
        nombre="clientes_unicos",
        tabla="reportes_clientes_unicos",
        particiones="mensual_en_curso",
        staging="llamadas",
        sentencias=_fijas(None, metricas.REPORTE_CLIENTES_UNICOS),
        exportacion=Exportacion(
            titulo="Clientes únicos por mes",
            fecha=sql.Identifier("fecha_inicio"),
            fecha_fin=sql.Identifier("fecha_fin"),
            orden=("fecha_inicio", "fecha_fin"),
            grafico=Grafico(
                titulo="Clientes únicos por periodo (nuevos y recurrentes)",
                categoria=lambda f: f"{f['fecha_inicio']:%Y-%m-%d} a {f['fecha_fin']:%Y-%m-%d}",
                series=(
                    ("Nuevos", lambda f: f["nuevos_clientes"]),
                    ("Recurrentes", lambda f: f["clientes_recurrentes"]),
                ),
            ),
        ),
    ),
    Reporte(
        nombre="trimestral",
        tabla="reportes_trimestral",
        particiones="trimestral_en_curso",
        staging="llamadas",
        sentencias=_fijas(metricas.AGREGADO_TRIMESTRAL, metricas.REPORTE_TRIMESTRAL),
        exportacion=Exportacion(
            titulo="Reporte trimestral de llamadas",
            fecha=_INICIO_TRIMESTRE,
            fecha_fin=_FIN_TRIMESTRE,
            orden=("anio", "trimestre"),
            primeras=("anio",),
            sin=("fecha_inicio",),
            grafico=Grafico(
                titulo="Llamadas por trimestre",
                categoria=lambda f: f"{f['anio']} {f['trimestre']}",
                series=(("Llamadas", lambda f: f["total_llamadas"]),),
            ),
        ),
    ),
    # The analysts' three reports of a day share one step: they read the same staged calls
    # under the same gates (a blocked day stops all three), each on its own session.
    Reporte(
        nombre="intervalos",
        tabla="reportes_intervalos",
        particiones="diaria",
        staging="llamadas",
        sentencias=_intervalos,
        paso=ANALISTAS,
        exportacion=Exportacion(
            titulo="Llamadas por cuarto de hora y centro",
            fecha=_FECHA,
            orden=("fecha", "intervalo", "centro_id"),
            grafico=Grafico(
                titulo="Llamadas ofrecidas por hora (suma del periodo, todos los centros)",
                categoria=lambda f: str(f["intervalo"].hour),
                series=(
                    ("Atendidas", lambda f: f["atendidas"]),
                    ("Abandonadas", lambda f: f["abandonadas"]),
                    ("Solo IVR", lambda f: f["solo_ivr"]),
                ),
                categorias_fijas=_HORAS,
            ),
        ),
    ),
    Reporte(
        nombre="rellamadas",
        tabla="reportes_rellamadas",
        particiones="diaria",
        staging="llamadas",
        sentencias=_analista("rellamadas"),
        paso=ANALISTAS,
        exportacion=Exportacion(
            titulo="Rellamadas por día y centro",
            fecha=_FECHA,
            orden=("fecha", "centro_id"),
            grafico=Grafico(
                titulo="Llamadas identificadas por día (rellamadas y primeras)",
                categoria=lambda f: f["fecha"].isoformat(),
                series=(
                    ("Rellamadas", lambda f: f["rellamadas"]),
                    ("Primeras", lambda f: f["llamadas_identificadas"] - f["rellamadas"]),
                ),
            ),
        ),
    ),
    Reporte(
        nombre="devolucion",
        tabla="lista_devolucion",
        particiones="diaria",
        staging="llamadas",
        sentencias=_analista("devolucion"),
        paso=ANALISTAS,
        exportacion=Exportacion(
            titulo="Lista de devolución de llamadas",
            fecha=_FECHA,
            orden=("fecha", "ultimo_abandono", "cliente_id"),
            sin=("zona_horaria",),
            grafico=Grafico(
                titulo="Clientes a devolver por día",
                categoria=lambda f: f["fecha"].isoformat(),
                series=(("Clientes", lambda f: 1),),
            ),
        ),
    ),
)


_DIA_CENTRO = ("fecha", "centro_id")

# Staffing and targets (docs/DIMENSIONAMIENTO.md): from the quarter hours, not from staging, so a
# re-run of a day rebuilds them from what reportes_intervalos holds; the waits from staging.
REPORTES += (
    Reporte(
        nombre="dimensionamiento",
        tabla="reportes_dimensionamiento",
        particiones="diaria",
        staging=None,
        entradas=("reportes/intervalos", "reportes/objetivos_centro"),
        sentencias=lambda settings: (
            (dimensionamiento.calcular(settings.objetivo(), settings.fraccion_ausentismo()),),
            dimensionamiento.REPORTE_DIMENSIONAMIENTO,
        ),
        exportacion=Exportacion(
            titulo="Dimensionamiento por cuarto de hora y centro (Erlang C)",
            fecha=_FECHA,
            orden=("fecha", "intervalo", "centro_id"),
            sin=("tma_del_dia",),
            grafico=Grafico(
                titulo="Agentes requeridos por hora (pico de sus cuartos de hora, suma de los centros y días)",
                categoria=lambda f: str(f["intervalo"].hour),
                series=(("Agentes", lambda f: f["agentes_requeridos"] if f["intervalo"].minute == 0 else 0),),
                categorias_fijas=_HORAS,
            ),
        ),
    ),
    Reporte(
        nombre="cumplimiento",
        tabla="reportes_cumplimiento",
        particiones="diaria",
        staging=None,
        entradas=("reportes/intervalos", "reportes/dimensionamiento"),
        sentencias=_fijas(None, dimensionamiento.REPORTE_CUMPLIMIENTO),
        parametros=lambda settings: {"margen": settings.margen_riesgo()},
        exportacion=Exportacion(
            titulo="Cumplimiento del objetivo de nivel de servicio",
            fecha=_FECHA,
            orden=_DIA_CENTRO,
            sin=("margen_en_riesgo",),
            grafico=Grafico(
                titulo="Nivel de servicio por día y centro (%) frente al objetivo (línea)",
                categoria=lambda f: f"{f['fecha']:%m-%d} {f['centro_id']}",
                series=(("Nivel de servicio", lambda f: f["nivel_servicio"]),),
                linea=("Objetivo", lambda f: f["objetivo"]),
                maximo=100,
            ),
        ),
    ),
    Reporte(
        nombre="esperas",
        tabla="reportes_esperas",
        particiones="diaria",
        staging="llamadas",
        sentencias=lambda settings: (
            (),
            dimensionamiento.reporte_esperas(settings.limites_espera(), settings.centros_permitidos()),
        ),
        exportacion=Exportacion(
            titulo="Distribución de esperas por tramo",
            fecha=_FECHA,
            orden=("fecha", "centro_id", "resultado", "orden"),
            sin=("orden",),
            grafico=Grafico(
                titulo="Llamadas por tramo de espera (suma del periodo)",
                categoria=lambda f: f["tramo"],
                series=(
                    ("Atendidas", lambda f: f["llamadas"] if f["resultado"] == "ATENDIDA" else 0),
                    ("Abandonadas", lambda f: f["llamadas"] if f["resultado"] == "ABANDONADA" else 0),
                ),
            ),
        ),
    ),
)


def reporte(nombre: str) -> Reporte:
    return next(r for r in REPORTES if r.nombre == nombre)


def de_particiones(particiones: str) -> list[Reporte]:
    """The reports partitioned by `particiones`, in registry order."""
    return [r for r in REPORTES if r.particiones == particiones]
