"""Department submission templates: the contract of kpi.contract written as .xlsx or .csv."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from copy import copy
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import click
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.writer.excel import ExcelWriter

from kpi.catalogue import KIND_ZH, Catalogue, Department, Target
from kpi.contract import COLUMNS, KIND_FIELDS, KIND_HELP_ZH, STATUS_VOCAB, reporting_months

SHEET_FORM = "填报表"
SHEET_HELP = "填报说明"
TITLE_ROW = 1  # merged title above the header
HEADER_ROW = 2
FIRST_DATA_ROW = 3
FIELDS: tuple[str, ...] = tuple(c.field for c in COLUMNS)
HEADERS_ZH: tuple[str, ...] = tuple(c.header_zh for c in COLUMNS)
PREFILLED = ("department", "period", "code", "name", "unit")
# Characters that make a spreadsheet treat a cell as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COMPARATOR_ZH = {">=": "≥", "<=": "≤", ">": ">", "done": "完成"}
# Zip entries get this timestamp so that the same workbook always has the same bytes.
ZIP_EPOCH = (2023, 1, 1, 0, 0, 0)
_PERIOD = re.compile(r"^\s*(\d{4})\s*(?:-|/|\.|年)?\s*(\d{1,2})\s*月?\s*$")
_CORE_TIME = re.compile(
    rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:(?:created|modified)>)"
)

_FILL_HEADER = PatternFill("solid", fgColor="D9E1F2")
_FILL_PREFILLED = PatternFill("solid", fgColor="F2F2F2")
_FILL_INPUT = PatternFill("solid", fgColor="FFF2CC")
_THIN = Side(style="thin", color="A6A6A6")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WIDTHS = {
    "department": 12,
    "period": 10,
    "unit": 10,
    "value": 14,
    "growth_pct": 13,
    "prior_value": 13,
    "reference_value": 13,
    "status": 11,
    "completion_date": 13,
    "note": 30,
}


class TemplateError(ValueError):
    """A template that cannot be written: unknown department, bad period, nothing due."""


@dataclass(frozen=True)
class Period:
    """A reporting month of the plan."""

    year: int
    month: int

    @property
    def code(self) -> str:
        """'YYYY-MM', as the template pre-fills it."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def zh(self) -> str:
        """'2023年6月'."""
        return f"{self.year}年{self.month}月"


def parse_period(text: str) -> Period:
    """A period written 2023-06, 202306, 2023/6 or 2023年6月."""
    m = _PERIOD.match(unicodedata.normalize("NFKC", str(text)))
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise TemplateError(f"报告期“{text}”无法识别，请写作 2023-06")
    return Period(int(m.group(1)), int(m.group(2)))


def safe_text(value: object) -> str:
    """Text a spreadsheet shows as written: a leading formula character gets an apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def due_targets(cat: Catalogue, department: str, period: Period) -> list[Target]:
    """The targets a department reports for a period, in catalogue order."""
    return [
        t
        for t in cat.targets_of(department)
        if period.month in reporting_months(t.kind, t.cadence) and period.year == cat.plan.year
    ]


def due_date(t: Target, period: Period) -> date:
    """The day a target's report for a period is due: its due_day of the following month."""
    y, m = (period.year + 1, 1) if period.month == 12 else (period.year, period.month + 1)
    return date(y, m, t.due_day)


def template_title(cat: Catalogue, dept: Department, period: Period) -> str:
    """The title written above the header."""
    return (
        f"{cat.plan.district_zh}{cat.plan.year}年目标任务进展填报表"
        f"（{dept.short_zh} · {period.zh}）"
    )


def template_file_name(dept: Department, period: Period, fmt: str = "xlsx") -> str:
    """The file name a department sends back, e.g. 发改委_2023年6月.xlsx."""
    return f"{dept.short_zh}_{period.zh}.{fmt}"


def template_rows(cat: Catalogue, dept: Department, period: Period) -> list[dict[str, str]]:
    """One pre-filled row per due target: field -> text (empty for what the department enters)."""
    rows = []
    for t in due_targets(cat, dept.code, period):
        row = dict.fromkeys(FIELDS, "")
        row.update(
            department=dept.short_zh,
            period=period.code,
            code=t.code,
            name=t.name_zh,
            unit=t.unit or "",
        )
        rows.append(row)
    return rows


