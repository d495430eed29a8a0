"""A drafted plan written as a 分解表 workbook, for the office to review and import."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml

from kpi.catalogue import KIND_ZH, Department
from kpi.plan.draft import Draft, draft_plan
from kpi.plan.table import (
    CADENCE_ZH,
    COMPARATOR_ZH,
    FIRMNESS_LABEL,
    HEADLINE_LABEL,
    REFERENCE_LABEL,
)
from kpi.plan.text import read_report
from kpi.plan.xlsx import write_workbook
from transforms.progress import PACE_ZH


def load_register(path: Path) -> list[Department]:
    """The departments of a register file (empty if there is none)."""
    if not path.is_file():
        return []
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [Department.model_validate(d) for d in doc.get("departments", [])]


def draft_rows(draft: Draft) -> list[dict[str, object]]:
    """Drafted rows as 分解表 rows (no code yet: import numbers them)."""
    out = []
    for i, r in enumerate(draft.rows, start=1):
        out.append(
            {
                "seq": i,
                "name_zh": r.name_zh,
                "source": r.source_clean,
                "kind": KIND_ZH[r.kind],
                "comparator": COMPARATOR_ZH[r.comparator],
                "value": r.value,
                "unit": r.unit or "",
                "deadline": date.fromisoformat(r.deadline) if r.deadline else None,
                "department": r.department or "",
                "supporting": "",
                "cadence": CADENCE_ZH[r.cadence],
                "pace": PACE_ZH[r.pace],
                "headline": HEADLINE_LABEL[r.headline],
                "notes": "；".join(x for x in (r.notes, "起草，待审核") if x),
                "code": "",
                "firmness": FIRMNESS_LABEL[r.firmness],
                "due_day": r.due_day,
                "section": r.section,
                "profile": "",
                "reference": REFERENCE_LABEL.get(r.reference or "", ""),
            }
        )
    return out


def draft_report(
    cfg,
    report: Path,
    *,
    out: Path | None = None,
    year: int | None = None,
    register: Path | None = None,
) -> tuple[Draft, Path | None]:
    """Draft a report's 分解表; write the workbook unless `out` is None and JSON is wanted."""
    report = Path(report)
    text = read_report(report)
    departments = load_register(register or cfg.catalogue_dir / "departments.yaml")
    draft = draft_plan(text, year=year, departments=departments)
    if out is None:
        return draft, None
    info = [
        ("计划代码", ""),
        ("计划名称", f"{draft.district_zh}{draft.year}年政府工作报告目标任务"),
        ("区县", draft.district_zh),
        ("年度", draft.year),
        ("开始日期", date(draft.year, 1, 1)),
        ("结束日期", date(draft.year, 12, 31)),
        ("报告文件", report.name if report.suffix.lower() == ".txt" else ""),
        ("部门名录", "departments.yaml"),
        ("说明", f"由 kpi plan draft 从 {report.name} 起草，须逐行审核：牵头单位为建议。"),
    ]
    info += [(f"章节 {k}", v) for k, v in draft.sections.items()]
    title = f"{draft.district_zh}{draft.year}年政府工作报告目标任务分解表（起草稿）"
    names = [d.short_zh for d in departments]
    return draft, write_workbook(out, draft_rows(draft), info, names, title)
