"""Bulk reading from the IVR source into Arrow: a batch's rows of the allowed centers, streamed
in chunks, with the local day and hour of each row's start.

Extraction goes through ADBC, which streams a query as binary COPY straight into Arrow
(measured 3x faster than CSV, 15x faster than `read_sql`). The allowed centers and the window
are filtered in the SQL, so rows of other centers never reach Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from iact_pipelines.fuentes.contrato import Fuente
from iact_pipelines.plataforma import catalogo, config, db, ejecuciones
from iact_pipelines.plataforma.fechas import Ventana
from iact_pipelines.plataforma.resources import fuente_no_disponible, sin_secretos


class FuenteInutilizable(Exception):
    """The source no longer matches the contract (a column or table is missing, a type changed)."""

    def __init__(self, mensaje: str, campo: str | None = None):
        super().__init__(mensaje)
        self.campo = campo


# Only the filter runs in PostgreSQL: `fecha`/`hora` are derived in Arrow after the fetch
# (measured: computing them with AT TIME ZONE in the query costs 1.1 s per 2.4M events, Arrow
# 0.15 s), from the same bound window, so a row's day always matches its partition.
# Besides the allowed centers' rows, the window's rows whose center is no center at all (NULL,
# or not an 8-digit code once trimmed: a legacy space-padded or mistyped code) are extracted
# too: no center can claim them, so the rules reject each one (nulo_requerido,
# centro_malformado) and it is counted and recorded instead of silently vanishing. Rows of
# other well-formed centers are not ours and stay in the source. Deciding that costs a look at
# each of their rows (40-60 % of the benchmark's source): the regex only runs on a value that
# is not already a bare code (its length and ltrim of the digits tell in a fraction of the time;
# 2.4M menu events: 1.34 s with the regex on every row, 0.77 s so, 0.37 s for no check at all).
_EXTRACCION = sql.SQL(
    """
SELECT t.*
FROM {tabla} AS t
WHERE (btrim(t.{centro}) = ANY({centros}::text[]) OR t.{centro} IS NULL
       OR ((octet_length(t.{centro}) <> {digitos} OR ltrim(t.{centro}, '0123456789') <> '')
           AND btrim(t.{centro}) !~ {codigo}))
  AND t.{inicio} >= {desde} AND t.{inicio} < {hasta}
