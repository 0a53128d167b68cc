"""The report metrics: the one place that knows their formulas.

Every report is one `INSERT INTO reportes_x ... SELECT ... FROM staging.x WHERE fecha >= %(desde)s
AND fecha < %(hasta)s GROUP BY ...` run inside PostgreSQL. Why there and not in pandas: a quarter
is tens of millions of staging rows; moving them to Python costs 10-150x the aggregate itself
(measured: the five reports in SQL take about 2 s for a 1M-call day), while the
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

# A daily report's statement answers one row per day of its window: that day's rows written and
# headline figures, so each day's materialization describes that day, however many days the
# run built (one statement over the window still does the work).
_REGISTROS_POR_DIA = "(SELECT fecha, count(*) AS registros FROM insertado GROUP BY fecha) AS i"

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

AGREGADO_LLAMADAS_DIA = _temporal(
    "agregado_llamadas_dia",
    f"""
SELECT fecha, hora,
    {_seleccion(AGREGADOS_LLAMADAS)}
FROM staging.llamadas
WHERE fecha >= %(desde)s AND fecha < %(hasta)s
GROUP BY fecha, hora
""",
)

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
    RETURNING fecha
)
SELECT fecha, coalesce(i.registros, 0) AS registros_cargados,
    {_seleccion(METRICAS_LLAMADAS)}
FROM (SELECT fecha, {_sumas(_CRUDOS_LLAMADAS)} FROM filas GROUP BY fecha) AS dia
LEFT JOIN {_REGISTROS_POR_DIA} USING (fecha)
ORDER BY fecha
"""

AGREGADO_TRIMESTRAL = _temporal(
    "agregado_trimestral",
    f"""
SELECT date_trunc('quarter', fecha::timestamp)::date AS inicio,
    {_seleccion(AGREGADOS_LLAMADAS)}
FROM staging.llamadas
WHERE fecha >= %(desde)s AND fecha < %(hasta)s
GROUP BY 1
""",
)

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

AGREGADO_MENU_PROBLEMAS = _temporal(
    "agregado_menu_problemas",
    f"""
-- max(): one deterministic name per (day, menu) should the source log two spellings
SELECT fecha, menu_id, max(menu_nombre) AS menu_nombre,
    {_seleccion(AGREGADOS_MENU)}
FROM staging.menu_eventos
WHERE fecha >= %(desde)s AND fecha < %(hasta)s
GROUP BY fecha, menu_id
""",
)

REPORTE_MENU_PROBLEMAS = f"""
WITH agregado AS (
    SELECT * FROM agregado_menu_problemas
), insertado AS (
    INSERT INTO reportes_menu_problemas (fecha, menu_id, menu_nombre, {", ".join(METRICAS_MENU)})
    SELECT fecha, menu_id, menu_nombre,
    {_seleccion(METRICAS_MENU)}
    FROM agregado
    RETURNING fecha
)
SELECT fecha, coalesce(i.registros, 0) AS registros_cargados, menus,
    {_seleccion(METRICAS_MENU)}
FROM (SELECT fecha, count(DISTINCT menu_id) AS menus, {_sumas(_CRUDOS_MENU)} FROM agregado GROUP BY fecha) AS dia
LEFT JOIN {_REGISTROS_POR_DIA} USING (fecha)
ORDER BY fecha
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

AGREGADO_TRANSFERENCIAS = _temporal(
    "agregado_transferencias",
    f"""
SELECT fecha, centro_origen, centro_destino,
    {_seleccion(AGREGADOS_TRANSFERENCIAS)}
