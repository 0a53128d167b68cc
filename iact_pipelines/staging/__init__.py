"""Staging: the IVR rows of the allowed centers, validated and loaded by local day.

One staging day, from its asset to the committed rows (the order of the calls):

1. `assets._staging` (the asset) calls `corrida.cargar_ventana`, the conductor: the run's
   days in batches of whole days, each batch a `corrida.Lote`.
2. `carga.reemplazar_dias` opens the batch's days: one transaction that loads each day into
   a new table (readers keep the previous partitions; nothing changes if anything fails).
3. `extraccion.leer_trozos` reads the batch from the IVR source in chunks (ADBC, Arrow).
4. `validacion.validar` applies the row rules to each chunk.
5. `carga.Copiador` COPYs each chunk's valid rows into its day's new table, and
6. `errores.copiar` writes the chunk's rejected and warned rows to `etl_validation_errors`.
7. `compuerta.Volumen` judges each day (`volumen`, `tasa_rechazo`) and records the verdicts
   in `staging_cargas`; a day it blocks is rolled back and the batch redone without it.
8. Leaving `carga.reemplazar_dias`: `clientes.actualizar` rewrites the days' first calls,
   the new tables are analyzed and swapped in for the days' partitions, and the transaction
   commits.

Then `compuerta.resultados` gives Dagster the checks of the run's days.
"""
