"""Small typed tasks wrapping `kpi.pipeline`'s steps; a task retries only when I/O failed it."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

from kpi import pipeline
from kpi.catalogue import Catalogue
from kpi.config import Settings

# Disk, file locks and network can succeed a moment later; a data or code error cannot.
IO_ERRORS = (OSError, duckdb.IOException)


def retry_on_io(task, task_run, state) -> bool:
    """Retry a failed task run only if an I/O error failed it."""
    return isinstance(state.result(raise_on_failure=False), IO_ERRORS)


# Every step writes state, so no task result is ever served from a cache.
ON_IO = {
    "retries": 2,
    "retry_delay_seconds": [5, 30],
    "retry_condition_fn": retry_on_io,
    "cache_policy": NO_CACHE,
}


@task(name="stage arrivals", **ON_IO)
def stage(cfg: Settings, until: date, source: Path) -> list[Path]:
    """Copy the files that arrived on or before `until` into the inbox."""
    return pipeline.stage_demo(cfg, until, source=source)


@task(name="ingest inbox", **ON_IO)
def ingest(cfg: Settings, catalogue: Catalogue, as_of: date, run_id: str) -> list[dict]:
    """Read, validate and load every file in the inbox; return the receipts."""
    return pipeline.ingest_step(cfg, catalogue, as_of, run_id)


@task(name="compute progress", **ON_IO)
def compute_progress(cfg: Settings, catalogue: Catalogue, as_of: date) -> Any:
    """Progress, status and outlook of every target into mart.*."""
    return pipeline.progress_step(cfg, catalogue, as_of)


@task(name="raise alerts", **ON_IO)
def raise_alerts(cfg: Settings, catalogue: Catalogue, as_of: date, now: datetime) -> dict:
    """Open, escalate and close alert episodes; queue their messages in the outbox."""
    return pipeline.alerts_step(cfg, catalogue, as_of, now)


@task(name="write report", **ON_IO)
def write_report(cfg: Settings, catalogue: Catalogue, as_of: date) -> Any:
    """The HTML report, the workbook and the Data Docs of an as-of date."""
    return pipeline.report_step(cfg, catalogue, as_of)


@task(name="publish snapshot", **ON_IO)
def publish_snapshot(cfg: Settings) -> Path:
    """Copy the warehouse to the analysts' read-only snapshot (after the run's row is final)."""
    return pipeline.snapshot_step(cfg)


# The task of each pipeline step: `call` runs `kpi.pipeline.night`'s sequence as tasks.
STEP_TASKS = {
    "ingest_step": ingest,
    "progress_step": compute_progress,
    "alerts_step": raise_alerts,
    "report_step": write_report,
    "snapshot_step": publish_snapshot,
}


def call(step, *args: Any) -> Any:
    """Run a pipeline step as its Prefect task (the `call` given to `kpi.pipeline`)."""
    return STEP_TASKS[step.__name__](*args)


@task(name="replay day", task_run_name="replay {day}", **ON_IO)
def replay_day(
    cfg: Settings, plan: str, day: date, source: Path, deliver: bool, publish: bool
) -> dict:
    """One replayed day: arrivals, the nightly run, optionally the morning delivery."""
    return pipeline.replay_day(cfg, plan, day, source=source, deliver=deliver, publish=publish)


@task(name="write digest", **ON_IO)
def write_digest(cfg: Settings, plan: str, as_of: date | None) -> Path:
    """The leadership status digest (markdown) from the snapshot."""
    return pipeline.write_digest(cfg, plan, as_of)