FROM staging.transferencias
WHERE fecha >= %(desde)s AND fecha < %(hasta)s
GROUP BY fecha, centro_origen, centro_destino
""",
)

REPORTE_TRANSFERENCIAS = f"""
WITH agregado AS (
    SELECT * FROM agregado_transferencias
), insertado AS (
    INSERT INTO reportes_transferencias (fecha, centro_origen, centro_destino, {", ".join(METRICAS_TRANSFERENCIAS)})
    SELECT fecha, centro_origen, centro_destino,
    {_seleccion(METRICAS_TRANSFERENCIAS)}
    FROM agregado
    RETURNING fecha
)
SELECT fecha, coalesce(i.registros, 0) AS registros_cargados,
    {_seleccion(METRICAS_TRANSFERENCIAS)}
FROM (SELECT fecha, {_sumas(_CRUDOS_TRANSFERENCIAS)} FROM agregado GROUP BY fecha) AS dia
LEFT JOIN {_REGISTROS_POR_DIA} USING (fecha)
ORDER BY fecha
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


# --- Analyst reports beyond the seed ------------------------------------------------------------
#
# These statements also take the short-abandon threshold S, the repeat window H, the reporting
# time zone and the allowed centers. They are `psycopg.sql` templates: `analistas(...)` fills
# those four with `sql.Literal` (values, never text pasted into SQL) and leaves %(desde)s,
# %(hasta)s and %(umbral)s as bound parameters like every other report. Each row records the
# T, S and H it was computed with. The rollup views of migration 070 recompute the same ratios
# from the summed columns with SQL functions of identical definition (a ratio round(100.0 * n /
# d, 2), an average round(s / n, 2), 0 on a zero denominator); a test holds them equal.

from dataclasses import dataclass as _dataclass  # noqa: E402

from psycopg import sql as _sql  # noqa: E402

# Additive aggregates of a quarter hour of one center (raw, unrounded). A short abandon waited
# S seconds or less (S inclusive, like T); the max wait is over answered and abandoned calls
# (the wait of an IVR call is NULL).
#
# The scan groups by staging's local hour and the local quarter of the minute, read under the
# transaction's TimeZone set to the reporting zone (`_ZONA_LOCAL`): date_part on a timestamptz
# in the session zone costs about a third of `inicio AT TIME ZONE zona` per row. Waits are
# compared and summed as intervals (exact to the microsecond, like the timestamps) and turned
# into seconds once per group, not per row. Grouping by plain columns lets the planner see ~100
# groups and hash them instead of sorting the day.
_ESPERA_INTERVALO = """CASE resultado
        WHEN 'ATENDIDA' THEN atencion - ingreso_cola
        WHEN 'ABANDONADA' THEN fin - ingreso_cola END"""
_SEGUNDOS_INTERVALO = "make_interval(secs => {})"
AGREGADOS_INTERVALOS = {
    "ofrecidas": "count(*)",
    "solo_ivr": "count(*) FILTER (WHERE resultado = 'IVR')",
    "atendidas": "count(*) FILTER (WHERE resultado = 'ATENDIDA')",
    "abandonadas": "count(*) FILTER (WHERE resultado = 'ABANDONADA')",
    "abandonos_cortos": "count(*) FILTER (WHERE resultado = 'ABANDONADA' AND fin - ingreso_cola <= "
    + _SEGUNDOS_INTERVALO.format("{corto}")
    + ")",
    "atendidas_en_umbral": "count(*) FILTER (WHERE resultado = 'ATENDIDA' AND atencion - ingreso_cola <= "
    + _SEGUNDOS_INTERVALO.format("{umbral_centro}")
    + ")",
    "suma_espera_atendidas": "coalesce(extract(epoch FROM sum(atencion - ingreso_cola) FILTER (WHERE resultado = 'ATENDIDA')), 0)",
    "suma_atencion": "coalesce(extract(epoch FROM sum(fin - atencion) FILTER (WHERE resultado = 'ATENDIDA')), 0)",
    "espera_maxima": f"coalesce(extract(epoch FROM max({_ESPERA_INTERVALO})), 0)",
}
_CRUDOS_INTERVALOS = list(AGREGADOS_INTERVALOS)
_SUMAS_INTERVALOS = ("suma_espera_atendidas", "suma_atencion")

