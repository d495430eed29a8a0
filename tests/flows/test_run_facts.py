"""What a run reports is read from the warehouse by run id: a retried step cannot change it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from orchestration_helpers import (
    BAD_ROW,
    GOOD_ROWS,
    LAGGING_ROWS,
    fail_once_after_storing,
    write_submission,
)

from kpi.pipeline import (
    ingest_step,
    night,
    night_files,
    pipeline_run,
    record_unstored,
)

AS_OF = date(2023, 7, 15)
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2023, 7, 16, 2, 0, tzinfo=SHANGHAI)
GDP_ROW = "统计局,2023-06,gdp_growth,地区生产总值增长,%,,8.6,,,,,"


def meta_run(path: Path, run_id: str) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.execute("select * from meta.runs where run_id = ?", [run_id])
        cols = [d[0] for d in cur.description]
        return dict(zip(cols, cur.fetchone(), strict=True))
    finally:
        con.close()


def test_a_retried_ingest_reports_each_file_once_with_the_outcome_it_was_stored_with(
    tiny_cfg, monkeypatch
):
    inbox = tiny_cfg.inbox
    write_submission(inbox, "a_good.csv", GOOD_ROWS)
    write_submission(inbox, "b_partial.csv", [GDP_ROW, BAD_ROW])
    (inbox / "c_broken.xlsx").write_bytes(b"not a spreadsheet at all")
    calls = fail_once_after_storing(monkeypatch, tiny_cfg)
    with pipeline_run(tiny_cfg, "tiny-2023", AS_OF, now=NOW, run_id="retried", lock_wait=0) as run:
        with pytest.raises(OSError, match="No space left"):
            ingest_step(tiny_cfg, run.catalogue, AS_OF, run.run_id)
        assert sorted(p.name for p in inbox.iterdir()) == ["a_good.csv", "b_partial.csv"]
        retry = ingest_step(tiny_cfg, run.catalogue, AS_OF, run.run_id)  # as Prefect retries
    assert calls == ["first", "retry"]
    # Alone, the retry would have said the files were duplicates of themselves.
    assert {r["status"] for r in retry} == {"duplicate"}

    summary = run.summary()
    assert {f["file"]: f["status"] for f in summary["files"]} == {
        "a_good.csv": "accepted",
        "b_partial.csv": "partial",
        "c_broken.xlsx": "rejected",
    }
    expected = {
        "files_seen": 3,
        "files_accepted": 1,
        "files_partial": 1,
        "files_rejected": 1,
        "files_duplicate": 0,
        "files_skipped": 0,
        "rows_accepted": 2,
        "rows_rejected": 1,
    }
    assert {k: summary[k] for k in expected} == expected
    row = meta_run(tiny_cfg.warehouse, "retried")
    assert row["status"] == "completed" and {k: row[k] for k in expected} == expected
    # The snapshot was published after the row was final: it shows the run as it ended.
    assert meta_run(tiny_cfg.snapshot, "retried") == row
    partial = next(f for f in summary["files"] if f["file"] == "b_partial.csv")
    assert (partial["department"], partial["status_zh"]) == ("统计局", "部分接收")


def test_the_same_bytes_on_a_later_night_are_reported_as_that_nights_duplicate(tiny_cfg):
    first = write_submission(tiny_cfg.inbox, "发改委_6月.csv", GOOD_ROWS)
    kept = first.read_bytes()
    with pipeline_run(tiny_cfg, "tiny-2023", AS_OF, now=NOW, run_id="n1", lock_wait=0) as run:
        ingest_step(tiny_cfg, run.catalogue, AS_OF, run.run_id)
    (tiny_cfg.inbox / "发改委_6月(1).csv").write_bytes(kept)
    later = AS_OF + timedelta(days=1)
    with pipeline_run(
        tiny_cfg, "tiny-2023", later, now=NOW + timedelta(days=1), run_id="n2", lock_wait=0
    ) as run:
        ingest_step(tiny_cfg, run.catalogue, later, run.run_id)
    summary = run.summary()
    assert (summary["files_seen"], summary["files_duplicate"], summary["rows_accepted"]) == (
        1,
        1,
        0,
    )
    (dup,) = summary["files"]
    assert (dup["file"], dup["status_zh"], dup["department"]) == (
        "发改委_6月(1).csv",
        "重复文件",
        "发改委",
    )
    assert meta_run(tiny_cfg.warehouse, "n2")["files_duplicate"] == 1
    assert meta_run(tiny_cfg.warehouse, "n1")["files_seen"] == 1


def test_skipped_files_are_listed_apart_and_never_counted_as_seen(tiny_cfg):
    lock_file = {"file": "/inbox/~$发改委_6月.xlsx", "status": "skipped", "reason": "Excel 锁文件"}
    with pipeline_run(tiny_cfg, "tiny-2023", AS_OF, now=NOW, run_id="s1", lock_wait=0) as run:
        write_submission(tiny_cfg.inbox, "发改委_6月.csv", GOOD_ROWS)
        receipts = ingest_step(tiny_cfg, run.catalogue, AS_OF, run.run_id)
        assert record_unstored(tiny_cfg, "tiny-2023", run.run_id, [*receipts, lock_file]) == 1
        # Recording the same receipt again (a retried step) changes nothing.
        record_unstored(tiny_cfg, "tiny-2023", run.run_id, [lock_file])
    summary = run.summary()
    assert (summary["files_seen"], summary["files_skipped"]) == (1, 1)
    assert [(s["file"], s["status_zh"], s["reason"]) for s in summary["skipped"]] == [
        ("~$发改委_6月.xlsx", "已跳过", "Excel 锁文件")
    ]
    assert [f["file"] for f in summary["files"]] == ["发改委_6月.csv"]
    assert meta_run(tiny_cfg.warehouse, "s1")["files_skipped"] == 1


def test_alerts_are_counted_from_the_events_the_run_wrote_and_the_night_files_match(tiny_cfg):
    write_submission(tiny_cfg.inbox, "发改委_6月.csv", LAGGING_ROWS)
    with pipeline_run(tiny_cfg, "tiny-2023", AS_OF, now=NOW, run_id="a1", lock_wait=0) as run:
        night(run, report=False)
    summary = run.summary()
    assert summary["alerts"]["opened"] == run.alerts["opened"] >= 1
    assert summary["alerts"]["messages"] == run.alerts["messages"] >= 1
    assert summary["alerts_raised"] == run.alerts["opened"] + run.alerts["worsened"]
    assert meta_run(tiny_cfg.warehouse, "a1")["alerts_raised"] == summary["alerts_raised"]
    assert list(summary["statuses"])[0] == "严重滞后"  # worst first
    # The next night raises nothing new, whatever the first one did.
    later = AS_OF + timedelta(days=1)
    with pipeline_run(
        tiny_cfg, "tiny-2023", later, now=NOW + timedelta(days=1), run_id="a2", lock_wait=0
    ) as run2:
        night(run2, report=False)
    assert run2.summary()["alerts_raised"] == 0
    con = duckdb.connect(str(tiny_cfg.snapshot), read_only=True)
    try:
        assert night_files(con, "tiny-2023", AS_OF) == summary["files"]
        assert night_files(con, "tiny-2023", later) == []
        assert night_files(con, "tiny-2023", date(2023, 1, 1)) == []
    finally:
        con.close()


def test_a_run_that_fails_is_final_in_the_snapshot_too(tiny_cfg):
    write_submission(tiny_cfg.inbox, "发改委_6月.csv", GOOD_ROWS)
    with (
        pytest.raises(RuntimeError, match="report broke"),
        pipeline_run(tiny_cfg, "tiny-2023", AS_OF, now=NOW, run_id="f1", lock_wait=0) as run,
    ):
        ingest_step(tiny_cfg, run.catalogue, AS_OF, run.run_id)
        raise RuntimeError("report broke")
    row = meta_run(tiny_cfg.snapshot, "f1")
    assert (row["status"], row["files_seen"], row["rows_accepted"]) == ("failed", 1, 1)


def test_every_column_of_the_run_bookkeeping_has_a_chinese_comment(tiny_cfg):
    with pipeline_run(tiny_cfg, "tiny-2023", AS_OF, now=NOW, run_id="c1", lock_wait=0):
        pass
    con = duckdb.connect(str(tiny_cfg.snapshot), read_only=True)
    try:
        missing = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns()"
            " where (schema_name, table_name) in"
            " (('meta', 'runs'), ('meta', 'run_files'), ('mart', 'run_files'))"
            " and (comment is null or not regexp_matches(comment, '[\\x{4e00}-\\x{9fff}]'))"
        ).fetchall()
        tables = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'meta'"
            " and table_name in ('runs', 'run_files') and comment is not null"
        ).fetchone()
    finally:
        con.close()
    assert missing == [] and tables == (2,)
