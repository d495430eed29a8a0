"""`kpi alerts / ack / feedback / close / deliver` on a real warehouse."""

from __future__ import annotations

import json
from datetime import date, datetime

import click
import pytest
from click.testing import CliRunner

from kpi.alerts import raise_alerts
from kpi.cli.alerts import register
from kpi.config import settings

AS_OF = date(2023, 7, 15)  # the day `raised_kept` raised its alerts


@pytest.fixture
def kpi(cfg, monkeypatch):
    """A `kpi` group with only this area's commands, on the test's warehouse."""
    monkeypatch.setenv("KPI_HOME", str(cfg.home))
    settings.cache_clear()

    @click.group()
    @click.pass_context
    def group(ctx: click.Context) -> None:
        ctx.ensure_object(dict)
        ctx.obj["plan"] = "tiny-2023"

    register(group)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(group, list(args), catch_exceptions=False)

    yield run
    settings.cache_clear()


@pytest.fixture
def cfg(kept_home):
    """One home for this module's tests, emptied for each (tests/alerts/conftest.py)."""
    return kept_home


def test_alerts_json_shows_open_alerts_with_each_delivery_state(kpi, raised):
    assert kpi("deliver").exit_code == 0
    out = kpi("alerts", "--json")
    assert out.exit_code == 0
    data = json.loads(out.output)
    assert [e["target"] for e in data["episodes"]] == ["investment_total", "urban_jobs"]
    first = data["episodes"][0]
    assert first["status"] == "严重滞后" and first["next_step"]["what"] == "未确认将再次提醒"
    kinds = {m["kind"] for m in first["messages"]}
    assert kinds == {"dept_alert", "digest"}
    deliveries = [d for m in first["messages"] for d in m["deliveries"]]
    assert deliveries and all(d["state"] == "delivered" for d in deliveries)
    assert {d["channel"] for d in deliveries} >= {"kpisink://wecom/dept-fgw"}
    assert data["undelivered"] == []


def test_undelivered_messages_are_listed_until_they_go_out(kpi, raised):
    data = json.loads(kpi("alerts", "--json").output)
    assert {m["state"] for m in data["undelivered"]} == {"pending"}
    # 2 department alerts and one digest to leaders and dcj together
    assert len(data["undelivered"]) == 3


def test_ack_feedback_and_close_record_the_13710_workflow(kpi, raised):
    assert "已确认预警 1" in kpi("ack", "1", "--note", "已收到，正在核实").output
    assert kpi("feedback", "1", "--text", "三季度加快项目入库").exit_code == 0
    ep = json.loads(kpi("alerts", "--json").output)["episodes"][0]
    assert ep["ack_note"] == "已收到，正在核实" and ep["feedback_text"] == "三季度加快项目入库"
    assert ep["next_step"]["what"] == "未销号将再次督办"
    assert "已销号" in kpi("close", "1", "--note", "计划已报批").output
    open_ids = [e["id"] for e in json.loads(kpi("alerts", "--json").output)["episodes"]]
    assert open_ids == [2]
    everything = json.loads(kpi("alerts", "--json", "--all").output)["episodes"]
    assert [(e["id"], e["state"]) for e in everything] == [(1, "closed"), (2, "open")]


def test_an_unknown_alert_id_is_refused_in_chinese(kpi, raised):
    result = kpi("ack", "99", "--note", "x")
    assert result.exit_code != 0 and "没有编号为 99 的预警" in result.output


def test_ack_needs_a_note(kpi, raised):
    result = kpi("ack", "1")
    assert result.exit_code == 2 and "--note" in result.output