# Averages and rates from the stored (2-decimal) sums, so the views that roll them up compute
# exactly what the rows hold.
METRICAS_INTERVALOS = {
    "tiempo_promedio_espera": promedio("suma_espera_atendidas", "atendidas"),
    "tiempo_promedio_atencion": promedio("suma_atencion", "atendidas"),
    "nivel_servicio": porcentaje("atendidas_en_umbral", "atendidas + abandonadas"),
    "nivel_servicio_atendidas": porcentaje("atendidas_en_umbral", "atendidas"),
    "nivel_servicio_sin_cortos": porcentaje("atendidas_en_umbral", "atendidas + abandonadas - abandonos_cortos"),
    "tasa_abandono": porcentaje("abandonadas", "atendidas + abandonadas"),
    "tasa_abandono_sin_cortos": porcentaje(
        "abandonadas - abandonos_cortos", "atendidas + abandonadas - abandonos_cortos"
    ),
    "contencion_ivr": porcentaje("solo_ivr", "ofrecidas"),
}


_ZONA_LOCAL = "SELECT set_config('TimeZone', {zona}, true)"
_ZONA_SESION = "SET LOCAL TimeZone TO DEFAULT"  # the session's own zone (UTC, db.opciones_sesion)

_AGREGADO_INTERVALOS = _temporal(
    "agregado_intervalos",
    f"""
SELECT fecha, make_time(hora::int, cuarto * 15, 0) AS intervalo, centro_id,
    {", ".join(_CRUDOS_INTERVALOS)}
FROM (
    SELECT fecha, hora, date_part('minute', inicio)::int / 15 AS cuarto, centro_id,
    {_seleccion(AGREGADOS_INTERVALOS)}
    FROM staging.llamadas
    WHERE fecha >= %(desde)s AND fecha < %(hasta)s
    GROUP BY fecha, hora, cuarto, centro_id
) AS escaneo
""",
)

_REPORTE_INTERVALOS = f"""
WITH agregado AS (
    SELECT * FROM agregado_intervalos
), centros AS (
    -- the allowed centers, plus any center staged in the window (a setting changed since)
    SELECT unnest({{centros}}::varchar[]) AS centro_id
    UNION
    SELECT DISTINCT centro_id FROM agregado
), filas AS (
    -- all 96 quarter hours of every day of the window for every center, zeros included
    SELECT d.dia::date AS fecha, q.intervalo, c.centro_id,
    {_ceros([c for c in _CRUDOS_INTERVALOS if c not in _SUMAS_INTERVALOS], "a")},
    {",".join(f"round(coalesce(a.{c}, 0), 2) AS {c}" for c in _SUMAS_INTERVALOS)}
    FROM generate_series(%(desde)s::timestamp, %(hasta)s::timestamp - interval '1 day', interval '1 day') AS d (dia)
    CROSS JOIN (SELECT make_time(n / 4, (n %% 4) * 15, 0) AS intervalo FROM generate_series(0, 95) AS n) AS q
    CROSS JOIN centros AS c
    LEFT JOIN agregado AS a ON a.fecha = d.dia::date AND a.intervalo = q.intervalo AND a.centro_id = c.centro_id
), insertado AS (
    INSERT INTO reportes_intervalos (fecha, intervalo, centro_id, {", ".join(_CRUDOS_INTERVALOS)},
                                     {", ".join(METRICAS_INTERVALOS)}, umbral_servicio_s, abandono_corto_s)
    SELECT fecha, intervalo, centro_id, {", ".join(_CRUDOS_INTERVALOS)},
    {_seleccion(METRICAS_INTERVALOS)},
    -- the T its calls were counted with: the center's own (objetivos_centro) or the setting's
    coalesce((SELECT o.umbral_s FROM objetivos_centro AS o WHERE o.centro_id = filas.centro_id), %(umbral)s::numeric),
    {{corto}}
    FROM filas
    RETURNING fecha
)
SELECT fecha, coalesce(i.registros, 0) AS registros_cargados,
    ofrecidas, atendidas, abandonadas, abandonos_cortos,
    {
    _seleccion(
        {
            c: METRICAS_INTERVALOS[c]
            for c in ("nivel_servicio", "nivel_servicio_sin_cortos", "tasa_abandono", "contencion_ivr")
        }
    )
}
FROM (SELECT fecha, {_sumas([c for c in _CRUDOS_INTERVALOS if c != "espera_maxima"])} FROM filas GROUP BY fecha) AS dia
LEFT JOIN {_REGISTROS_POR_DIA} USING (fecha)
ORDER BY fecha
"""

