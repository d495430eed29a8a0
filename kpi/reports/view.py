"""Turn the report's data into what people read: display units, labels, rows per section."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import date, datetime

from kpi.catalogue import KIND_ZH, Target
from kpi.reports.charts import (
    Bar,
    LinePoint,
    Milestone,
    bar_chart,
    fmt_num,
    line_chart,
    status_colour,
    timeline,
)
from kpi.reports.data import ReportData
from transforms.units import UnitError, convert

STATUSES = ("已完成", "正常", "预警", "滞后", "严重滞后", "无数据")
DATA_PROBLEMS = ("缺报", "数据异常")
COMPARATOR_ZH = {">=": "≥", "<=": "≤", ">": ">", "done": ""}
SUBMISSION_STATUS_ZH = {"accepted": "全部接收", "partial": "部分接收", "rejected": "整体退回"}
SEVERITY_ZH = {"critical": "拒收", "warning": "提示"}
CHANGE_ZH = {
    "fell_behind": "转为滞后",
    "worsened": "进一步恶化",
    "improved": "有所好转",
    "recovered": "恢复正常",
    "relapsed": "再次滞后",
    "completed": "已完成",
    "first": "首次评估",
}
# The figures a reader can check against `kpi status --json` (same keys, mart values unrounded).
FIGURE_KEYS = (
    "status",
    "data_status",
    "actual",
    "expected",
    "completion_rate",
    "time_progress",
    "gap_pp",
    "outlook",
    "target_value",
    "projection",
    "latest_period",
    "days_overdue",
)
LINE_KINDS = ("cumulative", "count", "level", "ceiling")
BAR_KINDS = ("growth_rate", "relative")
ROWS_SHOWN = 200  # rejected rows listed in the report; the workbook and Data Docs hold them all


def display_unit(t: Target | None, canonical_unit: str | None) -> tuple[str, float]:
    """The unit a target is read in (as the report wrote it) and the factor from canonical."""
    if t is None or not t.unit or not canonical_unit:
        return canonical_unit or "", 1.0
    try:
        return t.unit, convert(1.0, canonical_unit, t.unit)
    except UnitError:
        return canonical_unit, 1.0


def scaled(v: float | None, factor: float) -> float | None:
    """A canonical value in the display unit."""
    # rounded so that unit conversion noise (5.3500000000000005) never reaches a reader
    return None if v is None else round(v * factor, 9)


def pct(v: float | None) -> str:
    """A percentage for people."""
    return "—" if v is None else f"{fmt_num(v, 1)}%"


def signed(v: float | None) -> str:
    """Percentage points with their sign."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return ("+" if v > 0 else "") + fmt_num(v, 1)


def stamp(when: datetime | date | None) -> str:
    """A date or time for a header."""
    if when is None:
        return "尚无报送"
    if isinstance(when, datetime):
        return when.strftime("%Y-%m-%d %H:%M")
    return when.isoformat()


def figures(row: dict) -> dict:
    """The figures of one mart.progress row, unrounded, keyed as `kpi status --json` keys them."""
    out = {"code": row["target_code"]}
    for k in FIGURE_KEYS:
        v = row.get(k)
        out[k] = v.isoformat() if isinstance(v, date) else v
    return out


def figure_attributes(row: dict) -> dict[str, str]:
    """The figures as data-* attributes (JSON text, so a reader gets the exact mart values)."""
    f = figures(row)
    return {
        k.replace("_", "-"): json.dumps(v, ensure_ascii=False)
        for k, v in f.items()
        if k not in ("code", "status")
    }


def _targets(data: ReportData) -> dict[str, Target]:
    return {t.code: t for t in data.catalogue.targets}


def _latest_note(series: list[dict]) -> str:
    notes = [s["note"] for s in series if s.get("note")]
    return notes[-1] if notes else ""


