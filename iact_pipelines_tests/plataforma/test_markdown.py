"""The one Markdown table renderer: a value from the source never breaks the table."""

import math

from iact_pipelines.plataforma.fechas import dias_semiabiertos
from iact_pipelines.plataforma.markdown import tabla_md


def test_pipes_line_breaks_and_nulls_are_escaped():
    texto = tabla_md(["menu_id", "menu_nombre", "n"], [("M|1", "Pagos\nen línea", None), ("M2", "a\\b", math.nan)])
    assert texto.splitlines() == [
        "| menu_id | menu_nombre | n |",
        "|---|---|---|",
        "| M\\|1 | Pagos en línea |  |",
        "| M2 | a\\\\b |  |",
    ]


def test_day_ranges_are_half_open():
    from datetime import date

    assert dias_semiabiertos(date(2024, 2, 28), date(2024, 3, 1)) == [date(2024, 2, 28), date(2024, 2, 29)]
    assert dias_semiabiertos(date(2024, 3, 1), date(2024, 3, 1)) == []
