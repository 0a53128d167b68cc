"""Builders of the staffing and target tests: interval rows written straight into
reportes_intervalos (the staffing's input) and one run of several report assets. Staged calls
come from reportes/ayudas.py."""

from __future__ import annotations

from datetime import date, time

import dagster as dg
import psycopg

from iact_pipelines.plataforma.resources import build_resources
from iact_pipelines_tests.reportes.ayudas import NAC, PUE

CUARTOS = [time(n // 4, (n % 4) * 15) for n in range(96)]

_COLUMNAS = (
    "fecha, intervalo, centro_id, ofrecidas, solo_ivr, atendidas, abandonadas, abandonos_cortos, atendidas_en_umbral, "
    "suma_espera_atendidas, suma_atencion, espera_maxima, tiempo_promedio_espera, tiempo_promedio_atencion, "
    "nivel_servicio, nivel_servicio_atendidas, nivel_servicio_sin_cortos, tasa_abandono, tasa_abandono_sin_cortos, "
    "contencion_ivr, umbral_servicio_s, abandono_corto_s"
)
# The rates from the counts, as reportes/intervalos computes them (the views read them).
_DERIVADAS = """
UPDATE reportes_intervalos SET
    nivel_servicio = iact_porcentaje(atendidas_en_umbral, atendidas + abandonadas),
    tasa_abandono = iact_porcentaje(abandonadas, atendidas + abandonadas),
    tiempo_promedio_atencion = iact_promedio(suma_atencion, atendidas)
WHERE fecha = ANY(%s)
"""


def intervalos(conn: psycopg.Connection, dia: date, filas: dict[tuple[str, str], tuple], umbral: float = 20) -> None:
    """All 96 quarter hours of `dia` for both centers, zeros but for `filas`:
    (centro, 'HH:MM') -> (atendidas, abandonadas, atendidas_en_umbral, suma_atencion)."""
    with conn.cursor().copy(f"COPY reportes_intervalos ({_COLUMNAS}) FROM STDIN") as copia:
        for centro in (NAC, PUE):
            for cuarto in CUARTOS:
                at, ab, en, suma = filas.get((centro, cuarto.strftime("%H:%M")), (0, 0, 0, 0))
                copia.write_row(
                    (dia, cuarto, centro, at + ab, 0, at, ab, 0, en, 0, suma, 0, 0, 0, 0, 0, 0, 0, 0, 0, umbral, 5)
                )
    conn.execute(_DERIVADAS, ([dia],))


def materializar(instance, assets: list, desde: str, hasta: str | None = None) -> dg.ExecuteInProcessResult:
    """One run of `assets` over a partition or the range desde..hasta (a single-run backfill)."""
    opciones = {"instance": instance, "resources": build_resources()}
    if hasta is None:
        return dg.materialize(assets, partition_key=desde, **opciones)
    tags = {"dagster/asset_partition_range_start": desde, "dagster/asset_partition_range_end": hasta}
    return dg.materialize(assets, tags=tags, **opciones)
