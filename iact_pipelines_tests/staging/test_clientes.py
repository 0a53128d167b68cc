"""The first-call table stays exact through the real staging asset: a middle month
rebuilt, a day backfilled before later ones, a client's earliest day deleted at the source and
re-run. Each state is compared with the hand-computed answer and with brute-force SQL over
all of staging.llamadas; the monthly report reads the same answer from the small tables."""

from datetime import date
from decimal import Decimal
from itertools import count

import dagster as dg

from iact_pipelines.plataforma import fechas
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes import assets as reportes
from iact_pipelines.staging import assets as staging
from iact_pipelines.staging import compuerta
from iact_pipelines_tests.reportes.ayudas import materializar as materializar_reporte
from iact_pipelines_tests.staging.ayudas import insertar, llamada

_ids = count(1)

_PRIMERA_FUERZA_BRUTA = """
SELECT cliente_id, min(fecha) FROM staging.llamadas WHERE cliente_id IS NOT NULL GROUP BY 1 ORDER BY 1
"""
_DIAS_FUERZA_BRUTA = """
SELECT fecha, cliente_id, count(*)::int, max(inicio)
FROM staging.llamadas WHERE cliente_id IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2
"""
# The monthly report's figures straight from staging (every earlier day scanned).
_MENSUAL_FUERZA_BRUTA = """
WITH primera AS (
    SELECT cliente_id, min(fecha) AS f FROM staging.llamadas WHERE cliente_id IS NOT NULL GROUP BY 1
)
SELECT date_trunc('month', l.fecha)::date,
    count(DISTINCT l.cliente_id)::int,
    count(DISTINCT l.cliente_id) FILTER (WHERE p.f >= date_trunc('month', l.fecha))::int,
    count(DISTINCT l.cliente_id) FILTER (WHERE p.f < date_trunc('month', l.fecha))::int
FROM staging.llamadas AS l JOIN primera AS p USING (cliente_id)
GROUP BY 1 ORDER BY 1
"""


def llamadas_de(dia: str, *clientes: str) -> list[dict]:
    # each client's calls at distinct times, so the last call of the day is one of them
    return [llamada(next(_ids), f"{dia} {10 + i % 12}:00:00", cliente=c) for i, c in enumerate(clientes)]


def primeras(conn) -> dict[str, date]:
    filas = conn.execute("SELECT cliente_id, primera_fecha FROM staging.clientes_primera_llamada ORDER BY 1").fetchall()
    assert filas == conn.execute(_PRIMERA_FUERZA_BRUTA).fetchall()
    assert (
        conn.execute(
            "SELECT fecha, cliente_id, llamadas, ultima_llamada FROM staging.clientes_dia ORDER BY 1, 2"
        ).fetchall()
        == conn.execute(_DIAS_FUERZA_BRUTA).fetchall()
    )
    return dict(filas)


def cargar(instance, desde: str, hasta: str | None = None) -> None:
    """Load the days desde..hasta, every one accepted: these tests leave days empty on purpose
    (a client's only day deleted at the source), which the `volumen` check would hold back."""
    dias = fechas.dias_semiabiertos(date.fromisoformat(desde), date.fromisoformat(hasta or desde) + fechas.UN_DIA)
    tags = {compuerta.ETIQUETA_ACEPTAR_DIAS: ",".join(d.isoformat() for d in dias)}
    if hasta is not None:
        tags.update({"dagster/asset_partition_range_start": desde, "dagster/asset_partition_range_end": hasta})
    result = dg.materialize(
        [staging.llamadas],
        partition_key=None if hasta else desde,
        tags=tags,
        instance=instance,
        resources=build_resources(),
    )
    assert result.success


