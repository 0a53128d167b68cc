"""Report assets: exact rows on small staging data computed by hand, consistency, idempotency.

Staging rows are written directly (test setup); `fecha`/`hora` are the local day and hour of the
start, as the staging assets assign them. America/Mexico_City is UTC-6 all year since 2022.
"""

from datetime import date, timedelta
from decimal import Decimal as D

import dagster as dg
import pytest

from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes import assets as reportes
from iact_pipelines_tests.reportes.ayudas import (
    NAC,
    PUE,
    cargar,
    evento,
    llamada,
    materializar,
    metadatos,
    transferencia,
)

_LLAMADAS_DIA = """
SELECT hora, total_llamadas, llamadas_atendidas, llamadas_abandonadas, tiempo_promedio_espera,
       tiempo_promedio_atencion, nivel_servicio
FROM reportes_llamadas_dia WHERE fecha = %s ORDER BY hora
"""
CERO = (0, 0, 0, D("0.00"), D("0.00"), D("0.00"))


def test_llamadas_dia_exact_rows_all_hours_midnight_and_rounding(warehouse, instance):
    cargar(
        warehouse,
        "llamadas",
        [
            llamada("2024-03-09 23:59:00", "IVR"),  # the day before: not in the report
            # hour 0: only IVR calls -> zero denominators everywhere
            llamada("2024-03-10 00:05:00", "IVR"),
            llamada("2024-03-10 00:06:00", "IVR"),
            # hour 9: waits 10, 20 (exactly T: within), 25; one abandoned; one IVR
            llamada("2024-03-10 09:00:00", "ATENDIDA", espera=10, habla=100),
            llamada("2024-03-10 09:10:00", "ATENDIDA", espera=20, habla=200),
            llamada("2024-03-10 09:20:00", "ATENDIDA", espera=25, habla=300),
            llamada("2024-03-10 09:30:00", "ABANDONADA", espera=40),
            llamada("2024-03-10 09:40:00", "IVR"),
            # hour 14: ASA (10 + 10.01) / 2 = 10.005 -> 10.01 (half away from zero; binary float gives 10.0)
            llamada("2024-03-10 14:00:00", "ATENDIDA", espera=10, habla=1),
            llamada("2024-03-10 14:01:00", "ATENDIDA", espera=10.01, habla=2),
            llamada("2024-03-10 14:02:00", "ABANDONADA", espera=5),
            # 23:50 local is 05:50 UTC of the next day; it ends after midnight: still day 10, hour 23
            llamada("2024-03-10 23:50:00", "ATENDIDA", cola=60, espera=30, habla=1200),
            llamada("2024-03-11 00:30:00", "ATENDIDA", espera=1, habla=1),  # the next day: not in the report
        ],
    )

    result = materializar(instance, reportes.llamadas_dia, "2024-03-10")

    assert result.success
    filas = {h: tuple(resto) for h, *resto in warehouse.execute(_LLAMADAS_DIA, (date(2024, 3, 10),)).fetchall()}
    assert sorted(filas) == list(range(24))  # every hour, empty ones as zeros
    esperado = {h: CERO for h in range(24)}
    esperado[0] = (2, 0, 0, D("0.00"), D("0.00"), D("0.00"))
    esperado[9] = (5, 3, 1, D("18.33"), D("200.00"), D("50.00"))
    esperado[14] = (3, 2, 1, D("10.01"), D("1.50"), D("66.67"))
    esperado[23] = (1, 1, 0, D("30.00"), D("1200.00"), D("0.00"))
    assert filas == esperado
    # the 24 hourly rows sum to the day's calls in staging
    (staging,) = warehouse.execute("SELECT count(*) FROM staging.llamadas WHERE fecha = '2024-03-10'").fetchone()
    assert sum(f[0] for f in filas.values()) == staging == 11
    # nothing written outside the materialized day
    assert warehouse.execute("SELECT count(*) FROM reportes_llamadas_dia WHERE fecha <> '2024-03-10'").fetchone() == (
        0,
    )

    meta = metadatos(result, reportes.llamadas_dia)
    assert meta["registros_cargados"] == meta["dagster/row_count"] == 24
    assert meta["dagster/table_name"] == "reportes_llamadas_dia"
    assert meta["total_llamadas"] == 11 and meta["llamadas_atendidas"] == 6 and meta["llamadas_abandonadas"] == 2
    # day figures from the day's calls, not from rounded hours: 4 within T of 8; ASA 105.01 / 6
    assert meta["nivel_servicio"] == 50.0 and meta["tiempo_promedio_espera"] == 17.5
    assert "| fecha | hora |" in meta["previa"]


