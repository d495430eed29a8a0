"""deliver: send due outbox messages through apprise, at most once per message x channel x part.

Each attempt is written down before the call (state `sending`) and its outcome right after, so a
crash in between is visible; a failed attempt (timeout, refused connection, HTTP error, WeCom
errcode) is retried on a later run after a backoff. Nothing here raises: a broken channel or
configuration is reported in the returned dict and the log, and the pipeline goes on.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

import apprise
import duckdb

from kpi.alerts.channels import MASKER, Channel, ConfigError, load_router
from kpi.alerts.plugins import CURRENT, RateLimiter, SendContext
from kpi.alerts.raising import fetch_dicts, q
from kpi.alerts.timing import backoff, in_quiet_hours, to_stored
from kpi.config import Settings
from kpi.warehouse import connect, transaction

log = logging.getLogger("kpi.alerts")

PERMANENT = ("too_long",)  # resending the same bytes cannot succeed


def _units(message: dict, channel: Channel) -> list[dict]:
    """What one channel gets for a message: numbered parts, each a separate delivery."""
    if channel.kind == "wecom":
        md = list(message["md_parts"])
        units = [
            {"msgtype": "markdown", "title": "", "body": body, "format": "markdown"} for body in md
        ]
        if message["mention"]:
            units += [
                {"msgtype": "text", "title": "", "body": body, "format": "text"}
                for body in message["text_parts"]
            ]
    else:  # email, and any other apprise service: the HTML page, converted by apprise as needed
        units = [
            {
                "msgtype": "markdown",
                "title": message["title"],
                "body": message["html"],
                "format": "html",
            }
        ]
    for n, unit in enumerate(units, start=1):
        unit["part"], unit["parts"] = n, len(units)
    return units


def _classify(result: apprise.AppriseResult, ctx: SendContext) -> dict:
    """The outcome of one call: from our plugin's report, else from apprise's status and logs."""
    if ctx.outcome:
        return dict(ctx.outcome)
    if bool(result):
        return {"outcome": "sent"}
    if result.status == apprise.AppriseResultStatus.TIMEOUT:
        return {"outcome": "timeout", "detail": "应答超时"}
    messages = [str(getattr(e, "message", e)) for e in result.logs()]
    text = " ".join(messages).lower()
    if "refused" in text or "errno 111" in text:
        return {"outcome": "refused", "detail": "连接被拒绝"}
    if "timed out" in text or "timeout" in text:
        return {"outcome": "timeout", "detail": "应答超时"}
    detail = messages[-1] if messages else f"apprise 状态 {result.status.name}"
    return {"outcome": "error", "detail": detail[:300]}


def _send(channel: Channel, message: dict, unit: dict, cfg: Settings, limiter, timeout: float):
    ctx = SendContext(
        message_id=message["message_id"],
        part=unit["part"],
        parts=unit["parts"],
        msgtype=unit["msgtype"],
        sinks_dir=cfg.sinks,
        limiter=limiter,
    )
    token = CURRENT.set(ctx)
    started = time.monotonic()
    try:
        one = apprise.Apprise()
        one.add(channel.service)
        result = one.notify(
            unit["body"],
            title=unit["title"],
            body_format=unit["format"],
            timeout=timeout,
            log_level=logging.DEBUG,
        )
        outcome = _classify(result, ctx)
    except Exception as exc:  # a plugin bug must not stop the other deliveries
        outcome = {"outcome": "error", "detail": f"{type(exc).__name__}: {exc}"}
    finally:
        CURRENT.reset(token)
    outcome["elapsed_ms"] = int((time.monotonic() - started) * 1000)
    outcome["detail"] = MASKER.mask(outcome.get("detail"))
    return outcome


def _begin(con, existing: dict | None, key: str, message: dict, channel: Channel, unit: dict, now):
    """Record that an attempt starts (committed before the call is made)."""
    if existing is None:
        con.execute(
            q("insert_delivery"),
            {
                "delivery_key": key,
                "message_id": message["message_id"],
                "channel": channel.id,
                "tag": channel.tag,
                "scheme": channel.scheme,
                "host": channel.host,
                "part": unit["part"],
                "parts": unit["parts"],
                "now": now,
            },
        )
    else:
        con.execute(q("mark_sending"), {"now": now, "delivery_key": key})


def _finish(con, key: str, attempt_no: int, outcome: dict, now: datetime) -> str:
    """Record an attempt's outcome; return the delivery's new state."""
    ok = outcome["outcome"] == "sent"
    state = "delivered" if ok else ("failed" if outcome["outcome"] in PERMANENT else "pending")
    next_at = None if state != "pending" else now + backoff(attempt_no)
    with transaction(con):
        con.execute(
            q("insert_attempt"),
            {
                "delivery_key": key,
                "attempt_no": attempt_no,
                "attempted_at": now,
                "outcome": outcome["outcome"],
                "http_status": outcome.get("http_status"),
                "errcode": outcome.get("errcode"),
                "detail": outcome.get("detail"),
                "elapsed_ms": outcome.get("elapsed_ms"),
            },
        )
        con.execute(
            q("record_outcome"),
            {
                "state": state,
                "attempts": attempt_no,
                "next_attempt_at": next_at,
                "delivered_at": now if ok else None,
                "last_outcome": outcome["outcome"],
                "last_error": None if ok else outcome.get("detail"),
                "delivery_key": key,
            },
        )
    return state


def deliver(
    cfg: Settings,
    now: datetime,
    *,
    limiter: RateLimiter | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 0,
) -> dict:
    """Send every due outbox message to each channel of its route; record each attempt."""
    now_local = to_stored(now, cfg.tz)
    summary: dict = {
        "sent": 0,
        "failed": 0,
        "deferred": 0,
        "held": 0,
        "given_up": 0,
        "messages_done": 0,
        "by_outcome": {},
        "error": None,
    }
    try:
        _deliver(cfg, now_local, limiter, env, timeout, summary)
    except Exception as exc:  # never abort the pipeline over delivery
        summary["error"] = MASKER.mask(f"{type(exc).__name__}: {exc}")
        log.error("alert delivery stopped: %s", summary["error"])
    log.info(
        "alert delivery: %d sent, %d failed, %d waiting for retry, %d held",
        summary["sent"],
        summary["failed"],
        summary["deferred"],
        summary["held"],
    )
    return summary


def _deliver(cfg, now_local, limiter, env, timeout, summary) -> None:
    limiter = limiter or SendContext().limiter
    with connect(cfg) as con:
        pending = con.execute(q("count_held"), {"now": now_local}).fetchone()[0]
        summary["held"] = pending
        if in_quiet_hours(now_local, cfg.tz, cfg.quiet_from, cfg.quiet_until):
            summary["held"] += con.execute(q("count_due"), {"now": now_local}).fetchone()[0]
            return
        messages = fetch_dicts(con, "due_messages", {"now": now_local})
        if not messages:
            return
        try:
            router = load_router(cfg.apprise_config, cfg.sinks, env)
        except ConfigError as exc:
            summary["error"] = MASKER.mask(str(exc))
            log.error("alert delivery skipped: %s", summary["error"])
            return
        known = {r["delivery_key"]: r for r in fetch_dicts(con, "open_deliveries")}
        down: set[str] = set()
        for message in messages:
            if _deliver_message(
                con, cfg, router, message, known, now_local, limiter, timeout, summary, down
            ):
                con.execute(q("mark_done"), {"now": now_local, "message_id": message["message_id"]})
                summary["messages_done"] += 1


def _deliver_message(
    con: duckdb.DuckDBPyConnection,
    cfg: Settings,
    router,
    message: dict,
    known: dict,
    now_local: datetime,
    limiter,
    timeout: float,
    summary: dict,
    down: set[str],
) -> bool:
    """Deliver one message's parts to each channel in order; True when nothing is left to do."""
    finished = True
    for channel in router.channels(message["route"]):
        # Parts go out in order: a failed part holds back the ones after it. A channel that
        # failed once in this run is not tried again until the next run (a hung robot would
        # otherwise cost a timeout per message).
        blocked = channel.id in down
        for unit in _units(message, channel):
            key = f"{message['message_id']}|{channel.id}|{unit['part']}"
            row = known.get(key)
            if row is not None and row["state"] in ("delivered", "failed"):
                continue
            if blocked:
                finished = False
                continue
            if row is not None and row["state"] == "sending":
                log.warning("delivery %s was interrupted last time; its outcome is unknown", key)
            if row is not None and row["next_attempt_at"] and row["next_attempt_at"] > now_local:
                summary["deferred"] += 1
                finished, blocked = False, True
                continue
            _begin(con, row, key, message, channel, unit, now_local)
            outcome = _send(channel, message, unit, cfg, limiter, timeout)
            attempt_no = (row["attempts"] if row else 0) + 1
            state = _finish(con, key, attempt_no, outcome, now_local)
            known[key] = {"state": state}
            kind = outcome["outcome"]
            summary["by_outcome"][kind] = summary["by_outcome"].get(kind, 0) + 1
            if state == "delivered":
                summary["sent"] += 1
                continue
            summary["failed"] += 1
            if state == "failed":
                summary["given_up"] += 1
                log.error(
                    "message %s part %d/%d to %s cannot be delivered: %s",
                    message["message_id"],
                    unit["part"],
                    unit["parts"],
                    channel.id,
                    outcome.get("detail"),
                )
                continue
            log.warning(
                "message %s part %d/%d to %s failed (%s: %s); retry after %s",
                message["message_id"],
                unit["part"],
                unit["parts"],
                channel.id,
                kind,
                outcome.get("detail"),
                backoff(attempt_no),
            )
            down.add(channel.id)
            finished, blocked = False, True
    return finished
