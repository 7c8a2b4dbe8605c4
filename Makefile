# BigTech Chat — the two commands: `make dev` and `make test`. Needs only Python 3.11+ and make.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

.PHONY: help install dev test e2e lint backends validators bench clean-data

help:
	@echo "make dev    - the whole system without Docker (gateway on http://localhost:8000)"
	@echo "make test   - install what is needed and run every test (lint, types, unit, integration, e2e)"
	@echo "make bench  - the benchmarks of tests/load (see docs/performance.md)"

$(UV):
	$(PYTHON) -m pip install --user --quiet uv || $(PYTHON) -m pip install --quiet --break-system-packages uv

install: $(UV)
	$(UV) sync --all-packages --all-groups --frozen --quiet

dev: install
	$(UV) run --frozen python tools/dev/run.py

backends:
	scripts/ensure-backends.sh

validators:
	@if [ -x scripts/install-validators.sh ]; then scripts/install-validators.sh; fi

test: install backends validators
	scripts/test.sh

e2e: install
	$(UV) run --frozen pytest tests/e2e -q

lint: install
	$(UV) run --frozen ruff check .

# The benchmarks run on the in-memory Tansu broker, which does not long-poll (see docs/performance.md).
bench: export KAFKA_FETCH_MAX_WAIT_MS ?= 5
bench: install backends
	$(UV) run --frozen python tests/load/run.py

clean-data:
	rm -rf .data
