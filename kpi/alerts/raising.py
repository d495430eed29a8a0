"""raise_alerts: read progress and receipts, update episodes, write the outbox in one transaction."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from pathlib import Path

import duckdb

from kpi.alerts import render
from kpi.alerts.render import STATUS_RANK, Doc
from kpi.alerts.rules import plan_episodes, workflow_steps, worst_first_key
from kpi.alerts.timing import (
    REMIND_BEFORE_DUE_DAYS,
    days_between,
    held_until,
    local_date,
    overdue_period,
    to_stored,
    upcoming_period,
)
from kpi.catalogue import Catalogue
from kpi.config import Settings
from kpi.desk.links import LINK_LINE_BYTES
from kpi.warehouse import connect, sql_file, transaction
from transforms.units import canonical


def _report_link(cfg: Settings, ctx, as_of: date) -> str:
    """Where the night's report for this plan will be: a URL under report_base_url, else a path."""
    from kpi.reports import report_link  # the report is written later in the same run

    return report_link(cfg, ctx.catalogue.plan.code, as_of)


log = logging.getLogger("kpi.alerts")

SQL = Path(__file__).resolve().parent / "sql"
LEADERS, DCJ = "leaders", "dcj"


def q(name: str) -> str:
    """The text of one of this package's .sql files."""
    return sql_file(name, SQL)


def fetch_dicts(
    con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None
) -> list[dict]:
    """Rows of one of this package's .sql files, as dicts."""
    cur = con.execute(q(name), params or {})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return con.execute(q("table_exists"), {"schema": schema, "table": table}).fetchone()[0]


def _progress(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, as_of: date) -> list[dict]:
    """Today's mart.progress rows, each told the unit the report writes its target in."""
    if not _table_exists(con, "mart", "progress"):
        return []
    rows = fetch_dicts(con, "progress", {"plan_code": catalogue.plan.code, "as_of": as_of})
    targets = {t.code: t for t in catalogue.targets}
    out = []
    for row in rows:
        snap = _jsonable(row)
        t = targets.get(snap["target_code"])
        if t is not None and t.unit and t.canonical_unit == snap.get("unit"):
            snap["display_unit"] = t.unit
            snap["display_factor"] = canonical(t.unit)[1]
        out.append(snap)
    return out


def _jsonable(row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in row.items()}


def _episodes(con: duckdb.DuckDBPyConnection, plan: str) -> list[dict]:
    rows = fetch_dicts(con, "episodes", {"plan_code": plan})
    for r in rows:
        r["snapshot"] = json.loads(r["snapshot"])
    return rows


class _Context:
    """Lookups the messages need: department names and routes."""

    def __init__(self, cfg: Settings, catalogue: Catalogue):
        self.cfg = cfg
        self.catalogue = catalogue
        self.depts = {d.code: d for d in catalogue.departments}

    def short(self, dept: str | None) -> str:
        d = self.depts.get(dept or "")
        return d.short_zh if d else (dept or "未知单位")

    def route(self, dept: str | None) -> str:
        d = self.depts.get(dept or "")
        if d:
            return d.route
        return f"dept-{dept}" if dept else DCJ


