"""Progress maths for one target: 序时进度, 完成率, gap, projection, status, outlook, history.

Pure functions only (no I/O); `kpi.progress` reads the warehouse and calls them.

Kinds, as judged here (values are in the target's canonical unit):
- cumulative / count: 完成率 = year-to-date / target; 序时进度 = the share of the year expected
  by the latest period reported (its month / 12, or the target's seasonal profile or monthly
  plan); gap = 完成率 - 序时进度 in points; met target -> 已完成.
- growth_rate: year-to-date growth (reported, or computed from value and prior-year value and
  flagged `computed`) against the annual rate, not scaled by time; gap in points.
- level: by its pace rule (below): `path`, progress along the straight path from the baseline
  (zero when the plan gives none) to the target, share of the increase done against 序时进度;
  `direct`, the current value against the target.
- ceiling: any value above the limit is 严重滞后; at the limit is fine (<=).
- relative: own growth minus the reference series (e.g. city average) against the margin.
- milestone / qualitative: 已完成 (days late recorded when after the deadline), on schedule
  正常, 预警 within `at_risk_days` of the deadline and not done, 严重滞后 when overdue.
- no data at all: 无数据, never 正常 (an overdue milestone without any report stays 严重滞后).

Status from a gap (points), per kind thresholds in config/status.toml: gap >= warn -> 正常,
>= behind -> 预警, >= severe -> 滞后, below -> 严重滞后.

Pace rules (序时进度曲线: the 分解表 column that says, per target, what is expected when; the
catalogue field `pace`, defaulted from kind, profile and baseline when a plan leaves it out):
- 按月均衡 `linear` (cumulative, count): month / 12; 时间过半、任务过半.
- 季节曲线 `seasonal` (cumulative, count): the target's 12 monthly cumulative shares
  (`profile`), for back-loaded investment and construction and for counts that arrive in
  batches. A curve may defer work but cannot hide a lag: at the end of each quarter it must
  expect at least the straight line (25/50/75/100 %) minus `max_trail_pp` ([profile] in
  config/status.toml; 15 points, so 10/35/60/100 %). 15 is the cumulative 滞后 band: a target
  exactly on its curve is never worse than 滞后 against the straight line. The loader refuses a
  curve below the floor (catalogue, 分解表 import, monthly plans in status.toml alike), so a
  curve of 0 until December, which let 1 of 3 key buildings pass as 正常 in October, cannot be
  written; at 60 % by September that October figure is 严重滞后.
- 基数路径 `path` (level): the straight path from the baseline to the target; a level the plan
  gives no baseline for climbs from zero (智慧岛 科创企业: 32 of 100 at the end of March is
  32 % against 25 %, on pace, not 严重滞后). For counts and amounts held at a point in time.
- 直接比较 `direct` (growth_rate, relative, ceiling; a level that is a rate to hold, e.g. 属地注册率
  90 %): the current figure against the target, not scaled by time.
- 按节点 `dated` (milestone, qualitative): the deadline and the reported step.

Year-end outlook (进展顺利 / 经过努力能够完成 / 仍需付出更大努力), from the projection:
- cumulative / count: projection = year-to-date / expected share; level: baseline +
  (current - baseline) / share with a baseline, else the current value. Tier by
  projection / target: >= on_track -> 进展顺利, >= reachable -> 经过努力能够完成, else
  仍需付出更大努力. A profile that expects nothing yet gives no basis: no projection, no outlook.
- growth_rate / relative: projection = the current figure; tier by its gap in points:
  >= on_track_pp -> 进展顺利, >= reachable_pp -> 经过努力能够完成, else 仍需付出更大努力.
- ceiling: within the limit 进展顺利, breached 仍需付出更大努力.
- milestone / qualitative: on schedule 进展顺利, at risk 经过努力能够完成, overdue 仍需付出更大努力.
- 已完成 and 无数据: no outlook (null).

Data status, kept apart from status: a report for month m is due on `due_day` of month m+1
for the reporting months of its kind and cadence; once the as-of date is past the latest due
date and no figure for that period (or a later one) is held, it is 缺报, or 数据异常 if the
only rows for that period were quarantined; before any report is due, 未到期.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from transforms.units import UnitError, canonical, convert

PACES = ("linear", "seasonal", "path", "direct", "dated")
PACE_ZH = {
    "linear": "按月均衡",
    "seasonal": "季节曲线",
    "path": "基数路径",
    "direct": "直接比较",
    "dated": "按节点",
}
PACES_BY_KIND = {
    "cumulative": ("linear", "seasonal"),
    "count": ("linear", "seasonal"),
    "level": ("path", "direct"),
    "growth_rate": ("direct",),
    "relative": ("direct",),
    "ceiling": ("direct",),
    "milestone": ("dated",),
    "qualitative": ("dated",),
}
QUARTER_ENDS = (3, 6, 9, 12)
STATUSES = ("已完成", "正常", "预警", "滞后", "严重滞后", "无数据")
BEHIND = ("预警", "滞后", "严重滞后")
DATA_STATUSES = ("正常", "缺报", "数据异常", "未到期")
OUTLOOKS = ("进展顺利", "经过努力能够完成", "仍需付出更大努力")
CHANGES = ("fell_behind", "worsened", "improved", "recovered", "relapsed", "completed", "first")
GRADED_KINDS = ("cumulative", "count", "growth_rate", "level", "relative")
_RANK = {"已完成": 0, "正常": 1, "无数据": 1, "预警": 2, "滞后": 3, "严重滞后": 4}
_DATA_RANK = {"正常": 0, "未到期": 0, "缺报": 1, "数据异常": 1}


@dataclass(frozen=True)
class Grades:
    """Gap thresholds (points) of one kind: 正常 / 预警 / 滞后 / 严重滞后."""

    warn: float
    behind: float
    severe: float


@dataclass(frozen=True)
class Thresholds:
    """Everything config/status.toml sets."""

    grades: dict[str, Grades]
    at_risk_days: int = 30
    on_track: float = 1.0
    reachable: float = 0.9
    on_track_pp: float = 0.0
    reachable_pp: float = -1.0
    monthly_plans: dict[str, dict[str, tuple[float, ...]]] = field(default_factory=dict)
    max_trail_pp: float = 15.0  # how far a seasonal curve may trail the straight line

    @property
    def quarter_floors(self) -> tuple[float, ...]:
        """The least share of the year a curve must expect by the end of each quarter."""
        return quarter_floors(self.max_trail_pp)


def thresholds_from_dict(doc: dict) -> Thresholds:
    """Thresholds from the parsed status.toml; a missing kind or inverted order is an error."""
    grades: dict[str, Grades] = {}
    for kind in GRADED_KINDS:
        if kind not in doc:
            raise ValueError(f"status config: section [{kind}] is missing")
        g = Grades(*(float(doc[kind][k]) for k in ("warn", "behind", "severe")))
        if not g.warn >= g.behind >= g.severe:
            raise ValueError(f"status config [{kind}]: need warn >= behind >= severe")
        grades[kind] = g
    out = doc.get("outlook", {})
    plans = {
        plan: {code: tuple(float(x) for x in amounts) for code, amounts in targets.items()}
        for plan, targets in doc.get("monthly_plans", {}).items()
    }
    th = Thresholds(
        grades=grades,
        at_risk_days=int(doc.get("milestone", {}).get("at_risk_days", 30)),
        on_track=float(out.get("on_track", 1.0)),
        reachable=float(out.get("reachable", 0.9)),
        on_track_pp=float(out.get("on_track_pp", 0.0)),
        reachable_pp=float(out.get("reachable_pp", -1.0)),
        monthly_plans=plans,
        max_trail_pp=float(doc.get("profile", {}).get("max_trail_pp", 15.0)),
    )
    if th.reachable > th.on_track or th.reachable_pp > th.on_track_pp:
        raise ValueError("status config [outlook]: reachable must not exceed on_track")
    if not 0 <= th.max_trail_pp <= 25:
        raise ValueError("status config [profile]: max_trail_pp between 0 and 25 points")
    for plan, targets in plans.items():
        for code, amounts in targets.items():
            shares = profile_from_monthly_plan(amounts, code)
            for q, share, floor in profile_shortfalls(shares, th.quarter_floors):
                raise ValueError(
                    f"status config monthly plan {plan}/{code}: expects {share:.0%} by the end "
                    f"of Q{q}, below the floor of {floor:.0%} ([profile] max_trail_pp)"
                )
    return th


def quarter_floors(max_trail_pp: float = 15.0) -> tuple[float, ...]:
    """Least expected shares at the ends of Q1..Q4: the straight line minus max_trail_pp."""
    return tuple(max(0.0, m / 12 - max_trail_pp / 100) if m < 12 else 1.0 for m in QUARTER_ENDS)


def profile_shortfalls(profile, floors) -> list[tuple[int, float, float]]:
    """(quarter, expected share, floor) for each quarter end where a curve expects too little."""
    out = []
    for q, (month, floor) in enumerate(zip(QUARTER_ENDS, floors, strict=True), start=1):
        share = float(profile[month - 1])
        if share < floor - 1e-9:
            out.append((q, share, floor))
    return out


def default_pace(kind: str, has_profile: bool, has_baseline: bool) -> str:
    """The pace rule of a target whose plan does not name one (the behaviour before the rule)."""
    if kind in ("cumulative", "count"):
        return "seasonal" if has_profile else "linear"
    if kind == "level":
        return "path" if has_baseline else "direct"
    return PACES_BY_KIND[kind][0]


@dataclass(frozen=True)
class Spec:
    """What the maths needs to know about a target (values canonical)."""

    code: str
    kind: str
    comparator: str
    target: float | None
    year: int
    deadline: date
    cadence: str = "monthly"
    due_day: int = 10
    unit: str | None = None  # as written in the report, for the text
    factor: float = 1.0  # canonical units per written unit
    profile: tuple[float, ...] | None = None
    profile_basis: str = "linear"  # linear, profile, monthly_plan
    baseline: float | None = None  # canonical, same family as the target
    pace: str | None = None  # the plan's rule (PACES); None: from kind, profile and baseline


@dataclass(frozen=True)
class Obs:
    """The figure a target is judged on: its latest current observation."""

    month: int  # last month covered
    value: float | None = None
    growth_pct: float | None = None
    prior_value: float | None = None
    reference_value: float | None = None
    milestone_status: str | None = None
    completion_date: date | None = None


@dataclass(frozen=True)
class Judgement:
    """The verdict on one target for one as-of date."""

    status: str
    actual: float | None = None
    expected: float | None = None
    completion_rate: float | None = None
    time_progress: float | None = None
    gap_pp: float | None = None
    projection: float | None = None
    outlook: str | None = None
    computed: bool = False
    days_overdue: int | None = None
    detail_zh: str = ""


def spec_of(target, year: int, monthly_plan: tuple[float, ...] | None = None) -> Spec:
    """A Spec from a catalogue Target (a monthly plan, when given, beats its profile)."""
    factor = canonical(target.unit)[1] if target.unit else 1.0
    baseline = None
    if target.baseline is not None and target.unit:
        try:
            baseline = convert(target.baseline.value, target.baseline.unit, target.canonical_unit)
        except UnitError:  # e.g. a level of 亿元 given for a growth-rate target
            baseline = None
    profile, basis = None, "linear"
    if monthly_plan is not None:
        profile, basis = profile_from_monthly_plan(monthly_plan, target.code), "monthly_plan"
    elif target.profile is not None:
        profile, basis = tuple(target.profile), "profile"
    return Spec(
        code=target.code,
        kind=target.kind,
        comparator=target.comparator,
        target=target.canonical_value,
        year=year,
        deadline=target.deadline,
        cadence=target.cadence,
        due_day=target.due_day,
        unit=target.unit,
        factor=factor,
        profile=profile,
        profile_basis=basis,
        baseline=baseline,
        pace=getattr(target, "pace", None),
    )


# ---------------------------------------------------------------- time and simple ratios


def profile_from_monthly_plan(amounts, code: str = "?") -> tuple[float, ...]:
    """Cumulative shares of the year from 12 planned monthly amounts."""
    amounts = [float(a) for a in amounts]
    total = sum(amounts)
    if len(amounts) != 12 or any(a < 0 for a in amounts) or total <= 0:
        raise ValueError(f"monthly plan of {code}: 12 non-negative amounts with a positive sum")
    out, run = [], 0.0
    for a in amounts:
        run += a
        out.append(run / total)
    out[-1] = 1.0
    return tuple(out)


def time_share(month: int, profile: tuple[float, ...] | list[float] | None = None) -> float:
    """The share of the year's task expected by the end of `month` (序时进度 as a fraction)."""
    if not 1 <= month <= 12:
        raise ValueError(f"month {month} outside 1..12")
    return float(profile[month - 1]) if profile is not None else month / 12


