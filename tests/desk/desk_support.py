"""Helpers of the desk tests: the seeded world, submission files, filling a template."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import openpyxl

from kpi.catalogue import Catalogue
from kpi.config import Settings, load_settings
from kpi.desk.tokens import mint, scope_of
from kpi.templates import HEADERS_ZH

AS_OF = date(2023, 7, 15)
PLAN = "tiny-2023"


@dataclass
class Seeded:
    """A desk's world: settings (home, catalogue) and the plan's catalogue."""

    cfg: Settings
    catalogue: Catalogue

    def token(self, *, department: str | None = None, role: str | None = None, **kw) -> str:
        """A fresh signed token for a department code or a role."""
        scope = scope_of(department=department, role=role)
        return mint(self.cfg, PLAN, scope, **kw)[0]


def csv_file(path: Path, rows: list[list]) -> Path:
    """A submission as a department's spreadsheet exports it (UTF-8 CSV, contract headers)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADERS_ZH)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def row(dept, period, code, unit=None, value=None, growth=None, status=None) -> list:
    """One row in the template's column order."""
    return [dept, period, code, "", unit, value, growth, None, None, status, None, None]


SEED_FILES = {
    "发改委_2023年5月.csv": [
        row("发改委", "2023-05", "investment_total", "亿元", 60),
        row("发改委", "2023-05", "finance_hall_open", status="推进中"),
    ],
    "统计局_2023年6月.csv": [row("统计局", "2023-06", "gdp_growth", "%", growth=8.9)],
    "人社局_2023年6月.csv": [
        row("人社局", "2023-06", "urban_jobs", "人", 5000),
        row("人社局", "2023-06", "unemployment_rate", "%", 3.9),
    ],
    "市场监管局_2023年6月.csv": [
        row("市场监管局", "2023-06", "market_entities", "万户", 5.3),
        row("市场监管局", "2023-06", "no_such_target", "个", 1),
    ],
}


def shared_conftest():
    """tests/conftest.py as a module (its tiny catalogue), loaded by path under its own name."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "conftest.py"
    spec = importlib.util.spec_from_file_location("kpi_tests_shared_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def settings_for(home: Path, catalogue_dir: Path) -> Settings:
    """Settings whose state lives in `home`, judging the tiny plan in `catalogue_dir`."""
    cfg = load_settings(env={}).with_home(home)
    return replace(cfg, catalogue_dir=catalogue_dir, plan=PLAN)


def fill_template(data: bytes, catalogue: Catalogue, out: Path, values: dict | None = None) -> Path:
    """A downloaded template filled in as a clerk would: every row, plausible figures."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["填报表"]
    header = [c.value for c in ws[2]]
    col = {h: i + 1 for i, h in enumerate(header)}
    targets = {t.code: t for t in catalogue.targets}
    values = values or {}
    for r in range(3, ws.max_row + 1):
        code = ws.cell(r, col["指标代码"]).value
        if not code:
            continue
        t = targets[code]
        if t.kind in ("growth_rate", "relative"):
            ws.cell(r, col["同比增长(%)"]).value = values.get(code, 9.1)
        elif t.kind in ("milestone", "qualitative"):
            ws.cell(r, col["进展状态"]).value = values.get(code, "推进中")
        else:
            ws.cell(r, col["数值"]).value = values.get(code, (t.value or 10) * 0.6)
    wb.save(out)
    return out


def inbox_names(cfg: Settings) -> list[str]:
    """The files waiting in the plan's inbox folder for the nightly run, by name."""
    folder = cfg.inbox / PLAN
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
