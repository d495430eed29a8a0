"""Replay: the nightly run day by day, each file arriving on its date, optionally delivering."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

from kpi.config import Settings
from kpi.pipeline.demo import DEMO_SUBMISSIONS, stage_demo
from kpi.pipeline.run import jsonable
from kpi.pipeline.schedule import days, morning_after, nightly_now
from kpi.pipeline.steps import run_deliver, run_nightly
from kpi.warehouse import connect


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


@contextlib.contextmanager
def held_between_nights(cfg: Settings) -> Iterator[Callable[[bool], None]]:
    """Keep the warehouse open between replayed nights: `hold(True)` after a night, `hold(False)`.

    Every night opens the warehouse's database and its last connection's close checkpoints it
    (~0.1 CPU-s of a replayed night without files, measured on the demo). With one connection
    held between nights, each night's connections share its database (DuckDB's client shares
    one per file and process) and their closes checkpoint nothing; commits are in the WAL as
    before. Let go before the night that publishes, so that it checkpoints, copies and stamps
    the snapshot as a nightly run does, and when the replay ends or fails.
    """
    held = None

    def hold(keep: bool) -> None:
        nonlocal held
        if keep and held is None:
            con = connect(cfg)
            con.__enter__()
            held = con
        elif not keep and held is not None:
            con, held = held, None
            con.__exit__(None, None, None)

    try:
        yield hold
    finally:
        hold(False)


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
    dates = days(start, end)
    with held_between_nights(cfg) as hold:
        for i, day in enumerate(dates):
            summary = replay_day(cfg, plan, day, source=source, deliver=deliver, publish=day == end)
            hold(i + 2 < len(dates))  # held unless the next night is the last (it publishes)
            summaries.append(summary)
            if on_day is not None:
                on_day(day, summary)
    return summaries
