"""Staffing and targets through the real assets on PostgreSQL: reportes_dimensionamiento,
reportes_cumplimiento (and its inbox alert), reportes_esperas, the per-center targets of
`iact objetivos`, and the views v_comparacion_semanal, v_semanas and v_plan_semana_tipo.

Every expected value is computed here from the rows of reportes_intervalos, with Erlang C in
log space from its Poisson terms (lgamma), not with reportes/erlang.py's recursion."""

import json
import math
import random
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

import dagster as dg
import pytest

from iact_pipelines.cli import main as iact
from iact_pipelines.exportar import archivos
from iact_pipelines.monitoreo import objetivos
from iact_pipelines.monitoreo.alertas import SinAdministradores
from iact_pipelines.monitoreo.objetivos import alertas_objetivo
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes import assets as reportes
from iact_pipelines_tests.reportes.ayudas import NAC, PUE, cargar, llamada
from iact_pipelines_tests.reportes.ayudas_objetivos import intervalos, materializar

DOS = Decimal("0.01")
STAFFING = [reportes.dimensionamiento, reportes.cumplimiento]


def _d(x: float) -> Decimal:
    """PostgreSQL's round(float8::numeric, 2): 15 significant digits, then half away from zero."""
    return Decimal(f"{x:.15g}").quantize(DOS, ROUND_HALF_UP)


def _c_log(n: int, a: float) -> float:
    terminos = [k * math.log(a) - math.lgamma(k + 1) for k in range(n)]
    ultimo = n * math.log(a) - math.lgamma(n + 1) + math.log(n / (n - a))
    tope = max([*terminos, ultimo])
    suma = sum(math.exp(t - tope) for t in terminos)
    return math.exp(ultimo - tope) / (suma + math.exp(ultimo - tope))


def esperado(atendibles: int, aht: Decimal, umbral: float, objetivo: float, ausentismo=Decimal("0.30")) -> dict:
    """The staffing columns of one interval, computed independently."""
    a = atendibles * float(aht) / 900
    if a == 0:
        return dict(n=0, carga=Decimal("0.00"), ocupacion=Decimal("0.00"), nivel=Decimal("0.00"), asa=Decimal("0.00"))
    n = math.floor(a) + 1
    while True:
        c = _c_log(n, a)
        sl = 1 - c * math.exp(-(n - a) * umbral / float(aht))
        if sl >= objetivo / 100:
            break
        n += 1
    roster = int((Decimal(n) / (1 - ausentismo)).to_integral_value(ROUND_CEILING))
    return dict(
        n=n,
        carga=_d(a),
        ocupacion=_d(100 * a / n),
        nivel=_d(100 * sl),
        asa=_d(c * float(aht) / (n - a)),
        roster=roster,
    )


_FILA = """
SELECT ofrecidas_atendibles, tma_s, tma_del_dia, carga_erlangs, carga_atendida_erlangs, agentes_requeridos, ocupacion,
       nivel_servicio_esperado, asa_esperada, agentes_con_ausentismo, objetivo, umbral_s, ausentismo
FROM reportes_dimensionamiento WHERE fecha = %s AND centro_id = %s AND intervalo = %s
"""
_CUMPLIMIENTO = """
SELECT ofrecidas_atendibles, atendidas_en_umbral, nivel_servicio, objetivo, umbral_s, cumple, estado,
       intervalos_bajo_objetivo, peor_racha, peor_racha_inicio, agentes_pico, horas_agente
FROM reportes_cumplimiento WHERE fecha = %s AND centro_id = %s
"""
DIA = date(2024, 3, 11)


def _dia_de_prueba(conn) -> None:
    intervalos(
        conn,
        DIA,
        {
            (NAC, "10:00"): (50, 0, 45, 9000),  # A = 10 Erlangs at AHT 180 s
            (NAC, "11:00"): (1500, 0, 1400, 360000),  # A = 400 Erlangs at AHT 240 s
            (NAC, "12:00"): (0, 9, 0, 0),  # nobody answered: the day's AHT
            (PUE, "09:00"): (0, 4, 0, 0),  # the center answered nobody all day: AHT 0
        },
    )


