# Stable verbs for people, CI and scripts. `make` alone lists them.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
export PREFECT_HOME ?= $(CURDIR)/var/prefect
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: help setup run test lint serve clean faults

help: ## list the verbs
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/kpi: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(BIN)/kpi

setup: $(BIN)/kpi /usr/bin/chromium /usr/bin/faketime ## create the virtualenv and install the project

# Debian's chromium (and a CJK font for legible screenshots) for the report's browser test.
# Installed only when missing and only as root (CI); elsewhere that one test is skipped.
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-wqy-microhei; \
	else echo "chromium missing: 'sudo make setup' installs it (the report's browser test is skipped)"; fi

# Debian's faketime, for the second pass of `make test` at another hour of the day (the clock
# pass, scripts/clock_pass.sh). Installed only when missing and only as root (CI); elsewhere
# that pass is skipped with a note.
/usr/bin/faketime:
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y faketime; \
	else echo "faketime missing: 'sudo make setup' installs it (the clock pass is skipped)"; fi

run: setup ## the main job: the nightly pipeline once on the bundled demo data
	$(BIN)/kpi demo

# Both cores (pytest-xdist): --dist loadgroup keeps the tests of one costly fixture on one
# worker, and the collection's order (longest groups first, tests/conftest.py) is kept as it is;
# --durations shows what to make faster next.
PYTEST_PARALLEL ?= -n 2 --dist loadgroup --no-loadscope-reorder

test: setup ## the test suite on both cores, slow tests included, then the clock pass (alerts, flows)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(PYTEST_PARALLEL) --durations=15
	KPI_VENV_BIN=$(abspath $(BIN)) PYTEST_PARALLEL='$(PYTEST_PARALLEL)' scripts/clock_pass.sh

lint: setup ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

faults: setup ## the fault suite's tables: delivery faults (and hostile files) counted per message
	$(BIN)/python -m tests.faults

serve: setup ## local Prefect server, a worker and the deployments (Ctrl-C stops)
	KPI_VENV_BIN=$(abspath $(BIN)) scripts/serve.sh

clean: ## remove generated state (warehouse, snapshots, reports, Prefect home)
	rm -rf var
