"""COPY an Arrow table into PostgreSQL in the binary format, encoded with vectorized Arrow and
numpy operations (no Python work per row).

Binary skips the server's text parsing of every value (timestamps above all), and the encoding
of one block runs while a worker thread sends the previous one, so both cores stay busy.
Supported column types: int64, boolean, timestamp (any unit; as timestamptz), string and
dictionary<string> (as text/varchar). Format reference: PostgreSQL docs, COPY, "Binary Format".
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

# Signature, flags (int32 0) and header-extension length (int32 0); the trailer is a -1 field count.
CABECERA = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
FIN = b"\xff\xff"
FILAS_POR_ENVIO = 200_000

_NULO = pa.scalar(b"\xff\xff\xff\xff", pa.binary())  # a field of length -1
_SIN_SEPARADOR = pa.scalar(b"", pa.binary())
_EPOCA_PG_US = 946_684_800 * 1_000_000  # 2000-01-01T00:00:00Z in Unix microseconds


def _es_fija(tipo: pa.DataType) -> bool:
    return pa.types.is_int64(tipo) or pa.types.is_timestamp(tipo) or pa.types.is_boolean(tipo)


def _valores_fijos(col: pa.Array) -> np.ndarray:
    """Big-endian values of a fixed-width column (NULLs as zeros; the caller masks them)."""
    if pa.types.is_timestamp(col.type):
        micros = pc.cast(col.cast(pa.timestamp("us", tz=col.type.tz)), pa.int64()).fill_null(0).to_numpy()
        return (micros - _EPOCA_PG_US).astype(">i8")
    if pa.types.is_boolean(col.type):
        return col.fill_null(False).to_numpy(zero_copy_only=False).astype(">i1")
    return col.fill_null(0).to_numpy().astype(">i8")


def _como_binario(registros: np.ndarray) -> pa.Array:
    """A numpy array of fixed-size records as an Arrow binary array, one record per element."""
    ancho = registros.dtype.itemsize
    fijo = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(ancho), len(registros), [None, pa.py_buffer(registros.tobytes())]
    )
    return fijo.cast(pa.binary())


def _campo(col: pa.Array) -> pa.Array:
    """One field per row as binary: int32 length + value, or length -1 for NULL."""
    if pa.types.is_dictionary(col.type):
        codificados = [s.encode() for s in col.dictionary.to_pylist()]
        diccionario = pa.array([len(b).to_bytes(4, "big") + b for b in codificados], pa.binary())
        campo = diccionario.take(col.indices)
    elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        largos = pc.binary_length(col).fill_null(0).to_numpy().astype(">i4")
        campo = pc.binary_join_element_wise(_como_binario(largos), col.cast(pa.binary()), _SIN_SEPARADOR)
    elif _es_fija(col.type):
        valores = _valores_fijos(col)
        registros = np.empty(len(col), dtype=[("largo", ">i4"), ("valor", valores.dtype)])
        registros["largo"] = valores.dtype.itemsize
        registros["valor"] = valores
        campo = _como_binario(registros)
        if col.null_count:
            campo = pc.if_else(col.is_null(), _NULO, campo)
    else:
        raise TypeError(f"binary COPY of {col.type} is not supported")
    return pc.fill_null(campo, _NULO) if campo.null_count else campo


def orden_columnas(tabla: pa.Table) -> tuple[list[str], int]:
    """COPY column order, and how many lead it: fixed-width columns without NULLs in the whole
    table, which share one fixed-size record per row (cheaper than a field each)."""
    fijas = [c for c in tabla.column_names if _es_fija(tabla.schema.field(c).type) and tabla[c].null_count == 0]
    return fijas + [c for c in tabla.column_names if c not in fijas], len(fijas)


def filas(tabla: pa.Table, columnas: list[str], n_fijas: int) -> memoryview:
    """The binary COPY rows (no header or trailer) of a table or a slice of it."""
    fijas = columnas[:n_fijas]
    valores = {c: _valores_fijos(tabla[c].combine_chunks()) for c in fijas}
    dtype = [("campos", ">i2")]
    for i, c in enumerate(fijas):
        dtype += [(f"l{i}", ">i4"), (f"v{i}", valores[c].dtype)]
    registros = np.empty(tabla.num_rows, dtype=dtype)
    registros["campos"] = len(columnas)
    for i, c in enumerate(fijas):
        registros[f"l{i}"] = valores[c].dtype.itemsize
        registros[f"v{i}"] = valores[c]
    resto = [_campo(tabla[c].combine_chunks()) for c in columnas[n_fijas:]]
    if not resto:
        return memoryview(registros.tobytes())
    unidas = pc.binary_join_element_wise(_como_binario(registros), *resto, _SIN_SEPARADOR)
    offsets = np.frombuffer(unidas.buffers()[1], dtype=np.int32)
    desde, hasta = offsets[unidas.offset], offsets[unidas.offset + len(unidas)]
    return memoryview(unidas.buffers()[2])[desde:hasta]


def copiar(cur: psycopg.Cursor, esquema: str, nombre: str, tabla: pa.Table) -> None:
    """COPY every row of `tabla` into esquema.nombre (columns matched by name)."""
    columnas, n_fijas = orden_columnas(tabla)
    lista = sql.SQL(", ").join(sql.Identifier(c) for c in columnas)
    consulta = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(sql.Identifier(esquema, nombre), lista)
    # The queued writer sends from a worker thread while this one encodes the next block.
    with cur.copy(consulta, writer=QueuedLibpqWriter(cur)) as copy:
        copy.write(CABECERA)
        for desde in range(0, tabla.num_rows, FILAS_POR_ENVIO):
            copy.write(filas(tabla.slice(desde, FILAS_POR_ENVIO), columnas, n_fijas))
        copy.write(FIN)
