"""The nightly flow: ingest the inbox, compute progress, publish the snapshot, raise alerts."""

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
    with pipeline.pipeline_run(cfg, plan or cfg.plan, as_of, now=now, run_id=run_id) as run:
        run.receipts = tasks.ingest(cfg, run.catalogue, as_of, run.run_id)
        run.progress = tasks.compute_progress(cfg, run.catalogue, as_of)
        run.snapshot = tasks.publish_snapshot(cfg)
        run.alerts = tasks.raise_alerts(cfg, run.catalogue, as_of, now)
        run.report = tasks.write_report(cfg, run.catalogue, as_of)
        # Again, so that the analysts' copy also holds tonight's alerts.
        run.snapshot = tasks.publish_snapshot(cfg)
    summary = run.summary()
    nightly_artifacts(summary, run.progress)
    return summary


if __name__ == "__main__":
    nightly()
