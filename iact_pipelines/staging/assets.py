"""Staging assets: the allowed centers' rows of each IVR table, validated, by local day.

Each asset handles a whole range of local days in one run (backfills are single runs); the
run itself is `corrida.cargar_ventana`. Its two blocking checks (`compuerta`) keep the
reports off days that read too little or rejected too much.
"""

import dagster as dg

from iact_pipelines.plataforma import catalogo, partitions
from iact_pipelines.plataforma.resources import IvrResource, PipelineSettings, WarehouseResource, errores_clasificados
from iact_pipelines.staging import compuerta


def _checks(clave: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            compuerta.CHECK_TASA_RECHAZO,
            asset=clave,
            blocking=True,
            partitions_def=partitions.diaria,
            description="Las filas rechazadas de cada día no superan IACT_MAX_TASA_RECHAZO (5% por defecto).",
        ),
        dg.AssetCheckSpec(
            compuerta.CHECK_VOLUMEN,
            asset=clave,
            blocking=True,
            partitions_def=partitions.diaria,
            description="Cada día leyó filas, y al menos IACT_VOLUMEN_MINIMO (0.5 por defecto) x la mediana del "
            "mismo día de la semana 7, 14, 21 y 28 días antes; un día retenido conserva sus filas anteriores.",
        ),
    ]


def _asset(tabla: str) -> dg.AssetsDefinition:
    """A staging asset over `ivr/<tabla>`, described by the catalog, with its blocking checks (in
    the same step, so they block downstream assets of the same run)."""
    clave = dg.AssetKey(["staging", tabla])
    catalogada = catalogo.tabla(f"staging.{tabla}")

    @dg.asset(
        key=clave,
        description=catalogada.descripcion,
        group_name="staging",
        deps=[dg.AssetKey(["ivr", tabla])],
        partitions_def=partitions.diaria,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"postgres", "pandas"},
        tags={partitions.ETIQUETA: "diaria"},
        metadata=catalogada.metadata_dagster(),
        check_specs=_checks(clave),
    )
    def _staging(
        context: dg.AssetExecutionContext,
        ivr: IvrResource,
        warehouse: WarehouseResource,
        settings: PipelineSettings,
    ):
        # The load (pandas, pandera, pyarrow) is imported by the step that runs it, not with the
        # definitions every process loads (the code server, the report steps' processes).
        from iact_pipelines.staging import corrida

        # Yielded, not returned: a range run logs each day's events after its materialization.
        with errores_clasificados():
            yield from corrida.cargar_ventana(context, tabla, ivr, warehouse, settings)

    return _staging


llamadas = _asset("llamadas")
menu_eventos = _asset("menu_eventos")
transferencias = _asset("transferencias")

staging_assets = [llamadas, menu_eventos, transferencias]
