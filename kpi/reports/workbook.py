"""The leadership workbook: the progress table as a formatted .xlsx, safe against formula injection.

Laid out to be read and printed: the Chinese name first and frozen, rows by department and then
worst first, 缺报 coloured, 说明 wrapped, widths fitted to the text (a CJK character counts
double), every sheet landscape and fitted to one page wide with its title rows repeated. Number
formats follow each value's decimals, so no figure ever shows a trailing point ("90.").
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from kpi.reports import view
from kpi.reports.charts import STATUS_COLOURS
from kpi.reports.data import ReportData

# A text starting with one of these is a formula to Excel, LibreOffice or a CSV export of the
# sheet (OWASP "CSV injection"); full-width forms are folded to ASCII by some importers.
FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
THIN = Side(style="thin", color="C0C7D0")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
PERCENT = "0.0"
POINTS = "+0.0;-0.0;0.0"
INTEGER = "0"
STAMP = "yyyy-mm-dd hh:mm"
DATA_FILLS = {"缺报": ("F6C343", "24292F"), "数据异常": ("C297FF", "24292F")}
TOP = Alignment(vertical="top")
WRAP = Alignment(vertical="top", wrap_text=True)
MIN_WIDTH, MAX_WIDTH = 6, 40  # column widths in Excel units (one Latin digit)
LINE_HEIGHT = 15.0  # points per line of 11 pt text; LibreOffice does not grow rows on opening


def number_format(value: float | int | None) -> str:
    """A format showing the value's own decimals (at most 2), never a bare trailing point."""
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return "General"
    decimals = next((d for d in (0, 1) if round(value, d) == round(value, 2)), 2)
    return "#,##0" + ("." + "0" * decimals if decimals else "")


def safe_text(value: object) -> str:
    """Text a spreadsheet shows and never evaluates: a leading formula character gets a quote."""
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))  # control characters corrupt the file
    return "'" + text if text.startswith(FORMULA_LEAD) else text


def put(ws: Worksheet, row: int, col: int, value: object, fmt: str | None = None) -> Cell:
    """Write one cell: numbers and dates as such, every text as an inert string."""
    cell = ws.cell(row=row, column=col)
    if value is None:
        return cell
    if isinstance(value, bool):
        cell.value = "是" if value else "否"
    elif isinstance(value, int | float | date | datetime):
        if isinstance(value, float) and not math.isfinite(value):
            return cell
        cell.value = value
        if fmt:
            cell.number_format = fmt
    else:
        cell.value = safe_text(value)
        cell.data_type = "s"
    return cell


def sheet_title(name: str, taken: set[str]) -> str:
    """A legal, unique worksheet name (31 characters, none of []:*?/\\)."""
    base = re.sub(r"[\[\]:*?/\\]", "_", unicodedata.normalize("NFC", name)).strip("'") or "单位"
    base, title, n = base[:31], base[:31], 2
    while title.lower() in {t.lower() for t in taken}:
        suffix = f"({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title)
    return title


def display_width(text: str) -> int:
    """How many Latin-digit widths a text takes: CJK and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _shown(cell: Cell) -> str:
    v = cell.value
    if v is None:
        return ""
    if isinstance(v, datetime):
        return "2023-01-01 00:00"
    if isinstance(v, date):
        return "2023-01-01"
    if isinstance(v, int | float):
        return view.fmt_num(v, 2) + ("+" if cell.number_format == POINTS else "")
    return str(v)


def fit_widths(ws: Worksheet, first_row: int, wrapped: set[int]) -> None:
    """Column widths from the longest text at or below `first_row`; wrapped columns are capped."""
    widths: dict[int, int] = {}
    for row in ws.iter_rows(min_row=first_row):
        for cell in row:
            lines = _shown(cell).splitlines() or [""]
            w = max(display_width(line) for line in lines)
            widths[cell.column] = max(widths.get(cell.column, 0), w)
    for col, w in widths.items():
        cap = MAX_WIDTH if col in wrapped else MAX_WIDTH + 20
        ws.column_dimensions[get_column_letter(col)].width = max(MIN_WIDTH, min(w + 2, cap))
    # rows as tall as their wrapped text: Excel and WPS fit them, LibreOffice keeps one line
    for row in ws.iter_rows(min_row=first_row):
        lines = 1
        for cell in row:
            if cell.column not in wrapped or cell.value is None:
                continue
            room = max(1, int(ws.column_dimensions[get_column_letter(cell.column)].width) - 1)
            lines = max(
                lines,
                sum(max(1, -(-display_width(part) // room)) for part in _shown(cell).splitlines()),
            )
        if lines > 1:
            ws.row_dimensions[row[0].row].height = LINE_HEIGHT * lines


def print_setup(ws: Worksheet, title_rows: int) -> None:
    """Landscape A4, one page wide, title rows repeated on every page, page numbers below."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as needed
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_title_rows = f"1:{title_rows}"
    ws.print_options.horizontalCentered = True
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def _status_fill(cell: Cell, status: str | None) -> None:
    colour = STATUS_COLOURS.get(status or "")
    if colour:
        cell.fill = PatternFill("solid", fgColor=colour.lstrip("#").upper())
        cell.font = Font(bold=True, color="24292F" if status == "预警" else "FFFFFF")
        cell.alignment = Alignment(horizontal="center", vertical="top")


