"""Staffing and targets (docs/DIMENSIONAMIENTO.md): the statements of reportes_dimensionamiento,
reportes_cumplimiento and reportes_esperas.

- dimensionamiento: read the window's rows of `reportes_intervalos` (a re-run of a day rebuilds
  from what that table holds), run the Erlang C search per interval in Python (reportes/erlang.py;
  why Python: measured there), write the full-precision results into a temporary table, and let
  the report statement round them like every other report (`round(numeric, 2)`).
- cumplimiento: SQL over `reportes_intervalos` and `reportes_dimensionamiento` of the window; X is
  the one the day's staffing rows recorded, T the one its interval rows recorded.
- esperas: SQL over staging, like the other reports from staging; the bucket limits are literals
  of the setting, recorded in each row (`desde_s`, `hasta_s`).
Bound parameters as everywhere: %(desde)s, %(hasta)s (end exclusive).
"""

from __future__ import annotations

from decimal import Decimal

import psycopg
from psycopg import sql

from iact_pipelines.reportes import erlang, objetivos
from iact_pipelines.reportes.metricas import porcentaje

_INTERVALOS = """
SELECT fecha, intervalo, centro_id, atendidas + abandonadas AS atendibles, atendidas, suma_atencion,
       umbral_servicio_s,
       sum(suma_atencion) OVER dia AS suma_atencion_dia, sum(atendidas) OVER dia AS atendidas_dia
FROM reportes_intervalos
WHERE fecha >= %(desde)s AND fecha < %(hasta)s
WINDOW dia AS (PARTITION BY fecha, centro_id)
"""
_TEMPORAL = """
CREATE TEMP TABLE calculo_dimensionamiento (
    fecha date, intervalo time, centro_id varchar(8), atendibles integer, suma_atencion numeric,
    tma numeric, tma_del_dia boolean, carga float8, agentes integer, ocupacion float8, nivel float8, asa float8,
    con_ausentismo integer, objetivo numeric, umbral numeric, ausentismo numeric
) ON COMMIT DROP
"""
_COPIA = (
    "COPY calculo_dimensionamiento (fecha, intervalo, centro_id, atendibles, suma_atencion, tma, tma_del_dia, carga, "
    "agentes, ocupacion, nivel, asa, con_ausentismo, objetivo, umbral, ausentismo) FROM STDIN"
)


def _aht(atendibles: int, atendidas: int, suma: Decimal, atendidas_dia: int, suma_dia: Decimal) -> tuple[Decimal, bool]:
    """The interval's AHT, or the center's for the day when the interval answered nothing but
    had abandons (0 when the day answered nothing either), exact; and whether it is the day's.
    An interval without calls is all zeros: no load, nothing to staff."""
    if atendidas:
        return suma / atendidas, False
    if not atendibles:
        return Decimal(0), False
    return (suma_dia / atendidas_dia if atendidas_dia else Decimal(0)), True


def calcular(objetivo: float, ausentismo: float):
    """The preparation step of reportes_dimensionamiento: `paso(conn, parametros)` fills the
    temporary table from the window's intervals, X per center from objetivos_centro."""

    def paso(conn: psycopg.Connection, parametros: dict) -> None:
        propios = objetivos.objetivos_propios(conn)
        s = Decimal(str(ausentismo))
        filas = conn.execute(_INTERVALOS, parametros).fetchall()  # before the COPY holds the connection
        conn.execute(_TEMPORAL)
        with conn.cursor().copy(_COPIA) as copia:
            for fecha, intervalo, centro, atendibles, atendidas, suma, umbral, suma_dia, atendidas_dia in filas:
                x = propios.get(centro, objetivo)
                tma, del_dia = _aht(atendibles, atendidas, suma, atendidas_dia, suma_dia)
                aht = float(tma)
                a = erlang.carga(atendibles, aht)
                d = erlang.dotacion(a, aht, float(umbral), x)
                copia.write_row(
                    (
                        fecha,
                        intervalo,
                        centro,
                        atendibles,
                        suma,
                        tma,
                        del_dia,
                        a,
                        d.agentes,
                        d.ocupacion,
                        d.nivel_servicio,
                        d.asa,
                        erlang.con_ausentismo(d.agentes, ausentismo),
                        Decimal(str(x)),
                        umbral,
                        s,
                    )
                )

    return paso


