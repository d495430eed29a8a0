#!/usr/bin/env bash
# The two pytest passes of `make test`, at the same time: the main pass (the whole suite,
# PYTEST_PARALLEL) and the clock pass (scripts/clock_pass.sh: tests/alerts and tests/flows
# again under faketime, CLOCK_PARALLEL). The main pass leaves about a quarter of the two cores
# idle (tests waiting on servers, subprocesses and sleeps); the clock pass runs in that time
# instead of after it. Its output is shown after the main pass's, whole; the exit status is the
# main pass's if it failed (5 included: no tests), else the clock pass's.
set -uo pipefail
cd "$(dirname "$0")/.."
bin="${KPI_VENV_BIN:-$PWD/.venv/bin}"

clock_log=$(mktemp "${TMPDIR:-/tmp}/kpi-clock-pass.XXXXXX")
trap 'rm -f "$clock_log"' EXIT
KPI_VENV_BIN="$bin" PYTEST_PARALLEL="${CLOCK_PARALLEL:-}" scripts/clock_pass.sh \
    >"$clock_log" 2>&1 &
clock=$!

# shellcheck disable=SC2086  # word-split on purpose: it holds several options
"$bin/pytest" ${PYTEST_PARALLEL:-} --durations=15
main=$?
wait "$clock"
clock_status=$?
echo
echo "=== clock pass (ran alongside the main pass) ==="
cat "$clock_log"
if [ "$main" -ne 0 ]; then
    exit "$main"
fi
exit "$clock_status"
