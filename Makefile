# The two commands of the README: `make demo` (the main job on local defaults) and
# `make test` (the whole suite). Both build what they need from scratch.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

PYTHON ?= python3
VENV := .venv
VENV39 := .venv39
PY := $(VENV)/bin/python
PY39 := $(VENV39)/bin/python

.PHONY: demo test lint typecheck unit39 pytest clean jvm

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# checkov pins old boto3 releases: it gets a venv of its own so it cannot downgrade ours.
CHECKOV_VERSION := 3.3.30
.venv-checkov/.installed: Makefile
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install -q 'checkov==$(CHECKOV_VERSION)'
	touch $@

$(VENV39)/.installed: pyproject.toml
	$$(devtools/find-python39) -m venv $(VENV39)
	$(PY39) -m pip install -q --upgrade pip
	$(PY39) -m pip install -q -e '.[test]'
	touch $@

# The COPY engine's JAR (jvm/), reproducible; local sessions put it next to the JDBC JAR.
ENGINE_JAR := build/jvm/sparkpg-engine.jar
$(ENGINE_JAR): $(VENV)/.installed $(shell find jvm/src jvm/resources -type f) devtools/build_engine_jar.py
	$(PY) -m devtools.build_engine_jar --out $@

jvm: $(ENGINE_JAR)

demo: $(VENV)/.installed $(ENGINE_JAR)
	$(PY) -m devtools.demo

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

# Unit tests under Python 3.9, the EMR 7.x runtime (no Spark, no servers).
unit39: $(VENV39)/.installed
	$(PY39) -m pytest -q tests/unit

pytest: $(VENV)/.installed .venv-checkov/.installed $(ENGINE_JAR)
	SPARKPG_CHECKOV=$(CURDIR)/.venv-checkov/bin/checkov $(PY) -m pytest -q

test: lint typecheck unit39 pytest

clean:
	rm -rf $(VENV) $(VENV39) .venv-checkov dist build .pytest_cache .mypy_cache .ruff_cache
