"""When things happen: the nightly run and the morning delivery of an as-of date, date ranges."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from datetime import time as dtime

from kpi.catalogue import Catalogue
from kpi.config import Settings

NIGHTLY_AT = dtime(2, 0)  # the nightly deployment's schedule (prefect.yaml)
DELIVER_AT = dtime(8, 30)  # the deliver deployment's schedule, after quiet hours end


def default_as_of(now: datetime) -> date:
    """The as-of date a run at `now` judges: yesterday, the last complete day."""
    return now.date() - timedelta(days=1)


def nightly_now(as_of: date, cfg: Settings) -> datetime:
    """When the nightly run for `as_of` happens: 02:00 district time the next day."""
    return datetime.combine(as_of + timedelta(days=1), NIGHTLY_AT, tzinfo=cfg.tz)


def morning_after(as_of: date, cfg: Settings) -> datetime:
    """When the morning delivery after the nightly run for `as_of` happens (08:30 next day)."""
    return datetime.combine(as_of + timedelta(days=1), DELIVER_AT, tzinfo=cfg.tz)


def days(start: date, end: date) -> list[date]:
    """Every date from start to end inclusive; a reversed range is refused (Chinese message)."""
    if end < start:
        raise ValueError(f"结束日期 {end} 早于起始日期 {start}：请把 --from 写在 --to 之前")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def outside_year(catalogue: Catalogue, as_of: date) -> str | None:
    """Why `as_of` lies outside the plan's year (Chinese), or None when it lies inside."""
    plan = catalogue.plan
    if plan.start <= as_of <= plan.end:
        return None
    return (
        f"截至日期 {as_of} 不在计划“{plan.name_zh}”（{plan.code}）的年度内"
        f"（{plan.start} 至 {plan.end}），按它评估会把全年目标判为滞后。"
        f"请用 --as-of 指定该年内的日期（如 --as-of {min(plan.end, max(plan.start, as_of))}），"
        "确有需要时加 --allow-outside-year"
    )
