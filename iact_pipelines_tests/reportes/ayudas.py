"""Builders shared by the tests that start from staging: call, menu-visit and transfer rows
written straight into staging.* with their local day and hour (as the staging assets assign
them), one run of a report asset, and its materialization metadata.

America/Mexico_City is UTC-6 all year since 2022.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
from psycopg import sql

from iact_pipelines.plataforma import reemplazo
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.reportes import assets as reportes
from iact_pipelines.staging import carga

ZONA = ZoneInfo("America/Mexico_City")
NAC, PUE = "19028031", "19020084"
_ids = iter(range(1, 10**9))


def local(texto: str) -> datetime:
    return datetime.fromisoformat(texto).replace(tzinfo=ZONA)


def llamada(inicio: str, resultado: str, *, cola=5.0, espera=0.0, habla=0.0, dur=60.0, cliente=None, centro=NAC):
    """A call starting at local `inicio`: queued `cola` s after the start, waits `espera` s, then is
    answered and talks `habla` s (ATENDIDA), or hangs up (ABANDONADA); IVR lasts `dur` s."""
    t0 = local(inicio)
    cola_t = t0 + timedelta(seconds=cola) if resultado != "IVR" else None
    atencion = cola_t + timedelta(seconds=espera) if resultado == "ATENDIDA" else None
    if resultado == "ATENDIDA":
        fin = atencion + timedelta(seconds=habla)
    elif resultado == "ABANDONADA":
        fin = cola_t + timedelta(seconds=espera)
    else:
        fin = t0 + timedelta(seconds=dur)
    return (next(_ids), centro, cliente, t0, cola_t, atencion, fin, resultado)


def evento(entrada: str, menu_id: str, nombre: str, resultado: str, estancia=None, centro=NAC):
    t0 = local(entrada)
    salida = t0 + timedelta(seconds=estancia) if estancia is not None else None
    return (next(_ids), 1, centro, menu_id, nombre, t0, salida, resultado)


def transferencia(inicio: str, origen: str, destino: str, exitosa: bool, duracion=None):
    t0 = local(inicio)
    fin = t0 + timedelta(seconds=duracion) if duracion is not None else None
    return (next(_ids), 1, origen, destino, t0, fin, exitosa)


_COLUMNAS = {
    "llamadas": "llamada_id, centro_id, cliente_id, inicio, ingreso_cola, atencion, fin, resultado",
    "menu_eventos": "evento_id, llamada_id, centro_id, menu_id, menu_nombre, entrada, salida, resultado",
    "transferencias": "transferencia_id, llamada_id, centro_origen, centro_destino, inicio, fin, exitosa",
}
_INICIO = {"llamadas": 3, "menu_eventos": 5, "transferencias": 4}


def cargar(conn: psycopg.Connection, tabla: str, filas: list[tuple]) -> None:
    """Write rows into staging.<tabla> with their local day and hour (day partitions created)."""
    por_dia: dict[date, list[tuple]] = {}
    for fila in filas:
        momento = fila[_INICIO[tabla]].astimezone(ZONA)
        por_dia.setdefault(momento.date(), []).append((*fila, momento.date(), momento.hour))
    dias = sorted(por_dia)
    with carga.reemplazar_dias(conn, tabla, dias[0], dias[-1] + timedelta(days=1)):
        copiar_filas(conn, tabla, f"{_COLUMNAS[tabla]}, fecha, hora", por_dia)


def copiar_filas(conn: psycopg.Connection, tabla: str, columnas: str, por_dia: dict[date, list[tuple]]) -> None:
    """Inside a staging load: COPY each day's rows (with fecha and hora) into its new table."""
    for dia, filas_dia in por_dia.items():
        destino = reemplazo.particion_nueva("staging", tabla, dia)
        with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(destino, sql.SQL(columnas))) as copy:
            for fila in filas_dia:
                copy.write_row(fila)


def materializar(instance, asset, desde: str, hasta: str | None = None) -> dg.ExecuteInProcessResult:
    """One run of `asset` over one partition or the key range desde..hasta (as a single-run backfill).
    An analyst report is named by its key: it is one of the `reportes.analistas` step's assets."""
    opciones = {"instance": instance, "resources": build_resources()}
    if isinstance(asset, dg.AssetKey):
        opciones["selection"] = [asset]
        asset = reportes.analistas
    if hasta is None:
        return dg.materialize([asset], partition_key=desde, **opciones)
    tags = {"dagster/asset_partition_range_start": desde, "dagster/asset_partition_range_end": hasta}
    return dg.materialize([asset], tags=tags, **opciones)


def _materializaciones(result, asset) -> list:
    if isinstance(asset, dg.AssetKey):
        return [m for m in result.asset_materializations_for_node(reportes.analistas.op.name) if m.asset_key == asset]
    return result.asset_materializations_for_node(asset.op.name)


def metadatos(result, asset) -> dict:
    """The run's materialization metadata: Dagster records the window's on every partition of a
    range, alike; each partition's own (with `particion`) follows them."""
    mats = [m for m in _materializaciones(result, asset) if "particion" not in m.metadata]
    assert len({tuple(sorted((k, str(v.value)) for k, v in m.metadata.items())) for m in mats}) == 1
    return {k: v.value for k, v in mats[0].metadata.items()}


def por_particion(result, asset) -> dict[str, dict]:
    """Each partition's latest materialization metadata in the run (its own in a range run)."""
    return {m.partition: {k: v.value for k, v in m.metadata.items()} for m in _materializaciones(result, asset)}
