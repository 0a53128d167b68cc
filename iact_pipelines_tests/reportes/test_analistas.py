"""Analyst reports beyond the seed (reportes/intervalos, rellamadas, devolucion): exact rows
computed by hand through the real assets, the rollup views, settings recorded per row, the
look-back's history, and the all-centers hourly rollup against reportes_llamadas_dia.

Defaults: T = 20 s, S = 5 s, H = 24 h, America/Mexico_City (UTC-6 all year since 2022).
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import dagster as dg
from psycopg import sql

from iact_pipelines.demo import generador as demo
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes import assets as reportes
from iact_pipelines.staging import carga
from iact_pipelines.staging.assets import staging_assets
from iact_pipelines_tests.reportes import ayudas
from iact_pipelines_tests.reportes.ayudas import NAC, PUE, cargar, llamada, materializar, metadatos

Z = D("0.00")
_INTERVALO = """
SELECT ofrecidas, solo_ivr, atendidas, abandonadas, abandonos_cortos, atendidas_en_umbral,
       suma_espera_atendidas, suma_atencion, espera_maxima, tiempo_promedio_espera, tiempo_promedio_atencion,
       nivel_servicio, nivel_servicio_atendidas, nivel_servicio_sin_cortos, tasa_abandono,
       tasa_abandono_sin_cortos, contencion_ivr, umbral_servicio_s, abandono_corto_s
