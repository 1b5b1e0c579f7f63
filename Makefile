# Two commands for a new user: `make demo` and `make test`. Both create .venv on first use.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ENC_STAMP := $(VENV)/.installed-encoders
CORES ?= all
export PATH := $(abspath $(BIN)):$(PATH)
export PYTHONHASHSEED := 0
export TF_CPP_MIN_LOG_LEVEL := 2
export DVC_NO_ANALYTICS := 1
REMOTE ?= $(abspath ../ser-dvc-remote)

.PHONY: setup setup-encoders demo test test-fast test-browser lint fmt test-cluster test-dvc bench clean help remote push pull

help:
	@echo "make demo          set up .venv and run the whole workflow on the embedded demo corpus"
	@echo "make test          set up .venv (with the optional encoders group) and run the test suite"
	@echo "make setup-encoders  add the optional encoders group (torch CPU + transformers) to .venv"
	@echo "make lint          ruff, snakefmt --check, snakemake --lint, mypy (src/ser)"
	@echo "make test-browser  the ser serve page in headless Chromium (needs chromium + chromium-driver)"
	@echo "make test-dvc      DVC round trips (repro, push/pull, exp run) in temporary repositories"
	@echo "make test-cluster  run the demo workflow on a real single-node SLURM (root, apt)"
	@echo "make remote        configure a local-folder DVC remote (REMOTE=$(REMOTE))"
	@echo "make push / pull   dvc push / dvc pull, marking pulled results up to date for Snakemake"
	@echo "make bench         run the benchmarks in bench/"

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found; install Python 3.11 or run make PY=/path/to/python3.11"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# `make test` also installs the optional `encoders` group (torch CPU build + transformers, for
# the hf_encoder feature set and the Whisper front-end reference test); `make demo` stays light.
$(ENC_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,encoders]'
	touch $(ENC_STAMP)

setup: $(STAMP)

setup-encoders: $(ENC_STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(ENC_STAMP)
	$(BIN)/python -m pytest -q -m "not dvc and not browser"

test-dvc: $(STAMP)
	$(BIN)/python -m pytest -q -m dvc tests/test_dvc.py

test-fast: $(ENC_STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not dvc and not browser"

# Debian: apt-get install chromium chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver)
test-browser: $(STAMP)
	$(BIN)/python -m pytest -q -m browser tests/test_browser.py

lint: $(STAMP)
	$(BIN)/ruff check src scripts tests bench
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff check --fix src scripts tests bench
	$(BIN)/snakefmt Snakefile workflow/rules

bench: $(STAMP)
	$(BIN)/python bench/workflow.py
	$(BIN)/python bench/dag.py
	$(BIN)/python bench/features.py
	$(BIN)/python bench/features.py --per-core
	$(BIN)/python bench/predict.py
	$(BIN)/python bench/segment.py
	$(BIN)/python bench/train.py
	$(BIN)/python bench/accuracy.py
	$(BIN)/python bench/startup.py

# Needs root (apt-get installs slurmctld, slurmd, munge): see tests/cluster/README.md
test-cluster: $(STAMP)
	tests/cluster/run_cluster_test.sh

remote: $(STAMP)
	mkdir -p "$(REMOTE)"
	$(BIN)/dvc remote add --default --force local "$(REMOTE)"

push: $(STAMP)
	@$(BIN)/dvc status --quiet || { $(BIN)/dvc status; echo "error: workspace differs from dvc.lock: run dvc repro (and commit dvc.lock) first"; exit 1; }
	$(BIN)/dvc push

# After a pull every restored file has a new mtime; mark results up to date for Snakemake, but only
# when DVC confirms that code, config, raw data and outputs all match dvc.lock.
pull: $(STAMP)
	$(BIN)/dvc pull
	@if $(BIN)/dvc status --quiet; then $(BIN)/snakemake --cores $(CORES) --touch --forceall; \
	else $(BIN)/dvc status; echo "workspace differs from dvc.lock: not marking results up to date"; exit 1; fi

clean:
	rm -rf results .snakemake
