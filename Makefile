# Every target installs what it needs: a fresh machine needs only python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint types pytest sandbox clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

## the main job: an embedded sandbox, seeded, answering real HTTP requests
demo: $(STAMP)
	$(BIN)/bulkx demo

## everything CI runs: format check, lint, types, tests
test: $(STAMP) lint types pytest

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n 2 -m "not slow"

## a long-running sandbox on 127.0.0.1:8765 for rehearsals
sandbox: $(STAMP)
	$(BIN)/bulkx sandbox serve

clean:
	rm -rf $(VENV) .bulkx .mypy_cache .ruff_cache
