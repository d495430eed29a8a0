"""Seeded generator of the demo submissions of a plan, and the manifest of what they mean.

Run: .venv/bin/python demo/generate.py [--out DIR] [--seed N]
Writes DIR/submissions/<arrival YYYY-MM-DD>/<file> and DIR/manifest.json (default DIR: demo/).
The same seed and catalogue always give the same bytes.
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import html
import json
import math
import random
import shutil
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from kpi.catalogue import Catalogue, Target, load_catalogue
from kpi.config import load_settings
from kpi.contract import KIND_FIELDS, STATUS_ZH, reporting_months
from kpi.templates import (
    FIELDS,
    FIRST_DATA_ROW,
    HEADER_ROW,
    HEADERS_ZH,
    SHEET_FORM,
    Period,
    build_workbook,
    csv_bytes,
    due_date,
    due_targets,
    template_file_name,
    template_title,
    workbook_bytes,
)
from transforms.units import canonical

SEED = 20230226  # the day the work report was delivered
PLAN = "hongqi-2023"
DEMO = Path(__file__).resolve().parent
STATUSES = ("已完成", "正常", "预警", "滞后", "严重滞后", "无数据")
BEHIND = ("预警", "滞后", "严重滞后")
RED = ("滞后", "严重滞后")


@dataclass(frozen=True)
class Story:
    """What a target was designed to do over the year."""

    name: str  # on_pace | lagging_from | recovers | ceiling_breach | milestone_late | ...
    month: int | None = None  # lagging_from / ceiling_breach: the first month it shows
    severity: str | None = None  # lagging_from: the status designed for the as-of date
    done_on: date | None = None  # milestones: the completion date


# The designed stories: the only place that names target codes. A code missing from the
# catalogue stops the generator (the story would silently vanish otherwise).
DESIGNED_STORIES: dict[str, Story] = {
    "project_investment": Story("lagging_from", month=4, severity="滞后"),
    "foreign_capital_absorbed": Story("lagging_from", month=2, severity="严重滞后"),
    "tech_contract_turnover": Story("lagging_from", month=3, severity="滞后"),
    "reemployment": Story("lagging_from", month=5, severity="预警"),
    "retail_sales_growth": Story("lagging_from", month=4, severity="滞后"),
    "new_skilled_workers": Story("recovers"),
    "registered_unemployment_rate": Story("ceiling_breach", month=6),
    "heat_network_started": Story("milestone_late", done_on=date(2023, 7, 20)),
    "finance_parlour_in_use": Story("milestone_on_time", done_on=date(2023, 6, 18)),
}
# 市场监管局 sends nothing from its May report on: missing (缺报) at the as-of date.
STOPPED_DEPARTMENT = ("scjgj", 5)
# Files that are not a plain filled template: (what, department code, period month).
SPECIAL_FILES: tuple[tuple[str, str, int], ...] = (
    ("corrupt_file", "kjj", 2),  # truncated .xlsx; a good copy follows the next day
    ("bad_number", "kjj", 3),  # one value written "1,2x3"
    ("unit_mismatch", "tzcj", 3),  # one 亿元 row written in 吨
    ("empty_file", "cgj", 3),  # 0 bytes; a good copy follows the next day
    ("html_xls", "jyj", 3),  # an HTML table saved under an .xls name
    ("unknown_code", "tzcj", 4),  # an extra row with a code the plan does not have
    ("wrong_department", "fwzs", 4),  # an extra row of another department's target
    ("csv_gb18030_english", "tjj", 4),  # Excel "save as CSV" on Chinese Windows, English headers
    ("revision", "fgw", 4),  # a corrected copy a week later, one value revised down
    ("future_period", "swj", 5),  # one row's period four months ahead
    ("duplicate_row", "zjj", 5),  # one (code, period) twice with different values
    ("csv_utf8_bom_formatted", "rsj", 5),  # "4,312" and full-width digits
    ("unit_wan_yuan", "fgw", 5),  # one 亿元 row written in 万元 (converts)
    ("period_range_zh", "tzcj", 6),  # every period written 2023年1-6月
)
DEFECTS = (
    "bad_number",
    "unknown_code",
    "future_period",
    "unit_mismatch",
    "wrong_department",
    "duplicate_row",
    "corrupt_file",
    "empty_file",
)
# Keyword expected in the Chinese rejection reason, and the column at fault (None: whole file).
DEFECT_REASONS: dict[str, tuple[str, str | None]] = {
    "bad_number": ("数值", "value"),
    "unknown_code": ("指标代码", "code"),
    "future_period": ("晚于", "period"),
    "unit_mismatch": ("计量单位", "unit"),
    "wrong_department": ("牵头单位", "department"),
    "duplicate_row": ("重复", "code"),
    "corrupt_file": ("损坏", None),
    "empty_file": ("为空", None),
}
UNKNOWN_CODE = ("capital_attracted_total", "引进资金总额", "亿元")
LATE_FILES = 4  # files that arrive one to three days after their due day
_FULL_WIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


class DesignError(RuntimeError):
    """The catalogue cannot carry the designed stories, or the data missed its design."""


# ----------------------------------------------------------------------------- trajectories


def decimals(t: Target) -> int:
    """Decimals a department writes for this target's value."""
    if t.kind in ("growth_rate", "relative") or t.unit in ("%", "％"):
        return 1
    if not t.unit:
        return 0
    factor = canonical(t.unit)[1]
    if factor == 1.0:  # 人, 家, 个, 起 ...: whole numbers, except amounts such as 万美元
        return 2 if t.kind == "cumulative" else 0
    return 3 if t.kind == "level" and t.unit.startswith("万") else 2


