"""Schedules (issue 4)."""

schedules: list = []
