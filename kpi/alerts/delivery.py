"""deliver: send due outbox messages through apprise, once per message x channel x part.

A channel is one destination (a robot, a mailbox): a message whose tags lead to it several
times goes there once. Each attempt is written down before the call (state `sending`) and its
outcome right after. What an outcome means:

- sent: delivered, never sent again;
- certain failure (refused, connection timeout, HTTP 5xx, errcode 45009, SMTP 4xx, a missing
  secret): nothing reached the group; retried by a later run after a backoff;
- uncertain (the request was out but the answer timed out, trickled or the connection dropped;
  or the process died mid-send): it may have arrived, so it is sent once more, marked （重发）,
  and never a third time;
- permanent (errcode 93000 or 40058, SMTP 5xx, authentication): after
  `delivery_permanent_tries` tries the delivery ends as 无法送达 (`failed`); a channel whose
  errors are its own (an invalid key, a refused password or recipient) is marked dead and its
  other deliveries end at once, without a call, until a recheck is due.

Every delivery given up is reported, once, to 督查局's route in a `delivery_failure` message
(through a live channel: dcj's others, else leadership's, else the local sinks). A channel that
failed is not tried again in the same run. Nothing here raises: problems are in the returned
dict and the log; `deliver_locked` is what commands and flows call.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime, timedelta

import apprise
import duckdb

from kpi import clock
from kpi.alerts import render
from kpi.alerts.channels import MASKER, Channel, ConfigError, Router, load_router
from kpi.alerts.plugins import CURRENT, RateLimiter, SendContext
from kpi.alerts.raising import DCJ, LEADERS, _enqueue, _message, fetch_dicts, for_department, q
from kpi.alerts.smtp import send_email
from kpi.alerts.timing import backoff, in_quiet_hours, to_stored
from kpi.config import Settings
from kpi.desk import links as desk_links
from kpi.warehouse import connect, pipeline_lock, publish_snapshot, transaction

log = logging.getLogger("kpi.alerts")

UNCERTAIN_SENDS = 2  # the first send and one marked repeat: never a third copy
LIMITS = {"markdown": render.MARKDOWN_MAX_BYTES, "text": render.TEXT_MAX_BYTES}


def _units(message: dict, channel: Channel) -> list[dict]:
    """What one channel gets for a message: numbered parts, each a separate delivery."""
    if channel.kind == "wecom":
        units = [
            {"msgtype": "markdown", "title": "", "body": body, "format": "markdown"}
            for body in message["md_parts"]
        ]
        # @-text only where someone can be @-ed: elsewhere it would be a second plain copy.
        if message["mention"] and channel.mention:
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


def _carries_link(message: dict, unit: dict) -> bool:
    """Whether a unit ends a department's message: its last markdown part, or its email."""
    routes = message.get("routes") or [message["route"]]
    if not for_department(message.get("department_code"), routes):
        return False
    if unit["format"] == "html":
        return True
    return unit["msgtype"] == "markdown" and unit["part"] == len(message["md_parts"])


_NO_LINK = {"link_token_id": None, "link_issued_at": None, "link_expires_at": None}


def _marked(unit: dict) -> dict:
    """The unit sent again after an uncertain send: a （重发） line, and in the email subject."""
    body = render.mark_resend(unit["body"], unit["format"])
    limit = LIMITS.get(unit["msgtype"]) if unit["format"] != "html" else None
    if limit is not None and render.nbytes(body) > limit:
        # Only parts packed before RESEND_RESERVE existed can be this full: send them as they are.
        log.warning("part too full for the resend line: sent again unmarked")
        return dict(unit, marked=False)
    title = f"（重发）{unit['title']}" if unit["title"] else ""
    return dict(unit, body=body, title=title, marked=True)


def _classify(result: apprise.AppriseResult, ctx: SendContext) -> dict:
    """The outcome of one apprise call: from our plugin's report, else from apprise's status."""
    if ctx.outcome:
        return dict(ctx.outcome)
    if bool(result):
        return {"outcome": "sent"}
    if result.status == apprise.AppriseResultStatus.TIMEOUT:
        # apprise stopped waiting; the service may still be sending in the background.
        return {"outcome": "timeout", "uncertain": True, "detail": "应答超时（可能已送达）"}
    messages = [str(getattr(e, "message", e)) for e in result.logs()]
    text = " ".join(messages).lower()
    if "refused" in text or "errno 111" in text:
        return {"outcome": "refused", "detail": "连接被拒绝"}
    if "timed out" in text or "timeout" in text:
        return {"outcome": "timeout", "detail": "应答超时"}
    detail = messages[-1] if messages else f"apprise 状态 {result.status.name}"
    return {"outcome": "error", "detail": detail[:300]}


