# Quick start: `make run` (demo with GraphiQL) and `make test` (the whole suite, ruff and mypy).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test lint typecheck bench schema audit clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/gateway dev

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# Two workers (pytest-xdist), each with its own databases and simulators; `pytest` alone runs in one process.
test: install lint typecheck
	$(BIN)/python -m pytest -n 2

bench: install
	$(BIN)/python -m tests.bench.run
	$(BIN)/python -m tests.bench.caseworker
	$(BIN)/python -m tests.bench.web

schema: install
	$(BIN)/gateway export-schema schema.graphql

# The graphql-http package's GraphQL-over-HTTP server audit against a real `gateway serve` (needs node and npm;
# the package is installed into var/, which git ignores). Fails on any failing MUST.
audit: install
	$(BIN)/python tools/audit/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# schemathesis in GraphQL mode against a real `gateway serve` with a citizen's and a caseworker's token; fails on
# any server error. FUZZ_EXAMPLES cases per token (default 300; .ci/run runs 100), FUZZ_SEED picks the documents.
.PHONY: fuzz
fuzz: install
	$(BIN)/python tools/fuzz/run.py
