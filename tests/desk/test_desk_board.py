"""The supervision office's board over HTTP: 13710 steps, 催报, last night, and who may do what."""

from __future__ import annotations

import re

import pytest

from kpi import clock
from kpi.alerts import deliver
from kpi.alerts.workflow import overview
from kpi.warehouse import connect

pytestmark = pytest.mark.slow


def login(client, token: str) -> str:
    """Use a session cookie as a browser would; return the page's CSRF token."""
    client.cookies.clear()
    client.cookies.set("kpi_desk", token)
    page = client.get("/")
    if page.status_code == 303:
        page = client.get(page.headers["location"])
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def open_episodes(seeded) -> dict[int, dict]:
    data = overview(seeded.cfg, seeded.catalogue.plan.code, clock.now(seeded.cfg.tz))
    return {e["id"]: e for e in data["episodes"] if e["state"] == "open"}


def fgw_episode(seeded) -> int:
    return min(i for i, e in open_episodes(seeded).items() if e["department"] == "fgw")


def test_the_board_shows_alerts_by_age_missing_departments_and_last_night(client, seeded):
    login(client, seeded.token(role="dcj"))
    page = client.get("/board")
    assert page.status_code == 200
    html = page.text
    assert "完成投资" in html and "待确认" in html  # an open alert at its first 13710 step
    missing = html.split('id="missing"')[1].split("</section>")[0]
    assert "发改委" in missing and "2023-06" in missing and "已逾期 6 天" in missing
    assert "科技局" in missing and "人社局" not in missing
    run = html.split('id="run"')[1].split("</section>")[0]
    assert "市场监管局_2023年6月.csv" in run and "部分接收" in run
    # Any department's page, read only: no upload form, no buttons.
    dept = client.get("/departments/fgw")
    assert dept.status_code == 200 and "完成投资" in dept.text
    assert 'action="/upload"' not in dept.text and "/alerts/" not in dept.text
    assert client.get("/departments/nobody").status_code == 404


def test_the_13710_buttons_do_what_the_cli_does(client, seeded):
    csrf = login(client, seeded.token(role="dcj"))
    eid = fgw_episode(seeded)

    empty = client.post(f"/alerts/{eid}/ack", data={"csrf": csrf, "text": "  "})
    assert empty.status_code == 409 and "确认说明不能为空" in empty.text
    done = client.post(f"/alerts/{eid}/ack", data={"csrf": csrf, "text": "已收到，正在核实"})
    assert done.status_code == 303 and done.headers["location"].startswith("/board?ok=ack")
    ep = open_episodes(seeded)[eid]
    assert ep["acked_at"] and ep["ack_note"] == "已收到，正在核实"
    assert "已收到，正在核实" in client.get("/board").text  # the snapshot was published again

    client.post(f"/alerts/{eid}/feedback", data={"csrf": csrf, "text": "已约谈项目单位"})
    assert open_episodes(seeded)[eid]["feedback_text"] == "已约谈项目单位"
    client.post(f"/alerts/{eid}/close", data={"csrf": csrf, "text": ""})
    assert eid not in open_episodes(seeded)
    assert f'id="e{eid}"' not in client.get("/board").text
    with connect(seeded.cfg) as con:
        actors = {
            r[0]
            for r in con.execute(
                "select actor from alerts.events where episode_id = ? and kind in ('acked', 'feedback', 'closed')",
                [eid],
            ).fetchall()
        }
    assert len(actors) == 1 and actors.pop().startswith("desk:dcj:")
    missing = client.post("/alerts/9999/ack", data={"csrf": csrf, "text": "x"})
    assert missing.status_code == 409 and "没有编号为 9999 的预警" in missing.text


def test_a_department_answers_its_own_alerts_and_no_one_elses(client, seeded):
    eid = fgw_episode(seeded)
    csrf = login(client, seeded.token(department="fgw"))
    assert f'action="/alerts/{eid}/ack"' in client.get("/").text
    assert client.post(f"/alerts/{eid}/ack", data={"csrf": csrf, "text": "收到"}).status_code == 303
    assert open_episodes(seeded)[eid]["ack_note"] == "收到"
    closing = client.post(f"/alerts/{eid}/close", data={"csrf": csrf})
    assert closing.status_code == 403 and "督查局" in closing.text

    csrf = login(client, seeded.token(department="rsj"))
    foreign = client.post(f"/alerts/{eid}/feedback", data={"csrf": csrf, "text": "x"})
    assert foreign.status_code == 403
    assert open_episodes(seeded)[eid]["feedback_text"] is None

    csrf = login(client, seeded.token(role="leaders"))
    assert "只读" in client.get("/board").text
    assert client.post(f"/alerts/{eid}/close", data={"csrf": csrf}).status_code == 403


