# BigTech Chat — the two commands: `make dev` and `make test`. Needs only Python 3.11+ and make.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

.PHONY: help install dev test e2e lint backends validators bench bench-chat clean-data \
	bench-s4 bench-s5 bench-s6 bench-s7 bench-s8 bench-s9 bench-connect bench-reconnect chaos

help:
	@echo "make dev    - the whole system without Docker (gateway on http://localhost:8000)"
	@echo "make test   - install what is needed and run every test (lint, types, unit, integration, e2e)"
	@echo "make bench  - the user-service benchmarks S0-S2 of tests/load (see docs/performance.md)"
	@echo "make bench-chat - the chat-service benchmarks that run here (S5, S6, S8, SSE connects, reconnect drill);"
	@echo "              bench-s4 / bench-s7 need MONGO_URL=mongodb://... (a real MongoDB)"
	@echo "make chaos  - the chaos drill: kills, broker cuts and a Redis restart under load (docs/performance.md)"

$(UV):
	$(PYTHON) -m pip install --user --quiet uv || $(PYTHON) -m pip install --quiet --break-system-packages uv

install: $(UV)
	$(UV) sync --all-packages --all-groups --frozen --quiet

dev: install web/dist/index.html
	$(UV) run --frozen python tools/dev/run.py

# The web client, built once and again only when a source changed (the dev gateway serves web/dist at /).
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts \
	web/package.json web/package-lock.json web/tsconfig.json
web/dist/index.html: $(WEB_SOURCES)
	scripts/build-web.sh

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

# The chat-service scenarios, one target each (docs/performance.md); each writes its rows there.
bench-s4: install backends
	cd tests/load && $(UV) run --frozen python chat_s4_send_stream.py
bench-s5: install backends
	cd tests/load && $(UV) run --frozen python chat_s5_idle_streams.py --streams 10000 --heartbeat 15 --hold 30
bench-s6: install backends
	cd tests/load && $(UV) run --frozen python chat_s6_broadcast.py
bench-s7: install backends
	cd tests/load && $(UV) run --frozen python chat_s7_history.py
bench-s9: install backends
	cd tests/load && $(UV) run --frozen python chat_s9_search.py
bench-s8: install backends
	cd tests/load && $(UV) run --frozen python chat_s8_fanout.py --runs 3 --duration 10 --burst 10000
bench-connect: install backends
	cd tests/load && $(UV) run --frozen python chat_sse_connect.py
bench-reconnect: install backends
	cd tests/load && $(UV) run --frozen python chat_reconnect_drill.py --streams 5000
bench-chat: bench-s5 bench-s6 bench-s8 bench-connect bench-reconnect

# The chaos drill (tests/chaos): minutes long and it breaks processes on purpose, so not part of `make test`.
chaos: install backends
	$(UV) run --frozen pytest tests/chaos -q -s -p no:cacheprovider
