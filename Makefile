# TTHC Pulse — the two commands of the README, and a few helpers.
#   make demo   the whole system with a simulated Hanoi feed (Ctrl-C stops everything)
#   make test   the whole test suite against a real Kafka broker and a real PostgreSQL
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# The virtualenv is rebuilt when pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test down backing lint format venv requirements clean equivalence

demo: $(STAMP)
	$(PY) -m infra up --demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	@bash infra/chromium.sh
	@bash infra/notice_tools.sh
	@bash infra/prometheus.sh
	$(PY) -m infra test $(PYTEST_ARGS)

# The decoder-equivalence property tests at 5,000 examples each (make test runs them at 400): 10–20 min on 2 cores.
equivalence: $(STAMP)
	DECODER_EQUIVALENCE_EXAMPLES=5000 $(PY) -m pytest -q -p no:cacheprovider --timeout=3600 \
		tests/unit/scoring/test_decoder_equivalence.py tests/unit/ingest/test_decoder_equivalence.py

down:
	@if [ -x $(PY) ]; then $(PY) -m infra down; else echo "nothing to stop (no virtualenv)"; fi

backing: $(STAMP)
	$(PY) -m infra backing

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
