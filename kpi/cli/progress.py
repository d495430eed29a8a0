"""`kpi status`: reads the published snapshot, never the pipeline's warehouse."""

from __future__ import annotations

import json
import sys
from datetime import date

import click
import duckdb

STATUS_STYLE = {
    "已完成": "bold cyan",
    "正常": "green",
    "预警": "yellow",
    "滞后": "dark_orange",
    "严重滞后": "bold red",
    "无数据": "dim",
}
DATA_STYLE = {"正常": "green", "缺报": "magenta", "数据异常": "bold red", "未到期": "dim"}
OUTLOOK_STYLE = {"进展顺利": "green", "经过努力能够完成": "yellow", "仍需付出更大努力": "red"}


def _snapshot(cfg) -> duckdb.DuckDBPyConnection:
    from kpi.warehouse import open_snapshot

    try:
        con = open_snapshot(cfg)
    except FileNotFoundError as exc:  # kpi.warehouse.NoSnapshot: says where the demo's is
        raise click.ClickException(str(exc)) from None
    # An analyst's query reads the snapshot only: no files, no extensions, no network.
    con.execute("set enable_external_access = false")
    return con


def _parse_date(ctx, param, value):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"日期应写作 YYYY-MM-DD：{value}") from None


@click.command("status")
@click.option(
    "--as-of",
    "as_of",
    callback=_parse_date,
    default=None,
    help="截至日期 YYYY-MM-DD（默认：快照中最近一次计算）",
)
@click.option("--department", "-d", default=None, help="只看该牵头单位（代码、简称或全称）")
@click.option("--json", "as_json", is_flag=True, help="JSON 列表输出")
@click.pass_context
def status_cmd(ctx: click.Context, as_of: date | None, department: str | None, as_json: bool):
    """各目标进度：完成率、序时进度、差距、状态、年底预判 / progress of every target."""
    from kpi.catalogue import CatalogueError, get_catalogue
    from kpi.config import settings
    from kpi.progress import progress_from_snapshot, progress_records

    cfg = settings()
    try:
        cat = get_catalogue(ctx.obj["plan"])
    except (CatalogueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    dept = None
    if department:
        dept = cat.resolve_department(department)
        if dept is None:
            raise click.ClickException(f"未知单位：{department}")
    con = _snapshot(cfg)
    try:
        df, used, stored = progress_from_snapshot(con, cfg, cat, as_of)
    except duckdb.Error as exc:
        raise click.ClickException(f"快照无法读取进度：{exc}") from exc
    finally:
        con.close()
    if used is None:
        raise click.ClickException("快照中尚无进度数据：请先运行 kpi run")
    if dept is not None:
        df = df[df["department_code"] == dept.code]
    records = progress_records(df)
    if as_json:
        json.dump(records, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    _print_status(cat, records, used, stored)


def _fmt(x: float | None, digits: int = 1, sign: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def _figure(t, x: float | None) -> str:
    """A canonical value shown in the unit the report writes."""
    from transforms.progress import num

    if x is None:
        return "—"
    if t.kind in ("growth_rate", "relative"):
        return f"{num(x)}{t.unit or ''}"
    factor = t.canonical_value / t.value if t.value else 1.0
    return f"{num(x / factor)}{t.unit or ''}"


def _goal(t) -> str:
    if t.kind in ("milestone", "qualitative"):
        return f"{t.deadline.month}月{t.deadline.day}日前完成"
    sign = {">=": "≥", ">": ">", "<=": "≤"}[t.comparator]
    from transforms.progress import num

    return f"{sign}{num(t.value)}{t.unit or ''}"


def _print_status(cat, records: list[dict], as_of: date, stored: bool) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    by_code = {t.code: t for t in cat.targets}
    position = {t.code: i for i, t in enumerate(cat.targets)}  # the report's order
    order = {d.code: i for i, d in enumerate(cat.departments)}
    short = {d.code: d.short_zh for d in cat.departments}
    title = f"{cat.plan.name_zh}　截至 {as_of.isoformat()}（{len(records)} 项）"
    if not stored:
        title += "　即时计算，未入库"
    table = Table(title=title, show_lines=False)
    for col, just in (
        ("牵头单位", "left"),
        ("指标", "left"),
        ("实际", "right"),
        ("目标", "right"),
        ("完成率", "right"),
        ("序时进度", "right"),
        ("差距(百分点)", "right"),
        ("状态", "left"),
        ("数据", "left"),
        ("年底预判", "left"),
    ):
        table.add_column(col, justify=just)
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(r["department_code"], []).append(r)
    counts: dict[str, int] = {}
    for dept in sorted(groups, key=lambda d: (order.get(d, 999), d)):
        for i, r in enumerate(
            sorted(groups[dept], key=lambda r: position.get(r["target_code"], 0))
        ):
            t = by_code.get(r["target_code"])
            counts[r["status"]] = counts.get(r["status"], 0) + 1
            name = r["name_zh"] + ("★" if r["headline"] else "")
            table.add_row(
                short.get(dept, dept) if i == 0 else "",
                name,
                (_figure(t, r["actual"]) if t else _fmt(r["actual"]))
                + ("（测算）" if r["computed"] else ""),
                _goal(t) if t else _fmt(r["target_value"]),
                _fmt(r["completion_rate"]) + ("%" if r["completion_rate"] is not None else ""),
                _fmt(r["time_progress"]) + ("%" if r["time_progress"] is not None else ""),
                _fmt(r["gap_pp"], sign=True),
                Text(r["status"], style=STATUS_STYLE.get(r["status"], "")),
                Text(r["data_status"], style=DATA_STYLE.get(r["data_status"], "")),
                Text(r["outlook"] or "—", style=OUTLOOK_STYLE.get(r["outlook"] or "", "dim")),
            )
        table.add_section()
    table.caption = "　".join(f"{s} {counts[s]}" for s in STATUS_STYLE if s in counts)
    Console().print(table)


def register(group: click.Group) -> None:
    """Add this module's commands to `kpi`."""
    group.add_command(status_cmd)
