"""Pure time rules: quiet hours, backoff, due dates, 13710 deadlines, the rate limiter."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from kpi.alerts.plugins import RateLimiter
from kpi.alerts.rules import next_step, workflow_steps
from kpi.alerts.timing import (
    backoff,
    due_date,
    held_until,
    in_quiet_hours,
    overdue_period,
    to_stored,
    upcoming_period,
)

TZ = ZoneInfo("Asia/Shanghai")


def local(y, m, d, hh=0, mm=0) -> datetime:
    return to_stored(datetime(y, m, d, hh, mm, tzinfo=TZ), TZ)


def test_a_message_produced_by_the_2am_run_is_held_until_8am_the_same_day():
    assert held_until(local(2023, 7, 15, 2), TZ, "22:00", "08:00") == local(2023, 7, 15, 8)


def test_a_message_produced_late_in_the_evening_waits_for_the_next_morning():
    assert held_until(local(2023, 7, 15, 23, 30), TZ, "22:00", "08:00") == local(2023, 7, 16, 8)


def test_a_message_produced_in_the_day_goes_out_at_once():
    assert held_until(local(2023, 7, 15, 10), TZ, "22:00", "08:00") == local(2023, 7, 15, 10)
    assert not in_quiet_hours(local(2023, 7, 15, 8), TZ, "22:00", "08:00")
    assert in_quiet_hours(local(2023, 7, 15, 22), TZ, "22:00", "08:00")


def test_times_are_stored_as_district_local_time():
    utc = ZoneInfo("UTC")
    assert to_stored(datetime(2023, 7, 15, 0, tzinfo=utc), TZ) == datetime(2023, 7, 15, 8)
    assert to_stored(datetime(2023, 7, 15, 8), TZ) == datetime(2023, 7, 15, 8)


def test_backoff_doubles_from_five_minutes_and_stops_at_six_hours():
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (5, 10, 20)]
    assert backoff(30) == timedelta(hours=6)


def test_december_figures_are_due_in_january_of_the_next_year():
    assert due_date(2023, 12, 10) == date(2024, 1, 10)
    assert due_date(2023, 6, 20) == date(2023, 7, 20)


def test_a_reminder_window_opens_three_days_before_the_due_day_and_not_earlier():
    assert upcoming_period("count", "monthly", 10, 2023, date(2023, 7, 7), 3) == (
        "2023-06",
        date(2023, 7, 10),
    )
    assert upcoming_period("count", "monthly", 10, 2023, date(2023, 7, 6), 3) is None
    assert upcoming_period("count", "monthly", 10, 2023, date(2023, 7, 10), 3) is None


def test_quarterly_targets_are_only_due_after_quarter_ends():
    assert upcoming_period("growth_rate", "quarterly", 20, 2023, date(2023, 6, 18), 3) is None
    assert overdue_period("growth_rate", "quarterly", 20, 2023, date(2023, 7, 21)) == (
        "2023-06",
        date(2023, 7, 20),
    )
    assert overdue_period("growth_rate", "quarterly", 20, 2023, date(2023, 4, 20)) is None


def _episode(opened_on: date, **over) -> dict:
    ep = {
        "episode_id": 1,
        "state": "open",
        "opened_on": opened_on,
        "major": False,
        "acked_at": None,
        "feedback_at": None,
        "reminded_at": None,
        "escalated_at": None,
        "escalated_again_at": None,
    }
    ep.update(over)
    return ep


def _steps_on(ep: dict, day: date) -> list[str]:
    now = local(day.year, day.month, day.day, 2)
    return [step for _, step in workflow_steps([ep], now=now, tz=TZ)]


def test_13710_steps_fall_on_calendar_days_1_3_and_7():
    start = date(2023, 7, 3)
    ep = _episode(start)
    assert _steps_on(ep, start) == []
    assert _steps_on(ep, start + timedelta(days=1)) == ["remind"]
    assert _steps_on(ep, start + timedelta(days=2)) == ["remind"]  # until it is taken
    ep["reminded_at"] = datetime(2023, 7, 4)
    assert _steps_on(ep, start + timedelta(days=2)) == []
    assert _steps_on(ep, start + timedelta(days=3)) == ["escalate"]
    ep["escalated_at"] = datetime(2023, 7, 6)
    assert _steps_on(ep, start + timedelta(days=6)) == []
    assert _steps_on(ep, start + timedelta(days=7)) == ["escalate_again"]


def test_a_major_issue_escalates_again_only_after_30_days():
    start = date(2023, 7, 3)
    ep = _episode(
        start, major=True, reminded_at=datetime(2023, 7, 4), escalated_at=datetime(2023, 7, 6)
    )
    assert _steps_on(ep, start + timedelta(days=29)) == []
    assert _steps_on(ep, start + timedelta(days=30)) == ["escalate_again"]


def test_acknowledgement_and_feedback_stop_the_reminder_and_the_escalation():
    start = date(2023, 7, 3)
    ep = _episode(start, acked_at=datetime(2023, 7, 3, 9), feedback_at=datetime(2023, 7, 4, 9))
    assert _steps_on(ep, start + timedelta(days=5)) == []
    assert next_step(ep) == ("未销号将再次督办", start + timedelta(days=7))


def test_the_rate_limiter_lets_20_through_and_makes_the_21st_wait_for_the_window():
    clock = [1000.0]
    waits = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(limit=20, window=60, clock=lambda: clock[0], sleep=sleep)
    for _ in range(20):
        assert limiter.acquire("robot") == 0
        clock[0] += 1
    assert limiter.acquire("robot") == 40  # the first send was at 1000, now is 1020
    assert limiter.acquire("other robot") == 0  # each robot has its own budget
