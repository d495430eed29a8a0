"""Fixtures of the orchestration tests: tiny-plan settings and one Prefect server per session."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from last_user import last_user

from kpi.config import ROOT, Settings

# PREFECT_HOME: tests/conftest.py gives each test process a temporary one.


@pytest.fixture
def tiny_cfg(cfg: Settings, tiny_catalogue) -> Settings:
    """Settings in a temporary home whose catalogue folder holds the tiny plan `tiny-2023`."""
    return replace(cfg, catalogue_dir=cfg.home.parent / "catalogue", plan="tiny-2023")


@dataclass(frozen=True)
class Served:
    """A running `scripts/serve.sh`: its API, the worker's state home, its log."""

    api_url: str
    kpi_home: Path
    log: Path
    env: dict


@pytest.fixture(scope="session")
def served(tmp_path_factory, migrated_prefect_db) -> Served:
    """`scripts/serve.sh` on a free loopback port: a server, a process worker, the deployments."""
    from orchestration_helpers import free_port

    base = tmp_path_factory.mktemp("serve")
    (base / "prefect").mkdir()
    shutil.copyfile(migrated_prefect_db, base / "prefect" / "prefect.db")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KPI_"))}
    env.update(
        PREFECT_HOME=str(base / "prefect"),
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(port),
        PREFECT_WORKER_QUERY_SECONDS="1",
        # No scheduled runs during tests: a 02:00 run must not land in the test's state.
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        KPI_HOME=str(base / "home"),
        KPI_APPRISE_CONFIG="",
        # No desk (its ~4-5 CPU-s start, idle polls): no test of `served` uses it.
        # test_serve_stop starts serve.sh with it, and stops it with the rest.
        KPI_SERVE_DESK="0",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    log = base / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(ROOT / "scripts" / "serve.sh")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one below
        )
    deadline = time.monotonic() + 120
    while "serve: Prefect UI" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"serve.sh did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    stopped = []

    def stop() -> None:
        if stopped:
            return
        stopped.append(True)
        # Flows run in this process queue logs and events for the server: send them while it
        # is up, or the interpreter spends a minute at exit retrying a server that is gone.
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=10)
        EventsWorker.drain_all(timeout=10)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

    STOP_SERVED.append(stop)
    yield Served(f"http://127.0.0.1:{port}/api", base / "home", log, env)
    stop()


# Stops of the running `served` (at most one). Idle, its server, worker and desk used ~2.6 CPU-s
# a minute (measured; the desk 0.1 of it), for the rest of the session after its last test: it
# is stopped then.
STOP_SERVED: list = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """Stop `served` once the last test that uses it is over; the session's end stops it too."""
    yield
    if STOP_SERVED and item is last_user(item.session, "served"):
        STOP_SERVED.pop()()