def _send(channel: Channel, message: dict, unit: dict, cfg: Settings, limiter, timeout: float):
    """One call to one channel; the outcome with its elapsed time, details masked."""
    started = time.monotonic()
    if channel.kind == "email" and channel.scheme in ("mailto", "mailtos"):
        try:
            tag = f"{message['message_id']}/{unit['part']}"
            outcome = send_email(channel.service, unit["title"], unit["body"], tag)
        except Exception as exc:  # a bug must not stop the other deliveries
            outcome = {"outcome": "error", "detail": f"{type(exc).__name__}: {exc}"}
    else:
        ctx = SendContext(
            message_id=message["message_id"],
            part=unit["part"],
            parts=unit["parts"],
            msgtype=unit["msgtype"],
            sinks_dir=cfg.sinks,
            limiter=limiter,
            channel=channel.id,
        )
        token = CURRENT.set(ctx)
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


def _new_summary() -> dict:
    return {
        "sent": 0,  # parts delivered in this run
        "failed": 0,  # attempts that failed (retried later, or given up)
        "deferred": 0,  # parts waiting for their backoff
        "held": 0,  # messages held by quiet hours
        "given_up": 0,  # parts that ended as 无法送达 in this run
        "messages_done": 0,
        "attempts": 0,
        "uncertain": 0,  # attempts whose outcome is unknown (to be sent once more, marked)
        "resent": 0,  # marked repeats sent
        "by_outcome": {},
        "undeliverable": [],  # what ended as 无法送达 in this run
        "channel_errors": {},  # channels that could not be built (a missing variable)
        "reported": 0,  # failures reported to 督查局's route in this run
        "error": None,
    }


def deliver(
    cfg: Settings,
    now: datetime,
    *,
    limiter: RateLimiter | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 0,
) -> dict:
    """Send every due outbox message to each channel of its routes; record each attempt."""
    now_local = to_stored(now, cfg.tz)
    summary = _new_summary()
    try:
        _deliver(cfg, now_local, limiter, env, timeout, summary)
    except Exception as exc:  # never abort the pipeline over delivery
        summary["error"] = MASKER.mask(f"{type(exc).__name__}: {exc}")
        log.error("alert delivery stopped: %s", summary["error"])
    log.info(
        "alert delivery: %d sent, %d failed, %d waiting for retry, %d held, %d undeliverable",
        summary["sent"],
        summary["failed"],
        summary["deferred"],
        summary["held"],
        summary["given_up"],
    )
    return summary


def deliver_locked(
    cfg: Settings,
    now: datetime | None = None,
    *,
    lock_wait: float | None = None,
    publish: bool = True,
    **kwargs,
) -> dict:
    """`kpi deliver` and the deliver flow: deliver under the run lock, then republish the snapshot.

    Raises `kpi.warehouse.LockedError` when another run holds the lock after `lock_wait`
    seconds (default `lock_wait_seconds`). The snapshot is published again when anything was
    written, so that `kpi alerts` (which reads it) shows each delivery's state.
    """
    wait = cfg.lock_wait_seconds if lock_wait is None else lock_wait
    with pipeline_lock(cfg, wait_seconds=wait):
        result = deliver(cfg, now or clock.now(cfg.tz), **kwargs)
        changed = result["attempts"] or result["messages_done"] or result["given_up"]
        if publish and changed:
            publish_snapshot(cfg)
    return result


def failed_state(result: dict) -> str | None:
    """Why a deliver run should end Failed (in Chinese), or None: 无法送达, broken channels, errors."""
    reasons = []
    if result.get("given_up"):
        reasons.append(f"{result['given_up']} 条消息（分段）无法送达，已报告督查局")
    for channel, error in (result.get("channel_errors") or {}).items():
        reasons.append(f"渠道 {channel} 不可用：{error}")
    if result.get("error"):
        reasons.append(f"发送中断：{result['error']}")
    return "；".join(reasons) or None