def test_check_values_day_aht_zero_intervals_and_the_daily_verdict(warehouse, instance, tmp_path):
    _dia_de_prueba(warehouse)
    result = materializar(instance, STAFFING, DIA.isoformat())
    assert result.success
    assert warehouse.execute("SELECT count(*) FROM reportes_dimensionamiento").fetchone() == (192,)

    fila = warehouse.execute(_FILA, (DIA, NAC, time(10))).fetchone()
    # The published example: N = 14, SL 88.84 %, occupancy 71.43 %, ASA 7.84 s; 14 / 0.7 = 20 rostered.
    assert fila == (50, Decimal("180.00"), False, Decimal("10.00"), Decimal("10.00"), 14, Decimal("71.43"),
                    Decimal("88.84"), Decimal("7.84"), 20, Decimal("80.00"), Decimal("20.00"), Decimal("0.30"))  # fmt: skip
    fila = warehouse.execute(_FILA, (DIA, NAC, time(11))).fetchone()
    assert fila[3] == Decimal("400.00") and fila[5] == 411
    # No answered call at 12:00: the center's AHT of the day, Σ suma_atencion / Σ atendidas.
    aht_dia = Decimal(369000) / 1550
    fila = warehouse.execute(_FILA, (DIA, NAC, time(12))).fetchone()
    e = esperado(9, aht_dia, 20, 80)
    assert fila[:10] == (9, aht_dia.quantize(DOS), True, e["carga"], Decimal("0.00"), e["n"], e["ocupacion"],
                         e["nivel"], e["asa"], e["roster"])  # fmt: skip
    cero = (0, Decimal("0.00"), False, Decimal("0.00"), Decimal("0.00"), 0, Decimal("0.00"), Decimal("0.00"),
            Decimal("0.00"), 0)  # fmt: skip
    assert warehouse.execute(_FILA, (DIA, NAC, time(3))).fetchone()[:10] == cero
    # Abandons only, on a day that answered nobody: the day's AHT is 0, so is everything else.
    assert warehouse.execute(_FILA, (DIA, PUE, time(9))).fetchone()[:10] == (4, cero[1], True, *cero[3:])

    nac = warehouse.execute(_CUMPLIMIENTO, (DIA, NAC)).fetchone()
    n_12 = esperado(9, aht_dia, 20, 80)["n"]
    assert nac == (1559, 1445, Decimal("92.69"), Decimal("80.00"), Decimal("20.00"), True, "cumple", 1, 1, time(12),
                   411, Decimal(14 + 411 + n_12) / 4)  # fmt: skip
    pue = warehouse.execute(_CUMPLIMIENTO, (DIA, PUE)).fetchone()
    assert pue == (4, 0, Decimal("0.00"), Decimal("80.00"), Decimal("20.00"), False, "incumple", 1, 1, time(9), 0,
                   Decimal("0.00"))  # fmt: skip
    # The headline figures are numbers per day (the UI plots them).
    metadatos = {
        m.asset_key.path[-1]: {k: v.value for k, v in m.metadata.items()}
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    }
    assert metadatos["dimensionamiento"]["agentes_pico"] == 411
    assert metadatos["cumplimiento"]["nivel_servicio"] == pytest.approx(100 * 1445 / 1563, abs=0.005)
    assert metadatos["cumplimiento"]["objetivo"] == 80.0 and metadatos["cumplimiento"]["centros_incumplen"] == 1

    # The PDF of cumplimiento: the day's service level per center against the target line.
    hecho = archivos.exportar(warehouse, "cumplimiento", DIA, DIA, "pdf", tmp_path / "cumplimiento.pdf")
    assert hecho.filas == 2 and hecho.ruta.read_bytes().startswith(b"%PDF")
    rep = archivos.reporte("cumplimiento")
    filas = archivos.consultar(warehouse, rep, DIA, DIA)
    categorias, series = archivos.datos_grafico(rep, filas)
    assert categorias == [f"03-11 {PUE}", f"03-11 {NAC}"] and series == [[0.0, 92.69]]  # centro_id order
    assert archivos.datos_linea(rep, filas, categorias) == [80.0, 80.0]
    assert archivos.exportar(warehouse, "dimensionamiento", DIA, DIA, "csv", tmp_path / "d.csv").filas == 192


_ALERTAS = "SELECT recipient_id, subject, body FROM internal_messages WHERE dedupe_key = %s ORDER BY recipient_id"
_USUARIOS = """
INSERT INTO usuarios (nombre, es_admin, activo) VALUES ('ana', true, true), ('beto', true, true),
    ('inactiva', true, false), ('analista', false, true)
"""


