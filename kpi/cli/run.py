"""`kpi run`, `kpi replay` and `kpi demo`: the nightly job through its Prefect flows.

Everything a user can get wrong (a date, a range, a plan, a folder) is checked before Prefect
starts, and refused with one Chinese line, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import date
from pathlib import Path

import click

from kpi.cli.params import DATE
from kpi.config import Settings, settings


def prefect_env(cfg: Settings, *, quiet: bool = False) -> None:
    """Keep Prefect's state inside the project and its telemetry off (before importing prefect)."""
    from flows.ephemeral import STARTUP_TIMEOUT_S

    home = Path(os.environ.get("PREFECT_HOME") or cfg.home / "prefect").expanduser().resolve()
    # Prefect makes its home without parents: on a clone without var/ it would only warn.
    home.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's default (20 s) for its temporary server is too short on a loaded machine.
    os.environ.setdefault(
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", str(STARTUP_TIMEOUT_S)
    )
    if quiet:  # a progress bar reads better than a log line per task
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def start_prefect(cfg: Settings, *, quiet: bool = False):
    """`prefect_env`, then Prefect's temporary server started now, while the CLI imports the rest.

    Returns the server (call `.wait()` before the first flow), or None when a server is
    configured (PREFECT_API_URL) or Prefect is already imported: then Prefect does as it does.
    """
    if cfg.prefect_server not in ("early", "prefect"):
        raise click.ClickException(
            f"配置项 prefect_server 应为 early 或 prefect，而不是 {cfg.prefect_server!r}"
        )
    prefect_env(cfg, quiet=quiet)
    if cfg.prefect_server == "prefect":
        return None
    from flows import ephemeral

    return ephemeral.start()


def _ready(server) -> None:
    """Wait for the temporary server started by `start_prefect`, if any."""
    if server is not None:
        server.wait()


def _fail(exc: Exception) -> click.ClickException:
    from kpi.catalogue import CatalogueError
    from kpi.warehouse import LockedError, NothingToRead

    if isinstance(exc, LockedError | NothingToRead | CatalogueError | FileNotFoundError):
        return click.ClickException(str(exc))
    return click.ClickException(f"运行失败：{exc}（详情见上方日志）")


def _plan(cfg: Settings, plan: str):
    """The plan's catalogue, or a Chinese error naming the plans there are."""
    from kpi.catalogue import CatalogueError
    from kpi.pipeline import load_plan

    try:
        return load_plan(cfg, plan)
    except (FileNotFoundError, CatalogueError) as exc:
        raise click.ClickException(str(exc)) from None


def _home(home: Path | None, default: Path) -> Path:
    """A state folder given on the command line: a folder (made if missing), never a file."""
    home = (home or default).expanduser()
    if home.exists() and not home.is_dir():
        raise click.ClickException(f"状态目录 {home} 是一个文件，不是文件夹：请换一个 --home")
    return home


def print_summary(summary: dict) -> None:
    """A short Chinese account of one nightly run."""
    click.echo(
        f"截至 {summary['as_of']}：收到文件 {summary['files_seen']} 个"
        f"（全部接收 {summary['files_accepted']}，部分接收 {summary['files_partial']}，"
        f"整体退回 {summary['files_rejected']}，重复 {summary['files_duplicate']}）；"
        f"接收 {summary['rows_accepted']} 行，拒收 {summary['rows_rejected']} 行；"
        f"新发提醒 {summary['alerts_raised']} 条"
    )
    if summary.get("skipped"):
        names = "、".join(s["file"] for s in summary["skipped"])
        click.echo(f"跳过 {len(summary['skipped'])} 个临时文件（不计入收到文件）：{names}")
    if summary["statuses"]:  # worst first, as the pipeline orders them
        click.echo("状态：" + "，".join(f"{k} {v}" for k, v in summary["statuses"].items()))


REPORT_LABELS = {"html": "进展报告", "workbook": "领导工作簿", "data_docs": "数据校验文档"}


def print_locations(cfg: Settings, summary: dict) -> None:
    """Where the warehouse, the snapshot, the report and the delivered alerts are."""
    click.echo(f"数据仓库：{cfg.warehouse}")
    click.echo(f"分析快照：{cfg.snapshot}（.venv/bin/duckdb -readonly 打开）")
    report = summary.get("report")
    if isinstance(report, dict):
        for key, path in report.items():
            if path:
                click.echo(f"{REPORT_LABELS.get(key, key)}：{path}")
    elif report:
        click.echo(f"报告：{report}")
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