def _data_fill(cell: Cell, data_status: str | None) -> None:
    fill = DATA_FILLS.get(data_status or "")
    if fill:
        cell.fill = PatternFill("solid", fgColor=fill[0])
        cell.font = Font(bold=True, color=fill[1])


def _header(ws: Worksheet, row: int, titles: Sequence[str]) -> None:
    for i, title in enumerate(titles, start=1):
        c = put(ws, row, i, title)
        c.font, c.fill, c.border = Font(bold=True), HEADER_FILL, BORDER
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _banner(ws: Worksheet, data: ReportData, title: str) -> None:
    put(ws, 1, 1, title).font = Font(bold=True, size=14)
    put(
        ws,
        2,
        1,
        f"截至 {data.as_of.isoformat()} · 数据更新至 {view.stamp(data.freshness)}"
        f" · 计算于 {view.stamp(data.computed_at)}",
    ).font = Font(color="57606A")


@dataclass(frozen=True)
class Column:
    """One column of a table sheet: its title, its value, its number format, how it shows."""

    title: str
    value: Callable[[dict], object]
    fmt: Callable[[object], str | None] = lambda v: None
    wrap: bool = False


def _table(ws: Worksheet, head: int, columns: Sequence[Column], rows: list[dict]) -> int:
    """Write a header and one row per item; return the last row written."""
    _header(ws, head, [c.title for c in columns])
    n = head
    for n, item in enumerate(rows, start=head + 1):
        for col, spec in enumerate(columns, start=1):
            v = spec.value(item)
            c = put(ws, n, col, v, spec.fmt(v))
            c.border = BORDER
            c.alignment = WRAP if spec.wrap else TOP
            if spec.title == "状态":
                _status_fill(c, v if isinstance(v, str) else None)
            elif spec.title in ("数据状态", "结果"):
                _data_fill(c, v if isinstance(v, str) else None)
    return n


def _sheet(ws: Worksheet, head: int, columns: Sequence[Column], freeze_col: int = 2) -> None:
    """Freeze the header and the name column, filter, fit widths, set up printing."""
    ws.freeze_panes = ws.cell(row=head + 1, column=freeze_col)
    last = max(ws.max_row, head)
    ws.auto_filter.ref = f"A{head}:{get_column_letter(len(columns))}{last}"
    fit_widths(ws, head, {i for i, c in enumerate(columns, start=1) if c.wrap})
    print_setup(ws, head)
    # codes are for analysts on screen; paper keeps its width for what people read
    shown = [i for i, c in enumerate(columns, start=1) if not c.title.endswith("代码")]
    if len(shown) < len(columns):
        ws.print_area = f"A1:{get_column_letter(max(shown))}{last}"


def _fmt_number(v: object) -> str | None:
    return number_format(v) if isinstance(v, int | float) else None


def _fixed(fmt: str) -> Callable[[object], str]:
    return lambda v: fmt


def _mart_value(key: str, factor_of: Callable[[dict], float]) -> Callable[[dict], object]:
    return lambda r: view.scaled(r["mart"].get(key), factor_of(r))


def detail_columns(with_department: bool) -> list[Column]:
    """The columns of a progress sheet (the name first; the code last, for analysts)."""

    def factor(r: dict) -> float:
        return r["factor"]

    def not_ceiling(key: str) -> Callable[[dict], object]:
        return lambda r: None if r["kind"] == "ceiling" else r["mart"].get(key)

    cols = [Column("指标", lambda r: r["firmness"] + r["name"], wrap=True)]
    if with_department:
        cols.append(Column("牵头单位", lambda r: r["department_zh"]))
    cols += [
        Column("类型", lambda r: r["kind_zh"]),
        Column("单位", lambda r: r["unit"]),
        Column("目标值", _mart_value("target_value", factor), _fmt_number),
        Column("实际值", _mart_value("actual", factor), _fmt_number),
        Column(
            "序时要求",
            lambda r: (
                None
                if r["kind"] == "ceiling"
                else view.scaled(r["mart"].get("expected"), r["factor"])
            ),
            _fmt_number,
        ),
        Column("完成率(%)", not_ceiling("completion_rate"), _fixed(PERCENT)),
        Column("序时进度(%)", lambda r: r["mart"].get("time_progress"), _fixed(PERCENT)),
        Column("差距(百分点)", lambda r: r["mart"].get("gap_pp"), _fixed(POINTS)),
        Column("差距", lambda r: r["gap"]),
        Column("状态", lambda r: r["status"]),
        Column("数据状态", lambda r: r["data_status"]),
        Column("年末研判", lambda r: r["outlook"]),
        Column("最新报告期", lambda r: r["mart"].get("latest_period")),
        Column("逾期天数", lambda r: r["mart"].get("days_overdue"), _fixed(INTEGER)),
        Column("说明", lambda r: r["detail"], wrap=True),
        Column("单位备注", lambda r: r["note"], wrap=True),
        Column("指标代码", lambda r: r["code"]),
    ]
    return cols


