"""The nightly job's steps and their one sequence; `flows/` runs the same sequence as tasks."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kpi import clock
from kpi.catalogue import Catalogue
from kpi.config import Settings
from kpi.ingest.inbox import inbox_files
from kpi.pipeline.run import (
    ALERT_KINDS,
    RUNS_SQL,
    Run,
    Step,
    direct,
    pipeline_run,
    report_stamp,
    untouched_since_publication,
)
from kpi.warehouse import connect, pipeline_lock, sql_file

log = logging.getLogger("kpi.pipeline")

# Receipts of files that leave no row in raw.submissions: they are recorded for the run.
UNSTORED = ("duplicate", "skipped")


def record_unstored(cfg: Settings, plan_code: str, run_id: str, receipts: list[dict]) -> int:
    """Record the run's duplicate and skipped files in meta.run_files; return how many."""
    import pandas as pd

    rows = [
        {
            "run_id": run_id,
            "plan_code": plan_code,
            "file_name": Path(str(r.get("file") or "")).name,
            "status": r["status"],
            "submission_id": r.get("submission_id") or "",
            "reason_zh": r.get("reason"),
            "seen_at": clock.local_now(cfg.tz),
        }
        for r in receipts
        if r.get("status") in UNSTORED
    ]
    if not rows:
        return 0
    run_files_frame = pd.DataFrame(rows)  # noqa: F841 - scanned by DuckDB below
    with connect(cfg) as con:
        con.execute(sql_file("record_run_files", RUNS_SQL))
    return len(rows)


def ingest_step(cfg: Settings, catalogue: Catalogue, as_of: date, run_id: str) -> list[dict]:
    """Ingest every file in the inbox; record the files that were not stored; return receipts."""
    from kpi.ingest import ingest_inbox

    receipts = ingest_inbox(cfg, catalogue, as_of=as_of, run_id=run_id)
    record_unstored(cfg, catalogue.plan.code, run_id, receipts)
    log.info("step ingest done: %d file(s)", len(receipts))
    return receipts


def progress_step(cfg: Settings, catalogue: Catalogue, as_of: date) -> Any:
    """Compute progress for the as-of date into mart.progress and mart.status_history."""
    from kpi.progress import compute_progress

    progress = compute_progress(cfg, catalogue, as_of)
    log.info("step progress done: %d target(s)", len(progress))
    return progress


def alerts_step(cfg: Settings, catalogue: Catalogue, as_of: date, now: datetime) -> dict:
    """Raise alerts (episodes and outbox) for the as-of date."""
    from kpi.alerts import raise_alerts

    result = raise_alerts(cfg, catalogue, as_of, now)
    log.info("step alerts done: %s", result)
    return result


def report_step(cfg: Settings, catalogue: Catalogue, as_of: date) -> dict[str, Path | None]:
    """Write the night's HTML report, workbook and Data Docs."""
    from kpi.reports import write_reports

    result = write_reports(cfg, catalogue, as_of)
    log.info("step report done: %s", result)
    return result


# Counters of alerts_step's result that say it wrote something (events, 13710 steps, messages).
ALERT_WRITES = (*ALERT_KINDS, "messages")


def quiet_night(run: Run) -> bool:
    """True when the run changed nothing a report or the snapshot shows.

    No file in the inbox, progress equal to the stored rows of the same date (written by an
    earlier run, so nothing was rewritten), no alert event, step or message, a start that
    abandoned no run and mirrored no new catalogue, and no write to the warehouse since the
    last run published. Only then may the report and the snapshot be left as they are.
    """
    progress = run.progress
    return (
        run.started_clean
        and untouched_since_publication(run)
        and not run.receipts
        and progress is not None
        and bool(getattr(progress, "attrs", {}).get("unchanged"))
        and not any(int(run.alerts.get(k) or 0) for k in ALERT_WRITES)
    )


def _report_inputs(cfg: Settings, catalogue: Catalogue) -> str:
    # The report is a function of the warehouse, the catalogue and the settings (links, paths).
    return hashlib.sha256(f"{catalogue.sha256}\n{cfg!r}".encode()).hexdigest()


