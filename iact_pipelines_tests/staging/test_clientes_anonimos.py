"""One definition of an unidentified caller (NULL, empty, blanks, a configured placeholder),
applied in staging: the row is kept with a NULL client and warned, so no report counts it."""

import dagster as dg

from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes import assets as reportes
from iact_pipelines.staging import assets as staging
from iact_pipelines_tests.staging.ayudas import insertar, llamada

DIA = "2024-03-10"
_REPORTES = {
    "rellamadas": "SELECT centro_id, llamadas_identificadas, clientes, rellamadas, tasa_rellamada"
    " FROM reportes_rellamadas ORDER BY 1",
    "devolucion": "SELECT cliente_id, llamadas FROM lista_devolucion ORDER BY 1, 2",
    "clientes_unicos": "SELECT total_clientes_unicos, nuevos_clientes FROM reportes_clientes_unicos",
    "clientes_dia": "SELECT cliente_id, llamadas FROM staging.clientes_dia ORDER BY 1",
    "primeras": "SELECT cliente_id, primera_fecha FROM staging.clientes_primera_llamada ORDER BY 1",
}


def _cargar_e_informar(instance, warehouse) -> dict:
    for activos, particion in (
        ([staging.llamadas, reportes.analistas], DIA),
        ([reportes.clientes_unicos], "2024-03-01"),
    ):
        result = dg.materialize(activos, partition_key=particion, instance=instance, resources=build_resources())
        assert result.success
    return {nombre: warehouse.execute(consulta).fetchall() for nombre, consulta in _REPORTES.items()}


def test_blank_and_placeholder_callers_change_no_report(ivr_writer, warehouse, instance):
    identificadas = [
        llamada(i, f"{DIA} {9 + i}:00:00", r, cliente=c)
        for i, (c, r) in enumerate(
            [
                ("A", "ATENDIDA"),
                ("A", "ABANDONADA"),
                ("A", "IVR"),
                ("B", "ABANDONADA"),
                ("B", "IVR"),
                ("C", "ATENDIDA"),
            ],
            1,
        )
    ]
    insertar(ivr_writer, "llamadas", identificadas)
    antes = _cargar_e_informar(instance, warehouse)
    assert antes["rellamadas"] and antes["devolucion"] and antes["clientes_dia"]

    anonimos = ["", " ", "   ", "\t", "anonymous", "ANONIMO", " Anonymous "]
    insertar(
        ivr_writer,
        "llamadas",
        [
            llamada(100 + i, f"{DIA} {10 + i % 8}:{i % 60:02d}:00", "ABANDONADA", cliente=anonimos[i % len(anonimos)])
            for i in range(50)
        ],
    )
    despues = _cargar_e_informar(instance, warehouse)

    assert despues == antes
    assert warehouse.execute(
        "SELECT count(*) FILTER (WHERE cliente_id IS NULL), count(*) FROM staging.llamadas"
    ).fetchone() == (50, 56)
    assert warehouse.execute(
        "SELECT count(*) FROM etl_validation_errors WHERE error_type = 'cliente_no_identificado' AND severity = 'warning'"
    ).fetchone() == (50,)