def test_a_rebuilt_middle_month_moves_first_calls_both_ways(ivr_writer, warehouse, instance):
    insertar(
        ivr_writer,
        "llamadas",
        llamadas_de("2024-01-10", "A", "B")
        + llamadas_de("2024-02-10", "B", "C", "D", "D")
        + llamadas_de("2024-03-10", "C", "D", "E"),
    )
    for dia in ("2024-01-10", "2024-02-10", "2024-03-10"):
        cargar(instance, dia)
    assert primeras(warehouse) == {
        "A": date(2024, 1, 10),
        "B": date(2024, 1, 10),
        "C": date(2024, 2, 10),
        "D": date(2024, 2, 10),
        "E": date(2024, 3, 10),
    }

    # February changes at the source: C and D vanish from it, F and G appear; the month is rebuilt.
    ivr_writer.execute("DELETE FROM ivr.llamadas WHERE cliente_id IN ('C', 'D') AND inicio < '2024-03-01'")
    insertar(ivr_writer, "llamadas", llamadas_de("2024-02-10", "F") + llamadas_de("2024-02-20", "G", "B"))
    cargar(instance, "2024-02-01", "2024-02-29")
    assert primeras(warehouse) == {
        "A": date(2024, 1, 10),
        "B": date(2024, 1, 10),
        "C": date(2024, 3, 10),
        "D": date(2024, 3, 10),
        "E": date(2024, 3, 10),
        "F": date(2024, 2, 10),
        "G": date(2024, 2, 20),
    }

    assert materializar_reporte(instance, reportes.clientes_unicos, "2024-01-01", "2024-03-01").success
    # (month, unique, new, recurrent): Jan A B new; Feb B old, F G new; Mar C D E all new now.
    esperado = [(date(2024, 1, 1), 2, 2, 0), (date(2024, 2, 1), 3, 2, 1), (date(2024, 3, 1), 3, 3, 0)]
    assert (
        warehouse.execute(
            "SELECT fecha_inicio, total_clientes_unicos, nuevos_clientes, clientes_recurrentes"
            " FROM reportes_clientes_unicos ORDER BY 1"
        ).fetchall()
        == esperado
        == warehouse.execute(_MENSUAL_FUERZA_BRUTA).fetchall()
    )


def test_a_day_backfilled_before_later_days(ivr_writer, warehouse, instance):
    insertar(
        ivr_writer,
        "llamadas",
        llamadas_de("2024-03-10", "C", "D", "E")
        + llamadas_de("2024-03-12", "D", "H")
        + llamadas_de("2024-03-05", "E", "H", "I"),
    )
    cargar(instance, "2024-03-10")
    cargar(instance, "2024-03-12")
    assert primeras(warehouse) == {
        "C": date(2024, 3, 10),
        "D": date(2024, 3, 10),
        "E": date(2024, 3, 10),
        "H": date(2024, 3, 12),
    }
    cargar(instance, "2024-03-05")
    assert primeras(warehouse) == {
        "C": date(2024, 3, 10),
        "D": date(2024, 3, 10),
        "E": date(2024, 3, 5),
        "H": date(2024, 3, 5),
        "I": date(2024, 3, 5),
    }
    # A range run over days already loaded changes nothing.
    cargar(instance, "2024-03-04", "2024-03-13")
    assert primeras(warehouse)["H"] == date(2024, 3, 5)


def test_a_clients_earliest_day_deleted_at_the_source_and_re_run(ivr_writer, warehouse, instance):
    insertar(
        ivr_writer,
        "llamadas",
        llamadas_de("2024-03-05", "A", "B", "J")
        + llamadas_de("2024-03-08", "A")
        + llamadas_de("2024-03-09", "B", "C", "K"),
    )
    for dia in ("2024-03-05", "2024-03-08", "2024-03-09"):
        cargar(instance, dia)
    assert primeras(warehouse) == {
        "A": date(2024, 3, 5),
        "B": date(2024, 3, 5),
        "C": date(2024, 3, 9),
        "J": date(2024, 3, 5),
        "K": date(2024, 3, 9),
    }

    # A's call of the 5th is deleted at the source: A's first call is now the 8th.
    ivr_writer.execute("DELETE FROM ivr.llamadas WHERE cliente_id = 'A' AND inicio < '2024-03-06'")
    cargar(instance, "2024-03-05")
    assert primeras(warehouse) == {
        "A": date(2024, 3, 8),
        "B": date(2024, 3, 5),
        "C": date(2024, 3, 9),
        "J": date(2024, 3, 5),
        "K": date(2024, 3, 9),
    }

    # C's only call is deleted: C has no first call any more.
    ivr_writer.execute("DELETE FROM ivr.llamadas WHERE cliente_id = 'C'")
    cargar(instance, "2024-03-09")
    assert primeras(warehouse) == {
        "A": date(2024, 3, 8),
        "B": date(2024, 3, 5),
        "J": date(2024, 3, 5),
        "K": date(2024, 3, 9),
    }

    assert materializar_reporte(instance, reportes.clientes_unicos, "2024-03-01").success
    assert warehouse.execute(
        "SELECT total_clientes_unicos, nuevos_clientes, clientes_recurrentes, promedio_llamadas_cliente"
        " FROM reportes_clientes_unicos"
    ).fetchone() == (4, 4, 0, Decimal("1.25"))  # A 1, B 2, J 1, K 1 calls


