"""Slot for the three analyst reports of DESIGN.md ("Analyst reports beyond the seed").

HOOK FOR ISSUE 13: replace `medir_reportes_analista` with the function timing those reports
over the bench day. It receives the warehouse URL and the local day the day benchmark just
materialized, and returns seconds per report (`{"intervalos": 0.41, ...}`), or None while the
reports do not exist. `make bench` prints them after each pipeline run and adds them to the
assets' own work it compares with the floor.
"""

from __future__ import annotations

from datetime import date


def medir_reportes_analista(warehouse_url: str, dia: date) -> dict[str, float] | None:
    """Seconds per analyst report for `dia`; None until they exist."""
    return None
