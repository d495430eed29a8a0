"""A synthetic province for the benchmark: cloned catalogues and a year of department files.

Every district gets the Hongqi catalogue under its own plan code (d001-2023, 第001区, ...), and
every department one file per month in which it has targets due, built with kpi.templates and
filled with values from the demo's seeded trajectories (some targets lag, some milestones are
late). About 2% of the files carry one bad row, about 1% are followed by a corrected copy (a
revision). Half of the departments send .csv, half .xlsx. The same seed gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import tomllib
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml

from kpi.catalogue import Catalogue, load_catalogue
from kpi.config import ROOT
from kpi.contract import STATUS_ZH, reporting_months
from kpi.templates import (
    FIELDS,
    FIRST_DATA_ROW,
    SHEET_FORM,
    Period,
    build_workbook,
    csv_bytes,
    due_date,
    due_targets,
    template_file_name,
    workbook_bytes,
)

sys.path.insert(0, str(ROOT))  # demo/ is a folder of the repository, not an installed package
from demo.generate import Story, trajectory  # noqa: E402 - after the path fix above

SEED = 20240101
YEAR = 2023
SOURCE = ROOT / "catalogue" / "hongqi-2023.yaml"
VERSION = 3  # bump when the generated content changes: cached folders are rebuilt
# Data the files are built from (their bytes are part of the cache's stamp).
INPUTS = (SOURCE, ROOT / "catalogue" / "departments.yaml", ROOT / "config" / "status.toml")
DEFECT_SHARE = 0.02  # files with one bad row
REVISION_SHARE = 0.01  # files followed by a corrected copy a few days later
LAGGING = ("预警", "滞后", "严重滞后")


@dataclass
class SynthFile:
    """One generated submission."""

    plan: str
    department: str
    month: int
    path: str  # relative to the province folder
    arrival: str  # ISO datetime, also the file's mtime
    fmt: str
    kind: str  # template | defect | revision
    rows: int


def plan_code(i: int) -> str:
    """The plan code of district i (1-based)."""
    return f"d{i:03d}-{YEAR}"


def district_zh(i: int) -> str:
    """The Chinese name of district i."""
    return f"第{i:03d}区"


def write_catalogues(folder: Path, n: int) -> list[Path]:
    """Clone the Hongqi catalogue for districts 1..n into `folder`; return the files."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    plan = doc["plan"]
    # Absolute: the clones share the bundled report and department register.
    plan["report"] = str(SOURCE.parent / plan["report"])
    plan["departments"] = str(SOURCE.parent / plan["departments"])
    out = []
    for i in range(1, n + 1):
        plan.update(
            code=plan_code(i),
            name_zh=f"{district_zh(i)}{YEAR}年政府工作报告目标任务",
            district_zh=district_zh(i),
        )
        path = folder / f"{plan_code(i)}.yaml"
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        out.append(path)
    return out


def _stories(cat: Catalogue, seed: str) -> dict[str, Story]:
    """Per target, what it does this year in this district: mostly on pace, some lagging."""
    out = {}
    for t in cat.targets:
        rng = random.Random(f"{seed}:story:{t.code}")
        months = reporting_months(t.kind, t.cadence)
        roll = rng.random()
        if t.kind in ("cumulative", "count", "growth_rate") and roll < 0.25:
            first = rng.choice([m for m in months if m >= 3] or list(months))
            s = Story("lagging_from", month=first, severity=rng.choice(LAGGING))
        elif t.kind in ("cumulative", "count") and roll < 0.32:
            s = Story("recovers")
        elif t.kind == "ceiling" and t.value and roll < 0.1:
            s = Story("ceiling_breach", month=rng.choice(months))
        elif t.kind == "milestone" and roll < 0.2:
            s = Story("milestone_late", done_on=t.deadline + timedelta(days=rng.randint(10, 90)))
        elif t.kind == "milestone":
            s = Story("milestone_on_time")
        elif t.kind == "qualitative":
            s = Story("qualitative")
        else:
            s = Story("on_pace")
        out[t.code] = s
    return out


def _row(t, dept_zh: str, period: Period, obs: dict) -> dict:
    """A row as the department writes it (the demo's cells, in the target's written unit)."""
    row = dict.fromkeys(FIELDS, None)
    row.update(
        department=dept_zh, period=period.code, code=t.code, name=t.name_zh, unit=t.unit or None
    )
    for f in ("value", "growth_pct", "reference_value"):
        if f in obs:
            row[f] = obs[f]
    if "status" in obs:
        row["status"] = STATUS_ZH[obs["status"]]
        if obs.get("completion_date"):
            row["completion_date"] = obs["completion_date"]
    return row


def _text(v: object) -> str:
    if v is None:
        return ""
    return v.isoformat() if isinstance(v, date) else str(v)


def _xlsx(cat: Catalogue, dept, period: Period, rows: list[dict], stamp: datetime) -> bytes:
    wb = build_workbook(cat, dept, period)
    ws = wb[SHEET_FORM]
    prefilled = ws.max_row - FIRST_DATA_ROW + 1
    for i, row in enumerate(rows):
        for j, f in enumerate(FIELDS, start=1):
            cell = ws.cell(FIRST_DATA_ROW + i, j)
            v = row[f]
            cell.value = None if v in (None, "") else v
            if isinstance(v, str):
                cell.data_type = "s"
            elif isinstance(v, date):
                cell.number_format = "yyyy-mm-dd"
    for r in range(FIRST_DATA_ROW + len(rows), FIRST_DATA_ROW + prefilled):
        for j in range(1, len(FIELDS) + 1):
            ws.cell(r, j).value = None
    return workbook_bytes(wb, stamp)