def resolve(cat: Catalogue, department: str, period: str | Period) -> tuple[Department, Period]:
    """The department and period a template is asked for, checked against the plan."""
    dept = cat.resolve_department(department)
    if dept is None:
        raise TemplateError(cat.unknown_department_zh(department, list_all=True))
    p = period if isinstance(period, Period) else parse_period(period)
    if p.year != cat.plan.year:
        raise TemplateError(f"报告期 {p.code} 不在计划年度 {cat.plan.year} 内")
    if not due_targets(cat, dept.code, p):
        raise TemplateError(f"{dept.short_zh} 在 {p.zh} 没有需要报送的指标")
    return dept, p


def _goal_zh(t: Target) -> str:
    if t.value is None:
        return f"{t.deadline.month}月{t.deadline.day}日前完成"
    return f"{COMPARATOR_ZH[t.comparator]} {t.value:g}{t.unit or ''}"


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _put(ws, row: int, col: int, value: object):
    """Write a cell; text is always stored as text, never as a formula."""
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
        if value.startswith(FORMULA_START):
            cell.quotePrefix = True
    else:
        cell.value = value
    return cell


def instructions_zh(cat: Catalogue, dept: Department, period: Period) -> list[str]:
    """The lines of the instructions sheet above its table of due targets."""
    targets = due_targets(cat, dept.code, period)
    lines = [
        f"{template_title(cat, dept, period)} 填报说明",
        "",
        "一、报送时间",
    ]
    by_day: dict[date, list[str]] = {}
    for t in targets:
        by_day.setdefault(due_date(t, period), []).append(KIND_ZH[t.kind])
    for d in sorted(by_day):
        kinds = "、".join(dict.fromkeys(by_day[d]))
        lines.append(f"  请于 {d.year}年{d.month}月{d.day}日前报送（{kinds}）。")
    lines += ["", "二、各类指标填写方法"]
    for kind in dict.fromkeys(t.kind for t in targets):
        lines.append(f"  {KIND_HELP_ZH[kind]}")
    if period.month == 2 and any(t.kind in ("growth_rate", "cumulative") for t in targets):
        lines.append("  1-2月合并报送：增速类和累计量指标本期填报1-2月累计数，1月不单独报送。")
    lines += ["", "三、各列说明"]
    lines += [f"  {c.header_zh}：{c.help_zh}" for c in COLUMNS]
    lines += [
        "",
        "四、填报规则",
        "  1. 每个指标一行，同一报表内同一指标同一报告期只能出现一次。",
        "  2. 请勿修改、删除或新增“指标代码”；不属于本单位的指标请勿填报。",
        "  3. 计量单位以模板为准；如改用其他单位（如万元、亿元），必须能够换算，否则该行不予接收。",
        "  4. 数值只填数字（可带千分位逗号），不要填写文字或公式。",
        f"  5. 进展状态只能选择：{' / '.join(STATUS_VOCAB)}；选择“已完成”须填写完成日期。",
        "  6. 报送后发现数据有误，可重新报送同一报告期的报表，以最后一次报送为准。",
        "",
        "五、本期应报指标",
    ]
    return lines


def _style_data_cell(cell, fill: PatternFill | None, is_date: bool, styled: dict) -> None:
    """Border, fill and date format of a data cell, as one style array per kind of cell.

    Setting a style looks it up in the workbook's list by its hash, which openpyxl computes
    field by field each time (most of a template's build). The first cell of each kind is styled
    so; the others get a copy of its array (what openpyxl's own sheet copier does): the same
    indices, the same bytes.
    """
    key = (tuple(cell._style or ()), id(fill), is_date)
    if key in styled:
        cell._style = copy(styled[key])
        return
    cell.border = _BORDER
    if fill is not None:
        cell.fill = fill
    if is_date:
        cell.number_format = "yyyy-mm-dd"
    styled[key] = copy(cell._style)


