# ciocto — `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
EXTRAS ?= dev,parquet,excel,dask,web,browser
DATA   := $(wildcard data/*.csv)
MODEL  := models/default/card.json
EVAL_DIR ?= ../shared/eval
LINES    ?= $(EVAL_DIR)/borderline-dev-lines.jsonl
POSTINGS ?= $(EVAL_DIR)/borderline-dev.jsonl

.DEFAULT_GOAL := help
.PHONY: help setup demo model test lint typecheck pytest browser eval eval-external bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'
	touch $@

setup: $(STAMP) ## create .venv and install ciocto with its dev extras

$(MODEL): $(STAMP) $(DATA)
	$(BIN)/ciocto train --name default --force  # data/ defines default: rebuild it when data/ changes

model: $(MODEL) ## train models/default from data/ (only when missing or data changed)

demo: setup model ## set everything up, then classify two built-in example postings
	$(BIN)/ciocto classify data/examples/en_cto_saas.txt
	@echo
	$(BIN)/ciocto classify data/examples/vi_cio_hospital.txt

lint: setup ## ruff check + format check (never rewrites)
	$(BIN)/ruff check classifier tests
	$(BIN)/ruff format --check classifier tests

typecheck: setup ## mypy on the package
	$(BIN)/mypy classifier

browser: ## install Debian's chromium for the browser test, if it is missing (as root)
	@test -x /usr/bin/chromium || { apt-get update && apt-get install -y chromium; }

pytest: setup browser ## the test suite only (the browser test must run, not skip)
	CIOCTO_REQUIRE_BROWSER=1 $(BIN)/pytest

test: lint typecheck pytest ## linters, type check and the whole test suite

eval: setup ## grouped cross-validation of the line model on data/
	$(BIN)/ciocto evaluate

eval-external: setup model ## real labelled lines and postings (default EVAL_DIR=../shared/eval)
	@test -f "$(LINES)" || { echo "no lines file $(LINES); pass LINES=path/to/lines.jsonl"; exit 2; }
	$(BIN)/ciocto evaluate --lines $(LINES) $(if $(wildcard $(POSTINGS)),--postings $(POSTINGS))

bench: setup model ## batch scoring benchmark vs fastText (SIZE=20000 listings; ~5-10 min)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/batch_bench.py --size $(or $(SIZE),20000)

clean: ## remove the venv and caches (models stay)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
