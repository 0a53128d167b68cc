"""`iact materializar --desde D --hasta H [--activos SELECCION]`: materialize a date range.

Every partition of the selected assets that covers [desde, hasta] is materialized through
Dagster on the real instance (the runs show in the UI and the etl_jobs mirror sees them), with as
few runs as the partitioning allows: the assets sharing a partitioning run together as ONE run
over the partition key range (they all have `BackfillPolicy.single_run`), groups in dependency
order: the daily assets (staging, daily reports) for the whole range, then the months, then the
quarters. A group whose upstream group failed is skipped.
"""

from __future__ import annotations

import fnmatch
import time
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from iact_pipelines.cli import CliError
from iact_pipelines.plataforma.config import load_settings, parse_fecha

_RANGO_INICIO = "dagster/asset_partition_range_start"
_RANGO_FIN = "dagster/asset_partition_range_end"
# Every event is in the instance (the UI, etl_jobs); the terminal shows Dagster's log, traces
# included, only with --verbose: otherwise one line per run and one line for a failure.
_REGISTRO = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
_REGISTRO_DETALLADO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def register(sub) -> None:
    parser = sub.add_parser(
        "materializar",
        help="materializa las particiones de un rango de días (un run por particionado)",
        description="Materializa con Dagster cada partición de los assets elegidos que cubre [--desde, --hasta]: "
        "un run por particionado (diario, mensual, trimestral) sobre todo el rango, en orden de dependencias.",
    )
    parser.add_argument("--desde", required=True, metavar="AAAA-MM-DD", help="primer día local")
    parser.add_argument("--hasta", required=True, metavar="AAAA-MM-DD", help="último día local (inclusive)")
    parser.add_argument(
        "--activos",
        default="*",
        metavar="SELECCION",
        help='claves de assets o patrones separados por comas ("staging/*,reportes/llamadas_dia") o una '
        'selección de Dagster ("group:reportes"); por defecto: todos los assets',
    )
    parser.add_argument(
        "--aceptar-dias",
        default="",
        metavar="FECHA[,FECHA...]",
        help="acepta estos días aunque el check volumen de staging los retendría (un feriado, un día pequeño de "
        "verdad); queda registrado en staging_cargas, la metadata del check y etl_jobs (etiqueta iact/aceptar_dias)",
    )
    parser.set_defaults(func=_materializar)


@dataclass
class Grupo:
    """Assets sharing one partitions definition, run together over one key range."""

    particiones: object
    claves: list = field(default_factory=list)
    particiones_elegidas: list[str] = field(default_factory=list)


@dataclass
class Resultado:
    grupo: Grupo
    run_id: str | None
    exito: bool
    segundos: float
    error: str | None = None
    omitido: bool = False


def seleccionar(asset_graph, seleccion: str) -> list:
    """The materializable asset keys a selection names, in topological order."""
    import dagster as dg

    materializables = {k for k in asset_graph.materializable_asset_keys}
    elegidas: set = set()
    for parte in (p.strip() for p in seleccion.split(",")):
        if not parte:
            continue
        encontradas = {k for k in materializables if fnmatch.fnmatchcase("/".join(k.path), parte)}
        if not encontradas:
            try:
                encontradas = set(dg.AssetSelection.from_string(parte).resolve(asset_graph)) & materializables
            except Exception:  # noqa: BLE001 - any parse or resolve failure means "matches nothing"
                encontradas = set()
        if not encontradas:
            raise CliError(
                f"--activos: {parte!r} no nombra ningún asset (las claves son como staging/llamadas, reportes/*)"
            )
        elegidas |= encontradas
    if not elegidas:
        raise CliError("--activos: selección vacía")
    return [k for k in asset_graph.toposorted_asset_keys if k in elegidas]


def _duracion(particiones) -> float:
    """Length of a partition, to run finer partitionings first (days, then months, quarters)."""
    if particiones is None or not hasattr(particiones, "time_window_for_partition_key"):
        return float("inf")
    ventana = particiones.time_window_for_partition_key(particiones.get_first_partition_key())
    return (ventana.end - ventana.start).total_seconds()


