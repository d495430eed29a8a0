"""The 分解表 (target breakdown table): its columns and vocabulary, and targets as its rows.

Pure mapping, no I/O: `kpi.plan.xlsx` reads and writes the workbook, `kpi.plan.importer`
validates rows back into targets.
"""

from __future__ import annotations

from dataclasses import dataclass

from kpi.catalogue import KIND_ZH, REFERENCE_ZH, Catalogue, Target
from transforms.progress import PACE_ZH, profile_from_monthly_plan

SHEET = "分解表"
PLAN_SHEET = "计划信息"
HELP_SHEET = "填写说明"
LISTS_SHEET = "选项"


@dataclass(frozen=True)
class Column:
    """One column of the 分解表."""

    header: str
    key: str
    width: int
    help_zh: str


# The supervision office's own columns first, in its order; the catalogue's other fields after.
COLUMNS = (
    Column("序号", "seq", 6, "行号，只用于排序和核对。"),
    Column("目标任务", "name_zh", 28, "任务或指标的简称，如“新增城镇就业”。"),
    Column("原文", "source", 50, "报告中的原句（必须能在报告原文中找到，空格、换行不计）。"),
    Column(
        "类型",
        "kind",
        10,
        "增速 / 累计量 / 累计数 / 时点值 / 上限 / 节点任务 / 相对目标 / 定性任务。",
    ),
    Column(
        "比较", "comparator", 6, "≥（以上）、≤（以内）、>（高于）；节点任务和定性任务填“完成”。"
    ),
    Column("目标值", "value", 10, "数字；节点任务和定性任务不填。"),
    Column("单位", "unit", 8, "如 %、亿元、万平方米、个、家、人、百分点。"),
    Column(
        "完成时限",
        "deadline",
        12,
        "日期，须在计划年度内；上半年填 6 月 30 日，年内填 12 月 31 日。",
    ),
    Column("牵头单位", "department", 16, "部门名录中的单位简称或全称。"),
    Column("责任单位", "supporting", 22, "配合单位，多个用顿号“、”分隔。"),
    Column("报送周期", "cadence", 8, "月报 / 季报 / 半年报 / 年报。"),
    Column(
        "序时进度曲线",
        "pace",
        12,
        "按月均衡 / 季节曲线 / 基数路径 / 直接比较 / 按节点（见下方规则）。",
    ),
    Column("是否重点", "headline", 8, "是 / 否（主要预期目标填“是”）。"),
    Column("备注", "notes", 30, "说明、口径、假设。"),
    Column("指标代码", "code", 30, "小写英文字母、数字和下划线；新行可不填，导入时自动编号。"),
    Column("力度", "firmness", 6, "确保 / 力争 / 一般（原文既无“确保”也无“力争”）。"),
    Column("报送日", "due_day", 8, "次月几日前报送（1–28）；不填则数据类 10 日、节点类 5 日。"),
    Column("章节", "section", 8, "报告中的部分，如“二”“三(一)”。"),
    Column(
        "各月累计进度(%)",
        "profile",
        36,
        "仅“季节曲线”填写：1–12 月末累计应完成的百分比，12 个数，逗号分隔，不减，12 月为 100。"
        "指标按 config/status.toml 中的月度计划计算序时进度时，导出为“月度计划：…”"
        "（有季节曲线的，其后为“；季节曲线：…”），供核对；导入时月度计划须与该文件一致，"
        "要修改月度计划请改该文件。",
    ),
    Column("基数值", "baseline_value", 10, "上年基数（报告回顾部分给出的数）。"),
    Column("基数单位", "baseline_unit", 8, "基数的计量单位。"),
    Column("基数年度", "baseline_year", 8, "基数所属年度，不填则为上一年。"),
    Column("基数说明", "baseline_note", 30, "基数出处。"),
    Column("参照", "reference", 10, "相对目标的参照：全市平均 / 全区平均 / 全省平均 / 全国平均。"),
    Column("英文名称", "name_en", 24, "可不填。"),
)
HEADERS = tuple(c.header for c in COLUMNS)
BY_KEY = {c.key: c for c in COLUMNS}