# Repeat calls. A call is a repeat when the caller's previous staged call (any center, any
# result; previous in (inicio, llamada_id) order) started at most H before it: the immediate
# predecessor is the latest earlier call, so "some earlier call within H" reduces to it.
# Only a client with two calls in [first instant of the window - H, end of the window) can
# repeat; staging.clientes_dia (one row per client and day with their calls and the start of
# the last one, kept exact by every calls load) names them cheaply (`multiples`): more than
# one call on a day of the window, a last call on a look-back day within H of the window, or
# rows on two days of the window (25k-65k of 502k clients on the 1M-call demo day). Only
# their calls are sorted for lag(); every other identified call is its caller's only call in
# the window, so the day and center's identified calls less those of `multiples` are that many
# more clients, none repeating. A client's first call of the window looks back to their latest
# call before it, which is the latest `ultima_llamada` of the look-back days (no look-back
# day's calls are read).
_VENTANA = "make_interval(hours => {ventana})"
_INICIO_VENTANA = "(%(desde)s::timestamp AT TIME ZONE {zona})"
# The first look-back day, exactly (a DST change can add a day), plus a constant bound the
# planner can fold (`date - integer` is immutable; `timestamptz - interval` is only stable):
# it prunes the look-back to its day partitions when planning and estimates from their
# statistics, instead of from the partitioned parent's.
_DIA_PREVIO = f"(({_INICIO_VENTANA} - {_VENTANA}) AT TIME ZONE {{zona}})::date"
_DIAS_PREVIOS = "%(desde)s::date - {dias_atras}"