def _defect(rows: list[dict], rng: random.Random) -> None:
    """Spoil one row the way departments do: a typo in a number, a wrong unit, a stray code."""
    numeric = [r for r in rows if r["value"] is not None and r["unit"]]
    choice = rng.choice(("bad_number", "unit", "unknown_code") if numeric else ("unknown_code",))
    if choice == "bad_number":
        rng.choice(numeric)["value"] = "1,2x3"
    elif choice == "unit":
        rng.choice(numeric)["unit"] = "吨"
    else:
        extra = dict(rows[0], code="capital_attracted_total", name="引进资金总额", unit="亿元")
        extra.update(value=12.5, growth_pct=None, reference_value=None, status=None)
        extra["completion_date"] = None
        rows.append(extra)


def district_files(cat: Catalogue, index: int, out: Path, seed: int, thr: dict) -> list[SynthFile]:
    """Write every file of one district's year under out/<plan>/; return what was written."""
    plan = cat.plan.code
    key = f"{seed}:{plan}"
    stories = _stories(cat, key)
    paths = {
        t.code: trajectory(t, stories[t.code], max(reporting_months(t.kind, t.cadence)), key, thr)
        for t in cat.targets
    }
    files: list[SynthFile] = []
    for d_index, dept in enumerate(cat.departments):
        fmt = "csv" if (index + d_index) % 2 else "xlsx"
        for m in range(1, 13):
            period = Period(YEAR, m)
            targets = due_targets(cat, dept.code, period)
            if not targets:
                continue
            rng = random.Random(f"{key}:{dept.code}:{m}")
            rows = [_row(t, dept.short_zh, period, paths[t.code][m]) for t in targets]
            due = min(due_date(t, period) for t in targets)
            arrival = datetime.combine(due - timedelta(days=rng.randint(0, 4)), datetime.min.time())
            arrival += timedelta(hours=8, minutes=rng.randint(0, 600))
            kind = "template"
            if rng.random() < DEFECT_SHARE:
                _defect(rows, rng)
                kind = "defect"
            versions = [(rows, arrival, kind)]
            if rng.random() < REVISION_SHARE:
                revised = [dict(r) for r in rows]
                numeric = [r for r in revised if isinstance(r["value"], int | float)]
                if numeric:
                    r = rng.choice(numeric)
                    r["value"] = round(r["value"] * rng.uniform(1.01, 1.03), 2)
                    versions.append(
                        (revised, arrival + timedelta(days=rng.randint(2, 6)), "revision")
                    )
            for n, (vrows, when, vkind) in enumerate(versions):
                name = template_file_name(dept, period, fmt)
                if n:
                    name = name.replace(f".{fmt}", f"（更正）.{fmt}")
                rel = Path(plan) / f"{m:02d}" / name
                if fmt == "csv":
                    data = csv_bytes([{f: _text(r[f]) for f in FIELDS} for r in vrows])
                else:
                    data = _xlsx(cat, dept, period, vrows, when)
                dest = out / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
                stamp = when.timestamp()
                os.utime(dest, (stamp, stamp))
                files.append(
                    SynthFile(
                        plan, dept.code, m, str(rel), when.isoformat(), fmt, vkind, len(vrows)
                    )
                )
    return files


def _district_job(args: tuple) -> list[dict]:
    cat_path, index, out, seed, thr = args
    cat = load_catalogue(cat_path)
    return [asdict(f) for f in district_files(cat, index, out, seed, thr)]


def inputs_digest() -> str:
    """A hash of the files the province is built from: a cached province built from an older
    catalogue (or register, or status thresholds) is stale even when VERSION is not."""
    h = hashlib.sha256()
    for p in INPUTS:
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def province(root: Path, n: int, seed: int = SEED, workers: int = 1) -> dict:
    """The province of n districts under root (cached: rebuilt when n, seed, VERSION or the inputs change)."""
    stamp = {"districts": n, "seed": seed, "version": VERSION, "inputs": inputs_digest()}
    manifest_path = root / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest["stamp"] == stamp:
            return manifest
    catalogues = write_catalogues(root / "catalogue", n)
    thr = tomllib.loads((ROOT / "config" / "status.toml").read_text(encoding="utf-8"))
    files_dir = root / "files"
    jobs = [(p, i, files_dir, seed, thr) for i, p in enumerate(catalogues, start=1)]
    if workers > 1:
        from multiprocessing import Pool

        with Pool(workers) as pool:
            parts = pool.map(_district_job, jobs, chunksize=1)
    else:
        parts = [_district_job(j) for j in jobs]
    files = [f for part in parts for f in part]
    digest = hashlib.sha256()
    for f in files:
        digest.update((files_dir / f["path"]).read_bytes())
    manifest = {"stamp": stamp, "files": files, "sha256": digest.hexdigest()}
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest
