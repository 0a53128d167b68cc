"""The floor: the least work any design must do for a day, measured on the same rows.

PostgreSQL streams the day's filtered rows from the source into unindexed tables with binary
COPY (no parsing, no validation, no Python per row), then the five reports run as plain SQL
aggregates over them. Nothing here is the pipeline's code: it is the yardstick.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from psycopg import sql

from iact_pipelines.plataforma import db

_TABLAS = {
    # tabla: (columns, start column, center column)
    "llamadas": (
        "llamada_id, centro_id, cliente_id, inicio, ingreso_cola, atencion, fin, resultado",
        "inicio",
        "centro_id",
    ),
    "menu_eventos": (
        "evento_id, llamada_id, centro_id, menu_id, menu_nombre, entrada, salida, resultado",
        "entrada",
        "centro_id",
    ),
    "transferencias": (
        "transferencia_id, llamada_id, centro_origen, centro_destino, inicio, fin, exitosa",
        "inicio",
        "centro_origen",
    ),
}

_DDL = {
    "llamadas": "llamada_id bigint, centro_id varchar(8), cliente_id varchar(32), inicio timestamptz, "
    "ingreso_cola timestamptz, atencion timestamptz, fin timestamptz, resultado varchar(12), fecha date, hora smallint",
    "menu_eventos": "evento_id bigint, llamada_id bigint, centro_id varchar(8), menu_id varchar(50), menu_nombre varchar(200), "
    "entrada timestamptz, salida timestamptz, resultado varchar(12), fecha date, hora smallint",
    "transferencias": "transferencia_id bigint, llamada_id bigint, centro_origen varchar(8), centro_destino varchar(8), "
    "inicio timestamptz, fin timestamptz, exitosa boolean, fecha date, hora smallint",
}

# The five reports as bare aggregates (same formulas, no upsert, no zero-filled grid).
_AGREGADOS = {
    "llamadas_dia": """
        SELECT fecha, hora, count(*) AS total,
               count(*) FILTER (WHERE resultado = 'ATENDIDA') AS atendidas,
               count(*) FILTER (WHERE resultado = 'ABANDONADA') AS abandonadas,
               round(avg(extract(epoch FROM atencion - ingreso_cola)) FILTER (WHERE resultado = 'ATENDIDA'), 2) AS espera,
               round(avg(extract(epoch FROM fin - atencion)) FILTER (WHERE resultado = 'ATENDIDA'), 2) AS atencion,
               count(*) FILTER (WHERE resultado = 'ATENDIDA' AND extract(epoch FROM atencion - ingreso_cola) <= 20) AS dentro
        FROM piso.llamadas GROUP BY fecha, hora""",
    "menu_problemas": """
        SELECT fecha, menu_id, max(menu_nombre) AS nombre, count(*) AS veces,
               count(*) FILTER (WHERE resultado = 'ABANDONO') AS abandonos,
               count(*) FILTER (WHERE resultado = 'TIMEOUT') AS timeouts,
               count(*) FILTER (WHERE resultado = 'ERROR') AS errores,
               round(avg(extract(epoch FROM salida - entrada)), 2) AS permanencia
        FROM piso.menu_eventos GROUP BY fecha, menu_id""",
    "transferencias": """
        SELECT fecha, centro_origen, centro_destino, count(*) AS total, count(*) FILTER (WHERE exitosa) AS exitosas,
               round(avg(extract(epoch FROM fin - inicio)), 2) AS duracion
        FROM piso.transferencias GROUP BY fecha, centro_origen, centro_destino""",
    "clientes_unicos": """
        SELECT count(DISTINCT cliente_id) AS clientes, count(cliente_id) AS identificadas FROM piso.llamadas""",
    "trimestral": """
        SELECT count(*) AS total, count(*) FILTER (WHERE resultado = 'ATENDIDA') AS atendidas,
               round(avg(extract(epoch FROM atencion - ingreso_cola)) FILTER (WHERE resultado = 'ATENDIDA'), 2) AS espera
        FROM piso.llamadas""",
}


def _consulta(tabla: str, desde: datetime, hasta: datetime, zona: str, centros: list[str]) -> sql.Composed:
    columnas, inicio, centro = _TABLAS[tabla]
    return sql.SQL(
        "COPY (SELECT {cols}, ({ini} AT TIME ZONE {zona})::date, date_part('hour', {ini} AT TIME ZONE {zona})::smallint "
        "FROM {tabla} WHERE {centro} = ANY({centros}) AND {ini} >= {desde} AND {ini} < {hasta}) TO STDOUT (FORMAT BINARY)"
    ).format(
        cols=sql.SQL(columnas),
        ini=sql.Identifier(inicio),
        zona=sql.Literal(zona),
        tabla=sql.Identifier("ivr", tabla),
        centro=sql.Identifier(centro),
        centros=sql.Literal(centros),
        desde=sql.Literal(desde),
        hasta=sql.Literal(hasta),
    )


def medir(urls: db.Urls, dia: date, zona: str, centros: list[str]) -> dict[str, float]:
    """Seconds per phase of the floor for one local day; also the rows moved."""
    tz = ZoneInfo(zona)
    desde = datetime.combine(dia, datetime.min.time(), tz)
    hasta = datetime.combine(dia + timedelta(days=1), datetime.min.time(), tz)
    resultado: dict[str, float] = {}
    with db.connect(urls.ivr, read_only=True) as origen, db.connect(urls.warehouse, autocommit=True) as destino:
        destino.execute("DROP SCHEMA IF EXISTS piso CASCADE")
        destino.execute("CREATE SCHEMA piso")
        for tabla, ddl in _DDL.items():
            destino.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier("piso", tabla), sql.SQL(ddl)))
        total = 0.0
        for tabla in _TABLAS:
            inicio = time.perf_counter()
            with origen.cursor() as cur_o, destino.cursor() as cur_d:
                with (
                    cur_o.copy(_consulta(tabla, desde, hasta, zona, centros)) as salida,
                    cur_d.copy(
                        sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(sql.Identifier("piso", tabla))
                    ) as entrada,
                ):
                    for bloque in salida:
                        entrada.write(bloque)
            resultado[f"copy_{tabla}"] = time.perf_counter() - inicio
            resultado[f"filas_{tabla}"] = destino.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("piso", tabla))
            ).fetchone()[0]
            total += resultado[f"copy_{tabla}"]
        inicio = time.perf_counter()
        for nombre, consulta in _AGREGADOS.items():
            destino.execute(
                sql.SQL("CREATE TEMP TABLE {} AS ").format(sql.Identifier(f"piso_{nombre}")) + sql.SQL(consulta)
            )
        resultado["reportes_sql"] = time.perf_counter() - inicio
        total += resultado["reportes_sql"]
        destino.execute("DROP SCHEMA piso CASCADE")
    resultado["total"] = total
    return resultado