def test_threshold_is_the_configured_setting(warehouse, instance, monkeypatch):
    monkeypatch.setenv("IACT_UMBRAL_NIVEL_SERVICIO", "25")
    cargar(
        warehouse,
        "llamadas",
        [
            llamada("2024-03-10 09:00:00", "ATENDIDA", espera=10, habla=100),
            llamada("2024-03-10 09:10:00", "ATENDIDA", espera=25, habla=200),
            llamada("2024-03-10 09:20:00", "ATENDIDA", espera=25.5, habla=300),
        ],
    )
    assert materializar(instance, reportes.llamadas_dia, "2024-03-10").success
    (nivel,) = warehouse.execute(
        "SELECT nivel_servicio FROM reportes_llamadas_dia WHERE fecha = '2024-03-10' AND hora = 9"
    ).fetchone()
    assert nivel == D("66.67")


def test_menu_problemas_exact_rows_and_problem_view(warehouse, instance):
    cargar(
        warehouse,
        "menu_eventos",
        [
            evento("2024-03-10 08:00:00", "M1", "Principal", "OK", estancia=10),
            evento("2024-03-10 08:01:00", "M1", "Principal", "ABANDONO"),  # hung up inside: no stay
            evento("2024-03-10 08:02:00", "M1", "Principal", "TIMEOUT", estancia=30),
            evento("2024-03-10 23:59:00", "M1", "Principal", "ERROR", estancia=5),
            evento("2024-03-10 09:00:00", "M2", "Saldo", "ABANDONO"),
            evento("2024-03-10 09:01:00", "M2", "Saldo", "ABANDONO"),
            evento("2024-03-10 09:02:00", "M2", "Saldo", "ABANDONO"),
            *[evento(f"2024-03-10 10:0{i}:00", "M3", "Pagos", "OK", estancia=1) for i in range(6)],
            evento("2024-03-10 10:06:00", "M3", "Pagos", "OK", estancia=2),
            evento("2024-03-10 10:07:00", "M3", "Pagos", "ABANDONO"),
            evento("2024-03-11 00:01:00", "M1", "Principal", "ABANDONO"),  # the next day
        ],
    )

    result = materializar(instance, reportes.menu_problemas, "2024-03-10")

    assert result.success
    filas = warehouse.execute(
        "SELECT fecha, menu_id, menu_nombre, veces_accedido, abandonos, timeout, errores, tasa_abandono,"
        " tiempo_promedio_permanencia FROM reportes_menu_problemas ORDER BY fecha, menu_id"
    ).fetchall()
    dia = date(2024, 3, 10)
    assert filas == [
        (dia, "M1", "Principal", 4, 1, 1, 1, D("25.00"), D("15.00")),
        (dia, "M2", "Saldo", 3, 3, 0, 0, D("100.00"), D("0.00")),  # no event with a salida: 0
        (dia, "M3", "Pagos", 8, 1, 0, 0, D("12.50"), D("1.14")),  # 8 / 7 = 1.142..
    ]
    meta = metadatos(result, reportes.menu_problemas)
    assert meta["registros_cargados"] == 3 and meta["menus"] == 3 and meta["veces_accedido"] == 15
    assert meta["menus_problematicos"] == 2  # default threshold 20 %

    problemas = warehouse.execute("SELECT menu_id, motivo FROM v_menus_problematicos ORDER BY menu_id").fetchall()
    assert problemas == [("M1", "abandono y timeout/error"), ("M2", "abandono")]
    # an analyst's own threshold: 10 % also catches M3 (12.5 % abandons)
    (n,) = warehouse.execute("SELECT count(*) FROM menus_problematicos('2024-03-10', '2024-03-10', 0.10)").fetchone()
    assert n == 3