def rows(data: ReportData) -> list[dict]:
    """One readable row per target, in department order, with its figures for checking."""
    targets = _targets(data)
    depts = {d.code: d for d in data.catalogue.departments}
    order = {d.code: i for i, d in enumerate(data.catalogue.departments)}
    out = []
    for r in sorted(
        data.progress,
        key=lambda r: (
            order.get(r["department_code"], 999),
            r["department_code"],
            r["target_code"],
        ),
    ):
        t = targets.get(r["target_code"])
        unit, factor = display_unit(t, r.get("unit"))
        if r["kind"] in BAR_KINDS:
            unit, factor = "%", 1.0
        comparator = COMPARATOR_ZH.get(t.comparator, "") if t else ""
        goal = (
            "按期完成"
            if r.get("target_value") is None
            else f"{comparator} {fmt_num(scaled(r['target_value'], factor))} {unit}".strip()
        )
        dept = depts.get(r["department_code"])
        out.append(
            {
                "code": r["target_code"],
                "name": r["name_zh"],
                "firmness": t.firmness_zh if t else "",
                "headline": bool(r.get("headline")),
                "kind": r["kind"],
                "kind_zh": KIND_ZH.get(r["kind"], r["kind"]),
                "department": r["department_code"],
                "department_zh": dept.short_zh if dept else r["department_code"],
                "unit": unit,
                "goal": goal,
                "deadline": t.deadline.isoformat() if t else "",
                "actual": fmt_num(scaled(r.get("actual"), factor)),
                "expected": fmt_num(scaled(r.get("expected"), factor)),
                "completion_rate": pct(r.get("completion_rate")),
                "time_progress": pct(r.get("time_progress")),
                "gap": signed(r.get("gap_pp")),
                "status": r.get("status") or "无数据",
                "colour": status_colour(r.get("status")),
                "data_status": r.get("data_status") or "",
                "outlook": r.get("outlook") or "",
                "latest_period": r.get("latest_period") or "—",
                "days_overdue": r.get("days_overdue"),
                "detail": r.get("detail_zh") or "",
                "computed": bool(r.get("computed")),
                "note": _latest_note(data.series.get(r["target_code"], [])),
                "figures": figures(r),
                "attrs": figure_attributes(r),
            }
        )
    return out


def overview(data: ReportData, table: list[dict]) -> dict:
    """Departments × status counts, with totals, in register order."""
    names = {d.code: d.short_zh for d in data.catalogue.departments}
    by_dept: dict[str, Counter] = {}
    for r in table:
        by_dept.setdefault(r["department"], Counter())[r["status"]] += 1
    lines = [
        {
            "department": code,
            "department_zh": names.get(code, code),
            "counts": [(s, c[s]) for s in STATUSES],
            "total": sum(c.values()),
        }
        for code, c in by_dept.items()
    ]
    totals = Counter(r["status"] for r in table)
    return {
        "lines": lines,
        "totals": [(s, totals[s]) for s in STATUSES],
        "total": len(table),
        "colours": {s: status_colour(s) for s in STATUSES},
    }


def _trajectory(t: Target, target_value: float, shares: dict[int, float]) -> list[LinePoint]:
    # the shares kpi.progress used (mart.time_profile); the catalogue's own rule if none stored
    fracs = t.profile or [m / 12 for m in range(1, 13)]
    return [LinePoint(0, 0.0)] + [
        LinePoint(m, target_value * shares.get(m, f))
        for m, f in zip(range(1, 13), fracs, strict=True)
    ]


def _baseline_path(t: Target, target_value: float, unit: str) -> list[LinePoint] | None:
    if t.baseline is None:
        return None
    try:
        base = convert(t.baseline.value, t.baseline.unit, unit)
    except UnitError:
        return None
    return [LinePoint(0, base), LinePoint(12, target_value)]


def line_charts(data: ReportData, table: list[dict]) -> list[dict]:
    """A trajectory chart per cumulative, count, level and ceiling target."""
    targets = _targets(data)
    mart = {r["target_code"]: r for r in data.progress}
    out = []
    for row in table:
        if row["kind"] not in LINE_KINDS:
            continue
        r, t = mart[row["code"]], targets.get(row["code"])
        _, factor = display_unit(t, r.get("unit"))
        target_value = scaled(r.get("target_value"), factor)
        actual = [
            LinePoint(
                s["period_month"],
                scaled(s["value"], factor),
                f"{s['period']}：{fmt_num(scaled(s['value'], factor))} {row['unit']}",
            )
            for s in data.series.get(row["code"], [])
            if s.get("value") is not None
        ]
        cumulative = row["kind"] in ("cumulative", "count")
        trajectory = None
        if t is not None and target_value is not None:
            trajectory = (
                _trajectory(t, target_value, data.shares.get(row["code"], {}))
                if cumulative
                else _baseline_path(t, target_value, row["unit"])
            )
        svg = line_chart(
            code=row["code"],
            title=f"{row['name']}：实际与序时进度",
            actual=actual,
            trajectory=trajectory,
            target=target_value,
            status=row["status"],
            from_zero=cumulative,
        )
        out.append({**row, "svg": svg, "has_trajectory": bool(trajectory)})
    return out