def test_the_alerts_table_has_chinese_headers(kpi, raised, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    out = kpi("alerts").output
    assert "编号" in out and "下一步" in out and "完成投资" in out


def test_deliver_json_reports_what_was_sent(kpi, raised):
    data = json.loads(kpi("deliver", "--json").output)
    assert data["sent"] == 8 and data["failed"] == 0


def test_misuse_is_refused_in_chinese_with_a_nonzero_exit_and_nothing_logged(kpi, raised, cfg):
    from kpi.warehouse import connect

    def n_events() -> int:
        with connect(cfg) as con:
            return con.execute("select count(*) from alerts.events").fetchone()[0]

    assert kpi("close", "1").exit_code == 0
    before = n_events()
    for args, words in [
        (("ack", "1", "--note", "已收到"), "不能再确认"),
        (("close", "1"), "不能再销号"),
        (("feedback", "2", "--text", "   "), "反馈内容不能为空"),
        (("ack", "2", "--note", ""), "确认说明不能为空"),
    ]:
        result = kpi(*args)
        assert result.exit_code != 0 and words in result.output, (args, result.output)
    assert n_events() == before


def test_a_writer_waits_for_the_run_lock_then_says_so_in_chinese(kpi, raised, cfg, monkeypatch):
    from kpi.warehouse import pipeline_lock

    monkeypatch.setenv("KPI_LOCK_WAIT_SECONDS", "1")
    settings.cache_clear()
    with pipeline_lock(cfg):
        result = kpi("ack", "1", "--note", "已收到")
    assert result.exit_code == 1
    assert "等待其结束（最多 1 秒）" in result.output
    assert "已等待 1 秒，另一运行仍在使用数据仓库，请稍后再试" in result.output
    assert "Traceback" not in result.output


def test_alerts_all_lists_every_message_receipts_and_notices_included(kpi, raised, cfg):
    from kpi.warehouse import connect

    receipt = json.dumps(
        {
            "rejected": [
                {"sheet": "Sheet1", "row": 5, "column": "数值", "value": "x", "reason": "不是数字"}
            ]
        }
    )
    with connect(cfg) as con:
        con.execute(
            "insert into raw.submissions (submission_id, plan_code, department_code, file_name,"
            " archive_path, size_bytes, received_at, ingested_at, status, n_rows, n_accepted,"
            " n_rejected, receipt) values ('s1', 'tiny-2023', 'fgw', '发改委.xlsx', 'a', 1,"
            " '2023-07-15 09:00', '2023-07-15 09:00', 'partial', 2, 1, 1, ?)",
            [receipt],
        )
    tiny = load_tiny(cfg)
    raise_alerts(cfg, tiny, AS_OF, datetime(2023, 7, 15, 10, 5, tzinfo=cfg.tz))
    assert kpi("deliver").exit_code == 0
    data = json.loads(kpi("alerts", "--json").output)
    assert "messages" not in data  # without --all: open alerts and what is not delivered
    everything = json.loads(kpi("alerts", "--json", "--all").output)
    kinds = {m["kind"]: m for m in everything["messages"]}
    assert set(kinds) == {"dept_alert", "digest", "receipt"}
    assert kinds["receipt"]["state"] == "delivered" and kinds["receipt"]["deliveries"]
    assert kinds["digest"]["routes"] == ["leaders", "dcj"]
    text = kpi("alerts", "--all").output
    assert "报送回执" in text and "日报" in text


def load_tiny(cfg):
    from kpi.catalogue import load_catalogue

    return load_catalogue(next((cfg.home.parent / "catalogue").glob("tiny-2023.yaml")))


def test_ages_count_from_the_clock_given_to_kpi(raised, cfg, monkeypatch):
    from kpi.cli import main

    monkeypatch.setenv("KPI_HOME", str(cfg.home))
    settings.cache_clear()
    runner = CliRunner()
    for now, days in (("2023-07-16T09:00", 1), ("2023-07-20", 5)):
        out = runner.invoke(main, ["--plan", "tiny-2023", "--now", now, "alerts", "--json"])
        assert out.exit_code == 0, out.output
        assert [e["days_open"] for e in json.loads(out.output)["episodes"]] == [days, days]
    settings.cache_clear()


def test_deliver_exits_nonzero_naming_a_channel_that_cannot_be_used(kpi, raised, cfg, monkeypatch):
    path = cfg.home / "apprise.yml"
    path.write_text(
        "urls:\n  - kpiwecom://{{KPI_WECOM_KEY_UNSET}}:\n      - tag: dept-fgw\n", "utf-8"
    )
    monkeypatch.delenv("KPI_WECOM_KEY_UNSET", raising=False)
    monkeypatch.setenv("KPI_APPRISE_CONFIG", str(path))
    settings.cache_clear()
    result = kpi("deliver")
    assert result.exit_code == 1 and "KPI_WECOM_KEY_UNSET" in result.output
    assert "已发送 6，失败 1" in result.output  # everything else went to the local sinks


def test_the_alerts_table_folds_long_names_at_80_columns_and_cuts_nothing(kpi, raised, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = kpi("alerts").output
    assert "…" not in out
    assert "严重滞后" in out and max(len(line) for line in out.splitlines()) <= 80
