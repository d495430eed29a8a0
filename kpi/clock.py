"""The one clock: every command, flow and step asks here for "now", never the wall clock.

"Now" is, in order: a value frozen in this process (`frozen`, for tests and replays), the
`KPI_NOW` environment variable (set by `kpi --now` or by a test, and inherited by every
subprocess), else the wall clock. `KPI_NOW` takes an ISO date or date-time; without an offset it
is read as district time. A test suite that sets it passes at any hour of the day.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

ENV = "KPI_NOW"
_frozen: datetime | None = None


class BadNow(ValueError):
    """A `--now`/`KPI_NOW` value that is not a date or date-time; the message is Chinese."""


def _zone(tz: tzinfo | str | None) -> tzinfo:
    if tz is None:
        from kpi.config import settings

        return settings().tz
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def parse(text: str, tz: tzinfo | str | None = None) -> datetime:
    """An aware date-time from `2023-07-16`, `2023-07-16 08:30` or a full ISO value with offset."""
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadNow(
            f"时间“{raw[:40]}”无法识别，请写成 2023-07-16 或 2023-07-16T08:30 或带时区的 ISO 时间"
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=_zone(tz))


def now(tz: tzinfo | str | None = None) -> datetime:
    """The current moment, aware, in `tz` (default: the district's time zone)."""
    zone = _zone(tz)
    if _frozen is not None:
        return _frozen.astimezone(zone)
    raw = os.environ.get(ENV, "").strip()
    if raw:
        return parse(raw, zone).astimezone(zone)
    return datetime.now(zone)


def local_now(tz: tzinfo | str | None = None) -> datetime:
    """The current moment as naive district time, the warehouse's convention for timestamps."""
    return now(tz).replace(tzinfo=None)


def today(tz: tzinfo | str | None = None) -> date:
    """Today's date in the district."""
    return now(tz).date()


def is_set() -> bool:
    """True when "now" is fixed (frozen here or given by KPI_NOW) rather than the wall clock."""
    return _frozen is not None or bool(os.environ.get(ENV, "").strip())


@contextlib.contextmanager
def frozen(at: datetime) -> Iterator[datetime]:
    """Fix "now" in this process for the length of a block (aware values only)."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("frozen() needs an aware datetime")
    previous, _frozen = _frozen, at
    try:
        yield at
    finally:
        _frozen = previous
