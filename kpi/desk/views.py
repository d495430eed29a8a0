"""What each page shows, assembled from the snapshot and the catalogue (no HTTP here)."""

from __future__ import annotations

import json
from datetime import date, datetime

import duckdb

from kpi.alerts.render import figure_lines, outlook_line
from kpi.alerts.rules import next_step
from kpi.alerts.timing import days_between, periods_due
from kpi.catalogue import Catalogue, Department, Target
from kpi.config import Settings
from kpi.desk import store, uploads
from kpi.progress import progress_from_snapshot, progress_records
from kpi.templates import Period, due_targets
from transforms.periods import month_end
from transforms.units import UnitError, canonical

STATUS_ORDER = {"严重滞后": 0, "滞后": 1, "预警": 2, "无数据": 3, "正常": 4, "已完成": 5}
STATUS_CLASS = {
    "严重滞后": "s-red",
    "滞后": "s-orange",
    "预警": "s-yellow",
    "无数据": "s-grey",
    "正常": "s-green",
    "已完成": "s-blue",
}
RECEIPT_ZH = {
    "accepted": "全部接收",
    "partial": "部分接收",
    "rejected": "退回",
    "duplicate": "重复",
}


def progress(con: duckdb.DuckDBPyConnection, cfg: Settings, catalogue: Catalogue):
    """(records as `kpi status --json` prints them, as-of date) of the latest stored progress."""
    if not store.has_table(con, "mart", "progress"):
        return [], None
    df, as_of, _stored = progress_from_snapshot(con, cfg, catalogue, None)
    return progress_records(df), as_of


def _snap(t: Target | None, rec: dict) -> dict:
    """A progress record shaped as the alert renderer's snapshot (figures in the report's unit)."""
    snap = dict(rec)
    if t is not None and t.unit:
        try:
            unit, factor = canonical(t.unit)
        except UnitError:
            unit, factor = None, 1.0
        if unit == rec.get("unit"):
            snap["display_unit"], snap["display_factor"] = t.unit, factor
    return snap


def next_due(t: Target, latest_period: str | None, year: int, today: date) -> dict | None:
    """The next period a target must report after its latest one, its due day and lateness."""
    for period, due in periods_due(t.kind, t.cadence, t.due_day, year):
        if period > (latest_period or ""):
            late = (today - due).days
            return {"period": period, "due": due, "overdue_days": late if late > 0 else 0}
    return None


def department_targets(
    catalogue: Catalogue, records: list[dict], department: str, today: date
) -> list[dict]:
    """A department's targets, worst first: status, figures, 序时进度, what is due next."""
    targets = {t.code: t for t in catalogue.targets}
    year = catalogue.plan.year
    held = {r["code"]: r for r in records if r.get("department_code") == department}
    out = []
    for position, t in enumerate(catalogue.targets_of(department)):
        rec = held.get(t.code)
        snap = _snap(targets.get(t.code), rec) if rec else None
        status = rec["status"] if rec else "无数据"
        lines = figure_lines(snap) if snap else []
        if snap and outlook_line(snap):
            lines.append(outlook_line(snap))
        out.append(
            {
                "code": t.code,
                "name": t.firmness_zh + t.name_zh,
                "headline": t.headline,
                "status": status,
                "status_class": STATUS_CLASS.get(status, "s-grey"),
                "data_status": rec["data_status"] if rec else "未到期",
                "time_progress": rec.get("time_progress") if rec else None,
                "completion_rate": rec.get("completion_rate") if rec else None,
                "latest_period": rec.get("latest_period") if rec else None,
                "lines": lines,
                "next": next_due(t, rec.get("latest_period") if rec else None, year, today),
                "order": (STATUS_ORDER.get(status, 9), position),
            }
        )
    out.sort(key=lambda x: x["order"])
    return out


def template_periods(catalogue: Catalogue, dept: Department, today: date) -> list[Period]:
    """Months of the plan year, ended by today, for which the department reports (newest first)."""
    year = catalogue.plan.year
    periods = [Period(year, m) for m in range(1, 13)]
    ended = [p for p in periods if month_end(p.year, p.month) < today]
    due = [p for p in ended if due_targets(catalogue, dept.code, p)]
    if not due:  # early in the year: the first month the department reports
        first = [p for p in periods if due_targets(catalogue, dept.code, p)]
        return first[:1]
    return list(reversed(due))


