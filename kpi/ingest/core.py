"""Ingesting submissions: read, validate, quarantine, load, archive, and write the receipt."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from kpi.config import Settings
from kpi.contract import COLUMNS, STATUS_VOCAB
from kpi.ingest.frame import build_frame, cell_text, find_table
from kpi.ingest.quarantine import file_reason, public, row_entries
from kpi.ingest.read import FileRefused, read_sheets
from kpi.ingest.store import Duplicate, current_values, load_submission, lookup_submission
from kpi.ingest.validate import load_rules, run_rules
from kpi.warehouse import connect, sync_catalogue
from transforms.periods import month_end

log = logging.getLogger("kpi.ingest")
GROWTH_BAND = (
    -50.0,
    100.0,
)  # plausible year-to-date growth, %; outside it is a typo or a unit slip
_ARCHIVE_EXTS = (".xlsx", ".xlsm", ".xls", ".csv")
_COL_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class _Refusal(Exception):
    """The whole file is refused; `code` names why, for receipts and tests."""

    def __init__(self, reason: str, code: str):
        super().__init__(reason)
        self.reason, self.code = reason, code


def ingest_files(
    cfg: Settings,
    catalogue,
    paths,
    *,
    as_of: date | None = None,
    run_id: str | None = None,
    received_at: datetime | None = None,
) -> list[dict]:
    """Ingest the given files (left in place; a copy is archived); one receipt per file."""
    as_of = as_of or datetime.now(cfg.tz).date()
    _sync(cfg, catalogue)
    return [
        _ingest(cfg, catalogue, Path(p), as_of, run_id, received_at, from_inbox=False)
        for p in paths
    ]


def ingest_inbox(
    cfg: Settings, catalogue, *, as_of: date | None = None, run_id: str | None = None
) -> list[dict]:
    """Ingest every file in the inbox in arrival order (mtime, name); each leaves the inbox."""
    as_of = as_of or datetime.now(cfg.tz).date()
    cfg.inbox.mkdir(parents=True, exist_ok=True)
    files = [
        p
        for p in cfg.inbox.iterdir()
        if p.is_file() and not p.name.startswith((".", "~$"))  # hidden and Office lock files
    ]
    files.sort(key=lambda p: (p.stat().st_mtime, p.name))
    if not files:
        return []
    _sync(cfg, catalogue)
    return [_ingest(cfg, catalogue, p, as_of, run_id, None, from_inbox=True) for p in files]


def _sync(cfg: Settings, catalogue) -> None:
    with connect(cfg) as con:
        sync_catalogue(con, catalogue)


def _ingest(
    cfg: Settings,
    catalogue,
    path: Path,
    as_of: date,
    run_id: str | None,
    received_at: datetime | None,
    *,
    from_inbox: bool,
) -> dict:
    name = path.name  # the name on disk; nothing inside the file ever becomes a path
    st = path.stat()
    received = received_at or datetime.fromtimestamp(st.st_mtime, cfg.tz).replace(tzinfo=None)
    too_big = st.st_size > cfg.max_file_bytes
    data = b"" if too_big else path.read_bytes()
    sha = _sha_of_file(path) if too_big else hashlib.sha256(data).hexdigest()
    log.info("ingest %s (%d bytes, sha %s)", name, st.st_size, sha[:12])

    with connect(cfg) as con:
        existing = lookup_submission(con, sha)
        previous = current_values(con, catalogue.plan.code) if existing is None else {}
    if existing is not None:
        return _duplicate(cfg, path, sha, existing, from_inbox=from_inbox)

    base = {
        "submission_id": sha,
        "plan_code": catalogue.plan.code,
        "file_name": name,
        "size_bytes": st.st_size,
        "received_at": received,
        "run_id": run_id,
    }
    try:
        if too_big:
            raise _Refusal(
                f"文件“{name}”大小{st.st_size / 1e6:.1f}MB，超过上限{cfg.max_file_bytes / 1e6:.0f}MB",
                "too_large",
            )
        return _ingest_readable(cfg, catalogue, path, data, base, as_of, previous, from_inbox)
    except _Refusal as r:
        return _refuse(cfg, path, base, r, from_inbox=from_inbox)


def _ingest_readable(cfg, catalogue, path, data, base, as_of, previous, from_inbox) -> dict:
    name, sha = base["file_name"], base["submission_id"]
    try:
        sheets = read_sheets(data, name, max_uncompressed=cfg.max_xlsx_uncompressed_bytes)
    except FileRefused as exc:
        raise _Refusal(f"文件“{name}”{exc}", exc.code) from exc
    tables = [t for t in (find_table(s) for s in sheets) if t is not None]
    if not tables:
        if all(not any(c is not None for r in s.rows for c in r) for s in sheets):
            raise _Refusal(f"文件“{name}”中没有任何内容（空表）", "empty")
        raise _Refusal(
            f"文件“{name}”中未找到表头（应有一行包含“填报单位”“报告期”“指标代码”“计量单位”等列），"
            "请使用下发的报送模板",
            "no_header",
        )
    frame = build_frame(tables, catalogue, as_of=as_of, previous=previous)
    params = _params(catalogue, as_of)
    findings = run_rules(frame, load_rules(), params)
    refused = file_reason(findings, file_name=name)
    if refused:
        raise _Refusal(*refused)

    headers = {t.sheet: {f: h for f, (_, h) in t.columns.items()} for t in tables}
    entries = row_entries(frame, findings, file_name=name, headers=headers, params=params)
    critical = [e for e in entries if e["severity"] == "critical"]
    quarantined = {e["_rid"] for e in critical}
    # A warning flags an accepted row; a quarantined row's reasons are its rejections.
    warnings = [e for e in entries if e["severity"] == "warning" and e["_rid"] not in quarantined]
    entries = critical + warnings
    flags: dict[int, list[str]] = {}
    for e in warnings:
        flags.setdefault(e["_rid"], []).append(e["rule"])
    accepted = frame[~frame["_rid"].isin(quarantined)]
    dept = _file_department(frame)
    n_rej_rows = len(quarantined)
    status = "accepted" if not quarantined else ("partial" if len(accepted) else "rejected")

    archive_path = _archive(cfg, path, sha)
    observations = [
        _observation(r, base, flags.get(int(r["_rid"]), [])) for r in accepted.to_dict("records")
    ]
    rows = _raw_rows(tables, frame, sha)
    rejections = [_rejection(e, base) for e in entries]

    def make_receipt(revisions: int, unchanged: int) -> dict:
        return {
            "file": name,
            "submission_id": sha,
            "department": dept,
            "status": status,
            "accepted": len(accepted),
            "rejected": [public(e) for e in critical],
            "warnings": [public(e) for e in warnings],
            "revisions": revisions,
            "unchanged": unchanged,
            "reason": None,
            "refusal": None,
            "received_at": base["received_at"].isoformat(sep=" "),
            "plan": base["plan_code"],
        }

    submission = {
        **base,
        "department_code": dept,
        "archive_path": _rel(cfg, archive_path),
        "ingested_at": datetime.now(cfg.tz).replace(tzinfo=None),
        "status": status,
        "reason_zh": None,
        "n_rows": len(frame),
        "n_accepted": len(accepted),
        "n_rejected": n_rej_rows,
        "n_warnings": len({e["_rid"] for e in warnings}),
    }
    log.info("loading %s: %d rows, %d quarantined", name, len(frame), n_rej_rows)
    try:
        with connect(cfg) as con:
            _, _, receipt = load_submission(
                con, submission, rows, observations, rejections, make_receipt
            )
    except Duplicate:
        with connect(cfg) as con:
            existing = lookup_submission(con, sha)
        return _duplicate(cfg, path, sha, existing, from_inbox=from_inbox)
    log.info("loaded %s: %s", name, status)
    if from_inbox:
        path.unlink(missing_ok=True)
    return receipt


def _params(catalogue, as_of: date) -> dict:
    return {
        "required_columns": [f"{c.field}_raw" for c in COLUMNS if c.required],
        "target_codes": sorted(t.code for t in catalogue.targets),
        "status_values": list(STATUS_VOCAB),
        "plan_year": catalogue.plan.year,
        "as_of_index": as_of.year * 12 + as_of.month - 1,
        "as_of": as_of.isoformat(),
        "growth_min": GROWTH_BAND[0],
        "growth_max": GROWTH_BAND[1],
    }


def _file_department(frame: pd.DataFrame) -> str | None:
    codes = Counter(c for c in frame["department_code"] if isinstance(c, str))
    return codes.most_common(1)[0][0] if codes else None


def _none(v):
    return None if v is None or (isinstance(v, float) and v != v) else v


def _observation(r: dict, base: dict, flags: list[str]) -> dict:
    year, month = int(r["period_year"]), int(r["period_month"])
    done = _none(r["completion_date"])
    return {
        "obs_id": f"{base['submission_id'][:16]}:{r['sheet']}:{int(r['row'])}",
        "plan_code": base["plan_code"],
        "target_code": r["code"],
        "department_code": r["department_code"],
        "period": r["period"],
        "period_year": year,
        "period_month": month,
        "period_start_month": int(r["period_start_month"]),
        "period_end": month_end(year, month),
        "value": _none(r["value"]),
        "unit": _none(r["unit"]),
        "value_raw": r.get("value_raw") or None,
        "unit_raw": r.get("unit_raw") or None,
        "growth_pct": _none(r["growth_pct"]),
        "prior_value": _none(r["prior_value"]),
        "reference_value": _none(r["reference_value"]),
        "milestone_status": _none(r["milestone_status"]),
        "completion_date": date.fromisoformat(done) if done else None,
        "note": _none(r["note"]),
        "flags": flags,
        "submission_id": base["submission_id"],
        "file_name": base["file_name"],
        "sheet": r["sheet"],
        "row_number": int(r["row"]),
        "received_at": base["received_at"],
        "revision_no": 1,
        "supersedes": None,
        "is_current": True,
    }


def _rejection(e: dict, base: dict) -> dict:
    return {
        "submission_id": base["submission_id"],
        "plan_code": base["plan_code"],
        "file_name": base["file_name"],
        "sheet": e["sheet"],
        "row_number": e["row"],
        "column_name": e["column"],
        "value_raw": e["value"],
        "reason_zh": e["reason"],
        "expectation": e["rule"],
        "severity": e["severity"],
        "target_code": e["_target_code"],
        "period": e["_period"],
        "department_code": e["_department_code"],
    }


def _raw_rows(tables, frame: pd.DataFrame, sha: str) -> list[dict]:
    """Every data row as received: header as written -> cell as written (lineage)."""
    wanted = set(zip(frame["sheet"], frame["row"], strict=True))
    out = []
    for t in tables:
        header = _header_names(t)
        for number, cells in t.rows:
            if (t.sheet, number) not in wanted:
                continue
            row = {header[j]: cell_text(c) for j, c in enumerate(cells) if c is not None}
            out.append(
                {
                    "submission_id": sha,
                    "sheet": t.sheet,
                    "row_number": number,
                    "cells": json.dumps(row, ensure_ascii=False),
                }
            )
    return out


def _header_names(t) -> dict[int, str]:
    """Column index -> the header as written (a column letter where the header is blank)."""
    names = _Names()
    for j, h in enumerate(t.header):
        key = h or _letter(j)
        names[j] = key if key not in names.values() else f"{key}({_letter(j)})"
    return names


class _Names(dict):
    def __missing__(self, j: int) -> str:
        return _letter(j)


def _letter(j: int) -> str:
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = _COL_LETTERS[r] + s
    return f"列{s}"


def _sha_of_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _archive(cfg: Settings, path: Path, sha: str) -> Path:
    """Keep the raw file unchanged under archive/<sha[:2]>/<sha><ext>; written once, atomically."""
    ext = path.suffix.lower() if path.suffix.lower() in _ARCHIVE_EXTS else ".bin"
    dest = cfg.archive / sha[:2] / f"{sha}{ext}"
    if dest.exists() and dest.stat().st_size == path.stat().st_size:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.copyfile(path, tmp)
    os.replace(tmp, dest)
    return dest


def _rel(cfg: Settings, p: Path) -> str:
    try:
        return str(p.relative_to(cfg.home))
    except ValueError:
        return str(p)


def _refuse(cfg: Settings, path: Path, base: dict, r: _Refusal, *, from_inbox: bool) -> dict:
    """Record a file refused whole, set it aside with its reason, and say why."""
    sha, name = base["submission_id"], base["file_name"]
    log.warning("refused %s: %s", name, r.reason)
    cfg.rejected_dir.mkdir(parents=True, exist_ok=True)
    dest = cfg.rejected_dir / f"{sha[:12]}-{name}"
    if from_inbox:
        shutil.move(str(path), dest)  # refused files leave the inbox for rejected/
    else:
        shutil.copyfile(path, dest)
    dest.with_name(dest.name + ".reason.txt").write_text(r.reason + "\n", encoding="utf-8")
    receipt = {
        "file": name,
        "submission_id": sha,
        "department": None,
        "status": "rejected",
        "accepted": 0,
        "rejected": [],
        "warnings": [],
        "revisions": 0,
        "unchanged": 0,
        "reason": r.reason,
        "refusal": r.code,
        "received_at": base["received_at"].isoformat(sep=" "),
        "plan": base["plan_code"],
    }
    submission = {
        **base,
        "department_code": None,
        "archive_path": _rel(cfg, dest),
        "ingested_at": datetime.now(cfg.tz).replace(tzinfo=None),
        "status": "rejected",
        "reason_zh": r.reason,
        "n_rows": 0,
        "n_accepted": 0,
        "n_rejected": 0,
        "n_warnings": 0,
    }
    rejection = {
        "submission_id": sha,
        "plan_code": base["plan_code"],
        "file_name": name,
        "sheet": None,
        "row_number": None,
        "column_name": None,
        "value_raw": None,
        "reason_zh": r.reason,
        "expectation": r.code,
        "severity": "critical",
        "target_code": None,
        "period": None,
        "department_code": None,
    }
    try:
        with connect(cfg) as con:
            _, _, stored = load_submission(con, submission, [], [], [rejection], lambda *_: receipt)
    except Duplicate:
        with connect(cfg) as con:
            existing = lookup_submission(con, sha)
        return _duplicate(cfg, dest, sha, existing, from_inbox=False)
    return stored


def _duplicate(cfg: Settings, path: Path, sha: str, existing: dict, *, from_inbox: bool) -> dict:
    """The same bytes were ingested before: nothing changes; the inbox copy is tidied away."""
    first = existing["received_at"]
    log.info("duplicate %s of %s", path.name, existing["file_name"])
    if from_inbox and path.exists():
        if existing["status"] == "rejected":
            cfg.rejected_dir.mkdir(parents=True, exist_ok=True)
            dest = cfg.rejected_dir / f"{sha[:12]}-{path.name}"
            shutil.move(str(path), dest)
            note = dest.with_name(dest.name + ".reason.txt")
            if not note.exists():
                note.write_text((existing["reason_zh"] or "") + "\n", encoding="utf-8")
        else:
            _archive(cfg, path, sha)  # in case the archive copy was lost
            path.unlink()
    return {
        "file": path.name,
        "submission_id": sha,
        "department": existing["department_code"],
        "status": "duplicate",
        "accepted": 0,
        "rejected": [],
        "warnings": [],
        "revisions": 0,
        "unchanged": 0,
        "reason": (
            f"文件“{path.name}”与{first:%Y-%m-%d %H:%M}收到的“{existing['file_name']}”内容完全相同，"
            "未重复入库"
        ),
        "refusal": None,
        "received_at": None,
        "plan": None,
    }
