"""Prefect artifacts that show in the UI what each run did, in Chinese: operators read them.

Tables lead with the column a person looks for first (状态, 结果), name departments by their
Chinese short names, and hold only numbers and text: never a code or a Python structure.
"""

from __future__ import annotations

import math
import re
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from kpi.pipeline import STATUS_ORDER

# mart.progress column -> heading, in the order the table shows them.
STATUS_COLUMNS = {
    "status": "状态",
    "name_zh": "指标",
    "department": "牵头单位",
    "completion_rate": "完成率(%)",
    "time_progress": "序时进度(%)",
    "gap_pp": "差距(百分点)",
    "outlook": "年底预判",
    "data_status": "数据状态",
    "target_code": "指标代码",
}
# A run summary's file row -> heading (results and departments already in Chinese).
FILE_COLUMNS = {
    "status_zh": "结果",
    "file": "文件",
    "department": "填报单位",
    "accepted": "接收行数",
    "rejected": "拒收行数",
    "revisions": "修订",
    "reason": "原因",
}
ALERT_COUNTS = {
    "opened": "新开提醒",
    "worsened": "状态恶化",
    "repeated": "到期重发",
    "recovered": "恢复正常",
    "reminded": "催办",
    "escalated": "升级督查局",
    "escalated_again": "再次升级",
    "messages": "待发消息",
}
REPORT_LABELS = {"html": "进展报告", "workbook": "领导工作簿", "data_docs": "数据校验文档"}
# What `kpi.alerts.deliver` returns, in words (keys it may add later are shown as they are).
DELIVERY_LABELS = {
    "sent": "送达次数",
    "messages_done": "发完的消息",
    "failed": "失败",
    "given_up": "放弃重试",
    "deferred": "待重试",
    "held": "暂缓（免打扰时段）",
    "by_outcome": "各结果次数",
    "error": "错误",
    "plan": "计划",
    "as_of": "截至日期",
}
OUTCOME_LABELS = {
    "sent": "送达",
    "timeout": "超时",
    "refused": "连接被拒",
    "http_error": "HTTP 错误",
    "errcode": "企业微信错误码",
    "too_long": "超长",
    "error": "其他错误",
}


def artifact_key(*parts: str) -> str:
    """An artifact key from free text: lower-case letters, digits and dashes only."""
    key = "-".join(parts).lower()
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", key)).strip("-")


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 1)
    if hasattr(value, "item"):  # numpy scalars
        return _cell(value.item())
    return value


def plain(value: Any, labels: dict[str, str] | None = None) -> str | int | float | None:
    """A value as a table cell: numbers and text as they are, structures as short Chinese text."""
    labels = labels or {}
    if hasattr(value, "item") and not isinstance(value, dict):  # numpy scalars
        value = value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return _cell(value)
    if isinstance(value, dict):
        return "，".join(f"{labels.get(str(k), k)} {plain(v, labels)}" for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return "、".join(str(plain(v, labels)) for v in value)
    return str(value)


def status_rows(progress, departments: dict[str, str] | None = None) -> list[dict]:
    """One row per target, worst first, status first (progress: the mart.progress DataFrame)."""
    if progress is None or not len(progress):
        return []
    departments = departments or {}
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    records = progress.to_dict(orient="records")
    for r in records:
        code = r.get("department_code")
        r["department"] = departments.get(code, code) if code is not None else None
    records.sort(
        key=lambda r: (
            rank.get(r.get("status"), len(rank)),
            _cell(r.get("gap_pp")) if _cell(r.get("gap_pp")) is not None else math.inf,
        )
    )
    cols = [c for c in STATUS_COLUMNS if records and c in records[0]]
    return [{STATUS_COLUMNS[c]: _cell(r[c]) for c in cols} for r in records]


def file_rows(summary: dict) -> list[dict]:
    """One row per file the run received (skipped files are listed apart, in the summary)."""
    return [{FILE_COLUMNS[k]: plain(f.get(k)) for k in FILE_COLUMNS} for f in summary["files"]]


def _report_lines(report: Any) -> list[str]:
    if isinstance(report, dict):
        return [f"- {REPORT_LABELS.get(k, k)}：`{v}`" for k, v in report.items() if v]
    return [f"- 报告：`{report}`"] if report else []


def summary_markdown(summary: dict) -> str:
    """The run's counts in a few Chinese lines (the same counts as meta.runs and the report)."""
    statuses = "，".join(f"{k} {v}" for k, v in summary["statuses"].items()) or "无"
    lines = [
        f"# 每晚流程 {summary['plan']}（截至 {summary['as_of']}）",
        "",
        "| 项目 | 数量 |",
        "|---|---|",
        f"| 收到文件 | {summary['files_seen']} |",
        f"| 全部接收 | {summary['files_accepted']} |",
        f"| 部分接收 | {summary['files_partial']} |",
        f"| 整体退回 | {summary['files_rejected']} |",
        f"| 重复文件 | {summary['files_duplicate']} |",
        f"| 接收行数 | {summary['rows_accepted']} |",
        f"| 拒收行数 | {summary['rows_rejected']} |",
        f"| 新发提醒 | {summary['alerts_raised']} |",
        *(
            f"| {label} | {summary['alerts'][k]} |"
            for k, label in ALERT_COUNTS.items()
            if isinstance(summary["alerts"].get(k), int)
        ),
        "",
        f"状态分布：{statuses}",
    ]
    skipped = summary.get("skipped") or []
    if skipped:
        names = "、".join(f"`{s['file']}`" for s in skipped)
        lines += ["", f"跳过的文件（{len(skipped)} 个，不计入收到文件）：{names}"]
    lines += ["", f"分析快照：`{summary['snapshot'] or '（未发布）'}`"]
    lines += _report_lines(summary.get("report"))
    return "\n".join(lines) + "\n"


def nightly_artifacts(summary: dict, progress, catalogue) -> None:
    """The nightly run's artifacts: statuses, files and counts (rows, alerts)."""
    plan, as_of = summary["plan"], summary["as_of"]
    departments = {d.code: d.short_zh for d in catalogue.departments}
    create_table_artifact(
        status_rows(progress, departments),
        key=artifact_key(plan, "status"),
        description=f"{plan} 截至 {as_of} 各目标状态（最需关注的在前）",
    )
    files = file_rows(summary) or [{FILE_COLUMNS["file"]: "（收件箱无新文件）"}]
    create_table_artifact(
        files,
        key=artifact_key(plan, "files"),
        description=f"{plan} {as_of} 这一晚收到的文件（共 {summary['files_seen']} 个）",
    )
    create_markdown_artifact(
        summary_markdown(summary),
        key=artifact_key(plan, "nightly"),
        description=f"{plan} 截至 {as_of} 的接收、拒收与提醒数",
    )


def key_value_rows(result: Any, labels: dict[str, str] | None = None) -> list[dict]:
    """A result as rows of 项目/值 in words (delivery and replay summaries)."""
    top = {**DELIVERY_LABELS, **(labels or {})}
    if not isinstance(result, dict):
        return [{"项目": "结果", "值": plain(result, OUTCOME_LABELS)}]
    return [
        {"项目": top.get(str(k), str(k)), "值": "—" if v is None else plain(v, OUTCOME_LABELS)}
        for k, v in result.items()
    ]
