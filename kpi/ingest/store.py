"""Warehouse reads and writes of ingestion: a batch of submissions loads in one transaction."""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from kpi.ingest.failpoints import failpoint
from kpi.warehouse import sql_file, transaction

SQL = Path(__file__).parent / "sql"
PAYLOAD = (
    "value",
    "growth_pct",
    "prior_value",
    "reference_value",
    "milestone_status",
    "completion_date",
)
OBS_COLUMNS = [
    "obs_id",
    "plan_code",
    "target_code",
    "department_code",
    "period",
    "period_year",
    "period_month",
    "period_start_month",
    "period_end",
    "value",
    "unit",
    "value_raw",
    "unit_raw",
    "growth_pct",
    "prior_value",
    "reference_value",
    "milestone_status",
    "completion_date",
    "note",
    "flags",
    "submission_id",
    "file_name",
    "sheet",
    "row_number",
    "received_at",
    "revision_no",
    "supersedes",
    "is_current",
]


def q(name: str) -> str:
    """The text of one of this package's .sql files."""
    return sql_file(name, SQL)


def _same(a: object, b: object) -> bool:
    def blank(x: object) -> bool:
        return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NaT

    if blank(a) or blank(b):
        return blank(a) and blank(b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, date) and isinstance(b, date):
        # A stored date comes back as a timestamp at midnight: the same day is the same date.
        return _day(a) == _day(b)
    return str(a) == str(b)


def _day(x: date) -> date:
    return x.date() if isinstance(x, datetime) else x


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    return (
        pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    )


def _insert(con: duckdb.DuckDBPyConnection, view: str, frame: pd.DataFrame, sql: str) -> None:
    con.register(view, frame)
    try:
        con.execute(q(sql))
    finally:
        con.unregister(view)


def lookup_submissions(con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, dict]:
    """The stored submissions among these content hashes, by hash."""
    if not ids:
        return {}
    cur = con.execute(q("submissions_lookup_many"), {"ids": list(dict.fromkeys(ids))})
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    return {r[0]: dict(zip(names, r, strict=True)) for r in rows}


def current_for_targets(
    con: duckdb.DuckDBPyConnection, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, object]]:
    """(plan, target) -> {period: current stored row} for the pairs a batch reports.

    The rows come as load_submission reads them (a pandas frame), so that comparing a new value
    with a stored one works the same way whether the stored one is in the warehouse or was
    loaded earlier in the same batch.
    """
    out: dict[tuple[str, str], dict[str, object]] = {p: {} for p in pairs}
    if not pairs:
        return out
    params = {"plans": [p for p, _ in pairs], "targets": [t for _, t in pairs]}
    current = con.execute(q("current_for_targets"), params).df()
    for r in current.itertuples(index=False):
        out[(r.plan_code, r.target_code)][r.period] = r
    return out


def compare(obs: dict, old) -> tuple[str, int, str | None]:
    """How a new accepted row relates to the current stored one: new, unchanged or revision."""
    if old is None:
        return "new", 1, None
    if all(_same(obs[f], getattr(old, f)) for f in PAYLOAD):
        return "unchanged", int(old.revision_no), None
    return "revision", int(old.revision_no) + 1, old.obs_id


def load_batch(
    con: duckdb.DuckDBPyConnection,
    submissions: list[dict],
    rows: list[dict],
    observations: list[dict],
    rejections: list[dict],
    superseded: list[str],
) -> None:
    """Store the submissions of a batch with their rows, observations and rejections at once.

    One transaction: a crash leaves nothing of any file of the batch. `superseded` are stored
    observations that revisions of this batch replace.
    """
    # DuckDB types a pandas column of Python objects from its first 1,000 values by default:
    # a batch's column can be empty that long (no revision yet) and hold text further down.
    longest = max(len(submissions), len(rows), len(observations), len(rejections), 1000)
    con.execute(f"set pandas_analyze_sample = {int(longest)}")
    with transaction(con):
        if submissions:
            _insert(con, "new_submission", pd.DataFrame(submissions), "insert_submission")
        if rows:
            _insert(con, "new_rows", _frame(rows, list(rows[0])), "insert_rows")
        failpoint("load")  # inside the transaction
        if superseded:
            _insert(con, "superseded", pd.DataFrame({"obs_id": superseded}), "supersede_ids")
        if observations:
            _insert(con, "new_obs", _frame(observations, OBS_COLUMNS), "insert_observations")
        if rejections:
            frame = _frame(rejections, list(rejections[0]))
            _insert(con, "new_rejections", frame, "insert_rejections")