def agrupar(asset_graph, claves: list) -> list[Grupo]:
    """Groups by partitions definition, each after the groups it depends on; among independent
    ones the finer partitioning first (days feed months and quarters)."""
    grupos: list[Grupo] = []
    for clave in claves:
        particiones = asset_graph.get(clave).partitions_def
        grupo = next((g for g in grupos if g.particiones == particiones), None)
        if grupo is None:
            grupo = Grupo(particiones)
            grupos.append(grupo)
        grupo.claves.append(clave)
    ordenados: list[Grupo] = []
    pendientes = list(grupos)
    while pendientes:
        listos = [
            g
            for g in pendientes
            if not any(
                set().union(*(asset_graph.get_ancestor_asset_keys(k) for k in g.claves)) & set(otro.claves)
                for otro in pendientes
                if otro is not g
            )
        ] or pendientes[:1]  # cannot be empty on an acyclic graph; keep going regardless
        siguiente = min(listos, key=lambda g: _duracion(g.particiones))
        pendientes.remove(siguiente)
        ordenados.append(siguiente)
    return ordenados


def claves_del_rango(particiones, desde: date, hasta: date) -> list[str]:
    """The partition keys whose windows overlap the local days [desde, hasta]."""
    import dagster as dg

    if particiones is None:
        return []
    zona = ZoneInfo(particiones.timezone)
    inicio = datetime.combine(desde, datetime.min.time(), zona)
    fin = datetime.combine(hasta + timedelta(days=1), datetime.min.time(), zona)
    existentes = particiones.get_partition_keys()
    if not existentes:
        raise CliError("todavía no existe ninguna partición")
    primera = particiones.time_window_for_partition_key(existentes[0])
    ultima = particiones.time_window_for_partition_key(existentes[-1])
    if inicio < primera.start:
        raise CliError(f"--desde {desde} es anterior a la primera partición ({existentes[0]}, IACT_PARTICIONES_DESDE)")
    if fin > ultima.end:
        ultimo_dia = (ultima.end - timedelta(days=1)).date()
        raise CliError(f"--hasta {hasta} es posterior al último día con partición ({ultimo_dia})")
    rango = dg.PartitionKeyRange(
        particiones.get_partition_key_for_timestamp(inicio.timestamp()),
        particiones.get_partition_key_for_timestamp((fin - timedelta(microseconds=1)).timestamp()),
    )
    return list(particiones.get_partition_keys_in_range(rango))


def _una_linea(texto: str, largo: int = 300) -> str:
    linea = " ".join(texto.split()).removeprefix("dagster._core.errors.")
    return linea if len(linea) <= largo else linea[: largo - 3] + "..."


def _error_en_una_linea(result) -> str:
    """The first failed step and its error, on one line, in the words its alert uses."""
    from iact_pipelines.monitoreo import seguimiento

    for evento in result.get_step_failure_events():
        paso = seguimiento.paso_fallido(evento)
        return f"{paso.paso}: {_una_linea(paso.error)}"
    return "el run falló"


def job_del_grupo(defs, grupo: Grupo):
    """The named job (diario, reportes_mensuales, ...) that holds every asset of the group, so the
    run is listed under its job in the UI and in etl_jobs; Dagster's implicit asset job only for a
    selection no named job covers."""
    for job in defs.resolve_all_job_defs():
        if job.name.startswith("__"):
            continue
        if set(grupo.claves) <= set(job.asset_layer.selected_asset_keys):
            return job
    return defs.resolve_implicit_job_def_def_for_assets(grupo.claves)


def _espejar(instance, run_id: str) -> None:
    """Write the run's final state into etl_jobs now: without the daemon (no mirror sensor) the
    row would stay `running`. Best effort: the sensor converges on the same row."""
    import dagster as dg

    from iact_pipelines.monitoreo import seguimiento
    from iact_pipelines.plataforma import db

    try:
        (record,) = instance.get_run_records(filters=dg.RunsFilter(run_ids=[run_id]))
        resumen = seguimiento.resumir_run(instance, record)
        with db.connect(db.resolve_urls(start=False).warehouse) as conn, conn.transaction():
            seguimiento.registrar_run(conn, resumen)
    except Exception:  # noqa: BLE001 - the database may be what failed; the sensor catches up
        pass