_AGREGADO_RELLAMADAS = _temporal(
    "agregado_rellamadas",
    f"""
WITH previas AS MATERIALIZED (
    -- clients of the window whose last call before it started within H of its first instant
    SELECT v.cliente_id, max(a.ultima_llamada) AS inicio
    FROM staging.clientes_dia AS v
    JOIN staging.clientes_dia AS a ON a.cliente_id = v.cliente_id
    WHERE v.fecha >= %(desde)s AND v.fecha < %(hasta)s
      -- the bounds as one-row subqueries: computed once, not per look-back row (a zone
      -- conversion and an interval subtraction per row were a third of the join, 0.1 s)
      AND a.fecha >= {_DIAS_PREVIOS} AND a.fecha >= (SELECT {_DIA_PREVIO}) AND a.fecha < %(desde)s
      AND a.ultima_llamada >= (SELECT {_INICIO_VENTANA} - {_VENTANA})
    GROUP BY v.cliente_id
), multiples AS MATERIALIZED (
    SELECT cliente_id FROM staging.clientes_dia
    WHERE fecha >= %(desde)s AND fecha < %(hasta)s AND llamadas > 1
    UNION
    SELECT cliente_id FROM previas
    UNION
    -- calls on two days of a window of several days (nothing is read for a one-day window)
    SELECT cliente_id FROM staging.clientes_dia
    WHERE fecha >= %(desde)s AND fecha < %(hasta)s AND %(hasta)s::date - %(desde)s::date > 1
    GROUP BY cliente_id HAVING count(*) > 1
), identificadas AS (
    -- Keys compared in byte order ("C"): the same groups and predecessors as under the database
    -- collation (equality is byte equality either way), but sorted with abbreviated keys and
    -- memcmp instead of strcoll.
    SELECT fecha, centro_id COLLATE "C" AS centro_id, cliente_id COLLATE "C" AS cliente_id, inicio,
        lag(inicio) OVER (PARTITION BY cliente_id COLLATE "C" ORDER BY inicio, llamada_id) AS inicio_previa
    FROM staging.llamadas
    WHERE fecha >= %(desde)s AND fecha < %(hasta)s AND cliente_id IN (SELECT cliente_id FROM multiples)
), por_cliente AS (
    SELECT i.fecha, i.centro_id, i.cliente_id, count(*) AS llamadas,
        count(*) FILTER (WHERE coalesce(i.inicio_previa, p.inicio) >= i.inicio - {_VENTANA}) AS rellamadas
    FROM identificadas AS i
    LEFT JOIN previas AS p ON p.cliente_id = i.cliente_id AND i.inicio_previa IS NULL
    GROUP BY i.fecha, i.centro_id, i.cliente_id
), identificadas_por_centro AS (
    SELECT fecha, centro_id COLLATE "C" AS centro_id, count(*) AS llamadas
    FROM staging.llamadas
    WHERE fecha >= %(desde)s AND fecha < %(hasta)s AND cliente_id IS NOT NULL
    GROUP BY 1, 2
), repetibles AS (
    SELECT fecha, centro_id, sum(llamadas) AS llamadas, count(*) AS clientes, sum(rellamadas) AS rellamadas,
        count(*) FILTER (WHERE rellamadas > 0) AS clientes_con_rellamada
    FROM por_cliente
    GROUP BY fecha, centro_id
)
-- every other identified call is its caller's only call: one client each, never a repeat
SELECT t.fecha, t.centro_id,
    t.llamadas AS llamadas_identificadas,
    t.llamadas - coalesce(r.llamadas, 0) + coalesce(r.clientes, 0) AS clientes,
    coalesce(r.rellamadas, 0) AS rellamadas,
    coalesce(r.clientes_con_rellamada, 0) AS clientes_con_rellamada
FROM identificadas_por_centro AS t
LEFT JOIN repetibles AS r ON r.fecha = t.fecha AND r.centro_id = t.centro_id
""",
)
_CRUDOS_RELLAMADAS = ["llamadas_identificadas", "clientes", "rellamadas", "clientes_con_rellamada"]

