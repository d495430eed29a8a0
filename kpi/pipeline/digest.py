"""The leadership digest: the targets behind, worst first, and the data problems apart."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from kpi.config import Settings
from kpi.pipeline.run import STATUS_ORDER
from kpi.warehouse import reading, sql_file


def digest_records(cfg: Settings, plan: str | None, as_of: date | None = None) -> list[dict]:
    """mart.progress rows of the latest as-of date on or before `as_of`, from the snapshot."""
    with reading(cfg) as con:
        cur = con.execute(
            sql_file("leadership_digest"),
            {"plan_code": plan or cfg.plan, "as_of": as_of or date(9999, 12, 31)},
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _pct(value: Any) -> str:
    return "—" if value is None else f"{value:.1f}%"


def render_digest(plan: str, records: list[dict]) -> str:
    """The digest text from mart.progress rows (pure: no I/O)."""
    if not records:
        return f"# {plan} 目标任务进展\n\n暂无进展数据：请先运行每晚流程。\n"
    as_of = records[0]["as_of"]
    counts = Counter(r["status"] for r in records)
    lines = [
        f"# {plan} 目标任务进展（截至 {as_of}）",
        "",
        f"共 {len(records)} 项："
        + "，".join(f"{s} {counts[s]} 项" for s in STATUS_ORDER if counts.get(s)),
        "",
    ]
    behind = [r for r in records if r["status"] in ("严重滞后", "滞后", "预警")]
    if behind:
        lines += [
            "## 需关注的目标",
            "",
            "| 状态 | 指标 | 牵头单位 | 完成率 | 序时进度 | 差距(百分点) | 预计 |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in behind:
            gap = "—" if r["gap_pp"] is None else f"{r['gap_pp']:+.1f}"
            lines.append(
                f"| {r['status']} | {r['name_zh']} | {r['department_zh']} | "
                f"{_pct(r['completion_rate'])} | {_pct(r['time_progress'])} | {gap} | "
                f"{r['outlook'] or '—'} |"
            )
        lines.append("")
    missing = [r for r in records if r["data_status"] in ("缺报", "数据异常")]
    if missing:
        lines += ["## 数据问题", ""]
        lines += [f"- {r['department_zh']}：{r['name_zh']}（{r['data_status']}）" for r in missing]
        lines.append("")
    return "\n".join(lines)


def write_digest(cfg: Settings, plan: str | None, as_of: date | None = None) -> Path:
    """Write the status digest under cfg.reports; return its path."""
    plan = plan or cfg.plan
    records = digest_records(cfg, plan, as_of)
    stamp = records[0]["as_of"].isoformat() if records else "none"
    cfg.reports.mkdir(parents=True, exist_ok=True)
    path = cfg.reports / f"{plan}-digest-{stamp}.md"
    path.write_text(render_digest(plan, records), encoding="utf-8")
    return path