@click.command("run")
@click.option("--as-of", type=DATE, default=None, help="评估截至日期 YYYY-MM-DD（默认昨天）")
@click.option(
    "--allow-outside-year",
    is_flag=True,
    help="允许截至日期落在计划年度之外（默认拒绝：会把全年目标判为滞后）",
)
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出本次运行摘要")
@click.pass_context
def run_cmd(ctx: click.Context, as_of: date | None, allow_outside_year: bool, as_json: bool):
    """运行一次每晚流程 / run the nightly flow once (ingest, progress, alerts, report, snapshot)."""
    from kpi import clock
    from kpi.pipeline import default_as_of, outside_year

    cfg = settings()
    catalogue = _plan(cfg, ctx.obj["plan"])
    as_of = as_of or default_as_of(clock.now(cfg.tz))
    problem = outside_year(catalogue, as_of)
    if problem and not allow_outside_year:
        raise click.ClickException(problem)
    server = start_prefect(cfg)
    from flows.nightly import nightly

    try:
        _ready(server)
        summary = nightly(plan=catalogue.plan.code, as_of=as_of)
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


@click.command("replay")
@click.option("--from", "start", type=DATE, required=True, help="起始日期 YYYY-MM-DD")
@click.option("--to", "end", type=DATE, required=True, help="结束日期 YYYY-MM-DD（含）")
@click.option(
    "--home", type=click.Path(path_type=Path), default=None, help="状态目录（默认 <home>/replay）"
)
@click.option(
    "--source",
    type=click.Path(path_type=Path),
    default=None,
    help="按到达日期分目录的文件（默认 demo/submissions）",
)
@click.option("--fresh", is_flag=True, help="先清空状态目录")
@click.option("--deliver", is_flag=True, help="每天早上发送提醒（默认不发送）")
@click.pass_context
def replay_cmd(ctx, start: date, end: date, home, source, fresh, deliver) -> None:
    """逐日回放每晚流程 / replay the nightly run day by day, files arriving on their dates."""
    cfg = settings()
    if end < start:
        raise click.ClickException(f"结束日期 {end} 早于起始日期 {start}：--from 应不晚于 --to")
    if source is not None and not source.is_dir():
        raise click.ClickException(
            f"找不到文件夹 {source}：--source 应是按到达日期分子目录（YYYY-MM-DD）的文件夹"
        )
    catalogue = _plan(cfg, ctx.obj["plan"])
    home = _home(home, cfg.home / "replay")
    if fresh:
        _fresh_home(home)
    server = start_prefect(cfg, quiet=True)
    from flows.replay import replay

    try:
        _ready(server)
        summaries = replay(
            start=start,
            end=end,
            plan=catalogue.plan.code,
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


def print_next_steps(demo: Settings, as_of: date) -> None:
    """What to type next: the demo's home and morning in a new shell, then a few commands."""
    from kpi.pipeline import demo_exports
    from kpi.warehouse import shown_path

    click.echo("")
    click.echo("接着试试（新终端里也先执行第一行：示例数据的状态目录和示例当天的早上）：")
    click.echo(f"  {demo_exports(demo, as_of)}")
    click.echo("  .venv/bin/kpi status")
    click.echo("  .venv/bin/kpi alerts")
    click.echo("  .venv/bin/kpi sql \"select * from mart.current_progress where status = '滞后'\"")
    click.echo(f"  .venv/bin/duckdb -readonly {shown_path(demo.snapshot)}")


@click.command("demo")
@click.option("--as-of", type=DATE, default=None, help="评估截至日期（默认取配置 demo_as_of）")
@click.option(
    "--home", type=click.Path(path_type=Path), default=None, help="状态目录（默认 <home>/demo）"
)
@click.pass_context
def demo_cmd(ctx: click.Context, as_of: date | None, home: Path | None) -> None:
    """主任务：在示例数据上运行一次每晚流程并发送提醒 / the main job on the demo data."""
    cfg = settings()
    day = as_of or date.fromisoformat(cfg.demo_as_of)
    catalogue = _plan(cfg, ctx.obj["plan"])
    home = _home(home, cfg.home / "demo").resolve()
    _fresh_home(home)
    # The demo never reaches real channels: no apprise configuration means local sinks.
    os.environ["KPI_APPRISE_CONFIG"] = ""
    server = start_prefect(cfg)
    from flows.deliver import deliver
    from flows.nightly import nightly
    from kpi import pipeline

    demo = pipeline.resolve_settings(home)
    staged = pipeline.stage_demo(demo, day)
    try:
        _ready(server)
        summary = nightly(
            plan=catalogue.plan.code,
            as_of=day,
            now=pipeline.nightly_now(day, demo),
            home=str(home),
        )
        delivered = deliver(now=pipeline.morning_after(day, demo), home=str(home))
    except Exception as exc:
        raise _fail(exc) from exc
    click.echo(f"示例数据：{len(staged)} 个文件于 {day} 前到达")
    print_summary(summary)
    print_delivery(delivered)
    print_locations(demo, summary)
    print_next_steps(demo, day)


def register(group: click.Group) -> None:
    """Add this module's commands to `kpi`."""
    group.add_command(run_cmd)
    group.add_command(replay_cmd)
    group.add_command(demo_cmd)
