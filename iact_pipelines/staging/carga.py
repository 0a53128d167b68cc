"""The load of a batch of staging days: one transaction that fills a new table per day
(`reemplazo.particion_nueva`) chunk by chunk, rewrites what depends on the rows, and before its
commit swaps the new tables in for the days' partitions.

Readers keep the previous partitions until that commit, and a failed load leaves them. Every
writer of staging days goes through `reemplazar_dias` (the staging assets, the tests, the
benchmark), so the first-call rows of `clientes` stay exact whoever writes a calls day.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from iact_pipelines.fuentes.contrato import Fuente
from iact_pipelines.plataforma import copia_binaria, reemplazo
from iact_pipelines.staging import clientes

# Rows per chunk of a streamed batch: big enough that pandera's fixed cost per call is noise,
# small enough that extraction, validation and the COPY of neighbouring chunks overlap.
FILAS_POR_TROZO = 250_000

# The day-partitioned staging tables each staging table's days rewrite in the same transaction.
DERIVADAS = {"llamadas": ("clientes_dia",)}


@dataclass
class Carga:
    """What `reemplazar_dias` hands its caller: a place for the days' client rows when the
    caller has them in Arrow (`clientes.dias_de_clientes`); left None, they are aggregated
    from the loaded staging.llamadas rows."""

    clientes_dia: pa.Table | None = None


@contextmanager
def reemplazar_dias(
    conn: psycopg.Connection, tabla: str, desde: date, hasta_excl: date, solo: Iterable[date] | None = None
) -> Iterator[Carga]:
    """The staging day replace (`reemplazo.reemplazar_dias_staging`, `solo` its subset of days)
    plus, for calls, the days' first-call rows rewritten after the caller's load, before the
    commit. Days left out of `solo` keep their rows and their clientes_dia rows."""
    dias = None if solo is None else sorted(set(solo))
    derivadas = DERIVADAS.get(tabla, ())
    with reemplazo.reemplazar_dias_staging(conn, tabla, desde, hasta_excl, solo=dias, derivadas=derivadas):
        carga = Carga()
        yield carga
        if tabla == "llamadas":
            clientes.actualizar(conn, desde, hasta_excl, dias, carga.clientes_dia)


def _por_dia(tabla: str, validas: pa.Table) -> Iterator[tuple[sql.Identifier, pa.Table]]:
    """A chunk's rows by day, each with the new table of its day (`reemplazo.particion_nueva`):
    COPYed straight into it, PostgreSQL routes no row and writes them frozen. A daily run's
    chunk is all one day (no split)."""
    if not validas.num_rows:
        return
    extremos = pc.min_max(validas["fecha"]).as_py()
    if extremos["min"] == extremos["max"]:
        yield reemplazo.particion_nueva("staging", tabla, extremos["min"]), validas
        return
    for dia in pc.unique(validas["fecha"]).to_pylist():
        del_dia = validas.filter(pc.equal(validas["fecha"], pa.scalar(dia, pa.date32())))
        yield reemplazo.particion_nueva("staging", tabla, dia), del_dia


class Copiador:
    """COPYs a batch's chunks on one worker thread of the loading connection, so that chunk
    k is written while chunk k+1 is validated; the chunks' error rows go through the same
    thread (one connection: one statement at a time), after their chunk."""

    def __init__(self, conn: psycopg.Connection, fuente: Fuente):
        self._conn, self._fuente = conn, fuente
        self._hilo = ThreadPoolExecutor(max_workers=1, thread_name_prefix="copia")
        self._copia: Future | None = None
        self._otros: list[Future] = []

    def __enter__(self) -> Copiador:
        return self

    def __exit__(self, *exc) -> None:
        self._hilo.shutdown(wait=True)

    def copiar(self, validas: pa.Table) -> None:
        """Queue a chunk's valid rows, once the previous chunk's COPY is done (raises its error)."""
        if self._copia is not None:
            self._copia.result()
        # each day's new table was emptied in this transaction (reemplazar_dias): frozen
        self._copia = self._hilo.submit(_copiar_por_dia, self._conn, list(_por_dia(self._fuente.tabla, validas)))

    def enviar(self, funcion, *args) -> None:
        """Run `funcion(conn, *args)` on the copy thread after what is queued."""
        self._otros.append(self._hilo.submit(funcion, self._conn, *args))

    def esperar(self) -> None:
        """Wait for every queued COPY (raises the first error)."""
        for futuro in [self._copia, *self._otros]:
            if futuro is not None:
                futuro.result()


def _copiar_por_dia(conn: psycopg.Connection, trozos: list[tuple[sql.Identifier, pa.Table]]) -> int:
    return sum(copia_binaria.copiar(conn, destino, filas, congelar=True) for destino, filas in trozos)


def copiar_dias(conn: psycopg.Connection, tabla: str, filas: pa.Table) -> int:
    """COPY rows of staging.<tabla> (any of the days `reemplazar_dias` opened) into their days'
    new tables, in the caller's load transaction; returns the number of rows."""
    return _copiar_por_dia(conn, list(_por_dia(tabla, filas)))


_BORRAR_IDS = "DELETE FROM {} WHERE {} = ANY(%s)"


def borrar_ids(conn: psycopg.Connection, fuente: Fuente, dias: Iterable[date], ids: list) -> None:
    """Delete again rows the chunks loaded into the new tables of `dias` that a rule over the
    whole batch rejected."""
    for dia in dias:
        destino = reemplazo.particion_nueva("staging", fuente.tabla, dia)
        conn.execute(sql.SQL(_BORRAR_IDS).format(destino, sql.Identifier(fuente.id)), (ids,))


def analizar(conn: psycopg.Connection, tabla: str) -> None:
    """The parents' statistics after a run: joins across days of the derived table (the
    repeat calls' look-back) are estimated from the parent's statistics; without them, 200
    clients for a 500k-client day."""
    reemplazo.analizar_tabla_staging(conn, tabla)
    for derivada in DERIVADAS.get(tabla, ()):
        reemplazo.analizar_tabla_staging(conn, derivada)
