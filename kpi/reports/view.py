"""Turn the report's data into what people read: display units, honest phrases, worst first."""

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
    axis_marks,
    bar_axis,
    bar_row,
    fmt_num,
    line_chart,
    month_marks,
    status_colour,
    timeline_row,
)
from kpi.reports.data import ReportData
from transforms.units import UnitError, convert

STATUSES = ("已完成", "正常", "预警", "滞后", "严重滞后", "无数据")
WORST_FIRST = ("严重滞后", "滞后", "预警", "无数据", "正常", "已完成")
BEHIND = ("严重滞后", "滞后", "预警")
DATA_PROBLEMS = ("缺报", "数据异常")
COMPARATOR_ZH = {">=": "≥", "<=": "≤", ">": ">", "done": ""}
SUBMISSION_STATUS_ZH = {
    "accepted": "全部接收",
    "partial": "部分接收",
    "rejected": "整体退回",
    "duplicate": "重复文件",
}
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
POINT_UNITS = ("%", "百分点")  # a difference of two of these is in 个百分点
ROWS_SHOWN = 200  # rejected rows listed in the report; the workbook and Data Docs hold them all
REASON_CHARS = 160  # a one-line reason is cut here (department text can be long)


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


def with_unit(v: float | None, unit: str, digits: int = 2) -> str:
    """A figure with its unit as Chinese writes it: 4.9%, 0.6 个百分点, 81.86 亿元."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    text = fmt_num(v, digits)
    if unit == "%":
        return f"{text}%"
    if unit == "百分点":
        return f"{text} 个百分点"
    return f"{text} {unit}".strip()


def points_word(unit: str) -> str:
    """What a difference of two figures in `unit` is called."""
    return "个百分点" if unit in POINT_UNITS else unit


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


def _month(period: str | None) -> int | None:
    try:
        return int(str(period).split("-")[1])
    except (IndexError, ValueError):
        return None


def _first_clause(text: str | None) -> str:
    first = (text or "").split("；")[0].strip()
    return first if len(first) <= REASON_CHARS else first[: REASON_CHARS - 1] + "…"


def _closeness(gap: float) -> int:
    return 0 if round(gap, 1) == 0 else (1 if gap > 0 else -1)


def gap_text(r: dict, unit: str, factor: float, as_of: date) -> str:
    """The gap as the supervision office says it, in the quantity it is (points or units)."""
    kind, status, gap = r["kind"], r.get("status"), r.get("gap_pp")
    if kind in ("milestone", "qualitative"):
        late, deadline = r.get("days_overdue"), None
        if status == "已完成":
            return f"已完成（逾期 {late} 天）" if late else "已完成"
        if late and late > 0:
            return f"逾期 {late} 天"
        deadline = r.get("deadline")
        if isinstance(deadline, date):
            return f"距期限 {(deadline - as_of).days} 天"
        return ""
    actual, target = r.get("actual"), r.get("target_value")
    if actual is None:
        return "—"
    if kind == "ceiling":
        over = scaled(actual - target, factor) if target is not None else None
        if over is None:
            return "—"
        amount = f"{fmt_num(abs(over), 2)} {points_word(unit)}".strip()
        if round(over, 9) > 0:
            return f"超出上限 {amount}"
        return "等于上限" if round(over, 9) == 0 else f"低于上限 {amount}"
    if gap is None or not math.isfinite(gap):
        return "—"
    n, side = fmt_num(abs(gap), 1), _closeness(gap)
    if kind == "growth_rate":
        return ("与目标持平", f"高于目标 {n} 个百分点", f"低于目标 {n} 个百分点")[side]
    if kind == "relative":
        return ("恰为要求", f"高于要求 {n} 个百分点", f"低于要求 {n} 个百分点")[side]
    if r.get("time_progress") is not None:
        return ("达到序时进度", f"超序时进度 {n} 个百分点", f"滞后序时进度 {n} 个百分点")[side]
    if kind == "level" and target is not None:
        short = scaled(target - actual, factor)
        return "已达到目标" if short <= 0 else f"距目标差 {with_unit(short, unit)}"
    return ("持平", f"高出 {n} 个百分点", f"差 {n} 个百分点")[side]


def reason_text(r: dict, unit: str, factor: float, goal: str) -> str:
    """One line on why the status is what it is, from the figures themselves."""
    kind, m, actual = r["kind"], _month(r.get("latest_period")), r.get("actual")
    if actual is None or m is None or kind in ("relative", "milestone", "qualitative"):
        return _first_clause(r.get("detail_zh"))
    ytd, at = (f"1-{m}月" if m > 1 else "1月"), f"{m}月末"
    shown = with_unit(scaled(actual, factor), unit)
    if kind in ("cumulative", "count"):
        return f"{ytd}累计 {shown}，完成率 {pct(r.get('completion_rate'))}，序时进度 {pct(r.get('time_progress'))}"
    if kind == "growth_rate":
        how = "（测算）" if r.get("computed") else ""
        return f"{ytd}累计增长 {shown}{how}，目标 {goal}"
    if kind == "ceiling":
        return f"{at} {shown}，上限 {with_unit(scaled(r.get('target_value'), factor), unit)}"
    if r.get("time_progress") is not None:
        return (
            f"{at} {shown}，完成年度增量目标的 {pct(r.get('completion_rate'))}，"
            f"序时进度 {pct(r.get('time_progress'))}"
        )
    return f"{at} {shown}，目标 {goal}"


def data_reason(r: dict) -> str:
    """What is missing or wrong with a target's data, from the progress engine's note."""
    for clause in (r.get("detail_zh", r.get("detail")) or "").split("；"):
        if "尚未收到" in clause or "未通过校验" in clause:
            return _first_clause(clause)
    period = r.get("latest_period")
    return f"最近报告期 {period}" if period else "尚无报送"


def _sort_key(row: dict) -> tuple:
    if row["kind"] in ("milestone", "qualitative"):
        severity = -(row["days_overdue"] or 0)
    else:
        gap = row["figures"].get("gap_pp")
        severity = gap if isinstance(gap, int | float) and math.isfinite(gap) else 0.0
    return (WORST_FIRST.index(row["status"]), severity, row["cat"])


def rows(data: ReportData) -> list[dict]:
    """One readable row per target, worst first; `cat` keeps the catalogue order."""
    targets = _targets(data)
    cat = {t.code: i for i, t in enumerate(data.catalogue.targets)}
    depts = {d.code: d for d in data.catalogue.departments}
    dept_order = {d.code: i for i, d in enumerate(data.catalogue.departments)}
    out = []
    for r in data.progress:
        t = targets.get(r["target_code"])
        unit, factor = display_unit(t, r.get("unit"))
        if r["kind"] in BAR_KINDS:
            unit, factor = (t.unit if t and t.unit in POINT_UNITS else "%"), 1.0
        comparator = COMPARATOR_ZH.get(t.comparator, "") if t else ""
        target_value = scaled(r.get("target_value"), factor)
        goal = (
            "按期完成"
            if target_value is None
            else f"{comparator} {with_unit(target_value, unit)}".strip()
        )
        dept = depts.get(r["department_code"])
        status = r.get("status") or "无数据"
        ceiling = r["kind"] == "ceiling"
        mart = {**r, "deadline": t.deadline if t else None, "status": status}
        rate = r.get("completion_rate")
        out.append(
            {
                "code": r["target_code"],
                "cat": cat.get(r["target_code"], len(cat)),
                "name": r["name_zh"],
                "firmness": t.firmness_zh if t else "",
                "headline": bool(r.get("headline")),
                "kind": r["kind"],
                "kind_zh": KIND_ZH.get(r["kind"], r["kind"]),
                "department": r["department_code"],
                "department_zh": dept.short_zh if dept else r["department_code"],
                "dept_cat": dept_order.get(r["department_code"], len(dept_order)),
                "unit": unit,
                "goal": goal,
                "deadline": t.deadline.isoformat() if t else "",
                "actual": with_unit(scaled(r.get("actual"), factor), unit),
                "expected": "—" if ceiling else with_unit(scaled(r.get("expected"), factor), unit),
                # a ceiling has no completion rate: 4.9 of a 4.5 limit is a breach, not 108.9%
                "completion_rate": "—" if ceiling or rate is None else pct(rate),
                "time_progress": pct(r.get("time_progress")),
                "gap": gap_text(mart, unit, factor, data.as_of),
                "reason": reason_text(mart, unit, factor, goal),
                "status": status,
                "colour": status_colour(status),
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
    out.sort(key=_sort_key)
    for i, row in enumerate(out):
        row["rank"] = i
    return out


def by_department(table: list[dict]) -> list[dict]:
    """The rows by department (register order), worst first within each."""
    return sorted(table, key=lambda r: (r["dept_cat"], r["department"], r["rank"]))


def _grouped(items: list[dict]) -> list[dict]:
    """Items (already worst first) grouped by department, the department of the worst first."""
    groups: dict[str, dict] = {}
    for r in items:
        groups.setdefault(r["department"], {"department_zh": r["department_zh"], "items": []})[
            "items"
        ].append(r)
    return list(groups.values())


def attention(table: list[dict]) -> dict:
    """Who is behind: 严重滞后 → 滞后 → 预警 by department; 缺报 and 数据异常 apart."""
    levels = [
        {
            "status": s,
            "colour": status_colour(s),
            "count": sum(r["status"] == s for r in table),
            "departments": _grouped([r for r in table if r["status"] == s]),
        }
        for s in BEHIND
    ]
    problems = {
        p: _grouped(
            sorted(
                (dict(r, data_reason=data_reason(r)) for r in table if r["data_status"] == p),
                key=lambda r: (r["dept_cat"], r["cat"]),
            )
        )
        for p in DATA_PROBLEMS
    }
    counts = {p: sum(r["data_status"] == p for r in table) for p in DATA_PROBLEMS}
    return {
        "levels": [lv for lv in levels if lv["count"]],
        "all_levels": levels,
        "problems": problems,
        "problem_counts": counts,
        "behind": sum(lv["count"] for lv in levels),
    }


def overview(data: ReportData, table: list[dict]) -> dict:
    """Departments × status counts with totals, worst department first (`cat`: register order)."""
    names = {d.code: d.short_zh for d in data.catalogue.departments}
    order = {d.code: i for i, d in enumerate(data.catalogue.departments)}
    by_dept: dict[str, Counter] = {}
    for r in table:
        by_dept.setdefault(r["department"], Counter())[r["status"]] += 1
    lines = [
        {
            "department": code,
            "department_zh": names.get(code, code),
            "counts": [(s, c[s]) for s in STATUSES],
            "total": sum(c.values()),
            "cat": order.get(code, len(order)),
            "key": tuple(-c[s] for s in WORST_FIRST[:4]),
        }
        for code, c in by_dept.items()
    ]
    lines.sort(key=lambda line: (line["key"], line["cat"], line["department"]))
    for i, line in enumerate(lines):
        line["rank"] = i
    totals = Counter(r["status"] for r in table)
    return {
        "lines": lines,
        "totals": [(s, totals[s]) for s in STATUSES],
        "worst_first": [(s, totals[s]) for s in WORST_FIRST],
        "total": len(table),
        "colours": {s: status_colour(s) for s in STATUSES},
    }


def status_counts(rows_: list[dict]) -> list[tuple[str, int, str]]:
    """Non-zero status counts of some rows, worst first, with their colours."""
    c = Counter(r["status"] for r in rows_)
    return [(s, c[s], status_colour(s)) for s in WORST_FIRST if c[s]]


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
    """A trajectory chart per cumulative, count, level and ceiling target, worst first."""
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
                f"{s['period']}：{with_unit(scaled(s['value'], factor), row['unit'])}",
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


def growth(data: ReportData, table: list[dict]) -> dict:
    """Growth-rate and relative targets as bars on one shared scale, worst first."""
    mart = {r["target_code"]: r for r in data.progress}
    bars = []
    for row in table:
        if row["kind"] not in BAR_KINDS:
            continue
        r = mart[row["code"]]
        marker = r.get("target_value") if row["kind"] == "growth_rate" else r.get("expected")
        word = "目标" if row["kind"] == "growth_rate" else "要求"
        label = f"{row['actual']}（{word} {row['goal']}）"
        bars.append((row, Bar(row["code"], row["firmness"] + row["name"], r.get("actual"),
                              marker, row["status"], label)))  # fmt: skip
    axis = bar_axis([b for _, b in bars])
    return {
        "rows": [{**row, "svg": bar_row(b, axis), "label": b.label} for row, b in bars],
        "marks": axis_marks(axis),
        "counts": status_counts([row for row, _ in bars]),
    }


def milestones(data: ReportData, table: list[dict]) -> dict:
    """Milestone tracks on the plan year (worst first) and the qualitative tasks."""
    targets = _targets(data)
    plan = data.catalogue.plan
    out = []
    for row in table:
        t = targets.get(row["code"])
        if row["kind"] != "milestone" or t is None:
            continue
        done = [
            s["completion_date"]
            for s in data.series.get(row["code"], [])
            if s.get("milestone_status") == "done" and s.get("completion_date")
        ]
        item = Milestone(
            row["code"],
            row["firmness"] + row["name"],
            t.deadline,
            done[-1] if done else None,
            row["status"],
            row["days_overdue"],
        )
        svg = timeline_row(item, start=plan.start, end=plan.end, as_of=data.as_of)
        out.append({**row, "svg": svg, "overdue": item.overdue, "item": item})
    qualitative = [r for r in table if r["kind"] == "qualitative"]
    days = max((plan.end - plan.start).days, 1)
    as_of_pct = min(max((data.as_of - plan.start).days, 0), days) / days * 100
    return {
        "rows": out,
        "marks": month_marks(plan.start, plan.end),
        "as_of_pct": round(as_of_pct, 2),
        "overdue": [m for m in out if m["overdue"]],
        "counts": status_counts(out),
        "qualitative": qualitative,
        "qualitative_counts": status_counts(qualitative),
    }


def strip_file_prefix(reason: str | None, file_name: str, sheet: str | None = None) -> str:
    """A rejection reason without the file (and sheet) it starts with, when shown beside them."""
    text = reason or ""
    head = f"文件“{file_name}”"
    if text.startswith(head):
        text = text[len(head) :]
        if sheet and text.startswith(f"工作表“{sheet}”"):
            text = text[len(f"工作表“{sheet}”") :]
    return text.lstrip("：: ")


def file_reason(sub: dict, rows_: list[dict]) -> str:
    """Why a file was refused or partly accepted, in one line."""
    if sub.get("reason_zh"):
        return _first_clause(sub["reason_zh"])
    refused = [r for r in rows_ if r["severity"] == "critical"]
    flagged = [r for r in rows_ if r["severity"] != "critical"]
    parts = []
    if refused:
        shown = "；".join(
            strip_file_prefix(r["reason_zh"], sub["file_name"], r.get("sheet")) for r in refused[:2]
        )
        n = max(sub.get("n_rejected") or 0, len(refused))
        parts.append(f"拒收 {n} 行：{shown}{'等' if len(refused) > 2 else ''}")
    elif sub.get("n_rejected"):
        parts.append(f"拒收 {sub['n_rejected']} 行")
    if flagged or sub.get("n_warnings"):
        parts.append(f"提示 {max(sub.get('n_warnings') or 0, len(flagged))} 条")
    text = "；".join(parts)
    return text if len(text) <= REASON_CHARS * 2 else text[: REASON_CHARS * 2 - 1] + "…"


def file_rows(as_of: date, subs: list[dict], names: dict, rejections: list[dict]) -> list[dict]:
    """Submissions as people read them: department, result and reason in Chinese."""
    by_sub: dict[str, list[dict]] = {}
    for r in rejections:
        by_sub.setdefault(r["submission_id"], []).append(r)
    return [
        {
            **s,
            "department_zh": names.get(
                s["department_code"] or "", s["department_code"] or "未识别单位"
            ),
            "status_zh": SUBMISSION_STATUS_ZH.get(s["status"], s["status"]),
            "received": stamp(s["received_at"]),
            "reason": file_reason(s, by_sub.get(s["submission_id"], [])),
            # arrived after the as-of date: its figures count from the next day on
            "late": bool(s["received_at"] and s["received_at"].date() > as_of),
        }
        for s in subs
    ]


def data_status(data: ReportData, table: list[dict]) -> dict:
    """Missing and rejected submissions, kept apart from performance."""
    names = {d.code: d.short_zh for d in data.catalogue.departments}
    problems = sorted(
        (r for r in table if r["data_status"] in DATA_PROBLEMS),
        key=lambda r: (DATA_PROBLEMS.index(r["data_status"]), r["dept_cat"], r["cat"]),
    )
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
    files = file_rows(data.as_of, data.submissions, names, data.rejections)
    night = file_rows(data.as_of, data.night, names, data.rejections)
    rejected_rows = [
        {
            **r,
            "severity_zh": SEVERITY_ZH.get(r["severity"], r["severity"]),
            "department_zh": names.get(r["department_code"] or "", r["department_code"] or ""),
            "reason": strip_file_prefix(r["reason_zh"], r["file_name"], r.get("sheet")),
        }
        for r in data.rejections
    ]
    rejected_rows.sort(key=lambda r: r["severity"] != "critical")
    night_counts = Counter(s["status"] for s in data.night)
    return {
        "problems": [dict(r, data_reason=data_reason(r)) for r in problems],
        "counts": Counter(r["data_status"] for r in problems),
        "departments": sorted(per_dept.values(), key=lambda d: d["department_zh"]),
        "flagged": [s for s in files if s["status"] in ("partial", "rejected")],
        "all_files": files,
        "night": night,
        "night_counts": {SUBMISSION_STATUS_ZH[k]: night_counts[k] for k in SUBMISSION_STATUS_ZH},
        "night_late": sum(s["late"] for s in night),
        "runs": data.runs,
        "rejected_rows": rejected_rows[:ROWS_SHOWN],
        "rejected_total": max(data.rejections_total, len(rejected_rows)),
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
