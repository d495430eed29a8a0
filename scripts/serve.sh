#!/usr/bin/env bash
# The embedded production setup on one machine: a local Prefect server (state in var/prefect,
# telemetry off), a process worker, and the deployments of prefect.yaml. Ctrl-C stops it all.
# Host and port: PREFECT_SERVER_API_HOST / PREFECT_SERVER_API_PORT (default 127.0.0.1:4200).
set -euo pipefail
cd "$(dirname "$0")/.."

export PREFECT_HOME="${PREFECT_HOME:-$PWD/var/prefect}"
export DO_NOT_TRACK=1
export PREFECT_SERVER_ANALYTICS_ENABLED=false
host="${PREFECT_SERVER_API_HOST:-127.0.0.1}"
port="${PREFECT_SERVER_API_PORT:-4200}"
export PREFECT_API_URL="http://$host:$port/api"
bin="${KPI_VENV_BIN:-$PWD/.venv/bin}"
pool="kpi-process"

pids=()
stop() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop EXIT INT TERM

mkdir -p "$PREFECT_HOME"
"$bin/prefect" server start --host "$host" --port "$port" &
pids+=($!)

# A fresh database takes ~9 s to migrate; give it two minutes before giving up.
healthy() {
    "$bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "$PREFECT_API_URL/health" 2>/dev/null
}
for _ in $(seq 240); do
    healthy && break
    kill -0 "${pids[0]}" 2>/dev/null || { echo "serve: the Prefect server exited" >&2; exit 1; }
    sleep 0.5
done
healthy || { echo "serve: no Prefect server at $PREFECT_API_URL" >&2; exit 1; }

"$bin/prefect" work-pool inspect "$pool" >/dev/null 2>&1 \
    || "$bin/prefect" work-pool create "$pool" --type process
# KPI_PROJECT_DIR stays unset here: `prefect deploy` would bake this machine's path into the
# deployments. Each worker fills the pull step's {{ $KPI_PROJECT_DIR }} with its own checkout.
env -u KPI_PROJECT_DIR "$bin/prefect" --no-prompt deploy --all

KPI_PROJECT_DIR="$PWD" "$bin/prefect" worker start --pool "$pool" --install-policy never &
pids+=($!)
"$bin/kpi" desk & pids+=($!)  # the submission desk (kpi/desk) at desk_host:desk_port, 127.0.0.1:8700
echo "serve: Prefect UI at http://$host:$port  (worker on pool $pool; Ctrl-C stops)"

# Stop everything as soon as the server or the worker stops.
wait -n
