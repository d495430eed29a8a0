"""What the reports show, read from the warehouse in one short connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from kpi.catalogue import Catalogue
from kpi.config import Settings
from kpi.warehouse import connect, expand_includes, sql_file

SQL = Path(__file__).resolve().parent / "sql"
ROWS_KEPT = 50_000  # rejected rows a report reads (the workbook lists them; Excel stops at 1M)


class NoProgressError(LookupError):
    """mart.progress holds no rows for the plan and as-of date asked for."""


@dataclass(frozen=True)
class ReportData:
    """Everything one report shows, for one plan on one as-of date."""

    catalogue: Catalogue
    as_of: date
    progress: list[dict]  # mart.progress rows, as stored
    series: dict[str, list[dict]] = field(default_factory=dict)  # target -> figures by period
    submissions: list[dict] = field(default_factory=list)
    rejections: list[dict] = field(default_factory=list)  # newest first, at most ROWS_KEPT
    rejections_total: int = 0  # all of them
    changes: list[dict] = field(default_factory=list)
    shares: dict[str, dict[int, float]] = field(default_factory=dict)  # target -> month -> share
    computed_at: datetime | None = None
    freshness: datetime | None = None  # latest submission received by the as-of date
    night: list[dict] = field(default_factory=list)  # the files of the runs for this as-of date
    runs: list[dict] = field(default_factory=list)  # those runs, latest first


def query(con: duckdb.DuckDBPyConnection, name: str, params: dict) -> list[dict]:
    """Rows of one of this package's .sql files (its `-- include:` lines expanded), as dicts."""
    cur = con.execute(expand_includes(sql_file(name, SQL)), params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether a table exists (marts arrive with later migrations)."""
    hit = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(hit and hit[0])


def latest_as_of(cfg: Settings, plan_code: str) -> date | None:
    """The latest as-of date with computed progress for a plan (None if there is none)."""
    with connect(cfg) as con:
        if not has_table(con, "mart", "progress"):
            return None
        return query(con, "latest_as_of", {"plan": plan_code})[0]["as_of"]


def load_report_data(cfg: Settings, catalogue: Catalogue, as_of: date) -> ReportData:
    """Read the progress of `as_of` and what explains it; NoProgressError if none was computed."""
    plan = catalogue.plan.code
    params = {"plan": plan, "as_of": as_of}
    with connect(cfg) as con:
        if not has_table(con, "mart", "progress"):
            raise NoProgressError(f"no mart.progress table yet: compute progress for {as_of}")
        progress = query(con, "progress", params)
        if not progress:
            raise NoProgressError(f"no progress computed for plan {plan} as of {as_of}")
        series: dict[str, list[dict]] = {}
        held = {"plan_codes": [plan], "years": [catalogue.plan.year], "as_of": as_of}
        for row in query(con, "series", held):
            series.setdefault(row["target_code"], []).append(row)
        submissions = query(con, "submissions", params)
        rejections = query(con, "rejections", {**params, "limit": ROWS_KEPT})
        changes = (
            query(con, "status_changes", params) if has_table(con, "mart", "status_history") else []
        )
        computed_at = query(con, "computed_at", params)[0]["computed_at"]
        night = query(con, "night_submissions", params)
        runs = query(con, "night_runs", params)
        shares: dict[str, dict[int, float]] = {}
        if has_table(con, "mart", "time_profile"):
            for row in query(con, "time_profile", {"plan": plan}):
                shares.setdefault(row["target_code"], {})[row["month"]] = row["share"]
    freshness = max((s["received_at"] for s in submissions), default=None)
    return ReportData(
        catalogue=catalogue,
        as_of=as_of,
        progress=progress,
        series=series,
        submissions=submissions,
        rejections=rejections,
        rejections_total=rejections[0]["total"] if rejections else 0,
        changes=changes,
        shares=shares,
        computed_at=computed_at,
        freshness=freshness,
        night=night,
        runs=runs,
    )


def night_submissions(cfg: Settings, plan_code: str, as_of: date) -> list[dict]:
    """The files of the night that judged `as_of` (by run id): the count the report gives."""
    with connect(cfg) as con:
        return query(con, "night_submissions", {"plan": plan_code, "as_of": as_of})
