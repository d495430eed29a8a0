"""The 分解表 workbook: written with drop-down lists and a 填写说明 sheet, read back bounded."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from kpi.catalogue import KIND_ZH
from kpi.plan.table import (
    CADENCE_ZH,
    COLUMNS,
    COMPARATOR_ZH,
    FIRMNESS_LABEL,
    HEADERS,
    HELP_SHEET,
    HELP_ZH,
    LISTS_SHEET,
    PLAN_SHEET,
    REFERENCE_LABEL,
    SHEET,
)
from transforms.progress import PACE_ZH

FORMULA_START = ("=", "+", "-", "@")
MAX_ROWS = 5000  # a district's plan has ~100-300 rows; more is not a 分解表
MAX_COLUMNS = 60
MAX_CELL_CHARS = 4000  # a clause of a report, with room to spare
HEADER_ROW = 2
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_EXTRA_FILL = PatternFill("solid", fgColor="EDEDED")


class WorkbookError(ValueError):
    """The file cannot be read as a 分解表 at all (Chinese message for the user)."""


def _put(ws, row: int, col: int, value: object):
    """One cell: numbers and dates as such; text always inert (never a formula)."""
    cell = ws.cell(row=row, column=col)
    if value is None or value == "":
        return cell
    if isinstance(value, bool):
        value = "是" if value else "否"
    if isinstance(value, int | float | date | datetime) and not isinstance(value, bool):
        cell.value = value
        if isinstance(value, date):
            cell.number_format = "yyyy-mm-dd"
        return cell
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    cell.value = text
    cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
    if text.startswith(FORMULA_START):
        cell.quotePrefix = True  # and Excel/WPS would evaluate it when the cell is edited
    return cell


def _lists(departments: list[str]) -> dict[str, list[str]]:
    return {
        "类型": list(KIND_ZH.values()),
        "比较": list(COMPARATOR_ZH.values()),
        "单位": departments,
        "报送周期": list(CADENCE_ZH.values()),
        "序时进度曲线": list(PACE_ZH.values()),
        "是否": ["是", "否"],
        "力度": list(FIRMNESS_LABEL.values()),
        "参照": list(REFERENCE_LABEL.values()),
    }


# column key -> the list (of _lists) its drop-down offers
_DROPDOWNS = {
    "kind": "类型",
    "comparator": "比较",
    "department": "单位",
    "cadence": "报送周期",
    "pace": "序时进度曲线",
    "headline": "是否",
    "firmness": "力度",
    "reference": "参照",
}


def write_workbook(
    path: Path,
    rows: list[dict[str, object]],
    info: list[tuple[str, object]],
    departments: list[str],
    title: str,
) -> Path:
    """Write a 分解表 workbook: the table, plan information, instructions, drop-down lists."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    _put(ws, 1, 1, title)
    ws.cell(row=1, column=1).font = Font(bold=True, size=14)
    for j, c in enumerate(COLUMNS, start=1):
        cell = _put(ws, HEADER_ROW, j, c.header)
        cell.font = Font(bold=True)
        cell.fill = _HEAD_FILL if j <= 14 else _EXTRA_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(j)].width = c.width
    wrap = Alignment(wrap_text=True, vertical="top")
    for i, row in enumerate(rows, start=HEADER_ROW + 1):
        for j, c in enumerate(COLUMNS, start=1):
            cell = _put(ws, i, j, row.get(c.key))
            if c.key in ("name_zh", "source", "notes", "supporting", "baseline_note"):
                cell.alignment = wrap
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=3)
    last = max(HEADER_ROW + len(rows) + 200, 300)  # room for rows the office adds

    lists = wb.create_sheet(LISTS_SHEET)
    ranges = {}
    for j, (name, values) in enumerate(_lists(departments).items(), start=1):
        _put(lists, 1, j, name)
        for i, v in enumerate(values, start=2):
            _put(lists, i, j, v)
        col = get_column_letter(j)
        ranges[name] = f"{LISTS_SHEET}!${col}$2:${col}${max(len(values), 1) + 1}"
    lists.sheet_state = "hidden"
    for j, c in enumerate(COLUMNS, start=1):
        name = _DROPDOWNS.get(c.key)
        if name is None:
            continue
        dv = DataValidation(type="list", formula1=ranges[name], allow_blank=True)
        dv.error = f"请从下拉列表中选择{c.header}"
        dv.errorTitle = c.header
        dv.prompt = c.help_zh
        dv.promptTitle = c.header
        dv.showErrorMessage = True
        dv.showInputMessage = True
        col = get_column_letter(j)
        dv.add(f"{col}{HEADER_ROW + 1}:{col}{last}")
        ws.add_data_validation(dv)
    # 责任单位 takes several names: a prompt, not a list
    dv = DataValidation(type="textLength", operator="lessThanOrEqual", formula1="500")
    dv.prompt, dv.promptTitle = COLUMNS[9].help_zh, COLUMNS[9].header
    dv.showInputMessage = True
    col = get_column_letter(10)
    dv.add(f"{col}{HEADER_ROW + 1}:{col}{last}")
    ws.add_data_validation(dv)

    info_ws = wb.create_sheet(PLAN_SHEET)
    _put(info_ws, 1, 1, "项目")
    _put(info_ws, 1, 2, "内容")
    for i, (label, value) in enumerate(info, start=2):
        _put(info_ws, i, 1, label)
        _put(info_ws, i, 2, value)
        info_ws.cell(row=i, column=2).alignment = wrap
    info_ws.column_dimensions["A"].width = 14
    info_ws.column_dimensions["B"].width = 90

    help_ws = wb.create_sheet(HELP_SHEET)
    help_ws.column_dimensions["A"].width = 120
    for i, line in enumerate(HELP_ZH, start=1):
        cell = _put(help_ws, i, 1, line)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if i == 1 or line[:2] in ("一、", "二、", "三、", "四、", "五、"):
            cell.font = Font(bold=True)
    # The 分解表 opens first, whatever order the sheets were created in.
    wb.active = 0
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(buf.getvalue())
    return path


