"""`iact demo seed`: deterministic, re-seedable, and the documented mix (the generator's
docstring: centers, results, transfers, clients, each defect kind) measured with SQL on the
real source tables."""

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from iact_pipelines.cli import main
from iact_pipelines.demo import generador as demo
from iact_pipelines.plataforma import copia_binaria
from iact_pipelines.plataforma.config import CENTRO_NACIONAL, CENTRO_PUEBLA

# A fingerprint of every row of one table, ordered by id (ids included).
_HUELLA = {
    "llamadas": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY llamada_id)) FROM ivr.llamadas t",
    "menu_eventos": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY evento_id)) FROM ivr.menu_eventos t",
    "transferencias": (
        "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY transferencia_id)) FROM ivr.transferencias t"
    ),
}
_HUELLA_DIA = {
    "llamadas": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY llamada_id)) FROM ivr.llamadas t"
    " WHERE llamada_id BETWEEN %s AND %s",
    "menu_eventos": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY evento_id)) FROM ivr.menu_eventos t"
    " WHERE evento_id BETWEEN %s AND %s",
    "transferencias": "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY transferencia_id))"
    " FROM ivr.transferencias t WHERE transferencia_id BETWEEN %s AND %s",
}


def _huellas(conn):
    return {tabla: conn.execute(q).fetchone() for tabla, q in _HUELLA.items()}


def _huellas_dia(conn, dia):
    rangos = demo.rangos_id(dia)
    return {tabla: conn.execute(q, rangos[tabla]).fetchone() for tabla, q in _HUELLA_DIA.items()}


def test_seed_is_deterministic_and_reseeding_replaces(urls, ivr_writer, capsys):
    d1, d2, d3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)
    assert (
        main(
            [
                "demo",
                "seed",
                "--desde",
                "2025-03-01",
                "--hasta",
                "2025-03-02",
                "--llamadas-por-dia",
                "1500",
                "--semilla",
                "7",
            ]
        )
        == 0
    )
    salida = capsys.readouterr().out
    assert "ivr.llamadas: 3,000 filas cargadas" in salida
    assert "ivr.menu_eventos:" in salida and "ivr.transferencias:" in salida
    primera = _huellas(ivr_writer)
    dia1, dia2 = _huellas_dia(ivr_writer, d1), _huellas_dia(ivr_writer, d2)
    assert primera["llamadas"][0] == 3000

    # Same seed, same range, again: identical rows, nothing duplicated.
    filas = demo.seed(urls.ivr, d1, d2, 1500, 7)
    assert _huellas(ivr_writer) == primera
    assert filas == {tabla: primera[tabla][0] for tabla in demo.TABLAS}

    # A day's rows do not depend on the range it was seeded in.
    demo.seed(urls.ivr, d2, d3, 1500, 7)
    assert _huellas_dia(ivr_writer, d1) == dia1
    assert _huellas_dia(ivr_writer, d2) == dia2
    assert ivr_writer.execute("SELECT count(*) FROM ivr.llamadas").fetchone()[0] == 4500

    # Another seed gives other rows (and replaces the day's, never adds to them).
    demo.seed(urls.ivr, d1, d1, 1500, 8)
    otro = _huellas_dia(ivr_writer, d1)
    assert otro["llamadas"][0] == 1500 and otro["llamadas"][1] != dia1["llamadas"][1]
    assert otro["menu_eventos"][1] != dia1["menu_eventos"][1]
    assert ivr_writer.execute("SELECT count(*) FROM ivr.llamadas").fetchone()[0] == 4500


