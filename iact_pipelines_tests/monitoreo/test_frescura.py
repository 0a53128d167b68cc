"""Freshness: yesterday's partition missing at the deadline, or a source that stopped changing,
is one inbox alert per asset and day to each active admin, naming its RUNBOOK section."""

from pathlib import Path

import dagster as dg

from iact_pipelines.monitoreo import frescura
from iact_pipelines.plataforma.config import PROJECT_ROOT
from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines.staging import assets as staging

_ALERTAS = "SELECT recipient_id, subject, body, dedupe_key FROM internal_messages ORDER BY recipient_id"


def _tick(sensor: dg.SensorDefinition, instance, capfd) -> tuple[object, list[str]]:
    """One evaluation of the freshness sensor: its result and the INFO+ lines of its log."""
    capfd.readouterr()
    resultado = sensor(dg.build_sensor_context(instance=instance))
    lineas = [linea for linea in capfd.readouterr().err.splitlines() if " - DEBUG - " not in linea]
    return resultado, lineas


def test_a_missing_day_is_one_alert_per_admin_and_day(warehouse, instance, capfd):
    warehouse.execute("INSERT INTO usuarios (nombre, es_admin, activo) VALUES ('ana', true, true), ('eva', true, true)")
    checks = frescura.checks([staging.llamadas], [])
    sensor = frescura.sensor_de_checks(checks)
    # Never evaluated: the sensor asks for it, in one Spanish line (not one English line per check).
    pedido, lineas = _tick(sensor, instance, capfd)
    assert isinstance(pedido, dg.RunRequest) and pedido.asset_check_keys == [k for c in checks for k in c.check_keys]
    assert len(lineas) == 1 and "1 check(s) de frescura por evaluar: staging/llamadas" in lineas[0]
    # nothing was ever materialized: yesterday's (or, before the deadline, the day before's) partition is missing
    result = dg.materialize(
        [staging.llamadas, *checks],
        selection=dg.AssetSelection.checks(*checks),
        instance=instance,
        resources=build_resources(),
    )
    (evaluacion,) = result.get_asset_check_evaluations()
    assert not evaluacion.passed
    # the UI reads the check and its verdict in Spanish, as the alert quotes it
    assert evaluacion.description.startswith("El activo nunca se materializó: a esta hora debía estar la partición 20")
    assert checks[0].get_spec_for_check_key(evaluacion.asset_check_key).description == frescura._DESCRIPCION
    # Failed, and the asset not updated since: nothing to do, and nothing in the terminal.
    assert _tick(sensor, instance, capfd) == (dg.SkipReason("ningún check de frescura por evaluar"), [])

    claves = [k for c in checks for k in c.check_keys]
    assert frescura.alertar(instance, warehouse, claves, "America/Mexico_City", "http://ui") == 2
    assert frescura.alertar(instance, warehouse, claves, "America/Mexico_City", "http://ui") == 0  # once a day
    alertas = warehouse.execute(_ALERTAS).fetchall()
    assert len(alertas) == 2 and len({a[3] for a in alertas}) == 1
    assert alertas[0][1].startswith("[HIGH] staging/llamadas: sin datos frescos")
    assert f'sección "{frescura.SECCION_RUNBOOK}"' in alertas[0][2]
    assert "El activo nunca se materializó: a esta hora debía estar la partición 20" in alertas[0][2]
    assert (
        frescura.veredicto("Asset is overdue. Expected an update within the last 1 day, 6 hours.")
        == "El activo está atrasado: se esperaba un cambio en los últimos 1 día(s), 6 hora(s)."
    )
    # every text Dagster's two builders write, passed or not (the UI shows them all)
    for ingles, espanol in [
        (
            "Asset is currently fresh, since partition 2026-12-06 has been observed/materialized.",
            "El activo está al día: la partición 2026-12-06 ya se materializó.",
        ),
        (
            "Asset is currently fresh. The last update was 2 hours ago, within the allowed time range of 1 day.",
            "El activo está al día: su último cambio fue hace 2 hora(s), dentro del margen de 1 día(s).",
        ),
        ("Asset has never been observed/materialized.", "El activo nunca se observó ni se materializó."),
        (
            "Asset is overdue for an update. The last update was 2 days ago, which is past the allowed distance "
            "of 1 day ago.",
            "El activo está atrasado: su último cambio fue hace 2 día(s), más que el margen de 1 día(s).",
        ),
        (
            "Asset is overdue. We expected partition 2026-12-06 to have arrived, and it has not.",
            "El activo está atrasado: debía estar la partición 2026-12-06 y no está.",
        ),
    ]:
        assert frescura.veredicto(ingles) == espanol
    runbook = Path(PROJECT_ROOT / "docs" / "RUNBOOK.md").read_text()
    assert f"### {frescura.SECCION_RUNBOOK}" in runbook
