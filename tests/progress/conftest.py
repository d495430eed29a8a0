"""Fixtures of the progress tests: a real warehouse filled row by row, as ingestion would."""

from __future__ import annotations

import calendar
import contextlib
import hashlib
from datetime import date, datetime

import pytest

from kpi.warehouse import connect, sync_catalogue, transaction


class Warehouse:
    """Writes staged and raw rows straight into a real DuckDB warehouse for one catalogue."""

    def __init__(self, cfg, catalogue):
        self.cfg = cfg
        self.catalogue = catalogue
        self._n = 0
        self._con = None
        with connect(cfg) as con:
            sync_catalogue(con, catalogue)

    def _next(self) -> int:
        self._n += 1
        return self._n

    @contextlib.contextmanager
    def _connect(self):
        if self._con is not None:
            yield self._con
            return
        with connect(self.cfg) as con:
            yield con

    @contextlib.contextmanager
    def batch(self):
        """Keep one connection open for many writes (fast fixtures); within a batch, the same."""
        if self._con is not None:
            yield self
            return
        with connect(self.cfg) as con:
            self._con = con
            try:
                yield self
            finally:
                self._con = None

    def submission(
        self,
        department: str,
        file_name: str = "",
        *,
        received: datetime | None = None,
        status: str = "accepted",
        reason_zh: str | None = None,
    ) -> str:
        """Record a file as received; return its submission id."""
        n = self._next()
        sid = hashlib.sha256(f"{file_name}{n}".encode()).hexdigest()
        file_name = file_name or f"{department}-{n}.xlsx"
        with self._connect() as con:
            con.execute(
                "insert into raw.submissions (submission_id, plan_code, department_code,"
                " file_name, archive_path, size_bytes, received_at, ingested_at, status,"
                " reason_zh) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    sid,
                    self.catalogue.plan.code,
                    department,
                    file_name,
                    f"archive/{sid[:2]}/{sid}.xlsx",
                    1000,
                    received or datetime(2023, 1, 1),
                    received or datetime(2023, 1, 1),
                    status,
                    reason_zh,
                ],
            )
        return sid

    def obs(self, code: str, period: str, value: float | None = None, **facts) -> str:
        """Store a figure for (target, period) as ingestion does: a later one revises it."""
        with self.batch():  # the submission and its row through one connection
            return self._obs(code, period, value, **facts)

    def _obs(
        self,
        code: str,
        period: str,
        value: float | None = None,
        *,
        start_month: int = 1,
        growth_pct: float | None = None,
        prior_value: float | None = None,
        reference_value: float | None = None,
        milestone_status: str | None = None,
        completion_date: date | None = None,
        received: datetime | None = None,
    ) -> str:
        t = self.catalogue.target(code)
        year, month = (int(x) for x in period.split("-"))
        received = received or datetime(year + (month == 12), month % 12 + 1, 5, 9, 0)
        sid = self.submission(t.department, f"{t.department}-{period}.xlsx", received=received)
        row = self._next()
        obs_id = f"{sid[:16]}:Sheet1:{row}"
        with self._connect() as con, transaction(con):
            prev = con.execute(
                "select obs_id, revision_no from staged.observations where plan_code = ?"
                " and target_code = ? and period = ? and is_current",
                [self.catalogue.plan.code, code, period],
            ).fetchone()
            con.execute(
                "update staged.observations set is_current = false where obs_id = ?",
                [prev[0] if prev else None],
            )
            con.execute(
                "insert into staged.observations (obs_id, plan_code, target_code,"
                " department_code, period, period_year, period_month, period_start_month,"
                " period_end, value, unit, value_raw, growth_pct, prior_value, reference_value,"
                " milestone_status, completion_date, submission_id, file_name, sheet,"
                " row_number, received_at, revision_no, supersedes, is_current)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, true)",
                [
                    obs_id,
                    self.catalogue.plan.code,
                    code,
                    t.department,
                    period,
                    year,
                    month,
                    start_month,
                    date(year, month, calendar.monthrange(year, month)[1]),
                    value,
                    t.canonical_unit,
                    None if value is None else str(value),
                    growth_pct,
                    prior_value,
                    reference_value,
                    milestone_status,
                    completion_date,
                    sid,
                    f"{t.department}-{period}.xlsx",
                    "Sheet1",
                    row,
                    received,
                    (prev[1] + 1) if prev else 1,
                    prev[0] if prev else None,
                ],
            )
        return obs_id

    def reject(self, code: str, period: str, reason_zh: str = "数值超出合理范围") -> None:
        """Quarantine a row for (target, period), as ingestion does with a critical failure."""
        t = self.catalogue.target(code)
        with self.batch(), self._connect() as con:  # the submission and its row: one connection
            sid = self.submission(
                t.department, f"{t.department}-{period}-bad.xlsx", status="partial"
            )
            con.execute(
                "insert into staged.rejections (submission_id, plan_code, file_name, sheet,"
                " row_number, column_name, value_raw, reason_zh, expectation, severity,"
                " target_code, period, department_code)"
                " values (?, ?, ?, 'Sheet1', 3, '数值', 'abc', ?, 'value_numeric', 'critical',"
                " ?, ?, ?)",
                [
                    sid,
                    self.catalogue.plan.code,
                    f"{t.department}-{period}-bad.xlsx",
                    reason_zh,
                    code,
                    period,
                    t.department,
                ],
            )


@pytest.fixture
def warehouse(cfg, tiny_catalogue) -> Warehouse:
    """A real warehouse under tmp_path with the tiny catalogue mirrored into ref.*."""
    return Warehouse(cfg, tiny_catalogue)


@pytest.fixture
def make_warehouse(cfg):
    """A real warehouse for a catalogue of the test's own: make_warehouse(catalogue)."""
    return lambda catalogue: Warehouse(cfg, catalogue)
