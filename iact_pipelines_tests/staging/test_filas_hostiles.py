"""A table of hostile source rows: every rule works on any value the source can hold
(infinite and far-out timestamps, the largest ids), and each such row is rejected or warned on
its own: never the day. Source rows = staged + rejected."""

import re
from datetime import date

import pytest

from iact_pipelines.fuentes.contrato import FUENTES
from iact_pipelines.plataforma import catalogo
from iact_pipelines.plataforma.fechas import Ventana
from iact_pipelines.staging import assets as staging
from iact_pipelines.staging import extraccion
from iact_pipelines_tests.staging.ayudas import ZONA, errores, evento, insertar, llamada, materializar, transferencia

MAXIMO = 2**63 - 1
INF, MENOS_INF = "infinity", "-infinity"
LEJOS = {"0001": "0001-01-01 00:00:00+00", "1900": "1900-01-01 00:00:00+00", "9999": "9999-12-31 00:00:00+00"}

# (id, changes to a valid row, expected: "cargada" or the rule that rejects it)
LLAMADAS = [
    (1, {"ingreso_cola": INF, "atencion": INF, "fin": INF}, "fecha_fuera_de_rango"),
    (2, {"fin": MENOS_INF}, "fecha_fuera_de_rango"),
    (3, {"fin": LEJOS["9999"]}, "fecha_fuera_de_rango"),
    (4, {"fin": LEJOS["0001"]}, "fecha_fuera_de_rango"),
    (5, {"atencion": LEJOS["1900"]}, "orden_tiempos"),  # representable: the ordinary rule
    (
        6,
        {"resultado": "IVR", "ingreso_cola": None, "atencion": None, "fin": "2199-01-01 00:00:00+00"},
        "duracion_excesiva",
    ),
    (MAXIMO, {}, "cargada"),
]
EVENTOS = [
    (1, {"salida": INF}, "fecha_fuera_de_rango"),
    (2, {"salida": LEJOS["9999"]}, "fecha_fuera_de_rango"),
    (MAXIMO, {"llamada_id": MAXIMO}, "cargada"),
]
TRANSFERENCIAS = [
    (1, {"fin": INF}, "fecha_fuera_de_rango"),
    (2, {"fin": MENOS_INF}, "fecha_fuera_de_rango"),
    (MAXIMO, {"llamada_id": MAXIMO}, "cargada"),
]


@pytest.mark.parametrize(
    "tabla, id_col, hacer, casos",
    [
        ("llamadas", "llamada_id", llamada, LLAMADAS),
        ("menu_eventos", "evento_id", evento, EVENTOS),
        ("transferencias", "transferencia_id", transferencia, TRANSFERENCIAS),
    ],
)
def test_each_hostile_row_is_rejected_alone(tabla, id_col, hacer, casos, ivr_writer, warehouse, instance, sin_umbral):
    validas = [hacer(100 + i, f"2024-03-10 {8 + i:02d}:00:00") for i in range(5)]
    insertar(ivr_writer, tabla, validas + [{**hacer(id_), **cambios} for id_, cambios, _ in casos])

    result = materializar(instance, getattr(staging, tabla))

    assert result.success
    cargadas = {r[0] for r in warehouse.execute(f"SELECT {id_col} FROM staging.{tabla}")}
    rechazos = errores(warehouse, f"staging/{tabla}")
    for id_, _, esperado in casos:
        if esperado == "cargada":
            assert id_ in cargadas and id_ not in rechazos
        else:
            assert id_ not in cargadas and esperado in {regla for regla, _, sev in rechazos[id_] if sev == "error"}, (
                id_,
                rechazos.get(id_),
            )
    assert {100 + i for i in range(5)} <= cargadas
    (fuente,) = ivr_writer.execute(f"SELECT count(*) FROM ivr.{tabla}").fetchone()
    assert fuente == len(cargadas) + len(rechazos)


