"""`kpi run`, `kpi replay` and `kpi demo`: the nightly job through its Prefect flows."""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import date, datetime
from pathlib import Path

import click

from kpi.config import Settings, settings

DATE = click.DateTime(formats=["%Y-%m-%d"])


def prefect_env(cfg: Settings, *, quiet: bool = False) -> None:
    """Keep Prefect's state inside the project and its telemetry off (before importing prefect)."""
    os.environ.setdefault("PREFECT_HOME", str(cfg.home / "prefect"))
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if quiet:  # a progress bar reads better than a log line per task
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _fail(exc: Exception) -> click.ClickException:
    from kpi.warehouse import LockedError

    if isinstance(exc, LockedError):
        return click.ClickException(f"另一次运行正在使用数据仓库，已等待后放弃：{exc}")
    return click.ClickException(f"{type(exc).__name__}: {exc}")


def print_summary(summary: dict) -> None:
    """A short Chinese account of one nightly run."""
    click.echo(
        f"截至 {summary['as_of']}：收到文件 {summary['files_seen']} 个"
        f"（全部接收 {summary['files_accepted']}，部分接收 {summary['files_partial']}，"
        f"拒收 {summary['files_rejected']}，重复 {summary['files_duplicate']}）；"
        f"接收 {summary['rows_accepted']} 行，拒收 {summary['rows_rejected']} 行；"
        f"新发提醒 {summary['alerts_raised']} 条"
    )
    if summary["statuses"]:
        click.echo("状态：" + "，".join(f"{k} {v}" for k, v in sorted(summary["statuses"].items())))


@click.command("run")
@click.option("--as-of", type=DATE, default=None, help="评估截至日期（默认昨天）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出本次运行摘要")
@click.pass_context
def run_cmd(ctx: click.Context, as_of: datetime | None, as_json: bool) -> None:
    """运行一次每晚流程 / run the nightly flow once (ingest, progress, snapshot, alerts)."""
    cfg = settings()
    prefect_env(cfg)
    from flows.nightly import nightly

    try:
        summary = nightly(plan=ctx.obj["plan"], as_of=as_of.date() if as_of else None)
    except Exception as exc:
        raise _fail(exc) from exc
    if as_json:
        json.dump(summary, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print_summary(summary)
        print_locations(cfg, summary)


def _fresh_home(home: Path) -> None:
    """Empty a state home; refuse a non-empty folder that is not one (no warehouse, no ledger)."""
    if home.exists() and any(home.iterdir()):
        if not ((home / "warehouse").is_dir() or (home / "demo-staged.json").is_file()):
            raise click.ClickException(f"{home} 不是本项目的状态目录（无 warehouse/），未清空")
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)


REPORT_LABELS = {"html": "进展报告", "workbook": "领导工作簿", "data_docs": "数据校验文档"}


def print_locations(cfg: Settings, summary: dict) -> None:
    """Where the warehouse, the snapshot, the report and the delivered alerts are."""
    click.echo(f"数据仓库：{cfg.warehouse}")
    click.echo(f"分析快照：{cfg.snapshot}（duckdb -readonly 打开）")
    report = summary.get("report")
    if isinstance(report, dict):
        for key, path in report.items():
            if path:
                click.echo(f"{REPORT_LABELS.get(key, key)}：{path}")
    elif report:
        click.echo(f"报告：{report}")
    else:
        click.echo("报告：（报告模块未安装）")
    files = sorted(p for p in cfg.sinks.rglob("*") if p.is_file()) if cfg.sinks.exists() else []
    by_channel: dict[str, int] = {}
    for p in files:
        channel = p.relative_to(cfg.sinks).parts[0]
        by_channel[channel] = by_channel.get(channel, 0) + 1
    counts = "，".join(f"{k} {v} 个" for k, v in sorted(by_channel.items())) or "无"
    click.echo(f"已发送的提醒：{cfg.sinks}（{counts}）")


def print_delivery(result: dict) -> None:
    """A short Chinese account of one delivery."""
    click.echo(
        f"发送：送达 {result.get('sent', 0)} 次（{result.get('messages_done', 0)} 条消息），"
        f"失败 {result.get('failed', 0)}，待重试 {result.get('deferred', 0)}，"
        f"暂缓 {result.get('held', 0)}"
    )
    if result.get("error"):
        click.echo(f"发送中断：{result['error']}", err=True)


@click.command("replay")
@click.option("--from", "start", type=DATE, required=True, help="起始日期")
@click.option("--to", "end", type=DATE, required=True, help="结束日期（含）")
@click.option(
    "--home", type=click.Path(path_type=Path), default=None, help="状态目录（默认 <home>/replay）"
)
@click.option(
    "--source",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=None,
    help="按到达日期分目录的文件（默认 demo/submissions）",
)
@click.option("--fresh", is_flag=True, help="先清空状态目录")
@click.option("--deliver", is_flag=True, help="每天早上发送提醒（默认不发送）")
@click.pass_context
def replay_cmd(ctx, start, end, home, source, fresh, deliver) -> None:
    """逐日回放每晚流程 / replay the nightly run day by day, files arriving on their dates."""
    cfg = settings()
    home = home or cfg.home / "replay"
    if fresh:
        _fresh_home(home)
    prefect_env(cfg, quiet=True)
    from flows.replay import replay

    try:
        summaries = replay(
            start=start.date(),
            end=end.date(),
            plan=ctx.obj["plan"],
            home=str(home),
            source=str(source) if source else None,
            deliver=deliver,
            progress_bar=True,
        )
    except Exception as exc:
        raise _fail(exc) from exc
    alerts = sum(s["alerts_raised"] for s in summaries)
    files = sum(s["files_seen"] for s in summaries)
    click.echo(f"回放 {len(summaries)} 天：处理文件 {files} 个，新发提醒 {alerts} 条")
    from kpi.pipeline import resolve_settings

    click.echo(f"数据仓库：{resolve_settings(home).warehouse}")


@click.command("demo")
@click.option("--as-of", type=DATE, default=None, help="评估截至日期（默认取配置 demo_as_of）")
@click.option(
    "--home", type=click.Path(path_type=Path), default=None, help="状态目录（默认 <home>/demo）"
)
@click.pass_context
def demo_cmd(ctx: click.Context, as_of: datetime | None, home: Path | None) -> None:
    """主任务：在示例数据上运行一次每晚流程并发送提醒 / the main job on the demo data."""
    cfg = settings()
    day = as_of.date() if as_of else date.fromisoformat(cfg.demo_as_of)
    home = (home or cfg.home / "demo").resolve()
    _fresh_home(home)
    # The demo never reaches real channels: no apprise configuration means local sinks.
    os.environ["KPI_APPRISE_CONFIG"] = ""
    prefect_env(cfg)
    from flows.deliver import deliver
    from flows.nightly import nightly
    from kpi import pipeline

    demo = pipeline.resolve_settings(home)
    staged = pipeline.stage_demo(demo, day)
    try:
        summary = nightly(
            plan=ctx.obj["plan"], as_of=day, now=pipeline.nightly_now(day, demo), home=str(home)
        )
        delivered = deliver(now=pipeline.morning_after(day, demo), home=str(home))
    except Exception as exc:
        raise _fail(exc) from exc
    click.echo(f"示例数据：{len(staged)} 个文件于 {day} 前到达")
    print_summary(summary)
    print_delivery(delivered)
    print_locations(demo, summary)


def register(group: click.Group) -> None:
    """Add this module's commands to `kpi`."""
    group.add_command(run_cmd)
    group.add_command(replay_cmd)
    group.add_command(demo_cmd)
