"""What Dagster shows about each staging day: that day's own figures, however it was built.

A one-day run's materialization carries them itself. A range run's materialization is
recorded by Dagster on every day of the range with the same metadata: it carries the range's
totals, labelled as the range's, and each day then gets a materialization of its own (its
latest: rows the table holds for it, rows read, rejected, warned and loaded, rules, preview),
followed by the day's check evaluations targeting it, so they are current for that day.
A held day's materialization says so and describes the rows it kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import pandas as pd
import psycopg
from psycopg import sql

from iact_pipelines.fuentes.contrato import Fuente
from iact_pipelines.plataforma import catalogo, eventos, markdown
from iact_pipelines.staging import compuerta

_FILAS_PREVIA = 5
_FILAS_DEL_DIA = "SELECT count(*) FROM {} WHERE fecha = %s"
_REGLAS_POR_DIA = """
SELECT partition_key, error_type, count(*) FROM etl_validation_errors
WHERE asset_key = %s AND partition_key = ANY(%s) GROUP BY 1, 2 ORDER BY 1, 2
"""
_PREVIA = "SELECT {} FROM {} WHERE fecha = %s LIMIT %s"


@dataclass(frozen=True)
class Dia:
    """One day's figures, as the warehouse holds them after the run."""

    fecha: str
    estado: str  # compuerta: cargado, aceptado or bloqueado
    retenido: bool  # blocked, or over the reject rate: its reports are not rebuilt
    filas: int  # rows staging holds for the day (the previous ones when blocked)
    leidas: int
    rechazadas: int
    advertidas: int
    cargadas: int
    por_regla: dict[str, int]
    previa: str

    def metadata(self) -> dict:
        return {
            "dagster/partition_row_count": self.filas,
            "dagster/row_count": self.filas,
            "fecha": self.fecha,
            "estado": self.estado,
            "publicado": not self.retenido,
            "filas_leidas": self.leidas,
            "filas_rechazadas": self.rechazadas,
            "filas_advertidas": self.advertidas,
            "filas_cargadas": self.cargadas,
            "errores_por_regla": dg.MetadataValue.json(self.por_regla),
            "previa": dg.MetadataValue.md(self.previa),
        }


def dias(conn: psycopg.Connection, fuente: Fuente, juez: compuerta.Volumen, por_dia: pd.DataFrame) -> list[Dia]:
    """The figures of each day the run judged (one query for the rules, one preview a day)."""
    tabla = sql.Identifier("staging", fuente.tabla)
    claves = [v.fecha for v in juez.veredictos]
    reglas: dict[str, dict[str, int]] = {}
    for dia, regla, n in conn.execute(_REGLAS_POR_DIA, (juez.asset_key, claves)).fetchall():
        reglas.setdefault(dia, {})[regla] = n
    resultado = []
    for v in juez.veredictos:
        fila = por_dia.loc[v.fecha]
        cargadas = int(fila["cargados"])
        # A loaded day holds what this run loaded; a blocked one what it kept.
        filas = cargadas if v.estado != compuerta.BLOQUEADO else _contar(conn, tabla, v.fecha)
        resultado.append(
            Dia(
                fecha=v.fecha,
                estado=v.estado,
                retenido=v.estado == compuerta.BLOQUEADO or v.tasa_excedida,
                filas=filas,
                leidas=int(fila["leidos"]),
                rechazadas=int(fila["rechazados"]),
                advertidas=int(fila["advertidos"]),
                cargadas=cargadas,
                por_regla=reglas.get(v.fecha, {}),
                previa=_previa(conn, fuente, v.fecha),
            )
        )
    return resultado


def _contar(conn: psycopg.Connection, tabla: sql.Identifier, dia: str) -> int:
    return conn.execute(sql.SQL(_FILAS_DEL_DIA).format(tabla), (dia,)).fetchone()[0]


def _previa(conn: psycopg.Connection, fuente: Fuente, dia: str) -> str:
    nombres = catalogo.tabla(f"staging.{fuente.tabla}").nombres()
    consulta = sql.SQL(_PREVIA).format(
        sql.SQL(", ").join(map(sql.Identifier, nombres)),
        sql.Identifier("staging", fuente.tabla),
    )
    filas = conn.execute(consulta, (dia, _FILAS_PREVIA)).fetchall()
    return markdown.tabla_md(nombres, filas) if filas else "_sin filas cargadas_"


def publicar_rango(
    context: dg.AssetExecutionContext, juez: compuerta.Volumen, por_dia: pd.DataFrame, figuras: list[Dia]
) -> None:
    """After a range run's materialization: each day's own, then its check evaluations."""
    for dia in figuras:
        context.log_event(
            dg.AssetMaterialization(asset_key=context.asset_key, partition=dia.fecha, metadata=dia.metadata())
        )
    ultimas = eventos.ultimas_materializaciones(context.instance, context.asset_key, [d.fecha for d in figuras])
    objetivos = {dia: eventos.objetivo(registro) for dia, registro in ultimas.items()}
    for evaluacion in compuerta.evaluaciones(context.asset_key, juez, por_dia, objetivos):
        context.log_event(evaluacion)