def _round(t: Target, x: float, up: bool = False) -> float | int:
    d = decimals(t)
    if d == 0:
        return int(math.ceil(x - 1e-9)) if up else int(math.floor(x + 1e-9))
    step = 10**d
    return (math.ceil(x * step - 1e-9) if up else round(x * step)) / step


def expected_fraction(t: Target, month: int) -> float:
    """序时进度 as a fraction: the seasonal profile where the target has one, else months/12."""
    return t.profile[month - 1] if t.profile else month / 12


def designed_gap(kind: str, severity: str, thr: dict) -> float:
    """A gap (points) in the middle of the band of a status, from config/status.toml."""
    k = thr[kind]
    if severity == "预警":
        return (k["warn"] + k["behind"]) / 2
    if severity == "滞后":
        return (k["behind"] + k["severe"]) / 2
    return k["severe"] + 0.8 * (k["severe"] - k["behind"])


def _amounts(t: Target, story: Story, months: tuple[int, ...], anchor: int, rng, thr) -> dict:
    """Year-to-date values of a cumulative or count target, in its written unit."""
    target = t.value
    ks: dict[int, float] = {}
    for m in months:
        on = 1 + rng.uniform(0.04, 0.09)
        if story.name == "lagging_from" and m >= story.month:
            tp = expected_fraction(t, anchor) * 100
            if tp == 0:
                raise DesignError(f"{t.code}: cannot lag where nothing is expected yet")
            k_end = (tp + designed_gap(t.kind, story.severity, thr)) / tp
            span = max(anchor - story.month + 1, 1)
            step = min(m - story.month + 1, span)
            ks[m] = 1.03 + (k_end - 1.03) * step / span
        elif story.name == "recovers" and m < anchor:
            ks[m] = 0.85 if m <= anchor - 4 else 0.6 if m <= anchor - 2 else 0.85
        else:
            ks[m] = on
    out: dict[int, dict] = {}
    prev = 0.0
    for m in months:
        x = target * expected_fraction(t, m) * ks[m]
        v = _round(t, x, up=story.name != "lagging_from")  # on pace: never just below it
        if m < 12 and story.name == "on_pace" and v >= target:
            v = max(prev, _round(t, target * 0.97))  # on pace is not yet done before December
        v = max(v, prev)
        prev = v
        out[m] = {"value": v}
    return out


def _levels(t: Target, story: Story, months, anchor: int, rng) -> dict:
    """Point-in-time values of a level target: on the target by the as-of month, above by December."""
    target = t.value
    base = _level_base(t)
    out = {}
    prev = None
    for m in months:
        if base is not None:
            v = base + (target * 1.02 - base) * m / 12 + target * rng.uniform(0.002, 0.006)
        elif m <= anchor:
            v = target * (0.96 + 0.045 * m / anchor)
        else:
            v = target * (1.005 + 0.015 * (m - anchor) / max(12 - anchor, 1))
        v = _round(t, v, up=True)
        v = v if prev is None else max(v, prev)
        prev = v
        out[m] = {"value": v}
    return out


def _level_base(t: Target) -> float | None:
    """Where a level's path starts: its baseline, zero on the path rule without one (None: direct)."""
    if t.pace == "direct":
        return None
    base = _baseline(t)
    return 0.0 if base is None and t.pace == "path" else base


def _baseline(t: Target) -> float | None:
    """The 2022 baseline in the target's written unit, where it is of the same family."""
    b = t.baseline
    if b is None or not t.unit:
        return None
    try:
        cb, fb = canonical(b.unit)
        ct, ft = canonical(t.unit)
    except ValueError:
        return None
    return b.value * fb / ft if cb == ct else None


def _ceiling(t: Target, story: Story, months, rng) -> dict:
    out = {}
    for m in months:
        if t.value == 0:
            v = 0
        elif story.name == "ceiling_breach" and m == story.month:
            v = t.value + rng.uniform(0.25, 0.4)
        else:
            v = t.value * rng.uniform(0.84, 0.93)
        out[m] = {"value": _round(t, v)}
    return out


def _growth(t: Target, story: Story, months, anchor: int, rng, thr) -> dict:
    """Year-to-date growth: volatile early, settling near (or, lagging, below) the target."""
    sigma = {1: 3.0, 2: 3.0, 3: 2.0, 4: 1.2, 5: 0.8}
    lag = story.name == "lagging_from"
    on_gap = rng.uniform(0.4, 1.5)
    lag_gap = designed_gap(t.kind, story.severity, thr) if lag else 0.0
    out = {}
    for m in months:
        if lag and m >= story.month:
            g = t.value + lag_gap + (0 if m == anchor else rng.uniform(-0.4, 0.4))
        elif m == anchor:
            g = t.value + on_gap
        elif m < anchor:
            s = sigma.get(m, 0.6)
            g = t.value + on_gap + rng.uniform(-s, s)
        else:
            g = t.value + rng.uniform(0.3, 1.5)
        out[m] = {"growth_pct": round(g, 1)}
    return out


