"""The desk's writes: 13710 steps, 催报, revocations; each under the run lock, then a new snapshot.

Every write goes through the function the CLI calls (kpi.alerts.workflow, kpi.alerts.reminders)
while holding kpi.warehouse.pipeline_lock, waiting at most cfg.desk_lock_wait_seconds: the
nightly run holds the warehouse for its whole length, and a click must not hang behind it, so
a busy lock is answered "正在运行夜间流程，请稍后再试" (HTTP 503) and nothing is queued. After the
write the snapshot is published again, so the page the user returns to shows it (a district's
warehouse copies in well under a second).
"""

from __future__ import annotations

import getpass
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from kpi import clock
from kpi.catalogue import Catalogue
from kpi.config import Settings
from kpi.desk.access import AccessLog
from kpi.desk.store import SQL
from kpi.warehouse import LockedError, connect, pipeline_lock, publish_snapshot, sql_file

log = logging.getLogger("kpi.desk")
T = TypeVar("T")
BUSY_ZH = "正在运行夜间流程，请稍后再试"
MAX_NOTE_CHARS = 2000  # a 13710 note or feedback is a paragraph, not a document


class Busy(RuntimeError):
    """The nightly run holds the lock (Chinese text)."""


class Refused(ValueError):
    """The action is not allowed for this episode or department (Chinese text)."""


def locked_write(
    cfg: Settings,
    fn: Callable[[], T],
    *,
    access: AccessLog | None = None,
    wait_seconds: float | None = None,
) -> T:
    """Run a write under the run lock, then flush the access buffer and publish the snapshot."""
    wait = cfg.desk_lock_wait_seconds if wait_seconds is None else wait_seconds
    try:
        with pipeline_lock(cfg, wait_seconds=wait):
            result = fn()
            if access is not None:
                try:
                    access.flush_locked()
                except Exception:  # the log waits for the next flush; the write stands
                    log.exception("access flush failed")
            publish_snapshot(cfg)
            return result
    except LockedError:
        raise Busy(BUSY_ZH) from None


def _text(value: str | None, what: str, *, required: bool) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise Refused(f"{what}不能为空")
        return None
    if len(text) > MAX_NOTE_CHARS:
        raise Refused(f"{what}过长（{len(text)} 字，最多 {MAX_NOTE_CHARS} 字）")
    return text


def episode_step(
    cfg: Settings,
    step: str,
    episode_id: int,
    text: str | None,
    *,
    actor: str,
    access: AccessLog | None = None,
    now: datetime | None = None,
) -> dict:
    """确认 (ack), 反馈 (feedback) or 销号 (close) one episode, as `kpi ack/feedback/close` do.

    The workflow function takes the run lock itself (waiting `desk_lock_wait_seconds`, not the
    night's `lock_wait_seconds`) and publishes the snapshot before letting go; the access buffer
    is flushed afterwards if the lock is free at once (else by the flusher thread).
    """
    from kpi.alerts import workflow

    now = now or clock.now(cfg.tz)
    if step == "ack":
        fn, args = workflow.ack, (_text(text, "确认说明", required=True), now)
    elif step == "feedback":
        fn, args = workflow.feedback, (_text(text, "反馈内容", required=True), now)
    elif step == "close":
        fn, args = workflow.close, (now, _text(text, "销号说明", required=False))
    else:
        raise ValueError(f"unknown step {step!r}")
    try:
        result = fn(cfg, episode_id, *args, actor=actor, lock_wait=cfg.desk_lock_wait_seconds)
    except LockedError:
        raise Busy(BUSY_ZH) from None
    except workflow.EpisodeNotFound:
        raise Refused(f"没有编号为 {episode_id} 的预警") from None
    except ValueError as exc:  # the workflow's own refusals (closed episode, second ack...)
        raise Refused(str(exc)) from None
    if access is not None:
        try:
            access.flush(wait_seconds=0)
        except Exception:  # the log waits for the next flush; the step stands
            log.exception("access flush failed")
    return result


def remind(
    cfg: Settings,
    catalogue: Catalogue,
    department: str,
    period: str,
    *,
    actor: str,
    access: AccessLog | None = None,
    now: datetime | None = None,
    deliver_now: bool = True,
) -> dict:
    """催报: queue a reminder for a department and period (once a day), then try to send it."""
    from kpi.alerts.reminders import AlreadyReminded, NothingToRemind, queue_reminder

    now = now or clock.now(cfg.tz)

    def run():
        return queue_reminder(cfg, catalogue, department, period, now, actor=actor)

    try:
        result = locked_write(cfg, run, access=access)
    except (NothingToRemind, AlreadyReminded) as exc:
        raise Refused(str(exc)) from None
    log.info(
        "催报 queued by %s: %s %s (message %s)", actor, department, period, result["message_id"]
    )
    if deliver_now:
        deliver_soon(cfg)
    return result


def deliver_soon(cfg: Settings) -> threading.Thread:
    """Send due outbox messages in the background (under the lock); a busy lock leaves them
    to the next scheduled delivery."""

    def send():
        from kpi.alerts import deliver

        try:
            locked_write(cfg, lambda: deliver(cfg, clock.now(cfg.tz)))
        except Busy:
            log.info("delivery after 催报 deferred: the lock is busy")
        except Exception:
            log.exception("delivery after 催报 failed; the scheduled delivery will retry")

    thread = threading.Thread(target=send, name="kpi-desk-deliver", daemon=True)
    thread.start()
    return thread


def revoke(
    cfg: Settings,
    *,
    token_id: str | None = None,
    scope: str | None = None,
    note: str | None = None,
    actor: str | None = None,
    wait_seconds: float | None = None,
) -> dict:
    """Record a revocation (one token id, or every token of a scope issued until now)."""
    if (token_id is None) == (scope is None):
        raise ValueError("exactly one of token_id and scope")
    revoked_at = clock.local_now(cfg.tz)
    params = {
        "revoked_at": revoked_at,
        "token_id": token_id,
        "scope": scope,
        "actor": actor or _os_user(),
        "note": note,
    }

    def run():
        with connect(cfg) as con:
            con.execute(sql_file("insert_revocation", SQL), params)
        return params

    wait = cfg.lock_wait_seconds if wait_seconds is None else wait_seconds
    return locked_write(cfg, run, wait_seconds=wait)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "cli"