# How far back each day's look-back could see: the hours before the day's first instant, up to
# H, covered without a gap by staged days (a day is loaded when its staging partition exists).
_REPORTE_RELLAMADAS = f"""
WITH agregado AS (
    SELECT * FROM agregado_rellamadas
), centros AS (
    SELECT unnest({{centros}}::varchar[]) AS centro_id
    UNION
    SELECT DISTINCT centro_id FROM agregado
), dias AS (
    SELECT d.dia::date AS fecha, d.dia AT TIME ZONE {{zona}} AS inicio_dia
    FROM generate_series(%(desde)s::timestamp, %(hasta)s::timestamp - interval '1 day', interval '1 day') AS d (dia)
), historia AS (
    -- the latest missing day before each day within its window; its end bounds the history
    SELECT dias.fecha,
        least({{ventana}}::numeric, round((extract(epoch FROM dias.inicio_dia - coalesce(
            (SELECT (faltante.dia + interval '1 day') AT TIME ZONE {{zona}}
             FROM generate_series(((dias.inicio_dia - {_VENTANA}) AT TIME ZONE {{zona}})::date::timestamp,
                                  dias.fecha::timestamp - interval '1 day', interval '1 day') AS faltante (dia)
             WHERE to_regclass(format('staging.%%I', 'llamadas_' || to_char(faltante.dia, 'YYYYMMDD'))) IS NULL
             ORDER BY faltante.dia DESC LIMIT 1),
            dias.inicio_dia - {_VENTANA})) / 3600)::numeric, 2)) AS horas
    FROM dias
), filas AS (
    SELECT dias.fecha, c.centro_id, h.horas,
    {_ceros(_CRUDOS_RELLAMADAS, "a")}
    FROM dias
    JOIN historia AS h ON h.fecha = dias.fecha
    CROSS JOIN centros AS c
    LEFT JOIN agregado AS a ON a.fecha = dias.fecha AND a.centro_id = c.centro_id
), insertado AS (
    INSERT INTO reportes_rellamadas (fecha, centro_id, {", ".join(_CRUDOS_RELLAMADAS)}, tasa_rellamada,
                                     ventana_rellamada_h, horas_historia_cargadas, ventana_completa)
    SELECT fecha, centro_id, {", ".join(_CRUDOS_RELLAMADAS)},
        {porcentaje("rellamadas", "llamadas_identificadas")},
        {{ventana}}, horas, horas = {{ventana}}
    FROM filas
    RETURNING fecha
)
SELECT fecha, coalesce(min(i.registros), 0) AS registros_cargados,
    coalesce(sum(llamadas_identificadas), 0) AS llamadas_identificadas,
    coalesce(sum(rellamadas), 0) AS rellamadas,
    {porcentaje("sum(rellamadas)", "sum(llamadas_identificadas)")} AS tasa_rellamada,
    count(*) FILTER (WHERE NOT horas = {{ventana}}) AS filas_con_ventana_incompleta
FROM filas
LEFT JOIN {_REGISTROS_POR_DIA} USING (fecha)
GROUP BY fecha
ORDER BY fecha
"""

# The callback worklist: per local day, callers whose last abandoned call (last in (inicio,
# llamada_id) order, any center) is not followed that day by an answered call (any center).
# The day's abandoned identified calls are few: their last one per client first. A caller with
# no other call that day (staging.clientes_dia, kept exact by every calls load, says how many)
# is listed as is: one call, abandoned. Only the others' calls are read again, to count them
# and look for a later answered call (a few thousand clients instead of every call of the day).
_AGREGADO_DEVOLUCION = _temporal(
    "agregado_devolucion",
    f"""
WITH ultimo AS MATERIALIZED (
    SELECT DISTINCT ON (fecha, cliente_id) fecha, cliente_id, llamada_id, inicio, centro_id, {ESPERA} AS espera
    FROM staging.llamadas
    WHERE fecha >= %(desde)s AND fecha < %(hasta)s AND cliente_id IS NOT NULL AND resultado = 'ABANDONADA'
    ORDER BY fecha, cliente_id, inicio DESC, llamada_id DESC
), varias AS MATERIALIZED (
    SELECT u.*
    FROM ultimo AS u
    JOIN staging.clientes_dia AS v ON v.fecha = u.fecha AND v.cliente_id = u.cliente_id
    WHERE v.fecha >= %(desde)s AND v.fecha < %(hasta)s AND v.llamadas > 1
)
SELECT u.fecha, u.cliente_id, u.centro_id, u.inicio AS ultimo_abandono, u.espera,
    count(*) FILTER (WHERE l.resultado = 'ABANDONADA') AS abandonos, count(*) AS llamadas
FROM varias AS u
JOIN (
    SELECT fecha, cliente_id, llamada_id, inicio, resultado FROM staging.llamadas
    WHERE fecha >= %(desde)s AND fecha < %(hasta)s AND cliente_id IN (SELECT cliente_id FROM varias)
) AS l ON l.fecha = u.fecha AND l.cliente_id = u.cliente_id
GROUP BY u.fecha, u.cliente_id, u.llamada_id, u.inicio, u.centro_id, u.espera
HAVING NOT coalesce(bool_or(l.resultado = 'ATENDIDA' AND (l.inicio, l.llamada_id) > (u.inicio, u.llamada_id)), false)
UNION ALL
SELECT u.fecha, u.cliente_id, u.centro_id, u.inicio, u.espera, 1, 1
FROM ultimo AS u
WHERE NOT EXISTS (SELECT 1 FROM varias AS m WHERE m.fecha = u.fecha AND m.cliente_id = u.cliente_id)
""",
)