def _relative(t: Target, months, rng) -> dict:
    """Own growth and the reference series' growth, the difference above the target."""
    out = {}
    for m in months:
        ref = rng.uniform(6.5, 9.0)
        own = ref + t.value + rng.uniform(0.6, 1.8)
        out[m] = {"growth_pct": round(own, 1), "reference_value": round(ref, 1)}
    return out


def _done_on(t: Target, story: Story, rng) -> date:
    if story.done_on:
        return story.done_on
    start = date(t.deadline.year, 9, 1)
    if t.deadline < start + timedelta(days=30):
        return t.deadline - timedelta(days=rng.randint(3, 45))
    return start + timedelta(days=rng.randint(0, (t.deadline - start).days - 7))


def _statuses(t: Target, story: Story, months, rng) -> dict:
    done_on = _done_on(t, story, rng)
    started = 1 if rng.random() < 0.7 else 2
    out = {}
    for m in months:
        end = _month_end(t.deadline.year, m)
        if done_on <= end:
            out[m] = {"status": "done", "completion_date": done_on}
        else:
            out[m] = {"status": "in_progress" if m >= started else "not_started"}
    return out


def trajectory(t: Target, story: Story, anchor: int, seed: int, thr: dict) -> dict[int, dict]:
    """What the department reports for each of the target's reporting months (written unit)."""
    rng = random.Random(f"{seed}:{t.code}")
    months = reporting_months(t.kind, t.cadence)
    if t.kind in ("cumulative", "count"):
        return _amounts(t, story, months, anchor, rng, thr)
    if t.kind == "level":
        return _levels(t, story, months, anchor, rng)
    if t.kind == "ceiling":
        return _ceiling(t, story, months, rng)
    if t.kind == "growth_rate":
        return _growth(t, story, months, anchor, rng, thr)
    if t.kind == "relative":
        return _relative(t, months, rng)
    return _statuses(t, story, months, rng)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


# ----------------------------------------------------------------------------- stories


def assign_stories(cat: Catalogue) -> dict[str, Story]:
    """Every target's story: the designed ones by code, the stopped department, defaults by kind."""
    codes = {t.code: t for t in cat.targets}
    missing = sorted(set(DESIGNED_STORIES) - set(codes))
    if missing:
        raise DesignError(f"designed stories name codes the catalogue lacks: {missing}")
    dept, stop = STOPPED_DEPARTMENT
    if dept not in {d.code for d in cat.departments} or not cat.targets_of(dept):
        raise DesignError(f"stopped department {dept!r} is not in the register or leads nothing")
    stories = {}
    for t in cat.targets:
        s = DESIGNED_STORIES.get(t.code)
        if s is not None:
            if t.department == dept:
                raise DesignError(f"{t.code}: a designed story in the stopped department")
            _check_story(t, s)
        elif t.department == dept:
            s = Story("stopped_department", month=stop)
        elif t.kind == "milestone":
            s = Story("milestone_on_time")
        elif t.kind == "qualitative":
            s = Story("qualitative")
        else:
            s = Story("on_pace")
        stories[t.code] = s
    return stories


def _check_story(t: Target, s: Story) -> None:
    months = reporting_months(t.kind, t.cadence)
    fits = {
        "lagging_from": t.kind in ("cumulative", "count", "growth_rate"),
        "recovers": t.kind in ("cumulative", "count"),
        "ceiling_breach": t.kind == "ceiling" and s.month in months and t.value > 0,
        "milestone_late": t.kind == "milestone" and s.done_on and s.done_on > t.deadline,
        "milestone_on_time": t.kind == "milestone"
        and (s.done_on is None or s.done_on <= t.deadline),
    }
    if not fits.get(s.name, False):
        raise DesignError(f"{t.code}: story {s.name} does not fit a {t.kind} target {months}")


# ----------------------------------------------------------------------------- judging


def latest_due_month(t: Target, year: int, as_of: date) -> int | None:
    """The latest period whose due date has passed by the as-of date (due today is not late)."""
    due = [m for m in reporting_months(t.kind, t.cadence) if due_date(t, Period(year, m)) < as_of]
    return max(due) if due else None


def _band(gap: float, k: dict) -> str:
    if gap >= k["warn"]:
        return "正常"
    if gap >= k["behind"]:
        return "预警"
    return "滞后" if gap >= k["severe"] else "严重滞后"


def _bands(gap: float, k: dict, tol: float) -> set[str]:
    return {_band(gap - tol, k), _band(gap, k), _band(gap + tol, k)}