FROM reportes_intervalos WHERE fecha = %s AND intervalo = %s AND centro_id = %s
"""
VACIO = (0, 0, 0, 0, 0, 0, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, Z, D("20.00"), D("5.00"))


def fila_intervalo(conn, fecha: str, intervalo: str, centro: str) -> tuple:
    return conn.execute(_INTERVALO, (date.fromisoformat(fecha), intervalo, centro)).fetchone()


def test_intervalos_exact_rows_at_s_t_and_the_last_second(warehouse, instance):
    cargar(
        warehouse,
        "llamadas",
        [
            llamada("2024-03-10 09:00:00", "ATENDIDA", espera=20, habla=100),  # wait exactly T: within
            llamada("2024-03-10 09:05:00", "ATENDIDA", espera=21, habla=200),
            llamada("2024-03-10 09:10:00", "IVR"),
            llamada("2024-03-10 09:14:59", "ABANDONADA", espera=5),  # exactly S: a short abandon
            llamada("2024-03-10 09:15:00", "ABANDONADA", espera=6),  # the next slot; not short
            llamada("2024-03-10 23:59:59", "ATENDIDA", espera=3, habla=60, centro=PUE),  # the day's last slot
            llamada("2024-03-11 00:00:00", "ATENDIDA", espera=3, habla=60, centro=PUE),  # the next day
        ],
    )

    result = materializar(instance, reportes.intervalos, "2024-03-10")

    assert result.success
    (n,) = warehouse.execute("SELECT count(*) FROM reportes_intervalos").fetchone()
    assert n == 96 * 2  # every quarter hour of both allowed centers, nothing of the next day
    assert fila_intervalo(warehouse, "2024-03-10", "09:00", NAC) == (
        4,
        1,
        2,
        1,
        1,
        1,
        D("41.00"),
        D("300.00"),
        D("21.00"),
        D("20.50"),
        D("150.00"),
        D("33.33"),  # 1 within T / (2 answered + 1 abandoned)
        D("50.00"),  # 1 / 2 answered
        D("50.00"),  # 1 / (3 - 1 short)
        D("33.33"),  # 1 / 3
        Z,  # (1 - 1) / (3 - 1)
        D("25.00"),  # 1 IVR of 4
        D("20.00"),
        D("5.00"),
    )
    assert fila_intervalo(warehouse, "2024-03-10", "09:15", NAC) == (
        1,
        0,
        0,
        1,
        0,
        0,
        Z,
        Z,
        D("6.00"),
        Z,
        Z,
        Z,
        Z,
        Z,
        D("100.00"),
        D("100.00"),
        Z,
        D("20.00"),
        D("5.00"),
    )
    assert fila_intervalo(warehouse, "2024-03-10", "23:45", PUE) == (
        1,
        0,
        1,
        0,
        0,
        1,
        D("3.00"),
        D("60.00"),
        D("3.00"),
        D("3.00"),
        D("60.00"),
        D("100.00"),
        D("100.00"),
        D("100.00"),
        Z,
        Z,
        Z,
        D("20.00"),
        D("5.00"),
    )
    assert fila_intervalo(warehouse, "2024-03-10", "09:00", PUE) == VACIO
    assert fila_intervalo(warehouse, "2024-03-10", "00:00", NAC) == VACIO
    meta = metadatos(result, reportes.intervalos)
    assert meta["registros_cargados"] == meta["dagster/row_count"] == 192
    assert meta["ofrecidas"] == 6 and meta["abandonos_cortos"] == 1
    assert meta["nivel_servicio"] == 40.0  # 2 within T of 3 answered + 2 abandoned
    assert meta["nivel_servicio_sin_cortos"] == 50.0  # 2 of 5 - 1 short

    # Rollups: the hour and the day per center, and all centers, with the same formulas.
    hora = warehouse.execute(
        "SELECT ofrecidas, atendidas, abandonadas, abandonos_cortos, espera_maxima, tiempo_promedio_espera,"
        " nivel_servicio, nivel_servicio_sin_cortos, tasa_abandono, tasa_abandono_sin_cortos, contencion_ivr"
        " FROM v_intervalos_hora_centro WHERE fecha = '2024-03-10' AND hora = 9 AND centro_id = %s",
        (NAC,),
    ).fetchone()
    # 5 calls: 2 answered (41 s), 2 abandoned (1 short), 1 IVR; 1 within T
    assert hora == (5, 2, 2, 1, D("21.00"), D("20.50"), D("25.00"), D("33.33"), D("50.00"), D("33.33"), D("20.00"))
    dia = warehouse.execute(
        "SELECT ofrecidas, atendidas, abandonadas, tiempo_promedio_espera, tiempo_promedio_atencion, nivel_servicio,"
        " umbral_servicio_s, abandono_corto_s FROM v_intervalos_dia WHERE fecha = '2024-03-10'"
    ).fetchall()
    # (41 + 3) / 3 = 14.67; (300 + 60) / 3 = 120; 2 within T of 3 + 2
    assert dia == [(6, 3, 2, D("14.67"), D("120.00"), D("40.00"), D("20.00"), D("5.00"))]
    por_centro = warehouse.execute(
        "SELECT centro_id, ofrecidas, nivel_servicio FROM v_intervalos_dia_centro WHERE fecha = '2024-03-10'"
        " ORDER BY centro_id"
    ).fetchall()
    assert por_centro == [(PUE, 1, D("100.00")), (NAC, 5, D("25.00"))]
    # The views' formulas (SQL functions of migration 070) equal the report's (reportes/metricas.py) on every row.
    (distintas,) = warehouse.execute(
        """SELECT count(*) FROM reportes_intervalos AS r
           CROSS JOIN LATERAL iact_metricas_intervalos(r.ofrecidas, r.solo_ivr, r.atendidas, r.abandonadas,
               r.abandonos_cortos, r.atendidas_en_umbral, r.suma_espera_atendidas, r.suma_atencion) AS m
           WHERE (m.tiempo_promedio_espera, m.tiempo_promedio_atencion, m.nivel_servicio, m.nivel_servicio_atendidas,
                  m.nivel_servicio_sin_cortos, m.tasa_abandono, m.tasa_abandono_sin_cortos, m.contencion_ivr)
             IS DISTINCT FROM (r.tiempo_promedio_espera, r.tiempo_promedio_atencion, r.nivel_servicio,
                  r.nivel_servicio_atendidas, r.nivel_servicio_sin_cortos, r.tasa_abandono,
                  r.tasa_abandono_sin_cortos, r.contencion_ivr)"""
    ).fetchone()
    assert distintas == 0


def test_settings_are_recorded_and_views_never_mix_them(warehouse, instance, monkeypatch):
    cargar(
        warehouse,
        "llamadas",
        [
            llamada("2024-03-10 09:00:00", "ABANDONADA", espera=8),
            llamada("2024-03-11 09:00:00", "ABANDONADA", espera=8),
        ],
    )
    assert materializar(instance, reportes.intervalos, "2024-03-10").success
    monkeypatch.setenv("IACT_ABANDONO_CORTO", "10")
    monkeypatch.setenv("IACT_UMBRAL_NIVEL_SERVICIO", "30")
    assert materializar(instance, reportes.intervalos, "2024-03-11").success
    assert fila_intervalo(warehouse, "2024-03-10", "09:00", NAC)[4:6] == (0, 0)
    assert fila_intervalo(warehouse, "2024-03-11", "09:00", NAC)[4:6] == (1, 0)
    filas = warehouse.execute(
        "SELECT fecha, umbral_servicio_s, abandono_corto_s, abandonos_cortos FROM v_intervalos_dia ORDER BY fecha"
    ).fetchall()
    assert filas == [
        (date(2024, 3, 10), D("20.00"), D("5.00"), 0),
        (date(2024, 3, 11), D("30.00"), D("10.00"), 1),
    ]
    (mezcla,) = warehouse.execute(
        "SELECT count(*) FROM (SELECT fecha FROM reportes_intervalos GROUP BY fecha"
        " HAVING count(DISTINCT (umbral_servicio_s, abandono_corto_s)) > 1) AS x"
    ).fetchone()
    assert mezcla == 0


def _cargar_en_zona(conn, filas: list[tuple], zona: str) -> None:
    """Staging rows with fecha/hora in `zona` (the staging asset's assignment for that setting)."""
    tz = ZoneInfo(zona)
    por_dia: dict = {}
    for f in filas:
        local = f[3].astimezone(tz)
        por_dia.setdefault(local.date(), []).append((*f, local.date(), local.hour))
    dias = sorted(por_dia)
    columnas = "llamada_id, centro_id, cliente_id, inicio, ingreso_cola, atencion, fin, resultado, fecha, hora"
    with carga.reemplazar_dias(conn, "llamadas", dias[0], dias[-1] + timedelta(days=1)):
        ayudas.copiar_filas(conn, "llamadas", columnas, por_dia)


def _utc(h: int, m: int, dia: int = 3) -> datetime:
    return datetime(2024, 11, dia, h, m, tzinfo=UTC)


def test_the_two_one_oclock_hours_of_a_25_hour_day(warehouse, instance, monkeypatch):
    # America/New_York falls back on 2024-11-03: 01:00-01:59 happens at 05:xx UTC (EDT) and 06:xx UTC (EST).
    monkeypatch.setenv("IACT_ZONA_HORARIA", "America/New_York")
    primera, segunda = _utc(5, 10), _utc(6, 20)
    _cargar_en_zona(
        warehouse,
        [
            (
                9001,
                NAC,
                "C1",
                primera,
                primera + timedelta(seconds=5),
                primera + timedelta(seconds=15),
                primera + timedelta(seconds=100),
                "ATENDIDA",
            ),  # 01:10 EDT, waits 10 s
            (
                9002,
                NAC,
                "C2",
                segunda,
                segunda + timedelta(seconds=5),
                None,
                segunda + timedelta(seconds=35),
                "ABANDONADA",
            ),  # 01:20 EST, waits 30 s
            (9003, NAC, "C3", _utc(4, 59), None, None, _utc(5, 0), "IVR"),  # 00:59 EDT
        ],
        "America/New_York",
    )

    assert materializar(instance, reportes.intervalos, "2024-11-03").success
    assert materializar(instance, reportes.llamadas_dia, "2024-11-03").success

    # The repeated hour's two passes fall in the same wall-clock slots (96 slots a day).
    assert fila_intervalo(warehouse, "2024-11-03", "01:00", NAC)[:9] == (
        1,
        0,
        1,
        0,
        0,
        1,
        D("10.00"),
        D("85.00"),
        D("10.00"),
    )
    assert fila_intervalo(warehouse, "2024-11-03", "01:15", NAC)[:9] == (1, 0, 0, 1, 0, 0, Z, Z, D("30.00"))
    assert fila_intervalo(warehouse, "2024-11-03", "00:45", NAC)[:3] == (1, 1, 0)
    (n,) = warehouse.execute("SELECT count(*) FROM reportes_intervalos WHERE fecha = '2024-11-03'").fetchone()
    assert n == 192
    # ... and the hourly rollup still equals reportes_llamadas_dia's hour 1.
    assert (
        warehouse.execute(
            "SELECT ofrecidas, atendidas, abandonadas, nivel_servicio FROM v_intervalos_hora WHERE fecha = '2024-11-03' AND hora = 1"
        ).fetchone()
        == warehouse.execute(
            "SELECT total_llamadas, llamadas_atendidas, llamadas_abandonadas, nivel_servicio FROM reportes_llamadas_dia"
            " WHERE fecha = '2024-11-03' AND hora = 1"
        ).fetchone()
        == (2, 1, 1, D("50.00"))
    )


_RELLAMADAS = """
SELECT centro_id, llamadas_identificadas, clientes, rellamadas, clientes_con_rellamada, tasa_rellamada,
       ventana_rellamada_h, horas_historia_cargadas, ventana_completa
FROM reportes_rellamadas WHERE fecha = %s ORDER BY centro_id
"""


def test_rellamadas_exact_rows_window_edges_midnight_centers_and_ties(warehouse, instance):
    cargar(
        warehouse,
        "llamadas",
        [
            llamada("2024-03-10 10:00:00", "ATENDIDA", espera=1, habla=10, cliente="A"),
            llamada("2024-03-10 09:59:59", "IVR", cliente="B", centro=PUE),
            llamada("2024-03-10 23:50:00", "ABANDONADA", espera=10, cliente="C"),
            # the report day
            llamada("2024-03-11 10:00:00", "IVR", cliente="A"),  # exactly H after A's call: a repeat
            llamada("2024-03-11 10:00:00", "IVR", cliente="B"),  # H and one second after: not a repeat
            llamada(
                "2024-03-11 00:10:00", "ATENDIDA", espera=1, habla=10, cliente="C", centro=PUE
            ),  # midnight, centers
            llamada("2024-03-11 12:00:00", "IVR", cliente="D"),  # a tie on inicio: the first is not a repeat...
            llamada("2024-03-11 12:00:00", "IVR", cliente="D"),  # ... the second (higher llamada_id) is
            llamada("2024-03-11 08:00:00", "IVR", cliente="E"),
            llamada("2024-03-11 09:00:00", "ABANDONADA", espera=3, cliente="E"),
            llamada("2024-03-11 20:00:00", "ATENDIDA", espera=3, habla=5, cliente="E"),
            llamada("2024-03-11 11:00:00", "IVR"),  # unidentified: not counted
            llamada("2024-03-12 09:00:00", "IVR", cliente="B"),  # later day
        ],
    )

    result = materializar(instance, reportes.rellamadas, "2024-03-11")

    assert result.success
    assert warehouse.execute(_RELLAMADAS, (date(2024, 3, 11),)).fetchall() == [
        (PUE, 1, 1, 1, 1, D("100.00"), 24, D("24.00"), True),
        # A, B, D, D, E, E, E: 4 clients; repeats A, D (2nd), E (2nd, 3rd)
        (NAC, 7, 4, 4, 3, D("57.14"), 24, D("24.00"), True),
    ]
    meta = metadatos(result, reportes.rellamadas)
    assert meta["registros_cargados"] == 2 and meta["rellamadas"] == 5 and meta["tasa_rellamada"] == 62.5
    assert meta["filas_con_ventana_incompleta"] == 0


def test_rellamadas_records_how_far_back_it_could_see_and_rebuilds(warehouse, instance, monkeypatch):
    monkeypatch.setenv("IACT_VENTANA_RELLAMADA_HORAS", "48")
    for dia in ("20240519", "20240520", "20240521"):
        warehouse.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("staging", f"llamadas_{dia}")))
    cargar(warehouse, "llamadas", [llamada("2024-05-21 09:00:00", "IVR", cliente="A")])
    consulta = (
        "SELECT rellamadas, ventana_rellamada_h, horas_historia_cargadas, ventana_completa"
        " FROM reportes_rellamadas WHERE fecha = '2024-05-21' AND centro_id = %s"
    )

    assert materializar(instance, reportes.rellamadas, "2024-05-21").success
    assert warehouse.execute(consulta, (NAC,)).fetchone() == (0, 48, Z, False)  # no previous day loaded

    cargar(warehouse, "llamadas", [llamada("2024-05-20 09:00:00", "IVR", cliente="A")])
    assert materializar(instance, reportes.rellamadas, "2024-05-21").success
    assert warehouse.execute(consulta, (NAC,)).fetchone() == (1, 48, D("24.00"), False)  # 05-19 still missing

    cargar(warehouse, "llamadas", [llamada("2024-05-19 09:00:00", "IVR", cliente="Z")])
    assert materializar(instance, reportes.rellamadas, "2024-05-21").success
    assert warehouse.execute(consulta, (NAC,)).fetchone() == (1, 48, D("48.00"), True)