def _with_mart(data: ReportData, table: list[dict]) -> list[dict]:
    mart = {r["target_code"]: r for r in data.progress}
    targets = {t.code: t for t in data.catalogue.targets}
    out = []
    for r in table:
        m = mart[r["code"]]
        _, factor = view.display_unit(targets.get(r["code"]), m.get("unit"))
        out.append({**r, "mart": m, "factor": 1.0 if r["kind"] in view.BAR_KINDS else factor})
    return out


def _summary(ws: Worksheet, data: ReportData, table: list[dict]) -> None:
    plan = data.catalogue.plan
    _banner(ws, data, f"{plan.district_zh}{plan.year}年目标任务进度汇总")
    ov = view.overview(data, table)
    head = 4
    _header(ws, head, ["牵头单位", *(s for s, _ in ov["totals"]), "合计"])
    row = head
    for line in ov["lines"] + [
        {"department_zh": "合计", "counts": ov["totals"], "total": ov["total"]}
    ]:
        row += 1
        put(ws, row, 1, line["department_zh"]).border = BORDER
        for col, (status, n) in enumerate(line["counts"], start=2):
            c = put(ws, row, col, n, INTEGER)
            c.border = BORDER
            c.alignment = Alignment(horizontal="center")
            if n:
                _status_fill(c, status)
        put(ws, row, len(ov["totals"]) + 2, line["total"], INTEGER).border = BORDER
    ws.cell(row=row, column=1).font = Font(bold=True)
    headline = _with_mart(data, [r for r in table if r["headline"]])
    if headline:
        row += 2
        put(ws, row, 1, "主要预期目标（最需关注的在前）").font = Font(bold=True)
        columns = [
            Column("指标", lambda r: r["firmness"] + r["name"], wrap=True),
            Column("目标", lambda r: r["goal"]),
            Column("实际值", _mart_value("actual", lambda r: r["factor"]), _fmt_number),
            Column("单位", lambda r: r["unit"]),
            Column(
                "完成率(%)",
                lambda r: None if r["kind"] == "ceiling" else r["mart"].get("completion_rate"),
                _fixed(PERCENT),
            ),
            Column("序时进度(%)", lambda r: r["mart"].get("time_progress"), _fixed(PERCENT)),
            Column("差距", lambda r: r["gap"]),
            Column("状态", lambda r: r["status"]),
            Column("年末研判", lambda r: r["outlook"]),
        ]
        row = _table(ws, row + 1, columns, headline)
    row += 2
    put(
        ws,
        row,
        1,
        "谁在滞后见“需关注”；全部指标见“全部指标”与各单位工作表；数据报送见“数据报送”“拒收明细”。",
    )
    ws.freeze_panes = ws.cell(row=head + 1, column=2)
    fit_widths(ws, head, {1})
    print_setup(ws, head)


def _attention(ws: Worksheet, data: ReportData, table: list[dict]) -> None:
    _banner(ws, data, "需关注：严重滞后、滞后、预警（按单位），缺报与数据异常另列")
    att = view.attention(table)
    items = [
        {**r, "level": lv["status"]}
        for lv in att["levels"]
        for g in lv["departments"]
        for r in g["items"]
    ]
    columns = [
        Column("指标", lambda r: r["firmness"] + r["name"], wrap=True),
        Column("牵头单位", lambda r: r["department_zh"]),
        Column("状态", lambda r: r["status"]),
        Column("差距", lambda r: r["gap"]),
        Column("原因", lambda r: r["reason"], wrap=True),
        Column("年末研判", lambda r: r["outlook"]),
    ]
    head = 4
    row = _table(ws, head, columns, items)
    if not items:
        row += 1
        put(ws, row, 1, "没有滞后或预警的目标。")
    problems = [r for p in view.DATA_PROBLEMS for g in att["problems"][p] for r in g["items"]]
    row += 2
    put(ws, row, 1, "缺报与数据异常（数据问题，不是进度问题）").font = Font(bold=True)
    data_columns = [
        Column("指标", lambda r: r["firmness"] + r["name"], wrap=True),
        Column("牵头单位", lambda r: r["department_zh"]),
        Column("数据状态", lambda r: r["data_status"]),
        Column("说明", lambda r: r["data_reason"], wrap=True),
        Column("最新报告期", lambda r: r["latest_period"]),
    ]
    row = _table(ws, row + 1, data_columns, problems)
    if not problems:
        put(ws, row + 1, 1, "无缺报、无数据异常。")
    _sheet(ws, head, columns)


