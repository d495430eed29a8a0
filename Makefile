# Stable verbs for people, CI and scripts. `make` alone lists them.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
export PREFECT_HOME ?= $(CURDIR)/var/prefect
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: help setup run test lint serve clean

help: ## list the verbs
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/kpi: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(BIN)/kpi

setup: $(BIN)/kpi ## create the virtualenv and install the project

run: setup ## the main job: the nightly pipeline once on the bundled demo data
	$(BIN)/kpi demo

test: setup ## the test suite, slow tests included
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: setup ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean: ## remove generated state (warehouse, snapshots, reports, Prefect home)
	rm -rf var
