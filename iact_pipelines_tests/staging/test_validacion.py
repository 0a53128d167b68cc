"""Validation rules on small frames (no database): what each rule flags, severities, the
critical cases, and the error rows built from the failures."""

import json
import re
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from iact_pipelines.demo import generador as demo
from iact_pipelines.fuentes.contrato import FUENTES
from iact_pipelines.plataforma.config import ConfigError
from iact_pipelines.plataforma.fechas import Ventana
from iact_pipelines.staging import extraccion, validacion

T0 = datetime(2024, 3, 10, 16, 0, tzinfo=UTC)
_TS = pa.timestamp("us", tz="UTC")
_LLAMADAS = pa.schema(
    [
        ("llamada_id", pa.int64()),
        ("centro_id", pa.string()),
        ("cliente_id", pa.string()),
        ("inicio", _TS),
        ("ingreso_cola", _TS),
        ("atencion", _TS),
        ("fin", _TS),
        ("resultado", pa.string()),
        ("fecha", pa.date32()),
        ("hora", pa.int16()),
    ]
)


def seg(n):
    return T0 + timedelta(seconds=n) if n is not None else None


def llamadas(*filas):
    """A frame as the extraction yields it; each fila: (id, cola, atencion, fin, resultado[, cliente, centro])
    with times in seconds after T0."""
    registros = []
    for f in filas:
        id_, cola, atencion, fin, resultado, *resto = f
        cliente, centro = (resto + ["C1", "19028031"][len(resto) :])[:2]
        registros.append(
            {
                "llamada_id": id_,
                "centro_id": centro,
                "cliente_id": cliente,
                "inicio": T0,
                "ingreso_cola": seg(cola),
                "atencion": seg(atencion),
                "fin": seg(fin),
                "resultado": resultado,
                "fecha": date(2024, 3, 10),
                "hora": 10,
            }
        )
    return extraccion.a_pandas(pa.Table.from_pylist(registros, schema=_LLAMADAS))


def fallas(resultado):
    return sorted(resultado.fallas[["fila", "regla", "campo", "severidad"]].itertuples(index=False, name=None))


def test_time_chain_skips_nulls_and_names_the_breaking_field():
    frame = llamadas(
        (1, None, None, 30, "IVR"),  # inicio <= fin: fine
        (2, None, None, -1, "IVR"),  # fin before inicio (queue and answer skipped)
        (3, 10, None, 5, "ABANDONADA"),  # fin before ingreso_cola
        (4, 10, 40, 30, "ATENDIDA"),  # fin before atencion
        (5, 10, 10, 10, "ATENDIDA"),  # all equal: fine
    )
    assert fallas(validacion.validar("llamadas", frame)) == [
        (1, "orden_tiempos", "fin", "error"),
        (2, "orden_tiempos", "fin", "error"),
        (3, "orden_tiempos", "fin", "error"),
    ]


def test_result_consistency_and_waits():
    frame = llamadas(
        (1, 10, None, 20, "ATENDIDA"),  # answered without atencion
        (2, None, None, 20, "ABANDONADA"),  # abandoned without queueing
        (3, 10, 3610, 3700, "ATENDIDA"),  # waited 3600 s: not over 1 h
        (4, 10, 3611, 3700, "ATENDIDA", None),  # waited 3601 s, unidentified: two warnings
        (5, 10, None, 3611, "ABANDONADA"),  # waited 3601 s, then hung up
        (6, None, None, 86401, "IVR"),  # 24 h and 1 s
    )
    resultado = validacion.validar("llamadas", frame)
    assert fallas(resultado) == [
        (0, "resultado_inconsistente", "atencion", "error"),
        (1, "resultado_inconsistente", "ingreso_cola", "error"),
        (3, "cliente_no_identificado", "cliente_id", "warning"),
        (3, "espera_excesiva", "atencion", "warning"),
        (4, "espera_excesiva", "fin", "warning"),
        (5, "duracion_excesiva", "fin", "error"),
    ]
    assert resultado.rechazadas.tolist() == [True, True, False, False, False, True]
    assert resultado.advertidas.tolist() == [False, False, False, True, True, False]
    assert resultado.por_regla() == {
        "cliente_no_identificado": 1,
        "duracion_excesiva": 1,
        "espera_excesiva": 2,
        "resultado_inconsistente": 2,
    }


