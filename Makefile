# Every target installs what it needs: a fresh machine needs only python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint types pytest sandbox clean bench bench-quick chaos chaos-quick screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

## the main job: an embedded sandbox, seeded, answering real HTTP requests
demo: $(STAMP)
	$(BIN)/bulkx demo

## everything CI runs: format check, lint (with the import contracts of pyproject.toml), types, tests
test: $(STAMP) lint types pytest

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n 2 -m "not slow"

## benchmarks: every row of bench/README.md, one table (full: 20-25 min; quick: 3-4 min)
bench: $(STAMP)
	$(BIN)/python -m bench.run --full

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --quick

## the fault campaign on 127.0.0.1 (tests/chaos): a table of runs, faults and checker classes
CHAOS_SEED ?= 1
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos.campaign --full --seed $(CHAOS_SEED)

chaos-quick: $(STAMP)
	$(BIN)/python -m tests.chaos.campaign --quick --seed $(CHAOS_SEED)

## the `-o html` pages (plan audit, run report) in headless Chromium at 1280 px, into
## docs/screenshots/ (needs Debian's chromium; not part of `make test`)
screenshots: $(STAMP)
	docs/screenshots/html_pages.sh

## a long-running sandbox on 127.0.0.1:8765 for rehearsals
sandbox: $(STAMP)
	$(BIN)/bulkx sandbox serve

clean:
	rm -rf $(VENV) .bulkx .mypy_cache .ruff_cache
