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
    """A running `scripts/serve.sh`: its API, the worker's state home, its log, its process."""

    api_url: str
    kpi_home: Path
    log: Path
    env: dict
    proc: subprocess.Popen


def as_a_terminal_starts_it() -> None:
    """SIGINT handled by default and not blocked in serve.sh, as in a terminal's new job."""
    # An ignored or blocked signal is inherited, and bash cannot trap a signal ignored on entry:
    # in the full suite serve.sh twice never saw the Ctrl-C (no "serve: stopping" in its log)
    # while the same test alone passed. What in the test process left it so was not found.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


class ServeSh:
    """This test process's `scripts/serve.sh` (server, process worker, deployments, desk), started
    at its first use and again after a test stopped it (test_serve_stop's Ctrl-C ends it)."""

    def __init__(self, tmp_path_factory, migrated_db: Path):
        self.tmp_path_factory = tmp_path_factory
        self.migrated_db = migrated_db
        self.running: Served | None = None

    def get(self) -> Served:
        """The running serve.sh; a new one (new state, new database copy) if none is."""
        if self.running is None or self.running.proc.poll() is not None:
            self.running = self._start()
        return self.running

    def _start(self) -> Served:
        from orchestration_helpers import free_port

        base = self.tmp_path_factory.mktemp("serve")
        (base / "prefect").mkdir()
        shutil.copyfile(self.migrated_db, base / "prefect" / "prefect.db")
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
            # The desk as `make serve` starts it: test_serve_stop checks that Ctrl-C stops it
            # with the rest, on this same serve.sh (one start of it a run instead of two).
            KPI_DESK_PORT=str(free_port()),
            KPI_APPRISE_CONFIG="",
            DO_NOT_TRACK="1",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
        )
        log = base / "serve.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [str(ROOT / "scripts" / "serve.sh")],
                cwd=ROOT,
                # The server, worker and desk read "now" as every test does; Served.env (the
                # commands' base) is left as it was.
                env={**env, "KPI_NOW": os.environ["KPI_NOW"]},
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own session, like a terminal's job: a Ctrl-C goes to its process group.
                start_new_session=True,
                preexec_fn=as_a_terminal_starts_it,
            )
        deadline = time.monotonic() + 120
        while "serve: Prefect UI" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail(f"serve.sh did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        return Served(f"http://127.0.0.1:{port}/api", base / "home", log, env, proc)

    @staticmethod
    def drain() -> None:
        """Send what flows run in this process queued for a server, while it is up: otherwise
        the interpreter spends a minute at exit retrying a server that is gone."""
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=10)
        EventsWorker.drain_all(timeout=10)

    def stop(self) -> None:
        """Stop the running serve.sh, if one is (SIGTERM to its group, then SIGKILL)."""
        running, self.running = self.running, None
        if running is None or running.proc.poll() is not None:
            return
        self.drain()
        os.killpg(running.proc.pid, signal.SIGTERM)
        try:
            running.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(running.proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def serve_sh(tmp_path_factory, migrated_prefect_db) -> ServeSh:
    """This process's serve.sh, stopped after its last user (SERVE_SH) and at the session's end."""
    shared = ServeSh(tmp_path_factory, migrated_prefect_db)
    SERVE_SH.append(shared)
    yield shared
    SERVE_SH.remove(shared)
    shared.stop()


@pytest.fixture
def served(serve_sh: ServeSh) -> Served:
    """`scripts/serve.sh` on a free loopback port: a server, a process worker, the deployments,
    the desk. Shared by the tests of this process; started again after one that stopped it."""
    return serve_sh.get()


# The `serve_sh` of this process (at most one). Idle, its server, worker and desk use ~2.6 CPU-s
# a minute (measured; the desk 0.1 of it), for the rest of the session after its last test: it
# is stopped then (a later user, in another order, starts it again).
SERVE_SH: list[ServeSh] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """Stop serve.sh once the last test that uses it is over; the session's end stops it too."""
    yield
    if SERVE_SH and item is last_user(item.session, "served"):
        SERVE_SH[0].stop()