_DEVOLUCION = """
SELECT cliente_id, centro_id, ultimo_abandono, espera_ultimo_abandono, abandonos, llamadas, zona_horaria
FROM lista_devolucion WHERE fecha = %s ORDER BY cliente_id
"""


def test_devolucion_exact_worklist(warehouse, instance):
    filas = [
        # F abandons, is answered, abandons again (another center): listed, last abandon at Puebla
        llamada("2024-03-10 09:00:00", "ABANDONADA", espera=30, cliente="F"),
        llamada("2024-03-10 10:00:00", "ATENDIDA", espera=5, habla=50, cliente="F", centro=PUE),
        llamada("2024-03-10 11:00:00", "ABANDONADA", espera=45, cliente="F", centro=PUE),
        llamada("2024-03-10 12:00:00", "IVR", cliente="F"),
        # G abandons, then is answered: not listed
        llamada("2024-03-10 09:00:00", "ABANDONADA", espera=30, cliente="G"),
        llamada("2024-03-10 09:30:00", "ATENDIDA", espera=5, habla=50, cliente="G", centro=PUE),
        # H: answered and abandoned with the same inicio; the abandon has the higher id: listed
        llamada("2024-03-10 14:00:00", "ATENDIDA", cola=0, espera=5, habla=50, cliente="H"),
        llamada("2024-03-10 14:00:00", "ABANDONADA", cola=0, espera=12.5, cliente="H"),
        # I: the same tie the other way round: not listed
        llamada("2024-03-10 15:00:00", "ABANDONADA", espera=12, cliente="I"),
        llamada("2024-03-10 15:00:00", "ATENDIDA", espera=5, habla=50, cliente="I"),
        # J abandons at 23:59:59 local and is answered the next day: listed on its day
        llamada("2024-03-10 23:59:59", "ABANDONADA", espera=2, cliente="J"),
        llamada("2024-03-11 00:00:30", "ATENDIDA", espera=2, habla=20, cliente="J"),
        # K abandons twice with the same inicio: the higher llamada_id is the last
        llamada("2024-03-10 16:00:00", "ABANDONADA", espera=10, cliente="K"),
        llamada("2024-03-10 16:00:00", "ABANDONADA", espera=20, cliente="K", centro=PUE),
        llamada("2024-03-10 16:30:00", "ABANDONADA", espera=9),  # unidentified: cannot be called back
    ]
    cargar(warehouse, "llamadas", filas)

    result = materializar(instance, reportes.devolucion, "2024-03-10")

    assert result.success
    zona = "America/Mexico_City"
    t = lambda texto: datetime.fromisoformat(texto).replace(tzinfo=ZoneInfo(zona))  # noqa: E731
    assert warehouse.execute(_DEVOLUCION, (date(2024, 3, 10),)).fetchall() == [
        ("F", PUE, t("2024-03-10 11:00:00"), D("45.00"), 2, 4, zona),
        ("H", NAC, t("2024-03-10 14:00:00"), D("12.50"), 1, 2, zona),
        ("J", NAC, t("2024-03-10 23:59:59"), D("2.00"), 1, 1, zona),
        ("K", PUE, t("2024-03-10 16:00:00"), D("20.00"), 2, 2, zona),
    ]
    meta = metadatos(result, reportes.devolucion)
    assert meta["registros_cargados"] == 4 and meta["abandonos"] == 6
    # Re-running replaces, never duplicates.
    assert materializar(instance, reportes.devolucion, "2024-03-10").success
    assert warehouse.execute("SELECT count(*) FROM lista_devolucion").fetchone() == (4,)