_REPORTE_DEVOLUCION = """
WITH insertado AS (
    INSERT INTO lista_devolucion (fecha, cliente_id, centro_id, ultimo_abandono, espera_ultimo_abandono,
                                  abandonos, llamadas, zona_horaria)
    SELECT fecha, cliente_id, centro_id, ultimo_abandono, round(espera, 2), abandonos, llamadas, {zona}
    FROM agregado_devolucion
    RETURNING fecha, abandonos
)
SELECT fecha, count(*) AS registros_cargados, coalesce(sum(abandonos), 0) AS abandonos
FROM insertado
GROUP BY fecha
ORDER BY fecha
"""


@_dataclass(frozen=True)
class Analistas:
    """The analyst reports' statements with their settings filled in (`preparacion`, `sentencia`)."""

    intervalos: tuple[tuple[_sql.Composed, ...], _sql.Composed]
    rellamadas: tuple[tuple[_sql.Composed, ...], _sql.Composed]
    devolucion: tuple[tuple[_sql.Composed, ...], _sql.Composed]


def _umbral_centro(umbrales: dict[str, float]) -> _sql.Composable:
    """T of a row's center: its own (objetivos_centro) or the bound setting %(umbral)s."""
    from decimal import Decimal

    defecto = _sql.SQL("%(umbral)s::numeric")
    if not umbrales:
        return defecto
    casos = _sql.SQL(" ").join(
        _sql.SQL("WHEN {} THEN {}::numeric").format(_sql.Literal(c), _sql.Literal(str(Decimal(str(t)))))
        for c, t in sorted(umbrales.items())
    )
    return _sql.SQL("(CASE centro_id {} ELSE {} END)").format(casos, defecto)


def analistas(
    *, corto: float, ventana: int, zona: str, centros: list[str], umbrales: dict[str, float] | None = None
) -> Analistas:
    """Each report's (preparation statements, report statement) for S = `corto` seconds, H =
    `ventana` hours, the reporting time zone and the allowed centers, each a `sql.Literal`;
    `umbrales`: the centers whose T is their own (objetivos_centro), the rest use %(umbral)s."""
    from decimal import Decimal

    valores = {
        "umbral_centro": _umbral_centro(umbrales or {}),
        "corto": _sql.SQL("{}::numeric").format(_sql.Literal(str(Decimal(str(corto))))),
        "ventana": _sql.Literal(int(ventana)),
        # whole days an H-hour look-back can reach before the window's first day (DST included)
        "dias_atras": _sql.Literal(int(ventana) // 24 + 2),
        "zona": _sql.Literal(zona),
        "centros": _sql.Literal(list(centros)),
    }

    def par(preparacion: tuple[str, ...], sentencia: str) -> tuple[tuple[_sql.Composed, ...], _sql.Composed]:
        return (tuple(_sql.SQL(p).format(**valores) for p in preparacion), _sql.SQL(sentencia).format(**valores))

    return Analistas(
        # the quarter hour read in the reporting zone, the session's zone back before the report
        intervalos=par((_ZONA_LOCAL, _AGREGADO_INTERVALOS, _ZONA_SESION), _REPORTE_INTERVALOS),
        rellamadas=par((_AGREGADO_RELLAMADAS,), _REPORTE_RELLAMADAS),
        devolucion=par((_AGREGADO_DEVOLUCION,), _REPORTE_DEVOLUCION),
    )
