# Two commands for a new user: `make demo` and `make test`. Both create .venv on first use.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
export PATH := $(abspath $(BIN)):$(PATH)
export PYTHONHASHSEED := 0
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup demo test test-fast lint fmt test-cluster test-dvc bench clean help

help:
	@echo "make demo          set up .venv and run the whole workflow on the embedded demo corpus"
	@echo "make test          set up .venv and run the test suite"
	@echo "make lint          ruff, snakefmt --check, snakemake --lint"
	@echo "make test-cluster  run the demo workflow on a real single-node SLURM (root, apt)"
	@echo "make bench         run the benchmarks in bench/"

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found; install Python 3.11 or run make PY=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src scripts tests bench
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint

fmt: $(STAMP)
	$(BIN)/ruff check --fix src scripts tests bench
	$(BIN)/snakefmt Snakefile workflow/rules

bench: $(STAMP)
	$(BIN)/python bench/features.py
	$(BIN)/python bench/predict.py
	$(BIN)/python bench/train.py
	$(BIN)/python bench/accuracy.py

clean:
	rm -rf results .snakemake