"""
)

# SQLSTATE classes meaning "the query does not fit the source any more" (undefined column,
# table or function, datatype mismatch...): the contract broke, retrying will not help.
_CONTRATO_ROTO = ("42",)
_COLUMNA_INEXISTENTE = re.compile(r'column (?:\w+\.)?"?(\w+)"? does not exist')
# libpq reports a missing database at connect time without a SQLSTATE, only the server's
# FATAL text: a wrong database name is a broken contract (critical), not an outage to retry.
_BASE_INEXISTENTE = re.compile(r'database "([^"]+)" does not exist')
# A connection lost mid-stream reaches us from pyarrow's record-batch reader as a bare OSError
# carrying libpq's text, without a SQLSTATE: a server shutdown or restart (57P0x), a killed
# backend, a broken socket. Transient, like the same failure at the query.
_CONEXION_PERDIDA = re.compile(
    r"terminating connection|server closed the connection|could not receive data|no connection to the server"
    r"|connection to server .* (?:failed|lost)|the database system is (?:shutting down|starting up|in recovery)"
    r"|SSL SYSCALL error|Connection reset by peer|EOF detected"
)


def consulta_extraccion(fuente: Fuente, ventana: Ventana, centros: Sequence[str]) -> str:
    """The extraction query with its values bound client-side by psycopg's quoting.

    ADBC streams a result as binary COPY only when the query has no server-side parameters
    (with $1 parameters it falls back to a prepared statement, measured 1.6x slower), so the
    values are merged here as psycopg does for COPY: `sql.Literal`, never string formatting.
    """
    desde, hasta = ventana.limites()
    return _EXTRACCION.format(
        inicio=sql.Identifier(fuente.inicio),
        centro=sql.Identifier(fuente.centro),
        tabla=sql.Identifier("ivr", fuente.tabla),
        centros=sql.Literal(list(config.parse_centros("IACT_CENTROS", ",".join(centros)))),
        codigo=sql.Literal(f"^{catalogo.CODIGO_CENTRO}$"),
        digitos=sql.Literal(catalogo.DIGITOS_CENTRO),
        desde=sql.Literal(desde),
        hasta=sql.Literal(hasta),
    ).as_string(None)


def extraer(ivr_url: str, fuente: Fuente, ventana: Ventana, centros: Sequence[str]) -> pa.Table:
    """The window's rows of the allowed centers, as Arrow, read-only.

    Raises resources.fuente_no_disponible() when the source is unreachable or restarting,
    ConfigError on a configuration or permission mistake (not retried) and FuenteInutilizable
    when the query no longer fits the source's schema.
    """
    return pa.concat_tables(leer_trozos(ivr_url, fuente, ventana, centros))


def leer_trozos(
    ivr_url: str, fuente: Fuente, ventana: Ventana, centros: Sequence[str], filas: int = 250_000
) -> Iterator[pa.Table]:
    """The same rows as `extraer`, streamed: Arrow tables of about `filas` rows each (whole
    record batches of the ADBC reader), with `fecha` and `hora`, as the server sends them.
    Same errors as `extraer`, raised when they happen (at the query or mid-stream)."""
    import adbc_driver_postgresql.dbapi as adbc

    try:
        conn = db.connect_adbc(ivr_url, read_only=True)
    except db.ServidorNoDisponible as exc:
        raise fuente_no_disponible() from sin_secretos(exc)
    except config.ConfigError as exc:
        base = _BASE_INEXISTENTE.search(str(exc))
        if base:
            raise FuenteInutilizable(
                f"{ejecuciones.SIN_BASE_IVR} {base.group(1)!r} (revise IACT_IVR_URL); el pipeline nunca la crea"
            ) from None
        raise
    with conn:
        with conn.cursor() as cur:
            try:
                cur.execute(consulta_extraccion(fuente, ventana, centros))
                lector = cur.fetch_record_batch()
                pendientes: list[pa.RecordBatch] = []
                enviados = False
                for lote in lector:
                    pendientes.append(lote)
                    if sum(b.num_rows for b in pendientes) < filas:
                        continue
                    junto = pa.Table.from_batches(pendientes)
                    # Zero-copy slices of `filas` rows; the remainder waits for the next batch.
                    completos = junto.num_rows - junto.num_rows % filas
                    for inicio in range(0, completos, filas):
                        yield _preparado(junto.slice(inicio, filas), fuente, ventana)
                    enviados = True
                    pendientes = junto.slice(completos).to_batches()
                if any(b.num_rows for b in pendientes) or not enviados:
                    # An empty window still yields one (empty) table with the source's types.
                    yield _preparado(pa.Table.from_batches(pendientes, lector.schema), fuente, ventana)
            except OSError as exc:
                if not _CONEXION_PERDIDA.search(str(exc)):
                    raise
                raise fuente_no_disponible() from sin_secretos(exc)
            except adbc.Error as exc:
                estado = getattr(exc, "sqlstate", None) or ""
                if db.es_de_configuracion(estado):
                    # 42501 is class 42 too, but a missing grant is not a changed source.
                    raise config.ConfigError(
                        f"ivr.{fuente.tabla}: {_motivo(exc)} (SQLSTATE {estado}: revise los permisos del usuario del IVR)"
                    ) from None
                if estado.startswith(_CONTRATO_ROTO):
                    motivo = _motivo(exc)
                    columna = _COLUMNA_INEXISTENTE.search(motivo)
                    raise FuenteInutilizable(
                        f"ivr.{fuente.tabla} no coincide con el contrato de la fuente: {motivo}",
                        columna.group(1) if columna else None,
                    ) from None
                if db.es_transitorio(estado):
                    raise fuente_no_disponible() from sin_secretos(exc)
                raise


def _motivo(exc: Exception) -> str:
    primera = next((line for line in str(exc).splitlines() if "ERROR:" in line), str(exc))
    return primera.split("ERROR:", 1)[-1].strip()


# The instants a source row may hold. Anything outside (PostgreSQL's 'infinity', year 1 or
# 9999) is no real call, and beyond pandas' nanosecond range the rules' arithmetic overflows:
# such a value is nulled before pandas and its row rejected (`fecha_fuera_de_rango`).
FECHA_MINIMA, FECHA_MAXIMA = datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)
# How ADBC hands over PostgreSQL's infinities (its int64 sentinels shifted to the Unix epoch).
_INFINITOS = {-9222425352054775809: "infinity", -9222425352054775808: "-infinity"}
FUERA_DE_RANGO = "fecha_fuera_de_rango"


def _texto_instante(microsegundos: int) -> str:
    if microsegundos in _INFINITOS:
        return _INFINITOS[microsegundos]
    try:
        return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=microsegundos)).isoformat()
    except OverflowError:
        return f"{microsegundos} µs since 1970"


def sin_fechas_imposibles(tabla: pa.Table) -> tuple[pa.Table, pd.DataFrame]:
    """The table with every timestamp outside [FECHA_MINIMA, FECHA_MAXIMA) nulled, and one
    failure row (fila, regla, campo, severidad, valor) per such value: the rules then run on
    representable values only, and those rows are rejected one by one, never the day."""
    partes = []
    for i, campo in enumerate(tabla.column_names):
        columna = tabla[campo]
        if not pa.types.is_timestamp(columna.type):
            continue
        fuera = pc.or_(pc.less(columna, FECHA_MINIMA), pc.greater_equal(columna, FECHA_MAXIMA)).fill_null(False)
        if not pc.any(fuera).as_py():
            continue
        filas = pc.indices_nonzero(fuera).to_numpy()
        crudos = pc.cast(columna, pa.int64()).take(pa.array(filas)).to_pylist()
        partes.append(pd.DataFrame({"fila": filas, "campo": campo, "valor": [_texto_instante(v) for v in crudos]}))
        tabla = tabla.set_column(i, campo, pc.if_else(fuera, pa.scalar(None, type=columna.type), columna))
    if not partes:
        return tabla, pd.DataFrame(columns=["fila", "regla", "campo", "severidad", "valor"])
    fallas = pd.concat(partes, ignore_index=True).astype({"fila": "int64"})
    return tabla, fallas.assign(regla=FUERA_DE_RANGO, severidad="error")[
        ["fila", "regla", "campo", "severidad", "valor"]
    ]


def _preparado(tabla: pa.Table, fuente: Fuente, ventana: Ventana) -> pa.Table:
    return sin_clientes_anonimos(con_dia_local(tabla, fuente.inicio, ventana.zona))


CLIENTE = "cliente_id"


def sin_clientes_anonimos(tabla: pa.Table) -> pa.Table:
    """The one definition of an unidentified caller: a NULL, empty or blank `cliente_id`, or
    one of the placeholders of IACT_CLIENTES_ANONIMOS (any case, surrounding blanks ignored),
    becomes NULL here, before validation (which warns `cliente_no_identificado`) and the load,
    so no report counts it as a client. Legacy IVRs write '' or spaces for "no caller id"."""
    if CLIENTE not in tabla.column_names:
        return tabla
    columna = tabla[CLIENTE]
    marcadores = pa.array(["", *config.valor("IACT_CLIENTES_ANONIMOS")])
    # Cheap screens first (trimming and lowering every id cost 0.3 s per 2.4M rows): an exact
    # placeholder, then only the ids that are not all digits (a phone number never is one).
    anonimo = pc.is_in(columna, value_set=marcadores.cast(columna.type))
    dudosos = pc.and_not(pc.invert(pc.utf8_is_digit(columna)), anonimo).fill_null(False)
    if pc.any(dudosos).as_py():
        filas = pc.indices_nonzero(dudosos)
        limpio = pc.utf8_lower(pc.utf8_trim_whitespace(columna.take(filas)))
        encontrados = filas.filter(pc.is_in(limpio, value_set=marcadores.cast(limpio.type)))
        if len(encontrados):
            marca = np.zeros(len(columna), dtype=bool)
            marca[encontrados.to_numpy()] = True
            anonimo = pc.or_(anonimo, pa.array(marca))
    if not pc.any(anonimo).as_py():
        return tabla
    nulo = pa.scalar(None, type=columna.type)
    return tabla.set_column(tabla.column_names.index(CLIENTE), CLIENTE, pc.if_else(anonimo, nulo, columna))


def con_dia_local(tabla: pa.Table, inicio: str, zona: str) -> pa.Table:
    """Append `fecha` and `hora`: the local day and hour of the row's start in `zona`."""
    local = pc.local_timestamp(tabla[inicio].cast(pa.timestamp("us", tz=config.parse_zona("IACT_ZONA_HORARIA", zona))))
    tabla = tabla.append_column("fecha", local.cast(pa.date32()))
    return tabla.append_column("hora", pc.hour(local).cast(pa.int16()))


