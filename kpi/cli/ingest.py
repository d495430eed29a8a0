"""`kpi ingest FILE... [--json] [--as-of DATE]` and `kpi ingest --inbox`."""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import date

import click

from kpi.catalogue import CatalogueError, get_catalogue

STATUS_ZH = {
    "accepted": "已接收",
    "partial": "部分接收",
    "rejected": "退回",
    "duplicate": "重复",
    "skipped": "跳过",
}


@click.command("ingest")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--inbox", "from_inbox", is_flag=True, help="处理收件箱中的全部文件（处理后移出）")
@click.option("--json", "as_json", is_flag=True, help="按文件输出 JSON 回执")
@click.option("--as-of", "as_of", default=None, help="截止日期 YYYY-MM-DD（默认今天）")
@click.pass_context
def ingest_cmd(
    ctx: click.Context, files: tuple[str, ...], from_inbox: bool, as_json: bool, as_of: str | None
) -> None:
    """导入部门报送文件并校验 / ingest submitted files; exit 1 if any file is refused."""
    from kpi.config import settings
    from kpi.ingest import ingest_files, ingest_inbox

    if not files and not from_inbox:
        raise click.UsageError("请指定文件，或用 --inbox 处理收件箱")
    try:
        cat = get_catalogue(ctx.obj["plan"])
    except (CatalogueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError as exc:
        raise click.BadParameter(f"日期应写作 YYYY-MM-DD：{as_of}", param_hint="--as-of") from exc
    cfg = settings()
    with _run_lock(cfg):
        receipts = ingest_files(cfg, cat, files, as_of=day) if files else []
        if from_inbox:
            receipts += ingest_inbox(cfg, cat, as_of=day)
    if as_json:
        json.dump(receipts, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        _print(receipts, {d.code: d.short_zh for d in cat.departments})
    if any(r["status"] == "rejected" for r in receipts):
        ctx.exit(1)


@contextlib.contextmanager
def _run_lock(cfg):
    """The pipeline's run lock: ingest never writes while a nightly run does (waits, then fails)."""
    from kpi.warehouse import LockedError, pipeline_lock

    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(pipeline_lock(cfg, wait_seconds=0))
        except LockedError:
            wait = cfg.lock_wait_seconds
            click.echo(f"流水线正在运行，等待其结束后再导入（最长等待 {wait} 秒）……", err=True)
            try:
                stack.enter_context(pipeline_lock(cfg, wait_seconds=wait))
            except LockedError:
                raise click.ClickException(
                    f"流水线正在运行（已等待 {wait} 秒仍未结束），本次未导入任何文件，请稍后再试"
                ) from None
        yield


def _print(receipts: list[dict], short: dict[str, str]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    table = Table(title=f"导入回执（{len(receipts)} 个文件）")
    for col in ("文件", "单位", "状态", "接收行", "退回行", "修订", "说明"):
        table.add_column(col)
    for r in receipts:
        rows = r.get("rejected_rows", len({(e["sheet"], e["row"]) for e in r["rejected"]}))
        table.add_row(  # department text: never read as rich markup
            escape(r["file"]),
            short.get(r["department"] or "", r["department"] or ""),
            STATUS_ZH.get(r["status"], r["status"]),
            str(r["accepted"]),
            str(rows),
            str(r["revisions"]),
            escape(r["reason"] or ""),
        )
    console.print(table)
    for r in receipts:
        for e in r["rejected"]:
            console.print(f"[red]退回[/red] {escape(e['reason'])}", highlight=False)
        if r.get("rejected_unlisted"):
            console.print(
                f"[red]退回[/red] 另有 {r['rejected_unlisted']} 行未逐行列出", highlight=False
            )
        for e in r["warnings"]:
            console.print(f"[yellow]提示[/yellow] {escape(e['reason'])}", highlight=False)


def register(group: click.Group) -> None:
    """Add this module's commands to `kpi`."""
    group.add_command(ingest_cmd)
