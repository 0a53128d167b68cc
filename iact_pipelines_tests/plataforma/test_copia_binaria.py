"""`copia_binaria.copiar`: every supported Arrow type survives a real binary COPY into
PostgreSQL and reads back equal, NULLs and edge values included."""

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest
from psycopg import sql

from iact_pipelines.plataforma import copia_binaria

_DESTINO = """
CREATE TEMP TABLE copia (
    fila integer, i16 smallint, i16_n smallint, i32 integer, i32_n integer, i64 bigint, i64_n bigint,
    b boolean, b_n boolean, d date, d_n date,
    ts_s timestamptz, ts_ms_n timestamptz, ts_us_n timestamptz, ts_ns_n timestamptz, ts_sin_zona timestamp,
    texto text, texto_n varchar(20), largo_n text, dic_n varchar(20), dic_largo_n text
)
"""
_COLUMNAS = (
    "fila, i16, i16_n, i32, i32_n, i64, i64_n, b, b_n, d, d_n, ts_s, ts_ms_n, ts_us_n, ts_ns_n, ts_sin_zona,"
    " texto, texto_n, largo_n, dic_n, dic_largo_n"
)

_ALUNIZAJE = datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC)  # before 1970 and before 2000

# Expected rows as PostgreSQL returns them (the connection runs with timezone=UTC); every column
# ending in _n has a NULL somewhere, the others have none (they take the packed-record path).
_ESPERADO = [
    (
        0,
        -32768,
        None,
        -2147483648,
        7,
        -9223372036854775808,
        None,
        True,
        None,
        date(1900, 1, 1),
        None,
        _ALUNIZAJE,
        None,
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        None,
        datetime(1850, 3, 4, 5, 6, 7),
        "Mérida",
        None,
        "",
        None,
        None,
    ),
    (
        1,
        32767,
        5,
        2147483647,
        None,
        9223372036854775807,
        -1,
        False,
        False,
        date(1999, 12, 31),
        date(1970, 1, 1),
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2024, 3, 10, 8, 0, 0, 123000, tzinfo=UTC),
        None,
        datetime(1901, 12, 13, 20, 45, 52, 1, tzinfo=UTC),
        datetime(2000, 1, 1),
        "",
        "日本語 📞",
        None,
        "Mérida",
        "ñ",
    ),
    (
        2,
        0,
        -7,
        0,
        -5,
        0,
        42,
        True,
        True,
        date(2000, 1, 1),
        date(1969, 12, 31),
        datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
        datetime(1960, 1, 1, 6, 0, tzinfo=UTC),
        datetime(2025, 5, 1, 12, 0, 0, 1, tzinfo=UTC),
        datetime(2262, 4, 11, tzinfo=UTC),
        datetime(2262, 4, 11, 23, 47, 16),
        "a\tb\nc\\d,\"e'",
        "x",
        "😀" * 5,
        "Tijuana",
        None,
    ),
]


def _tabla() -> pa.Table:
    """The expected rows in every Arrow type the loader takes, columns in another order than the
    target's (COPY matches them by name) and split in chunks with their own dictionaries."""

    def columna(i: int) -> list:
        return [fila[i] for fila in _ESPERADO]

    def trozos(valores: list, tipo: pa.DataType) -> pa.ChunkedArray:
        return pa.chunked_array([pa.array(valores[:2], tipo), pa.array(valores[2:], tipo)])

    def dic(valores: list, tipo: pa.DataType) -> pa.ChunkedArray:
        # Each chunk its own dictionary with an unused entry; a NULL comes from a NULL entry of the
        # dictionary in the first chunk and from a NULL index in the second.
        primero = ["zzz", None, "Mérida", "ñ"]
        segundo = ["Tijuana", "zzz"]
        indices = (
            [primero.index(v) for v in valores[:2]],
            [None if v is None else segundo.index(v) for v in valores[2:]],
        )
        return pa.chunked_array(
            [
                pa.DictionaryArray.from_arrays(pa.array(indices[0], pa.int8()), pa.array(primero, tipo)),
                pa.DictionaryArray.from_arrays(pa.array(indices[1], pa.int8()), pa.array(segundo, tipo)),
            ]
        )

    return pa.table(
        {
            "texto": trozos(columna(16), pa.string()),
            "ts_ns_n": pa.array(columna(14), pa.timestamp("ns", tz="UTC")),
            "fila": pa.array(columna(0), pa.int32()),
            "i16": pa.array(columna(1), pa.int16()),
            "i16_n": pa.array(columna(2), pa.int16()),
            "i32": trozos(columna(3), pa.int32()),
            "i32_n": pa.array(columna(4), pa.int32()),
            "i64": pa.array(columna(5), pa.int64()),
            "i64_n": trozos(columna(6), pa.int64()),
            "b": pa.array(columna(7), pa.bool_()),
            "b_n": trozos(columna(8), pa.bool_()),
            "d": pa.array(columna(9), pa.date32()),
            "d_n": pa.array(columna(10), pa.date32()),
            "ts_s": pa.array(columna(11), pa.timestamp("s", tz="UTC")),
            # Zone other than UTC: built by a cast, as pa.array() ignores the tzinfo of Python datetimes
            # once pandera is imported (it sets PYARROW_IGNORE_TIMEZONE=1 for the whole process).
            "ts_ms_n": pa.array(columna(12), pa.timestamp("ms", tz="UTC")).cast(
                pa.timestamp("ms", "America/Mexico_City")
            ),
            "ts_us_n": trozos(columna(13), pa.timestamp("us", tz="UTC")),
            "ts_sin_zona": pa.array(columna(15), pa.timestamp("us")),
            "texto_n": pa.array(columna(17), pa.string()),
            "largo_n": trozos(columna(18), pa.large_string()),
            "dic_n": dic(columna(19), pa.string()),
            "dic_largo_n": dic(columna(20), pa.large_string()),
        }
    )


@pytest.mark.parametrize("filas_por_envio", [200_000, 2])
def test_every_type_round_trips(warehouse, monkeypatch, filas_por_envio):
    monkeypatch.setattr(copia_binaria, "FILAS_POR_ENVIO", filas_por_envio)
    warehouse.execute(_DESTINO)
    tabla = _tabla()
    assert copia_binaria.copiar(warehouse, sql.Identifier("copia"), tabla) == 3
    assert warehouse.execute(f"SELECT {_COLUMNAS} FROM copia ORDER BY fila").fetchall() == _ESPERADO
