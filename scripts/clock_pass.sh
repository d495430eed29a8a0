#!/usr/bin/env bash
# The clock pass of `make test`: the alert and flow tests again with the process clock moved to
# the other side of quiet hours. If the real district time is outside quiet hours, the pass runs
# at 23:30 district time; if inside, at 11:00. With the main pass, `make test` (and .ci/run)
# has then run them at a night hour and at a day hour, whenever CI runs. The tests take "now"
# from kpi.clock (KPI_NOW); this proves that nothing reads the process clock instead.
# Uses Debian's faketime (installed by `make setup` as root); without it the pass is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${KPI_VENV_BIN:-$PWD/.venv/bin}"

if ! command -v faketime >/dev/null 2>&1; then
    echo "clock pass skipped: faketime is not installed ('sudo make setup' installs it)" >&2
    exit 0
fi

# "<UTC time for faketime>|<district time>": today's other side of the quiet hours of config.
IFS='|' read -r utc local < <(
    "$bin/python" - <<'PY'
from datetime import UTC, datetime, time

from kpi.config import settings

cfg = settings()
now = datetime.now(cfg.tz)  # the real clock: which side of quiet hours CI is on right now
start, end = time.fromisoformat(cfg.quiet_from), time.fromisoformat(cfg.quiet_until)
t = now.time()
quiet = (t >= start or t < end) if start > end else (start <= t < end)
moved = datetime.combine(now.date(), time(11, 0) if quiet else time(23, 30), tzinfo=cfg.tz)
print(f"{moved.astimezone(UTC):%Y-%m-%d %H:%M:%S}|{moved:%Y-%m-%d %H:%M} {cfg.timezone}")
PY
)
echo "clock pass: tests/alerts and tests/flows (not slow) with the process clock at $local"
# faketime starts the clock at that moment and lets it run; subprocesses (DuckDB, Prefect's
# server) inherit it. libfaketime 0.9.10 fakes the monotonic clock too: time.sleep works, but a
# threading wait with a timeout (Event.wait(t), threading.Timer) never times out under it, so
# code under test polls with time.sleep where it must act after a delay. (Its
# FAKETIME_DONT_FAKE_MONOTONIC=1 breaks Python's time.sleep with EINVAL instead.)
# PYTEST_PARALLEL (`make test` passes its CLOCK_PARALLEL, empty: one process, beside the main
# pass; scripts/test_passes.sh): pytest-xdist's workers, if given, run under the same faked clock
# (tried: they start, run and end under faketime like a single pytest).
# shellcheck disable=SC2086  # word-split on purpose: it holds several options
TZ=UTC faketime "$utc" "$bin/pytest" ${PYTEST_PARALLEL:-} tests/alerts tests/flows -m "not slow" \
    -q -p no:cacheprovider