def test_loaded_rows_equal_generated_ones(urls, ivr_writer, monkeypatch):
    # Small hour blocks and COPY sends, so both kinds of boundaries are crossed.
    monkeypatch.setattr(demo, "LLAMADAS_POR_BLOQUE", 150)
    monkeypatch.setattr(copia_binaria, "FILAS_POR_ENVIO", 97)
    dia = date(2024, 11, 3)
    generado = demo.dia_completo(dia, 800, 5, "America/Mexico_City")
    demo.seed(urls.ivr, dia, dia, 800, 5, zona="America/Mexico_City")
    for tabla in demo.TABLAS:
        esperado = getattr(generado, tabla)
        columnas = ", ".join(esperado.column_names)
        cur = ivr_writer.execute(f"SELECT {columnas} FROM ivr.{tabla} ORDER BY 1")
        cargado = [dict(zip(esperado.column_names, fila, strict=True)) for fila in cur.fetchall()]
        assert cargado == esperado.to_pylist(), tabla
        # NULLs of every nullable kind made it through (timestamps, strings, bigint, boolean).
        assert any(None in fila.values() for fila in cargado)
    # Ids ascend with time across blocks, as in a legacy log.
    inicios = [fila["inicio"] for fila in generado.llamadas.to_pylist()]
    assert inicios == sorted(inicios)


@pytest.mark.parametrize("zona, dia", [("America/New_York", date(2025, 3, 9)), ("America/New_York", date(2025, 11, 2))])
def test_calls_start_on_their_local_day_across_dst_changes(zona, dia):
    llamadas = demo.dia_completo(dia, 2000, 1, zona).llamadas
    assert {i.astimezone(ZoneInfo(zona)).date() for i in llamadas["inicio"].to_pylist()} == {dia}