def completion_rate(actual: float | None, target: float | None) -> float | None:
    """完成率 in percent (None when it cannot be formed)."""
    if actual is None or target is None or target == 0:
        return None
    return actual / target * 100


def growth_from_levels(value: float | None, prior: float | None) -> float | None:
    """Year-to-date growth in percent from this year's and last year's levels."""
    if value is None or prior is None or prior <= 0:
        return None
    return (value / prior - 1) * 100


def meets(actual: float, target: float, comparator: str) -> bool:
    """Whether a figure satisfies the target (以上/以内 include the number)."""
    return {
        ">=": actual >= target,
        ">": actual > target,
        "<=": actual <= target,
    }[comparator]


def grade(gap: float, g: Grades) -> str:
    """The status for a gap in points."""
    if gap >= g.warn:
        return "正常"
    if gap >= g.behind:
        return "预警"
    if gap >= g.severe:
        return "滞后"
    return "严重滞后"


def outlook_by_share(projection: float | None, target: float, th: Thresholds) -> str | None:
    """Outlook tier from projection / target."""
    if projection is None or target <= 0:
        return None
    share = projection / target
    if share >= th.on_track:
        return "进展顺利"
    if share >= th.reachable:
        return "经过努力能够完成"
    return "仍需付出更大努力"