def test_menu_threshold_follows_the_setting(warehouse, instance, monkeypatch):
    monkeypatch.setenv("IACT_MENU_UMBRAL_PROBLEMA", "0.30")
    cargar(
        warehouse,
        "menu_eventos",
        [
            evento("2024-03-10 08:00:00", "M1", "Principal", "OK", estancia=10),
            evento("2024-03-10 08:01:00", "M1", "Principal", "OK", estancia=10),
            evento("2024-03-10 08:02:00", "M1", "Principal", "ABANDONO"),  # 33.33 % > 30 %
            evento("2024-03-10 09:00:00", "M2", "Saldo", "OK", estancia=1),
            evento("2024-03-10 09:00:00", "M2", "Saldo", "OK", estancia=1),
            evento("2024-03-10 09:00:00", "M2", "Saldo", "OK", estancia=1),
            evento("2024-03-10 09:01:00", "M2", "Saldo", "TIMEOUT", estancia=60),  # 25 % < 30 %
        ],
    )
    try:
        result = materializar(instance, reportes.menu_problemas, "2024-03-10")
        assert metadatos(result, reportes.menu_problemas)["menus_problematicos"] == 1
        assert warehouse.execute("SELECT menu_id FROM v_menus_problematicos").fetchall() == [("M1",)]
    finally:
        warehouse.execute("UPDATE config_reportes SET valor = 0.20 WHERE clave = 'menu_umbral_problema'")


def test_transferencias_exact_rows(warehouse, instance):
    cargar(
        warehouse,
        "transferencias",
        [
            transferencia("2024-03-10 08:00:00", NAC, PUE, True, duracion=10),
            transferencia("2024-03-10 09:00:00", NAC, PUE, True, duracion=20),
            transferencia("2024-03-10 10:00:00", NAC, PUE, False),  # never connected: no duration
            transferencia("2024-03-10 11:00:00", PUE, NAC, False, duracion=7),
            transferencia("2024-03-10 12:00:00", NAC, "19000001", False),  # no duration at all: 0
            transferencia("2024-03-11 12:00:00", NAC, PUE, True, duracion=99),  # the next day
        ],
    )

    result = materializar(instance, reportes.transferencias, "2024-03-10")

    assert result.success
    dia = date(2024, 3, 10)
    assert warehouse.execute(
        "SELECT fecha, centro_origen, centro_destino, total_transferencias, transferencias_exitosas,"
        " transferencias_fallidas, tiempo_promedio_transferencia, tasa_exito"
        " FROM reportes_transferencias ORDER BY centro_origen, centro_destino"
    ).fetchall() == [
        (dia, PUE, NAC, 1, 0, 1, D("7.00"), D("0.00")),
        (dia, NAC, "19000001", 1, 0, 1, D("0.00"), D("0.00")),
        (dia, NAC, PUE, 3, 2, 1, D("15.00"), D("66.67")),
    ]
    meta = metadatos(result, reportes.transferencias)
    assert meta["registros_cargados"] == 3 and meta["total_transferencias"] == 5
    assert meta["tasa_exito"] == 40.0 and meta["tiempo_promedio_transferencia"] == pytest.approx(37 / 3, abs=0.005)


_CLIENTES = """
SELECT fecha_inicio, fecha_fin, total_clientes_unicos, nuevos_clientes, clientes_recurrentes, promedio_llamadas_cliente
FROM reportes_clientes_unicos ORDER BY fecha_inicio
"""