def build_workbook(cat: Catalogue, dept: Department, period: Period) -> Workbook:
    """The template workbook: sheet 填报表 (title, header, pre-filled rows) and 填报说明."""
    targets = due_targets(cat, dept.code, period)
    rows = template_rows(cat, dept, period)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_FORM
    ncol = len(COLUMNS)
    _put(ws, TITLE_ROW, 1, template_title(cat, dept, period))
    ws.merge_cells(start_row=TITLE_ROW, start_column=1, end_row=TITLE_ROW, end_column=ncol)
    title = ws.cell(TITLE_ROW, 1)
    title.font = Font(bold=True, size=14)
    title.alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[TITLE_ROW].height = 28
    for j, header in enumerate(HEADERS_ZH, start=1):
        cell = _put(ws, HEADER_ROW, j, header)
        cell.font = Font(bold=True)
        cell.fill = _FILL_HEADER
        cell.border = _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    styled: dict[tuple, StyleArray] = {}
    for i, (t, row) in enumerate(zip(targets, rows, strict=True)):
        r = FIRST_DATA_ROW + i
        inputs = set(KIND_FIELDS[t.kind])
        if t.kind in ("milestone", "qualitative"):
            inputs.add("completion_date")
        if t.kind == "relative":
            inputs.add("reference_value")
        for j, field in enumerate(FIELDS, start=1):
            cell = _put(ws, r, j, row[field]) if row[field] else ws.cell(r, j)
            fill = (
                _FILL_PREFILLED if field in PREFILLED else _FILL_INPUT if field in inputs else None
            )
            _style_data_cell(cell, fill, field == "completion_date", styled)
    last = FIRST_DATA_ROW + len(rows) - 1
    status_col = get_column_letter(FIELDS.index("status") + 1)
    dv = DataValidation(
        type="list",
        formula1='"' + ",".join(STATUS_VOCAB) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="进展状态",
        error="请从下拉列表选择：" + " / ".join(STATUS_VOCAB),
        showInputMessage=True,
        promptTitle="进展状态",
        prompt="节点任务、定性任务从列表选择",
    )
    dv.add(f"{status_col}{FIRST_DATA_ROW}:{status_col}{max(last, FIRST_DATA_ROW)}")
    ws.add_data_validation(dv)
    ws.freeze_panes = ws.cell(FIRST_DATA_ROW, 1).coordinate
    code_w = max([_display_width(r["code"]) for r in rows] + [10]) + 2
    name_w = min(max([_display_width(r["name"]) for r in rows] + [10]) + 2, 48)
    for j, field in enumerate(FIELDS, start=1):
        width = {"code": code_w, "name": name_w}.get(field, _WIDTHS.get(field, 12))
        ws.column_dimensions[get_column_letter(j)].width = width

    help_ws = wb.create_sheet(SHEET_HELP)
    lines = instructions_zh(cat, dept, period)
    for i, line in enumerate(lines, start=1):
        cell = _put(help_ws, i, 1, line)
        if i == 1 or (line and not line.startswith(" ")):
            cell.font = Font(bold=True, size=14 if i == 1 else 11)
    r0 = len(lines) + 1
    head = ("指标代码", "指标名称", "类型", "目标", "完成时限", "报送截止")
    for j, h in enumerate(head, start=1):
        cell = _put(help_ws, r0, j, h)
        cell.font = Font(bold=True)
        cell.fill = _FILL_HEADER
        cell.border = _BORDER
    for i, t in enumerate(targets, start=1):
        d = due_date(t, period)
        cells = (
            t.code,
            t.firmness_zh + t.name_zh,
            KIND_ZH[t.kind],
            _goal_zh(t),
            t.deadline.isoformat(),
            d.isoformat(),
        )
        for j, v in enumerate(cells, start=1):
            _style_data_cell(_put(help_ws, r0 + i, j, v), None, False, styled)
    for j, w in enumerate((code_w, name_w, 10, 16, 12, 12), start=1):
        help_ws.column_dimensions[get_column_letter(j)].width = w
    help_ws.column_dimensions["A"].width = max(code_w, 24)
    return wb


def workbook_bytes(wb: Workbook, timestamp: datetime) -> bytes:
    """The .xlsx bytes of a workbook, identical for identical content and timestamp."""
    wb.properties.creator = "kpi-pipeline"
    wb.properties.lastModifiedBy = "kpi-pipeline"
    wb.properties.created = timestamp
    wb.properties.modified = timestamp  # both replaced by `stamp` below
    raw = io.BytesIO()
    # What wb.save does, without compressing: every entry is compressed once, below. Its zip
    # entries carry local time, replaced below too.
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()
    stamp = timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(raw) as zin,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout,
    ):
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _CORE_TIME.sub(lambda m: m.group(1) + stamp + m.group(3), data)
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            zout.writestr(entry, data)
    return out.getvalue()


