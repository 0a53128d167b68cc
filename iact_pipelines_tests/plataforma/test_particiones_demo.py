"""On the embedded demo the partitions start on the demo's first day (the UI shows the demo whole);
a configured source or first day keeps IACT_PARTICIONES_DESDE."""

from datetime import date

import pytest

from iact_pipelines.plataforma import embedded, partitions


@pytest.fixture
def demo_embebida(monkeypatch, tmp_path):
    monkeypatch.setenv("IACT_HOME", str(tmp_path))
    monkeypatch.delenv("IACT_IVR_URL", raising=False)
    monkeypatch.delenv("IACT_PARTICIONES_DESDE", raising=False)
    return tmp_path


def _definiciones():
    return partitions._definiciones.__wrapped__()  # uncached: the settings of this test


def test_the_embedded_demo_partitions_start_on_its_first_day(demo_embebida):
    assert partitions.primer_dia() == date(2024, 1, 1)  # nothing seeded yet: the setting's default
    partitions.registrar_demo(date(2026, 9, 5), date(2026, 12, 3))
    partitions.registrar_demo(date(2026, 11, 1), date(2026, 12, 4))  # a later seed widens the record
    assert partitions.primer_dia() == date(2026, 9, 5)
    definiciones = _definiciones()
    assert definiciones["diaria"].get_first_partition_key() == "2026-09-05"
    # the month and the quarter holding the first day are the first periods
    assert definiciones["mensual_en_curso"].get_first_partition_key() == "2026-09-01"
    assert definiciones["trimestral_en_curso"].get_first_partition_key() == "2026-07-01"


@pytest.mark.parametrize(
    "variable, valor", [("IACT_IVR_URL", "postgresql://ivr/ivr"), ("IACT_PARTICIONES_DESDE", "2025-02-01")]
)
def test_a_configured_source_or_first_day_ignores_the_demo(demo_embebida, monkeypatch, variable, valor):
    partitions.registrar_demo(date(2026, 9, 5), date(2026, 12, 3))
    monkeypatch.setenv(variable, valor)
    assert partitions.primer_dia() == (date(2025, 2, 1) if variable == "IACT_PARTICIONES_DESDE" else date(2024, 1, 1))
    partitions.registrar_demo(date(2020, 1, 1), date(2020, 1, 2))  # not recorded: not the embedded demo
    monkeypatch.delenv(variable)
    assert partitions.primer_dia() == date(2026, 9, 5)


def test_the_embedded_server_s_url_exported_to_dagster_s_processes_is_still_the_demo(demo_embebida, monkeypatch):
    # `iact dev` and `iact materializar` export the embedded server's URLs for Dagster's processes,
    # which read the partitions from them: the demo stays the demo there.
    partitions.registrar_demo(date(2026, 9, 5), date(2026, 12, 3))
    monkeypatch.setenv("IACT_IVR_URL", f"postgresql://postgres:@/ivr?host={embedded.pgdata_dir(demo_embebida)}")
    assert partitions.primer_dia() == date(2026, 9, 5)
    assert _definiciones()["diaria"].get_first_partition_key() == "2026-09-05"
    # another home's embedded server is a configured source like any other
    monkeypatch.setenv("IACT_IVR_URL", f"postgresql://postgres:@/ivr?host={demo_embebida / 'otro' / 'pg'}")
    assert partitions.primer_dia() == date(2024, 1, 1)
