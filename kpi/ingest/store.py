"""Warehouse reads and writes of ingestion: one submission loads in one transaction."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

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


class Duplicate(Exception):
    """The same bytes were stored meanwhile; nothing was written."""


def q(name: str) -> str:
    """The text of one of this package's .sql files."""
    return sql_file(name, SQL)


def lookup_submission(con: duckdb.DuckDBPyConnection, submission_id: str) -> dict | None:
    """The stored submission with this content hash, if any."""
    cur = con.execute(q("submission_lookup"), [submission_id])
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def current_values(con: duckdb.DuckDBPyConnection, plan_code: str) -> dict[str, list[tuple]]:
    """target -> [(period_index, period, value)] of the current stored values of a plan."""
    out: dict[str, list[tuple]] = {}
    for code, year, month, period, value in con.execute(
        q("current_values"), [plan_code]
    ).fetchall():
        out.setdefault(code, []).append((year * 12 + month - 1, period, value))
    return out


def _same(a: object, b: object) -> bool:
    def blank(x: object) -> bool:
        return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NaT

    if blank(a) or blank(b):
        return blank(a) and blank(b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return str(a) == str(b)


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    return (
        pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    )


def load_submission(
    con: duckdb.DuckDBPyConnection,
    submission: dict,
    rows: list[dict],
    observations: list[dict],
    rejections: list[dict],
    make_receipt: Callable[[int, int], dict],
) -> tuple[int, int, dict]:
    """Store a submission, its rows, observations (with revisions) and rejections atomically.

    Returns (revisions, unchanged, receipt). Raises Duplicate, writing nothing, when the same
    bytes were stored meanwhile.
    """
    with transaction(con):
        if lookup_submission(con, submission["submission_id"]) is not None:
            raise Duplicate(submission["submission_id"])
        new_obs = _frame(observations, OBS_COLUMNS)
        revisions = unchanged = 0
        if observations:
            con.register("new_obs", new_obs)
            try:
                current = con.execute(q("current_for_new")).df()
            finally:
                con.unregister("new_obs")
            by_key = {(r.target_code, r.period): r for r in current.itertuples(index=False)}
            keep = []
            for obs in observations:
                old = by_key.get((obs["target_code"], obs["period"]))
                if old is None:
                    keep.append(obs)
                elif all(_same(obs[f], getattr(old, f)) for f in PAYLOAD):
                    unchanged += 1  # the same value again is not a revision
                else:
                    obs.update(revision_no=int(old.revision_no) + 1, supersedes=old.obs_id)
                    revisions += 1
                    keep.append(obs)
            new_obs = _frame(keep, OBS_COLUMNS)
        receipt = make_receipt(revisions, unchanged)
        record = {
            **submission,
            "n_revisions": revisions,
            "n_unchanged": unchanged,
            "receipt": json.dumps(receipt, ensure_ascii=False, default=str),
        }
        _insert(con, "new_submission", pd.DataFrame([record]), "insert_submission")
        if rows:
            _insert(con, "new_rows", _frame(rows, list(rows[0])), "insert_rows")
        if not new_obs.empty:
            con.register("new_obs", new_obs)
            try:
                con.execute(q("supersede"))
                con.execute(q("insert_observations"))
            finally:
                con.unregister("new_obs")
        if rejections:
            _insert(
                con, "new_rejections", _frame(rejections, list(rejections[0])), "insert_rejections"
            )
    return revisions, unchanged, receipt


def _insert(con: duckdb.DuckDBPyConnection, view: str, frame: pd.DataFrame, sql: str) -> None:
    con.register(view, frame)
    try:
        con.execute(q(sql))
    finally:
        con.unregister(view)
