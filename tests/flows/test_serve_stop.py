"""`make serve` (scripts/serve.sh) stops everything it started within 10 s of Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

pytestmark = pytest.mark.slow


def below(root: int) -> set[int]:
    """Every live process descending from `root`, whatever its process group or session."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z":
                parent[int(d.name)] = int(fields[1])
    found = set()
    for pid in parent:
        p = parent.get(pid)
        while p and p > 1:
            if p == root:
                found.add(pid)
                break
            p = parent.get(p)
    return found


def alive(pids: set[int]) -> set[int]:
    still = set()
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] != "Z":
            still.add(pid)
    return still


def test_ctrl_c_stops_the_server_the_worker_and_a_running_flow_within_ten_seconds(served, serve_sh):
    # The session's serve.sh (`served`: server, worker, deployments, desk), started as a terminal
    # starts it; after this test it is gone, and a later user of `served` starts a new one.
    serve, log = served.proc, served.log
    serve_sh.drain()  # what this process's flows queued for the server, sent while it is up
    seen = len(log.read_text())  # the log's part before this test's flow run
    running: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        # Created from this process (a cold `prefect deployment run` costs 2-3 CPU-s to import).
        with temporary_settings({PREFECT_API_URL: served.api_url}):
            started = run_deployment(
                "replay/replay", parameters={"start": "2023-01-01", "end": "2023-06-30"}, timeout=0
            )
        assert started.state.is_scheduled(), started.state
        while "Task run 'replay 2023-01-0" not in log.read_text()[seen:]:  # a flow run is under way
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        running = below(serve.pid)
        assert len(running) >= 3  # server, worker, the flow run (and their children)

        stopped_at = time.monotonic()
        os.killpg(serve.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
        try:
            serve.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"serve.sh still running 15 s after Ctrl-C\n{log.read_text()[-3000:]}")
        while alive(running) and time.monotonic() - stopped_at < 15:
            time.sleep(0.1)
        took = time.monotonic() - stopped_at
        assert not alive(running), f"still running: {alive(running)}\n{log.read_text()[-2000:]}"
        assert took <= 10, f"took {took:.1f} s"
        assert "serve: stopped" in log.read_text()
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
        for pid in alive(running | below(serve.pid)):  # nothing of this test outlives it
            os.kill(pid, signal.SIGKILL)
