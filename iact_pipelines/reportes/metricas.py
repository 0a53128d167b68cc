"""The report metrics of DESIGN.md ("Metrics (exact)"): the one place that knows their formulas.

Every report is one `INSERT INTO reportes_x ... SELECT ... FROM staging.x WHERE fecha >= %(desde)s
AND fecha < %(hasta)s GROUP BY ...` run inside PostgreSQL. Why there and not in pandas: a quarter
is tens of millions of staging rows; moving them to Python costs 10-150x the aggregate itself
(DESIGN.md, Performance: the five reports in SQL take about 2 s for a 1M-call day), while the
aggregate sends back a few hundred rows at most.

Each statement works on a whole window of partitions at once (a backfill range is one run and one
statement), writes every period of the window (zeros included), and returns one row of headline
figures for the materialization metadata computed in the same scan (a data-modifying CTE).

Conventions, identical in every report:
- counts and sums are aggregated first (additive: an hour, a day, a quarter and the whole window
  derive their averages and rates from them the same way);
- averages and rates are `round(numeric, 2)`, which rounds half away from zero (10.005 -> 10.01);
- a ratio with a zero denominator is 0.
Only bound parameters: `%(desde)s`, `%(hasta)s` (dates, end exclusive), `%(umbral)s` (seconds).
"""

from __future__ import annotations


def promedio(suma: str, n: str) -> str:
    """Average from an additive sum and count, 2 decimals; 0 when there is nothing to average."""
    return f"(CASE WHEN {n} = 0 THEN 0 ELSE round(({suma})::numeric / ({n}), 2) END)"


def porcentaje(numerador: str, denominador: str) -> str:
    """100 x numerador / denominador, 2 decimals; 0 when the denominator is 0."""
    return f"(CASE WHEN {denominador} = 0 THEN 0 ELSE round(100.0 * ({numerador}) / ({denominador}), 2) END)"


def _seleccion(columnas: dict[str, str]) -> str:
    return ",\n    ".join(f"{expr} AS {nombre}" for nombre, expr in columnas.items())


def _sumas(columnas: list[str], fuente: str = "") -> str:
    """coalesce(sum(x), 0) AS x for each raw column: totals of the window (a LEFT JOIN grid adds NULLs)."""
    prefijo = f"{fuente}." if fuente else ""
    return ",\n    ".join(f"coalesce(sum({prefijo}{c}), 0) AS {c}" for c in columnas)


def _ceros(columnas: list[str], fuente: str) -> str:
    """The raw columns of a LEFT JOINed aggregate, 0 where the period had no rows."""
    return ",\n    ".join(f"coalesce({fuente}.{c}, 0) AS {c}" for c in columnas)


def _temporal(nombre: str, consulta: str) -> str:
    """The window's scan as its own CREATE TEMP TABLE … AS, dropped at commit. PostgreSQL may run
    it with parallel workers; inside an INSERT's data-modifying CTE the same scan is always
    serial (measured: ~2x faster on two cores for a quarter of calls, ~0.3 s less for a
    2.4M-event day). The report statement then reads the few aggregated rows from it."""
    return f"CREATE TEMP TABLE {nombre} ON COMMIT DROP AS\n{consulta}"


# --- Calls ---------------------------------------------------------------------------------

# Wait in seconds: answered -> atencion - ingreso_cola; abandoned -> fin - ingreso_cola.
ESPERA = """extract(epoch FROM CASE resultado
        WHEN 'ATENDIDA' THEN atencion - ingreso_cola
        WHEN 'ABANDONADA' THEN fin - ingreso_cola END)"""
# Handle time of an answered call in seconds.
ATENCION = "extract(epoch FROM fin - atencion)"

