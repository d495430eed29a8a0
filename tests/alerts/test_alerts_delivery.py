"""deliver against real loopback servers: a WeCom webhook stand-in and an aiosmtpd SMTP server."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta

import apprise
import pytest
from alerts_support import FakeWeCom, LoopbackSMTP, SmtpSink, bound_socket, many_targets

from kpi.alerts import deliver, failed_state, raise_alerts, render
from kpi.alerts.plugins import CURRENT, RateLimiter, SendContext
from kpi.alerts.render import MARKDOWN_MAX_BYTES, nbytes
from kpi.warehouse import connect

pytestmark = pytest.mark.slow

AS_OF = date(2023, 7, 15)
WECOM_KEY = "wecom-KEY-5ecret-0001"


@pytest.fixture(autouse=True)
def wecom_key(monkeypatch):
    monkeypatch.setenv("KPI_WECOM_KEY", WECOM_KEY)


def at(cfg, hh=10, mm=0, day=15) -> datetime:
    return datetime(2023, 7, day, hh, mm, tzinfo=cfg.tz)


def robot(port: int, tags: str, **tokens) -> tuple[str, dict]:
    url = f"kpiwecom://127.0.0.1:{port}/{{{{KPI_WECOM_KEY}}}}"
    return url, {"tag": tags, "tls": "no", "timeout": 1.0, **tokens}


def mailbox(smtp, to: str, tags: str) -> tuple[str, dict]:
    url = (
        f"mailto://kpi:{{{{KPI_SMTP_PASSWORD}}}}@127.0.0.1:{smtp.port}"
        f"?from=kpi@example.cn&to={to}&cto=2"
    )
    return url, {"tag": tags}


def lagging(cfg, catalogue, put_progress, now=None):
    put_progress(catalogue, AS_OF, {"investment_total": "严重滞后", "finance_hall_open": "滞后"})
    return raise_alerts(cfg, catalogue, AS_OF, now or at(cfg))


def attempts(cfg) -> list[tuple]:
    with connect(cfg) as con:
        return con.execute(
            "select delivery_key, attempt_no, outcome, http_status, errcode, detail"
            " from alerts.attempts order by attempted_at, delivery_key, attempt_no"
        ).fetchall()


def test_alerts_reach_wecom_and_smtp_with_chinese_intact_and_a_second_run_sends_nothing(
    cfg, tiny_catalogue, put_progress, read_outbox, wecom, smtp, with_apprise
):
    cfg = with_apprise(
        [robot(wecom.port, "dept-fgw, dcj"), mailbox(smtp, "leaders@example.cn", "leaders")]
    )
    lagging(cfg, tiny_catalogue, put_progress)
    first = deliver(cfg, at(cfg))
    assert first["failed"] == 0 and first["sent"] == 3 and first["error"] is None

    kinds = [b["msgtype"] for b in wecom.accepted]
    assert kinds == ["markdown", "markdown"]
    dept = wecom.accepted[0]["markdown"]["content"]
    assert dept.startswith("### 【目标预警】发改委：2 项进度滞后")
    assert '**1. 完成投资** <font color="warning">严重滞后</font>' in dept
    assert "完成率 30%，序时进度 50%，落后序时进度 20 个百分点" in dept
    assert wecom.keys == [WECOM_KEY, WECOM_KEY]

    (mail,) = smtp.messages
    digest = next(r for r in read_outbox() if r["route"] == "leaders")
    assert str(mail["Subject"]) == digest["title"]
    assert mail["Subject"].startswith("【目标监测日报】2023-07-15：严重滞后 1 项、滞后 1 项")
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "1. 完成投资（发改委）严重滞后：完成 68.22亿元 / 目标 227.4亿元" in plain
    assert "<table" in html and "金融会客厅投入使用" in html

    again = deliver(cfg, at(cfg, 10, 30))
    assert again["sent"] == 0 and again["failed"] == 0
    assert len(wecom.requests) == 2 and len(smtp.messages) == 1
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 11))
    assert deliver(cfg, at(cfg, 11, 5))["sent"] == 0
    assert len(wecom.requests) == 2 and len(smtp.messages) == 1


def test_a_60_target_digest_reaches_wecom_in_numbered_parts_within_4096_bytes(
    cfg, make_catalogue, put_progress, wecom, with_apprise
):
    catalogue = make_catalogue(many_targets(60))
    put_progress(catalogue, AS_OF, {t.code: "严重滞后" for t in catalogue.targets})
    raise_alerts(cfg, catalogue, AS_OF, at(cfg))
    cfg = with_apprise([robot(wecom.port, "leaders")])  # the rest goes to local sinks
    result = deliver(cfg, at(cfg))
    assert result["failed"] == 0
    parts = [b["markdown"]["content"] for b in wecom.accepted]
    n = len(parts)
    assert n >= 3
    assert all(nbytes(p) <= MARKDOWN_MAX_BYTES for p in parts)
    assert [re.search(r"（(\d+)/(\d+)）", p.splitlines()[0]).groups() for p in parts] == [
        (str(k), str(n)) for k in range(1, n + 1)
    ]
    names = [m for p in parts for m in re.findall(r"第(\d+)号重点项目", p)]
    assert sorted(int(x) for x in names) == list(range(1, 61))


SCENARIOS = {
    "errcode 45009": (["errcode", 45009], "errcode"),
    "errcode 93000": (["errcode", 93000], "errcode"),
    "HTTP 500": (["http", 500], "http_error"),
    "refused connection": (None, "refused"),
    "hung server": (["hang", 1.5], "timeout"),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_failed_delivery_is_retried_on_a_later_run_and_arrives_exactly_once(
    scenario, cfg, tiny_catalogue, put_progress, with_apprise
):
    action, outcome = SCENARIOS[scenario]
    sock = bound_socket()  # refused until a server listens on it
    port = sock.getsockname()[1]
    server = None if action is None else FakeWeCom(sock)
    try:
        if server:
            server.script.append(tuple(action))
        cfg = with_apprise([robot(port, "dept-fgw")])
        lagging(cfg, tiny_catalogue, put_progress)

        first = deliver(cfg, at(cfg))
        assert first["failed"] == 1 and first["error"] is None
        ((key, no, got, http, errcode, detail),) = [a for a in attempts(cfg) if "kpiwecom" in a[0]]
        assert (no, got) == (1, outcome)
        if scenario.startswith("errcode"):
            assert errcode == action[1] and http == 200 and str(action[1]) in detail
        if scenario == "HTTP 500":
            assert http == 500

        early = deliver(cfg, at(cfg, 10, 1))  # before the backoff has passed
        assert early["deferred"] == 1 and early["sent"] == 0

        if server is None:  # the robot comes back
            server = FakeWeCom(sock)
        later = deliver(cfg, at(cfg, 10, 6))
        assert later["sent"] == 1 and later["failed"] == 0
        assert deliver(cfg, at(cfg, 10, 30))["sent"] == 0

        assert len(server.accepted) == 1
        assert server.accepted[0]["markdown"]["content"].startswith("### 【目标预警】发改委")
        mine = [a for a in attempts(cfg) if a[0] == key]
        assert [a[2] for a in mine] == [outcome, "sent"]
    finally:
        if server:
            server.close()


def test_reminders_mention_people_in_a_text_message_after_the_markdown(
    cfg, tiny_catalogue, put_progress, wecom, with_apprise
):
    cfg = with_apprise([robot(wecom.port, "dept-fgw", mention="zhangsan,lisi")])
    lagging(cfg, tiny_catalogue, put_progress, now=at(cfg, 2))
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2, day=16))  # day 1: not acknowledged
    deliver(cfg, at(cfg, 8, 30, day=16))
    bodies = wecom.accepted
    text = [b for b in bodies if b["msgtype"] == "text"]
    assert len(text) == 1
    assert text[0]["text"]["mentioned_list"] == ["zhangsan", "lisi"]
    assert text[0]["text"]["content"].startswith("【请确认】发改委：2 项预警超过 1 天未确认")
    reminder_md = [b for b in bodies if "【请确认】" in b.get("markdown", {}).get("content", "")]
    assert bodies.index(reminder_md[0]) == bodies.index(text[0]) - 1


def test_messages_of_the_night_run_wait_for_the_morning(
    cfg, tiny_catalogue, put_progress, wecom, with_apprise
):
    cfg = with_apprise([robot(wecom.port, "dept-fgw")])
    lagging(cfg, tiny_catalogue, put_progress, now=at(cfg, 2))
    night = deliver(cfg, at(cfg, 2, 5))
    assert night["sent"] == 0 and night["held"] == 2  # the department alert, the digest
    assert wecom.requests == []
    assert deliver(cfg, at(cfg, 8, 0))["sent"] == 5  # 1 to the robot, 4 to local sinks
    assert len(wecom.accepted) == 1


def test_the_injected_rate_limiter_paces_sends_to_one_robot(
    cfg, make_catalogue, put_progress, wecom, with_apprise
):
    catalogue = make_catalogue(many_targets(60))
    put_progress(catalogue, AS_OF, {t.code: "严重滞后" for t in catalogue.targets})
    raise_alerts(cfg, catalogue, AS_OF, at(cfg))
    cfg = with_apprise([robot(wecom.port, "leaders, dcj")])
    clock, waits = [0.0], []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(limit=3, window=60, clock=lambda: clock[0], sleep=sleep)
    result = deliver(cfg, at(cfg), limiter=limiter)
    # The digest's parts, once each although both of the robot's tags lead to the digest.
    parts = [b["markdown"]["content"] for b in wecom.accepted]
    assert result["failed"] == 0 and len(parts) >= 5 and len(set(parts)) == len(parts)
    assert len(waits) == (len(wecom.accepted) - 1) // 3
    assert all(w == 60 for w in waits)


def test_a_body_over_the_byte_limit_is_refused_before_it_reaches_wecom(wecom):
    service = apprise.Apprise.instantiate(f"kpiwecom://127.0.0.1:{wecom.port}/KEY?tls=no")
    ctx = SendContext()
    token = CURRENT.set(ctx)
    try:
        one = apprise.Apprise()
        one.add(service)
        assert not one.notify("字" * 1400)  # 4200 bytes
    finally:
        CURRENT.reset(token)
    assert ctx.outcome["outcome"] == "too_long" and ctx.outcome["errcode"] == 40058
    assert wecom.requests == []


def test_without_configuration_messages_land_in_readable_local_files(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    lagging(cfg, tiny_catalogue, put_progress)
    assert deliver(cfg, at(cfg))["sent"] == 6
    dept = next(r for r in read_outbox() if r["route"] == "dept-fgw")
    md = (cfg.sinks / "wecom" / "dept-fgw" / f"{dept['message_id']}.md").read_text("utf-8")
    assert md.startswith("### 【目标预警】发改委") and "完成投资" in md
    html = (cfg.sinks / "email" / "leaders").glob("*.html")
    assert "【目标监测日报】" in next(html).read_text("utf-8")
    before = sorted(p.name for p in cfg.sinks.rglob("*") if p.is_file())
    assert deliver(cfg, at(cfg, 11))["sent"] == 0
    assert sorted(p.name for p in cfg.sinks.rglob("*") if p.is_file()) == before


def _warehouse_text(cfg) -> str:
    """Every text value of every table in the warehouse, concatenated."""
    out = []
    with connect(cfg) as con:
        cols = con.execute(
            "select c.table_schema, c.table_name, c.column_name from information_schema.columns c"
            " join information_schema.tables t using (table_schema, table_name)"
            " where t.table_type = 'BASE TABLE'"
            " and (c.data_type like 'VARCHAR%' or c.data_type = 'JSON')"
        ).fetchall()
        assert len(cols) > 20
        for schema, table, column in cols:
            rows = con.execute(
                f'select cast("{column}" as varchar) from "{schema}"."{table}"'
            ).fetchall()
            out += [r[0] for r in rows if r[0] is not None]
    return "\n".join(out)


def test_no_secret_appears_in_logs_the_warehouse_or_any_message(
    cfg, tiny_catalogue, put_progress, wecom, smtp, with_apprise, caplog
):
    caplog.set_level(logging.DEBUG)
    cfg = with_apprise(
        [robot(wecom.port, "dept-fgw, dcj"), mailbox(smtp, "leaders@example.cn", "leaders")]
    )
    wecom.script.extend([("errcode", 93000), ("http", 500)])
    lagging(cfg, tiny_catalogue, put_progress)
    deliver(cfg, at(cfg))
    deliver(cfg, at(cfg, 10, 10))
    deliver(cfg, at(cfg, 10, 30))
    assert len(wecom.accepted) == 2 and len(smtp.messages) == 1
    assert WECOM_KEY in wecom.keys  # it was used, in the request URL only

    secrets = [WECOM_KEY, smtp.password, "5ecret", "Pa55"]
    places = {
        "logs": caplog.text,
        "warehouse": _warehouse_text(cfg),
        "wecom messages": repr(wecom.requests),
        "emails": "".join(m.as_string() for m in smtp.messages),
    }
    assert "errcode 93000" in places["warehouse"]  # failures were recorded, masked
    for where, text in places.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} found in {where}"
    assert "kpiwecom://127.0.0.1" in places["warehouse"]  # channels are named by host


def test_a_missing_secret_fails_only_its_own_channel_and_is_sent_once_it_is_set(
    cfg, tiny_catalogue, put_progress, wecom, with_apprise, monkeypatch
):
    monkeypatch.delenv("KPI_WECOM_KEY_FGW", raising=False)
    fgw = f"kpiwecom://127.0.0.1:{wecom.port}/{{{{KPI_WECOM_KEY_FGW}}}}"
    cfg = with_apprise(
        [
            (fgw, {"tag": "dept-fgw", "tls": "no", "timeout": 0.5}),
            robot(wecom.port, "leaders, dcj"),
        ]
    )
    lagging(cfg, tiny_catalogue, put_progress)
    result = deliver(cfg, at(cfg))
    assert result["error"] is None and result["by_outcome"] == {"sent": 1, "config": 1}
    ((channel, error),) = result["channel_errors"].items()
    assert "KPI_WECOM_KEY_FGW" in error and "127.0.0.1" in channel
    assert [b["markdown"]["content"][:11] for b in wecom.accepted] == ["### 【目标监测日报"]
    assert "KPI_WECOM_KEY_FGW" in failed_state(result)
    with connect(cfg) as con:
        ((state, outcome, last_error),) = con.execute(
            "select state, last_outcome, last_error from alerts.deliveries where tag = 'dept-fgw'"
        ).fetchall()
    assert (state, outcome) == ("pending", "config") and "KPI_WECOM_KEY_FGW" in last_error

    monkeypatch.setenv("KPI_WECOM_KEY_FGW", "fgw-key-now-set-0001")
    later = deliver(cfg, at(cfg, 10, 10))
    assert later["sent"] == 1 and later["channel_errors"] == {}
    assert wecom.keys[-1] == "fgw-key-now-set-0001"
    assert wecom.accepted[-1]["markdown"]["content"].startswith("### 【目标预警】发改委")


def test_the_next_day_brings_a_new_digest_but_no_repeat_of_department_alerts(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    lagging(cfg, tiny_catalogue, put_progress)
    deliver(cfg, at(cfg))
    tomorrow = AS_OF + timedelta(days=1)
    put_progress(
        tiny_catalogue, tomorrow, {"investment_total": "严重滞后", "finance_hall_open": "滞后"}
    )
    raise_alerts(cfg, tiny_catalogue, tomorrow, at(cfg, 10, day=16))
    new = [r for r in read_outbox() if r["created_at"].date() == date(2023, 7, 16)]
    assert sorted(r["kind"] for r in new) == ["ack_reminder", "digest"]


def test_an_email_that_could_not_be_sent_is_retried_and_arrives_once(
    cfg, tiny_catalogue, put_progress, with_apprise, monkeypatch
):
    monkeypatch.setenv("KPI_SMTP_PASSWORD", "pw-for-loopback")
    sock = bound_socket()  # refused until the SMTP server starts on it
    port = sock.getsockname()[1]
    url = f"mailto://127.0.0.1:{port}?from=kpi@example.cn&to=fgw@example.cn&cto=1"
    cfg = with_apprise([(url, {"tag": "dept-fgw"})])
    lagging(cfg, tiny_catalogue, put_progress)
    first = deliver(cfg, at(cfg))
    assert first["by_outcome"].get("error") == 1 or first["by_outcome"].get("refused") == 1
    sink = SmtpSink()
    controller = LoopbackSMTP(sink, sock=sock)
    controller.start()
    try:
        assert deliver(cfg, at(cfg, 10, 6))["sent"] == 1
        assert deliver(cfg, at(cfg, 10, 30))["sent"] == 0
    finally:
        controller.stop()
    (mail,) = sink.messages
    assert str(mail["Subject"]).startswith("【目标预警】发改委")


def test_a_robot_without_people_to_mention_gets_no_second_plain_copy(
    cfg, tiny_catalogue, put_progress, wecom, with_apprise
):
    cfg = with_apprise([robot(wecom.port, "dept-fgw")])  # no mention tokens
    lagging(cfg, tiny_catalogue, put_progress, now=at(cfg, 2))
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg, 2, day=16))  # day 1: not acknowledged
    deliver(cfg, at(cfg, 8, 30, day=16))
    assert [b["msgtype"] for b in wecom.accepted] == ["markdown", "markdown"]
    assert "【请确认】" in wecom.accepted[1]["markdown"]["content"]


def test_a_link_in_a_submitted_cell_and_file_name_reaches_the_group_as_plain_text(
    cfg, tiny_catalogue, wecom, with_apprise, tmp_path
):
    import csv

    from kpi.ingest import ingest_files

    name = "[点我](tel：110)发改委_2023年6月.csv"
    path = tmp_path / name
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["填报单位", "报告期", "指标代码", "指标名称", "计量单位", "数值"])
        w.writerow(["发改委", "2023-06", "investment_total", "", "亿元", "[点我](http://evil)"])
        w.writerow(["人社局", "2023-06", "urban_jobs", "", "人", "长" * 5000])
    (receipt,) = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert {r["value"][:4] for r in receipt["rejected"]} >= {"[点我]", "长长长长"}
    raise_alerts(cfg, tiny_catalogue, AS_OF, at(cfg))
    cfg = with_apprise([robot(wecom.port, "dept-fgw")])
    deliver(cfg, at(cfg))
    (posted,) = [
        b["markdown"]["content"] for b in wecom.accepted if "报送回执" in b["markdown"]["content"]
    ]
    # the one link is the department's own, on the last line; the rest is text
    posted, _, own = posted.rpartition("\n\n")
    assert own.startswith(f"{render.LINK_INTRO}[{render.LINK_TEXT}](http://127.0.0.1:8700/?token=")
    assert "](" not in posted and "http://" not in posted and "[点我]" not in posted
    assert "［点我］" in posted  # still readable, as text
    assert "长" * 200 not in posted and render.nbytes(posted) < 2000  # one short message
