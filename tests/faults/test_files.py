"""Every hostile file of the fault table, as a test: refused, read or skipped as promised."""

from __future__ import annotations

import pytest

from .files import CASES, REASON_CHARS, Case, Result, _check, run_case


def _param(case: Case):
    marks = [pytest.mark.slow] if case.slow else []
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_a_hostile_file_never_stops_the_night(case, tmp_path, forks):
    result = run_case(case, tmp_path, forks=forks)
    assert result.problems == [], (result.row, result.problems, result.receipts[:3])
    assert result.row["expected_ok"]


def test_there_are_at_least_thirty_kinds_of_hostile_file():
    assert len({c.name for c in CASES}) == len(CASES) >= 30


def test_a_case_whose_outcome_differs_is_reported_not_expected(tmp_path):
    """The table is not a constant: each check can fail."""
    case = Case("x", lambda f, r: [], "rejected", "某个理由")
    home = tmp_path / "home"
    (home / "inbox").mkdir(parents=True)
    (home / "inbox" / "left.csv").write_text("x")
    receipts = [
        {"file": "a.csv", "status": "accepted", "reason": "长" * (REASON_CHARS + 1), "rejected": []}
    ]
    problems = _check(case, receipts, home, 1)
    assert len(problems) == 5, problems  # good file missing, outcome, words, length, inbox
    row = Result(case, receipts, 1.0, 10.0, problems).row
    assert row["expected_ok"] is False and row["outcome"] == "accepted"
