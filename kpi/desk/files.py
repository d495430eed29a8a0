"""The reports folder served at /reports/: only what the report writes, never outside it.

A request path is split into parts, each checked (no empty, dot or dot-dot part, no hidden
name, no backslash or NUL), joined under cfg.reports, resolved (symlinks followed), and
served only if it is still inside the resolved reports folder, is a regular file, and is one of
the report's outputs: a top-level `<plan>_<date>_progress.html` or `_workbook.xlsx`, or a file
of a Data Docs site under data_docs/. GX's own project folder (gx/) is never served.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from kpi.config import Settings

TOP_LEVEL = re.compile(
    r"^(?P<plan>[a-z][a-z0-9-]*)_(?P<day>\d{4}-\d{2}-\d{2})_(progress\.html|workbook\.xlsx)$"
)
DATA_DOCS = "data_docs"
DATA_DOCS_SUFFIXES = (
    ".html",
    ".css",
    ".js",
    ".png",
    ".svg",
    ".jpg",
    ".gif",
    ".ico",
    ".json",
    ".woff",
    ".woff2",
    ".ttf",
)
MAX_PARTS = 12
MEDIA = {
    ".html": "text/html; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
}


def resolve(cfg: Settings, rel: str) -> Path | None:
    """The file a /reports/<rel> request may be served, or None."""
    if not rel or len(rel) > 400 or "\\" in rel or "\x00" in rel:
        return None
    parts = rel.split("/")
    if len(parts) > MAX_PARTS or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return None
    if len(parts) == 1:
        if not TOP_LEVEL.match(parts[0]):
            return None
    elif parts[0] != DATA_DOCS or not parts[-1].lower().endswith(DATA_DOCS_SUFFIXES):
        return None
    root = cfg.reports.resolve()
    try:
        path = root.joinpath(*parts).resolve(strict=True)
    except (FileNotFoundError, RuntimeError, OSError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def media_type(path: Path) -> str:
    """The content type of a served file."""
    return MEDIA.get(path.suffix.lower(), "application/octet-stream")


@dataclass(frozen=True)
class Report:
    """One night's report files of a plan."""

    day: date
    html: str | None
    workbook: str | None


def reports_of(cfg: Settings, plan_code: str) -> list[Report]:
    """The plan's reports in the folder, newest first (names relative to /reports/)."""
    if not cfg.reports.is_dir():
        return []
    found: dict[date, dict[str, str]] = {}
    for path in cfg.reports.iterdir():
        m = TOP_LEVEL.match(path.name)
        if not m or m.group("plan") != plan_code or not path.is_file():
            continue
        try:
            day = date.fromisoformat(m.group("day"))
        except ValueError:
            continue
        kind = "html" if path.name.endswith(".html") else "workbook"
        found.setdefault(day, {})[kind] = path.name
    return [
        Report(day, found[day].get("html"), found[day].get("workbook"))
        for day in sorted(found, reverse=True)
    ]


def data_docs_index(cfg: Settings, plan_code: str) -> str | None:
    """The Data Docs index of the plan, relative to /reports/, if there is one."""
    rel = f"{DATA_DOCS}/{plan_code}/index.html"
    return rel if resolve(cfg, rel) else None
