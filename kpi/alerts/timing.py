"""Pure time rules: stored local time, calendar days, quiet hours, 13710 deadlines, backoff, due dates.

Days are calendar days in the configured time zone: an alert opened at any time on 3 July (local)
is on day 0 that whole day, day 1 from 00:00 on 4 July, day 3 from 6 July, and so on. A step is
taken on the first run on or after its day; nothing expires on its own.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kpi.contract import reporting_months

# The "13710" steps, in days after the alert was opened (day 0).
REMIND_AFTER_DAYS = 1  # not acknowledged: sent again
ESCALATE_AFTER_DAYS = 3  # no feedback: escalated to 督查局
ORDINARY_OPEN_DAYS = 7  # an ordinary issue still open: escalated again
MAJOR_OPEN_DAYS = 30  # a major issue still open ("1 month", counted as 30 days)

# Reminders go out this many days before a submission's due day.
REMIND_BEFORE_DUE_DAYS = 3

# Retry backoff after a failed attempt: 5, 10, 20, 40 ... minutes, capped at 6 hours.
BACKOFF_FIRST = timedelta(minutes=5)
BACKOFF_CAP = timedelta(hours=6)


def to_stored(moment: datetime, tz: ZoneInfo) -> datetime:
    """A moment as the warehouse stores it: naive local time in `tz` (naive input is local)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(tz).replace(tzinfo=None)


def to_local(stored: datetime, tz: ZoneInfo) -> datetime:
    """A stored timestamp as an aware local time."""
    return stored.replace(tzinfo=tz)


def local_date(stored: datetime, tz: ZoneInfo) -> date:
    """The local calendar date of a stored timestamp."""
    return stored.date()


def days_between(start: date, end: date) -> int:
    """Whole calendar days from `start` to `end`."""
    return (end - start).days


def open_deadline_days(major: bool) -> int:
    """Days after which a still-open issue escalates again: 30 if major, else 7."""
    return MAJOR_OPEN_DAYS if major else ORDINARY_OPEN_DAYS


def parse_clock(text: str) -> time:
    """'08:00' -> time(8, 0)."""
    hh, mm = text.strip().split(":")
    return time(int(hh), int(mm))


def in_quiet_hours(now: datetime, tz: ZoneInfo, quiet_from: str, quiet_until: str) -> bool:
    """Whether a stored (local) moment falls in the quiet window (which may span midnight)."""
    t = to_local(now, tz).time()
    start, end = parse_clock(quiet_from), parse_clock(quiet_until)
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end


def held_until(now: datetime, tz: ZoneInfo, quiet_from: str, quiet_until: str) -> datetime:
    """When a message produced at `now` may go out: now, or the end of the quiet window."""
    if not in_quiet_hours(now, tz, quiet_from, quiet_until):
        return now
    local = to_local(now, tz)
    end = parse_clock(quiet_until)
    release = datetime.combine(local.date(), end, tzinfo=tz)
    if release <= local:
        release = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=tz)
    return to_stored(release, tz)


def backoff(attempts: int) -> timedelta:
    """The wait before retrying after `attempts` failed attempts (1 -> 5 minutes)."""
    delay = BACKOFF_FIRST * (2 ** max(attempts - 1, 0))
    return min(delay, BACKOFF_CAP)


def due_date(year: int, month: int, due_day: int) -> date:
    """The day a figure running to `month` is due: `due_day` of the following month."""
    if month == 12:
        return date(year + 1, 1, due_day)
    return date(year, month + 1, due_day)


def period_label(year: int, month: int) -> str:
    """'YYYY-MM'."""
    return f"{year:04d}-{month:02d}"


def periods_due(kind: str, cadence: str, due_day: int, year: int) -> list[tuple[str, date]]:
    """Every (period, due date) a target of this kind and cadence reports in a plan year."""
    return [
        (period_label(year, m), due_date(year, m, due_day)) for m in reporting_months(kind, cadence)
    ]


def upcoming_period(
    kind: str, cadence: str, due_day: int, year: int, today: date, within_days: int
) -> tuple[str, date] | None:
    """The period whose due date falls in (today, today + within_days], if any."""
    for period, due in periods_due(kind, cadence, due_day, year):
        if 0 < (due - today).days <= within_days:
            return period, due
    return None


def overdue_period(
    kind: str, cadence: str, due_day: int, year: int, today: date
) -> tuple[str, date] | None:
    """The latest period whose due date has passed by `today`, if any."""
    passed = [(p, d) for p, d in periods_due(kind, cadence, due_day, year) if d < today]
    return passed[-1] if passed else None
