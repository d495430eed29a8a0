"""A quiet night (nothing arrived, nothing to judge anew) keeps the report and the snapshot."""

from __future__ import annotations

import os
from datetime import date, datetime
from zoneinfo import ZoneInfo

import duckdb
from orchestration_helpers import GOOD_ROWS, LAGGING_ROWS, write_submission

from kpi.ingest import ingest_files
from kpi.pipeline import load_plan, run_nightly

AS_OF = date(2023, 7, 15)
NOW = datetime(2023, 7, 16, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _mtimes(cfg) -> dict[str, int]:
    html = next(cfg.reports.glob(f"tiny-2023_{AS_OF.isoformat()}_progress.html"))
    return {"html": html.stat().st_mtime_ns, "snapshot": cfg.snapshot.stat().st_mtime_ns}


def _computed_at(cfg):
    con = duckdb.connect(str(cfg.snapshot), read_only=True)
    try:
        return con.execute(
            "select max(computed_at) from mart.progress where as_of = ?", [AS_OF]
        ).fetchone()[0]
    finally:
        con.close()


def test_a_quiet_night_keeps_report_and_snapshot_and_a_new_file_rewrites_them(tiny_cfg):
    write_submission(tiny_cfg.inbox, "a_good.csv", GOOD_ROWS)
    first = run_nightly(tiny_cfg, "tiny-2023", AS_OF, NOW)
    assert first["files_seen"] == 1 and first["status"] == "completed"
    before, computed = _mtimes(tiny_cfg), _computed_at(tiny_cfg)

    quiet = run_nightly(tiny_cfg, "tiny-2023", AS_OF, NOW)
    assert quiet["status"] == "completed" and quiet["files_seen"] == 0
    assert _mtimes(tiny_cfg) == before  # neither rewritten
    assert _computed_at(tiny_cfg) == computed  # progress equal: not rewritten either
    assert quiet["report"]["html"] == first["report"]["html"]

    again = run_nightly(tiny_cfg, "tiny-2023", AS_OF, NOW)  # quiet after quiet: still kept
    assert _mtimes(tiny_cfg) == before and again["status"] == "completed"

    write_submission(tiny_cfg.inbox, "b_lagging.csv", LAGGING_ROWS)
    busy = run_nightly(tiny_cfg, "tiny-2023", AS_OF, NOW)
    assert busy["files_seen"] == 1
    after = _mtimes(tiny_cfg)
    assert after["html"] > before["html"] and after["snapshot"] > before["snapshot"]


def _rewritten_after(cfg, between) -> bool:
    """A night, `between(cfg)`, the same night again: were report and snapshot both rewritten?"""
    write_submission(cfg.inbox, "a_good.csv", GOOD_ROWS)
    run_nightly(cfg, "tiny-2023", AS_OF, NOW)
    before = _mtimes(cfg)
    between(cfg)
    run_nightly(cfg, "tiny-2023", AS_OF, NOW)
    after = _mtimes(cfg)
    return after["html"] > before["html"] and after["snapshot"] > before["snapshot"]


def test_a_run_in_between_makes_the_next_quiet_night_write_again(tiny_cfg):
    # Another date judged in between: the report of AS_OF was not written by the last run.
    assert _rewritten_after(
        tiny_cfg, lambda cfg: run_nightly(cfg, "tiny-2023", AS_OF.replace(day=16), NOW)
    )


def _touch_warehouse(cfg) -> None:
    con = duckdb.connect(str(cfg.warehouse))  # as a delivery or a 13710 step would
    con.execute("create table main.touched as select 1 as x")
    con.close()


def test_a_write_outside_runs_makes_the_quiet_night_publish_again(tiny_cfg):
    # Not known to be harmless to the report: both are written again.
    assert _rewritten_after(tiny_cfg, _touch_warehouse)


def test_a_file_ingested_outside_runs_appears_in_the_next_report(tiny_cfg, tmp_path):
    write_submission(tiny_cfg.inbox, "a_good.csv", GOOD_ROWS)
    run_nightly(tiny_cfg, "tiny-2023", AS_OF, NOW)
    # `kpi ingest` of a refused file: no run, no change to progress, but the report lists it.
    bad = tmp_path / "refused_by_hand.csv"
    bad.write_text("not,a,template\n1,2,3\n", encoding="utf-8")
    noon = datetime(2023, 7, 15, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    os.utime(bad, (noon, noon))
    cat = load_plan(tiny_cfg, "tiny-2023")
    [receipt] = ingest_files(tiny_cfg, cat, [str(bad)], as_of=AS_OF)
    assert receipt["status"] == "rejected"
    run_nightly(tiny_cfg, "tiny-2023", AS_OF, NOW)
    html = next(tiny_cfg.reports.glob(f"tiny-2023_{AS_OF.isoformat()}_progress.html"))
    assert "refused_by_hand.csv" in html.read_text(encoding="utf-8")
