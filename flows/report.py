"""The weekly leadership report: `kpi.reports` when installed, else the status digest."""

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
    judged = records[0]["as_of"] if records else as_of
    result: dict = {"plan": plan, "as_of": str(judged), "report": None, "digest": None}
    if pipeline.reports_module() is not None and judged is not None:
        with pipeline_lock(cfg, wait_seconds=cfg.lock_wait_seconds):
            report = tasks.write_report(cfg, pipeline.load_plan(cfg, plan), judged)
        result["report"] = pipeline.jsonable(report)
    if result["report"] is None:
        result["digest"] = str(tasks.write_digest(cfg, plan, as_of))
    create_markdown_artifact(
        pipeline.render_digest(plan, records),
        key=artifact_key(plan, "leadership"),
        description=f"{plan} 领导周报（截至 {judged}）",
    )
    return result
