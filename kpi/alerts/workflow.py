"""The people's side of 13710: acknowledge, feed back, close; and the overview `kpi alerts` prints."""

from __future__ import annotations

import getpass
import json
from datetime import datetime

from kpi.alerts.raising import _event, _update_episode, fetch_dicts
from kpi.alerts.rules import next_step
from kpi.alerts.timing import days_between, local_date, to_stored
from kpi.config import Settings
from kpi.warehouse import connect, transaction


class EpisodeNotFound(KeyError):
    """No alert episode has this id."""


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "cli"


def _load(con, episode_id: int) -> dict:
    rows = fetch_dicts(con, "episode", {"episode_id": episode_id})
    if not rows:
        raise EpisodeNotFound(episode_id)
    return rows[0]


def _record(
    cfg: Settings,
    episode_id: int,
    now: datetime,
    kind: str,
    note: str | None,
    actor: str | None,
    changes_for,
) -> dict:
    now_local = to_stored(now, cfg.tz)
    with connect(cfg) as con:
        ep = _load(con, episode_id)
        changes = changes_for(ep, now_local)
        with transaction(con):
            if changes:
                _update_episode(con, episode_id, changes)
            _event(con, episode_id, now_local, kind, ep["status"], _actor(actor), note)
        ep.update(changes)
        return _public(ep, cfg, now_local)


def ack(cfg: Settings, episode_id: int, note: str, now: datetime, actor: str | None = None) -> dict:
    """Record that the department has seen an alert (13710: within 1 day)."""

    def changes(ep: dict, now_local: datetime) -> dict:
        out = {"ack_note": note}
        if ep["acked_at"] is None:
            out["acked_at"] = now_local
        return out

    return _record(cfg, episode_id, now, "acked", note, actor, changes)


def feedback(
    cfg: Settings, episode_id: int, text: str, now: datetime, actor: str | None = None
) -> dict:
    """Record the department's feedback to 督查局 (13710: within 3 days); implies acknowledged."""

    def changes(ep: dict, now_local: datetime) -> dict:
        out: dict = {"feedback_text": text}
        if ep["feedback_at"] is None:
            out["feedback_at"] = now_local
        if ep["acked_at"] is None:
            out["acked_at"] = now_local
        return out

    return _record(cfg, episode_id, now, "feedback", text, actor, changes)


def close(
    cfg: Settings,
    episode_id: int,
    now: datetime,
    note: str | None = None,
    actor: str | None = None,
) -> dict:
    """Close an alert by hand (销号); it stays closed until the target recovers or gets worse."""

    def changes(ep: dict, now_local: datetime) -> dict:
        if ep["state"] == "closed":
            return {}
        return {
            "state": "closed",
            "closed_at": now_local,
            "close_reason": "closed",
            "close_note": note,
        }

    return _record(cfg, episode_id, now, "closed", note, actor, changes)


def _iso(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _public(ep: dict, cfg: Settings, now_local: datetime) -> dict:
    """An episode as `kpi alerts --json` shows it."""
    snap = ep["snapshot"] if isinstance(ep["snapshot"], dict) else json.loads(ep["snapshot"])
    step = next_step(ep)
    return {
        "id": ep["episode_id"],
        "plan": ep["plan_code"],
        "target": ep["target_code"],
        "name_zh": ep["name_zh"],
        "department": ep["department_code"],
        "department_zh": ep.get("department_zh") or ep["department_code"],
        "status": ep["status"],
        "worst_status": ep["worst_status"],
        "major": bool(ep["major"]),
        "state": ep["state"],
        "opened_on": _iso(ep["opened_on"]),
        "days_open": days_between(ep["opened_on"], local_date(now_local, cfg.tz)),
        "acked_at": _iso(ep["acked_at"]),
        "ack_note": ep["ack_note"],
        "feedback_at": _iso(ep["feedback_at"]),
        "feedback_text": ep["feedback_text"],
        "reminded_at": _iso(ep["reminded_at"]),
        "escalated_at": _iso(ep["escalated_at"]),
        "escalated_again_at": _iso(ep["escalated_again_at"]),
        "closed_at": _iso(ep["closed_at"]),
        "close_reason": ep["close_reason"],
        "next_step": {"what": step[0], "on": step[1].isoformat()} if step else None,
        "figures": {
            k: snap.get(k)
            for k in (
                "actual",
                "target_value",
                "unit",
                "completion_rate",
                "time_progress",
                "gap_pp",
                "outlook",
            )
        },
    }


def overview(cfg: Settings, plan: str, now: datetime, include_closed: bool = False) -> dict:
    """Open alerts with their 13710 state and each delivery's state, plus undelivered messages."""
    now_local = to_stored(now, cfg.tz)
    with connect(cfg) as con:
        episodes = fetch_dicts(
            con, "overview_episodes", {"plan_code": plan, "include_closed": include_closed}
        )
        messages = fetch_dicts(con, "overview_messages", {"plan_code": plan})
        deliveries = fetch_dicts(con, "overview_deliveries", {"plan_code": plan})
    by_message: dict[int, list[dict]] = {}
    for d in deliveries:
        by_message.setdefault(d["message_id"], []).append(
            {k: _iso(v) for k, v in d.items() if k != "message_id"}
        )

    def msg(m: dict) -> dict:
        out = {k: _iso(v) for k, v in m.items() if k != "episode_ids"}
        out["deliveries"] = by_message.get(m["message_id"], [])
        out["state"] = _message_state(m, out["deliveries"], now_local)
        return out

    result = []
    for ep in episodes:
        item = _public(ep, cfg, now_local)
        item["messages"] = [
            msg(m) for m in messages if ep["episode_id"] in (m["episode_ids"] or [])
        ]
        result.append(item)
    undelivered = [msg(m) for m in messages if m["done_at"] is None]
    failed = [
        msg(m)
        for m in messages
        if m["done_at"] is not None
        and any(d["state"] == "failed" for d in by_message.get(m["message_id"], []))
    ]
    return {"plan": plan, "episodes": result, "undelivered": undelivered, "failed": failed}


def _message_state(message: dict, deliveries: list[dict], now_local: datetime) -> str:
    """delivered | failed | retrying | held | pending."""
    states = {d["state"] for d in deliveries}
    if message["done_at"] is not None:
        return "failed" if "failed" in states else "delivered"
    if message["not_before"] > now_local:
        return "held"
    if states & {"pending", "sending"}:
        return "retrying"
    return "pending"
