"""raise_alerts on a real warehouse: episodes, no noise, receipts, submission notices, 13710."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from kpi.alerts import ack, close, feedback, raise_alerts
from kpi.warehouse import connect

AS_OF = date(2023, 7, 15)


def at(cfg, y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=cfg.tz)


def kinds(rows: list[dict]) -> list[tuple[str, str]]:
    """(kind, every tag it goes to) of each outbox row."""
    return sorted((r["kind"], ", ".join(r["routes"] or [r["route"]])) for r in rows)


def episodes(cfg) -> list[dict]:
    with connect(cfg) as con:
        cur = con.execute("select * from alerts.episodes order by episode_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_lagging_targets_open_episodes_and_queue_one_message_per_department_and_a_digest(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    put_progress(
        tiny_catalogue,
        AS_OF,
        {"investment_total": "严重滞后", "finance_hall_open": "滞后", "urban_jobs": "预警"},
    )
    result = raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 15))
    assert result["opened"] == 3
    rows = read_outbox()
    assert kinds(rows) == [
        ("dept_alert", "dept-fgw"),
        ("dept_alert", "dept-rsj"),
        ("digest", "leaders, dcj"),  # one message: a robot serving both tags gets it once
    ]
    fgw = next(r for r in rows if r["route"] == "dept-fgw")
    assert "完成投资" in fgw["md_parts"][0] and "金融会客厅投入使用" in fgw["md_parts"][0]
    digest = next(r for r in rows if r["route"] == "leaders")["md_parts"][0]
    assert digest.index("严重滞后") < digest.index("完成投资") < digest.index("新增城镇就业")


def test_a_second_run_on_the_same_data_queues_nothing(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    put_progress(tiny_catalogue, AS_OF, {"investment_total": "滞后"})
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 15))
    before = len(read_outbox())
    again = raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 15, 11))
    assert again["messages"] == 0 and again["opened"] == 0
    assert len(read_outbox()) == before


def test_a_second_run_on_the_same_data_rewrites_no_episode(
    cfg, tiny_catalogue, put_progress, monkeypatch
):
    from kpi.alerts import raising

    put_progress(tiny_catalogue, AS_OF, {"investment_total": "滞后", "urban_jobs": "预警"})
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 15))
    stored = episodes(cfg)
    written = []
    real = raising._update_episode
    monkeypatch.setattr(
        raising, "_update_episode", lambda con, i, ch: written.append(ch) or real(con, i, ch)
    )
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 15, 11))
    assert written == [] and episodes(cfg) == stored
    put_progress(tiny_catalogue, AS_OF, {"investment_total": "严重滞后", "urban_jobs": "预警"})
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 15, 12))
    assert len(written) == 1  # only the target whose status changed
    assert {e["target_code"]: e["status"] for e in episodes(cfg)}["investment_total"] == "严重滞后"


def test_an_on_pace_plan_raises_nothing(cfg, tiny_catalogue, put_progress, read_outbox):
    put_progress(tiny_catalogue, AS_OF)
    assert raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 15))["messages"] == 0
    assert read_outbox() == []


def test_worsening_resends_improving_does_not_and_recovery_closes_with_a_notice(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    days = [AS_OF + timedelta(days=i) for i in range(5)]
    plan = ["预警", "严重滞后", "滞后", "严重滞后", "正常"]
    sent = []
    for day, status in zip(days, plan, strict=True):
        put_progress(tiny_catalogue, day, {"investment_total": status})
        before = {r["message_id"] for r in read_outbox()}
        raise_alerts(cfg, tiny_catalogue, day, at(cfg, day.year, day.month, day.day))
        new = [r for r in read_outbox() if r["message_id"] not in before]
        sent.append([r["title"] for r in new if r["kind"] == "dept_alert"])
    assert len(sent[0]) == 1 and "进度滞后" in sent[0][0]  # opened
    assert len(sent[1]) == 1  # worse than anything announced
    assert sent[2] == [] and sent[3] == []  # better, then back to what was announced
    assert sent[4] == ["【恢复通知】发改委：1 项已恢复"]
    (ep,) = episodes(cfg)
    assert ep["state"] == "closed" and ep["close_reason"] == "recovered"
    assert ep["worst_status"] == "严重滞后"


def test_an_unchanged_alert_is_repeated_after_the_configured_days(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    cfg = replace(cfg, alert_repeat_days=2)
    put_progress(tiny_catalogue, AS_OF, {"urban_jobs": "滞后"})
    for d in range(4):
        ack_day = AS_OF + timedelta(days=d)
        raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, ack_day.year, ack_day.month, ack_day.day))
        if d == 0:
            ack(cfg, 1, "收到", at(cfg, 2023, 7, 15, 11))
            feedback(cfg, 1, "已部署", at(cfg, 2023, 7, 15, 12))
    titles = [
        (r["created_at"].date(), r["kind"]) for r in read_outbox() if r["route"] == "dept-rsj"
    ]
    assert [t for t in titles if t[1] == "dept_alert"] == [
        (date(2023, 7, 15), "dept_alert"),
        (date(2023, 7, 17), "dept_alert"),
    ]


def test_a_hand_closed_alert_stays_closed_until_it_gets_worse(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    put_progress(tiny_catalogue, AS_OF, {"urban_jobs": "滞后"})
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 15))
    close(cfg, 1, at(cfg, 2023, 7, 15, 12), note="已报批计划")
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 16))
    assert [e["state"] for e in episodes(cfg)] == ["closed"]
    day = AS_OF + timedelta(days=2)
    put_progress(tiny_catalogue, day, {"urban_jobs": "严重滞后"})
    raise_alerts(cfg, tiny_catalogue, day, at(cfg, 2023, 7, 17))
    assert [(e["state"], e["status"]) for e in episodes(cfg)] == [
        ("closed", "滞后"),
        ("open", "严重滞后"),
    ]


def _submission(cfg, sub_id: str, status: str, rejected: list[dict], dept: str = "rsj") -> None:
    receipt = {
        "file": f"{sub_id}.xlsx",
        "submission_id": sub_id,
        "department": dept,
        "status": status,
        "accepted": 3,
        "rejected": rejected,
        "warnings": [],
        "revisions": 0,
        "reason": None,
    }
    with connect(cfg) as con:
        con.execute(
            "insert into raw.submissions (submission_id, plan_code, department_code, file_name,"
            " archive_path, size_bytes, received_at, ingested_at, status, n_rows, n_accepted,"
            " n_rejected, receipt) values (?, 'tiny-2023', ?, ?, 'a', 1, ?, ?, ?, ?, 3, ?, ?)",
            [
                sub_id,
                dept,
                f"人社局6月报表{sub_id}.xlsx",
                datetime(2023, 7, 14),
                datetime(2023, 7, 14),
                status,
                3 + len(rejected),
                len(rejected),
                json.dumps(receipt, ensure_ascii=False),
            ],
        )


def test_a_submission_with_rejected_rows_gets_one_receipt_naming_row_column_and_reason(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    put_progress(tiny_catalogue, AS_OF)
    bad = [
        {"sheet": "填报", "row": 5, "column": "数值", "value": "约8千", "reason": "数值不是数字"},
        {"sheet": "填报", "row": 7, "column": "报告期", "value": "", "reason": "报告期为空"},
    ]
    _submission(cfg, "s1", "partial", bad)
    _submission(cfg, "s2", "accepted", [])
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 15))
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 15, 11))
    receipts = [r for r in read_outbox() if r["kind"] == "receipt"]
    assert len(receipts) == 1
    (r,) = receipts
    assert r["route"] == "dept-rsj"
    md = r["md_parts"][0]
    assert "人社局6月报表s1.xlsx" in md and "共 5 行，入库 3 行，未入库 2 行" in md
    assert "填报 第 5 行「数值」：数值不是数字（填报值：约8千）" in md
    assert "第 7 行「报告期」：报告期为空" in md


def test_a_reminder_goes_out_before_the_due_day_once_and_not_for_what_is_already_in(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    day = date(2023, 7, 8)  # June figures are due on 10 July (gdp: quarterly, on the 20th)
    in_may = {t.code: {"latest_period": "2023-05"} for t in tiny_catalogue.targets}
    in_may["investment_total"] = {"latest_period": "2023-06"}  # June already submitted
    put_progress(tiny_catalogue, day, {}, **in_may)
    raise_alerts(cfg, tiny_catalogue, day, at(cfg, 2023, 7, 8))
    raise_alerts(cfg, tiny_catalogue, day, at(cfg, 2023, 7, 8, 15))
    reminders = {r["route"]: r for r in read_outbox() if r["kind"] == "due_reminder"}
    assert set(reminders) == {"dept-fgw", "dept-rsj", "dept-kjj", "dept-scjgj"}
    fgw = reminders["dept-fgw"]["md_parts"][0]
    assert "2023-06 数据请于 07月10日 前报送" in fgw
    assert "金融会客厅投入使用" in fgw and "完成投资" not in fgw


def test_an_overdue_submission_gets_one_notice_per_department_and_period(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    put_progress(
        tiny_catalogue,
        AS_OF,
        {"urban_jobs": "无数据", "unemployment_rate": "无数据"},
        urban_jobs={"data_status": "缺报", "latest_period": "2023-05"},
        unemployment_rate={"data_status": "缺报", "latest_period": "2023-05"},
    )
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 15))
    raise_alerts(cfg, tiny_catalogue, AS_OF + timedelta(days=1), at(cfg, 2023, 7, 16))
    notices = [r for r in read_outbox() if r["kind"] == "overdue_notice"]
    assert len(notices) == 1
    assert notices[0]["title"] == "【逾期未报】人社局：2023-06 数据已逾期 5 天"
    assert episodes(cfg) == []  # a data problem, not a performance alert
    digest = next(r for r in read_outbox() if r["kind"] == "digest")
    assert "缺报" in digest["md_parts"][0]


def test_messages_produced_at_night_are_held_until_the_morning(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    put_progress(tiny_catalogue, AS_OF, {"urban_jobs": "滞后"})
    result = raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 15, 2))
    assert result["held_until"] == "2023-07-15T08:00:00"
    assert {r["not_before"] for r in read_outbox()} == {datetime(2023, 7, 15, 8, 0)}


def test_episode_changes_and_outbox_rows_commit_together_or_not_at_all(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    put_progress(tiny_catalogue, AS_OF, {"urban_jobs": "滞后"})
    with connect(cfg) as con:  # a row in the way of the next message id makes the insert fail
        con.execute(
            "insert into alerts.outbox (message_id, plan_code, dedupe_key, kind, route, title,"
            " md_parts, text_parts, html, mention, episode_ids, created_at, not_before)"
            " values (1, 'x', 'x', 'x', 'x', 'x', [], [], '', false, [], now(), now())"
        )
    with pytest.raises(Exception, match="(?i)constraint|duplicate"):
        raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 15))
    assert episodes(cfg) == []
    assert [r["plan_code"] for r in read_outbox()] == ["x"]


def test_13710_reminds_on_day_1_escalates_on_day_3_and_again_on_day_7_or_30_if_major(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    cfg = replace(cfg, alert_repeat_days=0)
    # gdp_growth is a headline target (major: one month); urban_jobs is ordinary (one week).
    put_progress(tiny_catalogue, AS_OF, {"gdp_growth": "滞后", "urban_jobs": "滞后"})
    start = date(2023, 7, 3)
    for d in range(32):  # the nightly run at 02:00 on each of 32 days
        day = start + timedelta(days=d)
        raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, day.year, day.month, day.day, 2))
    seen: dict[int, list[tuple]] = {d: [] for d in range(32)}
    for r in read_outbox():
        if r["kind"] in ("ack_reminder", "escalation"):
            d = r["created_at"].date() - start  # stored as district local time
            seen[d.days].append((r["kind"], ", ".join(r["routes"]), tuple(r["episode_ids"])))
    seen = {d: sorted(v) for d, v in seen.items()}
    gdp, jobs = 1, 2
    assert seen[1] == [
        ("ack_reminder", "dept-rsj", (jobs,)),
        ("ack_reminder", "dept-tjj", (gdp,)),
    ]
    assert seen[3] == [("escalation", "dcj", (gdp, jobs))]
    assert seen[7] == [("escalation", "dcj, leaders", (jobs,))]
    assert seen[30] == [("escalation", "dcj, leaders", (gdp,))]
    quiet = {0, 2, 4, 5, 6, *range(8, 30), 31}
    assert all(seen[d] == [] for d in quiet)
    reminder = next(r for r in read_outbox() if r["kind"] == "ack_reminder")
    assert reminder["mention"] and "超过 1 天未确认" in reminder["text_parts"][0]
    assert all(e["state"] == "open" for e in episodes(cfg))  # nothing expires on its own


def test_acknowledged_and_answered_alerts_are_not_reminded_or_escalated(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    put_progress(tiny_catalogue, AS_OF, {"urban_jobs": "滞后"})
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 3, 2))
    ack(cfg, 1, "已收到", at(cfg, 2023, 7, 3, 9))
    feedback(cfg, 1, "已制定整改方案", at(cfg, 2023, 7, 5, 9))
    for d in range(1, 7):
        raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 3 + d, 2))
    assert not [r for r in read_outbox() if r["kind"] in ("ack_reminder", "escalation")]
    close(cfg, 1, at(cfg, 2023, 7, 9, 9), note="已销号")
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2023, 7, 10, 2))
    assert not [r for r in read_outbox() if r["kind"] == "escalation"]
    with connect(cfg) as con:
        events = [
            r[0] for r in con.execute("select kind from alerts.events order by event_id").fetchall()
        ]
    assert events == ["opened", "acked", "feedback", "closed"]


def test_targets_due_on_different_days_share_one_overdue_notice_per_department_and_period(
    cfg, make_catalogue, put_progress, read_outbox
):
    from alerts_support import SHARED

    jobs, rate = SHARED.TINY_TARGETS[2], dict(SHARED.TINY_TARGETS[3], due_day=15)
    catalogue = make_catalogue([jobs, rate])
    missing = {"data_status": "缺报", "latest_period": "2023-05"}
    put_progress(
        catalogue,
        AS_OF + timedelta(days=3),
        {"urban_jobs": "无数据", "unemployment_rate": "无数据"},
        urban_jobs=missing,
        unemployment_rate=missing,
    )
    raise_alerts(cfg, catalogue, AS_OF + timedelta(days=3), at(cfg, 2023, 7, 18))
    (notice,) = [r for r in read_outbox() if r["kind"] == "overdue_notice"]
    assert "新增城镇就业" in notice["md_parts"][0] and "失业率" in notice["md_parts"][0]
    assert notice["title"].endswith("已逾期 8 天")  # from the earlier due day, 10 July
    digest = next(r for r in read_outbox() if r["kind"] == "digest")["md_parts"][0]
    assert digest.count("人社局 2023-06") == 1


def test_alerts_link_to_the_nights_report_by_path_or_under_the_configured_base_url(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    put_progress(tiny_catalogue, AS_OF, {"investment_total": "滞后"})
    # An empty base URL (the default is the desk's address) links to the file path.
    raise_alerts(replace(cfg, report_base_url=""), tiny_catalogue, AS_OF, at(cfg, 2023, 7, 15))
    (digest,) = [r["md_parts"][-1] for r in read_outbox() if r["kind"] == "digest"]
    assert str(cfg.reports) in digest and "2023-07-15_progress.html" in digest

    shared = replace(cfg, report_base_url="https://reports.example.gov.cn/kpi/")
    put_progress(tiny_catalogue, date(2023, 8, 15), {"investment_total": "严重滞后"})
    raise_alerts(shared, tiny_catalogue, date(2023, 8, 15), at(cfg, 2023, 8, 15))
    later = [
        r
        for r in read_outbox()
        if r["as_of"] == date(2023, 8, 15) and r["kind"] in ("dept_alert", "digest")
    ]
    report = "https://reports.example.gov.cn/kpi/tiny-2023_2023-08-15_progress.html"
    assert {r["kind"] for r in later} == {"dept_alert", "digest"}
    for r in later:
        # The report holds every department (a department's link gets 403 there): a department's
        # alert names no report; deliver ends it with the department's own link instead.
        shown = r["md_parts"][-1] + r["html"]
        assert (report in shown) == (r["kind"] == "digest"), r["kind"]
        assert "进展报告" not in shown or r["kind"] == "digest"
