# One entry point. `make up` runs the whole platform; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

export HF_HUB_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True
export TOKENIZERS_PARALLELISM := false

.PHONY: install up materialize test lint audit bench load-bench demo-corpus clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

## Materialize every manual and eval_scores, then serve the Dagster UI (:3000) and the API (:8000).
up: install
	$(PY) -m cli up

## Materialize only (no servers), e.g. for benchmarks.
materialize: install
	$(PY) -m cli up --no-serve

## The whole test suite (starts its own embedded PostgreSQL and a moto S3 server; uses Redis on :6379).
test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy manualqa sql manual_assets serving evals cli
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/bandit -c pyproject.toml -q -r manualqa sql manual_assets serving evals cli
	$(MAKE) --no-print-directory audit

## Known vulnerabilities in the installed dependencies, against PyPI's advisories, else OSV:
## fails on any finding; says "DEPENDENCY AUDIT NOT PERFORMED" (and passes, unless
## AUDIT_REQUIRED=1) when neither service audits a single package.
audit: install
	$(PY) .ci/audit.py

bench: install
	$(PY) -m bench.run

## Latency, throughput and errors under load, and zero failures through an index swap.
load-bench: install
	$(PY) -m bench.load

## Rebuild the demo manuals from demo_corpus/sources (the built files are committed).
demo-corpus: install
	$(PY) -m demo_corpus.build

## Stop the embedded PostgreSQL (it outlives the processes that use it), then delete all state.
clean:
	test ! -x $(PY) || $(PY) -c "from pathlib import Path; from sql.embedded import stop_embedded_postgres as s; s(Path('var/postgres').resolve())"
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
