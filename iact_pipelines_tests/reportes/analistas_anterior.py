"""The analyst reports' first formulation, frozen: its scans as literal SQL text, copied once
from the statements they were generated from, so that no later change to the metric helpers
reaches them. The equivalence test runs them against today's statements on seeded demo days.
Not used by the pipeline.

Intervals and repeat calls kept their report statements (they read the same temporary
tables); only the scans changed. The worklist's report statement changed with its scan.
`{corto}`, `{ventana}` and `{zona}` are filled as `metricas.analistas` fills them.
"""

from decimal import Decimal

from psycopg import sql

_AGREGADO_INTERVALOS = """CREATE TEMP TABLE agregado_intervalos ON COMMIT DROP AS

SELECT fecha,
    -- the local wall-clock quarter hour of the start: staging's local hour, the local minute
    make_time(hora::int, (extract(minute FROM inicio AT TIME ZONE {zona})::int / 15) * 15, 0) AS intervalo,
    centro_id,
    count(*) AS ofrecidas,
    count(*) FILTER (WHERE resultado = 'IVR') AS solo_ivr,
    count(*) FILTER (WHERE resultado = 'ATENDIDA') AS atendidas,
    count(*) FILTER (WHERE resultado = 'ABANDONADA') AS abandonadas,
    count(*) FILTER (WHERE resultado = 'ABANDONADA' AND extract(epoch FROM CASE resultado
        WHEN 'ATENDIDA' THEN atencion - ingreso_cola
        WHEN 'ABANDONADA' THEN fin - ingreso_cola END) <= {corto}) AS abandonos_cortos,
    count(*) FILTER (WHERE resultado = 'ATENDIDA' AND extract(epoch FROM CASE resultado
        WHEN 'ATENDIDA' THEN atencion - ingreso_cola
        WHEN 'ABANDONADA' THEN fin - ingreso_cola END) <= %(umbral)s::numeric) AS atendidas_en_umbral,
    coalesce(sum(extract(epoch FROM CASE resultado
        WHEN 'ATENDIDA' THEN atencion - ingreso_cola
        WHEN 'ABANDONADA' THEN fin - ingreso_cola END)) FILTER (WHERE resultado = 'ATENDIDA'), 0) AS suma_espera_atendidas,
    coalesce(sum(extract(epoch FROM fin - atencion)) FILTER (WHERE resultado = 'ATENDIDA'), 0) AS suma_atencion,
    coalesce(max(extract(epoch FROM CASE resultado
        WHEN 'ATENDIDA' THEN atencion - ingreso_cola
        WHEN 'ABANDONADA' THEN fin - ingreso_cola END)), 0) AS espera_maxima
FROM staging.llamadas
WHERE fecha >= %(desde)s AND fecha < %(hasta)s
GROUP BY 1, 2, 3
"""

_AGREGADO_RELLAMADAS = """CREATE TEMP TABLE agregado_rellamadas ON COMMIT DROP AS

WITH identificadas AS (
    SELECT fecha, centro_id, cliente_id, inicio,
        lag(inicio) OVER (PARTITION BY cliente_id ORDER BY inicio, llamada_id) AS inicio_previa
    FROM staging.llamadas
    WHERE cliente_id IS NOT NULL AND fecha < %(hasta)s
      AND fecha >= (((%(desde)s::timestamp AT TIME ZONE {zona}) - make_interval(hours => {ventana})) AT TIME ZONE {zona})::date
      AND inicio >= (%(desde)s::timestamp AT TIME ZONE {zona}) - make_interval(hours => {ventana})
)
SELECT fecha, centro_id,
    count(*) AS llamadas_identificadas,
    count(DISTINCT cliente_id) AS clientes,
    count(*) FILTER (WHERE inicio_previa >= inicio - make_interval(hours => {ventana})) AS rellamadas,
    count(DISTINCT cliente_id) FILTER (WHERE inicio_previa >= inicio - make_interval(hours => {ventana})) AS clientes_con_rellamada
FROM identificadas
WHERE fecha >= %(desde)s
GROUP BY fecha, centro_id
"""

_AGREGADO_DEVOLUCION = """CREATE TEMP TABLE agregado_devolucion ON COMMIT DROP AS

WITH colas AS (
    SELECT fecha, cliente_id, llamada_id, inicio, centro_id, resultado, extract(epoch FROM CASE resultado
        WHEN 'ATENDIDA' THEN atencion - ingreso_cola
        WHEN 'ABANDONADA' THEN fin - ingreso_cola END) AS espera
    FROM staging.llamadas
    WHERE fecha >= %(desde)s AND fecha < %(hasta)s AND cliente_id IS NOT NULL
      AND resultado IN ('ATENDIDA', 'ABANDONADA')
), ultimo AS (
    SELECT DISTINCT ON (fecha, cliente_id) fecha, cliente_id, llamada_id, inicio, centro_id, espera
    FROM colas
    WHERE resultado = 'ABANDONADA'
    ORDER BY fecha, cliente_id, inicio DESC, llamada_id DESC
)
SELECT u.fecha, u.cliente_id, u.centro_id, u.inicio AS ultimo_abandono, u.espera
FROM ultimo AS u
WHERE NOT EXISTS (
    SELECT 1 FROM colas AS a
    WHERE a.resultado = 'ATENDIDA' AND a.fecha = u.fecha AND a.cliente_id = u.cliente_id
      AND (a.inicio, a.llamada_id) > (u.inicio, u.llamada_id)
)
"""

_REPORTE_DEVOLUCION = """
WITH cuentas AS (
    SELECT l.fecha, l.cliente_id, count(*) AS llamadas, count(*) FILTER (WHERE l.resultado = 'ABANDONADA') AS abandonos
    FROM staging.llamadas AS l
    JOIN agregado_devolucion AS u ON u.fecha = l.fecha AND u.cliente_id = l.cliente_id
    WHERE l.fecha >= %(desde)s AND l.fecha < %(hasta)s
    GROUP BY l.fecha, l.cliente_id
), insertado AS (
    INSERT INTO lista_devolucion (fecha, cliente_id, centro_id, ultimo_abandono, espera_ultimo_abandono,
                                  abandonos, llamadas, zona_horaria)
    SELECT u.fecha, u.cliente_id, u.centro_id, u.ultimo_abandono, round(u.espera, 2), c.abandonos, c.llamadas, {zona}
    FROM agregado_devolucion AS u
    JOIN cuentas AS c ON c.fecha = u.fecha AND c.cliente_id = u.cliente_id
    RETURNING abandonos
)
SELECT count(*) AS registros_cargados, coalesce(sum(abandonos), 0) AS abandonos
FROM insertado
"""


def preparaciones(*, corto, ventana: int, zona: str, centros: list[str]) -> dict[str, tuple]:
    """The former (preparation, report statement or None = today's) per report, filled like
    `metricas.analistas`."""
    valores = {
        "corto": sql.SQL("{}::numeric").format(sql.Literal(str(Decimal(str(corto))))),
        "ventana": sql.Literal(int(ventana)),
        "zona": sql.Literal(zona),
        "centros": sql.Literal(list(centros)),
    }

    def f(texto: str) -> sql.Composed:
        return sql.SQL(texto).format(**valores)

    return {
        "intervalos": (f(_AGREGADO_INTERVALOS), None),
        "rellamadas": (f(_AGREGADO_RELLAMADAS), None),
        "devolucion": (f(_AGREGADO_DEVOLUCION), f(_REPORTE_DEVOLUCION)),
    }