# Additive aggregates of a set of staging.llamadas rows.
AGREGADOS_LLAMADAS = {
    "total": "count(*)",
    "atendidas": "count(*) FILTER (WHERE resultado = 'ATENDIDA')",
    "abandonadas": "count(*) FILTER (WHERE resultado = 'ABANDONADA')",
    "suma_espera": f"coalesce(sum({ESPERA}) FILTER (WHERE resultado = 'ATENDIDA'), 0)",
    "suma_atencion": f"coalesce(sum({ATENCION}) FILTER (WHERE resultado = 'ATENDIDA'), 0)",
    # Service level counts answered calls whose wait is within T seconds (T inclusive).
    "dentro_umbral": f"count(*) FILTER (WHERE resultado = 'ATENDIDA' AND {ESPERA} <= %(umbral)s::numeric)",
}
_CRUDOS_LLAMADAS = list(AGREGADOS_LLAMADAS)

# Report columns from the additive aggregates (of an hour, a quarter or the whole window).
METRICAS_LLAMADAS = {
    "total_llamadas": "total",
    "llamadas_atendidas": "atendidas",
    "llamadas_abandonadas": "abandonadas",
    "tiempo_promedio_espera": promedio("suma_espera", "atendidas"),  # ASA
    "tiempo_promedio_atencion": promedio("suma_atencion", "atendidas"),
    "nivel_servicio": porcentaje("dentro_umbral", "atendidas + abandonadas"),
    "tasa_abandono": porcentaje("abandonadas", "atendidas + abandonadas"),
}
_COLUMNAS_LLAMADAS_DIA = [c for c in METRICAS_LLAMADAS if c != "tasa_abandono"]  # the seed's table has none

AGREGADO_LLAMADAS_DIA = _temporal("agregado_llamadas_dia", f"""
SELECT fecha, hora,
    {_seleccion(AGREGADOS_LLAMADAS)}
FROM staging.llamadas
WHERE fecha >= %(desde)s AND fecha < %(hasta)s
GROUP BY fecha, hora
""")

REPORTE_LLAMADAS_DIA = f"""
WITH agregado AS (
    SELECT * FROM agregado_llamadas_dia
), filas AS (
    -- all 24 hours of every day of the window, an hour without calls as zeros
    SELECT d.dia::date AS fecha, h.hora,
    {_ceros(_CRUDOS_LLAMADAS, "a")}
    FROM generate_series(%(desde)s::timestamp, %(hasta)s::timestamp - interval '1 day', interval '1 day') AS d (dia)
    CROSS JOIN generate_series(0, 23) AS h (hora)
    LEFT JOIN agregado AS a ON a.fecha = d.dia::date AND a.hora = h.hora
), insertado AS (
    INSERT INTO reportes_llamadas_dia (fecha, hora, {", ".join(_COLUMNAS_LLAMADAS_DIA)})
    SELECT fecha, hora,
    {_seleccion({c: METRICAS_LLAMADAS[c] for c in _COLUMNAS_LLAMADAS_DIA})}
    FROM filas
    RETURNING 1
)
SELECT (SELECT count(*) FROM insertado) AS registros_cargados,
    {_seleccion(METRICAS_LLAMADAS)}
FROM (SELECT {_sumas(_CRUDOS_LLAMADAS)} FROM filas) AS ventana
"""

AGREGADO_TRIMESTRAL = _temporal("agregado_trimestral", f"""
SELECT date_trunc('quarter', fecha::timestamp)::date AS inicio,
    {_seleccion(AGREGADOS_LLAMADAS)}
FROM staging.llamadas
WHERE fecha >= %(desde)s AND fecha < %(hasta)s
GROUP BY 1
""")

