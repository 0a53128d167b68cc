# IACT Pipelines. `make dev` and `make test` set everything up from only Python 3.11.
# python3.11, or a python3 that is 3.11 (checked when the venv is built).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

DEMO_DIAS ?= 90
DEMO_LLAMADAS ?= 20000

# `make bench BENCH_ESCALAS=100000,1000000,3000000`: only the scaling line, at those calls/day.
BENCH_ESCALAS ?=
# `make bench-recarga BENCH_RECARGA_LLAMADAS=20000`: the calls of the day reloaded under readers.
BENCH_RECARGA_LLAMADAS ?= 900000

.PHONY: install dev test lint format bench bench-dia bench-distribuido bench-recarga clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null \
		|| { echo "make: Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

dev: install
	$(BIN)/iact db migrate
	@if [ ! -f .iact/dev/.demo-seeded ]; then \
		$(BIN)/iact demo seed --dias $(DEMO_DIAS) --llamadas-por-dia $(DEMO_LLAMADAS) \
		&& touch .iact/dev/.demo-seeded; \
	fi
	@# A first failed run can alert: the demo's admin, unless there is an active admin already.
	$(BIN)/iact demo admin
	@# iact dev stops only a server it started itself: hand it the one migrate/seed started.
	$(BIN)/iact db stop
	exec $(BIN)/iact dev

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m benchmarks $(if $(BENCH_ESCALAS),--escalas $(BENCH_ESCALAS))

# A typical day (20,000 calls, 30 days before it): unit, floor, the CLI's and the daemon's run.
bench-dia: install
	$(BIN)/python -m benchmarks.dia_tipico

# A 90-day range build of `diario` with its steps on 1 and then 2 dagster-celery workers
# (needs RabbitMQ and Redis; about 10 minutes here).
bench-distribuido: install
	$(BIN)/python -m benchmarks.distribuido

# Readers of a staging day while it is reloaded: their latency, the load's time, the report gap.
bench-recarga: install
	$(BIN)/python -m benchmarks.recarga --llamadas $(BENCH_RECARGA_LLAMADAS)

clean:
	-$(BIN)/iact db stop
	rm -rf .iact
