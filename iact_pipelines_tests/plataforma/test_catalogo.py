"""The table catalog, the migrated DDL and the Dagster column schemas agree; every catalogued
column carries its description as a COMMENT in the warehouse."""

import dagster as dg

from iact_pipelines.definitions import defs
from iact_pipelines.plataforma import catalogo

_COLUMNAS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), col_description(a.attrelid, a.attnum)
FROM pg_attribute AS a
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


def test_catalog_matches_the_migrated_ddl_and_comments(warehouse):
    for tabla in catalogo.TABLAS.values():
        filas = warehouse.execute(_COLUMNAS, (tabla.nombre,)).fetchall()
        assert filas, f"{tabla.nombre} is catalogued but missing in the warehouse"
        en_ddl = {nombre: tipo for nombre, tipo, _ in filas}
        assert en_ddl == {c.nombre: c.tipo for c in tabla.columnas}, tabla.nombre
        comentarios = {nombre: comentario for nombre, _, comentario in filas}
        assert comentarios == {c.nombre: c.descripcion for c in tabla.columnas}, tabla.nombre
        (descripcion,) = warehouse.execute(
            "SELECT obj_description(to_regclass(%s), 'pg_class')", (tabla.nombre,)
        ).fetchone()
        assert descripcion.startswith(tabla.descripcion)


def test_every_report_and_staging_table_is_catalogued(warehouse):
    tablas = {
        f"{esquema}.{nombre}" if esquema != "public" else nombre
        for esquema, nombre in warehouse.execute(
            """SELECT n.nspname, c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
                 AND (n.nspname = 'staging' OR c.relname LIKE 'reportes\\_%%')"""
        ).fetchall()
    }
    assert tablas <= set(catalogo.TABLAS)


def test_asset_column_schemas_come_from_the_catalog():
    vistos = 0
    for spec in defs.resolve_all_asset_specs():
        tabla = spec.metadata.get("dagster/table_name")
        if tabla not in catalogo.TABLAS:
            continue
        esquema = spec.metadata["dagster/column_schema"]
        assert isinstance(esquema, dg.TableSchema)
        assert [(c.name, c.type, c.description) for c in esquema.columns] == [
            (c.nombre, c.tipo, c.descripcion) for c in catalogo.tabla(tabla).de_negocio()
        ]
        vistos += 1
    assert vistos >= 8  # three staging tables and five reports


def test_tables_written_outside_the_asset_graph_are_declared_with_their_writer():
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    for clave, tabla, escritor in (
        ("monitoreo/etl_jobs", "etl_jobs", "espejo_etl_jobs"),
        ("monitoreo/etl_validation_errors", "etl_validation_errors", "staging"),
        ("buzon/internal_messages", "internal_messages", "alertas_fallos"),
    ):
        spec = specs[clave]
        assert spec.metadata["dagster/table_name"] == tabla
        assert escritor in spec.metadata["escrita_por"]
        assert spec.owners == ["team:plataforma_datos"]
    assert {d.asset_key.to_user_string() for d in specs["monitoreo/etl_validation_errors"].deps} == {
        "staging/llamadas",
        "staging/menu_eventos",
        "staging/transferencias",
    }
    # every asset has an owner and an area tag
    assert all(s.owners and s.tags.get("area") for s in specs.values())