COMPARATOR_ZH = {">=": "≥", "<=": "≤", ">": ">", "done": "完成"}
CADENCE_ZH = {"monthly": "月报", "quarterly": "季报", "half_yearly": "半年报", "annual": "年报"}
FIRMNESS_LABEL = {"firm": "确保", "aspirational": "力争", "plain": "一般"}
REFERENCE_LABEL = REFERENCE_ZH
HEADLINE_LABEL = {True: "是", False: "否"}

# Words read back on import besides the labels above (what people type in Excel).
COMPARATOR_ALIASES = {
    ">=": ">=",
    "＞＝": ">=",
    "≧": ">=",
    "以上": ">=",
    "不低于": ">=",
    "<=": "<=",
    "＜＝": "<=",
    "≦": "<=",
    "以内": "<=",
    "不超过": "<=",
    "＞": ">",
    "高于": ">",
    "done": "done",
}
CADENCE_ALIASES = {"月": "monthly", "季": "quarterly", "半年": "half_yearly", "年": "annual"}
DEFAULT_DUE_DAY = {"milestone": 5, "qualitative": 5}  # others 10


# Labels inside the 各月累计进度 cell when a monthly plan (config/status.toml) sets 序时进度.
MONTHLY_PLAN_LABEL = "月度计划"
SEASONAL_LABEL = "季节曲线"
MONTHLY_PLAN_DECIMALS = 2  # the monthly plan's cumulative percents as shown, and read back
MONTHLY_PLAN_KINDS = ("cumulative", "count")  # the kinds whose 序时进度 a curve sets


def percent_text(profile: list[float] | None) -> str:
    """A seasonal curve as the 12 percentages the office writes: "4,10,18,...,100"."""
    if not profile:
        return ""
    return ",".join(f"{x * 100:.10g}" for x in profile)


def monthly_percent_text(amounts) -> str:
    """A monthly plan's 12 amounts as cumulative percentages of the year, to two decimals."""
    shares = profile_from_monthly_plan(amounts)
    return ",".join(f"{x * 100:.{MONTHLY_PLAN_DECIMALS}f}".rstrip("0").rstrip(".") for x in shares)


def profile_cell(t: Target, monthly_plan=None) -> str:
    """What 各月累计进度 shows: the curve 序时进度 follows (a monthly plan first), else ""."""
    if monthly_plan is None or t.kind not in MONTHLY_PLAN_KINDS:
        return percent_text(t.profile)
    text = f"{MONTHLY_PLAN_LABEL}：{monthly_percent_text(monthly_plan)}"
    if t.profile:  # the catalogue's own curve, which the monthly plan overrides, is kept too
        text += f"；{SEASONAL_LABEL}：{percent_text(t.profile)}"
    return text


def target_row(t: Target, seq: int, short: dict[str, str], monthly_plan=None) -> dict[str, object]:
    """One target as the 分解表 row: column key -> cell value."""
    b = t.baseline
    return {
        "seq": seq,
        "name_zh": t.name_zh,
        "source": t.source,
        "kind": KIND_ZH[t.kind],
        "comparator": COMPARATOR_ZH[t.comparator],
        "value": t.value,
        "unit": t.unit or "",
        "deadline": t.deadline,
        "department": short.get(t.department, t.department),
        "supporting": "、".join(short.get(s, s) for s in t.supporting),
        "cadence": CADENCE_ZH[t.cadence],
        "pace": PACE_ZH[t.pace],
        "headline": HEADLINE_LABEL[t.headline],
        "notes": t.notes,
        "code": t.code,
        "firmness": FIRMNESS_LABEL[t.firmness],
        "due_day": t.due_day,
        "section": t.section,
        "profile": profile_cell(t, monthly_plan),
        "baseline_value": b.value if b else None,
        "baseline_unit": b.unit if b else "",
        "baseline_year": b.year if b else None,
        "baseline_note": b.note if b else "",
        "reference": REFERENCE_LABEL.get(t.reference or "", ""),
        "name_en": t.name_en,
    }


def catalogue_rows(cat: Catalogue, monthly_plans=None) -> list[dict[str, object]]:
    """Every target of a plan as 分解表 rows, in catalogue order.

    `monthly_plans`: target code -> 12 planned amounts, the plan's [monthly_plans] of
    config/status.toml (they set 序时进度 and are shown in 各月累计进度).
    """
    short = {d.code: d.short_zh for d in cat.departments}
    plans = monthly_plans or {}
    return [target_row(t, i, short, plans.get(t.code)) for i, t in enumerate(cat.targets, start=1)]


