"""Every delivery fault of the table, as a test: 0 lost, duplicates only marked and only once."""

from __future__ import annotations

import pytest

from .delivery_table import CASES, KILL_CASES, Case

pytestmark = pytest.mark.slow


def _explain(case: Case) -> str:
    failed = [name for name, ok in case.details["checks"].items() if not ok]
    return f"{case.row}\nfailed checks: {failed}\ncounts: {case.details['counts']}"


@pytest.mark.parametrize("make", CASES, ids=[c.__name__.removeprefix("case_") for c in CASES])
def test_no_message_is_lost_and_a_repeat_is_only_ever_a_marked_uncertain_one(make, request):
    # The kill cases' `kpi deliver` processes are forked from the warm interpreter.
    case = make(forks=request.getfixturevalue("forks")) if make in KILL_CASES else make()
    assert case.row["lost"] == 0, _explain(case)
    assert case.details["counts"]["unmarked_or_third_copies"] == 0, _explain(case)
    assert case.row["expected_ok"], _explain(case)
    assert set(case.row) >= {"fault", "sent", "received", "lost", "duplicated", "expected_ok"}


def test_the_tables_rows_can_all_fail_a_check():
    """The table is not a constant: a case whose checks fail reports expected_ok False."""
    from .delivery_table import _finish

    counts = {"sent": 2, "received": 1, "lost": 1, "duplicated": 0, "unmarked_or_third_copies": 0}
    assert not _finish(Case("x", "y"), counts, {"fine": True}).row["expected_ok"]
    counts.update(lost=0, duplicated=1, unmarked_or_third_copies=1)
    assert not _finish(Case("x", "y"), counts, {"fine": True}).row["expected_ok"]
    counts.update(unmarked_or_third_copies=0)
    assert not _finish(Case("x", "y"), counts, {"fine": False}).row["expected_ok"]
    assert _finish(Case("x", "y"), counts, {"fine": True}).row["expected_ok"]