def test_recent_worklist_view_shows_yesterday_and_today_to_analysts(warehouse, instance):
    zona = ZoneInfo("America/Mexico_City")
    ayer = datetime.now(zona).date() - timedelta(days=1)
    antier = ayer - timedelta(days=1)
    cargar(
        warehouse,
        "llamadas",
        [
            llamada(f"{antier} 10:00:00", "ABANDONADA", espera=7, cliente="VIEJO"),
            llamada(f"{ayer} 10:00:00", "ABANDONADA", espera=7, cliente="NUEVO"),
        ],
    )
    assert materializar(instance, reportes.devolucion, antier.isoformat(), ayer.isoformat()).success
    assert warehouse.execute("SELECT count(*) FROM lista_devolucion").fetchone() == (2,)
    with warehouse.transaction(force_rollback=True):
        warehouse.execute("SET LOCAL ROLE iact_analista")
        assert warehouse.execute("SELECT fecha, cliente_id FROM v_lista_devolucion_reciente").fetchall() == [
            (ayer, "NUEVO")
        ]
        for vista in (
            "v_intervalos_hora",
            "v_intervalos_hora_centro",
            "v_intervalos_dia",
            "v_intervalos_dia_centro",
            "reportes_intervalos",
            "reportes_rellamadas",
            "lista_devolucion",
        ):
            warehouse.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(vista)))