def judge(
    t: Target, rows: list[dict], year: int, as_of: date, thr: dict, refused: list[dict] = ()
) -> dict:
    """Acceptable statuses and data status of a target on a date, from rows arrived by then."""
    # rows: valid manifest rows with their file's "arrival" and "path"; refused: period and
    # arrival of refused rows. A stale figure is still judged; 缺报 is the data status's job.
    day, month_code = as_of.isoformat(), f"{as_of:%Y-%m}"
    seen = [r for r in rows if r["arrival"] <= day and r["period"] <= month_code]
    current: dict[str, dict] = {}
    for r in sorted(seen, key=lambda r: (r["period"], r["arrival"], r["path"])):
        current[r["period"]] = r  # a later arrival for the same period is a revision
    bad = {int(r["period"][5:]) for r in refused if r["arrival"] <= day}
    due = latest_due_month(t, year, as_of)
    if not current:
        status, why = {"无数据"}, "no valid row has arrived"
        if t.kind in ("milestone", "qualitative") and as_of > t.deadline:
            status, why = set(RED), f"no report and deadline {t.deadline} passed: overdue"
        latest, done = None, False
    else:
        latest = current[max(current)]
        status, why = _judge_row(t, latest, int(latest["period"][5:]), as_of, thr)
        done = t.kind in ("milestone", "qualitative") and latest["status"] == "done"
    held = {int(p[5:]) for p in current}
    if due is None:
        data = "正常" if current else "未到期"
    elif done or any(m >= due for m in held):
        data = "正常"
    else:
        data = "数据异常" if due in bad else "缺报"
        why += (
            f"; the report for {year}-{due:02d} is due and {'refused' if due in bad else 'missing'}"
        )
    return {
        "status": sorted(status, key=STATUSES.index),
        "data_status": [data],
        "latest_period": latest["period"] if latest else None,
        "reasoning": why,
    }


def _judge_row(t: Target, r: dict, month: int, as_of: date, thr: dict) -> tuple[set, str]:
    kind = t.kind
    if kind in ("cumulative", "count"):
        rate = r["value"] / t.canonical_value * 100
        tp = expected_fraction(t, month) * 100
        basis = "profile" if t.profile else f"{month}/12"
        if rate >= 100:
            return {"已完成", "正常"}, f"{rate:.1f}% of target: met before the year ends"
        if tp == 0:
            return {"正常"}, f"{rate:.1f}% of target, 序时进度 0 ({basis}): nothing expected yet"
        gap = rate - tp
        k = thr[kind]
        return _bands(gap, k, 1.0), (
            f"完成率 {rate:.1f}% vs 序时进度 {tp:.1f}% ({basis}): gap {gap:+.1f} pp; {kind} "
            f"thresholds {k['warn']}/{k['behind']}/{k['severe']}, ±1 pp for rounding"
        )
    if kind == "growth_rate":
        gap = r["growth_pct"] - t.value
        k = thr[kind]
        return _bands(gap, k, 0.05), (
            f"growth {r['growth_pct']}% vs target {t.value:g}%: gap {gap:+.1f} pp; thresholds "
            f"{k['warn']}/{k['behind']}/{k['severe']}"
        )
    if kind == "relative":
        gap = r["growth_pct"] - r["reference_value"] - t.value
        k = thr[kind]
        return _bands(gap, k, 0.05), (
            f"own {r['growth_pct']} - reference {r['reference_value']} = "
            f"{r['growth_pct'] - r['reference_value']:+.1f} vs {t.value:g}: gap {gap:+.1f} pp"
        )
    if kind == "level":
        v, target = r["value"], t.canonical_value
        if v >= target:
            return {"正常", "已完成"}, f"level {v:g} at or above target {target:g}"
        k = thr[kind]
        base = _level_base(t)
        if base is not None and base != t.value:
            b = base * canonical(t.unit)[1]
            rate, tp = (v - b) / (target - b) * 100, month / 12 * 100
            gap = rate - tp
            why = f"{rate:.1f}% of the increase from baseline {b:g} vs 序时进度 {tp:.1f}%"
        else:
            gap = v / target * 100 - 100
            why = f"{v / target * 100:.1f}% of target, no baseline"
        return _bands(gap, k, 1.0), f"level {v:g}: {why}: gap {gap:+.1f} pp"
    if kind == "ceiling":
        if r["value"] <= t.canonical_value:
            return {"正常"}, f"{r['value']:g} within ceiling {t.value:g}"
        return set(RED), f"{r['value']:g} breaches ceiling {t.value:g}: any breach is red"
    # milestone, qualitative
    if r["status"] == "done":
        return {"已完成"}, f"reported done on {r['completion_date']}"
    days = (t.deadline - as_of).days
    at_risk = thr["milestone"]["at_risk_days"]
    if days < 0:
        return set(RED), f"not done, deadline {t.deadline} passed {-days} days ago: overdue"
    if days <= at_risk:
        return {"预警"}, f"not done, deadline in {days} days (<= {at_risk}): at risk"
    return {"正常"}, f"{STATUS_ZH[r['status']]}, deadline {t.deadline} in {days} days"


def check_story(t: Target, story: Story, verdict: dict, earlier: dict | None) -> None:
    """Fail when the generated data does not show the story it was designed to tell."""
    got = set(verdict["status"])
    ok = {
        "on_pace": bool(got & {"正常", "已完成"}) and not got & set(RED),
        "lagging_from": bool(got) and got <= set(BEHIND) and story.severity in got,
        "recovers": got == {"正常"} and earlier is not None and set(earlier["status"]) <= set(RED),
        "ceiling_breach": got <= set(RED),
        "milestone_late": got <= set(RED),
        "milestone_on_time": got in ({"已完成"}, {"正常"}),
        "qualitative": got in ({"已完成"}, {"正常"}),
        "stopped_department": verdict["data_status"] == ["缺报"],
    }[story.name]
    if not ok:
        raise DesignError(f"{t.code}: story {story.name} but judged {verdict}")


