"""Prefect artifacts that show in the UI what each run did (Chinese: operators read them)."""

from __future__ import annotations

import math
import re
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

STATUS_COLUMNS = {
    "target_code": "指标代码",
    "name_zh": "指标",
    "department_code": "牵头单位",
    "status": "状态",
    "data_status": "数据状态",
    "completion_rate": "完成率(%)",
    "time_progress": "序时进度(%)",
    "gap_pp": "差距(百分点)",
    "outlook": "预计",
}
FILE_COLUMNS = {
    "file": "文件",
    "department": "单位",
    "status": "结果",
    "accepted": "接收行数",
    "rejected": "拒收行数",
    "revisions": "修订",
    "reason": "原因",
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


def status_rows(progress) -> list[dict]:
    """One row per target for the status table (progress: the mart.progress DataFrame)."""
    if progress is None or not len(progress):
        return []
    cols = [c for c in STATUS_COLUMNS if c in progress.columns]
    return [
        {STATUS_COLUMNS[c]: _cell(rec[c]) for c in cols}
        for rec in progress[cols].to_dict(orient="records")
    ]


def file_rows(summary: dict) -> list[dict]:
    """One row per file the run received."""
    return [{FILE_COLUMNS[k]: f.get(k) for k in FILE_COLUMNS} for f in summary["files"]]


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


def summary_markdown(summary: dict) -> str:
    """The run's counts in a few lines."""
    statuses = "，".join(f"{k} {v}" for k, v in sorted(summary["statuses"].items())) or "无"
    lines = [
        f"# 每晚流程 {summary['plan']}（截至 {summary['as_of']}）",
        "",
        "| 项目 | 数量 |",
        "|---|---|",
        f"| 收到文件 | {summary['files_seen']} |",
        f"| 全部接收 | {summary['files_accepted']} |",
        f"| 部分接收 | {summary['files_partial']} |",
        f"| 整体拒收 | {summary['files_rejected']} |",
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
        "",
        f"分析快照：`{summary['snapshot']}`",
    ]
    if summary.get("report"):
        lines += ["", f"报告：`{summary['report']}`"]
    return "\n".join(lines) + "\n"


def nightly_artifacts(summary: dict, progress) -> None:
    """The nightly run's artifacts: statuses, files and counts (rows, alerts)."""
    plan, as_of = summary["plan"], summary["as_of"]
    create_table_artifact(
        status_rows(progress),
        key=artifact_key(plan, "status"),
        description=f"{plan} 截至 {as_of} 各目标状态",
    )
    files = file_rows(summary) or [{FILE_COLUMNS["file"]: "（收件箱无新文件）"}]
    create_table_artifact(
        files, key=artifact_key(plan, "files"), description=f"{plan} {as_of} 收到的文件"
    )
    create_markdown_artifact(
        summary_markdown(summary),
        key=artifact_key(plan, "nightly"),
        description=f"{plan} 截至 {as_of} 的接收、拒收与提醒数",
    )


def key_value_rows(result: Any) -> list[dict]:
    """A dict result as rows of 项目/值 (for delivery and replay summaries)."""
    if not isinstance(result, dict):
        return [{"项目": "结果", "值": str(result)}]
    return [
        {"项目": str(k), "值": v if isinstance(v, int | float | str) else str(v)}
        for k, v in result.items()
    ]