def tomar(tabla: pa.Table, filas: np.ndarray) -> pa.Table:
    """The rows at positions `filas` (in that order) of a table of many chunks, taken chunk by
    chunk: `Table.take` first concatenates every chunk of every column, a copy of the whole
    table (600 MB for a 3M-call day's menu events) to take a few duplicate rows."""
    filas = np.asarray(filas, dtype=np.int64)
    if len(filas) and (filas.min() < 0 or filas.max() >= tabla.num_rows):
        raise IndexError(f"row positions outside a table of {tabla.num_rows} rows")
    lotes = tabla.to_batches()
    limites = np.cumsum([0, *(b.num_rows for b in lotes)])
    orden = np.argsort(filas, kind="stable")
    ordenadas = filas[orden]
    cortes = np.searchsorted(ordenadas, limites)
    partes = [
        lote.take(pa.array(ordenadas[cortes[i] : cortes[i + 1]] - limites[i]))
        for i, lote in enumerate(lotes)
        if cortes[i + 1] > cortes[i]
    ]
    tomadas = pa.Table.from_batches(partes, schema=tabla.schema).combine_chunks()
    return tomadas.take(pa.array(np.argsort(orden, kind="stable")))


_TIPOS_PANDAS = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def a_pandas(tabla: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas for validation: nullable ints and booleans stay exact (no float64 for a
    NULL id), dates become datetime64 (no Python objects per row)."""
    return tabla.to_pandas(types_mapper=_TIPOS_PANDAS.get, date_as_object=False)