def _tick(instance, cursor: str | None) -> str | None:
    """One evaluation of the alertas_objetivo sensor; returns its cursor."""
    contexto = dg.build_sensor_context(instance=instance, cursor=cursor, resources=build_resources())
    alertas_objetivo(contexto)
    return contexto.cursor


def test_a_missed_day_alerts_each_admin_exactly_once_and_never_again(warehouse, instance, capfd):
    _dia_de_prueba(warehouse)
    assert materializar(instance, STAFFING, DIA.isoformat()).success
    with pytest.raises(SinAdministradores, match="no hay ningún administrador activo"):
        with warehouse.transaction():
            objetivos.alertar(warehouse, datetime(2000, 1, 1, tzinfo=UTC), "http://ui")
    # Nobody to tell: the first tick says so in one line per held alert (the later ones at DEBUG),
    # no traceback, and keeps its position, so the alert is delivered once an admin exists.
    cursor = None
    for tick in range(2):
        capfd.readouterr()
        cursor = _tick(instance, cursor)
        assert json.loads(cursor)["visto"] is None
        salida = capfd.readouterr().err  # the sensor's log, as the daemon's terminal shows it
        avisos = [linea for linea in salida.splitlines() if " - WARNING - " in linea]
        if tick == 0:
            assert len(avisos) == 1 and "alerta retenida" in avisos[0]
            assert PUE in avisos[0] and DIA.isoformat() in avisos[0] and "iact usuarios crear" in avisos[0]
        else:
            assert avisos == []
        assert "Traceback" not in salida
    assert warehouse.execute("SELECT count(*) FROM internal_messages").fetchone() == (0,)
    warehouse.execute(_USUARIOS)
    cursor = _tick(instance, cursor)
    # The admins gone again: what they already got, read again through the overlap, is not held.
    warehouse.execute("UPDATE usuarios SET activo = false WHERE es_admin")
    capfd.readouterr()
    assert _tick(instance, cursor) == cursor
    assert " - WARNING - " not in capfd.readouterr().err
    warehouse.execute("UPDATE usuarios SET activo = true WHERE nombre <> 'inactiva'")
    assert _tick(instance, cursor) == cursor  # a later tick sees the verdict again, writes nothing
    alertas = warehouse.execute(_ALERTAS, (f"objetivo:{PUE}:{DIA}",)).fetchall()
    assert len(alertas) == 2  # the two active admins
    asunto, cuerpo = alertas[0][1], alertas[0][2]
    assert f"Centro {PUE}" in asunto and "0.00 %" in asunto and "80.00 %" in asunto
    assert "peor racha: 1 intervalos de 15 min seguidos, de 09:00 a 09:15" in cuerpo
    assert 'sección "Un centro no cumplió su objetivo de nivel de servicio"' in cuerpo
    # A re-run still below target writes nothing more; nothing for the center that met it.
    assert materializar(instance, [reportes.cumplimiento], DIA.isoformat()).success
    cursor = _tick(instance, cursor)
    assert _tick(instance, None) is not None  # even a sensor restarted without its cursor
    assert warehouse.execute("SELECT count(*) FROM internal_messages").fetchone() == (2,)
    # A re-run that turns the day into `cumple` sends nothing either.
    warehouse.execute("UPDATE reportes_intervalos SET atendidas_en_umbral = 4, abandonadas = 0, atendidas = 4, "
                      "suma_atencion = 400, nivel_servicio = 100 WHERE centro_id = %s AND intervalo = '09:00'", (PUE,))  # fmt: skip
    assert materializar(instance, STAFFING, DIA.isoformat()).success
    assert warehouse.execute(_CUMPLIMIENTO, (DIA, PUE)).fetchone()[5:7] == (True, "cumple")
    _tick(instance, cursor)
    assert warehouse.execute("SELECT count(*) FROM internal_messages").fetchone() == (2,)


