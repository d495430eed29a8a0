"""`make serve` (scripts/serve.sh) stops everything it started within 10 s of Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from orchestration_helpers import free_port
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from kpi.config import ROOT

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


def _as_a_terminal_starts_it() -> None:
    """SIGINT handled by default and not blocked in serve.sh, as in a terminal's new job."""
    # An ignored or blocked signal is inherited, and bash cannot trap a signal ignored on entry:
    # in the full suite serve.sh twice never saw the Ctrl-C (no "serve: stopping" in its log)
    # while the same test alone passed. What in the test process left it so was not found.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


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


def test_ctrl_c_stops_the_server_the_worker_and_a_running_flow_within_ten_seconds(
    tmp_path, prefect_home
):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KPI_"))}
    env.update(
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(port),
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        KPI_HOME=str(tmp_path / "home"),
        KPI_DESK_PORT=str(free_port()),
        KPI_APPRISE_CONFIG="",
        KPI_NOW=os.environ["KPI_NOW"],
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    log = tmp_path / "serve.log"
    running: set[int] = set()
    with open(log, "w") as out:
        # Its own session, like a terminal's job: Ctrl-C goes to its foreground process group.
        serve = subprocess.Popen(
            [str(ROOT / "scripts" / "serve.sh")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_as_a_terminal_starts_it,
        )
    try:
        deadline = time.monotonic() + 120
        while "serve: Prefect UI" not in log.read_text():
            assert serve.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        # Created from this process (a cold `prefect deployment run` costs 2-3 CPU-s to import).
        with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{port}/api"}):
            started = run_deployment(
                "replay/replay", parameters={"start": "2023-01-01", "end": "2023-06-30"}, timeout=0
            )
        assert started.state.is_scheduled(), started.state
        while "Task run 'replay 2023-01-0" not in log.read_text():  # a flow run is under way
            assert time.monotonic() < deadline + 60, log.read_text()[-3000:]
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
