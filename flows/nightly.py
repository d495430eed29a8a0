"""The nightly flow: `kpi.pipeline`'s nightly sequence, each step a task, and its artifacts."""

from __future__ import annotations

from datetime import date, datetime

from prefect import flow
from prefect.runtime import flow_run

from flows import tasks
from flows.artifacts import nightly_artifacts
from kpi import clock, pipeline


@flow(name="nightly")
def nightly(
    plan: str | None = None,
    as_of: date | None = None,
    now: datetime | None = None,
    home: str | None = None,
) -> dict:
    """Judge every target as of a date (default: yesterday) and raise the alerts it implies."""
    cfg = pipeline.resolve_settings(home)
    now = now or clock.now(cfg.tz)
    as_of = as_of or pipeline.default_as_of(now.astimezone(cfg.tz))
    run_id = flow_run.id or pipeline.new_run_id()
    run = pipeline.nightly_run(cfg, plan or cfg.plan, as_of, now, run_id=run_id, call=tasks.call)
    summary = run.summary()
    nightly_artifacts(summary, run.progress, run.catalogue)
    return summary


if __name__ == "__main__":
    nightly()