@dataclass
class Sheet:
    """What was read from a 分解表 workbook."""

    rows: list[tuple[int, dict[str, object]]]  # (row number as Excel shows it, header -> value)
    info: dict[str, object] = field(default_factory=dict)
    headers: dict[str, int] = field(default_factory=dict)  # header -> column number


def check_file(path: Path, max_bytes: int, max_uncompressed: int) -> None:
    """Refuse a file that is too large, not an .xlsx, or a zip bomb, before parsing it."""
    path = Path(path)
    if not path.is_file():
        raise WorkbookError(f"文件不存在：{path.name}")
    size = path.stat().st_size
    if size == 0:
        raise WorkbookError(f"文件为空：{path.name}")
    if size > max_bytes:
        raise WorkbookError(f"文件过大：{path.name}（{size} 字节，上限 {max_bytes}）")
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise WorkbookError(f"文件已损坏或不是 .xlsx 工作簿：{path.name}") from exc
    if total > max_uncompressed:
        raise WorkbookError(f"文件解压后过大：{path.name}（{total} 字节，上限 {max_uncompressed}）")


def _cell(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_CELL_CHARS:
            return text[: MAX_CELL_CHARS + 1]  # the importer names it as too long
        return text
    return value


def read_workbook(path: Path, max_bytes: int, max_uncompressed: int) -> Sheet:
    """The 分解表 rows and 计划信息 of a workbook, bounded in size, rows and columns."""
    check_file(path, max_bytes, max_uncompressed)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a broken file
        raise WorkbookError(f"无法读取工作簿：{Path(path).name}（{type(exc).__name__}）") from exc
    try:
        if SHEET not in wb.sheetnames:
            raise WorkbookError(f"工作簿中没有“{SHEET}”工作表")
        ws = wb[SHEET]
        sheet = _read_table(ws)
        if PLAN_SHEET in wb.sheetnames:
            for r in wb[PLAN_SHEET].iter_rows(min_row=2, max_row=200, max_col=2, values_only=True):
                if r and r[0] not in (None, ""):
                    sheet.info[str(r[0]).strip()] = _cell(r[1] if len(r) > 1 else None)
        return sheet
    finally:
        wb.close()


def _read_table(ws) -> Sheet:
    header_at, headers = None, {}
    rows: list[tuple[int, dict[str, object]]] = []
    for i, raw in enumerate(ws.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
        if header_at is None:
            names = [str(v).strip() if v is not None else "" for v in raw]
            if "目标任务" in names and "原文" in names:
                header_at = i
                headers = {n: j for j, n in enumerate(names) if n in HEADERS}
            elif i >= 10:
                raise WorkbookError(f"“{SHEET}”前 10 行中找不到表头（应含“目标任务”和“原文”两列）")
            continue
        cells = {h: _cell(raw[j]) if j < len(raw) else None for h, j in headers.items()}
        if all(v in (None, "") for v in cells.values()):
            continue
        rows.append((i, cells))
        if len(rows) > MAX_ROWS:
            raise WorkbookError(f"“{SHEET}”超过 {MAX_ROWS} 行，不像一张分解表")
    if header_at is None:
        raise WorkbookError(f"“{SHEET}”中找不到表头（应含“目标任务”和“原文”两列）")
    return Sheet(rows=rows, headers={h: j + 1 for h, j in headers.items()})
