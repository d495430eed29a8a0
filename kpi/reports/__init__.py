"""Reports people look at: the nightly HTML progress report, the leadership workbook, Data Docs."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from kpi import clock
from kpi.catalogue import Catalogue
from kpi.config import Settings
from kpi.reports.data import NoProgressError, ReportData, latest_as_of, load_report_data

__all__ = [
    "NoProgressError",
    "ReportData",
    "latest_as_of",
    "report_link",
    "report_paths",
    "write_reports",
]


def report_paths(out_dir: Path, plan_code: str, as_of: date) -> dict[str, Path]:
    """Where the report files of a plan and as-of date go inside `out_dir`."""
    stem = f"{plan_code}_{as_of.isoformat()}"
    return {
        "html": out_dir / f"{stem}_progress.html",
        "workbook": out_dir / f"{stem}_workbook.xlsx",
        # one site per plan: two plans reporting into one folder never overwrite each other's
        "data_docs": out_dir / "data_docs" / plan_code / "index.html",
    }


def report_link(cfg: Settings, plan_code: str, as_of: date) -> str:
    """What an alert links to: the report under `report_base_url`, else its local path."""
    path = report_paths(cfg.reports, plan_code, as_of)["html"]
    base = cfg.report_base_url.strip()
    return f"{base.rstrip('/')}/{path.name}" if base else str(path)


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def write_reports(
    cfg: Settings, catalogue: Catalogue, as_of: date, out_dir: Path | None = None
) -> dict[str, Path | None]:
    """Write the HTML report, the workbook and the Data Docs for an as-of date; return their paths."""
    from kpi.reports.datadocs import build_data_docs
    from kpi.reports.html import render_html
    from kpi.reports.workbook import write_workbook

    out_dir = Path(out_dir or cfg.reports)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = report_paths(out_dir, catalogue.plan.code, as_of)
    data = load_report_data(cfg, catalogue, as_of)
    docs = build_data_docs(cfg, catalogue.plan.code, as_of, paths["data_docs"].parent)
    page = render_html(
        data,
        generated_at=clock.local_now(cfg.tz),
        data_docs_href=_relative(docs.index, out_dir) if docs else None,
        doc_pages={sid: _relative(p, out_dir) for sid, p in docs.pages.items()} if docs else {},
    )
    tmp = paths["html"].with_name(f".{paths['html'].name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(paths["html"])
    write_workbook(data, paths["workbook"])
    return {
        "html": paths["html"],
        "workbook": paths["workbook"],
        "data_docs": docs.index if docs else None,
    }
