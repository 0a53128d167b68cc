"""A staging day streamed in chunks: the rules that compare rows with each other
still see the whole day, a copy already loaded with an earlier chunk is taken out again, and
the counts, error rows and first-call rows are those of the whole day."""

import pytest

from iact_pipelines.staging import assets as staging
from iact_pipelines.staging import carga
from iact_pipelines_tests.staging.ayudas import (
    DIA,
    en_staging,
    errores,
    evento,
    insertar,
    llamada,
    materializar,
    metadatos,
)


@pytest.fixture
def un_registro_por_trozo(monkeypatch):
    """Every source row its own chunk: every repeated key spans chunks."""
    monkeypatch.setattr(carga, "FILAS_POR_TROZO", 1)


def test_a_repeated_id_in_two_chunks_rejects_both_copies(
    llamadas_legado, warehouse, instance, sin_umbral, un_registro_por_trozo
):
    insertar(
        llamadas_legado,
        "llamadas",
        [
            llamada(1, cliente="A"),
            llamada(4, cliente="B"),  # loaded with its chunk, taken out when the copy shows up
            llamada(2, cliente="A"),
            llamada(4, cliente="B"),
            llamada(3, cliente=None),  # warned, loaded
        ],
    )

    result = materializar(instance, staging.llamadas)

    assert result.success
    assert en_staging(warehouse, "llamadas", "llamada_id") == [1, 2, 3]
    assert errores(warehouse, "staging/llamadas") == {
        3: {("cliente_no_identificado", "cliente_id", "warning")},
        4: {("id_duplicado", "llamada_id", "error")},
    }
    assert warehouse.execute("SELECT count(*) FROM etl_validation_errors WHERE record_id = '4'").fetchone() == (2,)
    meta = metadatos(result, staging.llamadas)
    assert (
        meta["registros_extraidos"],
        meta["registros_cargados"],
        meta["registros_fallidos"],
        meta["registros_advertidos"],
    ) == (5, 3, 2, 1)
    assert meta["errores_por_regla"] == {"cliente_no_identificado": 1, "id_duplicado": 2}
    # The first-call rows count the loaded calls only: B's copies were both taken out.
    assert warehouse.execute(
        "SELECT fecha::text, cliente_id, llamadas FROM staging.clientes_dia ORDER BY cliente_id"
    ).fetchall() == [(DIA, "A", 2)]
    assert warehouse.execute(
        "SELECT cliente_id, primera_fecha::text FROM staging.clientes_primera_llamada"
    ).fetchall() == [("A", DIA)]


def test_a_visit_logged_again_in_a_later_chunk(ivr_writer, warehouse, instance, sin_umbral, un_registro_por_trozo):
    insertar(
        ivr_writer,
        "menu_eventos",
        [
            evento(10, "2024-03-10 11:00:00", llamada_id=7),  # a later copy, read first: rejected
            evento(1),
            evento(3, llamada_id=None),
            evento(9, "2024-03-10 11:00:00", llamada_id=7),  # the first log of the visit (lowest id): kept
        ],
    )

    result = materializar(instance, staging.menu_eventos)

    assert result.success
    assert en_staging(warehouse, "menu_eventos", "evento_id") == [1, 9]
    assert errores(warehouse, "staging/menu_eventos") == {
        3: {("nulo_requerido", "llamada_id", "error")},
        10: {("id_duplicado", "llamada_id,menu_id,entrada", "error")},
    }
    meta = metadatos(result, staging.menu_eventos)
    assert (meta["registros_extraidos"], meta["registros_cargados"], meta["registros_fallidos"]) == (4, 2, 2)


def test_chunks_or_not_the_same_rows_and_error_rows(ivr_writer, warehouse, instance, sin_umbral, monkeypatch):
    insertar(
        ivr_writer,
        "llamadas",
        [llamada(i, f"2024-03-10 {8 + i % 12:02d}:{i % 60:02d}:00", cliente=f"C{i % 4}") for i in range(1, 30)]
        + [llamada(1000, fin=None), llamada(1001, cliente=None)],
    )
    estado = (
        "SELECT record_id, field_name, error_type, severity, partition_key, record_data::text "
        "FROM etl_validation_errors ORDER BY record_id, field_name, error_type"  # each chunk writes its own
    )
    assert materializar(instance, staging.llamadas).success
    de_una_vez = [
        warehouse.execute(q).fetchall()
        for q in (
            "SELECT * FROM staging.llamadas ORDER BY llamada_id",
            estado,
            "SELECT * FROM staging.clientes_dia ORDER BY cliente_id",
        )
    ]

    monkeypatch.setattr(carga, "FILAS_POR_TROZO", 7)
    assert materializar(instance, staging.llamadas).success

    en_trozos = [
        warehouse.execute(q).fetchall()
        for q in (
            "SELECT * FROM staging.llamadas ORDER BY llamada_id",
            estado,
            "SELECT * FROM staging.clientes_dia ORDER BY cliente_id",
        )
    ]
    assert en_trozos == de_una_vez
    assert len(de_una_vez[0]) == 30 and len(de_una_vez[1]) == 2