REPORTE_DIMENSIONAMIENTO = """
WITH insertado AS (
    INSERT INTO reportes_dimensionamiento (fecha, intervalo, centro_id, ofrecidas_atendibles, tma_s, tma_del_dia,
        carga_erlangs, carga_atendida_erlangs, agentes_requeridos, ocupacion, nivel_servicio_esperado, asa_esperada,
        agentes_con_ausentismo, objetivo, umbral_s, ausentismo)
    SELECT fecha, intervalo, centro_id, atendibles, round(tma, 2), tma_del_dia,
        round(carga::numeric, 2), round(suma_atencion / 900, 2), agentes,
        round(100 * ocupacion::numeric, 2), round(100 * nivel::numeric, 2), round(asa::numeric, 2),
        con_ausentismo, objetivo, umbral, ausentismo
    FROM calculo_dimensionamiento
    RETURNING fecha, agentes_requeridos, agentes_con_ausentismo
)
-- one row per day: its rows and headline figures
SELECT fecha, count(*) AS registros_cargados,
    max(agentes_requeridos) AS agentes_pico,
    round(sum(agentes_requeridos) / 4.0, 2) AS horas_agente,
    max(agentes_con_ausentismo) AS agentes_pico_con_ausentismo
FROM insertado
GROUP BY fecha
ORDER BY fecha
"""

# Runs of consecutive intervals below target: a gaps-and-islands over the day's 96 intervals
# (an interval without calls is not below target, so it ends a run).
REPORTE_CUMPLIMIENTO = f"""
WITH intervalos AS (
    SELECT i.fecha, i.intervalo, i.centro_id, i.atendidas + i.abandonadas AS atendibles, i.atendidas_en_umbral,
        i.umbral_servicio_s, d.objetivo, d.agentes_requeridos,
        (i.atendidas + i.abandonadas > 0 AND i.nivel_servicio < d.objetivo) AS bajo
    FROM reportes_intervalos AS i
    JOIN reportes_dimensionamiento AS d USING (fecha, intervalo, centro_id)
    WHERE i.fecha >= %(desde)s AND i.fecha < %(hasta)s AND d.fecha >= %(desde)s AND d.fecha < %(hasta)s
), islas AS (
    SELECT *, row_number() OVER (PARTITION BY fecha, centro_id ORDER BY intervalo)
        - row_number() OVER (PARTITION BY fecha, centro_id, bajo ORDER BY intervalo) AS isla
    FROM intervalos
), rachas AS (
    SELECT DISTINCT ON (fecha, centro_id) fecha, centro_id, count(*) AS largo, min(intervalo) AS inicio
    FROM islas WHERE bajo
    GROUP BY fecha, centro_id, isla
    ORDER BY fecha, centro_id, count(*) DESC, min(intervalo)
), dias AS (
    SELECT fecha, centro_id, sum(atendibles) AS atendibles, sum(atendidas_en_umbral) AS en_umbral,
        max(umbral_servicio_s) AS umbral, max(objetivo) AS objetivo, count(*) FILTER (WHERE bajo) AS bajo_objetivo,
        max(agentes_requeridos) AS pico, sum(agentes_requeridos) AS agentes
    FROM intervalos
    GROUP BY fecha, centro_id
), filas AS (
    SELECT d.*, {porcentaje("d.en_umbral", "d.atendibles")} AS nivel, coalesce(r.largo, 0) AS racha, r.inicio
    FROM dias AS d LEFT JOIN rachas AS r USING (fecha, centro_id)
), insertado AS (
    INSERT INTO reportes_cumplimiento (fecha, centro_id, ofrecidas_atendibles, atendidas_en_umbral, nivel_servicio,
        objetivo, umbral_s, margen_en_riesgo, cumple, estado, intervalos_bajo_objetivo, peor_racha, peor_racha_inicio,
        agentes_pico, horas_agente)
    SELECT fecha, centro_id, atendibles, en_umbral, nivel, objetivo, umbral, %(margen)s,
        CASE WHEN atendibles > 0 THEN nivel >= objetivo END,
        CASE WHEN atendibles = 0 THEN NULL WHEN nivel >= objetivo THEN 'cumple'
             WHEN nivel >= objetivo - %(margen)s THEN 'en_riesgo' ELSE 'incumple' END,
        bajo_objetivo, racha, inicio, pico, round(agentes / 4.0, 2)
    FROM filas
    RETURNING *
)
-- one row per day: its rows and headline figures (service level of all centers vs the target)
SELECT fecha, count(*) AS registros_cargados,
    {porcentaje("sum(atendidas_en_umbral)", "sum(ofrecidas_atendibles)")} AS nivel_servicio,
    max(objetivo) AS objetivo,
    count(*) FILTER (WHERE NOT cumple) AS centros_incumplen,
    max(agentes_pico) AS agentes_pico,
    sum(horas_agente) AS horas_agente
FROM insertado
GROUP BY fecha
ORDER BY fecha
"""

