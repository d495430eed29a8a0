"""The nightly job as plain functions; Prefect flows in `flows/` run the same sequence as tasks.

| module | what |
|---|---|
| `run.py` | a run's lifecycle: lock, meta.runs row, what it did read back from the warehouse |
| `steps.py` | the steps and their one sequence (`night`), `run_nightly`, `run_deliver` |
| `schedule.py` | when the nightly run and the morning delivery of an as-of date happen |
| `demo.py` | demo arrivals: files reach the inbox on their dates |
| `replay.py` | the nightly run day by day |
| `digest.py` | the leadership digest |
"""

from kpi.pipeline.demo import DEMO_SUBMISSIONS, Arrival, arrivals, demo_exports, stage_demo
from kpi.pipeline.digest import digest_records, render_digest, write_digest
from kpi.pipeline.replay import held_between_nights, replay, replay_day
from kpi.pipeline.run import (
    STATUS_ORDER,
    Run,
    alert_counts,
    alerts_raised,
    direct,
    file_counts,
    file_row,
    jsonable,
    load_plan,
    new_run_id,
    night_files,
    pipeline_run,
    resolve_settings,
    run_facts,
    run_files,
    snapshot_step,
)
from kpi.pipeline.schedule import (
    DELIVER_AT,
    NIGHTLY_AT,
    days,
    default_as_of,
    morning_after,
    nightly_now,
    outside_year,
)
from kpi.pipeline.steps import (
    alerts_step,
    ingest_step,
    night,
    nightly_run,
    progress_step,
    record_unstored,
    report_step,
    run_deliver,
    run_nightly,
)

__all__ = [
    "DELIVER_AT",
    "DEMO_SUBMISSIONS",
    "NIGHTLY_AT",
    "STATUS_ORDER",
    "Arrival",
    "Run",
    "alert_counts",
    "alerts_raised",
    "alerts_step",
    "arrivals",
    "days",
    "default_as_of",
    "demo_exports",
    "digest_records",
    "direct",
    "file_counts",
    "file_row",
    "held_between_nights",
    "ingest_step",
    "jsonable",
    "load_plan",
    "morning_after",
    "new_run_id",
    "night",
    "night_files",
    "nightly_run",
    "nightly_now",
    "outside_year",
    "pipeline_run",
    "progress_step",
    "record_unstored",
    "render_digest",
    "replay",
    "replay_day",
    "report_step",
    "resolve_settings",
    "run_deliver",
    "run_facts",
    "run_files",
    "run_nightly",
    "snapshot_step",
    "stage_demo",
    "write_digest",
]