def test_clientes_unicos_months_new_and_recurrent(warehouse, instance):
    cargar(
        warehouse,
        "llamadas",
        [
            llamada("2023-12-20 10:00:00", "IVR", cliente="C0"),  # history before any materialized month
            llamada("2024-01-15 10:00:00", "IVR", cliente="C1"),
            llamada("2024-01-31 23:59:00", "IVR", cliente="C4"),  # local January, UTC February
            llamada("2024-02-03 10:00:00", "ATENDIDA", espera=5, habla=5, cliente="C1"),  # first seen in January
            llamada("2024-02-20 10:00:00", "IVR", cliente="C1"),
            llamada("2024-02-10 10:00:00", "IVR", cliente="C2"),
            llamada("2024-02-11 10:00:00", "IVR", cliente="C2"),
            llamada("2024-02-29 23:30:00", "IVR", cliente="C2"),  # local February, UTC March
            llamada("2024-02-15 10:00:00", "IVR", cliente="C0"),  # first seen in December 2023
            llamada("2024-02-16 10:00:00", "IVR"),  # unidentified: not a client, not counted
            llamada("2024-03-01 00:10:00", "IVR", cliente="C3"),
        ],
    )

    # January..April in one run (a single-run backfill of four months)
    result = materializar(instance, reportes.clientes_unicos, "2024-01-01", "2024-04-01")

    assert result.success
    assert warehouse.execute(_CLIENTES).fetchall() == [
        (date(2024, 1, 1), date(2024, 1, 31), 2, 2, 0, D("1.00")),
        (date(2024, 2, 1), date(2024, 2, 29), 3, 1, 2, D("2.00")),  # C0, C1 recurrent; C2 new; 6 calls / 3
        (date(2024, 3, 1), date(2024, 3, 31), 1, 1, 0, D("1.00")),
        # April: no day loaded, so nothing is published from nothing (no row of zeros)
    ]
    meta = metadatos(result, reportes.clientes_unicos)
    assert meta["registros_cargados"] == 3
    assert meta["total_clientes_unicos"] == 5 and meta["nuevos_clientes"] == 4 and meta["llamadas_identificadas"] == 9

    # one month alone gives the same row as the range did
    antes = warehouse.execute(_CLIENTES).fetchall()
    assert materializar(instance, reportes.clientes_unicos, "2024-02-01").success
    assert warehouse.execute(_CLIENTES).fetchall() == antes


def _trimestre_q1_2024() -> list[tuple]:
    filas = [
        llamada(
            f"{date(2024, 1, 1) + timedelta(days=2 * i)} 10:00:00",
            "ATENDIDA",
            espera=10 if i < 21 else 40,
            habla=100 + i,
        )
        for i in range(31)
    ]
    filas += [
        llamada("2024-02-29 12:00:00", "IVR"),
        llamada("2024-02-29 12:30:00", "IVR"),
        llamada("2024-03-31 23:55:00", "ABANDONADA", espera=50),  # last minutes of the quarter
        llamada("2024-04-01 00:05:00", "ATENDIDA", espera=5, habla=60),  # first minutes of Q2
    ]
    return filas


_TRIMESTRAL = """
SELECT trimestre, anio, fecha_inicio, total_llamadas, llamadas_atendidas, llamadas_abandonadas,
       tiempo_promedio_espera, tiempo_promedio_atencion, nivel_servicio, tasa_abandono
FROM reportes_trimestral ORDER BY anio, trimestre
"""


def test_trimestral_exact_and_equal_to_the_sum_of_its_days(warehouse, instance):
    cargar(warehouse, "llamadas", _trimestre_q1_2024())

    result = materializar(instance, reportes.trimestral, "2024-01-01", "2024-04-01")
    assert materializar(instance, reportes.llamadas_dia, "2024-01-01", "2024-03-31").success

    assert result.success
    assert warehouse.execute(_TRIMESTRAL).fetchall() == [
        # ASA 610 / 31 = 19.677; handle (100..130) / 31 = 115; 21 of 32 within T = 65.625 -> 65.63;
        # 1 of 32 abandoned = 3.125 -> 3.13 (half away from zero)
        ("Q1", 2024, date(2024, 1, 1), 34, 31, 1, D("19.68"), D("115.00"), D("65.63"), D("3.13")),
        ("Q2", 2024, date(2024, 4, 1), 1, 1, 0, D("5.00"), D("60.00"), D("100.00"), D("0.00")),
    ]
    dias = warehouse.execute(
        "SELECT count(DISTINCT fecha), count(*), sum(total_llamadas), sum(llamadas_atendidas),"
        " sum(llamadas_abandonadas) FROM reportes_llamadas_dia WHERE fecha < '2024-04-01'"
    ).fetchone()
    assert dias == (91, 91 * 24, 34, 31, 1)  # one run wrote all 91 days, and they add up to Q1
    assert metadatos(result, reportes.trimestral)["registros_cargados"] == 2