_ESPERA = """CASE resultado
        WHEN 'ATENDIDA' THEN atencion - ingreso_cola
        WHEN 'ABANDONADA' THEN fin - ingreso_cola END"""

_REPORTE_ESPERAS = """
WITH agregado AS (
    SELECT fecha, centro_id, resultado, {caso} AS orden, count(*) AS llamadas
    FROM (SELECT fecha, centro_id, resultado, {espera} AS espera
          FROM staging.llamadas
          WHERE fecha >= %(desde)s AND fecha < %(hasta)s AND resultado IN ('ATENDIDA', 'ABANDONADA')) AS s
    GROUP BY 1, 2, 3, 4
), centros AS (
    SELECT unnest({centros}::varchar[]) AS centro_id
    UNION
    SELECT DISTINCT centro_id FROM agregado
), tramos (orden, tramo, desde_s, hasta_s) AS (
    VALUES {tramos}
), filas AS (
    SELECT d.dia::date AS fecha, c.centro_id, r.resultado, t.orden, t.tramo, t.desde_s, t.hasta_s,
        coalesce(a.llamadas, 0) AS llamadas
    FROM generate_series(%(desde)s::timestamp, %(hasta)s::timestamp - interval '1 day', interval '1 day') AS d (dia)
    CROSS JOIN centros AS c
    CROSS JOIN (VALUES ('ATENDIDA'), ('ABANDONADA')) AS r (resultado)
    CROSS JOIN tramos AS t
    LEFT JOIN agregado AS a
        ON a.fecha = d.dia::date AND a.centro_id = c.centro_id AND a.resultado = r.resultado AND a.orden = t.orden
), acumulado AS (
    SELECT *, sum(llamadas) OVER (PARTITION BY fecha, centro_id, resultado ORDER BY orden) AS hasta_aqui,
        sum(llamadas) OVER (PARTITION BY fecha, centro_id, resultado) AS total
    FROM filas
), insertado AS (
    INSERT INTO reportes_esperas (fecha, centro_id, resultado, tramo, orden, desde_s, hasta_s, llamadas,
        porcentaje_acumulado)
    SELECT fecha, centro_id, resultado, tramo, orden, desde_s, hasta_s, llamadas, {acumulado}
    FROM acumulado
    RETURNING fecha, resultado, llamadas
)
-- one row per day: its rows and headline figures
SELECT fecha, count(*) AS registros_cargados,
    sum(llamadas) FILTER (WHERE resultado = 'ATENDIDA') AS atendidas,
    sum(llamadas) FILTER (WHERE resultado = 'ABANDONADA') AS abandonadas
FROM insertado
GROUP BY fecha
ORDER BY fecha
"""


def _segundos(valor: float) -> str:
    return format(Decimal(str(valor)).normalize(), "f")


def tramos(limites: tuple[float, ...]) -> list[tuple[int, str, Decimal, Decimal | None]]:
    """(orden, tramo, desde_s, hasta_s) of each bucket: [0, L1], (L1, L2], ..., > Ln."""
    filas, anterior = [], Decimal(0)
    for n, limite in enumerate(limites, start=1):
        hasta = Decimal(str(limite))
        filas.append((n, f"{_segundos(anterior)}-{_segundos(limite)}", anterior, hasta))
        anterior = hasta
    filas.append((len(limites) + 1, f">{_segundos(limites[-1])}", anterior, None))
    return filas


def reporte_esperas(limites: tuple[float, ...], centros: list[str]) -> sql.Composed:
    """The esperas statement for these bucket limits (seconds) and allowed centers."""
    lista = tramos(limites)
    caso = sql.SQL("CASE {} ELSE {} END").format(
        sql.SQL(" ").join(
            sql.SQL("WHEN espera <= make_interval(secs => {}) THEN {}").format(sql.Literal(hasta), sql.Literal(n))
            for n, _, _, hasta in lista[:-1]
        ),
        sql.Literal(len(lista)),
    )
    valores = sql.SQL(", ").join(
        sql.SQL("({}, {}, {}::numeric, {}::numeric)").format(
            sql.Literal(n), sql.Literal(t), sql.Literal(desde), sql.Literal(hasta)
        )
        for n, t, desde, hasta in lista
    )
    return sql.SQL(_REPORTE_ESPERAS).format(
        caso=caso,
        espera=sql.SQL(_ESPERA),
        centros=sql.Literal(list(centros)),
        tramos=valores,
        acumulado=sql.SQL(porcentaje("hasta_aqui", "total")),
    )
