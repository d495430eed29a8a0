"""A nightly run killed at any point can simply be run again: same end state, no file twice."""

from __future__ import annotations

import signal
from datetime import date

import duckdb
import pytest
from orchestration_helpers import child, wait_for_line, warehouse_state

from kpi.config import load_settings
from kpi.pipeline import nightly_now, run_nightly, stage_demo

pytestmark = pytest.mark.slow

UNTIL = date(2023, 2, 3)  # the first three days of arrivals: nine demo files

NIGHTLY = """
import logging, sys
from datetime import date
from kpi import pipeline
out = logging.StreamHandler(sys.stdout)
for name in ("kpi.pipeline", "kpi.ingest"):
    logging.getLogger(name).setLevel(logging.INFO)
    logging.getLogger(name).addHandler(out)
day = date(2023, 2, 3)
pipeline.run_nightly(cfg, None, day, pipeline.nightly_now(day, cfg))
print("finished", flush=True)
"""


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    """The warehouse after one uninterrupted nightly run on the same files."""
    cfg = load_settings(env={}).with_home(tmp_path_factory.mktemp("uninterrupted") / "home")
    assert len(stage_demo(cfg, UNTIL)) == 9
    run_nightly(cfg, None, UNTIL, nightly_now(UNTIL, cfg))
    return warehouse_state(cfg.warehouse)


@pytest.mark.parametrize(
    "kill_at",
    [
        "loading ",  # inside the first file's load transaction
        "step progress done",  # progress committed; no snapshot, no alerts yet
        "step alerts done",  # alerts committed; report and final snapshot pending
    ],
)
def test_a_run_killed_mid_way_and_run_again_ends_as_if_never_interrupted(
    cfg, uninterrupted, kill_at, forks
):
    stage_demo(cfg, UNTIL)
    victim = child(forks, cfg, NIGHTLY)
    wait_for_line(victim, kill_at)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL

    summary = run_nightly(cfg, None, UNTIL, nightly_now(UNTIL, cfg), lock_wait=10)

    assert warehouse_state(cfg.warehouse) == uninterrupted
    assert list(cfg.inbox.iterdir()) == []  # every file left the inbox
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    statuses = con.execute("select status from meta.runs order by started_at").fetchall()
    once = con.execute("select count(*), count(distinct file_name) from raw.submissions").fetchone()
    con.close()
    assert statuses == [("abandoned",), ("completed",)]
    assert once == (9, 9)
    assert summary["status"] == "completed"