def raise_alerts(cfg: Settings, catalogue: Catalogue, as_of: date, now: datetime) -> dict:
    """Update alert episodes from mart.progress and receipts; queue messages in the outbox."""
    tz = cfg.tz
    now_local = to_stored(now, tz)
    not_before = held_until(now_local, tz, cfg.quiet_from, cfg.quiet_until)
    plan_code = catalogue.plan.code
    ctx = _Context(cfg, catalogue)
    with connect(cfg) as con:
        progress = _progress(con, catalogue, as_of)
        episodes = _episodes(con, plan_code)
        latest: dict[str, dict] = {}
        for ep in episodes:
            latest[ep["target_code"]] = ep  # ordered by id: the last one wins
        planned = plan_episodes(
            progress,
            latest,
            as_of=as_of,
            now=now_local,
            tz=tz,
            repeat_days=cfg.alert_repeat_days,
            day0=local_date(not_before, tz),
        )
        submissions = fetch_dicts(con, "receipt_submissions", {"plan_code": plan_code})
        known = {r["dedupe_key"] for r in fetch_dicts(con, "outbox_keys", {"plan_code": plan_code})}
        with transaction(con):
            for ep in planned.new:
                ep["episode_id"] = con.execute(q("next_episode_id")).fetchone()[0]
                _insert_episode(con, plan_code, ep)
            for episode_id, changes in planned.updates.items():
                _update_episode(con, episode_id, changes)
            for ev in planned.events:
                _event(con, ev["episode"]["episode_id"], now_local, ev["kind"], ev["status"])

            open_eps = [e for e in episodes if e["state"] == "open"] + planned.new
            steps = workflow_steps(
                [e for e in open_eps if e["state"] == "open"], now=now_local, tz=tz
            )
            step_counts = _apply_steps(con, steps, now_local)

            messages = _messages(ctx, planned, steps, progress, open_eps, as_of, now_local)
            queued = []
            for m in messages:
                # Keys written before a message went to all its tags at once count as well.
                if m["dedupe_key"] in known or known & set(m.get("legacy_keys", ())):
                    continue
                known.add(m["dedupe_key"])
                queued.append(_enqueue(con, plan_code, m, as_of, now_local, not_before))
            for sub in submissions:
                key = f"receipt:{sub['submission_id']}"
                if key in known:
                    continue
                sub["receipt"] = json.loads(sub["receipt"]) if sub["receipt"] else {}
                doc = render.receipt_doc(ctx.short(sub["department_code"]), sub)
                m = _message(
                    "receipt", ctx.route(sub["department_code"]), sub["department_code"], key, doc
                )
                known.add(key)
                queued.append(_enqueue(con, plan_code, m, as_of, now_local, not_before))
    by_kind: dict[str, int] = {}
    for m in queued:
        by_kind[m["kind"]] = by_kind.get(m["kind"], 0) + 1
    result = {
        "plan": plan_code,
        "as_of": as_of.isoformat(),
        "progress_rows": len(progress),
        **{k: planned.counts.get(k, 0) for k in ("opened", "worsened", "repeated", "recovered")},
        **step_counts,
        "open": sum(1 for e in open_eps if e["state"] == "open"),
        "messages": len(queued),
        "by_kind": by_kind,
        "held_until": not_before.isoformat() if not_before > now_local else None,
    }
    log.info("alerts raised: %s", json.dumps(result, ensure_ascii=False))
    return result


_INSERTED = (
    "episode_id",
    "target_code",
    "department_code",
    "name_zh",
    "major",
    "status",
    "status_rank",
    "notified_rank",
    "worst_status",
    "state",
    "opened_at",
    "opened_on",
    "opened_as_of",
    "last_as_of",
    "last_sent_at",
)


def _insert_episode(con: duckdb.DuckDBPyConnection, plan_code: str, ep: dict) -> None:
    params = {c: ep[c] for c in _INSERTED}
    params["plan_code"] = plan_code
    params["snapshot"] = json.dumps(ep["snapshot"], ensure_ascii=False)
    con.execute(q("insert_episode"), params)


# The columns update_episode.sql writes: everything but identity and opening facts.
_UPDATABLE = {
    "snapshot",
    "last_as_of",
    "major",
    "status",
    "status_rank",
    "worst_status",
    "notified_rank",
    "last_sent_at",
    "state",
    "closed_at",
    "close_reason",
    "close_note",
    "cleared_at",
    "reminded_at",
    "escalated_at",
    "escalated_again_at",
    "acked_at",
    "ack_note",
    "feedback_at",
    "feedback_text",
}


def _update_episode(con: duckdb.DuckDBPyConnection, episode_id: int, changes: dict) -> None:
    """Set some columns of one episode: read the row, apply `changes`, write every mutable column."""
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    rows = fetch_dicts(con, "episode", {"episode_id": episode_id})
    if not rows:  # nothing to update, as an update matching no row
        return
    params = {c: rows[0][c] for c in _UPDATABLE}  # snapshot as stored: JSON text
    params.update(changes)
    if "snapshot" in changes:
        params["snapshot"] = json.dumps(changes["snapshot"], ensure_ascii=False)
    params["episode_id"] = episode_id
    con.execute(q("update_episode"), params)


def _event(
    con: duckdb.DuckDBPyConnection,
    episode_id: int,
    at: datetime,
    kind: str,
    status: str | None,
    actor: str = "system",
    note: str | None = None,
) -> None:
    con.execute(
        q("insert_event"),
        {
            "episode_id": episode_id,
            "event_at": at,
            "kind": kind,
            "status": status,
            "actor": actor,
            "note": note,
        },
    )


_STEP_COLUMN = {
    "remind": "reminded_at",
    "escalate": "escalated_at",
    "escalate_again": "escalated_again_at",
}
_STEP_EVENT = {"remind": "reminded", "escalate": "escalated", "escalate_again": "escalated_again"}


def _apply_steps(con: duckdb.DuckDBPyConnection, steps: list[tuple], now: datetime) -> dict:
    counts = {"reminded": 0, "escalated": 0, "escalated_again": 0}
    for ep, step in steps:
        changes = {_STEP_COLUMN[step]: now}
        if step == "remind":
            changes["last_sent_at"] = now
        ep.update(changes)
        _update_episode(con, ep["episode_id"], changes)
        _event(con, ep["episode_id"], now, _STEP_EVENT[step], ep["status"])
        counts[_STEP_EVENT[step]] += 1
    return counts


