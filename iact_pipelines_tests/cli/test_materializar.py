"""`iact materializar`: one run per partitioning over the whole range, in dependency order."""

from datetime import date

import dagster as dg
import pytest

from iact_pipelines.cli import main
from iact_pipelines_tests.reportes.ayudas import cargar, llamada, transferencia

_RANGO = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@pytest.fixture
def cli_env(monkeypatch, pg_urls):
    # `iact materializar` sets DAGSTER_HOME for its process; give it back after the test.
    monkeypatch.setenv("DAGSTER_HOME", "/nonexistent")
    yield


def _runs(instance):
    """The runs in the order they were launched: (assets, range start, range end, partition, status)."""
    return [
        (
            sorted("/".join(k.path) for k in r.asset_selection),
            r.tags.get(_RANGO[0]),
            r.tags.get(_RANGO[1]),
            r.tags.get("dagster/partition"),
            r.status.value,
        )
        for r in reversed(instance.get_runs())
    ]


def test_reports_of_a_range_in_one_run_per_partitioning(warehouse, instance, cli_env, capsys):
    # 30 March .. 2 April: two months and two quarters
    cargar(
        warehouse,
        "llamadas",
        [
            llamada("2024-03-30 10:00:00", "ATENDIDA", espera=10, habla=60, cliente="C1"),
            llamada("2024-03-31 23:50:00", "ABANDONADA", espera=30, cliente="C2"),
            llamada("2024-04-01 00:10:00", "IVR", cliente="C1"),
            llamada("2024-04-02 12:00:00", "ATENDIDA", espera=40, habla=60, cliente="C3"),
        ],
    )
    cargar(warehouse, "transferencias", [transferencia("2024-04-02 12:00:00", "19028031", "19020084", True, 9)])

    codigo = main(["materializar", "--desde", "2024-03-30", "--hasta", "2024-04-02", "--activos", "reportes/*"])

    salida = capsys.readouterr()
    assert codigo == 0, salida.err
    assert "3 run(s), 0 fallido(s), 0 omitido(s)" in salida.out
    assert _runs(instance) == [
        (
            [
                "reportes/cumplimiento",
                "reportes/devolucion",
                "reportes/dimensionamiento",
                "reportes/esperas",
                "reportes/intervalos",
                "reportes/llamadas_dia",
                "reportes/menu_problemas",
                "reportes/rellamadas",
                "reportes/transferencias",
            ],
            "2024-03-30",
            "2024-04-02",
            None,
            "SUCCESS",
        ),
        (["reportes/clientes_unicos"], "2024-03-01", "2024-04-01", None, "SUCCESS"),
        (["reportes/trimestral"], "2024-01-01", "2024-04-01", None, "SUCCESS"),
    ]
    # runs are named after their job, never Dagster's implicit __ASSET_JOB
    assert [r.job_name for r in reversed(instance.get_runs())] == [
        "diario",
        "reportes_mensuales",
        "reportes_trimestrales",
    ]
    assert warehouse.execute(
        "SELECT min(fecha), max(fecha), count(*), sum(total_llamadas) FROM reportes_llamadas_dia"
    ).fetchone() == (date(2024, 3, 30), date(2024, 4, 2), 4 * 24, 4)
    assert warehouse.execute(
        "SELECT fecha_inicio, total_clientes_unicos, nuevos_clientes FROM reportes_clientes_unicos ORDER BY 1"
    ).fetchall() == [(date(2024, 3, 1), 2, 2), (date(2024, 4, 1), 2, 1)]
    assert warehouse.execute(
        "SELECT trimestre, total_llamadas, llamadas_abandonadas FROM reportes_trimestral ORDER BY fecha_inicio"
    ).fetchall() == [("Q1", 2, 1), ("Q2", 2, 0)]
    assert warehouse.execute("SELECT count(*) FROM reportes_transferencias").fetchone() == (1,)
    # the analyst reports of the range in the same run: 96 quarter hours x 2 centers x 4 days
    assert warehouse.execute("SELECT count(*), sum(ofrecidas) FROM reportes_intervalos").fetchone() == (768, 4)
    assert warehouse.execute("SELECT fecha, cliente_id FROM lista_devolucion").fetchall() == [(date(2024, 3, 31), "C2")]