def submissions(
    con: duckdb.DuckDBPyConnection, cfg: Settings, catalogue: Catalogue, department: str
) -> list[dict]:
    """The department's files: desk uploads still waiting or not queued, and stored ones."""
    plan = catalogue.plan.code
    stored = []
    if store.has_table(con, "raw", "submissions"):
        stored = store.rows(
            con,
            "department_submissions",
            {"plan_code": plan, "department_code": department, "limit": 100},
        )
    stored_ids = {r["submission_id"] for r in stored}
    out = []
    for rec in uploads.department_records(cfg, plan, department):
        if rec.get("queued") and rec.get("sha256") in stored_ids:
            continue  # loaded: listed below with the nightly run's receipt
        receipt = rec.get("receipt") or {}
        if uploads.pending(cfg, rec):
            state = "待入库"
        elif rec.get("queued"):
            state = "已处理"
        else:
            state = "未入库"
        out.append(
            {
                "href": f"/uploads/{rec['id']}",
                "file": rec.get("inbox_name") or receipt.get("file") or rec.get("name"),
                "at": rec.get("uploaded_at"),
                "status": receipt.get("status"),
                "status_zh": RECEIPT_ZH.get(receipt.get("status"), receipt.get("status")),
                "state": state,
                "accepted": receipt.get("accepted", 0),
                "rejected": receipt.get(
                    "rejected_rows",
                    len({(e["sheet"], e["row"]) for e in receipt.get("rejected") or []}),
                ),
            }
        )
    for r in stored:
        out.append(
            {
                "href": f"/submissions/{r['submission_id']}",
                "file": r["file_name"],
                "at": r["received_at"].isoformat(sep=" ", timespec="minutes")
                if isinstance(r["received_at"], datetime)
                else r["received_at"],
                "status": r["status"],
                "status_zh": RECEIPT_ZH.get(r["status"], r["status"]),
                "state": "已入库" if r["status"] != "rejected" else "未入库",
                "accepted": r["n_accepted"],
                "rejected": r["n_rejected"],
            }
        )
    out.sort(key=lambda x: str(x["at"] or ""), reverse=True)
    return out


def receipt_rows(receipt: dict) -> dict:
    """A receipt as the page lists it: refused rows, warnings, counts, in ingest's words."""
    rejected = receipt.get("rejected") or []
    listed = len({(e.get("sheet"), e.get("row")) for e in rejected})
    return {
        "file": receipt.get("file"),
        "status": receipt.get("status"),
        "status_zh": RECEIPT_ZH.get(receipt.get("status"), receipt.get("status")),
        "accepted": receipt.get("accepted", 0),
        "revisions": receipt.get("revisions", 0),
        "unchanged": receipt.get("unchanged", 0),
        "reason": receipt.get("reason"),
        "rejected": rejected,
        # Receipts list at most max_listed_rows refused rows and count the rest.
        "rejected_rows": receipt.get("rejected_rows", listed),
        "rejected_unlisted": receipt.get("rejected_unlisted", 0),
        "warnings": receipt.get("warnings") or [],
        "warnings_unlisted": receipt.get("warnings_unlisted", 0),
        "blank_rows": receipt.get("blank_rows", 0),
    }


# ---- the supervision office's board --------------------------------------------------------


def episodes(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, today: date) -> list[dict]:
    """Open alerts, oldest first, with their 13710 step and next deadline."""
    if not store.has_table(con, "alerts", "episodes"):
        return []
    targets = {t.code: t for t in catalogue.targets}
    out = []
    for ep in store.rows(con, "episodes", {"plan_code": catalogue.plan.code}):
        snap = ep["snapshot"] if isinstance(ep["snapshot"], dict) else json.loads(ep["snapshot"])
        opened = store.as_date(ep["opened_on"])
        ep["opened_on"] = opened
        step = next_step(ep)
        if ep["acked_at"] is None:
            stage = "待确认"
        elif ep["feedback_at"] is None:
            stage = "待反馈"
        else:
            stage = "待销号"
        lines = figure_lines(_snap(targets.get(ep["target_code"]), snap))
        out.append(
            {
                "id": ep["episode_id"],
                "name": ep["name_zh"],
                "department": ep["department_code"],
                "department_zh": ep["department_zh"],
                "status": ep["status"],
                "status_class": STATUS_CLASS.get(ep["status"], "s-grey"),
                "major": bool(ep["major"]),
                "days_open": days_between(opened, today),
                "stage": stage,
                "ack_note": ep["ack_note"],
                "feedback_text": ep["feedback_text"],
                "escalated": ep["escalated_at"] is not None,
                "next": {"what": step[0], "on": step[1]} if step else None,
                "lines": lines,
            }
        )
    out.sort(key=lambda e: (-e["days_open"], e["id"]))
    return out


