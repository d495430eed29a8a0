#!/usr/bin/env bash
# The embedded production setup on one machine: a local Prefect server (state in var/prefect,
# telemetry off), a process worker, the deployments of prefect.yaml, and the submission desk
# (`kpi desk`; not with KPI_SERVE_DESK=0). Ctrl-C (or SIGTERM) stops everything it started within
# 10 s.
# Host and port: PREFECT_SERVER_API_HOST / PREFECT_SERVER_API_PORT (default 127.0.0.1:4200);
# the desk's: KPI_DESK_HOST / KPI_DESK_PORT (config/kpi.toml).
set -euo pipefail
# Job control: every component runs in a process group of its own, so that stopping it also
# stops what it started (the worker's flow-run processes, the server's children).
set -m
cd "$(dirname "$0")/.."

export PREFECT_HOME="${PREFECT_HOME:-$PWD/var/prefect}"
export DO_NOT_TRACK=1
export PREFECT_SERVER_ANALYTICS_ENABLED=false
host="${PREFECT_SERVER_API_HOST:-127.0.0.1}"
port="${PREFECT_SERVER_API_PORT:-4200}"
export PREFECT_API_URL="http://$host:$port/api"
bin="${KPI_VENV_BIN:-$PWD/.venv/bin}"
pool="kpi-process"

pids=() # process groups, the server first
stopping=0
alive() {
    local pid
    for pid in "$@"; do kill -0 -- "-$pid" 2>/dev/null && return 0; done
    return 1
}
now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; } # microseconds; the locale's decimal mark dropped
halt() { # halt SECONDS PID...: SIGTERM to the groups, then wait at most SECONDS for them
    local seconds=$1 pid end
    shift
    for pid in "$@"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    # A deadline, not a count of polls: on a loaded machine each `sleep` took far longer than
    # its 0.1 s and thirty polls outlasted the 10 s that Ctrl-C promises.
    end=$(($(now_us) + seconds * 1000000))
    while alive "$@"; do
        [ "$(now_us)" -ge "$end" ] && return 0
        sleep 0.1
    done
}
descendants() { # every process below this script, whatever its group or session
    ps -eo pid=,ppid= | awk -v root="$$" '
        { parent[$1] = $2 }
        END {
            for (p in parent) {
                q = parent[p]
                while (q != "" && q > 1) { if (q == root) { print p; break } q = parent[q] }
            }
        }'
}
stop() {
    [ "$stopping" = 1 ] && return
    stopping=1
    trap - EXIT INT TERM
    echo "serve: stopping" >&2
    # Flow runs start in sessions of their own: note them now, before their worker is gone.
    local below pid
    below=$(descendants)
    # The worker and the desk first, while the server still answers them; then the server.
    # Whatever ignored SIGTERM by then (a flow run, a hung child) is killed: under 10 s in all.
    [ "${#pids[@]}" -gt 1 ] && halt 3 "${pids[@]:1}"
    [ "${#pids[@]}" -gt 0 ] && halt 3 "${pids[0]}"
    for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
    for pid in $below; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "serve: stopped" >&2
}
trap stop EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

mkdir -p "$PREFECT_HOME"
"$bin/prefect" server start --host "$host" --port "$port" &
pids+=($!)

# A fresh database takes ~9 s to migrate; give it two minutes before giving up.
# HTTP 200 from $PREFECT_API_URL/health, asked by bash itself (/dev/tcp): a Python started for
# each poll cost ~40 CPU-ms, 20-50 times a start on a loaded machine.
healthy() (
    exec 3<>"/dev/tcp/$host/$port" || exit 1
    printf 'GET /api/health HTTP/1.0\r\nHost: %s:%s\r\n\r\n' "$host" "$port" >&3
    IFS= read -r -t 2 status <&3 || exit 1
    [[ $status == "HTTP/1."[01]" 200 "* ]]
) 2>/dev/null
for _ in $(seq 240); do
    healthy && break
    kill -0 "${pids[0]}" 2>/dev/null || { echo "serve: the Prefect server exited" >&2; exit 1; }
    sleep 0.5
done
healthy || { echo "serve: no Prefect server at $PREFECT_API_URL" >&2; exit 1; }

# The work pool unless it exists, then `prefect --no-prompt deploy --all`: the same commands, in
# one process (scripts/deploy.py; three cold `prefect` commands imported Prefect three times).
# KPI_PROJECT_DIR stays unset here: `prefect deploy` would bake this machine's path into the
# deployments. Each worker fills the pull step's {{ $KPI_PROJECT_DIR }} with its own checkout.
env -u KPI_PROJECT_DIR "$bin/python" scripts/deploy.py "$pool" --type process

KPI_PROJECT_DIR="$PWD" "$bin/prefect" worker start --pool "$pool" --install-policy never &
pids+=($!)

# The submission desk (kpi/desk) at desk_host:desk_port (KPI_DESK_HOST/KPI_DESK_PORT), unless
# KPI_SERVE_DESK=0 (the desk runs elsewhere, or is not wanted).
desk="desk: kpi desk"
if [ "${KPI_SERVE_DESK:-1}" != 0 ]; then
    "$bin/kpi" desk &
    pids+=($!)
else
    desk="no desk: KPI_SERVE_DESK=0"
fi
echo "serve: Prefect UI at http://$host:$port  (worker on pool $pool; $desk; Ctrl-C stops)"

# Stop everything as soon as any component stops.
set +e
wait -n
rc=$?
echo "serve: a component exited ($rc); stopping the others" >&2
exit "$rc"
