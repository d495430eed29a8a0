"""The submission contract: the template's columns, their aliases, and what each kind reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One column of the submission template."""

    field: str  # internal name
    header_zh: str  # header written in the template
    aliases: tuple[str, ...]  # other headers accepted (Chinese or English), compared folded
    required: bool  # a file without this column is refused
    help_zh: str  # one line for the instructions sheet


COLUMNS: tuple[Column, ...] = (
    Column(
        "department",
        "填报单位",
        ("报送单位", "责任单位", "单位", "department", "dept"),
        True,
        "本单位名称（简称或全称均可，如“发改委”）",
    ),
    Column(
        "period",
        "报告期",
        ("统计期", "期间", "月份", "period", "month"),
        True,
        "填写截至月份，如 2023-06、2023年6月、2023年1-6月",
    ),
    Column(
        "code",
        "指标代码",
        ("代码", "指标编码", "code", "indicator_code", "target_code"),
        True,
        "模板已预填，请勿修改",
    ),
    Column("name", "指标名称", ("指标", "name", "indicator"), False, "模板已预填，仅供核对"),
    Column(
        "unit",
        "计量单位",
        ("单位(计量)", "unit"),
        True,
        "模板已预填；如改用其他单位（如万元/亿元）须可换算",
    ),
    Column(
        "value",
        "数值",
        ("累计值", "本年累计", "当前值", "value", "ytd_value"),
        False,
        "累计量、累计数填年初至今累计值；时点值、上限类填当前值",
    ),
    Column(
        "growth_pct",
        "同比增长(%)",
        ("累计增长(%)", "增速(%)", "同比增长", "增速", "growth", "growth_pct", "yoy"),
        False,
        "增速类指标填年初至今累计同比增长率（%）",
    ),
    Column(
        "prior_value",
        "上年同期值",
        ("上年同期", "去年同期", "prior_value", "last_year"),
        False,
        "无法提供增速时可填上年同期累计值，系统据此计算并标注“测算”",
    ),
    Column(
        "reference_value",
        "参照值",
        ("全市平均", "参照值(全市/全区平均)", "reference", "reference_value"),
        False,
        "相对目标填参照对象（如全市平均增速）当期数值",
    ),
    Column(
        "status",
        "进展状态",
        ("完成状态", "状态", "status", "milestone_status"),
        False,
        "节点任务、定性任务从下拉列表选择：未启动 / 推进中 / 已完成",
    ),
    Column(
        "completion_date",
        "完成日期",
        ("实际完成日期", "completion_date", "done_on"),
        False,
        "进展状态为“已完成”时必填，如 2023-06-28",
    ),
    Column("note", "备注", ("说明", "note", "remark", "remarks"), False, "需要说明的情况"),
)

# Milestone / qualitative status vocabulary: Chinese as written -> code.
STATUS_VOCAB: dict[str, str] = {"未启动": "not_started", "推进中": "in_progress", "已完成": "done"}
STATUS_ZH = {v: k for k, v in STATUS_VOCAB.items()}

# Which value column each kind must fill (at least one of them).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "growth_rate": ("growth_pct", "prior_value"),  # prior_value needs value too: growth computed
    "cumulative": ("value",),
    "count": ("value",),
    "level": ("value",),
    "ceiling": ("value",),
    "relative": ("growth_pct", "value"),  # own figure; reference_value carries the comparison
    "milestone": ("status",),
    "qualitative": ("status",),
}

KIND_HELP_ZH: dict[str, str] = {
    "growth_rate": "增速类：在“同比增长(%)”填年初至今累计同比增速；可同时在“数值”填累计值。",
    "cumulative": "累计量：在“数值”填年初至今累计完成量（如完成投资额），单位须与“计量单位”一致或可换算。",
    "count": "累计数：在“数值”填年初至今累计个数/人数（如新增高新技术企业家数）。",
    "level": "时点值：在“数值”填报告期末的当前水平（如市场主体总数、注册率%）。",
    "ceiling": "上限类：在“数值”填报告期末的当前值（如失业率%、返贫致贫户数），不得超过目标。",
    "relative": "相对目标：在“同比增长(%)”填本地区/开发区增速，在“参照值”填全市（或全区）平均增速。",
    "milestone": "节点任务：在“进展状态”选择 未启动/推进中/已完成；已完成须填“完成日期”。",
    "qualitative": "定性任务：在“进展状态”选择 未启动/推进中/已完成；已完成须填“完成日期”。",
}

# Months in which a target reports, by cadence (the period is the month the figure runs to).
CADENCE_MONTHS: dict[str, tuple[int, ...]] = {
    "monthly": tuple(range(1, 13)),
    "quarterly": (3, 6, 9, 12),
    "half_yearly": (6, 12),
    "annual": (12,),
}
# Indicators published for January and February together (1-2月): no January report is due.
JAN_FEB_TOGETHER = ("growth_rate", "cumulative")


def reporting_months(kind: str, cadence: str) -> tuple[int, ...]:
    """The months for which a target of this kind and cadence is reported."""
    months = CADENCE_MONTHS[cadence]
    if cadence == "monthly" and kind in JAN_FEB_TOGETHER:
        return tuple(m for m in months if m != 1)
    return months