def test_center_targets_from_the_cli_and_the_wait_buckets(warehouse, instance, capsys):
    # Puebla answers within 30 s, at 90 %; Nacional keeps the settings (20 s, 80 %).
    assert iact(["objetivos", "fijar", PUE, "--objetivo", "90", "--umbral", "30"]) == 0
    assert iact(["objetivos", "listar"]) == 0
    salida = capsys.readouterr().out
    assert PUE in salida and "90.00" in salida and "30.00" in salida and NAC in salida
    esperas = [0, 5, 5.5, 10, 20, 25, 300, 301]
    cargar(
        warehouse,
        "llamadas",
        [llamada("2024-03-11 10:01:00", "ATENDIDA", espera=e, habla=60, centro=c) for e in esperas for c in (NAC, PUE)]
        + [llamada("2024-03-11 10:02:00", "ABANDONADA", espera=e) for e in (3, 61)],
    )
    assert materializar(instance, [*reportes.ANALISTAS, *STAFFING, reportes.esperas], DIA.isoformat()).success
    en_umbral = dict(
        warehouse.execute(
            "SELECT centro_id, atendidas_en_umbral FROM reportes_intervalos WHERE intervalo = '10:00'"
        ).fetchall()
    )
    assert en_umbral == {NAC: 5, PUE: 6}  # 25 s is within Puebla's own T
    fila = warehouse.execute(_FILA, (DIA, PUE, time(10))).fetchone()
    assert fila[10:12] == (Decimal("90.00"), Decimal("30.00"))
    e = esperado(8, Decimal(480) / 8, 30, 90)
    assert fila[5] == e["n"] and fila[7] == e["nivel"]
    assert warehouse.execute(_CUMPLIMIENTO, (DIA, PUE)).fetchone()[2:5] == (
        Decimal("75.00"),
        Decimal("90.00"),
        Decimal("30.00"),
    )

    tramos = warehouse.execute(
        "SELECT tramo, llamadas, porcentaje_acumulado FROM reportes_esperas "
        "WHERE centro_id = %s AND resultado = %s ORDER BY orden",
        (NAC, "ATENDIDA"),
    ).fetchall()
    assert tramos == [
        ("0-5", 2, Decimal("25.00")),  # [0, 5]: 0 and 5
        ("5-10", 2, Decimal("50.00")),  # (5, 10]: 5.5 and 10
        ("10-20", 1, Decimal("62.50")),
        ("20-30", 1, Decimal("75.00")),
        ("30-60", 0, Decimal("75.00")),
        ("60-120", 0, Decimal("75.00")),
        ("120-300", 1, Decimal("87.50")),
        (">300", 1, Decimal("100.00")),
    ]
    abandonos = warehouse.execute(
        "SELECT tramo, llamadas, porcentaje_acumulado FROM reportes_esperas "
        "WHERE centro_id = %s AND resultado = 'ABANDONADA' AND llamadas > 0 ORDER BY orden",
        (NAC,),
    ).fetchall()
    assert abandonos == [("0-5", 1, Decimal("50.00")), ("60-120", 1, Decimal("100.00"))]
    assert warehouse.execute("SELECT count(*) FROM reportes_esperas").fetchone() == (2 * 2 * 8,)
    assert iact(["objetivos", "quitar", PUE]) == 0
    assert warehouse.execute("SELECT count(*) FROM objetivos_centro").fetchone() == (0,)


# --- Four weeks of generated intervals: every value and the views, computed here -----------

INICIO = date(2024, 4, 1)  # a Monday; 29 days: Mondays five times, every other weekday four
DIAS = [INICIO + timedelta(days=n) for n in range(29)]
ACTIVOS = ["09:00", "09:15", "09:30", "13:00", "13:15", "18:45"]


def _cuatro_semanas(conn) -> None:
    azar = random.Random(27)
    for dia in DIAS:
        filas = {}
        for centro in (NAC, PUE):
            for cuarto in ACTIVOS:
                atendidas = azar.randint(0, 40)
                abandonadas = azar.randint(0, 8)
                filas[(centro, cuarto)] = (
                    atendidas,
                    abandonadas,
                    azar.randint(0, atendidas),
                    Decimal(sum(azar.randint(60, 400) for _ in range(atendidas))),
                )
        intervalos(conn, dia, filas)


_INTERVALOS = """
SELECT fecha, intervalo, centro_id, ofrecidas, atendidas, abandonadas, suma_atencion, nivel_servicio, tasa_abandono
FROM reportes_intervalos ORDER BY fecha, centro_id, intervalo
"""


def _mediana(valores: list) -> Decimal | None:
    presentes = [Decimal(v) for v in valores if v is not None]
    return Decimal(statistics.median(presentes)).quantize(DOS, ROUND_HALF_UP) if presentes else None


