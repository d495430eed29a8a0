"""Loading: nothing lost, nothing changed twice, revisions kept, every number traceable."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from dataclasses import replace
from datetime import datetime

import pytest
from click.testing import CliRunner
from ingest_helpers import AS_OF, dump, good_rows, query, r, write_csv, write_xlsx

from kpi.ingest import ingest_files, ingest_inbox, ingest_plans


def _loaded(cfg, tiny_catalogue, tmp_path):
    path = write_xlsx(tmp_path / "first.xlsx", good_rows())
    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] == "accepted"
    return dump(cfg)


def _without(tables: dict, submission_id: str) -> dict:
    """The tables with one submission's own records taken out."""
    out = {}
    for name, rows in tables.items():
        if name in ("raw.submissions", "raw.submission_rows", "staged.rejections"):
            rows = [row for row in rows if row[0] != submission_id]
        out[name] = rows
    return out


@pytest.mark.parametrize(
    "bad",
    [
        lambda p: (p / "broken.xlsx").write_bytes(b"PK\x03\x04garbage") and p / "broken.xlsx",
        lambda p: write_csv(
            p / "wrong.csv", [r("统计局", "2023-06", "investment_total", "亿元", 1)]
        ),
    ],
    ids=["unreadable", "every_row_rejected"],
)
def test_a_bad_file_leaves_every_other_record_in_the_warehouse_exactly_as_it_was(
    cfg, tiny_catalogue, tmp_path, bad
):
    before = _loaded(cfg, tiny_catalogue, tmp_path)
    (tmp_path / "bad").mkdir()
    [receipt] = ingest_files(cfg, tiny_catalogue, [bad(tmp_path / "bad")], as_of=AS_OF)
    assert receipt["status"] == "rejected"
    after = dump(cfg)
    # The refusal itself is recorded (receipt, reasons, rows as received) ...
    own = [row for row in after["raw.submissions"] if row[0] == receipt["submission_id"]]
    assert len(own) == 1
    # ... and apart from that record every table is identical, row for row and byte for byte.
    assert _without(after, receipt["submission_id"]) == before
    assert after["staged.observations"] == before["staged.observations"]


def test_the_same_file_twice_changes_nothing_and_says_duplicate(cfg, tiny_catalogue, tmp_path):
    before = _loaded(cfg, tiny_catalogue, tmp_path)
    copy = tmp_path / "renamed copy.xlsx"
    copy.write_bytes((tmp_path / "first.xlsx").read_bytes())
    receipts = ingest_files(cfg, tiny_catalogue, [tmp_path / "first.xlsx", copy], as_of=AS_OF)
    assert [x["status"] for x in receipts] == ["duplicate", "duplicate"]
    assert "内容完全相同" in receipts[1]["reason"]
    assert dump(cfg) == before


def test_a_later_file_with_another_value_is_a_revision_and_the_old_value_is_kept(
    cfg, tiny_catalogue, tmp_path
):
    may = write_csv(tmp_path / "v1.csv", [r("发改委", "2023-06", "investment_total", "亿元", 100)])
    fix = write_csv(tmp_path / "v2.csv", [r("发改委", "2023-06", "investment_total", "亿元", 110)])
    fix2 = write_csv(
        tmp_path / "v3.csv", [r("发改委", "2023-06", "investment_total", "万元", "1,150,000")]
    )
    [a] = ingest_files(cfg, tiny_catalogue, [may], as_of=AS_OF)
    [b] = ingest_files(cfg, tiny_catalogue, [fix], as_of=AS_OF)
    [c] = ingest_files(cfg, tiny_catalogue, [fix2], as_of=AS_OF)
    assert (a["revisions"], b["revisions"], c["revisions"]) == (0, 1, 1)
    obs = query(
        cfg,
        "select obs_id, value, revision_no, supersedes, is_current, file_name"
        " from staged.observations order by revision_no",
    )
    assert [(o["value"], o["revision_no"], o["is_current"], o["file_name"]) for o in obs] == [
        (1000000.0, 1, False, "v1.csv"),
        (1100000.0, 2, False, "v2.csv"),
        (1150000.0, 3, True, "v3.csv"),
    ]
    assert obs[1]["supersedes"] == obs[0]["obs_id"] and obs[2]["supersedes"] == obs[1]["obs_id"]


def test_the_same_value_sent_again_in_another_file_is_not_a_revision(cfg, tiny_catalogue, tmp_path):
    one = write_csv(tmp_path / "one.csv", [r("发改委", "2023-06", "investment_total", "亿元", 100)])
    # Same number in another unit and with a note: a different file, the same value.
    two = write_csv(
        tmp_path / "two.csv",
        [r("发改委", "2023-06", "investment_total", "万元", "1,000,000", note="复核")],
    )
    ingest_files(cfg, tiny_catalogue, [one], as_of=AS_OF)
    [receipt] = ingest_files(cfg, tiny_catalogue, [two], as_of=AS_OF)
    assert receipt["status"] == "accepted"
    assert (receipt["revisions"], receipt["unchanged"]) == (0, 1)
    obs = query(cfg, "select revision_no, is_current, file_name from staged.observations")
    assert obs == [{"revision_no": 1, "is_current": True, "file_name": "one.csv"}]


