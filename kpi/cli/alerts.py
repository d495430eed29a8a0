"""`kpi alerts`, `kpi ack`, `kpi feedback`, `kpi close`, `kpi deliver`."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime

import click

from kpi import clock

STATE_ZH = {
    "delivered": "已送达",
    "failed": "无法送达",
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


def _locked(call):
    """Run a writer under the run lock: at once if free, else say so and wait as configured."""
    import duckdb

    from kpi.warehouse import LockedError

    cfg = _settings()
    try:
        try:
            return call(cfg, 0)
        except LockedError:
            click.echo(
                f"另一运行正在使用数据仓库，等待其结束（最多 {cfg.lock_wait_seconds} 秒）……",
                err=True,
            )
            return call(cfg, cfg.lock_wait_seconds)
    except LockedError:
        raise click.ClickException(
            f"已等待 {cfg.lock_wait_seconds} 秒，另一运行仍在使用数据仓库，请稍后再试"
        ) from None
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise click.ClickException("数据仓库文件被其他程序占用，请稍后再试") from None


def _day_zh(day: object) -> str:
    """A date as 7月17日 (short enough for a phone-width terminal); other values as they are."""
    try:
        d = date.fromisoformat(str(day)[:10])
    except ValueError:
        return str(day)
    return f"{d.month}月{d.day}日"


# (heading, short): short columns keep one line; the others fold at the terminal's width.
EPISODE_COLUMNS = (
    ("编号", True),
    ("单位", False),
    ("指标", False),
    ("状态", True),
    ("天数", True),
    ("确认", True),
    ("反馈", True),
    ("下一步", False),
    ("投递", False),
)


@click.command("alerts")
@click.option("--json", "as_json", is_flag=True, help="JSON 输出（含每条消息的投递状态）")
@click.option(
    "--all", "include_all", is_flag=True, help="全部：含已关闭的预警，以及每一条消息（回执、通知）"
)
@click.pass_context
def alerts_cmd(ctx: click.Context, as_json: bool, include_all: bool) -> None:
    """列出未销号的预警及投递状态 / open alerts with their 13710 and delivery state."""
    from kpi.alerts.render import KIND_ZH
    from kpi.alerts.workflow import WarehouseBusy, overview

    cfg = _settings()
    try:
        data = overview(cfg, ctx.obj["plan"], _now(cfg), include_closed=include_all)
    except WarehouseBusy as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        _print_json(data)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"预警（{len(data['episodes'])} 项）")
    # Short cells never wrap; names and steps fold onto more lines instead of being cut (…).
    for col, short in EPISODE_COLUMNS:
        table.add_column(
            col, no_wrap=short, overflow="fold", min_width=len(col) * 2 if short else 4
        )
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
            f"{_day_zh(step['on'])} {step['what']}" if step else "—",
            _deliveries_zh(ep["messages"]),
        )
    console = Console()
    console.print(table)
    if include_all:
        messages = Table(title=f"消息（{len(data['messages'])} 条）")
        for col in ("消息", "类型", "标题", "发往", "状态", "说明"):
            messages.add_column(col, overflow="fold", no_wrap=col in ("消息", "状态"))
        for m in data["messages"]:
            problems = [d for d in m["deliveries"] if d["state"] in ("failed", "pending")]
            note = problems[0]["last_error"] if problems else ""
            messages.add_row(
                str(m["message_id"]),
                KIND_ZH.get(m["kind"], m["kind"]),
                m["title"],
                "、".join(m["routes"]),
                STATE_ZH.get(m["state"], m["state"]),
                note or "",
            )
        console.print(messages)
    if data["undelivered"]:
        console.print(f"未送达消息 {len(data['undelivered'])} 条（kpi alerts --json 查看原因）")
    if data["failed"]:
        console.print(f"无法送达消息 {len(data['failed'])} 条（kpi alerts --all 查看原因）")
    for c in data["channels"]:
        if c["state"] == "dead":
            console.print(f"渠道 {c['channel']} 已失效（{c['last_error']}），请检查配置")


def _workflow(fn, episode_id: int) -> dict:
    from kpi.alerts.workflow import EpisodeNotFound, WorkflowRefused

    try:
        return _locked(lambda cfg, wait: fn(cfg, episode_id, wait))
    except EpisodeNotFound:
        raise click.ClickException(f"没有编号为 {episode_id} 的预警") from None
    except WorkflowRefused as exc:
        raise click.ClickException(str(exc)) from None


@click.command("ack")
@click.argument("episode_id", type=int)
@click.option("--note", required=True, help="确认说明，如“已收到，正在核实”")
def ack_cmd(episode_id: int, note: str) -> None:
    """确认收到预警（13710：1 日内）/ acknowledge an alert."""
    from kpi.alerts.workflow import ack

    ep = _workflow(lambda c, i, w: ack(c, i, note, _now(c), lock_wait=w), episode_id)
    click.echo(f"已确认预警 {ep['id']}（{ep['name_zh']}）")


@click.command("feedback")
@click.argument("episode_id", type=int)
@click.option("--text", "text", required=True, help="向督查局反馈的整改措施")
def feedback_cmd(episode_id: int, text: str) -> None:
    """记录整改反馈（13710：3 日内）/ record feedback to the supervision office."""
    from kpi.alerts.workflow import feedback

    ep = _workflow(lambda c, i, w: feedback(c, i, text, _now(c), lock_wait=w), episode_id)
    click.echo(f"已记录预警 {ep['id']}（{ep['name_zh']}）的反馈")


@click.command("close")
@click.argument("episode_id", type=int)
@click.option("--note", default=None, help="销号说明")
def close_cmd(episode_id: int, note: str | None) -> None:
    """销号：关闭预警 / close an alert by hand."""
    from kpi.alerts.workflow import close

    ep = _workflow(lambda c, i, w: close(c, i, _now(c), note, lock_wait=w), episode_id)
    click.echo(f"预警 {ep['id']}（{ep['name_zh']}）已销号")


@click.command("deliver")
@click.option("--json", "as_json", is_flag=True, help="JSON 输出")
def deliver_cmd(as_json: bool) -> None:
    """发送待发消息（失败的按退避时间重试）/ send due alert messages."""
    from kpi.alerts.delivery import deliver_locked, failed_state

    result = _locked(lambda cfg, wait: deliver_locked(cfg, _now(cfg), lock_wait=wait))
    if as_json:
        _print_json(result)
    else:
        click.echo(
            f"已发送 {result['sent']}，失败 {result['failed']}，待重试 {result['deferred']}，"
            f"暂缓 {result['held']}，无法送达 {result['given_up']}"
        )
        if result["resent"]:
            click.echo(f"其中补发（标注“重发”）{result['resent']}")
    problem = failed_state(result)
    if problem:
        raise click.ClickException(problem)


def register(group: click.Group) -> None:
    """Add this module's commands to `kpi`."""
    for command in (alerts_cmd, ack_cmd, feedback_cmd, close_cmd, deliver_cmd):
        group.add_command(command)
