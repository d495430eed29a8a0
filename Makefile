# Stable verbs for people, CI and scripts. `make` alone lists them.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
export PREFECT_HOME ?= $(CURDIR)/var/prefect
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
# Prefect's temporary server may take more than its default 20 s to start on a loaded machine.
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: help setup lock upgrade run test lint serve clean faults

help: ## list the verbs
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# The resolved set is locked in uv.lock and installed exactly from it (hashes checked), so a
# fresh machine gets what CI tested, not whatever is newest that day. uv itself is pinned and
# bootstrapped into $(TOOLS) with the system's pip; UV_PYTHON_DOWNLOADS=never keeps it on $(PY).
UV_VERSION := 0.13.9
TOOLS      ?= .tools
UV         := UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=$(VENV) $(TOOLS)/bin/uv
UV_STAMP   := $(TOOLS)/uv-$(UV_VERSION)

$(UV_STAMP):
	$(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@touch $@

# --locked: a pyproject.toml edited without `make lock` stops here instead of installing a stale set.
# --compile-bytecode: uv leaves compiling to the first import, but where PYTHONDONTWRITEBYTECODE
# is set (this machine and its CI set it) nothing is ever written, and every process compiled
# what it imported from source again: 7.3 s to import GX instead of 3.3 (BENCHMARKS.md).
# The Makefile is a prerequisite so that a change of these flags reaches an existing .venv.
$(BIN)/kpi: pyproject.toml uv.lock $(UV_STAMP) Makefile
	$(UV) sync --locked --extra dev --compile-bytecode --python $(PY)
	@touch $(BIN)/kpi

# setup compiles the project's own modules too: uv compiles only the installed packages, and with
# PYTHONDONTWRITEBYTECODE set every `kpi` process compiled kpi/ from source again (~0.1 CPU-s, a
# ninth of a quiet night). compileall writes only what is missing or stale (~0.2 s when current).
setup: $(BIN)/kpi /usr/bin/chromium /usr/bin/faketime ## create the virtualenv and install the locked set
	@$(BIN)/python -m compileall -q kpi flows transforms demo

lock: $(UV_STAMP) ## re-lock after editing pyproject.toml's dependencies (other versions kept), then install
	$(UV) lock --python $(PY)
	$(MAKE) setup

upgrade: $(UV_STAMP) ## on purpose: newest versions the pins allow (P=name for one package), then install
	$(UV) lock --python $(PY) $(if $(P),--upgrade-package $(P),--upgrade)
	$(MAKE) setup

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

# Prefect makes its home without parents (and only warns): a clean clone has no var/ yet.
run: setup ## the main job: the nightly pipeline once on the bundled demo data
	@mkdir -p "$(PREFECT_HOME)"
	$(BIN)/kpi demo

# Both cores (pytest-xdist): --dist loadgroup keeps the tests of one costly fixture on one
# worker, and the collection's order (longest groups first, tests/conftest.py) is kept as it is;
# --durations shows what to make faster next.
PYTEST_PARALLEL ?= -n 2 --dist loadgroup --no-loadscope-reorder
# The clock pass (alerts, flows under faketime) runs alongside the main pass, in the quarter of
# the cores the main pass leaves idle, in one process: its own workers would add CPU, not speed.
CLOCK_PARALLEL ?=

test: setup ## the test suite on both cores, slow tests included, and the clock pass (alerts, flows) beside it
	@mkdir -p "$(PREFECT_HOME)"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	KPI_VENV_BIN=$(abspath $(BIN)) PYTEST_PARALLEL='$(PYTEST_PARALLEL)' \
		CLOCK_PARALLEL='$(CLOCK_PARALLEL)' scripts/test_passes.sh

lint: setup ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

faults: setup ## the fault suite's tables: delivery faults (and hostile files) counted per message
	@mkdir -p "$(PREFECT_HOME)"
	$(BIN)/python -m tests.faults

serve: setup ## local Prefect server, a worker and the deployments (Ctrl-C stops)
	KPI_VENV_BIN=$(abspath $(BIN)) scripts/serve.sh

clean: ## remove generated state (warehouse, snapshots, reports, Prefect home)
	rm -rf var