def test_later_copies_are_chosen_by_id_not_by_row_order():
    filas = [
        {
            "evento_id": 30,
            "llamada_id": 1,
            "centro_id": "19028031",
            "menu_id": "MP",
            "menu_nombre": "x",
            "entrada": T0,
            "salida": None,
            "resultado": "OK",
            "fecha": date(2024, 3, 10),
            "hora": 10,
        },
        {
            "evento_id": 10,
            "llamada_id": 1,
            "centro_id": "19028031",
            "menu_id": "MP",
            "menu_nombre": "x",
            "entrada": T0,
            "salida": None,
            "resultado": "OK",
            "fecha": date(2024, 3, 10),
            "hora": 10,
        },
        {
            "evento_id": 20,
            "llamada_id": 1,
            "centro_id": "19028031",
            "menu_id": "MP",
            "menu_nombre": "x",
            "entrada": T0,
            "salida": None,
            "resultado": "OK",
            "fecha": date(2024, 3, 10),
            "hora": 10,
        },
    ]
    for orden in (filas, filas[::-1]):
        frame = extraccion.a_pandas(pa.Table.from_pylist(orden))
        resultado = validacion.validar("menu_eventos", frame)
        rechazados = sorted(frame.loc[resultado.rechazadas, "evento_id"].tolist())
        assert rechazados == [20, 30]


def test_missing_column_and_unreadable_type_are_critical():
    frame = llamadas((1, None, None, 30, "IVR")).drop(columns=["cliente_id"])
    resultado = validacion.validar("llamadas", frame)
    assert resultado.criticos[["regla", "campo"]].values.tolist() == [["columna_faltante", "cliente_id"]]
    assert resultado.criticos["mensaje"].tolist() == ["la columna cliente_id falta en la fuente"]

    frame = llamadas((1, None, None, 30, "IVR"), (2, None, None, 30, "IVR"))
    frame["fin"] = frame["fin"].astype(str)
    frame.loc[1, "fin"] = "mañana"
    criticos = validacion.validar("llamadas", frame).criticos
    tipo = criticos[criticos["regla"] == "tipo_invalido"]
    assert tipo[["campo", "fila", "casos"]].values.tolist() == [["fin", 1, 1]]


def test_a_frame_of_other_compatible_types_is_coerced_and_gives_the_same_failures():
    filas = [(1, None, None, 30, "IVR"), (2, 5, None, 1, "ABANDONADA"), (2, 3, 9, 60, "ATENDIDA", None)]
    exacto = llamadas(*filas)
    assert validacion._tipos_exactos("llamadas", exacto)  # as the extraction yields it: not coerced
    otro = exacto.astype({"llamada_id": "int32", "fin": "datetime64[ms, UTC]", "resultado": object})
    assert not validacion._tipos_exactos("llamadas", otro)
    uno, dos = validacion.validar("llamadas", exacto), validacion.validar("llamadas", otro)
    assert uno.criticos.empty and dos.criticos.empty
    columnas = ["fila", "regla", "campo", "severidad"]
    assert sorted(uno.fallas[columnas].values.tolist()) == sorted(dos.fallas[columnas].values.tolist())
    assert set(uno.fallas["regla"]) == {"id_duplicado", "orden_tiempos", "cliente_no_identificado"}