def test_cuibao_queues_one_reminder_a_day_that_deliver_sends(client, seeded):
    csrf = login(client, seeded.token(role="dcj"))
    sent = client.post(
        "/board/remind", data={"csrf": csrf, "department": "fgw", "period": "2023-06"}
    )
    assert sent.status_code == 303
    again = client.post(
        "/board/remind", data={"csrf": csrf, "department": "fgw", "period": "2023-06"}
    )
    assert again.status_code == 409 and "今天已向发改委催报过" in again.text
    done = client.post(
        "/board/remind", data={"csrf": csrf, "department": "rsj", "period": "2023-06"}
    )
    assert done.status_code == 409 and "无需催报" in done.text
    html = client.get("/board").text
    assert "今日已催报" in html.split('data-department="fgw"')[1].split("</li>")[0]
    with connect(seeded.cfg) as con:
        [(title, route, md)] = con.execute(
            "select title, route, md_parts[1] from alerts.outbox where kind = 'desk_reminder'"
        ).fetchall()
    assert title.startswith("【催报】发改委：2023-06 数据已逾期 6 天")
    assert route == "dept-fgw" and "完成投资" in md and "token" not in md
    result = deliver(seeded.cfg, clock.now(seeded.cfg.tz))
    assert result["sent"] >= 1
    sinks = list((seeded.cfg.sinks / "wecom" / "dept-fgw").glob("*.md"))
    assert any("【催报】" in p.read_text(encoding="utf-8") for p in sinks)


def test_a_revoked_link_stops_working_at_once(client, seeded, tmp_path, forks):
    import os

    from kpi.desk.tokens import mint, parse

    token = seeded.token(department="fgw")
    client.cookies.set("kpi_desk", token)
    assert client.get("/").status_code == 200
    env = {
        **os.environ,
        "KPI_HOME": str(seeded.cfg.home),
        "KPI_CATALOGUE_DIR": str(seeded.cfg.catalogue_dir),
        "KPI_PLAN": seeded.cfg.plan,
    }
    # `kpi desk revoke` in a process of its own (a fork of the warm interpreter).
    out = forks.run(["desk", "revoke", parse(seeded.cfg, token).id], env)
    assert out.returncode == 0, out.stderr
    refused = client.get("/")
    assert refused.status_code == 401 and "已被吊销" in refused.text

    # Revoking a department revokes every token it was given so far, not later ones.
    older = seeded.token(department="rsj")
    out = forks.run(["desk", "revoke", "-d", "人社局"], env)
    assert out.returncode == 0, out.stderr
    client.cookies.set("kpi_desk", older)
    assert client.get("/").status_code == 401
    later = clock.now(seeded.cfg.tz).replace(second=59)
    newer, _ = mint(seeded.cfg, seeded.cfg.plan, "dept:rsj", now=later.replace(minute=1))
    client.cookies.set("kpi_desk", newer)
    assert client.get("/").status_code == 200


def test_leaders_open_the_latest_report_and_its_workbook_at_stable_addresses(client, seeded):
    login(client, seeded.token(role="leaders"))
    index = client.get("/reports/")
    assert index.status_code == 200 and "2023-07-15" in index.text
    latest = client.get("/reports/latest")
    assert latest.status_code == 303
    assert latest.headers["location"] == "/reports/tiny-2023_2023-07-15_progress.html"
    report = client.get(latest.headers["location"])
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "connect-src 'none'" in report.headers["content-security-policy"]
    book = client.get("/reports/tiny-2023_2023-07-15_workbook.xlsx")
    assert book.status_code == 200 and book.content[:2] == b"PK"
    assert "attachment" in book.headers["content-disposition"]
    for bad in (
        "/reports/%2e%2e/home/desk/secret.key",
        "/reports/..%2fhome%2fdesk%2fsecret.key",
        "/reports/gx/great_expectations.yml",
        "/reports/data_docs/%2e%2e/%2e%2e/warehouse/kpi.duckdb",
        "/reports/.tiny-2023_2023-07-15_progress.html.tmp",
    ):
        assert client.get(bad).status_code == 404, bad
    login(client, seeded.token(department="fgw"))
    refused = client.get("/reports/tiny-2023_2023-07-15_progress.html")
    assert refused.status_code == 403 and "本单位页面" in refused.text


def test_alerts_link_to_the_desk_by_default(seeded):
    from kpi.config import load_settings
    from kpi.reports import report_link

    cfg = load_settings(env={})
    link = report_link(cfg, "hongqi-2023", clock.today(cfg.tz))
    assert link.startswith(cfg.desk_base_url.rstrip("/") + "/reports/")