def _cerrar_run_huerfano(instance, run_id: str, motivo: str) -> None:
    """A run left STARTED by an exception outside its steps (e.g. the database restarted) is
    failed now, so it neither waits for the dead-run sensor nor counts as in progress."""
    try:
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, f"iact materializar: el run terminó de forma anormal: {motivo}")
    except Exception:  # noqa: BLE001 - storage unreachable: the dead-run sensor fails it later
        pass


def _periodos():
    from iact_pipelines.plataforma import partitions

    return (partitions.mensual_en_curso, partitions.trimestral_en_curso)


def ejecutar(
    defs, instance, grupos: list[Grupo], etiquetas: dict[str, str] | None = None, *, verbose: bool = False
) -> list[Resultado]:
    """One in-process run per group over its key range, in order; dependents of a failure skip.
    First, the runs a killed process left STARTED are failed and mirrored: a deployment that
    runs `iact materializar` from cron, without the daemon's runs_muertos sensor, keeps none."""
    from dagster._core.utils import make_new_run_id

    from iact_pipelines.monitoreo import vigilancia
    from iact_pipelines.reportes.sensors import ETIQUETA_PERIODOS_DESPUES

    for muerto in vigilancia.fallar_runs_muertos(instance, por="el siguiente iact materializar"):
        _espejar(instance, muerto)

    periodos = _periodos()
    asset_graph = defs.resolve_asset_graph()
    resultados: list[Resultado] = []
    fallidas: set = set()
    for grupo in grupos:
        ancestros = set().union(*(asset_graph.get_ancestor_asset_keys(k) for k in grupo.claves))
        if ancestros & fallidas:
            resultados.append(
                Resultado(grupo, None, False, 0.0, "omitido: falló un run anterior del que depende", omitido=True)
            )
            fallidas |= set(grupo.claves)
            continue
        job = job_del_grupo(defs, grupo)
        claves = grupo.particiones_elegidas
        opciones: dict = {"tags": dict(etiquetas or {})}
        if len(claves) == 1:
            opciones["partition_key"] = claves[0]
        elif claves:
            opciones["tags"].update({_RANGO_INICIO: claves[0], _RANGO_FIN: claves[-1]})
        # Known before the run starts, so even a run that dies early can be named.
        run_id = make_new_run_id()
        # Host and pid of this process: the dead-run sensor fails the run if this process dies.
        opciones["tags"].update(vigilancia.etiquetas_proceso())
        if any(g.particiones in periodos for g in grupos[grupos.index(grupo) + 1 :]):
            # this command builds the months and quarters itself, after these days: the
            # periods sensor leaves this run's days to it instead of building them twice
            opciones["tags"][ETIQUETA_PERIODOS_DESPUES] = "true"
        activos = ", ".join("/".join(k.path) for k in grupo.claves)
        print(f"run {run_id}: {_describir_particiones(claves)}  activos {activos}", flush=True)
        inicio = time.monotonic()
        try:
            result = job.execute_in_process(
                run_config=_REGISTRO_DETALLADO if verbose else _REGISTRO,
                instance=instance,
                asset_selection=grupo.claves,
                raise_on_error=False,
                run_id=run_id,
                **opciones,
            )
        except Exception as exc:  # noqa: BLE001 - reported as one line, the run (if any) is in the instance
            motivo = _una_linea(f"{type(exc).__name__}: {exc}")
            _cerrar_run_huerfano(instance, run_id, motivo)
            _espejar(instance, run_id)
            resultados.append(Resultado(grupo, run_id, False, time.monotonic() - inicio, motivo))
            fallidas |= set(grupo.claves)
            continue
        segundos = time.monotonic() - inicio
        error = None if result.success else _error_en_una_linea(result)
        _espejar(instance, result.run_id)
        resultados.append(Resultado(grupo, result.run_id, result.success, segundos, error))
        if not result.success:
            fallidas |= set(grupo.claves)
    return resultados