def test_a_rerun_day_rewrites_its_client_days_and_leaves_unchanged_first_calls_untouched(
    ivr_writer, warehouse, instance
):
    # The day's client rows live in its own partition of staging.clientes_dia (migration 086),
    # and a re-run of an unchanged day writes or locks no first-call row (same xmin, no xmax).
    insertar(ivr_writer, "llamadas", llamadas_de("2024-05-01", "A", "B") + llamadas_de("2024-05-02", "B", "C", "C"))
    cargar(instance, "2024-05-01")
    cargar(instance, "2024-05-02")
    version = "SELECT cliente_id, xmin::text || '/' || xmax::text FROM staging.clientes_primera_llamada ORDER BY 1"
    antes = warehouse.execute(version).fetchall()
    cargar(instance, "2024-05-02")
    assert warehouse.execute(version).fetchall() == antes
    assert primeras(warehouse) == {"A": date(2024, 5, 1), "B": date(2024, 5, 1), "C": date(2024, 5, 2)}
    assert warehouse.execute(
        "SELECT tableoid::regclass::text, cliente_id, llamadas FROM staging.clientes_dia ORDER BY 1, 2"
    ).fetchall() == [
        ("staging.clientes_dia_20240501", "A", 1),
        ("staging.clientes_dia_20240501", "B", 1),
        ("staging.clientes_dia_20240502", "B", 1),
        ("staging.clientes_dia_20240502", "C", 2),
    ]
    # A new earliest day for C, backfilled: C's first call moves, A's and B's rows stay as they were.
    insertar(ivr_writer, "llamadas", llamadas_de("2024-04-30", "C"))
    cargar(instance, "2024-04-30")
    assert primeras(warehouse) == {"A": date(2024, 5, 1), "B": date(2024, 5, 1), "C": date(2024, 4, 30)}
    despues = dict(warehouse.execute(version).fetchall())
    assert {c: despues[c] for c in ("A", "B")} == {c: x for c, x in antes if c in ("A", "B")}


def test_a_rerun_day_with_as_many_clients_but_another_one_moves_first_calls(ivr_writer, warehouse, instance):
    # A re-run whose day keeps its set of clients skips the first-call upkeep; one that swaps a
    # client for another (same number of clients, same number of calls) must not.
    insertar(ivr_writer, "llamadas", llamadas_de("2024-06-01", "A", "B") + llamadas_de("2024-06-02", "B"))
    cargar(instance, "2024-06-01")
    cargar(instance, "2024-06-02")
    assert primeras(warehouse) == {"A": date(2024, 6, 1), "B": date(2024, 6, 1)}

    ivr_writer.execute("UPDATE ivr.llamadas SET cliente_id = 'Z' WHERE cliente_id = 'A'")
    cargar(instance, "2024-06-01")
    assert primeras(warehouse) == {"B": date(2024, 6, 1), "Z": date(2024, 6, 1)}

    # B's earlier day swapped for a later client: B's first call moves to the 2nd.
    ivr_writer.execute("UPDATE ivr.llamadas SET cliente_id = 'Y' WHERE cliente_id = 'B' AND inicio < '2024-06-02'")
    cargar(instance, "2024-06-01")
    assert primeras(warehouse) == {"B": date(2024, 6, 2), "Y": date(2024, 6, 1), "Z": date(2024, 6, 1)}