REPORTE_TRIMESTRAL = f"""
WITH agregado AS (
    SELECT * FROM agregado_trimestral
), filas AS (
    -- every quarter of the window, one without calls as zeros
    SELECT q.inicio::date AS inicio,
    {_ceros(_CRUDOS_LLAMADAS, "a")}
    FROM generate_series(%(desde)s::timestamp, %(hasta)s::timestamp - interval '1 day', interval '3 months') AS q (inicio)
    LEFT JOIN agregado AS a ON a.inicio = q.inicio::date
), insertado AS (
    INSERT INTO reportes_trimestral (trimestre, anio, {", ".join(METRICAS_LLAMADAS)})
    SELECT 'Q' || extract(quarter FROM inicio)::int, extract(year FROM inicio)::int,
    {_seleccion(METRICAS_LLAMADAS)}
    FROM filas
    RETURNING 1
)
SELECT (SELECT count(*) FROM insertado) AS registros_cargados,
    {_seleccion(METRICAS_LLAMADAS)}
FROM (SELECT {_sumas(_CRUDOS_LLAMADAS)} FROM filas) AS ventana
"""

# --- Menus ---------------------------------------------------------------------------------

AGREGADOS_MENU = {
    "veces_accedido": "count(*)",
    "abandonos": "count(*) FILTER (WHERE resultado = 'ABANDONO')",
    "timeout": "count(*) FILTER (WHERE resultado = 'TIMEOUT')",
    "errores": "count(*) FILTER (WHERE resultado = 'ERROR')",
    # Stay only where the caller left the menu (salida set); a hang-up inside has no end.
    "suma_permanencia": "coalesce(sum(extract(epoch FROM salida - entrada)), 0)",
    "con_salida": "count(salida)",
}
_CRUDOS_MENU = list(AGREGADOS_MENU)

METRICAS_MENU = {
    "veces_accedido": "veces_accedido",
    "abandonos": "abandonos",
    "timeout": "timeout",
    "errores": "errores",
    "tasa_abandono": porcentaje("abandonos", "veces_accedido"),
    "tiempo_promedio_permanencia": promedio("suma_permanencia", "con_salida"),
}

AGREGADO_MENU_PROBLEMAS = _temporal("agregado_menu_problemas", f"""
-- max(): one deterministic name per (day, menu) should the source log two spellings
SELECT fecha, menu_id, max(menu_nombre) AS menu_nombre,
    {_seleccion(AGREGADOS_MENU)}
FROM staging.menu_eventos
WHERE fecha >= %(desde)s AND fecha < %(hasta)s
GROUP BY fecha, menu_id
""")

REPORTE_MENU_PROBLEMAS = f"""
WITH agregado AS (
    SELECT * FROM agregado_menu_problemas
), insertado AS (
    INSERT INTO reportes_menu_problemas (fecha, menu_id, menu_nombre, {", ".join(METRICAS_MENU)})
    SELECT fecha, menu_id, menu_nombre,
    {_seleccion(METRICAS_MENU)}
    FROM agregado
    RETURNING 1
)
SELECT (SELECT count(*) FROM insertado) AS registros_cargados,
    (SELECT count(DISTINCT menu_id) FROM agregado) AS menus,
    {_seleccion(METRICAS_MENU)}
FROM (SELECT {_sumas(_CRUDOS_MENU)} FROM agregado) AS ventana
"""

# --- Transfers -----------------------------------------------------------------------------

AGREGADOS_TRANSFERENCIAS = {
    "total": "count(*)",
    "exitosas": "count(*) FILTER (WHERE exitosa)",
    "fallidas": "count(*) FILTER (WHERE NOT exitosa)",
    # Duration only of transfers that connected (fin set).
    "suma_duracion": "coalesce(sum(extract(epoch FROM fin - inicio)), 0)",
    "con_fin": "count(fin)",
}
_CRUDOS_TRANSFERENCIAS = list(AGREGADOS_TRANSFERENCIAS)

METRICAS_TRANSFERENCIAS = {
    "total_transferencias": "total",
    "transferencias_exitosas": "exitosas",
    "transferencias_fallidas": "fallidas",
    "tiempo_promedio_transferencia": promedio("suma_duracion", "con_fin"),
    "tasa_exito": porcentaje("exitosas", "total"),
}