def test_every_stored_number_traces_back_to_its_file_sheet_and_row(cfg, tiny_catalogue, tmp_path):
    path = write_xlsx(tmp_path / "trace.xlsx", good_rows(), title="2023年1-6月")
    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert receipt["submission_id"] == sha
    rows = query(
        cfg,
        "select o.target_code, o.value_raw, o.sheet, o.row_number, w.cells, s.archive_path"
        " from staged.observations o"
        " join raw.submission_rows w using (submission_id, sheet, row_number)"
        " join raw.submissions s using (submission_id)"
        " where o.target_code = 'investment_total'",
    )
    [row] = rows
    assert (row["sheet"], row["row_number"]) == ("报送表", 3)
    cells = json.loads(row["cells"])
    assert cells["指标代码"] == "investment_total" and cells["数值"] == row["value_raw"] == "120.5"
    archived = cfg.home / row["archive_path"]
    assert archived.read_bytes() == path.read_bytes()  # raw file kept unchanged, by hash
    assert archived.name == f"{sha}.xlsx"


def test_the_receipt_is_stored_with_the_submission(cfg, tiny_catalogue, tmp_path):
    rows = [*good_rows(), r("发改委", "2023-06", "bogus", "亿元", 1)]
    [receipt] = ingest_files(
        cfg, tiny_catalogue, [write_xlsx(tmp_path / "p.xlsx", rows)], as_of=AS_OF
    )
    [sub] = query(cfg, "select * from raw.submissions")
    assert json.loads(sub["receipt"]) == receipt
    assert (sub["status"], sub["n_rows"], sub["n_accepted"], sub["n_rejected"]) == (
        "partial",
        8,
        7,
        1,
    )
    assert sub["department_code"] == "fgw"


def test_received_at_is_the_files_mtime_unless_given(cfg, tiny_catalogue, tmp_path):
    path = write_csv(tmp_path / "t.csv", [r("科技局", "2023-06", "hightech_firms", "家", 3)])
    arrival = datetime(2023, 7, 9, 10, 30).replace(tzinfo=cfg.tz).timestamp()
    os.utime(path, (arrival, arrival))
    ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    [row] = query(cfg, "select received_at from staged.observations")
    assert row["received_at"] == datetime(2023, 7, 9, 10, 30)
    other = write_csv(tmp_path / "u.csv", [r("科技局", "2023-05", "hightech_firms", "家", 2)])
    ingest_files(cfg, tiny_catalogue, [other], as_of=AS_OF, received_at=datetime(2023, 6, 9))
    [row] = query(cfg, "select received_at from raw.submissions where file_name = 'u.csv'")
    assert row["received_at"] == datetime(2023, 6, 9)


def test_the_inbox_is_processed_in_arrival_order_and_emptied(cfg, tiny_catalogue, tmp_path):
    cfg = replace(cfg, plan=tiny_catalogue.plan.code)  # the default plan reads the top level
    cfg.inbox.mkdir(parents=True)
    # "a" arrives after "b": by name it would come first, by arrival it is the revision.
    late = write_csv(cfg.inbox / "a.csv", [r("发改委", "2023-06", "investment_total", "亿元", 110)])
    early = write_csv(
        cfg.inbox / "b.csv", [r("发改委", "2023-06", "investment_total", "亿元", 100)]
    )
    broken = cfg.inbox / "c.xlsx"
    broken.write_bytes(b"not a workbook")
    for p, day in ((early, 8), (late, 9), (broken, 10)):
        t = datetime(2023, 7, day).replace(tzinfo=cfg.tz).timestamp()
        os.utime(p, (t, t))
    late_bytes = late.read_bytes()
    receipts = ingest_inbox(cfg, tiny_catalogue, as_of=AS_OF)
    assert [(x["file"], x["status"]) for x in receipts] == [
        ("b.csv", "accepted"),
        ("a.csv", "accepted"),
        ("c.xlsx", "rejected"),
    ]
    assert list(cfg.inbox.iterdir()) == []
    [current] = query(cfg, "select value, file_name from staged.observations where is_current")
    assert current == {"value": 1100000.0, "file_name": "a.csv"}
    sha = hashlib.sha256(late_bytes).hexdigest()
    assert (cfg.archive / sha[:2] / f"{sha}.csv").read_bytes() == late_bytes
    aside = cfg.rejected_dir / f"{receipts[2]['submission_id'][:12]}-c.xlsx"
    assert aside.read_bytes() == b"not a workbook"
    assert "c.xlsx" in aside.with_name(aside.name + ".reason.txt").read_text("utf-8")


