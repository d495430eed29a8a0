"""The leadership workbook: the progress table as a formatted .xlsx, safe against formula injection."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
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
NUMBER = "#,##0.##"
PERCENT = "0.0"
POINTS = "+0.0;-0.0;0.0"
DETAIL_COLUMNS = (
    ("代码", 18),
    ("指标", 34),
    ("力度", 6),
    ("类型", 8),
    ("单位", 8),
    ("目标值", 12),
    ("实际值", 12),
    ("序时要求", 12),
    ("完成率(%)", 10),
    ("序时进度(%)", 11),
    ("差距(百分点)", 12),
    ("状态", 9),
    ("数据状态", 9),
    ("年末研判", 16),
    ("最新报告期", 11),
    ("逾期天数", 9),
    ("说明", 40),
    ("单位备注", 30),
)

STATUS_COLUMN = next(i for i, (title, _) in enumerate(DETAIL_COLUMNS, start=1) if title == "状态")


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


def _status_fill(cell: Cell, status: str | None) -> None:
    colour = STATUS_COLOURS.get(status or "")
    if colour:
        cell.fill = PatternFill("solid", fgColor=colour.lstrip("#").upper())
        cell.font = Font(bold=True, color="24292F" if status == "预警" else "FFFFFF")
        cell.alignment = Alignment(horizontal="center")


def _header(ws: Worksheet, row: int, columns: tuple[tuple[str, int], ...]) -> None:
    for i, (title, width) in enumerate(columns, start=1):
        c = put(ws, row, i, title)
        c.font, c.fill, c.border = Font(bold=True), HEADER_FILL, BORDER
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = ws.cell(row=row + 1, column=1)
    ws.auto_filter.ref = f"A{row}:{get_column_letter(len(columns))}{row}"


def _banner(ws: Worksheet, data: ReportData, title: str) -> None:
    put(ws, 1, 1, title).font = Font(bold=True, size=14)
    put(
        ws,
        2,
        1,
        f"截至 {data.as_of.isoformat()} · 数据更新至 {view.stamp(data.freshness)}"
        f" · 计算于 {view.stamp(data.computed_at)}",
    ).font = Font(color="57606A")


def _detail_rows(ws: Worksheet, start: int, rows: list[dict], data: ReportData) -> None:
    mart = {r["target_code"]: r for r in data.progress}
    for i, r in enumerate(rows):
        m, n = mart[r["code"]], start + i
        _, factor = view.display_unit(
            next((t for t in data.catalogue.targets if t.code == r["code"]), None), m.get("unit")
        )
        if r["kind"] in view.BAR_KINDS:
            factor = 1.0
        values = (
            r["code"],
            r["name"],
            r["firmness"],
            r["kind_zh"],
            r["unit"],
            view.scaled(m.get("target_value"), factor),
            view.scaled(m.get("actual"), factor),
            view.scaled(m.get("expected"), factor),
            m.get("completion_rate"),
            m.get("time_progress"),
            m.get("gap_pp"),
            r["status"],
            r["data_status"],
            r["outlook"],
            m.get("latest_period"),
            m.get("days_overdue"),
            r["detail"],
            r["note"],
        )
        formats = (None, None, None, None, None, NUMBER, NUMBER, NUMBER, PERCENT, PERCENT, POINTS)
        for col, v in enumerate(values, start=1):
            c = put(ws, n, col, v, formats[col - 1] if col <= len(formats) else "0")
            c.border = BORDER
            if col in (2, 17, 18):
                c.alignment = Alignment(wrap_text=True, vertical="top")
        _status_fill(ws.cell(row=n, column=STATUS_COLUMN), r["status"])


def _summary(ws: Worksheet, data: ReportData, table: list[dict]) -> None:
    plan = data.catalogue.plan
    _banner(ws, data, f"{plan.district_zh}{plan.year}年目标任务进度汇总")
    ov = view.overview(data, table)
    columns = (("牵头单位", 16),) + tuple((s, 10) for s, _ in ov["totals"]) + (("合计", 8),)
    _header(ws, 4, columns)
    row = 5
    for line in ov["lines"] + [
        {"department_zh": "合计", "counts": ov["totals"], "total": ov["total"]}
    ]:
        put(ws, row, 1, line["department_zh"]).border = BORDER
        for col, (status, n) in enumerate(line["counts"], start=2):
            c = put(ws, row, col, n, "0")
            c.border = BORDER
            c.alignment = Alignment(horizontal="center")
            if n:
                _status_fill(c, status)
        put(ws, row, len(columns), line["total"], "0").border = BORDER
        row += 1
    ws.cell(row=row - 1, column=1).font = Font(bold=True)
    headline = [r for r in table if r["headline"]]
    if headline:
        row += 1
        put(ws, row, 1, "主要预期目标").font = Font(bold=True)
        row += 1
        titles = (
            "指标",
            "目标",
            "实际",
            "完成率(%)",
            "序时进度(%)",
            "差距(百分点)",
            "状态",
            "年末研判",
        )
        for col, title in enumerate(titles, start=1):
            c = put(ws, row, col, title)
            c.font, c.fill, c.border = Font(bold=True), HEADER_FILL, BORDER
        mart = {m["target_code"]: m for m in data.progress}
        for r in headline:
            row += 1
            m = mart[r["code"]]
            values = (
                r["name"],
                r["goal"],
                f"{r['actual']} {r['unit']}".strip(),
                m.get("completion_rate"),
                m.get("time_progress"),
                m.get("gap_pp"),
                r["status"],
                r["outlook"],
            )
            formats = (None, None, None, PERCENT, PERCENT, POINTS, None, None)
            for col, (v, fmt) in enumerate(zip(values, formats, strict=True), start=1):
                put(ws, row, col, v, fmt).border = BORDER
            _status_fill(ws.cell(row=row, column=7), r["status"])
    row += 2
    put(ws, row, 1, "全部指标明细见各单位工作表；数据报送情况见“数据报送”“拒收明细”。")


def _submissions(ws: Worksheet, data: ReportData) -> None:
    names = {d.code: d.short_zh for d in data.catalogue.departments}
    _banner(ws, data, "数据报送情况（与目标进度分开）")
    cols = (
        ("接收时间", 18),
        ("单位", 12),
        ("文件", 36),
        ("结果", 10),
        ("行数", 8),
        ("接收行", 8),
        ("拒收行", 8),
        ("提示", 8),
        ("修订", 8),
        ("原因", 40),
    )
    _header(ws, 3, cols)
    for i, s in enumerate(data.submissions, start=4):
        values = (
            s["received_at"],
            names.get(s["department_code"] or "", s["department_code"] or "未识别单位"),
            s["file_name"],
            view.SUBMISSION_STATUS_ZH.get(s["status"], s["status"]),
            s["n_rows"],
            s["n_accepted"],
            s["n_rejected"],
            s["n_warnings"],
            s["n_revisions"],
            s["reason_zh"],
        )
        for col, v in enumerate(values, start=1):
            put(ws, i, col, v, "yyyy-mm-dd hh:mm" if col == 1 else "0").border = BORDER


def _rejections(ws: Worksheet, data: ReportData) -> None:
    _banner(ws, data, "被拒收或提示的行")
    cols = (
        ("接收时间", 18),
        ("文件", 36),
        ("工作表", 12),
        ("行", 6),
        ("列", 12),
        ("填报值", 20),
        ("处理", 8),
        ("原因", 44),
        ("规则", 24),
        ("指标代码", 18),
        ("报告期", 10),
    )
    _header(ws, 3, cols)
    for i, r in enumerate(data.rejections, start=4):
        values = (
            r["received_at"],
            r["file_name"],
            r["sheet"],
            r["row_number"],
            r["column_name"],
            r["value_raw"],
            view.SEVERITY_ZH.get(r["severity"], r["severity"]),
            r["reason_zh"],
            r["expectation"],
            r["target_code"],
            r["period"],
        )
        for col, v in enumerate(values, start=1):
            put(ws, i, col, v, "yyyy-mm-dd hh:mm" if col == 1 else "0").border = BORDER


def write_workbook(data: ReportData, path: Path) -> Path:
    """Write the workbook: 汇总, one sheet per department, then the data status sheets."""
    table = view.rows(data)
    wb = Workbook()
    summary = wb.active
    taken: set[str] = set()
    summary.title = sheet_title("汇总", taken)
    _summary(summary, data, table)
    names = {d.code: d for d in data.catalogue.departments}
    for dept in dict.fromkeys(r["department"] for r in table):
        d = names.get(dept)
        ws = wb.create_sheet(sheet_title(d.short_zh if d else dept, taken))
        _banner(ws, data, f"{d.name_zh if d else dept} 目标任务进度")
        _header(ws, 3, DETAIL_COLUMNS)
        _detail_rows(ws, 4, [r for r in table if r["department"] == dept], data)
    _submissions(wb.create_sheet(sheet_title("数据报送", taken)), data)
    _rejections(wb.create_sheet(sheet_title("拒收明细", taken)), data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    wb.save(tmp)
    tmp.replace(path)
    return path
