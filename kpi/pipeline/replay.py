"""Replay: the nightly run day by day, each file arriving on its date, optionally delivering."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from kpi.config import Settings
from kpi.pipeline.demo import DEMO_SUBMISSIONS, stage_demo
from kpi.pipeline.run import jsonable
from kpi.pipeline.schedule import days, morning_after, nightly_now
from kpi.pipeline.steps import run_deliver, run_nightly


def replay_day(
    cfg: Settings,
    plan: str | None,
    day: date,
    *,
    source: Path | None = DEMO_SUBMISSIONS,
    deliver: bool = False,
    publish: bool = True,
    lock_wait: float | None = None,
) -> dict:
    """One replayed day: the day's files arrive, the nightly run judges it, the morning delivers."""
    staged = stage_demo(cfg, day, source=source) if source is not None else []
    summary = run_nightly(
        cfg, plan, day, nightly_now(day, cfg), lock_wait=lock_wait, flow="replay", publish=publish
    )
    summary["staged"] = len(staged)
    if deliver:
        summary["delivered"] = jsonable(
            run_deliver(cfg, morning_after(day, cfg), lock_wait=lock_wait)
        )
    return summary


def replay(
    cfg: Settings,
    plan: str | None,
    start: date,
    end: date,
    *,
    source: Path | None = DEMO_SUBMISSIONS,
    deliver: bool = False,
    on_day: Callable[[date, dict], None] | None = None,
) -> list[dict]:
    """Run the nightly job for every day from start to end, files arriving on their dates."""
    summaries = []
    for day in days(start, end):
        summary = replay_day(cfg, plan, day, source=source, deliver=deliver, publish=day == end)
        summaries.append(summary)
        if on_day is not None:
            on_day(day, summary)
    return summaries