_CONSISTENCIA = """
SELECT h.hora, h.ofrecidas, h.atendidas, h.abandonadas, h.tiempo_promedio_espera, h.tiempo_promedio_atencion,
       h.nivel_servicio
FROM v_intervalos_hora AS h WHERE h.fecha = %(dia)s
EXCEPT
SELECT hora, total_llamadas, llamadas_atendidas, llamadas_abandonadas, tiempo_promedio_espera,
       tiempo_promedio_atencion, nivel_servicio
FROM reportes_llamadas_dia WHERE fecha = %(dia)s
"""


def test_all_centers_hourly_rollup_equals_llamadas_dia_on_a_demo_day(urls, warehouse, instance):
    dia = date(2025, 3, 4)
    demo.seed(urls.ivr, dia, dia, 4000, 42, zona="America/Mexico_City")
    result = dg.materialize(
        [*staging_assets, reportes.llamadas_dia, *reportes.ANALISTAS],
        partition_key=dia.isoformat(),
        instance=instance,
        resources=build_resources(),
    )
    assert result.success
    parametros = {"dia": dia}
    assert warehouse.execute(_CONSISTENCIA, parametros).fetchall() == []
    assert warehouse.execute(_CONSISTENCIA.replace("EXCEPT", "INTERSECT"), parametros).rowcount == 24
    # The day's totals agree, and the day's staging calls are all in the slots.
    (staging,) = warehouse.execute("SELECT count(*) FROM staging.llamadas WHERE fecha = %s", (dia,)).fetchone()
    (slots,) = warehouse.execute("SELECT sum(ofrecidas) FROM reportes_intervalos WHERE fecha = %s", (dia,)).fetchone()
    assert slots == staging > 2000
    (lista,) = warehouse.execute("SELECT count(*) FROM lista_devolucion WHERE fecha = %s", (dia,)).fetchone()
    assert lista > 0
