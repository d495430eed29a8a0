"""Reports people look at: the nightly HTML progress report, the leadership workbook, Data Docs.

Layout under the reports folder (served as is by the web desk):
  <plan>_<as-of>_progress.html, <plan>_<as-of>_workbook.xlsx   one pair per as-of date
  <plan>/latest.html, <plan>/latest.xlsx                       the latest as-of date of the plan
  data_docs/<plan>/index.html, data_docs/<plan>/files/<id>.html  a validation page per file
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

from kpi import clock
from kpi.catalogue import Catalogue
from kpi.config import Settings
from kpi.reports.data import (
    NoProgressError,
    ReportData,
    latest_as_of,
    load_report_data,
    night_submissions,
)

__all__ = [
    "NoProgressError",
    "ReportData",
    "latest_as_of",
    "latest_link",
    "night_files",
    "night_submissions",
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
        # stable addresses of the plan's latest report, whatever its date
        "latest_html": out_dir / plan_code / "latest.html",
        "latest_workbook": out_dir / plan_code / "latest.xlsx",
    }


def _link(cfg: Settings, path: Path) -> str:
    base = cfg.report_base_url.strip()
    if not base:
        return str(path)
    return f"{base.rstrip('/')}/{_relative(path, cfg.reports)}"


def report_link(cfg: Settings, plan_code: str, as_of: date) -> str:
    """What an alert links to: the report under `report_base_url`, else its local path."""
    return _link(cfg, report_paths(cfg.reports, plan_code, as_of)["html"])


def latest_link(cfg: Settings, plan_code: str) -> str:
    """The stable address of a plan's latest report (under `report_base_url`, else a path)."""
    return _link(cfg, report_paths(cfg.reports, plan_code, date.min)["latest_html"])


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def _replace(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    tmp.replace(path)


def write_reports(
    cfg: Settings, catalogue: Catalogue, as_of: date, out_dir: Path | None = None
) -> dict[str, Path | None]:
    """Write the HTML report, the workbook and the Data Docs for an as-of date; return their paths.

    The plan's `latest.html`/`latest.xlsx` are replaced too when `as_of` is the latest date
    with progress (a report rewritten for an earlier date leaves them alone). A missing
    `out_dir` is created, with its parents, once the report's data has been read; a report
    that fails (no progress for the date, a folder that cannot be written) leaves no folder
    of its own behind.
    """
    out_dir = Path(out_dir or cfg.reports)
    data = load_report_data(cfg, catalogue, as_of)  # NoProgressError before anything is made
    created = _first_missing(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return _write(cfg, catalogue, as_of, out_dir, data)
    except BaseException:
        if created is not None:  # made by this call a moment ago: it holds only our files
            shutil.rmtree(created, ignore_errors=True)
        raise


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of `path` that does not exist yet (None if `path` exists)."""
    missing = None
    for p in [path, *path.parents]:
        if p.exists() or p.is_symlink():
            break
        missing = p
    return missing


def _write(
    cfg: Settings, catalogue: Catalogue, as_of: date, out_dir: Path, data: ReportData
) -> dict[str, Path | None]:
    from kpi.reports.datadocs import build_data_docs
    from kpi.reports.html import render_html
    from kpi.reports.workbook import write_workbook

    plan = catalogue.plan
    paths = report_paths(out_dir, plan.code, as_of)
    docs = build_data_docs(
        cfg, plan.code, paths["data_docs"].parent, plan_name=f"{plan.district_zh}{plan.year}年"
    )
    now = clock.local_now(cfg.tz)

    def page(where: Path) -> str:
        pages = {sid: _relative(p, where.parent) for sid, p in docs.pages.items()} if docs else {}
        index = _relative(docs.index, where.parent) if docs else None
        return render_html(data, generated_at=now, doc_pages=pages, docs_index=index)

    _replace(paths["html"], lambda tmp: tmp.write_text(page(paths["html"]), encoding="utf-8"))
    _replace(paths["workbook"], lambda tmp: write_workbook(data, tmp))
    latest = latest_as_of(cfg, plan.code)
    if latest is None or as_of >= latest:
        html = page(paths["latest_html"])
        _replace(paths["latest_html"], lambda tmp: tmp.write_text(html, encoding="utf-8"))
        _replace(paths["latest_workbook"], lambda tmp: shutil.copyfile(paths["workbook"], tmp))
    return {
        "html": paths["html"],
        "workbook": paths["workbook"],
        "data_docs": docs.index if docs else None,
    }


def night_files(cfg: Settings, catalogue: Catalogue, as_of: date) -> list[dict]:
    """The night's files (by run id) as people read them: the count and words of the report.

    Needs no progress: a run's artifact can list them right after ingestion.
    """
    from kpi.reports import view
    from kpi.reports.data import ROWS_KEPT, query
    from kpi.warehouse import connect

    params = {"plan": catalogue.plan.code, "as_of": as_of}
    with connect(cfg) as con:
        subs = query(con, "night_submissions", params)
        rejections = query(con, "rejections", {**params, "limit": ROWS_KEPT}) if subs else []
    names = {d.code: d.short_zh for d in catalogue.departments}
    return [
        {
            "单位": f["department_zh"],
            "文件": f["file_name"],
            "接收时间": f["received"],
            "结果": f["status_zh"],
            "接收行": f["n_accepted"],
            "拒收行": f["n_rejected"],
            "原因": f["reason"],
        }
        for f in view.file_rows(as_of, subs, names, rejections)
    ]
