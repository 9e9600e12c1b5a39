# TTHC Pulse — the two commands of the README, and a few helpers.
#   make demo   the whole system with a simulated Hanoi feed (Ctrl-C stops everything)
#   make test   the whole test suite against a real Kafka broker and a real PostgreSQL
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# The virtualenv is rebuilt when pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test down backing lint format venv requirements clean bench-read

demo: $(STAMP)
	$(PY) -m infra up --demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	@bash infra/chromium.sh
	@bash infra/notice_tools.sh
	@bash infra/prometheus.sh
	@bash infra/nginx.sh
	$(PY) -m infra test $(PYTEST_ARGS)

down:
	@if [ -x $(PY) ]; then $(PY) -m infra down; else echo "nothing to stop (no virtualenv)"; fi

backing: $(STAMP)
	$(PY) -m infra backing

# The read path on the whole demo stack with the live feed (docs/benchmarks.md, issue 15): ~15 min, not in `make test`.
bench-read: $(STAMP)
	$(PY) bench/read_stack.py $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

venv: $(STAMP)

requirements:
	@bash infra/requirements.sh

$(STAMP): pyproject.toml
	@bash infra/requirements.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

clean: down
	rm -rf var
