"""Partitions in the reporting time zone: a record belongs to the local day of its start."""

from __future__ import annotations

import dagster as dg

from iact_pipelines.plataforma.config import load_settings

_settings = load_settings()
ZONA_HORARIA = _settings.zona_horaria
DESDE = _settings.particiones_desde.isoformat()

diaria = dg.DailyPartitionsDefinition(start_date=DESDE, timezone=ZONA_HORARIA, end_offset=0)
mensual = dg.MonthlyPartitionsDefinition(start_date=DESDE, timezone=ZONA_HORARIA)
# Calendar quarters starting Jan, Apr, Jul, Oct; the key is the quarter's first day.
trimestral = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 */3 *", start=DESDE, fmt="%Y-%m-%d", timezone=ZONA_HORARIA
)

# The same periods including the one still open (end_offset=1): the month-to-date and
# quarter-to-date reports materialize the current month/quarter before it closes, and are
# rebuilt once it has. The report assets use these; a closed period's key is the same in both.
mensual_en_curso = dg.MonthlyPartitionsDefinition(start_date=DESDE, timezone=ZONA_HORARIA, end_offset=1)
trimestral_en_curso = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 */3 *", start=DESDE, fmt="%Y-%m-%d", timezone=ZONA_HORARIA, end_offset=1
)
