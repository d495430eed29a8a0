"""Failed rules turned into the rejections and warnings a statistician reads (pure, no I/O)."""

from __future__ import annotations

import math
import string

import pandas as pd

from kpi.contract import COLUMNS
from kpi.ingest.text import clip
from kpi.ingest.validate import Finding

HEADER_ZH = {c.field: c.header_zh for c in COLUMNS}
VALUE_CHARS = 200  # a value as written, kept in a receipt and staged.rejections (raw rows keep all)


class _Blank(dict):
    """format_map context in which an unknown or missing name reads as empty."""

    def __missing__(self, key: str) -> str:
        return ""


def fmt_number(x: object, unit: object = None) -> str:
    """A stored number for a message: no trailing zeros, with its unit."""
    if x is None or x == "" or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{float(x):.12g}{unit if isinstance(unit, str) else ''}"


def _clean(v: object) -> object:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return v


def _render(template: str, context: dict) -> str:
    names = {n for _, n, _, _ in string.Formatter().parse(template) if n}
    return template.format_map(_Blank({k: context[k] for k in names if k in context}))


def location(file_name: str, sheet: str, row: int, single_csv: bool) -> str:
    """文件“x”工作表“y”第N行 — the place of a cell as the department sees it."""
    where = (
        f"文件“{clip(file_name)}”"
        if single_csv
        else f"文件“{clip(file_name)}”工作表“{clip(sheet)}”"
    )
    return f"{where}第{row}行"


def row_entries(
    frame: pd.DataFrame | list[dict],
    findings: list[Finding],
    *,
    file_name: str,
    headers: dict[str, dict[str, str]],
    params: dict,
) -> list[dict]:
    """One entry per (row, failed row-level rule): sheet, row, column, value as written, reason.

    `frame` is the file's frame, or its rows as dicts (batch ingestion never builds the frame).
    """
    if not any(f.rule.scope == "row" for f in findings):
        return []  # most files: no row failed, and indexing their rows would be wasted
    records = frame.to_dict("records") if isinstance(frame, pd.DataFrame) else frame
    if not records:
        return []
    by_rid = {int(rec["_rid"]): rec for rec in records}
    single_csv = {rec["sheet"] for rec in records} == {"csv"}
    out: list[dict] = []
    seen: set[tuple] = set()
    for f in findings:
        if f.rule.scope != "row":
            continue
        for rid in f.rids:
            row = {k: _clean(v) for k, v in by_rid[rid].items()}
            field = f.rule.column or "code"
            if field == "@kind_field":
                field = row.get("kind_field") or "value"
            column = clip(headers.get(row["sheet"], {}).get(field, HEADER_ZH.get(field, field)))
            value = str(row.get(f"{field}_raw", ""))
            # Department text in a reason is quoted short: a value, a code, a unit, a list.
            context = {
                **params,
                **{k: clip(v) if isinstance(v, str) else v for k, v in row.items()},
                "value_text": fmt_number(row.get("value"), row.get("unit")),
                "value_min_text": fmt_number(row.get("value_min"), row.get("unit")),
                "value_max_text": fmt_number(row.get("value_max"), row.get("unit")),
                "previous_value_text": fmt_number(row.get("previous_value"), row.get("unit")),
            }
            where = location(file_name, row["sheet"], int(row["row"]), single_csv)
            if value:
                reason = f"{where}“{column}”列“{clip(value)}”{_render(f.rule.reason, context)}"
            else:
                reason = f"{where}“{column}”列{_render(f.rule.reason_empty, context)}"
            key = (rid, column, reason)
            if key in seen:
                continue
            seen.add(key)
            out.append(
                {
                    "sheet": row["sheet"],
                    "row": int(row["row"]),
                    "column": column,
                    "value": value if len(value) <= VALUE_CHARS else value[: VALUE_CHARS - 1] + "…",
                    "reason": reason,
                    "rule": f.rule.id,
                    "severity": f.rule.severity,
                    "_rid": rid,
                    "_target_code": row.get("code") or None,
                    "_period": row.get("period") or None,
                    "_department_code": row.get("department_code") or None,
                }
            )
    out.sort(key=lambda e: (e["sheet"], e["row"], e["_rid"]))
    return out


def file_reason(findings: list[Finding], *, file_name: str) -> tuple[str, str] | None:
    """The reason and rule id of the first failed critical file-level rule, or None."""
    for f in findings:
        if f.rule.scope == "file" and f.rule.severity == "critical":
            missing = (f.details.get("details") or {}).get("mismatched", {}).get("missing", [])
            names = "、".join(f"“{HEADER_ZH.get(m.removesuffix('_raw'), m)}”" for m in missing)
            return f"文件“{clip(file_name)}”{_render(f.rule.reason, {'missing': names})}", f.rule.id
    return None


def listed(entries: list[dict], max_rows: int) -> tuple[list[dict], list[dict]]:
    """The entries of the first `max_rows` rows (in order), and those of the rows after them."""
    rows: set[tuple] = set()
    shown, rest = [], []
    for e in entries:
        key = (e["sheet"], e["row"])
        if key in rows or len(rows) < max_rows:
            rows.add(key)
            shown.append(e)
        else:
            rest.append(e)
    return shown, rest


def public(entry: dict) -> dict:
    """An entry as the receipt shows it (without the frame's row id)."""
    return {k: v for k, v in entry.items() if not k.startswith("_")}
