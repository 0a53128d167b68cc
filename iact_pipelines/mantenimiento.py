"""Housekeeping jobs (issue 6: purge of expired inbox messages)."""

jobs: list = []
schedules: list = []