def test_a_long_error_line_keeps_the_run_link_whole(capsys):
    from iact_pipelines.cli import CliError, _error

    enlace = "http://127.0.0.1:3000/runs/0fbbfa57-234c-46d9-81f1-1d4727fc1b14"
    _error(str(CliError(f"el run x falló: staging__llamadas: {'motivo largo ' * 60} (log completo: {enlace}, o ...)")))
    (linea,) = capsys.readouterr().err.splitlines()
    assert len(linea) <= 420 and f"(log completo: {enlace}, o ...)" in linea


def test_every_source_row_is_loaded_rejected_or_counted_as_dayless(urls, ivr_writer, warehouse, instance, sin_umbral):
    """Rows no center or no day claims leave a trace: a NULL or malformed center is extracted
    and rejected on its own; a NULL start, a start before the partitions or after today is
    counted by the source observation. Source = staged + rejected + dayless."""
    from iact_pipelines.fuentes.assets import observar

    validas = [llamada(100 + i, f"2024-03-10 {8 + i:02d}:00:00") for i in range(5)]
    sin_centro = [llamada(1, centro=None), llamada(2, centro="19O28031"), llamada(3, centro="1902803")]
    otro_centro = [llamada(4, centro="12345678")]  # a well-formed center not allowed: not ours
    sin_dia = [{**llamada(5), "inicio": None}, llamada(6, "2023-06-01 10:00:00"), llamada(7, "2999-01-01 10:00:00")]
    insertar(ivr_writer, "llamadas", validas + sin_centro + otro_centro + sin_dia)

    result = materializar(instance, staging.llamadas)

    assert result.success
    cargadas = {r[0] for r in warehouse.execute("SELECT llamada_id FROM staging.llamadas")}
    rechazos = errores(warehouse, "staging/llamadas")
    assert cargadas == {100 + i for i in range(5)}
    assert rechazos == {
        1: {("nulo_requerido", "centro_id", "error")},
        2: {("centro_malformado", "centro_id", "error")},
        3: {("centro_malformado", "centro_id", "error")},
    }
    obs = observar(urls.ivr, "America/Mexico_City")["llamadas"]["filas_sin_dia"]
    assert obs == {"sin_inicio": 1, "antes_de_las_particiones": 1, "posteriores_a_hoy": 1}
    ajenas = "SELECT count(*) FROM ivr.llamadas WHERE centro_id IS DISTINCT FROM '12345678'"
    (fuente,) = ivr_writer.execute(ajenas).fetchone()
    assert fuente == len(cargadas) + len(rechazos) + sum(obs.values())


# Center values a legacy IVR writes: the allowed ones bare and padded, other centers bare and
# padded, and every way of being no center at all.
# (The source's column is varchar(8): a padded code is a shorter one with its spaces.)
CENTROS_DE_LA_FUENTE = [
    "19028031",
    "19020084",
    "11111111",
    " 1902803",
    "1902803 ",
    "1111111\t",
    None,
    "",
    "   ",
    "1902803",
    "1902803a",
    "abcdefgh",
    "1902 803",
    "١٩٠٢٨٠٣١",
]


def test_the_extraction_takes_exactly_the_allowed_and_the_malformed_centers(ivr_writer):
    # What the query takes, computed another way: an allowed center once trimmed, or no
    # 8-digit code at all (Python's own reading of the catalog's pattern).
    permitidos = ["19028031", "19020084"]
    esperados = {
        i
        for i, c in enumerate(CENTROS_DE_LA_FUENTE)
        if c is None or c.strip() in permitidos or not re.fullmatch(catalogo.CODIGO_CENTRO, c.strip(), re.ASCII)
    }
    for i, centro in enumerate(CENTROS_DE_LA_FUENTE):
        insertar(ivr_writer, "llamadas", [llamada(100 + i, centro_id=centro)])
    fuente = FUENTES["llamadas"]
    consulta = extraccion.consulta_extraccion(
        fuente, Ventana(date(2024, 3, 10), date(2024, 3, 11), ZONA.key), permitidos
    )
    tomados = {r[0] - 100 for r in ivr_writer.execute(f"SELECT llamada_id FROM ({consulta}) AS q").fetchall()}
    assert tomados == esperados
