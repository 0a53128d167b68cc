"""`etl_validation_errors`: the rows a staging run rejected or warned, and the critical
causes of a batch it could not use, each with the run, the rule and the source record.

A day's error rows are replaced with its staging rows, in the same transaction: a re-run
never duplicates them, a failed run leaves the previous ones.
"""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from iact_pipelines.fuentes.contrato import Fuente
from iact_pipelines.plataforma import catalogo, reemplazo
from iact_pipelines.plataforma.ejecuciones import CLAVE_SEVERIDAD
from iact_pipelines.plataforma.fechas import Ventana
from iact_pipelines.staging import extraccion, validacion

TABLA = "etl_validation_errors"
# What the run writes on every row; the rest of the catalog's columns come from each failure.
_DEL_RUN = ("job_id", "run_id", "asset_key")
COLUMNAS_DE_FALLA = tuple(c for c in catalogo.tabla(TABLA).nombres() if c not in _DEL_RUN)

_BORRAR = "DELETE FROM etl_validation_errors WHERE asset_key = %s AND partition_key = ANY(%s)"
_BORRAR_CRITICOS = _BORRAR + " AND severity = 'critical'"


def borrar(conn: psycopg.Connection, asset_key: str, dias: list[str]) -> None:
    """The days' earlier error rows (the days are being replaced in this transaction)."""
    conn.execute(_BORRAR, (asset_key, dias))


def copiar(conn: psycopg.Connection, job_id: int, run_id: str, asset_key: str, errores: pd.DataFrame) -> None:
    """COPY the error rows `validacion.filas_de_error` built, tagged with the run."""
    if errores.empty:
        return
    n = len(errores)
    tabla = pa.table(
        {
            "job_id": pa.array(np.full(n, job_id, dtype="int64")),
            "run_id": pa.array([run_id] * n, pa.string()),
            "asset_key": pa.array([asset_key] * n, pa.string()),
            **{c: pa.array(errores[c].to_numpy(dtype=object), pa.string()) for c in COLUMNAS_DE_FALLA},
        }
    )
    copiar_csv(conn, sql.Identifier(TABLA), tabla)


def de_fallas(fuente: Fuente, todo: pa.Table, fallas: pd.DataFrame, excluidos: set[str]) -> pd.DataFrame:
    """The error rows of failures found over a whole batch (rows by position in `todo`)."""
    unicas = np.unique(fallas["fila"].to_numpy())
    frame = extraccion.a_pandas(extraccion.tomar(todo, unicas))
    locales = fallas.assign(fila=np.searchsorted(unicas, fallas["fila"].to_numpy()))
    resultado = validacion.Resultado(fallas=locales, criticos=validacion._CRITICOS_VACIOS.copy(), filas=len(frame))
    filas = validacion.filas_de_error(frame, resultado, id_col=fuente.id, columnas=list(fuente.columnas))
    return sin_excluidos(filas, excluidos)


def sin_excluidos(filas: pd.DataFrame, excluidos: set[str]) -> pd.DataFrame:
    """Error rows of the days not loaded this time left out: those days keep their old ones."""
    return filas[~filas["partition_key"].isin(excluidos)] if excluidos else filas


def _filas_criticas(fuente: Fuente, ventana: Ventana, frame: pd.DataFrame | None, criticos: pd.DataFrame) -> list[dict]:
    filas = []
    for critico in criticos.itertuples():
        if frame is not None and critico.fila >= 0:
            registro = frame.iloc[[critico.fila]]
            dias = [str(pd.Timestamp(registro["fecha"].iloc[0]).date())]
            record_id = str(registro[fuente.id].iloc[0])
            columnas = [c for c in fuente.columnas if c in registro.columns]
            record_data = validacion.json_registros(registro[columnas])[0]
        else:
            dias, record_id, record_data = ventana.claves(), None, "{}"
        for dia in dias:
            filas.append(
                {
                    "partition_key": dia,
                    "record_id": record_id,
                    "field_name": critico.campo,
                    "error_type": critico.regla,
                    "error_message": critico.mensaje,
                    "severity": validacion.CRITICAL,
                    "record_data": record_data,
                }
            )
    return filas


def registrar_criticos(
    conn: psycopg.Connection,
    job_id: int,
    context: dg.AssetExecutionContext,
    fuente: Fuente,
    ventana: Ventana,
    frame: pd.DataFrame | None,
    criticos: pd.DataFrame,
) -> pd.DataFrame:
    """The batch is unusable: record why, replacing earlier critical rows of the window (the
    caller's transaction; nothing else is loaded, the previous staging rows stay). Returns the
    causes: missing columns and unreadable types make the checks that use them fail too."""
    asset_key = context.asset_key.to_user_string()
    causas = criticos[criticos["regla"] != validacion.CHECK_FALLIDO]
    criticos = (causas if not causas.empty else criticos).reset_index(drop=True)
    reemplazo.bloquear_particiones(conn, f"staging.{fuente.tabla}", ventana.claves())
    conn.execute(_BORRAR_CRITICOS, (asset_key, ventana.claves()))
    copiar(conn, job_id, context.run_id, asset_key, pd.DataFrame(_filas_criticas(fuente, ventana, frame, criticos)))
    return criticos


def falla_critica(asset_key: str, ventana: Ventana, criticos: pd.DataFrame) -> dg.Failure:
    """The one-line failure of an unusable batch, never retried."""
    mensajes = "; ".join(dict.fromkeys(criticos["mensaje"]))
    return dg.Failure(
        description=f"{asset_key} {ventana.rango()}: los datos de la fuente no se pueden usar, no se cargó nada: {mensajes}",
        metadata={
            CLAVE_SEVERIDAD: validacion.CRITICAL,
            "errores_criticos": dg.MetadataValue.json(criticos.to_dict("records")),
        },
        allow_retries=False,
    )


# COPY as CSV, for what the binary encoder (copia_binaria) cannot encode: jsonb.
class _SalidaCopy:
    """A file-like sink that hands pyarrow's CSV output straight to a COPY, chunk by chunk."""

    closed = False

    def __init__(self, copy: psycopg.Copy):
        self._copy = copy

    def write(self, datos) -> int:
        self._copy.write(bytes(datos))
        return len(datos)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def copiar_csv(conn: psycopg.Connection, destino: sql.Composable, tabla: pa.Table) -> int:
    """COPY an Arrow table into `destino` (same column names) as CSV written by Arrow in C++:
    for targets the binary encoder does not cover (jsonb) and small volumes."""
    if tabla.num_rows == 0:
        return 0
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        destino, sql.SQL(", ").join(sql.Identifier(c) for c in tabla.column_names)
    )
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        pacsv.write_csv(_utc_sin_zona(tabla), _SalidaCopy(copy), _CSV)
    return tabla.num_rows


_CSV = pacsv.WriteOptions(include_header=False, batch_size=16384)


def _utc_sin_zona(tabla: pa.Table) -> pa.Table:
    """Timestamps as naive UTC: Arrow formats tz-aware ones ~15x slower. Exact, because every
    connection of `db.connect` runs with timezone=UTC, so PostgreSQL reads them back as UTC."""
    columnas = [
        col.cast(pa.timestamp(col.type.unit)) if pa.types.is_timestamp(col.type) and col.type.tz else col
        for col in tabla.columns
    ]
    return pa.table(columnas, names=tabla.column_names)
