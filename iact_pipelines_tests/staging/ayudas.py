"""Builders shared by the tests that start from the IVR source: consistent source rows (a
call, a menu visit, a transfer), their insertion into ivr.* (tests only; the pipeline reads
the source read-only), one run of a staging asset, and readers of what the run left.

America/Mexico_City is UTC-6 all year since 2022, so local midnight of 2024-03-10 is 06:00 UTC.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from iact_pipelines.plataforma import eventos
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.staging import compuerta

ZONA = ZoneInfo("America/Mexico_City")
NAC, PUE, GDL = "19028031", "19020084", "19014002"
DIA = "2024-03-10"

_COLUMNAS = {
    "llamadas": "llamada_id, centro_id, cliente_id, inicio, ingreso_cola, atencion, fin, resultado",
    "menu_eventos": "evento_id, llamada_id, centro_id, menu_id, menu_nombre, entrada, salida, resultado",
    "transferencias": "transferencia_id, llamada_id, centro_origen, centro_destino, inicio, fin, exitosa",
}


def local(texto: str) -> datetime:
    return datetime.fromisoformat(texto).replace(tzinfo=ZONA)


def s(t: datetime, segundos: float) -> datetime:
    return t + timedelta(seconds=segundos)


def llamada(
    id_,
    inicio="2024-03-10 10:00:00",
    resultado="ATENDIDA",
    *,
    cola=10,
    espera=20,
    habla=60,
    centro=NAC,
    cliente="C1",
    **cambios,
):
    """A consistent call (answered unless said otherwise); `cambios` overrides any column."""
    t0 = local(inicio) if isinstance(inicio, str) else inicio
    fila = {
        "llamada_id": id_,
        "centro_id": centro,
        "cliente_id": cliente,
        "inicio": t0,
        "ingreso_cola": None,
        "atencion": None,
        "fin": s(t0, 30),
        "resultado": resultado,
    }
    if resultado in ("ATENDIDA", "ABANDONADA"):
        fila["ingreso_cola"] = s(t0, cola)
        fila["fin"] = s(t0, cola + espera)
    if resultado == "ATENDIDA":
        fila["atencion"] = s(t0, cola + espera)
        fila["fin"] = s(t0, cola + espera + habla)
    fila.update(cambios)
    return fila


def evento(id_, entrada="2024-03-10 10:00:00", *, llamada_id=..., centro=NAC, menu="MP", salida=15, **cambios):
    """A valid menu visit, of call `id_` unless said otherwise."""
    t0 = local(entrada)
    fila = {
        "evento_id": id_,
        "llamada_id": id_ if llamada_id is ... else llamada_id,
        "centro_id": centro,
        "menu_id": menu,
        "menu_nombre": "Menú principal",
        "entrada": t0,
        "salida": s(t0, salida) if salida is not None else None,
        "resultado": "OK",
    }
    fila.update(cambios)
    return fila


def transferencia(id_, inicio="2024-03-10 10:00:00", *, origen=NAC, destino=PUE, dura=30, **cambios):
    """A valid transfer of call `id_` unless said otherwise."""
    t0 = local(inicio)
    fila = {
        "transferencia_id": id_,
        "llamada_id": id_,
        "centro_origen": origen,
        "centro_destino": destino,
        "inicio": t0,
        "fin": s(t0, dura) if dura is not None else None,
        "exitosa": dura is not None,
    }
    fila.update(cambios)
    return fila


def insertar(conn, tabla: str, filas: list[dict]) -> None:
    columnas = [c.strip() for c in _COLUMNAS[tabla].split(",")]
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO ivr.{tabla} ({_COLUMNAS[tabla]}) VALUES ({', '.join(['%s'] * len(columnas))})",
            [tuple(f[c] for c in columnas) for f in filas],
        )


def materializar(instance, asset, desde: str = DIA, hasta: str | None = None, extra=()) -> dg.ExecuteInProcessResult:
    """One run of `asset` (plus `extra` assets) over one day or the range desde..hasta as one run."""
    if hasta is None:
        return dg.materialize(
            [asset, *extra], partition_key=desde, instance=instance, resources=build_resources(), raise_on_error=False
        )
    tags = {"dagster/asset_partition_range_start": desde, "dagster/asset_partition_range_end": hasta}
    return dg.materialize(
        [asset, *extra], tags=tags, instance=instance, resources=build_resources(), raise_on_error=False
    )


def en_staging(conn, tabla: str, id_col: str) -> list[int]:
    return [r[0] for r in conn.execute(f"SELECT {id_col} FROM staging.{tabla} ORDER BY 1").fetchall()]


def errores(conn, asset_key: str) -> dict[int, set[tuple[str, str, str]]]:
    """record_id -> {(error_type, field_name, severity)} of the asset's etl_validation_errors rows."""
    salida: dict[int, set] = {}
    for rid, tipo, campo, sev in conn.execute(
        "SELECT record_id, error_type, field_name, severity FROM etl_validation_errors WHERE asset_key = %s",
        (asset_key,),
    ).fetchall():
        salida.setdefault(int(rid), set()).add((tipo, campo, sev))
    return salida