def csv_bytes(
    rows: list[dict[str, object]],
    headers: tuple[str, ...] = HEADERS_ZH,
    encoding: str = "utf-8-sig",
) -> bytes:
    """A header row and the rows as CSV (CRLF, as Excel writes it); text made formula-safe."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([safe_text(row.get(f, "")) for f in FIELDS])
    return buf.getvalue().encode(encoding)


def template_bytes(cat: Catalogue, dept: Department, period: Period, fmt: str = "xlsx") -> bytes:
    """The template of a department for a period as file bytes (xlsx or csv)."""
    if fmt == "csv":
        return csv_bytes(template_rows(cat, dept, period))
    if fmt != "xlsx":
        raise TemplateError(f"不支持的格式：{fmt}（可选 xlsx、csv）")
    # Stamped with the first day of the reporting month after the period: stable bytes.
    y, m = (period.year + 1, 1) if period.month == 12 else (period.year, period.month + 1)
    return workbook_bytes(build_workbook(cat, dept, period), datetime(y, m, 1))


FORMATS = ("xlsx", "csv")


def output_path(
    dept: Department, period: Period, output: Path | str | None, fmt: str | None, folder: Path
) -> tuple[Path, str]:
    """Where a template goes and in which format: the format follows the file's extension.

    No output: `folder`/<单位>_<报告期>.<fmt>. An existing folder: that name inside it. A file
    name without extension gets the format's; an extension other than .xlsx/.csv, or one that
    contradicts `fmt`, is refused.
    """
    if fmt is not None and fmt not in FORMATS:
        raise TemplateError(f"不支持的格式：{fmt}（可选 xlsx、csv）")
    if output is None or Path(output).is_dir():
        where = folder if output is None else Path(output)
        chosen = fmt or "xlsx"
        return where / template_file_name(dept, period, chosen), chosen
    out = Path(output)
    ext = out.suffix.lower().lstrip(".")
    if not ext:
        chosen = fmt or "xlsx"
        return out.with_name(f"{out.name}.{chosen}"), chosen
    if ext not in FORMATS:
        raise TemplateError(f"输出文件“{out.name}”的扩展名应为 .xlsx 或 .csv")
    if fmt is not None and fmt != ext:
        raise TemplateError(f"格式 {fmt} 与输出文件“{out.name}”的扩展名 .{ext} 不一致")
    return out, ext


def write_template(
    cat: Catalogue,
    department: str,
    period: str | Period,
    path: Path | str | None = None,
    fmt: str = "xlsx",
) -> Path:
    """Write a department's template for a period; return the file written.

    Without a path the file goes into the current folder under its usual name; a path whose
    extension contradicts `fmt` is refused (a CSV never hides under an .xlsx name).
    """
    dept, p = resolve(cat, department, period)
    out, fmt = output_path(dept, p, path, fmt, Path.cwd())
    if not out.parent.is_dir():
        raise TemplateError(f"输出目录不存在：{out.parent}")
    data = template_bytes(cat, dept, p, fmt)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(out)  # a half-written template never sits under the real name
    return out


@click.command("template")
@click.option("--department", "-d", required=True, help="单位代码或名称，如 fgw、发改委、区发改委")
@click.option("--period", "-p", required=True, help="报告期，如 2023-06")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="输出文件或目录（默认 <home>/templates/单位_报告期.xlsx）；格式随扩展名 .xlsx/.csv",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="xlsx 或 csv（默认随 -o 的扩展名，否则 xlsx）；与扩展名矛盾时报错",
)
@click.pass_context
def template_cmd(
    ctx: click.Context, department: str, period: str, output: Path | None, fmt: str | None
) -> None:
    """生成单位填报模板 / write a department's submission template for a period."""
    from kpi.catalogue import CatalogueError, get_catalogue
    from kpi.config import settings

    try:
        cat = get_catalogue(ctx.obj["plan"])
        dept, p = resolve(cat, department, period)
        folder = settings().home / "templates"
        path, chosen = output_path(dept, p, output, fmt, folder)
        if output is None:
            folder.mkdir(parents=True, exist_ok=True)
        path = write_template(cat, dept.code, p, path, chosen)
    except CatalogueError as exc:
        raise click.ClickException(f"目标清单有误：{exc}") from exc
    except (FileNotFoundError, TemplateError) as exc:
        raise click.ClickException(str(exc)) from exc
    n = len(due_targets(cat, dept.code, p))
    click.echo(f"已生成 {path}（{dept.short_zh} · {p.zh} · {n} 项指标）")