def for_department(department_code: str | None, routes: list[str]) -> bool:
    """Whether a message goes to a department's own route (it then ends with its link)."""
    return bool(department_code) and not set(routes) & {DCJ, LEADERS}


# A department's message ends with its personal link, appended at send time (kpi/desk/links.py):
# its last markdown part keeps that much room, besides the room for the （重发） line.
DEPARTMENT_MARKDOWN_BUDGET = render.MARKDOWN_MAX_BYTES - render.RESEND_RESERVE - LINK_LINE_BYTES


def markdown_parts(doc: Doc, department_code: str | None, routes: list[str]) -> list[str]:
    """A message's WeCom markdown parts, with room for the link where one will be added."""
    if for_department(department_code, routes):
        return render.to_markdown_parts(doc, DEPARTMENT_MARKDOWN_BUDGET)
    return render.to_markdown_parts(doc)


def _message(
    kind: str,
    route: str | list[str],
    dept: str | None,
    dedupe_key: str,
    doc: Doc,
    episode_ids: list[int] | None = None,
) -> dict:
    """An outbox row; `route` is one tag or every tag (a channel serving several gets one copy)."""
    routes = [route] if isinstance(route, str) else list(route)
    text_parts = render.to_text_parts(doc)
    return {
        "kind": kind,
        "route": routes[0],
        "routes": routes,
        "department_code": dept,
        "dedupe_key": dedupe_key,
        "title": doc.title,
        "md_parts": markdown_parts(doc, dept, routes),
        "text_parts": text_parts,
        "html": render.to_html(doc),
        "mention": bool(text_parts),
        "episode_ids": episode_ids or [],
    }


def _ids_key(episode_ids: list[int]) -> str:
    return ",".join(str(i) for i in sorted(episode_ids))


