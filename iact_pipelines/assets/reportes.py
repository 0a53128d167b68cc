"""Report assets (issue 4)."""

report_assets: list = []
