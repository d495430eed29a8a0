"""Two plans in one warehouse: real submission files for either plan, and warehouse readers."""

from __future__ import annotations

import csv
import io
import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from kpi.contract import COLUMNS

AS_OF = date(2023, 7, 15)
# Files arrive on the as-of day (mtime = received time): progress as of a day counts only what
# had been received by its end, and a file written now carries the wall clock's date.
ARRIVED = datetime(2023, 7, 15, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
HEADER = [c.header_zh for c in COLUMNS]  # the template contract, in its order


def row(dept, period, code, unit=None, value=None, growth=None, status=None, done=None) -> list:
    """One template row in HEADER order."""
    return [dept, period, code, "", unit, value, growth, None, None, status, done, None]


def write_csv(path: Path, rows: list[list]) -> Path:
    """A UTF-8 .csv as a department saves the template."""
    buf = io.StringIO()
    w = csv.writer(buf)
    for r in [HEADER, *rows]:
        w.writerow(["" if v is None else v for v in r])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue().encode("utf-8"))
    os.utime(path, (ARRIVED, ARRIVED))
    return path


def query(cfg, sql: str, params: list | None = None, *, snapshot: bool = False) -> list[dict]:
    """Rows of a query on the warehouse (or the published snapshot) as dicts."""
    path = cfg.snapshot if snapshot else cfg.warehouse
    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()