def growth_chart(table: list[dict], data: ReportData):
    """One bar chart of every growth-rate and relative target against its figure to reach."""
    mart = {r["target_code"]: r for r in data.progress}
    bars = []
    for row in table:
        if row["kind"] not in BAR_KINDS:
            continue
        r = mart[row["code"]]
        marker = r.get("target_value") if row["kind"] == "growth_rate" else r.get("expected")
        label = f"{fmt_num(r.get('actual'), 1)}%（目标 {fmt_num(marker, 1)}%）"
        bars.append(
            Bar(
                row["code"],
                row["firmness"] + row["name"],
                r.get("actual"),
                marker,
                row["status"],
                label,
            )
        )
    return bar_chart(bars, title="增速类指标与目标"), bars


def milestones(data: ReportData, table: list[dict]):
    """The milestone timeline and the rows of qualitative tasks."""
    targets = _targets(data)
    items = []
    for row in table:
        t = targets.get(row["code"])
        if row["kind"] != "milestone" or t is None:
            continue
        done = [
            s["completion_date"]
            for s in data.series.get(row["code"], [])
            if s.get("milestone_status") == "done" and s.get("completion_date")
        ]
        items.append(
            Milestone(
                row["code"],
                row["firmness"] + row["name"],
                t.deadline,
                done[-1] if done else None,
                row["status"],
                row["days_overdue"],
            )
        )
    items.sort(key=lambda m: (m.deadline, m.code))
    plan = data.catalogue.plan
    svg = timeline(items, start=plan.start, end=plan.end, as_of=data.as_of)
    qualitative = [r for r in table if r["kind"] == "qualitative"]
    return svg, items, qualitative


def data_status(data: ReportData, table: list[dict]) -> dict:
    """Missing and rejected submissions, kept apart from performance."""
    names = {d.code: d.short_zh for d in data.catalogue.departments}
    problems = [r for r in table if r["data_status"] in DATA_PROBLEMS]
    per_dept: dict[str, dict] = {}
    for s in data.submissions:
        code = s["department_code"] or ""
        d = per_dept.setdefault(
            code,
            {
                "department_zh": names.get(code, code or "未识别单位"),
                "files": 0,
                "partial": 0,
                "rejected": 0,
                "last": None,
            },
        )
        d["files"] += 1
        d["partial"] += s["status"] == "partial"
        d["rejected"] += s["status"] == "rejected"
        d["last"] = max(filter(None, (d["last"], s["received_at"])))
    files = [
        {
            **s,
            "department_zh": names.get(
                s["department_code"] or "", s["department_code"] or "未识别单位"
            ),
            "status_zh": SUBMISSION_STATUS_ZH.get(s["status"], s["status"]),
            "received": stamp(s["received_at"]),
        }
        for s in data.submissions
    ]
    flagged = [s for s in files if s["status"] in ("partial", "rejected")]
    rejected_rows = [
        {
            **r,
            "severity_zh": SEVERITY_ZH.get(r["severity"], r["severity"]),
            "department_zh": names.get(r["department_code"] or "", r["department_code"] or ""),
        }
        for r in data.rejections
    ]
    rejected_rows.sort(key=lambda r: r["severity"] != "critical")
    return {
        "problems": problems,
        "counts": Counter(r["data_status"] for r in problems),
        "departments": sorted(per_dept.values(), key=lambda d: d["department_zh"]),
        "flagged": flagged,
        "all_files": files,
        "rejected_rows": rejected_rows[:ROWS_SHOWN],
        "rejected_total": len(rejected_rows),
        "files": len(data.submissions),
    }


def changes(data: ReportData, table: list[dict]) -> list[dict]:
    """Status changes of the last week, newest first."""
    by_code = {r["code"]: r for r in table}
    return [
        {
            **c,
            "name": by_code.get(c["target_code"], {}).get("name", c["target_code"]),
            "department_zh": by_code.get(c["target_code"], {}).get("department_zh", ""),
            "change_zh": CHANGE_ZH.get(c["change"], c["change"]),
            "colour": status_colour(c["status"]),
        }
        for c in data.changes
    ]
