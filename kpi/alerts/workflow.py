"""The people's side of 13710: acknowledge, feed back, close; and the overview `kpi alerts` prints.

The rules of what makes sense live here, not in a command, because the CLI and the web desk
call the same functions: `ack`, `feedback` and `close` refuse (with `WorkflowRefused`, a Chinese
message, nothing written) an empty note, a closed episode, a second acknowledgement or close.
Each takes the run lock (waiting up to `lock_wait_seconds`, then `LockedError`) and publishes
the snapshot again before letting go of it, so that `overview`, which reads the snapshot, shows
what was just recorded.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import re
from collections.abc import Iterator
from datetime import datetime

import duckdb

from kpi.alerts.raising import _event, _update_episode, fetch_dicts
from kpi.alerts.rules import next_step
from kpi.alerts.timing import days_between, local_date, to_stored
from kpi.config import Settings
from kpi.warehouse import connect, pipeline_lock, publish_snapshot, transaction

NOTE_MAX_CHARS = 2000  # a note or feedback text; longer is refused, never cut
SCHEMA_NEEDED = 50  # the snapshot must have migration 050 (delivery columns) to be read
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CLOSE_REASON_ZH = {"recovered": "已恢复正常", "completed": "已完成", "closed": "已销号"}


class EpisodeNotFound(KeyError):
    """No alert episode has this id."""

    def __str__(self) -> str:
        return f"没有编号为 {self.args[0]} 的预警"


class WorkflowRefused(ValueError):
    """A 13710 step that makes no sense for this episode; the message is Chinese."""


class WarehouseBusy(RuntimeError):
    """Neither the snapshot nor the warehouse can be read just now; the message is Chinese."""


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "cli"


def clean_text(value: object, what: str, *, required: bool = True) -> str | None:
    """A note typed by a person: trimmed, no control characters, not empty, bounded."""
    if value is None:
        if required:
            raise WorkflowRefused(f"{what}不能为空")
        return None
    text = _CONTROL.sub("", str(value)).strip()
    if not text:
        raise WorkflowRefused(f"{what}不能为空或只有空白")
    if len(text) > NOTE_MAX_CHARS:
        raise WorkflowRefused(f"{what}过长（{len(text)} 字，最多 {NOTE_MAX_CHARS} 字）")
    return text


def _load(con, episode_id: int) -> dict:
    rows = fetch_dicts(con, "episode", {"episode_id": episode_id})
    if not rows:
        raise EpisodeNotFound(episode_id)
    return rows[0]


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "此前"


def _refuse_if_closed(ep: dict, doing: str) -> None:
    if ep["state"] == "closed":
        how = CLOSE_REASON_ZH.get(ep["close_reason"], "已关闭")
        raise WorkflowRefused(
            f"预警 {ep['episode_id']}（{ep['name_zh']}）已于 {_when(ep['closed_at'])} {how}，"
            f"不能再{doing}"
        )


def _record(
    cfg: Settings,
    episode_id: int,
    now: datetime,
    kind: str,
    note: str | None,
    actor: str | None,
    changes_for,
    lock_wait: float | None,
) -> dict:
    now_local = to_stored(now, cfg.tz)
    wait = cfg.lock_wait_seconds if lock_wait is None else lock_wait
    with pipeline_lock(cfg, wait_seconds=wait):
        with connect(cfg) as con:
            ep = _load(con, episode_id)
            changes = changes_for(ep, now_local)  # raises WorkflowRefused: nothing written
            with transaction(con):
                if changes:
                    _update_episode(con, episode_id, changes)
                _event(con, episode_id, now_local, kind, ep["status"], _actor(actor), note)
        ep.update(changes)
        publish_snapshot(cfg)  # still under the lock: readers see it at once
    return _public(ep, cfg, now_local)


def ack(
    cfg: Settings,
    episode_id: int,
    note: str,
    now: datetime,
    actor: str | None = None,
    *,
    lock_wait: float | None = None,
) -> dict:
    """Record that the department has seen an alert (13710: within 1 day)."""
    text = clean_text(note, "确认说明")

    def changes(ep: dict, now_local: datetime) -> dict:
        _refuse_if_closed(ep, "确认")
        if ep["acked_at"] is not None:
            raise WorkflowRefused(
                f"预警 {ep['episode_id']} 已于 {_when(ep['acked_at'])} 确认，无需重复确认；"
                "补充情况请用 kpi feedback"
            )
        return {"ack_note": text, "acked_at": now_local}

    return _record(cfg, episode_id, now, "acked", text, actor, changes, lock_wait)


def feedback(
    cfg: Settings,
    episode_id: int,
    text: str,
    now: datetime,
    actor: str | None = None,
    *,
    lock_wait: float | None = None,
) -> dict:
    """Record the department's feedback to 督查局 (13710: within 3 days); implies acknowledged."""
    body = clean_text(text, "反馈内容")

    def changes(ep: dict, now_local: datetime) -> dict:
        _refuse_if_closed(ep, "反馈")
        out: dict = {"feedback_text": body}
        if ep["feedback_at"] is None:
            out["feedback_at"] = now_local
        if ep["acked_at"] is None:
            out["acked_at"] = now_local
        return out

    return _record(cfg, episode_id, now, "feedback", body, actor, changes, lock_wait)


