"""`kpi alerts`, `kpi ack`, `kpi feedback`, `kpi close`, `kpi deliver`."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click

from kpi import clock

STATE_ZH = {
    "delivered": "已送达",
    "failed": "发送失败",
    "retrying": "待重试",
    "held": "静默时段暂缓",
    "pending": "待发送",
}


def _now(cfg) -> datetime:
    """Now, from the one clock (`kpi --now`, KPI_NOW, else the wall clock)."""
    return clock.now(cfg.tz)


def _settings():
    from kpi.config import settings

    return settings()


def _print_json(data: object) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def _deliveries_zh(messages: list[dict]) -> str:
    counts: dict[str, int] = {}
    for m in messages:
        counts[m["state"]] = counts.get(m["state"], 0) + 1
    return "，".join(f"{STATE_ZH.get(s, s)} {n}" for s, n in counts.items()) or "—"


@click.command("alerts")
@click.option("--json", "as_json", is_flag=True, help="JSON 输出（含每条消息的投递状态）")
@click.option("--all", "include_closed", is_flag=True, help="包括已关闭的预警")
@click.pass_context
def alerts_cmd(ctx: click.Context, as_json: bool, include_closed: bool) -> None:
    """列出未销号的预警及投递状态 / open alerts with their 13710 and delivery state."""
    from kpi.alerts.workflow import overview

    cfg = _settings()
    data = overview(cfg, ctx.obj["plan"], _now(cfg), include_closed=include_closed)
    if as_json:
        _print_json(data)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"预警（{len(data['episodes'])} 项）")
    for col in ("编号", "单位", "指标", "状态", "已持续(天)", "确认", "反馈", "下一步", "投递"):
        table.add_column(col)
    for ep in data["episodes"]:
        step = ep["next_step"]
        table.add_row(
            str(ep["id"]),
            ep["department_zh"],
            ep["name_zh"],
            ep["status"] if ep["state"] == "open" else f"已关闭（{ep['close_reason']}）",
            str(ep["days_open"]),
            "是" if ep["acked_at"] else "否",
            "是" if ep["feedback_at"] else "否",
            f"{step['on']} {step['what']}" if step else "—",
            _deliveries_zh(ep["messages"]),
        )
    console = Console()
    console.print(table)
    if data["undelivered"]:
        console.print(f"未送达消息 {len(data['undelivered'])} 条（kpi alerts --json 查看原因）")
    if data["failed"]:
        console.print(f"无法送达消息 {len(data['failed'])} 条（kpi alerts --json 查看原因）")


def _workflow(fn, episode_id: int, *args) -> dict:
    from kpi.alerts.workflow import EpisodeNotFound

    cfg = _settings()
    try:
        return fn(cfg, episode_id, *args)
    except EpisodeNotFound:
        raise click.ClickException(f"没有编号为 {episode_id} 的预警") from None


@click.command("ack")
@click.argument("episode_id", type=int)
@click.option("--note", required=True, help="确认说明，如“已收到，正在核实”")
def ack_cmd(episode_id: int, note: str) -> None:
    """确认收到预警（13710：1 日内）/ acknowledge an alert."""
    from kpi.alerts.workflow import ack

    ep = _workflow(lambda c, i: ack(c, i, note, _now(c)), episode_id)
    click.echo(f"已确认预警 {ep['id']}（{ep['name_zh']}）")


@click.command("feedback")
@click.argument("episode_id", type=int)
@click.option("--text", "text", required=True, help="向督查局反馈的整改措施")
def feedback_cmd(episode_id: int, text: str) -> None:
    """记录整改反馈（13710：3 日内）/ record feedback to the supervision office."""
    from kpi.alerts.workflow import feedback

    ep = _workflow(lambda c, i: feedback(c, i, text, _now(c)), episode_id)
    click.echo(f"已记录预警 {ep['id']}（{ep['name_zh']}）的反馈")


@click.command("close")
@click.argument("episode_id", type=int)
@click.option("--note", default=None, help="销号说明")
def close_cmd(episode_id: int, note: str | None) -> None:
    """销号：关闭预警 / close an alert by hand."""
    from kpi.alerts.workflow import close

    ep = _workflow(lambda c, i: close(c, i, _now(c), note), episode_id)
    click.echo(f"预警 {ep['id']}（{ep['name_zh']}）已销号")


@click.command("deliver")
@click.option("--json", "as_json", is_flag=True, help="JSON 输出")
def deliver_cmd(as_json: bool) -> None:
    """发送待发消息（失败的按退避时间重试）/ send due alert messages."""
    from kpi.alerts.delivery import deliver

    cfg = _settings()
    result = deliver(cfg, _now(cfg))
    if as_json:
        _print_json(result)
    else:
        click.echo(
            f"已发送 {result['sent']}，失败 {result['failed']}，待重试 {result['deferred']}，"
            f"暂缓 {result['held']}"
        )
    if result["error"]:
        raise click.ClickException(result["error"])


def register(group: click.Group) -> None:
    """Add this module's commands to `kpi`."""
    for command in (alerts_cmd, ack_cmd, feedback_cmd, close_cmd, deliver_cmd):
        group.add_command(command)