def test_four_weeks_every_value_and_the_views_equal_a_computation_here(warehouse, instance):
    _cuatro_semanas(warehouse)
    assert materializar(instance, STAFFING, DIAS[0].isoformat(), DIAS[-1].isoformat()).success
    filas = warehouse.execute(_INTERVALOS).fetchall()
    por_dia = defaultdict(lambda: [Decimal(0), 0])
    for fecha, _, centro, _, atendidas, _, suma, _, _ in filas:
        por_dia[(fecha, centro)][0] += suma
        por_dia[(fecha, centro)][1] += atendidas
    agentes = {}
    for fecha, intervalo, centro, _, atendidas, abandonadas, suma, _, _ in filas:
        suma_dia, atendidas_dia = por_dia[(fecha, centro)]
        aht = suma / atendidas if atendidas else (suma_dia / atendidas_dia if atendidas_dia else Decimal(0))
        aht = aht if atendidas + abandonadas else Decimal(0)
        agentes[(fecha, intervalo, centro)] = esperado(atendidas + abandonadas, aht, 20, 80)["n"]
    guardados = {
        (f, i, c): n
        for f, i, c, n in warehouse.execute(
            "SELECT fecha, intervalo, centro_id, agentes_requeridos FROM reportes_dimensionamiento"
        )
    }
    assert guardados == agentes

    # v_comparacion_semanal on the last day: the same weekday 7, 14, 21 and 28 days earlier.
    valores = {(f, i, c): (o, ns, ab) for f, i, c, o, _, _, _, ns, ab in filas}
    ultimo = DIAS[-1]
    vista = warehouse.execute(
        "SELECT intervalo, centro_id, ofrecidas, ofrecidas_7, ofrecidas_28, ofrecidas_mediana, ofrecidas_dif, "
        "nivel_servicio_mediana, nivel_servicio_dif, tasa_abandono_14, tasa_abandono_mediana, tasa_abandono_dif "
        "FROM v_comparacion_semanal WHERE fecha = %s ORDER BY centro_id, intervalo",
        (ultimo,),
    ).fetchall()
    assert len(vista) == 192
    for intervalo, centro, *resto in vista:
        previos = [valores[(ultimo - timedelta(days=7 * k), intervalo, centro)] for k in (1, 2, 3, 4)]
        hoy = valores[(ultimo, intervalo, centro)]
        medianas = [_mediana([p[m] for p in previos]) for m in range(3)]
        assert resto == [
            hoy[0], previos[0][0], previos[3][0], medianas[0], hoy[0] - medianas[0],
            medianas[1], hoy[1] - medianas[1], previos[1][2], medianas[2], hoy[2] - medianas[2],
        ]  # fmt: skip
    # Eight days in, only the day a week before exists: the median is that day's value.
    (mediana, dif, de_14) = warehouse.execute(
        "SELECT ofrecidas_mediana, ofrecidas_dif, ofrecidas_14 FROM v_comparacion_semanal "
        "WHERE fecha = %s AND centro_id = %s AND intervalo = '09:00'",
        (DIAS[7], NAC),
    ).fetchone()
    assert de_14 is None and mediana == valores[(DIAS[0], time(9), NAC)][0]
    assert dif == valores[(DIAS[7], time(9), NAC)][0] - mediana

    # v_plan_semana_tipo: the median over the last four days of each weekday.
    plan = warehouse.execute(
        "SELECT dia_semana, intervalo, centro_id, dias, agentes_mediana, agentes_plan FROM v_plan_semana_tipo"
    ).fetchall()
    assert len(plan) == 7 * 192
    for dia_semana, intervalo, centro, dias, mediana, plan_n in plan:
        ultimos = sorted((d for d in DIAS if d.isoweekday() == dia_semana), reverse=True)[:4]
        mediana_aqui = Decimal(statistics.median(agentes[(d, intervalo, centro)] for d in ultimos))
        assert (dias, mediana, plan_n) == (4, mediana_aqui.quantize(DOS), math.ceil(mediana_aqui))

    # v_semanas: ISO week totals and the busiest day.
    semanas = warehouse.execute(
        "SELECT semana_iso, centro_id, ofrecidas, nivel_servicio, dia_mas_ocupado FROM v_semanas WHERE anio_iso = 2024"
    ).fetchall()
    for semana, centro, ofrecidas, _, pico in semanas:
        dias = [d for d in DIAS if d.isocalendar().week == semana]
        totales = {d: sum(valores[(d, i, centro)][0] for i in {k[1] for k in valores}) for d in dias}
        assert ofrecidas == sum(totales.values())
        assert pico == min(dias, key=lambda d: (-totales[d], d))
    assert len(semanas) == 2 * 5
