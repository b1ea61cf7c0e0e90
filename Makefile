# `make run` and `make test` do all set-up on a fresh machine (Python 3.11, Debian).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   ?= data
PORT   ?= 8000
EURLEX_DIR ?= ../shared/data/gdpr/eurlex
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ASSISTANT_EURLEX_DIR ?= $(abspath $(EURLEX_DIR))

.PHONY: install install-dev run index official migrate test lint bench clean browser translations

# Runtime dependencies only for `make run` (a first run compiles nothing); the dev extra (tests, lint,
# llama-cpp-python for the llama.cpp backend, which compiles for minutes) for `make test`.
$(BIN)/.installed: pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU build of torch first: a bare `torch` would pull several GB of CUDA.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	# The embedding model's ONNX export, once per machine (ASSISTANT_MODEL_CACHE), not in every index build.
	$(BIN)/gdpr-assistant models prepare
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

install-dev: $(BIN)/.installed-dev

# Official text: import the EUR-Lex files when they are on disk, else try to download them.
official: install
	@if [ -f "$(ASSISTANT_EURLEX_DIR)/L_2016119FR.01000101.html" ] && [ -f "$(ASSISTANT_EURLEX_DIR)/L_2016119EN.01000101.html" ]; then \
	  $(BIN)/gdpr-assistant --data-dir $(DATA) corpus import-eurlex "$(ASSISTANT_EURLEX_DIR)"/L_2016119FR.01000101.html "$(ASSISTANT_EURLEX_DIR)"/L_2016119EN.01000101.html; \
	elif [ -f "$(DATA)/official/gdpr-fr.json" ]; then echo "official text already imported"; \
	else $(BIN)/gdpr-assistant --data-dir $(DATA) corpus fetch || echo "note: no official text (offline); serving the bundled corpus alone"; fi

index: official
	$(BIN)/gdpr-assistant --data-dir $(DATA) index

# The deploy step: create or migrate the database (the server never migrates by itself).
migrate: install
	$(BIN)/gdpr-assistant --data-dir $(DATA) db upgrade

run: index migrate
	$(BIN)/gdpr-assistant --data-dir $(DATA) partners load-demo
	$(BIN)/gdpr-assistant --data-dir $(DATA) serve --port $(PORT)

# Debian's chromium for the browser tests (Playwright drives it; it never downloads a browser), and
# axe-core from npm for their WCAG 2.2 AA checks.
browser: tests/browser/node_modules/axe-core/axe.min.js
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; }

tests/browser/node_modules/axe-core/axe.min.js: tests/browser/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "installing npm for axe-core"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
	npm ci --prefix tests/browser --no-audit --no-fund --silent

test: install-dev browser
	$(BIN)/pytest

# After changing an interface text: extract, update fr/en, compile (then translate what it lists in fr).
translations: install-dev
	$(BIN)/python tools/translations.py

lint: install-dev
	$(BIN)/ruff check assistant tests bench

bench: install
	$(BIN)/python bench/retrieval.py

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache test-output