def test_one_partition_is_a_plain_partition_run(warehouse, instance, cli_env, capsys):
    cargar(warehouse, "llamadas", [llamada("2024-05-07 10:00:00", "IVR")])

    codigo = main(
        [
            "materializar",
            "--desde",
            "2024-05-07",
            "--hasta",
            "2024-05-07",
            "--activos",
            "reportes/llamadas_dia,reportes/clientes_unicos",
        ]
    )

    assert codigo == 0, capsys.readouterr().err
    assert _runs(instance) == [
        (["reportes/llamadas_dia"], None, None, "2024-05-07", "SUCCESS"),
        (["reportes/clientes_unicos"], None, None, "2024-05-01", "SUCCESS"),
    ]


def test_a_failed_run_exits_non_zero_with_one_line(warehouse, instance, cli_env, capsys):
    # answered before it was queued: the report's CHECK (ASA >= 0) fails the daily run
    cargar(warehouse, "llamadas", [llamada("2024-05-07 10:00:00", "ATENDIDA", espera=-100, habla=200)])

    codigo = main(
        [
            "materializar",
            "--desde",
            "2024-05-07",
            "--hasta",
            "2024-05-07",
            "--activos",
            "reportes/llamadas_dia,reportes/clientes_unicos",
        ]
    )

    salida = capsys.readouterr()
    assert codigo == 2
    assert "1 fallido(s)" in salida.out
    errores = salida.err.splitlines()
    assert len(errores) == 1 and "check constraint" in errores[0], salida.err
    (fallido,) = [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.FAILURE]
    assert errores[0].startswith(f"iact: error: el run {fallido.run_id} falló: ")
    assert [(r[0], r[4]) for r in _runs(instance)] == [
        (["reportes/llamadas_dia"], "FAILURE"),
        (["reportes/clientes_unicos"], "SUCCESS"),  # depends on staging, not on the failed daily report
    ]


@pytest.mark.parametrize(
    "argumentos, mensaje",
    [
        (["--desde", "2024-05-07", "--hasta", "2024-05-01"], "es anterior a --desde"),
        (["--desde", "2024-13-01", "--hasta", "2024-05-01"], "no es una fecha"),
        (["--desde", "2023-12-01", "--hasta", "2024-01-05"], "anterior a la primera partición"),
        (["--desde", "2024-05-01", "--hasta", "2999-01-01"], "posterior al último día"),
        (["--desde", "2024-05-01", "--hasta", "2024-05-02", "--activos", "nada/*"], "no nombra ningún asset"),
    ],
)
def test_user_mistakes_are_one_line(argumentos, mensaje, urls, cli_env, capsys):
    codigo = main(["materializar", *argumentos])
    err = capsys.readouterr().err.strip()
    assert codigo == 2
    assert mensaje in err and "\n" not in err


