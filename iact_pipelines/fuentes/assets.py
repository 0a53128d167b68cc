"""The legacy IVR tables as external source assets: Dagster observes them, never writes them."""

import dagster as dg

_TABLAS = {
    "llamadas": "Calls as the IVR records them: center, caller, entry, queue, answer, end, outcome.",
    "menu_eventos": "Each visit of a call to an IVR menu, with entry, exit and outcome.",
    "transferencias": "Transfers of calls between centers, with start, end and success.",
}

ivr_sources = [
    dg.AssetSpec(
        key=dg.AssetKey(["ivr", tabla]),
        description=descripcion,
        group_name="ivr",
        kinds={"postgres"},
        metadata={"dagster/table_name": f"ivr.{tabla}"},
    )
    for tabla, descripcion in _TABLAS.items()
]