def _deliver(cfg, now_local, limiter, env, timeout, summary) -> None:
    limiter = limiter or RateLimiter(
        limit=cfg.wecom_per_minute, state_file=cfg.home / "wecom-rate.json"
    )
    with connect(cfg) as con:
        summary["held"] = con.execute(q("count_held"), {"now": now_local}).fetchone()[0]
        if in_quiet_hours(now_local, cfg.tz, cfg.quiet_from, cfg.quiet_until):
            summary["held"] += con.execute(q("count_due"), {"now": now_local}).fetchone()[0]
            return
        messages = fetch_dicts(con, "due_messages", {"now": now_local})
        if not messages and not fetch_dicts(con, "unreported_failures"):
            return
        try:
            router = load_router(cfg.apprise_config, cfg.sinks, env)
        except ConfigError as exc:
            summary["error"] = MASKER.mask(str(exc))
            log.error("alert delivery skipped: %s", summary["error"])
            return
        for channel in router.broken:
            summary["channel_errors"][channel.id] = channel.error
            log.error("channel %s cannot be used: %s", channel.id, channel.error)
        run = _Run(con, cfg, router, now_local, limiter, timeout, summary)
        for message in messages:
            run.message(message)
        for notice in run.report_failures():
            run.message(notice)


class _Run:
    """One deliver run: its connection, router, the channels down in it, and the summary."""

    def __init__(self, con, cfg, router: Router, now, limiter, timeout, summary):
        self.con: duckdb.DuckDBPyConnection = con
        self.cfg, self.router, self.now = cfg, router, now
        self.limiter, self.timeout, self.summary = limiter, timeout, summary
        self.known = {r["delivery_key"]: r for r in fetch_dicts(con, "open_deliveries")}
        self.health = {r["channel"]: r for r in fetch_dicts(con, "channel_health")}
        self.down: set[str] = set()  # failed once in this run: not tried again until the next

    # --- which channels --------------------------------------------------------------------

    def dead(self, channel: Channel) -> bool:
        """A channel dead from permanent errors whose recheck is not yet due."""
        h = self.health.get(channel.id)
        if not h or h["state"] != "dead" or h["dead_since"] is None:
            return False
        recheck = h["dead_since"] + timedelta(hours=self.cfg.delivery_dead_recheck_hours)
        return self.now < recheck

    def fallback_channels(self) -> list[Channel]:
        """Where a failure report goes: dcj's live channels, else leadership's, else sinks."""
        for tags in ([DCJ], [LEADERS]):
            live = [
                c
                for c in self.router.channels(tags)
                if not c.error and not self.dead(c) and c.id not in self.down
            ]
            if live:
                return live
        return self.router.sinks(DCJ)

    # --- one message -------------------------------------------------------------------------

    def message(self, message: dict) -> None:
        """Deliver one message to every channel of its routes; mark it done when nothing is left."""
        if message["kind"] == "delivery_failure":
            channels = self.fallback_channels()
        else:
            channels = self.router.channels(message.get("routes") or [message["route"]])
        finished = True
        for channel in channels:
            finished = self.channel(message, channel) and finished
        if finished:
            self.con.execute(q("mark_done"), {"now": self.now, "message_id": message["message_id"]})
            self.summary["messages_done"] += 1

    def channel(self, message: dict, channel: Channel) -> bool:
        """A message's parts to one channel, in order; True when each is delivered or given up."""
        for unit in _units(message, channel):
            key = f"{message['message_id']}|{channel.id}|{unit['part']}"
            row = self.known.get(key)
            if row is not None and row["state"] in ("delivered", "failed"):
                continue
            if channel.id in self.down:
                return False  # parts go out in order: a later part waits for an earlier one
            if self.dead(channel):
                self.give_up_dead(key, row, message, channel, unit)
                continue
            if row is not None and row["state"] == "sending":
                row = self.interrupted(key, row)
                if row["state"] == "failed":
                    self.gave_up(message, channel, unit, row["last_error"])
                    continue
            elif row is not None and row["next_attempt_at"] and row["next_attempt_at"] > self.now:
                self.summary["deferred"] += 1
                return False
            unit = self.with_link(key, row, message, channel, unit)
            if channel.error:
                # A missing secret: this channel fails (retried once it is set), the others send.
                self.attempt(key, row, message, channel, unit, {"outcome": "config"}, send=False)
                return False
            state = self.attempt(key, row, message, channel, unit)
            if state == "pending":
                return False
        return True

    # --- the department's link ------------------------------------------------------------------

    def with_link(self, key, row, message, channel, unit) -> dict:
        """The unit ending a department's message, with the department's link appended.

        The link is decided at a part's first attempt and kept: a new token is minted then and
        only its id and times are stored (`unit["link"]`, written by `begin`); every later
        attempt signs the same id and times again, so a retry or a （重发） has the same text.
        A part first tried without a link (no desk, or before links existed) stays without.
        Local sinks show where the link goes but no token (they are files on the server).
        """
        if not _carries_link(message, unit):
            return unit
        tz = self.cfg.tz
        if channel.scheme == "kpisink":
            base = desk_links.base_url(self.cfg)
            if base is None:
                return unit
            shown = f"{base}/?token=…{render.LINK_WITHHELD}"
            return dict(unit, body=render.with_link(unit["body"], unit["format"], "", shown=shown))
        plan, dept = message["plan_code"], message["department_code"]
        try:
            if row is None:
                issued = self.now.replace(microsecond=0)
                link = desk_links.mint_link(self.cfg, plan, dept, now=issued.replace(tzinfo=tz))
            elif row.get("link_token_id"):
                link = desk_links.same_link(
                    self.cfg,
                    plan,
                    dept,
                    row["link_token_id"],
                    row["link_issued_at"].replace(tzinfo=tz),
                    row["link_expires_at"].replace(tzinfo=tz),
                )
            else:
                return unit
        except Exception as exc:  # an unusable desk secret: the message goes, without its link
            log.error("no department link for %s: %s", key, type(exc).__name__)
            return unit
        if link is None:
            return unit
        body = render.with_link(unit["body"], unit["format"], link.url)
        if unit["format"] == "markdown":
            added = render.nbytes(body) - render.nbytes(unit["body"])
            if added > desk_links.LINK_LINE_BYTES:  # very long plan or department codes
                log.warning("department link of %s over %d bytes: left out", key, added)
                return unit
            if render.nbytes(body) > LIMITS[unit["msgtype"]] - render.RESEND_RESERVE:
                # Only parts packed before links were reserved for can be this full.
                log.warning("part %s too full for the department's link: left out", key)
                return unit
        out = dict(unit, body=body)
        if row is None:
            naive = link.issued.replace(tzinfo=None)
            out["link"] = {
                "link_token_id": link.token_id,
                "link_issued_at": naive,
                "link_expires_at": naive + (link.expires - link.issued),
            }
        return out

    # --- one attempt ---------------------------------------------------------------------------

    def attempt(self, key, row, message, channel, unit, outcome=None, *, send=True) -> str:
        """Mark the part `sending`, make the call, record the outcome; return the new state."""
        marked = bool(row and row.get("uncertain"))
        if marked and send:
            unit = _marked(unit)
            marked = unit["marked"]
        self.begin(key, row, message, channel, unit)
        if send:
            outcome = _send(channel, message, unit, self.cfg, self.limiter, self.timeout)
        else:
            outcome = dict(outcome or {}, detail=MASKER.mask(channel.error), elapsed_ms=0)
        state = self.finish(key, row, channel, outcome, marked)
        self.known[key] = {**(row or {}), **(unit.get("link") or {}), "state": state}
        kind = outcome["outcome"]
        self.summary["attempts"] += 1
        self.summary["by_outcome"][kind] = self.summary["by_outcome"].get(kind, 0) + 1
        if marked:
            self.summary["resent"] += 1
        if state == "delivered":
            self.summary["sent"] += 1
            return state
        self.summary["failed"] += 1
        self.down.add(channel.id)
        if outcome.get("uncertain"):
            self.summary["uncertain"] += 1
        where = (
            f"message {message['message_id']} part {unit['part']}/{unit['parts']} to {channel.id}"
        )
        if state == "failed":
            self.gave_up(message, channel, unit, outcome.get("detail"))
            log.error("%s cannot be delivered: %s", where, outcome.get("detail"))
        else:
            log.warning("%s failed (%s: %s); retry later", where, kind, outcome.get("detail"))
        return state

    def begin(self, key, row, message, channel, unit) -> None:
        """Record that an attempt starts (committed before the call is made)."""
        if row is None:
            self.con.execute(
                q("insert_delivery"),
                {
                    **self._identity(key, message, channel, unit),
                    **(unit.get("link") or _NO_LINK),
                    "state": "sending",
                    "now": self.now,
                    "last_outcome": None,
                    "last_error": None,
                },
            )
        else:
            self.con.execute(q("mark_sending"), {"now": self.now, "delivery_key": key})

    def finish(self, key, row, channel: Channel, outcome: dict, marked: bool) -> str:
        """Record an attempt's outcome and the channel's health; return the delivery's state."""
        before = row or {}
        attempt_no = (before.get("attempts") or 0) + 1
        uncertain = (before.get("uncertain") or 0) + bool(outcome.get("uncertain"))
        permanent = (before.get("permanent_errors") or 0) + bool(outcome.get("permanent"))
        ok = outcome["outcome"] == "sent"
        if ok:
            state = "delivered"
        elif outcome.get("uncertain"):
            state = "failed" if uncertain >= UNCERTAIN_SENDS else "pending"
        elif outcome.get("permanent"):
            state = "failed" if permanent >= self.cfg.delivery_permanent_tries else "pending"
        else:
            state = "pending"
        detail = outcome.get("detail")
        if state == "failed" and outcome.get("uncertain"):
            detail = f"{detail}；已补发一次仍未确认，不再重发（可能已送达）"
        with transaction(self.con):
            self.con.execute(
                q("insert_attempt"),
                {
                    "delivery_key": key,
                    "attempt_no": attempt_no,
                    "attempted_at": self.now,
                    "outcome": outcome["outcome"],
                    "http_status": outcome.get("http_status"),
                    "errcode": outcome.get("errcode"),
                    "smtp_code": outcome.get("smtp_code"),
                    "uncertain": bool(outcome.get("uncertain")),
                    "marked": marked,
                    "detail": detail,
                    "elapsed_ms": outcome.get("elapsed_ms"),
                },
            )
            self.con.execute(
                q("record_outcome"),
                {
                    "state": state,
                    "attempts": attempt_no,
                    "uncertain": uncertain,
                    "permanent_errors": permanent,
                    "next_attempt_at": self.now + backoff(attempt_no)
                    if state == "pending"
                    else None,
                    "delivered_at": self.now if ok else None,
                    "last_outcome": outcome["outcome"],
                    "last_error": None if ok else detail,
                    "delivery_key": key,
                },
            )
            self.channel_health(channel, outcome)
        return state

    def channel_health(self, channel: Channel, outcome: dict) -> None:
        """A sent message revives a channel; its own permanent errors (key, password) kill it."""
        h = dict(self.health.get(channel.id) or {})
        errors = h.get("permanent_errors") or 0
        if outcome["outcome"] == "sent":
            h.update(state="ok", permanent_errors=0, dead_since=None, last_ok_at=self.now)
        elif outcome["outcome"] == "config":
            return  # no call was made: nothing learnt about the channel
        else:
            if outcome.get("permanent") == "channel":
                errors += 1
                h["permanent_errors"] = errors
                if errors >= self.cfg.delivery_permanent_tries:
                    h.update(state="dead", dead_since=self.now)
            h["last_error"] = outcome.get("detail")
        row = {
            "channel": channel.id,
            "kind": channel.kind,
            "state": h.get("state") or "ok",
            "permanent_errors": h.get("permanent_errors") or 0,
            "dead_since": h.get("dead_since"),
            "now": self.now,
            "last_ok_at": h.get("last_ok_at"),
            "last_error": h.get("last_error"),
        }
        self.con.execute(q("upsert_channel"), row)
        self.health[channel.id] = {**row, "last_attempt_at": self.now}

    def interrupted(self, key: str, row: dict) -> dict:
        """A part left `sending` by a killed run: an uncertain send, to repeat (marked) now."""
        log.warning("delivery %s was interrupted last time: it may have arrived", key)
        outcome = {
            "outcome": "interrupted",
            "uncertain": True,
            "detail": "上次发送中途中断（进程退出），结果不明（可能已送达）",
            "elapsed_ms": None,
        }
        uncertain = (row.get("uncertain") or 0) + 1
        state = "failed" if uncertain >= UNCERTAIN_SENDS else "pending"
        detail = outcome["detail"] + ("；已补发一次仍未确认，不再重发" if state == "failed" else "")
        attempts = (row.get("attempts") or 0) + 1
        with transaction(self.con):
            self.con.execute(
                q("insert_attempt"),
                {
                    "delivery_key": key,
                    "attempt_no": attempts,
                    "attempted_at": row.get("last_attempt_at") or self.now,
                    "outcome": "interrupted",
                    "http_status": None,
                    "errcode": None,
                    "smtp_code": None,
                    "uncertain": True,
                    "marked": False,
                    "detail": detail,
                    "elapsed_ms": None,
                },
            )
            self.con.execute(
                q("record_outcome"),
                {
                    "state": state,
                    "attempts": attempts,
                    "uncertain": uncertain,
                    "permanent_errors": row.get("permanent_errors") or 0,
                    "next_attempt_at": None,  # repeat at once: the rerun should end complete
                    "delivered_at": None,
                    "last_outcome": "interrupted",
                    "last_error": detail,
                    "delivery_key": key,
                },
            )
        new = {**row, "state": state, "attempts": attempts, "uncertain": uncertain}
        new.update(next_attempt_at=None, last_error=detail)
        self.known[key] = new
        return new

    def give_up_dead(self, key, row, message, channel, unit) -> None:
        """A part for a dead channel ends as 无法送达 without a call."""
        h = self.health.get(channel.id) or {}
        reason = f"渠道已失效（{h.get('last_error') or '永久性错误'}），未再尝试"
        with transaction(self.con):
            if row is None:
                self.con.execute(
                    q("insert_delivery"),
                    {
                        **self._identity(key, message, channel, unit),
                        **_NO_LINK,
                        "state": "failed",
                        "now": self.now,
                        "last_outcome": "dead_channel",
                        "last_error": reason,
                    },
                )
            else:
                self.con.execute(
                    q("record_outcome"),
                    {
                        "state": "failed",
                        "attempts": row.get("attempts") or 0,
                        "uncertain": row.get("uncertain") or 0,
                        "permanent_errors": row.get("permanent_errors") or 0,
                        "next_attempt_at": None,
                        "delivered_at": None,
                        "last_outcome": "dead_channel",
                        "last_error": reason,
                        "delivery_key": key,
                    },
                )
        self.known[key] = {**(row or {}), "state": "failed"}
        self.gave_up(message, channel, unit, reason)

    def gave_up(self, message, channel, unit, reason) -> None:
        self.summary["given_up"] += 1
        self.summary["undeliverable"].append(
            {
                "message_id": message["message_id"],
                "title": message["title"],
                "channel": channel.id,
                "part": unit["part"],
                "reason": reason,
            }
        )

    def _identity(self, key, message, channel, unit) -> dict:
        return {
            "delivery_key": key,
            "message_id": message["message_id"],
            "channel": channel.id,
            "tag": channel.tag,
            "scheme": channel.scheme,
            "host": channel.host,
            "part": unit["part"],
            "parts": unit["parts"],
        }

    # --- telling 督查局 ---------------------------------------------------------------------------

    def report_failures(self) -> list[dict]:
        """Queue one report of every delivery given up and not yet reported, per plan."""
        rows = fetch_dicts(self.con, "unreported_failures")
        if not rows:
            return []
        # A failed report is logged, not reported again: that could go on for ever.
        own = [r["delivery_key"] for r in rows if r["kind"] == "delivery_failure"]
        rows = [r for r in rows if r["kind"] != "delivery_failure"]
        notices = []
        with transaction(self.con):
            if own:
                log.error("failure report(s) could not be delivered: %s", ", ".join(own))
                self.con.execute(q("mark_reported"), {"now": self.now, "keys": own})
            by_plan: dict[str, list[dict]] = {}
            for r in rows:
                by_plan.setdefault(r["plan_code"], []).append(r)
            for plan_code, failures in sorted(by_plan.items()):
                doc = render.failure_doc(
                    [
                        {
                            "message_id": r["message_id"],
                            "kind": r["kind"],
                            "title": r["title"],
                            "channel": r["channel"],
                            "reason": r["last_error"] or r["last_outcome"],
                            "attempts": r["attempts"],
                        }
                        for r in failures
                    ]
                )
                keys = sorted(r["delivery_key"] for r in failures)
                digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
                key = f"delivery_failure:{plan_code}:{digest}"
                m = _message("delivery_failure", [DCJ], None, key, doc)
                notices.append(_enqueue(self.con, plan_code, m, None, self.now, self.now))
                self.con.execute(q("mark_reported"), {"now": self.now, "keys": keys})
                self.summary["reported"] += len(failures)
                log.error("%d undeliverable part(s) reported to %s", len(failures), DCJ)
        return [{**n, "done_at": None, "not_before": self.now} for n in notices]
