"""Jobs."""

jobs: list = []
