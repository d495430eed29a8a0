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
    from kpi.cli.params import parse_date_zh

    try:
        return parse_date_zh(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("status")
@click.option(
    "--as-of",
    "as_of",
    callback=_parse_date,
    default=None,
    help="截至日期 YYYY-MM-DD（默认：快照中最近一次计算）；只计当日及以前收到的数据",
)
@click.option(
    "--department", "-d", default=None, help="只看该牵头单位（代码、简称、全称或常用简称）"
)
@click.option("--json", "as_json", is_flag=True, help="JSON 列表输出")
@click.pass_context
def status_cmd(ctx: click.Context, as_of: date | None, department: str | None, as_json: bool):
    """各目标进度：完成率、序时进度、差距、状态、年底预判 / progress of every target."""
    from kpi.catalogue import CatalogueError, UnknownDepartmentError, get_catalogue
    from kpi.config import settings
    from kpi.progress import progress_from_snapshot, progress_records

    cfg = settings()
    try:
        cat = get_catalogue(ctx.obj["plan"])
        dept = cat.require_department(department) if department else None
    except CatalogueError as exc:
        raise click.ClickException(f"目标清单有误：{exc}") from exc
    except (FileNotFoundError, UnknownDepartmentError) as exc:
        raise click.ClickException(str(exc)) from exc
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
    """A canonical value as a bare number in the unit the report writes (the unit heads the row)."""
    from transforms.progress import num

    if x is None:
        return "—"
    if t.kind in ("growth_rate", "relative"):
        return num(x)
    factor = t.canonical_value / t.value if t.value else 1.0
    return num(x / factor)


def _goal(t) -> str:
    """The target as a short figure: ≥227.4, ≤4.5, or the deadline of a milestone."""
    from transforms.progress import num

    if t.kind in ("milestone", "qualitative"):
        return f"{t.deadline.month}月{t.deadline.day}日前"
    sign = {">=": "≥", ">": ">", "<=": "≤"}[t.comparator]
    return f"{sign}{num(t.value)}"


def status_summary_zh(counts: dict[str, int]) -> str:
    """'严重滞后 3　滞后 3　…', worst first (severity order, never character order)."""
    from kpi.progress import by_severity

    return "　".join(f"{s} {n}" for s, n in by_severity(counts))


def _print_status(cat, records: list[dict], as_of: date, stored: bool) -> None:
    """The status table. Figures never wrap or get cut: names, statuses and outlooks wrap.

    Units head the rows (指标（亿元）) so that the figure columns stay narrow: at 80 columns
    every figure is still whole.
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    by_code = {t.code: t for t in cat.targets}
    position = {t.code: i for i, t in enumerate(cat.targets)}  # the report's order
    order = {d.code: i for i, d in enumerate(cat.departments)}
    depts = {d.code: d for d in cat.departments}
    title = f"{cat.plan.name_zh}　截至 {as_of.isoformat()}（{len(records)} 项）"
    if not stored:
        title += "　即时计算，未入库"
    rows: list[tuple] = []
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault(r["department_code"], []).append(r)
    counts: dict[str, int] = {}
    for dept in sorted(groups, key=lambda d: (order.get(d, 999), d)):
        d = depts.get(dept)
        rows.append(("dept", d.short_zh if d else dept))
        for r in sorted(groups[dept], key=lambda r: position.get(r["target_code"], 0)):
            t = by_code.get(r["target_code"])
            counts[r["status"]] = counts.get(r["status"], 0) + 1
            unit = (t.unit if t else r["unit"]) or ""
            name = r["name_zh"] + (f"（{unit}）" if unit else "") + ("★" if r["headline"] else "")
            rate = r["completion_rate"]
            progress = r["time_progress"]
            figures = (
                (_figure(t, r["actual"]) if t else _fmt(r["actual"]))
                + ("（测算）" if r["computed"] else ""),
                _goal(t) if t else _fmt(r["target_value"]),
                _fmt(rate) + ("%" if rate is not None else ""),
                _fmt(progress) + ("%" if progress is not None else ""),
                _fmt(r["gap_pp"], sign=True),
            )
            rows.append(("row", name, figures, r["status"], r["data_status"], r["outlook"]))

    from rich import box

    console = Console()
    heads = ("实际", "目标", "完成率", "序时\n进度", "差距")
    fixed = [
        max(
            [_cells(h) for h in head.split("\n")] + [_cells(r[2][i]) for r in rows if r[0] == "row"]
        )
        for i, head in enumerate(heads)
    ]
    names = [_cells(r[1]) for r in rows]
    # Each column is padded by a cell on either side (not at the edges) and columns are
    # separated by one: 3 cells a column, less 3.
    room = console.width - (3 * (len(heads) + 4) - 3) - sum(fixed)
    # Narrow: the data status joins the status cell (on its own line) instead of a column.
    merged = room < 8 + 16 + 8 + 4
    name_w, status_w, data_w, outlook_w = _text_widths(
        room + 3 if merged else room, max(names, default=8), merged
    )
    table = Table(
        title=title,
        caption=f"{status_summary_zh(counts)}\n差距 = 完成率 − 序时进度（百分点）；★ 主要预期目标",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        header_style="bold",
    )
    table.add_column("指标（单位）", overflow="fold", width=name_w)
    for head, width in zip(heads, fixed, strict=True):
        table.add_column(head, justify="right", no_wrap=True, width=width)
    table.add_column("状态\n数据" if merged else "状态", overflow="fold", width=status_w)
    if not merged:
        table.add_column("数据", overflow="fold", width=data_w)
    table.add_column("年底预判", overflow="fold", width=outlook_w)
    for i, row in enumerate(rows):
        if row[0] == "dept":
            if i:
                table.add_section()
            table.add_row(Text(row[1], style="bold"))
            continue
        _, name, figures, status, data, outlook = row
        state = Text(status, style=STATUS_STYLE.get(status, ""))
        data_text = Text(data, style=DATA_STYLE.get(data, ""))
        if merged and data != "正常":
            state.append("\n").append_text(data_text)
        table.add_row(
            name,
            *figures,
            state,
            *(() if merged else (data_text,)),
            Text(outlook or "—", style=OUTLOOK_STYLE.get(outlook or "", "dim")),
        )
    console.print(table)


def _text_widths(room: int, longest_name: int, merged: bool) -> tuple[int, int, int, int]:
    """Widths of the wrapping columns (name, status, data, outlook) within `room` cells.

    Figures are never squeezed; the text columns start at their least (two characters) and
    get what is left in this order: the status whole, a readable name, the outlook and data
    status on two lines, then the name, then everything whole. Merged: no data column (0).
    """
    widths = {"name": 8, "status": 4, "data": 0 if merged else 4, "outlook": 4}
    steps = (
        ("status", 8),
        ("name", 16),
        ("outlook", 8),
        ("data", 8),
        ("name", min(max(longest_name, 16), 40)),
        ("outlook", 16),
        ("name", max(longest_name, 16)),
    )
    spare = room - sum(widths.values())
    for key, goal in steps:
        if merged and key == "data":
            continue
        grow = max(0, min(goal - widths[key], spare))
        widths[key] += grow
        spare -= grow
    return widths["name"], widths["status"], widths["data"], widths["outlook"]


def _cells(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def register(group: click.Group) -> None:
    """Add this module's commands to `kpi`."""
    group.add_command(status_cmd)