# ----------------------------------------------------------------------------- files


@dataclass
class Sub:
    """One file to write."""

    dept: str
    month: int
    arrival: date
    name: str
    variant: str = "template"
    fmt: str = "xlsx"
    rows: list[dict] = field(default_factory=list)  # cells by field, as written
    meta: list[dict | None] = field(default_factory=list)  # the valid row each cell row means
    defect: dict | None = None
    data: bytes = b""
    due: date | None = None
    late: bool = False
    revises: str | None = None


def _cells(t: Target, dept_zh: str, period: Period, obs: dict) -> tuple[dict, dict]:
    """A row as the department writes it, and the valid row it means (canonical unit)."""
    row = dict.fromkeys(FIELDS, None)
    row.update(
        department=dept_zh, period=period.code, code=t.code, name=t.name_zh, unit=t.unit or None
    )
    meant = {
        "code": t.code,
        "period": period.code,
        "value": None,
        "unit": t.canonical_unit,
        "growth_pct": None,
        "reference_value": None,
        "status": None,
        "completion_date": None,
    }
    if "value" in obs:
        row["value"] = obs["value"]
        meant["value"] = round(obs["value"] * canonical(t.unit)[1], 6)
    for f in ("growth_pct", "reference_value"):
        if f in obs:
            row[f] = meant[f] = obs[f]
    if "status" in obs:
        row["status"] = STATUS_ZH[obs["status"]]
        meant["status"] = obs["status"]
        if obs.get("completion_date"):
            row["completion_date"] = obs["completion_date"]
            meant["completion_date"] = obs["completion_date"].isoformat()
    return row, meant


def _xlsx(cat: Catalogue, sub: Sub, stamp: datetime) -> bytes:
    dept = cat.department(sub.dept)
    wb = build_workbook(cat, dept, Period(cat.plan.year, sub.month))
    ws = wb[SHEET_FORM]
    template_rows = ws.max_row - FIRST_DATA_ROW + 1
    for i, row in enumerate(sub.rows):
        r = FIRST_DATA_ROW + i
        for j, f in enumerate(FIELDS, start=1):
            cell = ws.cell(r, j)
            v = row[f]
            if v is None or v == "":
                cell.value = None
                continue
            cell.value = v
            if isinstance(v, str):
                cell.data_type = "s"  # "1,2x3" and codes stay text, never formulas
            elif isinstance(v, date):
                cell.number_format = "yyyy-mm-dd"
    for r in range(FIRST_DATA_ROW + len(sub.rows), FIRST_DATA_ROW + template_rows):
        for j in range(1, len(FIELDS) + 1):
            ws.cell(r, j).value = None
    return workbook_bytes(wb, stamp)


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def _html(cat: Catalogue, sub: Sub) -> bytes:
    dept = cat.department(sub.dept)
    title = template_title(cat, dept, Period(cat.plan.year, sub.month))
    lines = [
        "<html><head><meta http-equiv=Content-Type content='text/html; charset=utf-8'>",
        "</head><body><table border=1>",
        f"<tr><td colspan={len(FIELDS)}>{html.escape(title)}</td></tr>",
        "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS_ZH) + "</tr>",
    ]
    for row in sub.rows:
        cells = "".join(f"<td>{html.escape(_text(row[f]))}</td>" for f in FIELDS)
        lines.append(f"<tr>{cells}</tr>")
    lines.append("</table></body></html>")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _format_number(v: object, full_width: bool) -> str:
    if not isinstance(v, int | float) or isinstance(v, bool):
        return _text(v)
    return str(v).translate(_FULL_WIDTH) if full_width else f"{v:,}"


