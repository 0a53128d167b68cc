"""The analyst reports' first formulation (issue 13), frozen: the equivalence test runs it
against today's statements on seeded demo days. Not used by the pipeline.

Intervals and repeat calls kept their report statements (they read the same temporary
tables); only the scans changed. The worklist's report statement changed with its scan.
"""

from psycopg import sql

from iact_pipelines.reportes.metricas import AGREGADOS_LLAMADAS, ESPERA, _seleccion, _temporal

# Additive aggregates of a quarter hour of one center (raw, unrounded).
AGREGADOS_INTERVALOS = {
    "ofrecidas": "count(*)",
    "solo_ivr": "count(*) FILTER (WHERE resultado = 'IVR')",
    "atendidas": AGREGADOS_LLAMADAS["atendidas"],
    "abandonadas": AGREGADOS_LLAMADAS["abandonadas"],
    # A short abandon waited S seconds or less (S inclusive, like T).
    "abandonos_cortos": f"count(*) FILTER (WHERE resultado = 'ABANDONADA' AND {ESPERA} <= {{corto}})",
    "atendidas_en_umbral": AGREGADOS_LLAMADAS["dentro_umbral"],
    "suma_espera_atendidas": AGREGADOS_LLAMADAS["suma_espera"],
    "suma_atencion": AGREGADOS_LLAMADAS["suma_atencion"],
    # ESPERA is NULL for IVR calls: the max is over answered and abandoned calls.
    "espera_maxima": f"coalesce(max({ESPERA}), 0)",
}

_AGREGADO_INTERVALOS = _temporal(
    "agregado_intervalos",
    f"""
SELECT fecha,
    -- the local wall-clock quarter hour of the start: staging's local hour, the local minute
    make_time(hora::int, (extract(minute FROM inicio AT TIME ZONE {{zona}})::int / 15) * 15, 0) AS intervalo,
    centro_id,
    {_seleccion(AGREGADOS_INTERVALOS)}
FROM staging.llamadas
WHERE fecha >= %(desde)s AND fecha < %(hasta)s
GROUP BY 1, 2, 3
""",
)


_VENTANA = "make_interval(hours => {ventana})"
_INICIO_VENTANA = "(%(desde)s::timestamp AT TIME ZONE {zona})"

_AGREGADO_RELLAMADAS = _temporal(
    "agregado_rellamadas",
    f"""
WITH identificadas AS (
    SELECT fecha, centro_id, cliente_id, inicio,
        lag(inicio) OVER (PARTITION BY cliente_id ORDER BY inicio, llamada_id) AS inicio_previa
    FROM staging.llamadas
    WHERE cliente_id IS NOT NULL AND fecha < %(hasta)s
      AND fecha >= (({_INICIO_VENTANA} - {_VENTANA}) AT TIME ZONE {{zona}})::date
      AND inicio >= {_INICIO_VENTANA} - {_VENTANA}
)
SELECT fecha, centro_id,
    count(*) AS llamadas_identificadas,
    count(DISTINCT cliente_id) AS clientes,
    count(*) FILTER (WHERE inicio_previa >= inicio - {_VENTANA}) AS rellamadas,
    count(DISTINCT cliente_id) FILTER (WHERE inicio_previa >= inicio - {_VENTANA}) AS clientes_con_rellamada
FROM identificadas
WHERE fecha >= %(desde)s
GROUP BY fecha, centro_id
""",
)

_AGREGADO_DEVOLUCION = _temporal(
    "agregado_devolucion",
    f"""
WITH colas AS (
    SELECT fecha, cliente_id, llamada_id, inicio, centro_id, resultado, {ESPERA} AS espera
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
""",
)

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
    from decimal import Decimal

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