def close(
    cfg: Settings,
    episode_id: int,
    now: datetime,
    note: str | None = None,
    actor: str | None = None,
    *,
    lock_wait: float | None = None,
) -> dict:
    """Close an alert by hand (销号); it stays closed until the target recovers or gets worse."""
    text = clean_text(note, "销号说明", required=False)

    def changes(ep: dict, now_local: datetime) -> dict:
        _refuse_if_closed(ep, "销号")
        return {
            "state": "closed",
            "closed_at": now_local,
            "close_reason": "closed",
            "close_note": text,
        }

    return _record(cfg, episode_id, now, "closed", text, actor, changes, lock_wait)


def _iso(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _days_open(ep: dict, cfg: Settings, now_local: datetime) -> int:
    """Calendar days from opening to now (from the one clock), or to closing; never negative."""
    end = ep["closed_at"] if ep["state"] == "closed" and ep["closed_at"] else now_local
    return max(0, days_between(ep["opened_on"], local_date(end, cfg.tz)))


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
        "days_open": _days_open(ep, cfg, now_local),
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


def _schema_version(con: duckdb.DuckDBPyConnection) -> int:
    try:
        return con.execute("select max(version) from meta.schema_version").fetchone()[0] or 0
    except duckdb.Error:
        return 0


@contextlib.contextmanager
def reading(cfg: Settings, *, wait_seconds: int = 3) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to read alerts from, never waiting long behind a writer.

    The published snapshot when it has this version's tables (every alerts writer publishes
    it again: the nightly run, `deliver_locked`, ack/feedback/close); else the warehouse, if
    it frees within `wait_seconds`; else `WarehouseBusy`.
    """
    con = None
    if cfg.snapshot.exists():
        try:
            con = duckdb.connect(str(cfg.snapshot), read_only=True)
        except duckdb.Error:
            con = None
        if con is not None and _schema_version(con) < SCHEMA_NEEDED:
            con.close()
            con = None
    if con is not None:
        try:
            yield con
        finally:
            con.close()
        return
    try:
        ctx = connect(cfg, retries=max(1, wait_seconds), wait=1.0)
        con = ctx.__enter__()
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        raise WarehouseBusy(
            f"数据仓库正被另一运行占用，且尚无可读的快照；请 {wait_seconds} 秒后再试"
        ) from None
    try:
        yield con
    finally:
        ctx.__exit__(None, None, None)


def overview(cfg: Settings, plan: str, now: datetime, include_closed: bool = False) -> dict:
    """Open alerts with their 13710 state and each delivery's state, plus undelivered messages.

    `include_closed` (`kpi alerts --all`) adds closed episodes and `messages`: every message of
    the plan (receipts, reminders, notices, failure reports included) with its state.
    """
    now_local = to_stored(now, cfg.tz)
    with reading(cfg) as con:
        episodes = fetch_dicts(
            con, "overview_episodes", {"plan_code": plan, "include_closed": include_closed}
        )
        messages = fetch_dicts(con, "overview_messages", {"plan_code": plan})
        deliveries = fetch_dicts(con, "overview_deliveries", {"plan_code": plan})
        channels = fetch_dicts(con, "overview_channels")
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
        if any(d["state"] == "failed" for d in by_message.get(m["message_id"], []))
    ]
    out = {
        "plan": plan,
        "episodes": result,
        "undelivered": undelivered,
        "failed": failed,
        "channels": [{k: _iso(v) for k, v in c.items()} for c in channels],
    }
    if include_closed:
        out["messages"] = [msg(m) for m in messages]
    return out


def _message_state(message: dict, deliveries: list[dict], now_local: datetime) -> str:
    """delivered | failed (无法送达 somewhere) | retrying | held | pending."""
    states = {d["state"] for d in deliveries}
    if "failed" in states:
        return "failed"
    if message["done_at"] is not None:
        return "delivered"
    if message["not_before"] > now_local:
        return "held"
    if states & {"pending", "sending"}:
        return "retrying"
    return "pending"