def metadatos(result, asset) -> dict:
    mats = result.asset_materializations_for_node(asset.op.name)
    return {k: v.value for k, v in mats[0].metadata.items()}


def chequeo(result, nombre: str = compuerta.CHECK_TASA_RECHAZO):
    (evaluacion,) = [e for e in result.get_asset_check_evaluations() if e.check_name == nombre]
    return evaluacion


# What each day holds, computed from the tables themselves: rows the source has for the local
# day, rows staging and the calls-per-hour report hold for it, and the report's headline figures.
_FUENTE_DEL_DIA = "SELECT count(*) FROM ivr.llamadas WHERE (inicio AT TIME ZONE 'America/Mexico_City')::date = %s"
_STAGING_DEL_DIA = """
SELECT count(*), count(*) FILTER (WHERE resultado = 'ATENDIDA'), count(*) FILTER (WHERE resultado = 'ABANDONADA')
FROM staging.llamadas WHERE fecha = %s
"""
_INFORME_DEL_DIA = """
SELECT count(*), coalesce(sum(total_llamadas), 0), coalesce(sum(llamadas_atendidas), 0),
    coalesce(sum(llamadas_abandonadas), 0)
FROM reportes_llamadas_dia WHERE fecha = %s
"""
_CHECKS = (compuerta.CHECK_VOLUMEN, compuerta.CHECK_TASA_RECHAZO)
_STAGING = dg.AssetKey(["staging", "llamadas"])
_INFORME = dg.AssetKey(["reportes", "llamadas_dia"])


def _valores(registro: dg.EventLogRecord) -> dict:
    return {k: v.value for k, v in registro.asset_materialization.metadata.items()}


def _run_de(registro: dg.EventLogRecord) -> str:
    """The run that built it: a report day of a failed step is reported outside the run's events
    and names its run in its metadata."""
    return registro.run_id or _valores(registro).get("run_id", "")


def verdad_por_dia(instance, warehouse, ivr, dias: list[str], retenidos: set[str], runs: set[str]) -> None:
    """What Dagster shows about each day of `dias` is what the warehouse holds for it, after the
    runs `runs` built them: staging/llamadas' and reportes/llamadas_dia's latest materialization
    (row count, rows read and loaded, headline figures), each day's checks current, Passed, or
    Failed on a held day, and a held day (of `retenidos`) not shown as published."""
    staging = eventos.ultimas_materializaciones(instance, _STAGING, dias)
    informe = eventos.ultimas_materializaciones(instance, _INFORME, dias)
    for dia in dias:
        leidas = ivr.execute(_FUENTE_DEL_DIA, (dia,)).fetchone()[0]
        filas, atendidas, abandonadas = warehouse.execute(_STAGING_DEL_DIA, (dia,)).fetchone()
        retenido = dia in retenidos
        meta = _valores(staging[dia])
        assert staging[dia].run_id in runs, dia  # each day's own, built by these runs
        assert (
            meta["dagster/partition_row_count"],
            meta["filas_leidas"],
            meta["filas_cargadas"],
            meta["publicado"],
            meta["estado"],
        ) == (filas, leidas, 0 if retenido else filas, not retenido, "bloqueado" if retenido else "cargado"), dia
        horas, total, *por_resultado = warehouse.execute(_INFORME_DEL_DIA, (dia,)).fetchone()
        assert (total, *por_resultado) == (filas, atendidas, abandonadas), dia  # the report is of staging's rows
        meta = _valores(informe[dia])
        # a held day's report is not rebuilt: its latest materialization is its previous one
        assert (_run_de(informe[dia]) in runs) is not retenido, dia
        assert meta["dagster/partition_row_count"] == horas, dia
        if not retenido:
            tasa = round(100 * abandonadas / (atendidas + abandonadas), 2) if atendidas + abandonadas else 0
            assert (
                meta["total_llamadas"],
                meta["llamadas_atendidas"],
                meta["llamadas_abandonadas"],
                meta["tasa_abandono"],
            ) == (total, atendidas, abandonadas, tasa), dia
    for check in _CHECKS:
        info = instance.event_log_storage.get_asset_check_partition_info([dg.AssetCheckKey(_STAGING, check)])
        del_rango = {i.partition_key: i for i in info if i.partition_key in dias}
        assert {d: i.is_current for d, i in del_rango.items()} == dict.fromkeys(dias, True), check
        fallidos = retenidos if check == compuerta.CHECK_VOLUMEN else set()
        estados = {d: i.latest_execution_status.value for d, i in del_rango.items()}
        assert estados == {d: "FAILED" if d in fallidos else "SUCCEEDED" for d in dias}, check