def _submissions(ws: Worksheet, data: ReportData, files: list[dict]) -> None:
    _banner(ws, data, "数据报送情况（与目标进度分开）")
    columns = [
        Column("文件", lambda s: s["file_name"], wrap=True),
        Column("单位", lambda s: s["department_zh"]),
        Column("接收时间", lambda s: s["received_at"], _fixed(STAMP)),
        Column("结果", lambda s: s["status_zh"]),
        Column("行数", lambda s: s["n_rows"], _fixed(INTEGER)),
        Column("接收行", lambda s: s["n_accepted"], _fixed(INTEGER)),
        Column("拒收行", lambda s: s["n_rejected"], _fixed(INTEGER)),
        Column("提示", lambda s: s["n_warnings"], _fixed(INTEGER)),
        Column("修订", lambda s: s["n_revisions"], _fixed(INTEGER)),
        Column("本次夜间运行", lambda s: "是" if s["night_file"] else ""),
        Column("原因", lambda s: s["reason"], wrap=True),
    ]
    _table(ws, 3, columns, files)
    _sheet(ws, 3, columns)


def _rejections(ws: Worksheet, data: ReportData) -> None:
    _banner(ws, data, "被拒收或提示的行")
    names = {t.code: t.name_zh for t in data.catalogue.targets}
    columns = [
        Column("文件", lambda r: r["file_name"], wrap=True),
        Column("接收时间", lambda r: r["received_at"], _fixed(STAMP)),
        Column("工作表", lambda r: r["sheet"]),
        Column("行", lambda r: r["row_number"], _fixed(INTEGER)),
        Column("列", lambda r: r["column_name"]),
        Column("填报值", lambda r: r["value_raw"], wrap=True),
        Column("处理", lambda r: view.SEVERITY_ZH.get(r["severity"], r["severity"])),
        Column(
            "原因",
            lambda r: view.strip_file_prefix(r["reason_zh"], r["file_name"], r.get("sheet")),
            wrap=True,
        ),
        Column("指标", lambda r: names.get(r["target_code"] or "", r["target_code"])),
        Column("报告期", lambda r: r["period"]),
        Column("规则代码", lambda r: r["expectation"]),
    ]
    last = _table(ws, 3, columns, data.rejections)
    if data.rejections_total > len(data.rejections):
        put(ws, last + 1, 1, f"共 {data.rejections_total} 行，此处列出最新的 {len(data.rejections)} 行；"
            "全部见数据仓库 staged.rejections。")  # fmt: skip
    _sheet(ws, 3, columns)


def write_workbook(data: ReportData, path: Path) -> Path:
    """Write the workbook: 汇总, 需关注, 全部指标, a sheet per department, then the data status."""
    table = view.rows(data)
    wb = Workbook()
    taken: set[str] = set()
    summary = wb.active
    summary.title = sheet_title("汇总", taken)
    _summary(summary, data, table)
    _attention(wb.create_sheet(sheet_title("需关注", taken)), data, table)
    rows = _with_mart(data, view.by_department(table))
    everything = wb.create_sheet(sheet_title("全部指标", taken))
    _banner(everything, data, "全部指标（按单位，单位内最需关注的在前）")
    columns = detail_columns(with_department=True)
    _table(everything, 3, columns, rows)
    _sheet(everything, 3, columns)
    names = {d.code: d for d in data.catalogue.departments}
    columns = detail_columns(with_department=False)
    for dept in dict.fromkeys(r["department"] for r in rows):
        d = names.get(dept)
        ws = wb.create_sheet(sheet_title(d.short_zh if d else dept, taken))
        _banner(ws, data, f"{d.name_zh if d else dept} 目标任务进度")
        _table(ws, 3, columns, [r for r in rows if r["department"] == dept])
        _sheet(ws, 3, columns)
    status = view.data_status(data, table)
    night = {s["submission_id"] for s in status["night"]}
    files = {s["submission_id"]: s for s in status["night"] + status["all_files"]}
    listed = sorted(
        ({**s, "night_file": sid in night} for sid, s in files.items()),
        key=lambda s: (s["received_at"], s["file_name"]),
        reverse=True,
    )
    _submissions(wb.create_sheet(sheet_title("数据报送", taken)), data, listed)
    _rejections(wb.create_sheet(sheet_title("拒收明细", taken)), data)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
