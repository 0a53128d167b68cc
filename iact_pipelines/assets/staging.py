"""Staging assets (issue 3): extraction of the allowed centers, validation, load."""

staging_assets: list = []
staging_checks: list = []