def _messages(
    ctx: _Context,
    planned,
    steps: list[tuple],
    progress: list[dict],
    open_eps: list[dict],
    as_of: date,
    now: datetime,
) -> list[dict]:
    """Every message this run produces, each with a dedupe key (same fact -> same key)."""
    cfg, plan_code, tz = ctx.cfg, ctx.catalogue.plan.code, ctx.cfg.tz
    out: list[dict] = []
    today = local_date(now, tz)

    # To each department: its new / worse / repeated alerts and its recoveries, in one message.
    by_dept: dict[str, list[dict]] = {}
    for it in planned.items:
        by_dept.setdefault(it["episode"]["department_code"], []).append(it)
    for dept, items in sorted(by_dept.items()):
        items.sort(key=lambda it: worst_first_key(it["snap"], bool(it["episode"]["major"])))
        rendered = [
            {"reason": it["reason"], "episode_id": it["episode"]["episode_id"], "snap": it["snap"]}
            for it in items
        ]
        doc = render.dept_alert_doc(ctx.short(dept), as_of, rendered)
        ids = [it["episode_id"] for it in rendered]
        facts = ";".join(
            f"{it['episode_id']}:{it['reason']}:{it['snap']['status']}" for it in rendered
        )
        key = f"dept_alert:{plan_code}:{dept}:{as_of}:{facts}"
        out.append(_message("dept_alert", ctx.route(dept), dept, key, doc, ids))

    # 13710: reminders to departments, escalations to 督查局 (and leadership the second time).
    def entry(ep: dict) -> dict:
        return {
            "episode_id": ep["episode_id"],
            "dept_short": ctx.short(ep["department_code"]),
            "snap": ep["snapshot"],
            "days_open": days_between(ep["opened_on"], today),
            "acked": ep.get("acked_at") is not None,
            "feedback": ep.get("feedback_at") is not None,
        }

    reminders: dict[str, list[dict]] = {}
    level1, level2 = [], []
    for ep, step in steps:
        if step == "remind":
            reminders.setdefault(ep["department_code"], []).append(ep)
        elif step == "escalate":
            level1.append(ep)
        else:
            level2.append(ep)
    for dept, eps in sorted(reminders.items()):
        ids = [e["episode_id"] for e in eps]
        doc = render.ack_reminder_doc(ctx.short(dept), [entry(e) for e in eps])
        key = f"ack_reminder:{plan_code}:{_ids_key(ids)}"
        out.append(_message("ack_reminder", ctx.route(dept), dept, key, doc, ids))
    for level, eps, routes in ((1, level1, [DCJ]), (2, level2, [DCJ, LEADERS])):
        if not eps:
            continue
        eps.sort(key=lambda e: worst_first_key(e["snapshot"], bool(e["major"])))
        ids = [e["episode_id"] for e in eps]
        doc = render.escalation_doc(level, [entry(e) for e in eps])
        # One message to all its tags: a robot that serves both dcj and leaders gets it once.
        key = f"escalation:{level}:{plan_code}:{_ids_key(ids)}"
        m = _message("escalation", routes, None, key, doc, ids)
        m["legacy_keys"] = [f"escalation:{level}:{plan_code}:{r}:{_ids_key(ids)}" for r in routes]
        out.append(m)

    if not progress:
        return out

    # Submissions: a reminder before the due day, a notice once overdue (per department, period).
    latest_period = {r["target_code"]: r.get("latest_period") for r in progress}
    missing_codes = {r["target_code"] for r in progress if r.get("data_status") == "缺报"}
    year = ctx.catalogue.plan.year
    # (department, period) -> (earliest due date, target names)
    upcoming: dict[tuple[str, str], tuple[date, list[str]]] = {}
    overdue: dict[tuple[str, str], tuple[date, list[str]]] = {}

    def add(groups: dict, dept: str, period: str, due: date, name: str) -> None:
        first, names = groups.get((dept, period), (due, []))
        groups[(dept, period)] = (min(first, due), [*names, name])

    for t in ctx.catalogue.targets:
        nxt = upcoming_period(t.kind, t.cadence, t.due_day, year, as_of, REMIND_BEFORE_DUE_DAYS)
        if nxt and (latest_period.get(t.code) or "") < nxt[0]:
            add(upcoming, t.department, nxt[0], nxt[1], t.name_zh)
        if t.code in missing_codes:
            late = overdue_period(t.kind, t.cadence, t.due_day, year, as_of)
            if late:
                add(overdue, t.department, late[0], late[1], t.name_zh)
    for (dept, period), (due, names) in sorted(upcoming.items()):
        doc = render.submission_doc(ctx.short(dept), period, due, names, None)
        key = f"due_reminder:{plan_code}:{dept}:{period}"
        out.append(_message("due_reminder", ctx.route(dept), dept, key, doc))
    for (dept, period), (due, names) in sorted(overdue.items()):
        doc = render.submission_doc(ctx.short(dept), period, due, names, (as_of - due).days)
        key = f"overdue_notice:{plan_code}:{dept}:{period}"
        out.append(_message("overdue_notice", ctx.route(dept), dept, key, doc))

    # The daily digest to leadership and 督查局: every open alert, worst first, and 缺报.
    snaps = {r["target_code"]: r for r in progress}
    entries = []
    for ep in open_eps:
        if ep["state"] != "open":
            continue
        snap = snaps.get(ep["target_code"], ep["snapshot"])
        if snap.get("status") not in STATUS_RANK:
            snap = ep["snapshot"]
        entries.append((worst_first_key(snap, bool(ep["major"])), ep, snap))
    entries.sort(key=lambda x: x[0])
    digest_entries = [
        {
            "episode_id": ep["episode_id"],
            "dept_short": ctx.short(ep["department_code"]),
            "snap": snap,
            "days_open": days_between(ep["opened_on"], today),
        }
        for _, ep, snap in entries
    ]
    missing = [
        {"dept_short": ctx.short(dept), "period": period, "count": len(names)}
        for (dept, period), (_due, names) in sorted(overdue.items())
    ]
    if digest_entries or missing:
        doc = render.digest_doc(
            ctx.catalogue.plan.name_zh,
            as_of,
            digest_entries,
            missing,
            _report_link(cfg, ctx, as_of),
        )
        ids = [e["episode_id"] for e in digest_entries]
        m = _message("digest", [LEADERS, DCJ], None, f"digest:{plan_code}:{as_of}", doc, ids)
        m["legacy_keys"] = [f"digest:{plan_code}:{as_of}:{r}" for r in (LEADERS, DCJ)]
        out.append(m)
    return out


def _enqueue(
    con: duckdb.DuckDBPyConnection,
    plan_code: str,
    m: dict,
    as_of: date,
    now: datetime,
    not_before: datetime,
) -> dict:
    m["message_id"] = con.execute(q("next_message_id")).fetchone()[0]
    con.execute(
        q("insert_message"),
        {
            "message_id": m["message_id"],
            "plan_code": plan_code,
            "dedupe_key": m["dedupe_key"],
            "kind": m["kind"],
            "route": m["route"],
            "routes": m["routes"],
            "department_code": m["department_code"],
            "as_of": as_of,
            "title": m["title"],
            "md_parts": m["md_parts"],
            "text_parts": m["text_parts"],
            "html": m["html"],
            "mention": m["mention"],
            "episode_ids": m["episode_ids"],
            "created_at": now,
            "not_before": not_before,
        },
    )
    return m