def render(cat: Catalogue, sub: Sub) -> bytes:
    """The bytes of a file as the department sends it."""
    stamp = datetime.combine(sub.arrival, datetime.min.time()).replace(hour=9)
    if sub.variant == "empty_file":
        return b""
    if sub.fmt == "html":
        return _html(cat, sub)
    if sub.variant == "csv_gb18030_english":
        rows = [{f: _text(r[f]) for f in FIELDS} for r in sub.rows]
        return csv_bytes(rows, headers=FIELDS, encoding="gb18030")
    if sub.variant == "csv_utf8_bom_formatted":
        rows = []
        for i, r in enumerate(sub.rows):
            out = {f: _text(r[f]) for f in FIELDS}
            for f in ("value", "growth_pct", "reference_value"):
                out[f] = _format_number(r[f], full_width=i == 0)
            rows.append(out)
        return csv_bytes(rows)
    data = _xlsx(cat, sub, stamp)
    if sub.variant == "corrupt_file":
        return data[: len(data) // 2]  # the central directory is lost: not a zip any more
    return data


# ----------------------------------------------------------------------------- the plan of files


def _arrival(rng: random.Random, due: date) -> date:
    return due - timedelta(days=rng.choice((0, 1, 1, 2, 2, 3, 4)))


def plan_files(cat: Catalogue, seed: int, as_of: date) -> list[Sub]:
    """Every file of the year with its arrival date and rows, before defects and variants."""
    year = cat.plan.year
    stop_dept, stop_month = STOPPED_DEPARTMENT
    subs: list[Sub] = []
    for d in cat.departments:
        for m in range(1, 13):
            targets = due_targets(cat, d.code, Period(year, m))
            if not targets or (d.code == stop_dept and m >= stop_month):
                continue
            due = min(due_date(t, Period(year, m)) for t in targets)
            rng = random.Random(f"{seed}:arrival:{d.code}:{m}")
            sub = Sub(d.code, m, _arrival(rng, due), template_file_name(d, Period(year, m)))
            sub.due = due
            subs.append(sub)
    # Late files: kept away from the report judged at the as-of date.
    rng = random.Random(f"{seed}:late")
    special = {(dept, m) for _, dept, m in SPECIAL_FILES}
    candidates = [
        s
        for s in subs
        if s.month not in (as_of.month - 1, as_of.month)
        and (s.dept, s.month) not in special
        and s.dept != stop_dept
        and s.due.month != as_of.month
    ]
    for s in rng.sample(candidates, LATE_FILES):
        s.arrival = s.due + timedelta(days=rng.randint(1, 3))
        s.late = True
    return subs


def anchors(cat: Catalogue, subs: list[Sub], as_of: date) -> dict[str, int]:
    """Per target, the latest reporting month whose file arrives by the as-of date."""
    arrived = {(s.dept, s.month) for s in subs if s.arrival <= as_of}
    out = {}
    for t in cat.targets:
        months = [m for m in reporting_months(t.kind, t.cadence) if (t.department, m) in arrived]
        out[t.code] = max(months) if months else max(reporting_months(t.kind, t.cadence))
    return out


def fill(cat: Catalogue, subs: list[Sub], paths: dict[str, list[dict]]) -> None:
    """Write each file's rows from the trajectories."""
    year = cat.plan.year
    for s in subs:
        dept = cat.department(s.dept)
        for t in due_targets(cat, s.dept, Period(year, s.month)):
            row, meant = _cells(t, dept.short_zh, Period(year, s.month), paths[t.code][s.month])
            s.rows.append(row)
            s.meta.append(meant)


def _special(subs: list[Sub], dept: str, month: int) -> Sub:
    for s in subs:
        if s.dept == dept and s.month == month and s.variant == "template":
            return s
    raise DesignError(f"special file: {dept} sends no template for month {month}")


def _pick_row(cat: Catalogue, s: Sub, what: str, ok) -> int:
    for i, row in enumerate(s.rows):
        t = cat.target(row["code"])
        if t.code not in DESIGNED_STORIES and ok(t):
            return i
    raise DesignError(f"{what}: no suitable row in {s.name}")


def _defect(code: str, row: int | None, **extra) -> dict:
    keyword, column = DEFECT_REASONS[code]
    d = {
        "code": code,
        "row": row,
        "column": None if column is None else HEADERS_ZH[FIELDS.index(column)],
        "field": column,
        "reason_keyword": keyword,
    }
    d.update(extra)
    return d


def _yi(t: Target) -> bool:
    return t.unit == "亿元"


def _has_value(t: Target) -> bool:
    return "value" in KIND_FIELDS[t.kind]


def apply_specials(cat: Catalogue, subs: list[Sub], paths: dict, as_of: date) -> list[Sub]:
    """Turn some files into variants and defects, and add resends and the revision."""
    year = cat.plan.year
    keys = [(d, m) for _, d, m in SPECIAL_FILES]
    if len(keys) != len(set(keys)):
        raise DesignError("two special files share a department and month")
    stop_dept, _ = STOPPED_DEPARTMENT
    extra: list[Sub] = []
    for what, dept, month in SPECIAL_FILES:
        if dept == stop_dept:
            raise DesignError(f"{what}: special file in the stopped department")
        s = _special(subs, dept, month)
        s.variant = what
        if what in ("corrupt_file", "empty_file"):
            good = Sub(s.dept, s.month, s.arrival + timedelta(days=1), _resent(s.name))
            good.rows, good.meta, good.due = list(s.rows), list(s.meta), s.due
            good.variant = "resend"
            good.late = good.arrival > s.due
            s.meta = [None] * len(s.rows)
            s.defect = _defect(what, None)
            extra.append(good)
        elif what == "bad_number":
            i = _pick_row(cat, s, what, _has_value)
            s.rows[i]["value"] = "1,2x3"
            s.meta[i] = None
            s.defect = _defect(what, FIRST_DATA_ROW + i, value="1,2x3", target=s.rows[i]["code"])
        elif what == "unit_mismatch":
            i = _pick_row(cat, s, what, lambda t: _yi(t) and _has_value(t))
            s.rows[i]["unit"] = "吨"
            s.meta[i] = None
            s.defect = _defect(what, FIRST_DATA_ROW + i, value="吨", target=s.rows[i]["code"])
        elif what == "unknown_code":
            code, name, unit = UNKNOWN_CODE
            if code in {t.code for t in cat.targets}:
                raise DesignError(f"unknown_code: {code} exists in the catalogue")
            row = dict(s.rows[0])
            row.update(code=code, name=name, unit=unit, value=12.3, growth_pct=None)
            row.update(reference_value=None, status=None, completion_date=None)
            s.rows.append(row)
            s.meta.append(None)
            s.defect = _defect(what, FIRST_DATA_ROW + len(s.rows) - 1, value=code)
        elif what == "wrong_department":
            other = _other_department_target(cat, s, year)
            row, _ = _cells(
                other, s.rows[0]["department"], Period(year, month), paths[other.code][month]
            )
            s.rows.append(row)
            s.meta.append(None)
            s.defect = _defect(
                what,
                FIRST_DATA_ROW + len(s.rows) - 1,
                value=row["department"],
                target=other.code,
                responsible=other.department,
            )
        elif what == "future_period":
            i = _pick_row(cat, s, what, lambda t: True)
            future = Period(year, min(month + 4, 12))
            if _month_end(year, future.month) <= as_of or future.month <= month:
                raise DesignError("future_period: the period is not in the future")
            s.rows[i]["period"] = future.code
            s.meta[i] = None
            s.defect = _defect(
                what, FIRST_DATA_ROW + i, value=future.code, target=s.rows[i]["code"]
            )
        elif what == "duplicate_row":
            i = _pick_row(cat, s, what, _has_value)
            t = cat.target(s.rows[i]["code"])
            twin = dict(s.rows[i])
            twin["value"] = _round(t, s.rows[i]["value"] * 1.1 + 1, up=True)
            s.rows.insert(i + 1, twin)
            s.meta[i] = None
            s.meta.insert(i + 1, None)
            r1 = FIRST_DATA_ROW + i
            s.defect = _defect(what, r1 + 1, rows=[r1, r1 + 1], target=t.code)
        elif what == "html_xls":
            s.fmt = "html"
            s.name = s.name.rsplit(".", 1)[0] + ".xls"
        elif what in ("csv_gb18030_english", "csv_utf8_bom_formatted"):
            s.fmt = "csv"
            s.name = s.name.rsplit(".", 1)[0] + ".csv"
            if what == "csv_gb18030_english":
                for row in s.rows:
                    row["department"] = cat.department(s.dept).name_zh
            elif not any(
                isinstance(r["value"], int | float) and r["value"] >= 1000 for r in s.rows[1:]
            ):
                raise DesignError(f"{what}: no value of 1,000 or more to write with a separator")
        elif what == "period_range_zh":
            for row in s.rows:
                row["period"] = f"{year}年1-{month}月"
        elif what == "unit_wan_yuan":
            i = _pick_row(cat, s, what, lambda t: _yi(t) and _has_value(t))
            s.rows[i]["unit"] = "万元"
            s.rows[i]["value"] = round(s.rows[i]["value"] * 10_000)
        elif what == "revision":
            i = _pick_row(cat, s, what, lambda t: t.kind == "cumulative")
            t = cat.target(s.rows[i]["code"])
            prev = paths[t.code].get(month - 1, {}).get("value", 0)
            first = s.rows[i]["value"]
            revised = _round(t, first - (first - prev) * 0.3)
            fix = Sub(s.dept, s.month, s.arrival + timedelta(days=8), _corrected(s.name))
            fix.rows = [dict(r) for r in s.rows]
            fix.meta = [dict(m) for m in s.meta]
            fix.rows[i]["value"] = revised
            fix.meta[i]["value"] = round(revised * canonical(t.unit)[1], 6)
            fix.variant, fix.due, fix.revises = "correction", s.due, s.name
            fix.late = fix.arrival > s.due
            s.variant = "template"
            extra.append(fix)
            paths["__revision__"] = {
                "code": t.code,
                "period": Period(year, month).code,
                "first_value": s.meta[i]["value"],
                "revised_value": fix.meta[i]["value"],
            }
    return sorted(subs + extra, key=lambda s: (s.arrival, s.dept, s.month, s.name))


def _resent(name: str) -> str:
    stem, ext = name.rsplit(".", 1)
    return f"{stem}（重发）.{ext}"


def _corrected(name: str) -> str:
    stem, ext = name.rsplit(".", 1)
    return f"{stem}（更正）.{ext}"


def _other_department_target(cat: Catalogue, s: Sub, year: int) -> Target:
    for t in cat.targets:
        if (
            t.department not in (s.dept, STOPPED_DEPARTMENT[0])
            and t.code not in DESIGNED_STORIES
            and _has_value(t)
            and s.month in reporting_months(t.kind, t.cadence)
        ):
            return t
    raise DesignError("wrong_department: no other department's target is due that month")


# ----------------------------------------------------------------------------- main


def generate(out: Path, seed: int = SEED, catalogue: Path | None = None) -> dict:
    """Write the submissions and the manifest under `out`; return the manifest."""
    settings = load_settings(env={})  # the environment must not change the demo's bytes
    cat_path = Path(catalogue) if catalogue else settings.catalogue_dir / f"{PLAN}.yaml"
    cat = load_catalogue(cat_path)
    as_of = date.fromisoformat(settings.demo_as_of)
    thr = tomllib.loads(settings.status_config.read_text(encoding="utf-8"))
    year = cat.plan.year

    stories = assign_stories(cat)
    subs = plan_files(cat, seed, as_of)
    anchor = anchors(cat, subs, as_of)
    paths = {t.code: trajectory(t, stories[t.code], anchor[t.code], seed, thr) for t in cat.targets}
    fill(cat, subs, paths)
    subs = apply_specials(cat, subs, paths, as_of)
    revision = paths.pop("__revision__")

    names = [s.name for s in subs]
    if len(names) != len(set(names)):
        raise DesignError("two files share a name: an inbox would overwrite one")
    folder = out / "submissions"
    if folder.exists():
        shutil.rmtree(folder)
    files, rows_by_target = [], {t.code: [] for t in cat.targets}
    refused_by_target: dict[str, list[dict]] = {}
    for s in subs:
        data = render(cat, s)
        rel = f"submissions/{s.arrival.isoformat()}/{s.name}"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
        first = 2 if s.fmt == "csv" else FIRST_DATA_ROW
        valid, refused = [], []
        for i, m in enumerate(s.meta):
            if m is None:
                if s.defect and s.defect["row"] is not None:
                    row = s.rows[i]
                    refused.append({"code": row["code"], "period": row["period"], "row": first + i})
                    refused_by_target.setdefault(row["code"], []).append(
                        {"period": row["period"], "arrival": s.arrival.isoformat()}
                    )
                continue
            r = dict(m, row=first + i)
            valid.append(r)
            rows_by_target[m["code"]].append(dict(r, arrival=s.arrival.isoformat(), path=rel))
        if s.defect and s.defect["row"] is not None and s.fmt == "csv":
            raise DesignError("row defects are placed in .xlsx files (row numbers from row 3)")
        files.append(
            {
                "path": rel,
                "name": s.name,
                "arrival": s.arrival.isoformat(),
                "due": s.due.isoformat(),
                "late": s.late,
                "department": s.dept,
                "department_zh": cat.department(s.dept).short_zh,
                "period": Period(year, s.month).code,
                "format": s.fmt,
                "variant": s.variant,
                "defect": s.defect,
                "revises": s.revises,
                "n_rows": 0 if s.variant == "empty_file" else len(s.rows),
                "header_row": 1 if s.fmt == "csv" else HEADER_ROW,
                "rows_valid": valid,
                "rows_refused": refused,
                "size_bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )

    targets = {}
    for t in cat.targets:
        story = stories[t.code]
        refused = refused_by_target.get(t.code, [])
        verdict = judge(t, rows_by_target[t.code], year, as_of, thr, refused)
        earlier = None
        if story.name == "recovers":
            spring = date(year, anchor[t.code] - 1, 15)
            earlier = judge(t, rows_by_target[t.code], year, spring, thr, refused)
        check_story(t, story, verdict, earlier)
        targets[t.code] = {
            "department": t.department,
            "kind": t.kind,
            "story": story.name,
            "story_month": None if story.month is None else Period(year, story.month).code,
            "designed_status": story.severity,
            "done_on": _done_date(rows_by_target[t.code]),
            "expected_status": verdict["status"],
            "expected_data_status": verdict["data_status"],
            "latest_period": verdict["latest_period"],
            "reasoning": verdict["reasoning"],
            "behind_before": None if earlier is None else {spring.isoformat(): earlier["status"]},
        }
    defects = sorted({f["defect"]["code"] for f in files if f["defect"]})
    if defects != sorted(DEFECTS):
        raise DesignError(f"defects present {defects} != designed {sorted(DEFECTS)}")
    manifest = {
        "plan": cat.plan.code,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "generator": "demo/generate.py",
        "catalogue_sha256": hashlib.sha256(cat_path.read_bytes()).hexdigest(),
        "status_thresholds": thr,
        "conventions": {
            "paths": "relative to this manifest's folder",
            "arrival": "the day the file lands in the inbox; replay copies it then",
            "rows_valid": "rows ingestion must accept (receipt 'accepted'): value in the "
            "canonical unit (transforms.units), status as a kpi.contract.STATUS_VOCAB code; "
            "compare values with a relative tolerance of 1e-9. The warehouse's current value "
            "of each (code, period) is the row of the latest arrival; a later file repeating "
            "an unchanged value adds no new observation",
            "rows_refused": "rows ingestion must quarantine, with the file's defect",
            "row": "1-based row as the spreadsheet shows it (title row 1, header row 2 in "
            ".xlsx/.xls; header row 1 in .csv)",
            "duplicate_row": "both rows of the duplicated (code, period) are refused",
            "revision": "a later file for the same department and period: its values are current",
            "expected_status": "acceptable statuses at as_of, from config/status.toml; see "
            "demo/README.md",
        },
        "stopped_department": {
            "department": STOPPED_DEPARTMENT[0],
            "from_period": Period(year, STOPPED_DEPARTMENT[1]).code,
        },
        "revisions": [revision],
        "defect_kinds": defects,
        "files": files,
        "targets": targets,
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return manifest


def _done_date(rows: list[dict]) -> str | None:
    dates = sorted({r["completion_date"] for r in rows if r.get("completion_date")})
    return dates[0] if dates else None


def main(argv: list[str] | None = None) -> int:
    """Command line: write the demo submissions and manifest."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEMO, help="output folder (default: demo/)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--catalogue", type=Path, default=None)
    args = ap.parse_args(argv)
    try:
        m = generate(args.out, args.seed, args.catalogue)
    except DesignError as exc:
        print(f"design error: {exc}", file=sys.stderr)
        return 1
    size = sum(f["size_bytes"] for f in m["files"])
    stories: dict[str, int] = {}
    for t in m["targets"].values():
        stories[t["story"]] = stories.get(t["story"], 0) + 1
    print(f"{len(m['files'])} files, {size / 1e6:.2f} MB, stories {stories}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
