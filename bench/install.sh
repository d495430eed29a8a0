#!/usr/bin/env bash
# Time the install on a clean clone: `make setup` at each REV, in a fresh temporary clone.
#
#   bench/install.sh [--cold] REV...          e.g. bench/install.sh main HEAD
#   bench/install.sh [--cold] --pip-lock REV  pip installing the same lock with hashes (the
#                                             pip-tools way: the lock exported as requirements)
#
# --cold empties the package caches for the run (pip's and uv's): a new machine. Without it the
# caches are this machine's own, as on a developer's machine or CI here. Prints one line per REV:
# `install REV MODE CACHE: S s, venv M MB`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cold=0
piplock=0
while [ $# -gt 0 ]; do
    case $1 in
        --cold) cold=1 ;;
        --pip-lock) piplock=1 ;;
        *) break ;;
    esac
    shift
done
[ $# -gt 0 ] || set -- HEAD

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cache=warm
if [ "$cold" = 1 ]; then
    cache=cold
    export PIP_NO_CACHE_DIR=1 UV_CACHE_DIR="$work/uv-cache"
fi
uptime >&2
for rev in "$@"; do
    dir="$work/clone"
    rm -rf "$dir"
    git clone --quiet "$repo" "$dir"
    git -C "$dir" checkout --quiet "$(git rev-parse "$rev")"
    if [ "$piplock" = 1 ]; then
        mode=pip-lock
        # The lock as a hashed requirements file (what pip-compile --generate-hashes writes).
        "$repo/.tools/bin/uv" export --project "$dir" --frozen --extra dev --no-emit-project \
            --format requirements-txt --quiet >"$work/requirements.txt"
        start=$(date +%s.%N)
        (cd "$dir" && python3 -m venv .venv \
            && .venv/bin/pip install --quiet --require-hashes --no-deps -r "$work/requirements.txt" \
            && .venv/bin/pip install --quiet --no-deps -e .) >/dev/null 2>&1
    else
        mode=$(grep -q 'sync --locked' "$dir/Makefile" && echo uv-sync || echo pip)
        start=$(date +%s.%N)
        make -C "$dir" setup >"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; exit 1; }
    fi
    end=$(date +%s.%N)
    # The first import of the stack: without compiled bytecode it compiles what it imports.
    "$dir/.venv/bin/python" -c 'import prefect, great_expectations, duckdb, pandas, pytest' \
        || { echo "install $rev: the venv does not import the stack" >&2; exit 1; }
    first=$(date +%s.%N)
    mb=$(du -sm "$dir/.venv" | cut -f1)
    printf 'install %s %s %s: %.1f s, then first import %.1f s, venv %s MB\n' "$rev" "$mode" \
        "$cache" "$(echo "$end - $start" | bc)" "$(echo "$first - $end" | bc)" "$mb"
done