def outlook_by_points(gap: float, th: Thresholds) -> str:
    """Outlook tier from a projected gap in points."""
    if gap >= th.on_track_pp:
        return "进展顺利"
    if gap >= th.reachable_pp:
        return "经过努力能够完成"
    return "仍需付出更大努力"


# ---------------------------------------------------------------- text


def num(x: float | None) -> str:
    """A number for Chinese text: at most two decimals, no trailing zeros."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def _pct(x: float) -> str:
    return f"{x:.1f}%"


def _pp(x: float) -> str:
    return f"{abs(x):.1f}"


def _amount(spec: Spec, x: float) -> str:
    return f"{num(x / spec.factor)}{spec.unit or ''}"


def gap_phrase(gap: float) -> str:
    """超序时进度 / 达到序时进度 / 滞后序时进度, as the supervision office writes it."""
    if round(gap, 1) > 0:
        return f"超序时进度{_pp(gap)}个百分点"
    if round(gap, 1) == 0:
        return "达到序时进度"
    return f"滞后序时进度{_pp(gap)}个百分点"


# ---------------------------------------------------------------- judgements per kind


def _final(spec: Spec, obs: Obs) -> bool:
    """Whether the figure covers the whole period up to the deadline (a year-end figure)."""
    return obs.month >= spec.deadline.month and spec.deadline.year == spec.year


def judge_cumulative(spec: Spec, obs: Obs, th: Thresholds) -> Judgement:
    """Amounts and counts: 完成率 against 序时进度."""
    actual, target = obs.value, spec.target
    if not target:
        return no_data(spec, "目标值缺失或为零，无法计算完成率")
    share = time_share(obs.month, spec.profile)
    rate = completion_rate(actual, target)
    tp = share * 100
    gap = rate - tp
    projection = actual / share if share > 0 else None
    figures = {
        "actual": actual,
        "expected": target * share,
        "completion_rate": rate,
        "time_progress": tp,
        "gap_pp": gap,
        "projection": projection,
    }
    basis = {"linear": "", "profile": "（按季节进度曲线）", "monthly_plan": "（按月度计划）"}
    text = (
        f"1-{obs.month}月累计{_amount(spec, actual)}，完成率{_pct(rate)}，"
        f"序时进度{_pct(tp)}{basis[spec.profile_basis]}，{gap_phrase(gap)}"
    )
    if meets(actual, target, spec.comparator):
        return Judgement("已完成", **figures, detail_zh=f"已完成年度目标：{text}")
    if projection is None:
        text += "；按计划尚未到集中完成期，暂不预判"
    else:
        text += f"；按当前进度预计全年{_amount(spec, projection)}"
    return Judgement(
        grade(gap, th.grades[spec.kind]),
        **figures,
        outlook=outlook_by_share(projection, target, th),
        detail_zh=text,
    )


def judge_growth(spec: Spec, obs: Obs, th: Thresholds) -> Judgement:
    """Growth rates: year-to-date growth against the annual rate, unscaled."""
    computed = obs.growth_pct is None
    actual = obs.growth_pct if not computed else growth_from_levels(obs.value, obs.prior_value)
    if actual is None:
        return no_data(spec, "增速未报送，且无法由累计值与上年同期值测算")
    target = spec.target
    gap = actual - target
    figures = {"actual": actual, "expected": target, "gap_pp": gap, "projection": actual}
    how = "（由累计值与上年同期值测算）" if computed else ""
    text = (
        f"1-{obs.month}月累计增长{num(actual)}%{how}，目标{num(target)}%，"
        f"{'高于' if gap >= 0 else '低于'}目标{_pp(gap)}个百分点"
    )
    met = meets(actual, target, spec.comparator)
    if met and _final(spec, obs):
        return Judgement("已完成", **figures, computed=computed, detail_zh=text)
    status = grade(gap, th.grades["growth_rate"])
    if status == "正常" and not met:  # a strict comparator at exactly the target
        status = "预警"
    outlook = outlook_by_points(gap, th)
    return Judgement(status, **figures, outlook=outlook, computed=computed, detail_zh=text)


def judge_level(spec: Spec, obs: Obs, th: Thresholds) -> Judgement:
    """Levels: against the straight path from the baseline, or against the target."""
    actual, target = obs.value, spec.target
    if spec.comparator == "<=":
        return judge_ceiling(spec, obs)
    met = meets(actual, target, spec.comparator)
    base = spec.baseline
    if spec.pace == "path" and base is None:
        base = 0.0  # a level the plan gives no baseline for is built up from zero this year
    elif spec.pace == "direct":
        base = None
    if base is not None and target != base:
        share = time_share(obs.month)
        rate = (actual - base) / (target - base) * 100  # share of the year's increase done
        gap = rate - share * 100
        figures = {
            "expected": base + (target - base) * share,
            "completion_rate": rate,
            "time_progress": share * 100,
            "projection": base + (actual - base) / share,
        }
        start = f"较基数{_amount(spec, base)}" if spec.baseline is not None else "（从零起步）"
        text = (
            f"{obs.month}月末{_amount(spec, actual)}，{start}"
            f"完成年度增量目标{_pct(rate)}，序时进度{_pct(share * 100)}，{gap_phrase(gap)}"
        )
    else:
        rate = completion_rate(actual, target)
        gap = rate - 100 if rate is not None else (actual - target)
        figures = {"expected": target, "completion_rate": rate, "projection": actual}
        text = f"{obs.month}月末{_amount(spec, actual)}，目标{_amount(spec, target)}"
        text += f"，达到目标的{_pct(rate)}" if rate is not None else ""
    figures |= {"actual": actual, "gap_pp": gap}
    if met and _final(spec, obs):
        return Judgement("已完成", **figures, detail_zh=text)
    status = grade(gap, th.grades["level"])
    if status == "正常" and not met:  # on the path but not yet at the target is fine
        status = status if base is not None else "预警"
    outlook = outlook_by_share(figures["projection"], target, th) if target > 0 else None
    return Judgement(status, **figures, outlook=outlook, detail_zh=text)


def judge_ceiling(spec: Spec, obs: Obs) -> Judgement:
    """Ceilings: any breach is 严重滞后; at the limit is within it."""
    actual, limit = obs.value, spec.target
    percent_unit = spec.unit is not None and canonical(spec.unit)[0] in ("%", "百分点")
    figures = {
        "actual": actual,
        "expected": limit,
        "completion_rate": completion_rate(actual, limit),
        "gap_pp": limit - actual if percent_unit else None,  # headroom, in points
        "projection": actual,
    }
    text = f"{obs.month}月末{_amount(spec, actual)}，上限{_amount(spec, limit)}"
    if not meets(actual, limit, spec.comparator):
        # The excess of a rate over its limit is a difference of percents: points, not "%".
        over = (
            f"{num((actual - limit) / spec.factor)}个百分点"
            if percent_unit
            else _amount(spec, actual - limit)
        )
        text += f"，超出上限{over}"
        return Judgement("严重滞后", **figures, outlook="仍需付出更大努力", detail_zh=text)
    text += "，控制在上限以内"
    if _final(spec, obs):
        return Judgement("已完成", **figures, detail_zh=text)
    return Judgement("正常", **figures, outlook="进展顺利", detail_zh=text)


def judge_relative(spec: Spec, obs: Obs, th: Thresholds, reference_zh: str = "参照值") -> Judgement:
    """Relative targets: own growth minus the reference series against the margin."""
    own = obs.growth_pct if obs.growth_pct is not None else obs.value
    if own is None or obs.reference_value is None:
        return no_data(spec, f"未报送本地区增速或{reference_zh}，无法比较")
    margin, required = own - obs.reference_value, spec.target
    gap = margin - required
    figures = {"actual": margin, "expected": required, "gap_pp": gap, "projection": margin}
    text = (
        f"1-{obs.month}月增速{num(own)}%，{reference_zh}{num(obs.reference_value)}%，"
        f"相差{num(margin)}个百分点（要求{'>' if spec.comparator == '>' else '≥'}"
        f"{num(required)}个百分点）"
    )
    met = meets(margin, required, spec.comparator)
    if met and _final(spec, obs):
        return Judgement("已完成", **figures, detail_zh=text)
    status = grade(gap, th.grades["relative"])
    outlook = outlook_by_points(gap, th)
    if not met:  # a strict comparator at exactly the margin is not met yet
        status = "预警" if status == "正常" else status
        outlook = "经过努力能够完成" if outlook == "进展顺利" else outlook
    return Judgement(status, **figures, outlook=outlook, detail_zh=text)


def judge_milestone(spec: Spec, obs: Obs | None, as_of: date, th: Thresholds) -> Judgement:
    """Milestones and qualitative tasks: done, on schedule, at risk, overdue."""
    deadline = spec.deadline
    if obs is not None and obs.milestone_status == "done":
        when = obs.completion_date
        late = (when - deadline).days if when is not None and when > deadline else None
        text = f"已于{when.isoformat()}完成" if when else "已完成"
        if late:
            text += f"，较期限{deadline.isoformat()}逾期{late}天"
        return Judgement("已完成", days_overdue=late, detail_zh=text)
    days_left = (deadline - as_of).days
    if days_left < 0:
        said = (
            "尚无进展报送"
            if obs is None
            else f"最近报送为“{_STEP_ZH.get(obs.milestone_status, '未知')}”"
        )
        return Judgement(
            "严重滞后",
            outlook="仍需付出更大努力",
            days_overdue=-days_left,
            detail_zh=f"期限{deadline.isoformat()}已过{-days_left}天仍未完成（{said}）",
        )
    if obs is None:
        return no_data(spec, f"尚无进展报送（期限{deadline.isoformat()}）")
    step = _STEP_ZH.get(obs.milestone_status, "未知")
    if days_left <= th.at_risk_days:
        return Judgement(
            "预警",
            outlook="经过努力能够完成",
            detail_zh=f"距期限{deadline.isoformat()}仅剩{days_left}天，仍为“{step}”",
        )
    return Judgement(
        "正常",
        outlook="进展顺利",
        detail_zh=f"{step}，期限{deadline.isoformat()}（剩余{days_left}天）",
    )


_STEP_ZH = {"not_started": "未启动", "in_progress": "推进中", "done": "已完成"}


def no_data(spec: Spec, why: str = "尚无报送数据") -> Judgement:
    """A target without a usable figure: never 正常."""
    return Judgement("无数据", detail_zh=why)


def judge(
    spec: Spec, obs: Obs | None, as_of: date, th: Thresholds, reference_zh: str = "参照值"
) -> Judgement:
    """The verdict on a target from its latest figure (None when nothing was reported)."""
    if spec.kind in ("milestone", "qualitative"):
        return judge_milestone(spec, obs, as_of, th)
    if obs is None:
        return no_data(spec)
    if spec.kind == "growth_rate":
        return judge_growth(spec, obs, th)
    if spec.kind == "relative":
        return judge_relative(spec, obs, th, reference_zh)
    if obs.value is None:
        return no_data(spec, "报送行缺少数值")
    if spec.kind in ("cumulative", "count"):
        return judge_cumulative(spec, obs, th)
    if spec.kind == "level":
        return judge_level(spec, obs, th)
    if spec.kind == "ceiling":
        return judge_ceiling(spec, obs)
    raise ValueError(f"unknown kind {spec.kind!r}")


# ---------------------------------------------------------------- data status


def due_date(year: int, month: int, due_day: int) -> date:
    """When the report for `month` is due: `due_day` of the following month."""
    return date(year + 1, 1, due_day) if month == 12 else date(year, month + 1, due_day)


def latest_due_month(year: int, months, due_day: int, as_of: date) -> int | None:
    """The last reporting month whose due date has passed by `as_of` (None: nothing due yet)."""
    due = [m for m in months if due_date(year, m, due_day) < as_of]
    return max(due) if due else None


def data_status(
    *,
    year: int,
    months,
    due_day: int,
    as_of: date,
    reported: set[int],
    quarantined: set[int],
    done: bool = False,
) -> tuple[str, int | None]:
    """The data status and the month whose report it concerns."""
    due = latest_due_month(year, months, due_day, as_of)
    if due is None:
        return ("正常" if reported else "未到期"), None
    if done or any(m >= due for m in reported):
        return "正常", due
    if due in quarantined:
        return "数据异常", due
    return "缺报", due


def data_note(status: str, due: int | None, year: int, due_day: int) -> str:
    """One sentence on the data status for the detail text (empty when nothing to say)."""
    if status == "缺报":
        d = due_date(year, due, due_day)
        return f"{due}月数据应于{d.month}月{d.day}日前报送，尚未收到"
    if status == "数据异常":
        return f"{due}月报送数据未通过校验（已拒收），请核实后重报"
    if status == "未到期":
        return "尚未到首次报送期限"
    return ""


# ---------------------------------------------------------------- history


def history_change(
    previous: str | None,
    previous_data: str | None,
    status: str,
    data: str,
    ever_behind: bool,
) -> str | None:
    """How a target's status moved since its last recorded row (None: no change to record)."""
    if previous is None:
        return "first"
    if previous == status and previous_data == data:
        return None
    if status == "已完成" and previous != "已完成":
        return "completed"
    was, now = previous in BEHIND, status in BEHIND
    if now and not was:
        return "relapsed" if ever_behind else "fell_behind"
    if was and not now and status in ("正常", "已完成"):
        return "recovered"
    if _RANK[status] != _RANK[previous]:
        return "worsened" if _RANK[status] > _RANK[previous] else "improved"
    if status != previous:  # 正常 <-> 无数据: having data is the better side
        return "improved" if previous == "无数据" else "worsened"
    return "worsened" if _DATA_RANK[data] > _DATA_RANK.get(previous_data, 0) else "improved"
