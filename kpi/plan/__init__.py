"""Plans as the supervision office keeps them: the 分解表 exported, imported and drafted.

- `export_plan(cat, path, monthly_plans=None)`: the plan as a 分解表 workbook (drop-down lists,
  填写说明); `monthly_plans(cfg, plan_code)` are shown in 各月累计进度 where they set 序时进度.
- `import_plan(cfg, path, code, out_dir, report=None)`: a 分解表 back into `<out_dir>/<code>.yaml`,
  written only when every row is valid (ImportError_ lists the rest, in Chinese); a monthly plan
  shown in the table must match config/status.toml (it stays there: import never writes it).
- `draft_plan(text, ...)` (kpi.plan.draft): rows drafted from a report's text, for review.
"""

from __future__ import annotations

from pathlib import Path

from kpi.catalogue import Catalogue, profile_floors
from kpi.plan.importer import ImportError_, build_catalogue, write_catalogue
from kpi.plan.table import catalogue_rows, plan_info
from kpi.plan.text import ReportError, read_report
from kpi.plan.xlsx import WorkbookError, read_workbook, write_workbook

__all__ = [
    "ImportError_",
    "ReportError",
    "WorkbookError",
    "export_plan",
    "import_plan",
    "monthly_plans",
]


def monthly_plans(cfg, plan_code: str) -> dict[str, tuple[float, ...]]:
    """The plan's [monthly_plans] of the status config: target code -> 12 planned amounts."""
    from kpi.progress import load_thresholds

    return dict(load_thresholds(cfg.status_config).monthly_plans.get(plan_code, {}))


def export_plan(cat: Catalogue, path: Path, monthly_plans: dict | None = None) -> Path:
    """Write a plan as its 分解表 workbook (with its monthly plans in 各月累计进度)."""
    return write_workbook(
        path,
        catalogue_rows(cat, monthly_plans),
        plan_info(cat.plan),
        [d.short_zh for d in cat.departments],
        f"{cat.plan.name_zh}分解表",
    )


def import_plan(
    cfg, path: Path, code: str, out_dir: Path | None = None, report: Path | None = None
) -> Path:
    """Validate a 分解表 and write the plan's catalogue; raise ImportError_ if any row is bad."""
    out_dir = Path(out_dir or cfg.catalogue_dir)
    try:
        sheet = read_workbook(path, cfg.max_file_bytes, cfg.max_xlsx_uncompressed_bytes)
    except WorkbookError as exc:
        raise ImportError_([str(exc)]) from exc
    floors = profile_floors()
    plans = monthly_plans(cfg, code)
    if report is None:
        plan, targets = build_catalogue(sheet, code, out_dir, floors, monthly_plans=plans)
        return write_catalogue(plan, targets, out_dir, floors)
    try:
        text = read_report(report)
    except ReportError as exc:
        raise ImportError_([str(exc)]) from exc
    # The report is checked under a temporary name and takes its place only with the plan.
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / f"{code}.report.txt"
    staged = out_dir / f".{code}.report.txt.new"
    staged.write_text(text, encoding="utf-8")
    try:
        plan, targets = build_catalogue(sheet, code, out_dir, floors, staged.name, plans)
        staged.replace(final)
        plan = plan.model_copy(update={"report": final.name})
        return write_catalogue(plan, targets, out_dir, floors)
    finally:
        staged.unlink(missing_ok=True)
