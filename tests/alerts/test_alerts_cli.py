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

AS_OF = date(2023, 7, 15)


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
def raised(cfg, tiny_catalogue, put_progress):
    put_progress(tiny_catalogue, AS_OF, {"investment_total": "严重滞后", "urban_jobs": "预警"})
    raise_alerts(cfg, tiny_catalogue, AS_OF, datetime(2023, 7, 15, 10, tzinfo=cfg.tz))


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