def _describir_particiones(claves: list[str]) -> str:
    """Readable partitions: `2026-09-05 a 2026-12-03 (90 días)`, `2026-09 a 2026-12 (4 meses)`."""
    if not claves:
        return "sin particiones"
    unidad = "días"
    if all(c.endswith("-01") for c in claves) and len(claves) > 1 and claves[0][:7] != claves[1][:7]:
        meses = (int(claves[1][:4]) - int(claves[0][:4])) * 12 + int(claves[1][5:7]) - int(claves[0][5:7])
        unidad = "trimestres" if meses == 3 else "meses"
        claves = [c[:7] for c in claves]
    if len(claves) == 1:
        return claves[0]
    return f"{claves[0]} a {claves[-1]} ({len(claves)} {unidad})"


def _materializar(args) -> int:
    import dagster as dg

    with warnings.catch_warnings():
        # "beta" notices about BackfillPolicy, partition mappings, selections: noise on a terminal.
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _materializar_rango(args)


def _materializar_rango(args) -> int:
    desde = parse_fecha("--desde", args.desde)
    hasta = parse_fecha("--hasta", args.hasta)
    if hasta < desde:
        raise CliError(f"--hasta {hasta} es anterior a --desde {desde}")
    aceptados = [parse_fecha("--aceptar-dias", d.strip()) for d in args.aceptar_dias.split(",") if d.strip()]
    fuera = [d for d in aceptados if not desde <= d <= hasta]
    if fuera:
        raise CliError(f"--aceptar-dias {fuera[0]} está fuera de --desde {desde} --hasta {hasta}")
    etiquetas = {}
    if aceptados:
        import getpass

        from iact_pipelines.staging.compuerta import ETIQUETA_ACEPTADO_POR, ETIQUETA_ACEPTAR_DIAS

        etiquetas = {
            ETIQUETA_ACEPTAR_DIAS: ",".join(d.isoformat() for d in sorted(set(aceptados))),
            ETIQUETA_ACEPTADO_POR: getpass.getuser(),
        }

    from iact_pipelines.plataforma import db, migrations
    from iact_pipelines.plataforma.instance import prepare_dagster_home

    urls = db.resolve_urls()
    migrations.setup(urls)
    prepare_dagster_home(urls)  # before importing the definitions: resources read the environment

    import dagster as dg

    from iact_pipelines.definitions import defs

    asset_graph = defs.resolve_asset_graph()
    grupos = agrupar(asset_graph, seleccionar(asset_graph, args.activos))
    for grupo in grupos:
        grupo.particiones_elegidas = claves_del_rango(grupo.particiones, desde, hasta)

    comienzo = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        resultados = ejecutar(defs, instance, grupos, etiquetas, verbose=getattr(args, "verbose", False))
    total = time.monotonic() - comienzo

    for r in resultados:
        estado = "ok" if r.exito else "OMITIDO" if r.omitido else "FALLÓ"
        activos = ", ".join("/".join(k.path) for k in r.grupo.claves)
        print(
            f"{estado:6} run {r.run_id or '-':36}  {r.segundos:7.1f} s  "
            f"particiones {_describir_particiones(r.grupo.particiones_elegidas)}  activos {activos}"
        )
    fallos = [r for r in resultados if not r.exito and not r.omitido]
    omitidos = sum(r.omitido for r in resultados)
    print(
        f"{len(resultados) - omitidos} run(s), {len(fallos)} fallido(s), {omitidos} omitido(s), {total:.1f} s en "
        f"total, del {desde} al {hasta}",
        flush=True,
    )
    if fallos:
        primero = fallos[0]
        donde = f"{load_settings().ui_url}/runs/{primero.run_id}"
        raise CliError(
            f"el run {primero.run_id} falló: {primero.error} (log completo: {donde}, o `iact --verbose materializar ...`)"
            + (f"; fallaron {len(fallos) - 1} run(s) más" if len(fallos) > 1 else "")
            + (f"; {omitidos} run(s) omitido(s)" if omitidos else "")
        )
    return 0