def test_end_to_end_from_the_source_staging_first_then_reports(ivr_writer, warehouse, instance, cli_env, capsys):
    llamadas = [
        llamada("2024-03-31 23:50:00", "ATENDIDA", espera=10, habla=900, cliente="C1"),  # ends in April
        llamada("2024-04-01 10:00:00", "ABANDONADA", espera=30, cliente="C1"),
        llamada("2024-04-01 10:30:00", "IVR"),  # unidentified: loaded with a warning
        llamada("2024-04-01 11:00:00", "ATENDIDA", espera=5, habla=5, centro="19014002"),  # not an allowed center
    ]
    ivr_writer.cursor().executemany(
        "INSERT INTO ivr.llamadas (llamada_id, centro_id, cliente_id, inicio, ingreso_cola, atencion, fin, resultado)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        llamadas,
    )
    ivr_writer.execute(
        "INSERT INTO ivr.transferencias VALUES (1, %s, '19028031', '19020084', %s, %s, true)",
        (llamadas[1][0], llamadas[1][3], llamadas[1][6]),
    )

    # No menu events at all and no transfer on the 31st: the volumen check would hold those
    # days back; this small source is accepted as it is.
    codigo = main(
        ["materializar", "--desde", "2024-03-31", "--hasta", "2024-04-01", "--aceptar-dias", "2024-03-31,2024-04-01"]
    )

    salida = capsys.readouterr()
    assert codigo == 0, salida.out + salida.err
    runs = _runs(instance)
    assert [r[0] for r in runs] == [
        [
            "reportes/cumplimiento",
            "reportes/devolucion",
            "reportes/dimensionamiento",
            "reportes/esperas",
            "reportes/intervalos",
            "reportes/llamadas_dia",
            "reportes/menu_problemas",
            "reportes/rellamadas",
            "reportes/transferencias",
            "staging/llamadas",
            "staging/menu_eventos",
            "staging/transferencias",
        ],
        ["reportes/clientes_unicos"],
        ["reportes/trimestral"],
    ]
    assert [r[1:] for r in runs] == [
        ("2024-03-31", "2024-04-01", None, "SUCCESS"),
        ("2024-03-01", "2024-04-01", None, "SUCCESS"),
        ("2024-01-01", "2024-04-01", None, "SUCCESS"),
    ]
    # the staging assets' blocking checks ran in the daily run, before the reports
    (diario,) = [r for r in instance.get_runs() if r.tags.get(_RANGO[0]) == "2024-03-31"]
    chequeos = instance.all_logs(diario.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    bloqueantes = [e for e in chequeos if e.dagster_event.event_specific_data.check_name != "freshness_check"]
    assert {"/".join(e.dagster_event.event_specific_data.asset_key.path) for e in bloqueantes} == {
        "staging/llamadas",
        "staging/menu_eventos",
        "staging/transferencias",
    }
    assert warehouse.execute(
        "SELECT fecha, hora, total_llamadas, llamadas_atendidas, llamadas_abandonadas FROM reportes_llamadas_dia"
        " WHERE total_llamadas > 0 ORDER BY fecha, hora"
    ).fetchall() == [(date(2024, 3, 31), 23, 1, 1, 0), (date(2024, 4, 1), 10, 2, 0, 1)]
    assert warehouse.execute(
        "SELECT trimestre, total_llamadas FROM reportes_trimestral ORDER BY fecha_inicio"
    ).fetchall() == [("Q1", 1), ("Q2", 2)]
    assert warehouse.execute(
        "SELECT fecha_inicio, total_clientes_unicos, nuevos_clientes, clientes_recurrentes"
        " FROM reportes_clientes_unicos ORDER BY 1"
    ).fetchall() == [(date(2024, 3, 1), 1, 1, 0), (date(2024, 4, 1), 1, 0, 1)]
    assert warehouse.execute(
        "SELECT fecha, total_transferencias, tasa_exito FROM reportes_transferencias"
    ).fetchall() == [(date(2024, 4, 1), 1, 100)]


def test_bad_staging_stops_the_reports_built_on_it(ivr_writer, warehouse, instance, cli_env, capsys):
    buena = llamada("2024-04-01 10:00:00", "IVR")
    mala = (*llamada("2024-04-01 11:00:00", "IVR")[:-1], "XXX")  # unknown resultado: rejected, 50 % > 5 %
    ivr_writer.cursor().executemany("INSERT INTO ivr.llamadas VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", [buena, mala])

    codigo = main(["materializar", "--desde", "2024-04-01", "--hasta", "2024-04-01"])

    salida = capsys.readouterr()
    assert codigo == 2
    assert "1 run(s), 1 fallido(s), 2 omitido(s)" in salida.out
    assert salida.out.count("OMITIDO") == 2  # the month and the quarter: they depend on staging/llamadas
    (error,) = salida.err.splitlines()
    assert "falló: staging__llamadas: 1 check(s) bloqueante(s) fallido(s) con severidad ERROR: " in error
    assert "staging/llamadas: tasa_rechazo" in error
    assert error.endswith("; 2 run(s) omitido(s)")
    # the blocking check kept that day's reports from being built
    assert warehouse.execute("SELECT count(*) FROM reportes_llamadas_dia").fetchone() == (0,)