_SIN_TIEMPOS = {
    "reportes_llamadas_dia": "fecha, hora",
    "reportes_menu_problemas": "fecha, menu_id",
    "reportes_transferencias": "fecha, centro_origen, centro_destino",
    "reportes_clientes_unicos": "fecha_inicio",
    "reportes_trimestral": "fecha_inicio",
}


def _contenido(conn, tabla: str) -> list[tuple]:
    """Every row without id, created_at and updated_at."""
    columnas = [
        c
        for (c,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
            (tabla,),
        ).fetchall()
        if c not in ("id", "created_at", "updated_at")
    ]
    return conn.execute(f"SELECT {', '.join(columnas)} FROM {tabla} ORDER BY {_SIN_TIEMPOS[tabla]}").fetchall()


def test_rematerializing_changes_nothing(warehouse, instance):
    cargar(warehouse, "llamadas", _trimestre_q1_2024())
    cargar(warehouse, "menu_eventos", [evento("2024-02-10 08:00:00", "M1", "Principal", "TIMEOUT", estancia=3)])
    cargar(warehouse, "transferencias", [transferencia("2024-02-10 08:00:00", NAC, PUE, True, duracion=4)])
    corridas = [
        (reportes.llamadas_dia, "2024-02-09", "2024-02-11"),
        (reportes.menu_problemas, "2024-02-09", "2024-02-11"),
        (reportes.transferencias, "2024-02-09", "2024-02-11"),
        (reportes.clientes_unicos, "2024-01-01", "2024-03-01"),
        (reportes.trimestral, "2024-01-01", None),
    ]
    for asset, desde, hasta in corridas:
        assert materializar(instance, asset, desde, hasta).success
    primero = {t: _contenido(warehouse, t) for t in _SIN_TIEMPOS}
    assert len(primero["reportes_llamadas_dia"]) == 3 * 24

    for asset, desde, hasta in corridas:
        assert materializar(instance, asset, desde, hasta).success

    assert {t: _contenido(warehouse, t) for t in _SIN_TIEMPOS} == primero


def test_a_failed_run_leaves_the_previous_rows(warehouse, instance):
    cargar(warehouse, "llamadas", [llamada("2024-03-10 09:00:00", "ATENDIDA", espera=10, habla=100)])
    assert materializar(instance, reportes.llamadas_dia, "2024-03-10").success
    antes = _contenido(warehouse, "reportes_llamadas_dia")
    # a row staging validation would have rejected (answered before queueing): negative ASA
    # breaks the report table's CHECK in the middle of the INSERT
    cargar(warehouse, "llamadas", [llamada("2024-03-10 09:00:00", "ATENDIDA", espera=-500, habla=600)])

    result = dg.materialize(
        [reportes.llamadas_dia],
        partition_key="2024-03-10",
        instance=instance,
        resources=build_resources(),
        raise_on_error=False,
    )

    assert not result.success
    assert _contenido(warehouse, "reportes_llamadas_dia") == antes


def test_report_assets_are_single_run_and_grouped():
    claves = {"/".join(k.path) for a in reportes.report_assets for k in a.keys}
    assert claves == {
        "reportes/llamadas_dia",
        "reportes/menu_problemas",
        "reportes/transferencias",
        "reportes/clientes_unicos",
        "reportes/trimestral",
        "reportes/intervalos",
        "reportes/rellamadas",
        "reportes/devolucion",
        "reportes/dimensionamiento",
        "reportes/cumplimiento",
        "reportes/esperas",
    }
    for asset in reportes.report_assets:
        assert asset.backfill_policy == dg.BackfillPolicy.single_run()
        for clave in asset.keys:
            assert asset.group_names_by_key[clave] == "reportes"
            assert asset.descriptions_by_key[clave]