def test_error_rows_most_severe_first_with_the_record_as_json():
    grande = 2**62 + 1  # beyond float precision: must stay exact
    frame = llamadas(
        (7, None, None, 30, "IVR", None),
        (grande, None, None, 30, "BUZON"),
        (3, None, None, None, "IVR", "C'9"),
    )
    resultado = validacion.validar("llamadas", frame)
    filas = validacion.filas_de_error(
        frame, resultado, id_col="llamada_id", columnas=list(FUENTES["llamadas"].columnas)
    )
    assert filas[["record_id", "error_type", "field_name", "severity"]].values.tolist() == [
        ["3", "nulo_requerido", "fin", "error"],
        [str(grande), "resultado_desconocido", "resultado", "error"],
        ["7", "cliente_no_identificado", "cliente_id", "warning"],
    ]
    assert filas["partition_key"].tolist() == ["2024-03-10"] * 3
    assert filas["error_message"].tolist() == [
        "fin es obligatorio y viene NULL",
        "resultado 'BUZON' no es un resultado conocido",
        "cliente_id es NULL: llamante no identificado",
    ]
    assert json.loads(filas.loc[1, "record_data"]) == {
        "llamada_id": grande,
        "centro_id": "19028031",
        "cliente_id": "C1",
        "inicio": "2024-03-10T16:00:00.000000Z",
        "ingreso_cola": None,
        "atencion": None,
        "fin": "2024-03-10T16:00:30.000000Z",
        "resultado": "BUZON",
    }
    assert json.loads(filas.loc[0, "record_data"])["cliente_id"] == "C'9"


def test_extraction_query_binds_values_as_literals():
    fuente = FUENTES["transferencias"]
    ventana = Ventana(date(2024, 3, 10), date(2024, 3, 12), "America/Mexico_City")
    consulta = extraccion.consulta_extraccion(fuente, ventana, ["19028031", "19020084"])
    assert "btrim(t.\"centro_origen\") = ANY('{19028031,19020084}'::text[])" in consulta
    assert "t.\"inicio\" >= '2024-03-10 00:00:00-06:00'::timestamptz" in consulta
    assert "t.\"inicio\" < '2024-03-12 00:00:00-06:00'::timestamptz" in consulta
    with pytest.raises(ConfigError):
        extraccion.consulta_extraccion(fuente, ventana, ["19028031'); DROP TABLE x; --"])


def dia_demo(tabla: str) -> pa.Table:
    """A 20k-call demo day of `tabla` (it carries every defect kind the generator injects) as
    the extraction yields it: the types the source declares (the generator writes dictionaries and
    seconds), with the local day and hour."""
    zona = "America/Mexico_City"
    origen = getattr(demo.dia_completo(date(2025, 3, 4), 20_000, 7, zona), tabla)
    origen = origen.cast(
        pa.schema(
            (
                f.name,
                f.type.value_type
                if pa.types.is_dictionary(f.type)
                else _TS
                if pa.types.is_timestamp(f.type)
                else f.type,
            )
            for f in origen.schema
        )
    )
    return extraccion.con_dia_local(origen, FUENTES[tabla].inicio, zona)


@pytest.mark.parametrize("tabla", list(FUENTES))
def test_checks_read_one_by_one_find_what_pandera_lazy_validation_reports(tabla, monkeypatch):
    # A demo day carries every defect kind the generator injects. The frame as the extraction
    # yields it takes the direct path (each check's output read off); the same frame through pandera's
    # lazy validation and its failure-case report must give the same failures and error rows.
    fuente = FUENTES[tabla]
    frame = extraccion.a_pandas(dia_demo(tabla))
    assert validacion._tipos_exactos(tabla, frame)
    for entre_filas in (True, False):
        directo = validacion.validar(tabla, frame, entre_filas=entre_filas)
        with monkeypatch.context() as m:
            m.setattr(validacion, "_fallas_de_los_checks", lambda *_: None)
            completo = validacion.validar(tabla, frame, entre_filas=entre_filas)
        assert directo.criticos.empty and completo.criticos.empty
        assert sorted(fallas(directo)) == sorted(fallas(completo))
        reglas = set(directo.fallas["regla"])
        assert len(reglas) >= 3, reglas  # several rules, their messages quoting values included
        filas = [
            validacion.filas_de_error(f, r, id_col=fuente.id, columnas=list(fuente.columnas))
            for f, r in ((frame, directo), (frame, completo))
        ]
        assert len(filas[0]) == len(directo.fallas) > 0
        assert filas[0].equals(filas[1])


