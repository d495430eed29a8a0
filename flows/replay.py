"""The replay flow: the nightly run day by day, each file arriving on its submission date."""

from __future__ import annotations

import contextlib
from datetime import date
from pathlib import Path

from prefect import flow
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    update_progress_artifact,
)

from flows import tasks
from flows.artifacts import artifact_key
from kpi import pipeline


@flow(name="replay")
def replay(
    start: date,
    end: date,
    plan: str | None = None,
    home: str | None = None,
    source: str | None = None,
    deliver: bool = False,
    progress_bar: bool = False,
) -> list[dict]:
    """Replay the days from start to end (demo files, home <home>/replay by default)."""
    # A replay never writes into the production state by default: it has a home of its own.
    cfg = pipeline.resolve_settings(home or pipeline.resolve_settings().home / "replay")
    plan = plan or cfg.plan
    folder = Path(source) if source else pipeline.DEMO_SUBMISSIONS
    dates = pipeline.days(start, end)
    progress_id = create_progress_artifact(
        0.0, key=artifact_key(plan, "replay"), description=f"回放 {start} 至 {end}"
    )
    summaries: list[dict] = []
    with _bar(progress_bar, len(dates)) as advance, pipeline.held_between_nights(cfg) as hold:
        for i, day in enumerate(dates, start=1):
            summaries.append(tasks.replay_day(cfg, plan, day, folder, deliver, day == end))
            hold(i + 1 < len(dates))  # held unless the next night is the last (it publishes)
            update_progress_artifact(progress_id, 100.0 * i / len(dates))
            advance(day)
    create_markdown_artifact(
        replay_markdown(plan, summaries),
        key=artifact_key(plan, "replay-summary"),
        description=f"回放 {start} 至 {end} 的每日结果",
    )
    return summaries


@contextlib.contextmanager
def _bar(show: bool, total: int):
    if not show:
        yield lambda day: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("回放 {task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, transient=False) as progress:
        bar = progress.add_task("", total=total)
        yield lambda day: progress.update(bar, advance=1, description=day.isoformat())


def replay_markdown(plan: str, summaries: list[dict]) -> str:
    """A table of the replayed days on which something happened."""
    lines = [
        f"# 回放 {plan}",
        "",
        "| 日期 | 到达文件 | 接收行数 | 拒收行数 | 新发提醒 |",
        "|---|---|---|---|---|",
    ]
    for s in summaries:
        if s.get("staged") or s["files_seen"] or s["alerts_raised"]:
            lines.append(
                f"| {s['as_of']} | {s['files_seen']} | {s['rows_accepted']} | "
                f"{s['rows_rejected']} | {s['alerts_raised']} |"
            )
    return "\n".join(lines) + "\n"
