"""A department's messages end with its personal link, minted at delivery and never stored."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import date, datetime

import pytest
from alerts_support import SHARED, FakeWeCom, bound_socket

from kpi.alerts import deliver, raise_alerts, render
from kpi.alerts.channels import MASKER
from kpi.alerts.raising import DEPARTMENT_MARKDOWN_BUDGET
from kpi.alerts.render import MARKDOWN_MAX_BYTES, nbytes
from kpi.desk import links, tokens
from kpi.warehouse import connect

pytestmark = pytest.mark.slow

AS_OF = date(2023, 7, 15)
TOKEN = re.compile(r"kd1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@pytest.fixture(autouse=True)
def wecom_key(monkeypatch):
    monkeypatch.setenv("KPI_WECOM_KEY", "wecom-KEY-0001")


def at(cfg, hh=10, mm=0) -> datetime:
    return datetime(2023, 7, 15, hh, mm, tzinfo=cfg.tz)


def robot(port: int, tags: str) -> tuple[str, dict]:
    return f"kpiwecom://127.0.0.1:{port}/{{{{KPI_WECOM_KEY}}}}", {
        "tag": tags,
        "tls": "no",
        "timeout": 1.0,
    }


def mailbox(smtp, to: str, tags: str) -> tuple[str, dict]:
    url = (
        f"mailto://kpi:{{{{KPI_SMTP_PASSWORD}}}}@127.0.0.1:{smtp.port}"
        f"?from=kpi@example.cn&to={to}&cto=2"
    )
    return url, {"tag": tags}


def lagging(cfg, catalogue, put_progress):
    put_progress(catalogue, AS_OF, {"investment_total": "严重滞后", "finance_hall_open": "滞后"})
    return raise_alerts(cfg, catalogue, AS_OF, at(cfg))


def claims_in(cfg, text: str, plan: str = "tiny-2023") -> tokens.Token:
    """The one desk token in a text, verified as the desk verifies a link."""
    (token,) = set(TOKEN.findall(text))
    return tokens.verify(cfg, token, plan, tokens.Revocations(), now=at(cfg))


def link_rows(cfg) -> list[tuple]:
    with connect(cfg) as con:
        return con.execute(
            "select delivery_key, part, link_token_id, link_issued_at, link_expires_at"
            " from alerts.deliveries where link_token_id is not null order by delivery_key"
        ).fetchall()


def _warehouse_text(cfg) -> str:
    out = []
    with connect(cfg) as con:
        cols = con.execute(
            "select c.table_schema, c.table_name, c.column_name from information_schema.columns c"
            " join information_schema.tables t using (table_schema, table_name)"
            " where t.table_type = 'BASE TABLE'"
            " and (c.data_type like 'VARCHAR%' or c.data_type = 'JSON')"
        ).fetchall()
        for schema, table, column in cols:
            rows = con.execute(
                f'select cast("{column}" as varchar) from "{schema}"."{table}"'
            ).fetchall()
            out += [r[0] for r in rows if r[0] is not None]
    return "\n".join(out)


def test_a_department_gets_its_own_link_in_wecom_and_email_and_leadership_gets_none(
    cfg, tiny_catalogue, put_progress, wecom, smtp, with_apprise, caplog
):
    caplog.set_level(logging.DEBUG)
    cfg = with_apprise(
        [
            robot(wecom.port, "dept-fgw, leaders"),
            mailbox(smtp, "fgw@example.cn", "dept-fgw"),
        ]
    )
    lagging(cfg, tiny_catalogue, put_progress)
    assert deliver(cfg, at(cfg))["failed"] == 0

    dept, digest = (b["markdown"]["content"] for b in wecom.accepted)
    assert dept.startswith("### 【目标预警】发改委") and digest.startswith("### 【目标监测日报】")
    body, _, line = dept.rpartition("\n\n")
    assert line.startswith(f"{render.LINK_INTRO}[{render.LINK_TEXT}](http://127.0.0.1:8700/?token=")
    assert "进展报告" not in body  # a department opens its own page, not the district's report
    claims = claims_in(cfg, line)
    assert (claims.department, claims.plan) == ("fgw", "tiny-2023")
    assert TOKEN.search(digest) is None and "进展报告" in digest

    (mail,) = smtp.messages
    html = mail.get_body(("html",)).get_content()
    plain = mail.get_body(("plain",)).get_content()
    assert re.search(
        r'<a href="http://127\.0\.0\.1:8700/\?token=kd1\.[^"]+">打开本单位页面</a>', html
    )
    assert "http://127.0.0.1:8700/?token=kd1." in plain  # the text alternative shows the URL
    assert claims_in(cfg, html).department == "fgw"
    # one fresh token per message x channel: the robot's and the mailbox's links differ
    assert TOKEN.search(line)[0] != TOKEN.search(html)[0]

    stored = link_rows(cfg)
    assert {r[2] for r in stored} == {claims.id, claims_in(cfg, html).id}
    assert all(r[3] == datetime(2023, 7, 15, 10, 0) for r in stored)
    # the token itself is nowhere but in the messages
    for token in (TOKEN.search(line)[0], TOKEN.search(html)[0]):
        assert token not in _warehouse_text(cfg)
        assert token not in caplog.text
        assert not [p for p in cfg.sinks.rglob("*") if p.is_file() and token in p.read_text()]


def test_the_link_is_in_the_last_part_only_and_no_part_exceeds_wecoms_limit(
    cfg, make_catalogue, put_progress, wecom, with_apprise
):
    targets = [dict(t, department="fgw") for t in _many(60)]
    catalogue = make_catalogue(targets)
    put_progress(catalogue, AS_OF, {t.code: "严重滞后" for t in catalogue.targets})
    raise_alerts(cfg, catalogue, AS_OF, at(cfg))
    cfg = with_apprise([robot(wecom.port, "dept-fgw")])
    wecom.script.append(("hang", 1.5))  # the first part's answer is late: it is sent again
    deliver(cfg, at(cfg))
    assert deliver(cfg, at(cfg, 10, 10))["failed"] == 0

    parts = [b["markdown"]["content"] for b in wecom.accepted]
    assert len(parts) >= 3 and parts[0].split("\n")[1] == render.RESEND_LINE
    assert all(nbytes(p) <= MARKDOWN_MAX_BYTES for p in parts)
    assert [bool(TOKEN.search(p)) for p in parts] == [False] * (len(parts) - 1) + [True]
    names = [m for p in parts for m in re.findall(r"第(\d+)号重点项目", p)]
    assert sorted(int(x) for x in names) == list(range(1, 61))


def test_a_full_last_part_still_fits_with_the_longest_link_and_the_resend_line(cfg):
    base = "https://" + "d" * (links.MAX_BASE_URL_BYTES - 8)  # the longest base URL allowed
    link = links.mint_link(replace(cfg, desk_base_url=base), "hongqi-2023", "scjgj", now=at(cfg))
    assert nbytes(render.with_link("", "markdown", link.url)) <= links.LINK_LINE_BYTES
    doc = render.Doc("标题", [], [], [], ["字" * 400] * 30, [])
    parts = render.to_markdown_parts(doc, DEPARTMENT_MARKDOWN_BUDGET)
    assert len(parts) > 1
    for part in parts:
        full = render.mark_resend(render.with_link(part, "markdown", link.url), "markdown")
        assert nbytes(full) <= MARKDOWN_MAX_BYTES


def test_a_link_longer_than_its_reserve_is_left_out_and_the_message_still_goes(
    cfg, make_catalogue, tiny_targets, put_progress, wecom, with_apprise, caplog
):
    plan = "tiny-" + "x" * 120  # a plan code far longer than any real one
    catalogue = make_catalogue(tiny_targets, plan_code=plan)
    put_progress(catalogue, AS_OF, {"investment_total": "严重滞后"})
    raise_alerts(cfg, catalogue, AS_OF, at(cfg))
    cfg = replace(
        with_apprise([robot(wecom.port, "dept-fgw")]), desk_base_url="https://" + "d" * 180
    )
    assert deliver(cfg, at(cfg))["failed"] == 0
    (dept,) = (b["markdown"]["content"] for b in wecom.accepted)
    assert dept.startswith("### 【目标预警】发改委") and TOKEN.search(dept) is None
    assert "left out" in caplog.text and link_rows(cfg) == []


@pytest.mark.parametrize(
    ("failure", "marked"),
    [(("hang", 1.5), True), (("http", 500), False)],
    ids=["uncertain", "certain"],
)
def test_a_part_sent_again_carries_the_same_link(
    failure, marked, cfg, tiny_catalogue, put_progress, with_apprise
):
    sock = bound_socket()
    server = FakeWeCom(sock)
    try:
        server.script.append(failure)
        cfg = with_apprise([robot(sock.getsockname()[1], "dept-fgw")])
        lagging(cfg, tiny_catalogue, put_progress)
        assert deliver(cfg, at(cfg))["failed"] == 1
        assert deliver(cfg, at(cfg, 10, 10))["sent"] == 1
        assert deliver(cfg, at(cfg, 10, 30))["sent"] == 0
    finally:
        server.close()

    first, second = (r["markdown"]["content"] for r in server.requests)
    assert TOKEN.search(first)[0] == TOKEN.search(second)[0]
    assert second == (render.mark_resend(first, "markdown") if marked else first)
    ((_, _, token_id, _, _),) = link_rows(cfg)
    assert claims_in(cfg, second).id == token_id


def test_local_sinks_show_where_the_link_goes_but_hold_no_token(
    cfg, tiny_catalogue, put_progress, read_outbox
):
    lagging(cfg, tiny_catalogue, put_progress)
    assert deliver(cfg, at(cfg))["failed"] == 0
    dept = next(r for r in read_outbox() if r["route"] == "dept-fgw" and r["kind"] == "dept_alert")
    md = (cfg.sinks / "wecom" / "dept-fgw" / f"{dept['message_id']}.md").read_text("utf-8")
    assert md.rstrip().endswith(
        f"{render.LINK_INTRO}http://127.0.0.1:8700/?token=…{render.LINK_WITHHELD}"
    )
    html = (cfg.sinks / "email" / "dept-fgw" / f"{dept['message_id']}.html").read_text("utf-8")
    assert render.LINK_WITHHELD in html and "<a href" not in html
    files = [p.read_text("utf-8") for p in cfg.sinks.rglob("*") if p.is_file()]
    assert not [t for t in files if "kd1." in t]
    assert link_rows(cfg) == []  # nothing minted: nothing to revoke


def test_without_a_desk_a_department_message_has_no_link(
    cfg, tiny_catalogue, put_progress, wecom, with_apprise
):
    cfg = replace(with_apprise([robot(wecom.port, "dept-fgw")]), desk_base_url="")
    lagging(cfg, tiny_catalogue, put_progress)
    assert deliver(cfg, at(cfg))["failed"] == 0
    (dept,) = (b["markdown"]["content"] for b in wecom.accepted)
    assert render.LINK_INTRO not in dept and TOKEN.search(dept) is None
    assert link_rows(cfg) == []


def test_an_unusable_desk_secret_leaves_the_link_out_but_delivers_the_message(
    cfg, tiny_catalogue, put_progress, wecom, with_apprise, monkeypatch, caplog
):
    monkeypatch.setenv(tokens.SECRET_ENV, "too-short")
    cfg = with_apprise([robot(wecom.port, "dept-fgw")])
    lagging(cfg, tiny_catalogue, put_progress)
    assert deliver(cfg, at(cfg))["failed"] == 0
    (dept,) = (b["markdown"]["content"] for b in wecom.accepted)
    assert dept.startswith("### 【目标预警】发改委") and TOKEN.search(dept) is None
    assert "no department link" in caplog.text and "SecretError" in caplog.text


def test_a_token_in_a_log_line_or_stored_error_is_masked():
    token = "kd1.eyJwIjoidGlueS0yMDIzIn0.e97fno3qUD54fwltXsp3SxKeGNQmfWt-0bVwL9e9Xu4"
    masked = MASKER.mask(f"POST failed for http://desk/?token={token} (x)")
    assert masked == "POST failed for http://desk/?token=kd1.**** (x)"


def _many(n: int) -> list[dict]:
    return [
        SHARED._t(
            f"project_{i:02d}",
            f"第{i}号重点项目年度计划投资完成情况",
            "cumulative",
            ">=",
            10.0 + i,
            "亿元",
            "fgw",
            "完成投资 227.4亿元",
        )
        for i in range(1, n + 1)
    ]