def test_center_codes_are_matched_once_per_distinct_value_with_the_regex_verdict():
    valores = ["19028031", "1902803", " 19028031", "19028031 ", "ABCDEFGH", "190280311", None, "19028031", "٠١٢٣٤٥٦٧"]
    serie = pd.Series(valores * 3, dtype=pd.StringDtype("pyarrow"))
    esperado = [v is not None and re.fullmatch(r"[0-9]{8}", v) is not None for v in valores * 3]
    assert validacion._centro_valido(serie).tolist() == esperado


@pytest.mark.parametrize("tabla", list(FUENTES))
def test_duplicate_rules_over_the_candidate_rows_find_what_they_find_over_every_row(tabla):
    # The whole batch's duplicate rules run on the rows whose numeric keys repeat. A demo day
    # (its copied ids and re-logged events), plus rows that share the numeric keys but not the
    # text one, NULL keys, and a second copy of a copy: the same failures either way.
    fuente = FUENTES[tabla]
    claves = dia_demo(tabla).select(validacion.columnas_duplicados(tabla))
    extra = claves.slice(0, 6).to_pylist()
    for i, fila in enumerate(extra):
        if i == 0:
            fila.update({c: None for c in fila if c != fuente.id})  # NULL keys
        elif "menu_id" in fila and i == 1:
            fila["menu_id"] = (fila["menu_id"] or "") + "X"  # same llamada and entrada, other menu
        elif i == 2:
            fila[fuente.id] = None
    claves = pa.concat_tables([claves, pa.Table.from_pylist(extra + extra[3:], schema=claves.schema)])
    todas = validacion.duplicados(tabla, extraccion.a_pandas(claves))
    filas = validacion.filas_candidatas(tabla, claves)
    candidatas = extraccion.a_pandas(claves.take(pa.array(filas))).set_axis(pd.Index(filas))
    pocas = validacion.duplicados(tabla, candidatas)
    assert len(todas) > 6
    assert len(filas) < claves.num_rows / 5
    pd.testing.assert_frame_equal(pocas.reset_index(drop=True), todas.reset_index(drop=True))


def test_rows_taken_chunk_by_chunk_are_the_rows_table_take_returns():
    # Positions across chunk boundaries, unsorted, repeated, none: Table.take's answer, without
    # its concatenation of the whole table.
    tabla = dia_demo("menu_eventos")
    trozos = pa.concat_tables([tabla.slice(i, 97) for i in range(0, tabla.num_rows, 97)])
    assert trozos.column(0).num_chunks > 3
    for filas in ([], [0], [trozos.num_rows - 1, 0, 96, 97, 97, 5], list(range(0, trozos.num_rows, 7))[::-1]):
        assert extraccion.tomar(trozos, np.array(filas, dtype=np.int64)).equals(
            trozos.take(pa.array(filas, pa.int64()))
        )
    with pytest.raises(IndexError):
        extraccion.tomar(trozos, np.array([trozos.num_rows]))


def test_a_copy_without_an_id_is_rejected_not_crashed_on():
    # It raised "Cannot mask with non-boolean array containing NA" and failed the whole day.
    base = {"llamada_id": 1, "menu_id": "MP", "entrada": T0}
    claves = extraccion.a_pandas(
        pa.Table.from_pylist(
            [{"evento_id": 10, **base}, {"evento_id": None, **base}, {"evento_id": 5, **base}],
            schema=pa.schema(
                [("evento_id", pa.int64()), ("llamada_id", pa.int64()), ("menu_id", pa.string()), ("entrada", _TS)]
            ),
        )
    )
    fallas = validacion.duplicados("menu_eventos", claves)
    assert sorted(fallas["fila"].tolist()) == [0, 1]
    assert set(fallas["campo"]) == {"llamada_id,menu_id,entrada"}
