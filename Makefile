# TTHC Pulse — the two commands of the README, and a few helpers.
#   make demo   the whole system with a simulated Hanoi feed (Ctrl-C stops everything)
#   make test   the whole test suite against a real Kafka broker and a real PostgreSQL
#   make faults the fault-injection scenarios with heavy sizes (docs/reliability.md, about 20 minutes)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# The virtualenv is rebuilt when pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test faults down backing lint format venv requirements clean bench-read equivalence

demo: $(STAMP)
	$(PY) -m infra up --demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	@bash infra/chromium.sh
	@bash infra/notice_tools.sh
	@bash infra/prometheus.sh
	@bash infra/nginx.sh
	$(PY) -m infra test -- --durations=25 $(PYTEST_ARGS)

# The heavy variants of tests/integration/faults (the bounded ones run in `make test`): the same scenario code,
# bigger FAULT_* sizes. Override any on the command line or in the environment, e.g. make faults FAULT_CRASH_KILLS=5.
# The suite starts its own Kafka and PostgreSQL (it stops and starts them), so no backing servers are needed.
FAULT_CRASH_EVENTS ?= 300000
FAULT_CRASH_KILLS ?= 20
FAULT_CRASH_RATE ?= 1000
FAULT_BROKER_EVENTS ?= 60000
FAULT_BROKER_OUTAGE_S ?= 18
FAULT_PG_EVENTS ?= 40000
FAULT_PG_OUTAGE_S ?= 20
FAULT_HOSTILE_VALID ?= 20000
FAULT_RECEIVER_ERROR_S ?= 60
FAULT_RECEIVER_REFUSED_S ?= 20
FAULT_BATCH ?= 500
FAULT_CLIENTS ?= 4
FAULT_SETTLE_TIMEOUT_S ?= 900
FAULT_TEST_TIMEOUT_S ?= 3600
FAULT_SIZES := $(foreach v,CRASH_EVENTS CRASH_KILLS CRASH_RATE BROKER_EVENTS BROKER_OUTAGE_S PG_EVENTS PG_OUTAGE_S \
	HOSTILE_VALID RECEIVER_ERROR_S RECEIVER_REFUSED_S BATCH CLIENTS SETTLE_TIMEOUT_S TEST_TIMEOUT_S,FAULT_$(v)=$(FAULT_$(v)))

faults: $(STAMP)
	env $(FAULT_SIZES) $(PY) -m pytest tests/integration/faults -q -s -p no:cacheprovider $(PYTEST_ARGS)

# The decoder-equivalence property tests at 5,000 examples each (make test runs them at 400): 10–20 min on 2 cores.
equivalence: $(STAMP)
	DECODER_EQUIVALENCE_EXAMPLES=5000 $(PY) -m pytest -q -p no:cacheprovider --timeout=3600 \
		tests/unit/scoring/test_decoder_equivalence.py tests/unit/ingest/test_decoder_equivalence.py

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
