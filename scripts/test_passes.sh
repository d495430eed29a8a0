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

# The tests' temporary folders (warehouses, homes, Prefect databases, hostile files: a few GB over
# a run) go to memory (tmpfs) when it has room: a DuckDB commit or checkpoint waits for the disk,
# and on this VM that wait was 10-15 % of the alert and progress tests' wall time (BENCHMARKS.md,
# "Test suite, part B, second pass"). Nothing in the tests depends on where the folder is.
# A TMPDIR given by the caller is used as it is.
shm_tmp=""
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    shm_free_kb=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')
    mem_free_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null)
    # tmpfs pages count against a container's memory limit (cgroup v2), if it has one
    cg=/sys/fs/cgroup
    if [ -r "$cg/memory.max" ] && [ "$(cat "$cg/memory.max")" != max ]; then
        cg_free_kb=$((($(cat "$cg/memory.max") - $(cat "$cg/memory.current")) / 1024))
        [ "$cg_free_kb" -ge "${mem_free_kb:-0}" ] || mem_free_kb=$cg_free_kb
    fi
    if [ "${shm_free_kb:-0}" -ge 8000000 ] && [ "${mem_free_kb:-0}" -ge 8000000 ]; then
        shm_tmp=$(mktemp -d /dev/shm/kpi-tests.XXXXXX) && export TMPDIR="$shm_tmp"
    fi
fi
clock_log=$(mktemp "${TMPDIR:-/tmp}/kpi-clock-pass.XXXXXX")
trap 'rm -f "$clock_log"; [ -z "$shm_tmp" ] || rm -rf "$shm_tmp"' EXIT
# At a lower CPU priority (CLOCK_NICE, default 10): the clock pass is meant to fill the main pass's
# idle quarter, not to take the cores from it while the main pass has work for both. Not lower:
# its delivery tests give loopback servers 0.5-1 s, and at nice 19 beside a busy main pass it gets
# ~1.5 % of a core (10 % at nice 10, about what it got at load 15, where it passed).
KPI_VENV_BIN="$bin" PYTEST_PARALLEL="${CLOCK_PARALLEL:-}" nice -n "${CLOCK_NICE:-10}" scripts/clock_pass.sh \
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
