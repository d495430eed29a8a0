"""Pure alert rules: episodes from progress rows (no noise), and the "13710" steps that are due.

An episode is one spell of a target in an alerting status (预警/滞后/严重滞后). It is announced
once; announced again only when it gets worse than anything announced so far, or when
`repeat_days` calendar days have passed since the last message; recovery (正常/已完成) closes it.
A target closed by hand (`kpi close`) opens no new episode until it recovers or gets worse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from kpi.alerts.render import STATUS_RANK
from kpi.alerts.timing import (
    ESCALATE_AFTER_DAYS,
    REMIND_AFTER_DAYS,
    days_between,
    local_date,
    open_deadline_days,
)

RECOVERED_STATUSES = ("正常", "已完成")


def is_major(snap: dict) -> bool:
    """Headline targets, ceiling breaches and overdue milestones get a month, not a week."""
    return (
        bool(snap.get("headline"))
        or snap.get("kind") == "ceiling"
        or (snap.get("kind") == "milestone" and (snap.get("days_overdue") or 0) > 0)
    )


@dataclass
class EpisodePlan:
    """What one run changes: new episodes, field updates, events, department message items."""

    new: list[dict] = field(default_factory=list)
    updates: dict[int, dict] = field(default_factory=dict)  # episode_id -> changed columns
    events: list[dict] = field(default_factory=list)  # {"episode": dict, "kind", "status"}
    items: list[dict] = field(default_factory=list)  # {"episode": dict, "reason", "snap"}
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, key: str) -> None:
        """Tally one change."""
        self.counts[key] = self.counts.get(key, 0) + 1


def _update(plan: EpisodePlan, ep: dict, **changes: object) -> None:
    # Only what differs from the stored episode is written: a night that judges a target as the
    # last one did (a quiet night, most replayed nights) rewrites no episode row.
    changed = {k: v for k, v in changes.items() if k not in ep or ep[k] != v}
    ep.update(changes)
    if ep.get("episode_id") is not None and changed:
        plan.updates.setdefault(ep["episode_id"], {}).update(changed)


def plan_episodes(
    progress: list[dict],
    latest: dict[str, dict],
    *,
    as_of: date,
    now: datetime,
    tz: ZoneInfo,
    repeat_days: int,
    day0: date,
) -> EpisodePlan:
    """Compare today's progress rows with each target's latest episode (`now`: stored local)."""
    # day0 is the local date a new alert is released (after quiet hours): day 0 of 13710.
    plan = EpisodePlan()
    today = local_date(now, tz)
    for snap in progress:
        code, status = snap["target_code"], snap.get("status")
        ep = latest.get(code)
        open_ep = ep if ep is not None and ep["state"] == "open" else None
        if status in STATUS_RANK:
            rank = STATUS_RANK[status]
            if open_ep is None:
                held = (
                    ep is not None
                    and ep["close_reason"] == "closed"
                    and ep["cleared_at"] is None
                    and rank <= ep["status_rank"]
                )
                if held:
                    continue
                new = {
                    "episode_id": None,
                    "target_code": code,
                    "department_code": snap["department_code"],
                    "name_zh": snap["name_zh"],
                    "major": is_major(snap),
                    "status": status,
                    "status_rank": rank,
                    "notified_rank": rank,
                    "worst_status": status,
                    "state": "open",
                    "opened_at": now,
                    "opened_on": day0,
                    "opened_as_of": as_of,
                    "last_as_of": as_of,
                    "last_sent_at": now,
                    "snapshot": snap,
                }
                plan.new.append(new)
                plan.events.append({"episode": new, "kind": "opened", "status": status})
                plan.items.append({"episode": new, "reason": "new", "snap": snap})
                plan.count("opened")
                continue
            changes: dict = {
                "snapshot": snap,
                "last_as_of": as_of,
                "major": bool(open_ep["major"]) or is_major(snap),
            }
            if rank != open_ep["status_rank"]:
                changes.update(status=status, status_rank=rank)
                if rank > STATUS_RANK[open_ep["worst_status"]]:
                    changes["worst_status"] = status
            if rank > open_ep["notified_rank"]:
                changes.update(notified_rank=rank, last_sent_at=now)
                plan.events.append({"episode": open_ep, "kind": "worsened", "status": status})
                plan.items.append({"episode": open_ep, "reason": "worse", "snap": snap})
                plan.count("worsened")
            elif rank != open_ep["status_rank"]:
                kind = "improved" if rank < open_ep["status_rank"] else "worsened"
                plan.events.append({"episode": open_ep, "kind": kind, "status": status})
                plan.count(kind)
            elif (
                repeat_days > 0
                and days_between(local_date(open_ep["last_sent_at"], tz), today) >= repeat_days
            ):
                changes["last_sent_at"] = now
                plan.events.append({"episode": open_ep, "kind": "repeated", "status": status})
                plan.items.append({"episode": open_ep, "reason": "repeat", "snap": snap})
                plan.count("repeated")
            _update(plan, open_ep, **changes)
        elif status in RECOVERED_STATUSES:
            if open_ep is not None:
                reason = "completed" if status == "已完成" else "recovered"
                _update(
                    plan,
                    open_ep,
                    state="closed",
                    closed_at=now,
                    close_reason=reason,
                    last_as_of=as_of,
                    snapshot=snap,
                )
                plan.events.append({"episode": open_ep, "kind": "recovered", "status": status})
                plan.items.append({"episode": open_ep, "reason": reason, "snap": snap})
                plan.count("recovered")
            elif ep is not None and ep["close_reason"] == "closed" and ep["cleared_at"] is None:
                _update(plan, ep, cleared_at=now)
        # 无数据 / missing data: a data problem, handled by submission notices; keep as is.
    return plan


def workflow_steps(open_episodes: list[dict], *, now: datetime, tz: ZoneInfo) -> list[tuple]:
    """The 13710 steps due now: (episode, step) with step remind | escalate | escalate_again."""
    today = local_date(now, tz)
    due = []
    for ep in open_episodes:
        days = days_between(ep["opened_on"], today)
        if days >= REMIND_AFTER_DAYS and ep["acked_at"] is None and ep["reminded_at"] is None:
            due.append((ep, "remind"))
        if days >= ESCALATE_AFTER_DAYS and ep["feedback_at"] is None and ep["escalated_at"] is None:
            due.append((ep, "escalate"))
        if days >= open_deadline_days(bool(ep["major"])) and ep["escalated_again_at"] is None:
            due.append((ep, "escalate_again"))
    return due


def worst_first_key(snap: dict, major: bool) -> tuple:
    """Sort key: most severe status, major before ordinary, largest gap, then code."""
    gap = snap.get("gap_pp")
    return (
        -STATUS_RANK.get(snap.get("status"), 0),
        not major,
        gap if gap is not None else 0.0,
        snap.get("department_code") or "",
        snap.get("target_code") or "",
    )


def next_step(ep: dict) -> tuple[str, date] | None:
    """The next 13710 deadline of an open episode: (what happens, on which local date)."""
    if ep["state"] != "open":
        return None
    start = ep["opened_on"]
    candidates = []
    if ep["acked_at"] is None and ep["reminded_at"] is None:
        candidates.append(("未确认将再次提醒", start + timedelta(days=REMIND_AFTER_DAYS)))
    if ep["feedback_at"] is None and ep["escalated_at"] is None:
        candidates.append(("未反馈将报督查局", start + timedelta(days=ESCALATE_AFTER_DAYS)))
    if ep["escalated_again_at"] is None:
        days = open_deadline_days(bool(ep["major"]))
        candidates.append(("未销号将再次督办", start + timedelta(days=days)))
    return min(candidates, key=lambda c: c[1]) if candidates else None
