"""Sensors (issue 5)."""

sensors: list = []
