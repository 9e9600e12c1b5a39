# TTHC Pulse — the two commands of the README, and a few helpers.
#   make demo   the whole system with a simulated Hanoi feed (Ctrl-C stops everything)
#   make test   the whole test suite against a real Kafka broker and a real PostgreSQL
#   make faults the fault-injection scenarios with heavy sizes (docs/reliability.md, about 20 minutes)
#   make compile  scoring's hot modules compiled with mypyc (make venv runs it; SCORING_COMPILE=0 skips it)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# The virtualenv is rebuilt when pyproject.toml changes.
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# Scoring's per-event modules compiled with mypyc (services/scoring/compiled.py): C extensions beside the sources,
# never committed, rebuilt when a source changes (the build writes the manifest last). Without them the same
# sources run interpreted; SCORING_COMPILE=0 skips the build (no C compiler), and an out-of-date build is never
# imported (compiled.py checks every source's digest).
SCORING_COMPILE ?= 1
COMPILED_SOURCES := $(addprefix services/scoring/domain/,timebase.py facts.py state.py tally.py counters.py apply.py) \
	shared/contract_records.py services/scoring/compiled.py services/scoring/build_compiled.py \
	$(addprefix services/scoring/adapters/,wire_decode.py documents.py fetched.py) services/scoring/service/ports.py \
	$(addprefix shared/,contract.py contract_codec.py contract_rules.py indicators.py)
COMPILED_MANIFEST := services/scoring/_hot.sources
ifeq ($(SCORING_COMPILE),1)
READY := $(STAMP) $(COMPILED_MANIFEST) bytecode
else
READY := $(STAMP) bytecode
endif

.PHONY: demo test faults down backing lint format venv requirements clean bench-read equivalence compile uncompile \
	bytecode

demo: $(READY)
	$(PY) -m infra up --demo

# The Debian tools the tests need (infra/test_tools.sh) are installed beside the virtualenv's build, not after it:
# on a fresh machine each takes a minute or two. Their output goes to var/log/test-tools.log, shown when it is done.
# SCORING_EXPECT_COMPILED: tests/unit/scoring/test_compiled.py then fails unless the compiled modules are in use.
test:
	@mkdir -p var/log
	@bash infra/test_tools.sh > var/log/test-tools.log 2>&1 & tools=$$!; \
	$(MAKE) --no-print-directory $(READY); built=$$?; \
	wait $$tools; installed=$$?; cat var/log/test-tools.log; \
	[ $$built -eq 0 ] && [ $$installed -eq 0 ]
	$(VENV)/bin/ruff check .
	SCORING_EXPECT_COMPILED=$(SCORING_COMPILE) $(PY) -m infra test --unit-alongside -- --durations=25 $(PYTEST_ARGS)

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

faults: $(READY)
	env $(FAULT_SIZES) $(PY) -m pytest tests/integration/faults -q -s -p no:cacheprovider $(PYTEST_ARGS)

# The decoder-equivalence property tests at 5,000 examples each (make test runs them at 400): 10–20 min on 2 cores.
equivalence: $(READY)
	DECODER_EQUIVALENCE_EXAMPLES=5000 $(PY) -m pytest -q -p no:cacheprovider --timeout=3600 \
		tests/unit/scoring/test_decoder_equivalence.py tests/unit/ingest/test_decoder_equivalence.py

down:
	@if [ -x $(PY) ]; then $(PY) -m infra down; else echo "nothing to stop (no virtualenv)"; fi

backing: $(READY)
	$(PY) -m infra backing

# The read path on the whole demo stack with the live feed (docs/benchmarks.md, issue 15): ~15 min, not in `make test`.
bench-read: $(READY)
	$(PY) bench/read_stack.py $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

venv: $(READY)

compile: $(STAMP) $(COMPILED_MANIFEST) bytecode

# The sources' bytecode written beside them (__pycache__, up-to-date files skipped): with PYTHONDONTWRITEBYTECODE set
# (the Dockerfile sets it) every process start compiled each module it imports again, ≈ 0.15-0.2 s of CPU per
# scoring process (docs/benchmarks.md, session 10 "startup"). A source changed since is compiled again at import.
bytecode: $(STAMP)
	@$(PY) -m compileall -q shared services > /dev/null

# The build's output (mypy, gcc) goes to build/mypyc/build.log; its wall time is printed (docs/benchmarks.md).
$(COMPILED_MANIFEST): $(STAMP) $(COMPILED_SOURCES)
	@mkdir -p build/mypyc
	@echo "compiling scoring's hot modules with mypyc (log: build/mypyc/build.log)"
	@start=$$(date +%s); $(PY) -m services.scoring.build_compiled build > build/mypyc/build.log 2>&1 \
		|| { tail -n 30 build/mypyc/build.log; exit 1; }; echo "compiled in $$(( $$(date +%s) - start )) s"

uncompile:
	@if [ -x $(PY) ]; then $(PY) -m services.scoring.build_compiled clean; fi

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
