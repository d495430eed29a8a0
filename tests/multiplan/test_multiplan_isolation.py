"""Two plans (two districts) in one warehouse never mix: receipts, status, alerts, snapshot."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime

import pytest
from multiplan_helpers import AS_OF, query, row, write_csv

from kpi.alerts import raise_alerts
from kpi.ingest import ingest_files, ingest_plans
from kpi.progress import compute_progress, compute_progress_many
from kpi.warehouse import publish_snapshot

NOW = datetime(2023, 7, 16, 9, 0)


def _investment(tmp_path, name: str, value: float, period: str = "2023-06"):
    return write_csv(tmp_path / name, [row("发改委", period, "investment_total", "亿元", value)])


def _load_both(cfg, east, west, tmp_path):
    """East on pace (120 of 227.4亿元 at mid-year), west far behind (60亿元)."""
    [e] = ingest_files(cfg, east, [_investment(tmp_path / "e", "发改委.csv", 120)], as_of=AS_OF)
    [w] = ingest_files(cfg, west, [_investment(tmp_path / "w", "发改委.csv", 60)], as_of=AS_OF)
    return e, w


def test_each_plan_is_judged_on_its_own_figures_only(cfg, east, west, tmp_path):
    _load_both(cfg, east, west, tmp_path)
    frames = compute_progress_many(cfg, [east, west], AS_OF, now=NOW)
    e = frames["east-2023"].set_index("target_code").loc["investment_total"]
    w = frames["west-2023"].set_index("target_code").loc["investment_total"]
    assert (e["actual"], e["status"]) == (1_200_000.0, "正常")
    assert (w["actual"], w["status"]) == (600_000.0, "严重滞后")
    stored = query(
        cfg,
        "select plan_code, actual, status from mart.progress where target_code = ? order by 1",
        ["investment_total"],
    )
    assert stored == [
        {"plan_code": "east-2023", "actual": 1_200_000.0, "status": "正常"},
        {"plan_code": "west-2023", "actual": 600_000.0, "status": "严重滞后"},
    ]


def test_computing_one_plan_leaves_the_other_plans_rows_alone(cfg, east, west, tmp_path):
    _load_both(cfg, east, west, tmp_path)
    compute_progress_many(cfg, [east, west], AS_OF, now=NOW)
    before = query(cfg, "select * from mart.progress where plan_code = 'west-2023' order by all")
    # East corrects its figure down: only east's rows may change.
    ingest_files(cfg, east, [_investment(tmp_path / "e2", "更正.csv", 20)], as_of=AS_OF)
    compute_progress(cfg, east, AS_OF, now=NOW)
    after = query(cfg, "select * from mart.progress where plan_code = 'west-2023' order by all")
    assert after == before
    [e] = query(
        cfg,
        "select status from mart.progress where plan_code = 'east-2023'"
        " and target_code = 'investment_total'",
    )
    assert e["status"] == "严重滞后"


def test_a_revision_in_one_plan_does_not_supersede_the_other_plans_value(cfg, east, west, tmp_path):
    e, w = _load_both(cfg, east, west, tmp_path)
    [fix] = ingest_files(cfg, east, [_investment(tmp_path / "e2", "更正.csv", 130)], as_of=AS_OF)
    assert fix["revisions"] == 1
    current = query(
        cfg,
        "select plan_code, value, revision_no from staged.observations where is_current"
        " order by plan_code",
    )
    assert current == [
        {"plan_code": "east-2023", "value": 1_300_000.0, "revision_no": 2},
        {"plan_code": "west-2023", "value": 600_000.0, "revision_no": 1},
    ]


def test_the_same_bytes_sent_for_two_plans_are_stored_once_for_each_plan(cfg, east, west, tmp_path):
    # A milestone-only .csv has no title: two districts can send byte-identical files.
    path = write_csv(
        tmp_path / "发改委.csv",
        [row("发改委", "2023-06", "finance_hall_open", status="推进中")],
    )
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    [e] = ingest_files(cfg, east, [path], as_of=AS_OF)
    [w] = ingest_files(cfg, west, [path], as_of=AS_OF)
    assert (e["status"], e["plan"], e["submission_id"]) == ("accepted", "east-2023", sha)
    assert (w["status"], w["plan"]) == ("accepted", "west-2023")
    assert w["submission_id"] != sha  # the hash salted with the plan: ids stay unique
    stored = query(cfg, "select plan_code, n_accepted from raw.submissions order by plan_code")
    assert stored == [
        {"plan_code": "east-2023", "n_accepted": 1},
        {"plan_code": "west-2023", "n_accepted": 1},
    ]
    # Sent again to west, it is west's duplicate (west's id, west's first receipt).
    [again] = ingest_files(cfg, west, [path], as_of=AS_OF)
    assert (again["status"], again["submission_id"]) == ("duplicate", w["submission_id"])
    assert query(cfg, "select count(*) as n from staged.observations") == [{"n": 2}]


def test_a_file_sent_twice_to_one_plan_is_still_a_duplicate(cfg, east, tmp_path):
    path = _investment(tmp_path, "发改委.csv", 120)
    [first] = ingest_files(cfg, east, [path], as_of=AS_OF)
    [again] = ingest_files(cfg, east, [path], as_of=AS_OF)
    assert again["status"] == "duplicate"
    assert again["submission_id"] == first["submission_id"]


def test_rejections_and_receipts_belong_to_the_plan_that_received_the_file(
    cfg, east, west, tmp_path
):
    bad = write_csv(
        tmp_path / "bad.csv",
        [
            row("发改委", "2023-06", "investment_total", "亿元", 100),
            row("发改委", "2023-06", "no_such_target", "亿元", 5),
        ],
    )
    [receipt] = ingest_files(cfg, west, [bad], as_of=AS_OF)
    ingest_files(cfg, east, [_investment(tmp_path / "e", "ok.csv", 120)], as_of=AS_OF)
    assert (receipt["status"], receipt["plan"]) == ("partial", "west-2023")
    rejections = query(cfg, "select plan_code, target_code from staged.rejections")
    assert rejections == [{"plan_code": "west-2023", "target_code": "no_such_target"}]
    receipts = query(cfg, "select plan_code, receipt from raw.submissions order by plan_code")
    assert [(r["plan_code"], json.loads(r["receipt"])["plan"]) for r in receipts] == [
        ("east-2023", "east-2023"),
        ("west-2023", "west-2023"),
    ]


def test_alert_episodes_and_messages_are_kept_per_plan(cfg, east, west, tmp_path):
    _load_both(cfg, east, west, tmp_path)
    compute_progress_many(cfg, [east, west], AS_OF, now=NOW)
    raise_alerts(cfg, west, AS_OF, NOW)
    raise_alerts(cfg, east, AS_OF, NOW)
    episodes = query(cfg, "select plan_code, target_code, status from alerts.episodes order by all")
    assert {"plan_code": "west-2023", "target_code": "investment_total", "status": "严重滞后"} in (
        episodes
    )
    assert not [
        e
        for e in episodes
        if e["plan_code"] == "east-2023" and e["target_code"] == "investment_total"
    ]
    outbox = query(cfg, "select plan_code, dedupe_key from alerts.outbox")
    assert outbox and all(
        m["plan_code"] in m["dedupe_key"] for m in outbox if "receipt" not in m["dedupe_key"]
    )
    # Raising east again changes nothing of west's.
    before = query(cfg, "select * from alerts.episodes where plan_code = 'west-2023' order by all")
    raise_alerts(cfg, east, AS_OF, NOW)
    assert query(
        cfg, "select * from alerts.episodes where plan_code = 'west-2023' order by all"
    ) == (before)


def test_every_snapshot_view_carries_the_plan_of_its_rows(cfg, east, west, tmp_path):
    _load_both(cfg, east, west, tmp_path)
    compute_progress_many(cfg, [east, west], AS_OF, now=NOW)
    publish_snapshot(cfg)
    current = query(
        cfg,
        "select plan_code, actual_written, status from mart.current_progress"
        " where target_code = 'investment_total' order by plan_code",
        snapshot=True,
    )
    assert current == [
        {"plan_code": "east-2023", "actual_written": 120.0, "status": "正常"},
        {"plan_code": "west-2023", "actual_written": 60.0, "status": "严重滞后"},
    ]
    for view in ("mart.current_observations", "mart.submissions", "mart.progress_by_period"):
        rows = query(cfg, f"select plan_code from {view} order by 1", snapshot=True)  # noqa: S608
        assert [r["plan_code"] for r in rows] == ["east-2023", "west-2023"], view
    plans = query(cfg, "select plan_code, district_zh from ref.plans order by 1", snapshot=True)
    assert plans == [
        {"plan_code": "east-2023", "district_zh": "东区"},
        {"plan_code": "west-2023", "district_zh": "西区"},
    ]


def test_ingesting_plans_together_gives_the_receipts_of_one_plan_at_a_time(
    cfg, east, west, tmp_path
):
    east_files = [
        _investment(tmp_path / "e", "1.csv", 100, "2023-05"),
        _investment(tmp_path / "e", "2.csv", 80, "2023-06"),  # lower than May: a warning
        _investment(tmp_path / "e", "3.csv", 90, "2023-06"),  # a revision within the run
    ]
    west_files = [
        write_csv(tmp_path / "w" / "1.csv", [row("人社局", "2023-06", "urban_jobs", "人", 4000)]),
        write_csv(tmp_path / "w" / "2.csv", [row("人社局", "2023-06", "urban_jobs", "吨", 1)]),
    ]
    together = ingest_plans(cfg, [(east, east_files), (west, west_files)], as_of=AS_OF)
    alone = cfg.with_home(tmp_path / "alone")
    one_by_one = [
        [ingest_files(alone, east, [p], as_of=AS_OF)[0] for p in east_files],
        [ingest_files(alone, west, [p], as_of=AS_OF)[0] for p in west_files],
    ]
    assert together == one_by_one
    assert together[0][1]["warnings"] and together[0][2]["revisions"] == 1
    assert together[1][1]["status"] == "rejected"


@pytest.mark.slow
def test_parsing_workers_give_the_same_receipts_as_parsing_in_process(cfg, east, west, tmp_path):
    files = [_investment(tmp_path / "e", f"{m}.csv", 10 * m, f"2023-{m:02d}") for m in range(1, 7)]
    files.append(_investment(tmp_path / "e", "bad.csv", "1,2x3"))
    in_process = ingest_plans(cfg, [(east, files)], as_of=AS_OF, workers=1)
    other = cfg.with_home(tmp_path / "workers")
    with_workers = ingest_plans(other, [(east, files)], as_of=AS_OF, workers=2)
    assert with_workers == in_process
    assert with_workers[0][-1]["status"] == "rejected"


@pytest.mark.slow
def test_kpi_status_reports_the_plan_named_by_the_group_option(cfg, east, west, tmp_path, forks):
    _load_both(cfg, east, west, tmp_path)
    compute_progress_many(cfg, [east, west], AS_OF, now=NOW)
    publish_snapshot(cfg)
    env = {
        **os.environ,
        "KPI_HOME": str(cfg.home),
        "KPI_CATALOGUE_DIR": str(tmp_path / "catalogue"),
        "KPI_PLAN": "east-2023",  # the default; --plan overrides it
    }
    out = {}
    for plan in ("east-2023", "west-2023"):
        done = forks.run(["--plan", plan, "status", "--json"], env)  # a process of its own
        assert done.returncode == 0, done.stderr
        out[plan] = {r["code"]: r for r in json.loads(done.stdout)}
    assert out["east-2023"]["investment_total"]["status"] == "正常"
    assert out["west-2023"]["investment_total"]["status"] == "严重滞后"
    assert {r["plan_code"] for r in out["west-2023"].values()} == {"west-2023"}


def test_each_plan_reads_only_its_own_inbox_folder(cfg, east, west, tmp_path):
    from dataclasses import replace

    from kpi.ingest import ingest_inbox

    cfg = replace(cfg, plan=east.plan.code)  # east is the default plan: it owns the top level
    _investment(cfg.inbox, "发改委_默认.csv", 120)
    _investment(cfg.inbox / east.plan.code, "发改委_东.csv", 121)
    _investment(cfg.inbox / west.plan.code, "发改委_西.csv", 60)

    west_receipts = ingest_inbox(cfg, west, as_of=AS_OF)
    assert [r["file"] for r in west_receipts] == ["发改委_西.csv"]
    assert (cfg.inbox / "发改委_默认.csv").exists()  # left for the default plan

    east_receipts = ingest_inbox(cfg, east, as_of=AS_OF)
    assert sorted(r["file"] for r in east_receipts) == ["发改委_东.csv", "发改委_默认.csv"]
    assert not any(p.is_file() for p in cfg.inbox.rglob("*"))