@pytest.mark.parametrize(
    "argv, mensaje",
    [
        (["--desde", "2025-03-02", "--hasta", "2025-03-01"], "--hasta 2025-03-01 es anterior a --desde 2025-03-02"),
        (["--desde", "2025-02-30", "--hasta", "2025-03-01"], "--desde: '2025-02-30' no es una fecha"),
        (["--desde", "2025-03-01", "--hasta", "2025-03-01", "--llamadas-por-dia", "0"], "entre 1 y"),
        (["--desde", "2025-03-01", "--hasta", "2025-03-01", "--llamadas-por-dia", "mil"], "no es un número entero"),
    ],
)
def test_bad_arguments_stop_with_one_line(argv, mensaje, capsys):
    assert main(["demo", "seed", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("iact: error: ") and mensaje in err


def _tasa(conn, condicion: str, tabla: str) -> float:
    # condicion is a constant from this file, not user input.
    return conn.execute(f"SELECT avg(CASE WHEN {condicion} THEN 1.0 ELSE 0 END) FROM ivr.{tabla}").fetchone()[0]


# Each defect kind the generator injects, as SQL over the source; ~1% of rows each.
DEFECTOS_LLAMADAS = {
    "nulo_requerido": "fin IS NULL OR resultado IS NULL",
    "resultado_desconocido": "resultado NOT IN ('ATENDIDA', 'ABANDONADA', 'IVR')",
    "orden_tiempos": "ingreso_cola < inicio OR atencion < coalesce(ingreso_cola, inicio)"
    " OR fin < coalesce(atencion, ingreso_cola, inicio)",
    "resultado_inconsistente": "(resultado = 'ATENDIDA' AND (ingreso_cola IS NULL OR atencion IS NULL))"
    " OR (resultado = 'ABANDONADA' AND (ingreso_cola IS NULL OR atencion IS NOT NULL))"
    " OR (resultado = 'IVR' AND (ingreso_cola IS NOT NULL OR atencion IS NOT NULL))",
    "duracion_excesiva": "fin - inicio > interval '24 hours'",
}
DEFECTOS_EVENTOS = {
    "nulo_requerido": "llamada_id IS NULL OR menu_id IS NULL OR menu_nombre IS NULL OR resultado IS NULL",
    "resultado_desconocido": "resultado NOT IN ('OK', 'ABANDONO', 'TIMEOUT', 'ERROR')",
    "orden_tiempos": "salida < entrada",
}
DEFECTOS_TRANSFERENCIAS = {
    "nulo_requerido": "llamada_id IS NULL OR centro_destino IS NULL OR exitosa IS NULL",
    "centro_malformado": "centro_destino !~ '^[0-9]{8}$'",
    "orden_tiempos": "fin < inicio",
    "resultado_inconsistente": "exitosa AND fin IS NULL",
}


def test_seeded_mix_matches_the_documented_one(urls, ivr_writer):
    # Three days across a month boundary, 5000 calls each.
    filas = demo.seed(urls.ivr, date(2025, 1, 31), date(2025, 2, 2), 5000, 42, zona="America/Mexico_City")
    q = ivr_writer.execute
    assert q("SELECT count(*) FROM ivr.llamadas").fetchone()[0] == filas["llamadas"] == 15000

    # Six centers; Nacional and Puebla hold ~60% of calls.
    centros = dict(q("SELECT centro_id, count(*) FROM ivr.llamadas GROUP BY 1").fetchall())
    assert len(centros) == 6 and all(len(c) == 8 and c.isdigit() for c in centros)
    permitidos = (centros[CENTRO_NACIONAL] + centros[CENTRO_PUEBLA]) / 15000
    assert 0.57 <= permitidos <= 0.63

    # Outcomes ~75 / 10 / 15 (defects move ~2% of labels): the queue decides who is answered.
    resultados = dict(q("SELECT resultado, count(*) / 15000.0 FROM ivr.llamadas GROUP BY 1").fetchall())
    assert 0.70 <= resultados["ATENDIDA"] <= 0.80
    assert 0.07 <= resultados["ABANDONADA"] <= 0.14
    assert 0.12 <= resultados["IVR"] <= 0.18

    # Every call starts on its local day (seeded days only); the arrival curve peaks late morning.
    dias = q("SELECT DISTINCT (inicio AT TIME ZONE 'America/Mexico_City')::date FROM ivr.llamadas ORDER BY 1")
    assert [d for (d,) in dias.fetchall()] == [date(2025, 1, 31), date(2025, 2, 1), date(2025, 2, 2)]
    por_hora = dict(
        q(
            "SELECT extract(hour FROM inicio AT TIME ZONE 'America/Mexico_City')::int, count(*)"
            " FROM ivr.llamadas GROUP BY 1"
        ).fetchall()
    )
    assert por_hora[11] > 10 * por_hora[3]
    assert por_hora[16] > 5 * por_hora[3]

    # A real center's queue (Brown et al., JASA 2005, and the usual 80/20 target), on clean calls:
    # service level 70-85 % at 20 s, 5-15 % of queued callers abandon, ASA well under a minute,
    # about 3 minutes of talk.
    nivel, abandono, asa, conversacion = q(
        "SELECT count(*) FILTER (WHERE resultado = 'ATENDIDA' AND atencion - ingreso_cola <= interval '20 s')::numeric"
        "       / count(*),"
        "       avg((resultado = 'ABANDONADA')::int),"
        "       avg(extract(epoch FROM atencion - ingreso_cola)) FILTER (WHERE resultado = 'ATENDIDA'),"
        "       avg(extract(epoch FROM fin - atencion)) FILTER (WHERE resultado = 'ATENDIDA')"
        " FROM ivr.llamadas WHERE resultado IN ('ATENDIDA', 'ABANDONADA') AND ingreso_cola >= inicio"
        " AND (atencion IS NULL) = (resultado = 'ABANDONADA') AND fin >= coalesce(atencion, ingreso_cola)"
        " AND fin - inicio < interval '24 hours' AND coalesce(atencion, fin) - ingreso_cola < interval '1 hour'"
    ).fetchone()
    assert 0.70 <= nivel <= 0.85 and 0.05 <= abandono <= 0.15
    assert 5 <= asa <= 45 and 150 <= conversacion <= 210

    # Defects: ~0.6% of rows per kind and table (demo.TASA_POR_DEFECTO); 8% unidentified callers; a few waits over an hour.
    for nombre, condicion in DEFECTOS_LLAMADAS.items():
        assert 0.004 <= _tasa(ivr_writer, condicion, "llamadas") <= 0.008, nombre
    for nombre, condicion in DEFECTOS_EVENTOS.items():
        assert 0.0045 <= _tasa(ivr_writer, condicion, "menu_eventos") <= 0.0075, nombre
    for nombre, condicion in DEFECTOS_TRANSFERENCIAS.items():
        assert 0.002 <= _tasa(ivr_writer, condicion, "transferencias") <= 0.012, nombre
    eventos, duplicados = q(
        "SELECT count(*), count(*) - count(DISTINCT (llamada_id, menu_id, entrada)) FROM ivr.menu_eventos"
        " WHERE llamada_id IS NOT NULL AND menu_id IS NOT NULL"
    ).fetchone()
    assert 0.0045 <= duplicados / eventos <= 0.0075
    transferencias, duplicadas = q(
        "SELECT count(*), count(*) - count(DISTINCT (llamada_id, inicio)) FROM ivr.transferencias"
        " WHERE llamada_id IS NOT NULL"
    ).fetchone()
    assert 0.002 <= duplicadas / transferencias <= 0.012
    assert 0.065 <= _tasa(ivr_writer, "cliente_id IS NULL", "llamadas") <= 0.095
    esperas_largas = q(
        "SELECT count(*) FROM ivr.llamadas"
        " WHERE (resultado = 'ATENDIDA' AND atencion - ingreso_cola > interval '1 hour')"
        " OR (resultado = 'ABANDONADA' AND fin - ingreso_cola > interval '1 hour')"
    ).fetchone()[0]
    assert 5 <= esperas_largas <= 0.01 * 15000

    # ~4 menu events per call over a tree of menus with Spanish names.
    assert 3.5 <= filas["menu_eventos"] / 15000 <= 4.5
    menus = dict(
        q(
            "SELECT DISTINCT menu_id, menu_nombre FROM ivr.menu_eventos WHERE menu_id IS NOT NULL"
            " AND menu_nombre IS NOT NULL"
        ).fetchall()
    )
    assert menus["MP"] == "Menú principal" and menus["MP.1"] == "Consulta de saldo"
    assert len(menus) >= 15
    assert all(m == "MP" or m.rsplit(".", 1)[0] in menus for m in menus)  # every parent exists
    assert q("SELECT count(DISTINCT llamada_id) FROM ivr.menu_eventos").fetchone()[0] == 15000

    # ~10% of calls transferred, some out of the allowed pair.
    assert 0.08 <= q("SELECT count(DISTINCT llamada_id) FROM ivr.transferencias").fetchone()[0] / 15000 <= 0.12
    fuera = q(
        "SELECT count(*) FROM ivr.transferencias WHERE centro_origen = ANY(%s) AND centro_destino ~ '^[0-9]{8}$'"
        " AND NOT centro_destino = ANY(%s)",
        ([CENTRO_NACIONAL, CENTRO_PUEBLA], [CENTRO_NACIONAL, CENTRO_PUEBLA]),
    ).fetchone()[0]
    assert fuera >= 50

    # Repeat callers across days and across the month boundary.
    repetidos, entre_meses = q(
        "SELECT count(*) FILTER (WHERE dias > 1), count(*) FILTER (WHERE meses > 1) FROM ("
        " SELECT cliente_id, count(DISTINCT (inicio AT TIME ZONE 'America/Mexico_City')::date) AS dias,"
        "  count(DISTINCT date_trunc('month', inicio AT TIME ZONE 'America/Mexico_City')) AS meses"
        " FROM ivr.llamadas WHERE cliente_id IS NOT NULL GROUP BY cliente_id) c"
    ).fetchone()
    assert repetidos >= 500 and entre_meses >= 300