AGREGADO_TRANSFERENCIAS = _temporal("agregado_transferencias", f"""
SELECT fecha, centro_origen, centro_destino,
    {_seleccion(AGREGADOS_TRANSFERENCIAS)}
FROM staging.transferencias
WHERE fecha >= %(desde)s AND fecha < %(hasta)s
GROUP BY fecha, centro_origen, centro_destino
""")

REPORTE_TRANSFERENCIAS = f"""
WITH agregado AS (
    SELECT * FROM agregado_transferencias
), insertado AS (
    INSERT INTO reportes_transferencias (fecha, centro_origen, centro_destino, {", ".join(METRICAS_TRANSFERENCIAS)})
    SELECT fecha, centro_origen, centro_destino,
    {_seleccion(METRICAS_TRANSFERENCIAS)}
    FROM agregado
    RETURNING 1
)
SELECT (SELECT count(*) FROM insertado) AS registros_cargados,
    {_seleccion(METRICAS_TRANSFERENCIAS)}
FROM (SELECT {_sumas(_CRUDOS_TRANSFERENCIAS)} FROM agregado) AS ventana
"""

# --- Unique clients ------------------------------------------------------------------------

# Per calendar month of the window (desde is a month's first day, hasta exclusive): distinct
# identified callers; new = their first call in all loaded history falls in the month;
# recurrent = the rest. Read from staging.clientes_dia (one row per client and day) and
# staging.clientes_primera_llamada (each client's earliest such day), kept exact by every
# staging calls load (staging/clientes.py): both reads are range scans of the window, so the
# cost follows the month, not the history. A client whose first call falls in the month
# called in the month, so the new ones are counted from the first-call table alone.
REPORTE_CLIENTES_UNICOS = f"""
WITH agregado AS (
    -- per month, and (mes NULL) the whole window's distinct clients, in one scan
    SELECT date_trunc('month', fecha::timestamp)::date AS mes,
        count(DISTINCT cliente_id) AS clientes, sum(llamadas) AS llamadas
    FROM staging.clientes_dia
    WHERE fecha >= %(desde)s AND fecha < %(hasta)s
    GROUP BY GROUPING SETS ((date_trunc('month', fecha::timestamp)::date), ())
), por_mes AS (
    SELECT * FROM agregado WHERE mes IS NOT NULL
), nuevos_por_mes AS (
    SELECT date_trunc('month', primera_fecha::timestamp)::date AS mes, count(*) AS nuevos
    FROM staging.clientes_primera_llamada
    WHERE primera_fecha >= %(desde)s AND primera_fecha < %(hasta)s
    GROUP BY 1
), filas AS (
    -- every month of the window, one without identified calls as zeros
    SELECT m.mes::date AS mes,
        coalesce(c.clientes, 0) AS clientes,
        coalesce(n.nuevos, 0) AS nuevos,
        coalesce(c.clientes, 0) - coalesce(n.nuevos, 0) AS recurrentes,
        coalesce(c.llamadas, 0) AS llamadas
    FROM generate_series(%(desde)s::timestamp, %(hasta)s::timestamp - interval '1 day', interval '1 month') AS m (mes)
    LEFT JOIN por_mes AS c ON c.mes = m.mes::date
    LEFT JOIN nuevos_por_mes AS n ON n.mes = m.mes::date
), insertado AS (
    INSERT INTO reportes_clientes_unicos (fecha_inicio, fecha_fin, total_clientes_unicos, nuevos_clientes,
                                          clientes_recurrentes, promedio_llamadas_cliente)
    SELECT mes, (mes + interval '1 month' - interval '1 day')::date, clientes, nuevos, recurrentes,
        {promedio("llamadas", "clientes")}
    FROM filas
    RETURNING 1
)
SELECT (SELECT count(*) FROM insertado) AS registros_cargados,
    (SELECT clientes FROM agregado WHERE mes IS NULL) AS total_clientes_unicos,
    coalesce(sum(nuevos), 0) AS nuevos_clientes,
    coalesce(sum(llamadas), 0) AS llamadas_identificadas
FROM filas
"""
