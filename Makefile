# The two commands of the README: `make demo` (the main job on local defaults) and
# `make test` (the whole suite). Both build what they need from scratch.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

PYTHON ?= python3
VENV := .venv
VENV39 := .venv39
PY := $(VENV)/bin/python
PY39 := $(VENV39)/bin/python

.PHONY: demo test lint typecheck unit39 pytest test-spark4 test-jvm clean jvm

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

# Spark 4 (EMR's emr-spark-8.0.0): the engine, the type suite and IAM authentication (the token
# plugin on Spark 4's classpath) on pyspark 4.0.x, same JAR.
VENV_SPARK4 := .venv-spark4
PY_SPARK4 := $(VENV_SPARK4)/bin/python
$(VENV_SPARK4)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV_SPARK4)
	$(PY_SPARK4) -m pip install -q --upgrade pip
	$(PY_SPARK4) -m pip install -q -e '.[test]' 'pyspark==4.0.*'
	touch $@

# The COPY engine's JAR (jvm/), reproducible; local sessions put it next to the JDBC JAR.
# pyspark 3.5.0, the Spark of emr-7.0.0, under Python 3.9: tests/submission/test_bundle_spark.py runs
# the bundle with it too. Only pyspark (and its py4j): the bundle brings everything else. pip
# reuses its cache, so a rebuild downloads nothing.
SPARK350_VENV := .venv39-spark350
$(SPARK350_VENV)/.installed: Makefile
	$$(devtools/find-python39) -m venv $(SPARK350_VENV)
	$(SPARK350_VENV)/bin/python -m pip install -q 'pyspark==3.5.0'
	touch $@


ENGINE_JAR := build/jvm/sparkpg-engine.jar
$(ENGINE_JAR): $(VENV)/.installed $(shell find jvm/src jvm/resources -type f) devtools/build_engine_jar.py
	$(PY) -m devtools.build_engine_jar --out $@

jvm: $(ENGINE_JAR)

# The engine's plain-JVM tests (jvm/test: decoder, filters, options, row encoder), seconds.
test-jvm: $(VENV)/.installed
	$(PY) -m devtools.build_engine_jar --test

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

pytest: $(VENV)/.installed .venv-checkov/.installed $(ENGINE_JAR) $(SPARK350_VENV)/.installed
	SPARKPG_CHECKOV=$(CURDIR)/.venv-checkov/bin/checkov $(PY) -m pytest -q

test-spark4: $(VENV_SPARK4)/.installed $(ENGINE_JAR)
	$(PY_SPARK4) -m pytest -q tests/integration/engine tests/integration/test_types.py tests/integration/auth

test: lint typecheck test-jvm unit39 pytest test-spark4

clean:
	rm -rf $(VENV) $(VENV39) $(SPARK350_VENV) $(VENV_SPARK4) .venv-checkov dist build .pytest_cache .mypy_cache .ruff_cache
