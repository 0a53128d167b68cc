"""The table catalog, the migrated DDL and the Dagster column schemas agree; every catalogued
column carries its description as a COMMENT in the warehouse."""

import dagster as dg
from psycopg import sql

from iact_pipelines.definitions import defs
from iact_pipelines.fuentes.contrato import COLUMNAS_DERIVADAS, FUENTES
from iact_pipelines.plataforma import catalogo
from iact_pipelines.staging import validacion

_COLUMNAS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), col_description(a.attrelid, a.attnum), NOT a.attnotnull
FROM pg_attribute AS a
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


def test_catalog_matches_the_migrated_ddl_and_comments(warehouse):
    for tabla in catalogo.TABLAS.values():
        filas = warehouse.execute(_COLUMNAS, (tabla.nombre,)).fetchall()
        assert filas, f"{tabla.nombre} is catalogued but missing in the warehouse"
        en_ddl = {nombre: (tipo, nula) for nombre, tipo, _, nula in filas}
        assert en_ddl == {c.nombre: (c.tipo, c.nula) for c in tabla.columnas}, tabla.nombre
        comentarios = {nombre: comentario for nombre, _, comentario, _ in filas}
        assert comentarios == {c.nombre: c.descripcion for c in tabla.columnas}, tabla.nombre
        (descripcion,) = warehouse.execute(
            "SELECT obj_description(to_regclass(%s), 'pg_class')", (tabla.nombre,)
        ).fetchone()
        assert descripcion.startswith(tabla.descripcion)


# The warehouse's tables (day partitions aside) in the schemas the migrations create. Dagster's
# storage and the IVR source live in databases of their own.
_TABLAS = """
SELECT n.nspname, c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
"""
# The migrator's own ledger (plataforma/migrations.py), not a table of the platform's data.
_LEDGER = "schema_migrations"


def test_the_catalog_holds_exactly_the_warehouse_tables(warehouse):
    tablas = {
        f"{esquema}.{nombre}" if esquema != "public" else nombre
        for esquema, nombre in warehouse.execute(_TABLAS).fetchall()
    }
    assert tablas - {_LEDGER} == set(catalogo.TABLAS)


def test_the_reset_empties_every_data_table_and_keeps_the_settings(warehouse):
    warehouse.execute(
        "INSERT INTO usuarios (nombre) VALUES ('lucia');"
        "INSERT INTO staging_cargas (asset_key, fecha, estado, filas_leidas, filas_cargadas, run_id)"
        " VALUES ('staging/llamadas', '2026-01-05', 'cargado', 1, 1, 'r')"
    )
    (ajustes,) = warehouse.execute("SELECT count(*) FROM config_reportes").fetchone()
    warehouse.execute(catalogo.vaciar())
    for tabla in catalogo.tablas_de_datos():
        assert warehouse.execute(sql.SQL("SELECT count(*) FROM {}").format(tabla.identificador())).fetchone() == (0,)
    assert ajustes > 0
    assert warehouse.execute("SELECT count(*) FROM config_reportes").fetchone() == (ajustes,)
    assert {t.nombre for t in catalogo.TABLAS.values() if t.configuracion} == {"config_reportes"}


def test_staging_validation_rules_come_from_the_catalog():
    for tabla, esquema in validacion.ESQUEMAS.items():
        fuente = FUENTES[tabla]
        columnas = fuente.catalogo.columnas

        def con(regla, esquema=esquema):
            return {n for n, c in esquema.columns.items() if regla in [k.name for k in c.checks]}

        # NOT NULL, less the derived day and hour and what the extraction guarantees: the
        # window's start (a row without a center is extracted and rejected)
        garantizadas = {*COLUMNAS_DERIVADAS, fuente.inicio}
        assert con("nulo_requerido") == {c.nombre for c in columnas if not c.nula} - garantizadas
        assert con("resultado_desconocido") == {c.nombre for c in columnas if c.valores}
        assert con("centro_malformado") == {c.nombre for c in columnas if c.patron == catalogo.CODIGO_CENTRO}
    severidades = catalogo.tabla("etl_validation_errors").columna("severity").valores
    assert set(severidades) == {*validacion.SEVERIDAD.values(), validacion.CRITICAL}


def test_asset_descriptions_are_the_catalog_s():
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    for tabla in FUENTES:
        assert specs[f"staging/{tabla}"].description == catalogo.tabla(f"staging.{tabla}").descripcion


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