def test_a_file_put_back_in_the_inbox_is_a_duplicate_and_leaves_it_again(
    cfg, tiny_catalogue, tmp_path
):
    cfg = replace(cfg, plan=tiny_catalogue.plan.code)  # the default plan reads the top level
    cfg.inbox.mkdir(parents=True)
    rows = [r("科技局", "2023-06", "hightech_firms", "家", 3)]
    write_csv(cfg.inbox / "x.csv", rows)
    ingest_inbox(cfg, tiny_catalogue, as_of=AS_OF)
    before = dump(cfg)
    write_csv(cfg.inbox / "x again.csv", rows)
    [receipt] = ingest_inbox(cfg, tiny_catalogue, as_of=AS_OF)
    assert receipt["status"] == "duplicate"
    assert list(cfg.inbox.iterdir()) == [] and dump(cfg) == before


def test_kpi_ingest_json_prints_one_receipt_per_file(cfg, tiny_catalogue, tmp_path, monkeypatch):
    from kpi.cli import main
    from kpi.config import settings

    monkeypatch.setenv("KPI_HOME", str(cfg.home))
    monkeypatch.setenv("KPI_CATALOGUE_DIR", str(tmp_path / "catalogue"))
    settings.cache_clear()
    try:
        ok = write_csv(tmp_path / "ok.csv", [r("科技局", "2023-06", "hightech_firms", "家", 3)])
        bad = write_csv(tmp_path / "bad.csv", [r("科技局", "2023-06", "hightech_firms", "家", "x")])
        result = CliRunner().invoke(
            main,
            ["--plan", "tiny-2023", "ingest", str(ok), str(bad), "--json", "--as-of", "2023-07-15"],
        )
    finally:
        settings.cache_clear()
    assert result.exit_code == 1, result.output  # a refused file makes the command fail
    receipts = json.loads(result.stdout)
    assert [(x["file"], x["status"], x["accepted"]) for x in receipts] == [
        ("ok.csv", "accepted", 1),
        ("bad.csv", "rejected", 0),
    ]
    [entry] = receipts[1]["rejected"]
    assert {"row": 2, "column": "数值", "value": "x"}.items() <= entry.items()
    assert entry["reason"] == "文件“bad.csv”第2行“数值”列“x”不是数字"
    assert set(receipts[0]) >= {"file", "status", "accepted", "rejected", "revisions"}


def _kpi_ingest(cfg, tmp_path, monkeypatch, *args: str, wait: int):
    from kpi.cli import main
    from kpi.config import settings

    monkeypatch.setenv("KPI_HOME", str(cfg.home))
    monkeypatch.setenv("KPI_CATALOGUE_DIR", str(tmp_path / "catalogue"))
    monkeypatch.setenv("KPI_LOCK_WAIT_SECONDS", str(wait))
    settings.cache_clear()
    try:
        return CliRunner().invoke(main, ["--plan", "tiny-2023", "ingest", *args])
    finally:
        settings.cache_clear()


@contextlib.contextmanager
def _run_in_progress(cfg, release_after: float | None = None):
    """The run lock held by another thread (a nightly run), until the block ends or a timer."""
    from kpi.warehouse import pipeline_lock

    held, release = threading.Event(), threading.Event()

    def run() -> None:
        with pipeline_lock(cfg):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=run)
    holder.start()
    held.wait(10)
    if release_after is not None:
        threading.Timer(release_after, release.set).start()
    try:
        yield
    finally:
        release.set()
        holder.join()


def test_kpi_ingest_never_writes_while_a_run_holds_the_lock(
    cfg, tiny_catalogue, tmp_path, monkeypatch
):
    ok = write_csv(tmp_path / "ok.csv", [r("科技局", "2023-06", "hightech_firms", "家", 3)])
    with _run_in_progress(cfg):
        result = _kpi_ingest(cfg, tmp_path, monkeypatch, str(ok), "--as-of", "2023-07-15", wait=1)
    assert result.exit_code == 1
    assert "未导入任何文件" in result.output or "未做任何改动" in result.output
    assert "Traceback" not in result.output
    assert not cfg.warehouse.exists()


def test_kpi_ingest_waits_for_a_run_to_end_then_ingests(cfg, tiny_catalogue, tmp_path, monkeypatch):
    ok = write_csv(tmp_path / "ok.csv", [r("科技局", "2023-06", "hightech_firms", "家", 3)])
    with _run_in_progress(cfg, release_after=1.0):
        result = _kpi_ingest(cfg, tmp_path, monkeypatch, str(ok), "--as-of", "2023-07-15", wait=60)
    assert result.exit_code == 0, result.output
    assert "等待" in result.output  # it said why it waited
    assert len(query(cfg, "select * from staged.observations")) == 1


def test_an_ingest_leaves_the_garbage_collector_as_it_found_it(cfg, tiny_catalogue, tmp_path):
    import gc

    before = gc.get_threshold()
    files = [write_xlsx(tmp_path / f"f{n}.xlsx", good_rows()) for n in range(2)]
    ingest_plans(cfg, [(tiny_catalogue, files)], as_of=AS_OF, workers=2)
    # A long-lived process (the desk, a fork server) must not keep a run's frozen objects or
    # its thresholds: frozen cycles would never be collected.
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
