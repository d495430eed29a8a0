"""催报: a reminder to submit, queued by hand (the web desk's button) through the outbox.

The supervision office presses 催报 for a department that has not yet submitted a period. The
message is the nightly `due_reminder`/`overdue_notice` (render.submission_doc) titled 【催报】,
with an @ text, queued in alerts.outbox like every other message (kind `desk_reminder`) and
delivered by `deliver`. Its dedupe key is `desk_reminder:<plan>:<department>:<period>:<day>`:
pressing it twice in a day queues one message. Quiet hours hold it like any other message.
SQL: sql/desk_*.sql. The stored message carries no link with a token (a token must not be
stored in the warehouse): `deliver` appends the department's link as it sends it
(kpi.desk.links), and the parts are packed with room for it.
"""

from __future__ import annotations

from datetime import date, datetime

from kpi.alerts import render
from kpi.alerts.raising import fetch_dicts, markdown_parts, q
from kpi.alerts.timing import due_date, held_until, local_date, to_stored
from kpi.catalogue import Catalogue, Target
from kpi.config import Settings
from kpi.contract import reporting_months
from kpi.warehouse import connect, transaction

KIND = "desk_reminder"


class NothingToRemind(ValueError):
    """Every target due for the period has been reported (Chinese text)."""


class AlreadyReminded(ValueError):
    """A 催报 for this department and period was queued today already (Chinese text)."""


def dedupe_key(plan_code: str, department: str, period: str, day: date) -> str:
    """The key that makes a 催报 unique per department, period and local day."""
    return f"{KIND}:{plan_code}:{department}:{period}:{day.isoformat()}"


def due_for_period(catalogue: Catalogue, department: str, period: str) -> list[Target]:
    """The department's targets that report for a period ('YYYY-MM'), in catalogue order."""
    year, month = int(period[:4]), int(period[5:7])
    if year != catalogue.plan.year:
        return []
    return [
        t for t in catalogue.targets_of(department) if month in reporting_months(t.kind, t.cadence)
    ]


def missing_targets(
    catalogue: Catalogue, department: str, period: str, latest: dict[str, str | None]
) -> list[Target]:
    """Targets due for `period` whose latest reported period is earlier (or none)."""
    return [
        t
        for t in due_for_period(catalogue, department, period)
        if (latest.get(t.code) or "") < period
    ]


def reminder_doc(
    dept_short: str, period: str, due: date, targets: list[str], today: date
) -> render.Doc:
    """The 催报 message: the submission notice, titled 【催报】, with an @ text."""
    overdue = (today - due).days if today > due else None
    doc = render.submission_doc(dept_short, period, due, targets, overdue)
    when = f"已逾期 {overdue} 天" if overdue else f"请于 {due:%m月%d日} 前报送"
    doc.title = f"【催报】{dept_short}：{period} 数据{when}"
    doc.intro = ["督查局催报：", *doc.intro]
    doc.ping = f"{doc.title}\n请尽快报送 {period} 数据（{len(targets)} 项指标）。"
    return doc


def queue_reminder(
    cfg: Settings,
    catalogue: Catalogue,
    department: str,
    period: str,
    now: datetime,
    *,
    actor: str,
) -> dict:
    """Queue a 催报 for a department and period; raises NothingToRemind or AlreadyReminded."""
    tz = cfg.tz
    plan = catalogue.plan.code
    dept = catalogue.department(department)
    now_local = to_stored(now, tz)
    today = local_date(now_local, tz)
    key = dedupe_key(plan, department, period, today)
    with connect(cfg) as con:
        rows = fetch_dicts(con, "desk_latest_periods", {"plan_code": plan})
        latest = {r["target_code"]: r["latest_period"] for r in rows}
        as_of = rows[0]["as_of"] if rows else None
        missing = missing_targets(catalogue, department, period, latest)
        if not missing:
            raise NothingToRemind(f"{dept.short_zh} {period} 的数据已全部报送，无需催报")
        if con.execute(q("desk_outbox_key"), {"dedupe_key": key}).fetchone()[0]:
            raise AlreadyReminded(f"今天已向{dept.short_zh}催报过 {period} 的数据")
        year, month = int(period[:4]), int(period[5:7])
        due = min(due_date(year, month, t.due_day) for t in missing)
        doc = reminder_doc(dept.short_zh, period, due, [t.name_zh for t in missing], today)
        text_parts = render.to_text_parts(doc)
        with transaction(con):
            message_id = con.execute(
                q("desk_insert_message"),
                {
                    "plan_code": plan,
                    "dedupe_key": key,
                    "kind": KIND,
                    "route": dept.route,
                    "department_code": department,
                    "as_of": as_of,
                    "title": doc.title,
                    "md_parts": markdown_parts(doc, department, [dept.route]),
                    "text_parts": text_parts,
                    "html": render.to_html(doc),
                    "mention": bool(text_parts),
                    "episode_ids": [],
                    "created_at": now_local,
                    "not_before": held_until(now_local, tz, cfg.quiet_from, cfg.quiet_until),
                },
            ).fetchone()[0]
    return {
        "message_id": message_id,
        "dedupe_key": key,
        "department": department,
        "period": period,
        "targets": [t.code for t in missing],
        "due": due.isoformat(),
        "title": doc.title,
        "actor": actor,
    }