def current_period(t: Target, year: int, today: date) -> tuple[str, date] | None:
    """The latest period of a target whose month has ended by today, with its due day."""
    ended = [
        (p, due)
        for p, due in periods_due(t.kind, t.cadence, t.due_day, year)
        if month_end(int(p[:4]), int(p[5:7])) < today
    ]
    return ended[-1] if ended else None


def missing(
    catalogue: Catalogue,
    records: list[dict],
    today: date,
    reminded: set[tuple[str, str]],
    waiting: dict[str, int],
) -> list[dict]:
    """Departments that have not yet submitted their current period, most overdue first."""
    latest = {r["code"]: r.get("latest_period") for r in records}
    year = catalogue.plan.year
    groups: dict[tuple[str, str], dict] = {}
    for t in catalogue.targets:
        cur = current_period(t, year, today)
        if cur is None or (latest.get(t.code) or "") >= cur[0]:
            continue
        g = groups.setdefault(
            (t.department, cur[0]), {"due": cur[1], "names": [], "department": t.department}
        )
        g["due"] = min(g["due"], cur[1])
        g["names"].append(t.name_zh)
    depts = {d.code: d for d in catalogue.departments}
    out = []
    for (dept, period), g in groups.items():
        late = (today - g["due"]).days
        out.append(
            {
                "department": dept,
                "department_zh": depts[dept].short_zh if dept in depts else dept,
                "period": period,
                "due": g["due"],
                "overdue_days": late if late > 0 else 0,
                "count": len(g["names"]),
                "names": g["names"],
                "reminded": (dept, period) in reminded,
                "waiting": waiting.get(dept, 0),
            }
        )
    out.sort(key=lambda x: (-x["overdue_days"], x["due"], x["department_zh"], x["period"]))
    return out


def reminded_today(
    con: duckdb.DuckDBPyConnection, catalogue: Catalogue, today: date
) -> set[tuple[str, str]]:
    """(department, period) pairs already 催报-ed today."""
    if not store.has_table(con, "alerts", "outbox"):
        return set()
    since = datetime.combine(today, datetime.min.time())
    found = store.rows(
        con,
        "reminders_since",
        {"plan_code": catalogue.plan.code, "since": since},
    )
    out = set()
    for r in found:
        # dedupe key: desk_reminder:<plan>:<department>:<period>:<day>
        parts = r["dedupe_key"].split(":")
        if len(parts) == 5:
            out.add((parts[2], parts[3]))
    return out


def waiting_uploads(cfg: Settings, catalogue: Catalogue) -> dict[str, int]:
    """Department -> desk uploads waiting in the inbox for the nightly run."""
    out: dict[str, int] = {}
    for rec in uploads.plan_records(cfg, catalogue.plan.code):
        if uploads.pending(cfg, rec):
            out[rec["department"]] = out.get(rec["department"], 0) + 1
    return out


def last_run(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> dict | None:
    """The latest run of the plan: what it stored, and the files it refused (whole or in part)."""
    if not store.has_table(con, "meta", "runs"):
        return None
    found = store.rows(con, "last_run", {"plan_code": catalogue.plan.code})
    if not found:
        return None
    run = found[0]
    params = {"plan_code": catalogue.plan.code, "run_id": run["run_id"]}
    run["problems"], run["counts"] = [], None
    if store.has_table(con, "raw", "submissions"):
        run["problems"] = store.rows(con, "run_problem_files", params)
        run["counts"] = store.rows(con, "run_counts", params)[0]
    return run