def report_current(run: Run) -> tuple[dict[str, Path | None] | None, int | None]:
    """The report this quiet run would write again, if an earlier run wrote it from the same data.

    Its stamp names the run that wrote it (or found it current): that run must be the last one
    started before this and have completed, with the same catalogue and settings, and the files
    must exist. Also returns how many runs there are besides this one, when it was read.
    """
    from kpi.reports import report_paths

    cfg, cat = run.cfg, run.catalogue
    try:
        stamp = json.loads(report_stamp(cfg, cat.plan.code, run.as_of).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    paths = report_paths(cfg.reports, cat.plan.code, run.as_of)
    if stamp.get("inputs") != _report_inputs(cfg, cat) or not all(
        paths[k].is_file() for k in ("html", "workbook")
    ):
        return None, None
    if run.stamped is not None and run.stamped[0] == str(stamp.get("run_id")):
        others, status = run.others, run.stamped[1]  # read when the run started
    else:
        params = {"run_id": run.run_id, "stamp_run_id": str(stamp.get("run_id"))}
        with connect(cfg) as con:
            others, status = con.execute(sql_file("previous_run", RUNS_SQL), params).fetchall()[0]
    # No run started since the stamped one (counted: run clocks may be frozen or equal).
    if others != stamp.get("runs") or status != "completed":
        return None, others
    docs = Path(stamp["data_docs"]) if stamp.get("data_docs") else None
    return {"html": paths["html"], "workbook": paths["workbook"], "data_docs": docs}, others


def _stamp_report(run: Run, report: dict, runs: int | None = None) -> None:
    stamp = report_stamp(run.cfg, run.plan, run.as_of)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    docs = report.get("data_docs")
    if runs is None and run.others is not None:
        runs = run.others + 1  # this run's own row counts too
    if runs is None:
        with connect(run.cfg) as con:
            runs = con.execute(sql_file("run_count", RUNS_SQL)).fetchall()[0][0]
    body = {
        "run_id": run.run_id,
        "runs": runs,
        "inputs": _report_inputs(run.cfg, run.catalogue),
        "data_docs": str(docs) if docs else None,
    }
    tmp = stamp.with_name(f".{stamp.name}.tmp")
    tmp.write_text(json.dumps(body), encoding="utf-8")
    tmp.replace(stamp)


def night(run: Run, *, report: bool = True) -> None:
    """The nightly sequence, the only copy of it: ingest, progress, alerts, report.

    Each step goes through `run.call` (a plain call, or a Prefect task in `flows/`). The run's
    lifecycle (`pipeline_run`) then makes its row final and publishes the snapshot. A quiet
    run (`quiet_night`) keeps a report an earlier run wrote from the same data.
    """
    cfg, cat, as_of = run.cfg, run.catalogue, run.as_of
    if inbox_files(cfg, cat.plan.code)[0]:
        run.release()  # ingest connects per chunk (checkpointing each); held again after it
    run.receipts = run.call(ingest_step, cfg, cat, as_of, run.run_id)
    run.keep_open()  # progress, alerts and the run's end connect for free (released below)
    run.progress = run.call(progress_step, cfg, cat, as_of)
    run.alerts = run.call(alerts_step, cfg, cat, as_of, run.now)
    run.quiet = quiet_night(run)
    if report:
        current, others = report_current(run) if run.quiet else (None, None)
        if current is not None:
            log.info("step report skipped: nothing changed since it was written")
            run.report = current
            _stamp_report(run, current, others + 1)  # this run found it current
        else:
            run.release()  # the report takes seconds: the file is not held meanwhile
            run.report = run.call(report_step, cfg, cat, as_of)
            # Stamped after the files are in place: a crash before leaves no stamp to trust.
            _stamp_report(run, run.report)


def nightly_run(
    cfg: Settings,
    plan: str | None,
    as_of: date,
    now: datetime | None = None,
    *,
    run_id: str | None = None,
    lock_wait: float | None = None,
    flow: str = "nightly",
    publish: bool = True,
    call: Step = direct,
) -> Run:
    """Ingest the inbox, compute progress, raise alerts, write the report, publish the snapshot.

    `publish=False` (replayed days before the last) skips the report and the snapshot: nobody
    reads them for a past night, and they are most of a quiet night's cost. Returns the ended
    run (its summary, its progress frame, its catalogue).
    """
    with pipeline_run(
        cfg,
        plan,
        as_of,
        now=now,
        flow=flow,
        run_id=run_id,
        lock_wait=lock_wait,
        publish=publish,
        call=call,
    ) as run:
        night(run, report=publish)
    return run


def run_nightly(
    cfg: Settings,
    plan: str | None,
    as_of: date,
    now: datetime | None = None,
    *,
    run_id: str | None = None,
    lock_wait: float | None = None,
    flow: str = "nightly",
    publish: bool = True,
) -> dict:
    """`nightly_run` as plain calls; returns the run's summary (what `kpi run --json` prints)."""
    run = nightly_run(
        cfg, plan, as_of, now, run_id=run_id, lock_wait=lock_wait, flow=flow, publish=publish
    )
    return run.summary()


def run_deliver(cfg: Settings, now: datetime | None = None, *, lock_wait: float | None = None):
    """Send what the outbox holds that is due at `now` (under the run lock)."""
    from kpi.alerts import deliver

    wait = cfg.lock_wait_seconds if lock_wait is None else lock_wait
    with pipeline_lock(cfg, wait_seconds=wait):
        result = deliver(cfg, now or clock.now(cfg.tz))
    log.info("deliver done: %s", result)
    return result
