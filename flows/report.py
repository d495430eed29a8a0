"""The weekly leadership report: the report of the latest judged night, and the digest artifact."""

from __future__ import annotations

from datetime import date

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows import tasks
from flows.artifacts import artifact_key
from kpi import pipeline
from kpi.warehouse import pipeline_lock


@flow(name="leadership-report")
def leadership_report(
    plan: str | None = None, as_of: date | None = None, home: str | None = None
) -> dict:
    """Write the leadership report for the latest judged date (on or before `as_of`)."""
    cfg = pipeline.resolve_settings(home)
    plan = plan or cfg.plan
    records = pipeline.digest_records(cfg, plan, as_of)
    judged = records[0]["as_of"] if records else None
    result: dict = {"plan": plan, "as_of": str(judged or as_of or ""), "report": None}
    if judged is not None:
        with pipeline_lock(cfg, wait_seconds=cfg.lock_wait_seconds):
            report = tasks.write_report(cfg, pipeline.load_plan(cfg, plan), judged)
        result["report"] = pipeline.jsonable(report)
    create_markdown_artifact(
        pipeline.render_digest(plan, records),
        key=artifact_key(plan, "leadership"),
        description=f"{plan} 领导周报（截至 {judged or '—'}）",
    )
    return result
