"""The template a department downloads: kpi.templates' own, plus last period's figures beside it.

The reference column is headed 上期填报（仅供参考）: no header of the submission contract, so
ingest ignores it (extra columns are accepted), and the file goes back unchanged. Figures come
from the snapshot, formatted from stored numbers in the template's unit (never a department's
text echoed back), and every cell is written as text that a spreadsheet cannot evaluate.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from openpyxl.styles import Alignment, Font, PatternFill

from kpi.alerts.render import fmt_num
from kpi.catalogue import Catalogue, Department, Target
from kpi.contract import STATUS_ZH
from kpi.templates import (
    FIELDS,
    FIRST_DATA_ROW,
    HEADER_ROW,
    HEADERS_ZH,
    SHEET_FORM,
    Period,
    build_workbook,
    safe_text,
    template_rows,
    workbook_bytes,
)
from transforms.units import UnitError, canonical

REFERENCE_HEADER = "上期填报（仅供参考）"


def figure_text(t: Target, row: dict) -> str:
    """A stored figure as the template's reader wants it: 2023-05：102.8亿元."""
    kind = t.kind
    if kind in ("milestone", "qualitative"):
        text = STATUS_ZH.get(row.get("milestone_status") or "", "—")
        done = row.get("completion_date")
        if done:
            text += f"（{done:%Y-%m-%d}）" if isinstance(done, date) else f"（{done}）"
    elif kind in ("growth_rate", "relative") and row.get("growth_pct") is not None:
        text = f"增长 {fmt_num(row['growth_pct'])}%"
    elif row.get("value") is not None:
        value, unit = row["value"], t.unit or ""
        if t.unit:
            try:
                value = value / canonical(t.unit)[1]
            except UnitError:
                unit = row.get("unit") or ""
        text = f"{fmt_num(value)}{unit}"
    else:
        text = "—"
    return f"{row['period']}：{text}"


def references(catalogue: Catalogue, previous: list[dict]) -> dict[str, str]:
    """Target code -> the reference text, from previous_figures.sql rows."""
    targets = {t.code: t for t in catalogue.targets}
    return {
        r["target_code"]: figure_text(targets[r["target_code"]], r)
        for r in previous
        if r["target_code"] in targets
    }


def _stamp(period: Period) -> datetime:
    # As kpi.templates does: the first day of the month after the period, for stable bytes.
    y, m = (period.year + 1, 1) if period.month == 12 else (period.year, period.month + 1)
    return datetime(y, m, 1)


def xlsx_bytes(
    catalogue: Catalogue, dept: Department, period: Period, refs: dict[str, str]
) -> bytes:
    """The .xlsx template with the reference column."""
    wb = build_workbook(catalogue, dept, period)
    ws = wb[SHEET_FORM]
    col = len(FIELDS) + 1
    code_col = FIELDS.index("code") + 1
    head = ws.cell(HEADER_ROW, col)
    head.value = REFERENCE_HEADER
    head.data_type = "s"
    head.font = Font(bold=True, color="7F7F7F")
    head.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    grey = PatternFill("solid", fgColor="F2F2F2")
    for r in range(FIRST_DATA_ROW, ws.max_row + 1):
        code = ws.cell(r, code_col).value
        if not code:
            continue
        cell = ws.cell(r, col)
        cell.value = safe_text(refs.get(str(code), "—"))
        cell.data_type = "s"  # text, never a formula
        cell.font = Font(color="7F7F7F")
        cell.fill = grey
    ws.column_dimensions[head.column_letter].width = 24
    return workbook_bytes(wb, _stamp(period))


def csv_bytes(
    catalogue: Catalogue, dept: Department, period: Period, refs: dict[str, str]
) -> bytes:
    """The .csv template (UTF-8 with BOM, as Excel opens it) with the reference column."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([*HEADERS_ZH, REFERENCE_HEADER])
    for row in template_rows(catalogue, dept, period):
        cells = [safe_text(row.get(f, "")) for f in FIELDS]
        writer.writerow([*cells, safe_text(refs.get(row["code"], "—"))])
    return buf.getvalue().encode("utf-8-sig")