def plan_info(cat_plan) -> list[tuple[str, object]]:
    """The 计划信息 sheet: label -> value, then one row per section title."""
    p = cat_plan
    rows: list[tuple[str, object]] = [
        ("计划代码", p.code),
        ("计划名称", p.name_zh),
        ("区县", p.district_zh),
        ("年度", p.year),
        ("开始日期", p.start),
        ("结束日期", p.end),
        ("报告文件", p.report),
        ("部门名录", p.departments),
        ("说明", p.notes),
    ]
    rows += [(f"章节 {code}", title) for code, title in p.sections.items()]
    return rows


HELP_ZH = [
    "目标任务分解表 · 填写说明",
    "",
    "一、这张表是什么",
    "“分解表”工作表的每一行是政府工作报告中的一项目标任务：指标、目标值、完成时限、牵头单位、"
    "责任单位和报送周期。表格审核无误后，用 kpi plan import 导入，系统据此生成各单位的报送模板，"
    "并按下面的规则逐月判断进度。导入前不会跟踪任何任务。",
    "",
    "二、各列怎么填",
    *[f"{c.header}：{c.help_zh}" for c in COLUMNS],
    "",
    "三、类型和比较",
    "增速：同比增长率，与年度目标直接比较，不按时间折算。比较填 ≥（以上）或 >；"
    "“下降 3%”一类按上限填写：类型“上限”，比较 ≤，目标值 -3，单位 %。",
    "累计量 / 累计数：年内累计的金额、面积或个数，按序时进度判断。比较填 ≥。",
    "时点值：某一时点的水平（如市场主体户数、注册率）。比较填 ≥ 或 ≤。",
    "上限：不得突破的数（如失业率控制在 4.5% 以内）。比较只能填 ≤，任何突破都是严重滞后。",
    "相对目标：高于参照（全市平均等）若干个百分点。比较填 ≥ 或 >，单位填“百分点”，并填写“参照”列。",
    "节点任务：有明确时限的事项（如 6 月底建成）。比较填“完成”，不填目标值。",
    "定性任务：没有数字、年底可检查是否完成的事项。比较填“完成”，不填目标值。",
    "",
    "四、序时进度曲线（每项任务必须说明按哪条规则判断进度）",
    "按月均衡：累计量、累计数按“月数/12”计算序时进度（时间过半、任务过半）。",
    "季节曲线：投资、建设等后置的任务，或分批认定的个数，在“各月累计进度(%)”列填 12 个月末的累计"
    "百分比。曲线可以后置，但不能掩盖滞后：每季度末不得低于直线进度减 15 个百分点，"
    "即一季度末至少 10%、二季度末 35%、三季度末 60%、12 月 100%（config/status.toml 中可调）。",
    "月度计划：config/status.toml 可为累计量、累计数设置 12 个月的计划量，序时进度按其累计占比计算，"
    "优先于季节曲线。导出时“各月累计进度(%)”列显示为“月度计划：2.2,5.73,…,100”（有季节曲线的，"
    "其后为“；季节曲线：…”）。导入时月度计划须与该文件一致（按两位小数核对），季节曲线照常导入；"
    "要修改月度计划，请改 config/status.toml，不要改表。",
    "基数路径：时点值从上年基数（未给基数则从零起步）到目标值按直线推进，按序时进度判断，"
    "避免年初就把当前值与年末目标相比而误报严重滞后。",
    "直接比较：增速、上限、相对目标，以及需要全年保持的比率类时点值，当期值直接与目标比较。",
    "按节点：节点任务和定性任务，按完成时限和报送的进展状态判断。",
    "",
    "五、导入时检查什么",
    "单位不在部门名录中、目标值不是数字、完成时限不在计划年度内、比较与类型不符、指标重复、"
    "原文在报告中找不到、季节曲线低于季度下限等，都会按“第几行、哪一列、什么原因”列出；"
    "只要有一行不合格，就不会写入任何内容。",
]
