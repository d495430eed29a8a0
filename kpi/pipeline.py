"""The nightly job as plain functions: stage, ingest, progress, snapshot, alerts, report, deliver.

Prefect flows in `flows/` wrap the same steps as tasks; everything here runs without Prefect.
Every run holds `kpi.warehouse.pipeline_lock` for its whole length: a second run waits at most
`cfg.lock_wait_seconds`, then fails with `LockedError` (it never skips silently).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from functools import lru_cache
from pathlib import Path
from typing import Any

from kpi import clock
from kpi.catalogue import Catalogue, load_catalogue
from kpi.config import ROOT, Settings, load_settings
from kpi.warehouse import connect, pipeline_lock, publish_snapshot, sql_file, sync_catalogue

log = logging.getLogger("kpi.pipeline")

DEMO_SUBMISSIONS = ROOT / "demo" / "submissions"
RUNS_SQL = ROOT / "warehouse" / "runs"
NIGHTLY_AT = dtime(2, 0)  # the nightly deployment's schedule (prefect.yaml)
DELIVER_AT = dtime(8, 30)  # the deliver deployment's schedule, after quiet hours end
ARRIVAL_AT = dtime(10, 0)  # time of day given to a demo file that arrived on a date
STAGED_LEDGER = "demo-staged.json"


# --- dates ---------------------------------------------------------------------------------


def default_as_of(now: datetime) -> date:
    """The as-of date a run at `now` judges: yesterday, the last complete day."""
    return now.date() - timedelta(days=1)


def nightly_now(as_of: date, cfg: Settings) -> datetime:
    """When the nightly run for `as_of` happens: 02:00 district time the next day."""
    return datetime.combine(as_of + timedelta(days=1), NIGHTLY_AT, tzinfo=cfg.tz)


def morning_after(as_of: date, cfg: Settings) -> datetime:
    """When the morning delivery after the nightly run for `as_of` happens (08:30 next day)."""
    return datetime.combine(as_of + timedelta(days=1), DELIVER_AT, tzinfo=cfg.tz)


def days(start: date, end: date) -> list[date]:
    """Every date from start to end inclusive."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _local_naive(now: datetime, cfg: Settings) -> datetime:
    # meta.* timestamps are naive district time, like the rest of the warehouse.
    return now.astimezone(cfg.tz).replace(tzinfo=None) if now.tzinfo else now


# --- a run: lock, catalogue, meta.runs bookkeeping -----------------------------------------


def resolve_settings(home: str | Path | None = None) -> Settings:
    """Settings read afresh from the config file and KPI_* variables, optionally in another home."""
    cfg = load_settings()
    return cfg.with_home(Path(home)) if home else cfg


def load_plan(cfg: Settings, plan: str | None = None) -> Catalogue:
    """The validated catalogue of a plan from the configured catalogue folder (cached per version)."""
    path = cfg.catalogue_path(plan)
    return _catalogue(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _catalogue(path: str, mtime_ns: int) -> Catalogue:
    # Parsing and validating the YAML costs ~0.4 s: a replay would pay it every day.
    return load_catalogue(path)


def new_run_id() -> str:
    """A fresh run id for runs started outside Prefect."""
    return uuid.uuid4().hex


@dataclass
class Run:
    """One pipeline run in progress: what each step returned, for meta.runs and the summary."""

    cfg: Settings
    catalogue: Catalogue
    as_of: date
    now: datetime
    run_id: str
    flow: str
    started: float = field(default_factory=time.monotonic)
    receipts: list[dict] = field(default_factory=list)
    progress: Any = None  # pandas.DataFrame from compute_progress
    snapshot: Path | None = None
    alerts: dict = field(default_factory=dict)
    report: Any = None

    @property
    def plan(self) -> str:
        """The plan code of this run."""
        return self.catalogue.plan.code

    def counts(self) -> dict[str, int]:
        """The meta.runs counters of this run."""
        return run_counts(self.receipts, self.alerts)

    def summary(self, status: str = "completed") -> dict:
        """A JSON-safe account of the run (what `kpi run --json` prints)."""
        statuses: dict[str, int] = {}
        data_statuses: dict[str, int] = {}
        if self.progress is not None and len(self.progress):
            statuses = dict(Counter(self.progress["status"].astype(str)))
            data_statuses = dict(Counter(self.progress["data_status"].astype(str)))
        return {
            "run_id": self.run_id,
            "flow": self.flow,
            "plan": self.plan,
            "as_of": self.as_of.isoformat(),
            "now": self.now.isoformat(),
            "status": status,
            **self.counts(),
            "files": [file_row(r) for r in self.receipts],
            "statuses": statuses,
            "data_statuses": data_statuses,
            "alerts": jsonable(self.alerts),
            "warehouse": str(self.cfg.warehouse),
            "snapshot": str(self.snapshot) if self.snapshot else None,
            "report": jsonable(self.report),
            "seconds": round(time.monotonic() - self.started, 2),
        }


def file_row(receipt: dict) -> dict:
    """The short form of an ingest receipt kept in a run summary."""
    return {
        "file": Path(str(receipt.get("file", ""))).name,
        "department": receipt.get("department"),
        "status": receipt.get("status"),
        "accepted": int(receipt.get("accepted") or 0),
        "rejected": len(receipt.get("rejected") or []),
        "revisions": int(receipt.get("revisions") or 0),
        "reason": receipt.get("reason"),
    }


def alerts_raised(alerts: dict) -> int:
    """Alerts raised tonight: episodes opened plus episodes that worsened (from `raise_alerts`)."""
    return sum(int(alerts.get(k) or 0) for k in ("opened", "worsened"))


def run_counts(receipts: list[dict], alerts: dict) -> dict[str, int]:
    """Files by outcome, rows accepted and rejected, alerts raised."""
    by_status = Counter(r.get("status") for r in receipts)
    return {
        "files_seen": len(receipts),
        "files_accepted": by_status.get("accepted", 0),
        "files_partial": by_status.get("partial", 0),
        "files_rejected": by_status.get("rejected", 0),
        "files_duplicate": by_status.get("duplicate", 0),
        "rows_accepted": sum(int(r.get("accepted") or 0) for r in receipts),
        "rows_rejected": sum(len(r.get("rejected") or []) for r in receipts),
        "alerts_raised": alerts_raised(alerts or {}),
    }


def jsonable(value: Any) -> Any:
    """A value made JSON-safe (dates, paths and other objects as strings)."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _start_run(run: Run) -> None:
    with connect(run.cfg) as con:
        now = clock.local_now(run.cfg.tz)
        con.execute(sql_file("abandon_runs", RUNS_SQL), {"now": now})
        con.execute(
            sql_file("start_run", RUNS_SQL),
            {
                "run_id": run.run_id,
                "plan_code": run.plan,
                "flow": run.flow,
                "as_of": run.as_of,
                "started_at": now,
            },
        )
        # ref.* mirrors the catalogue this run judges by, so analysts join on the same codes.
        sync_catalogue(con, run.catalogue)


def _finish_run(run: Run, status: str) -> None:
    counts = run.counts()
    counts.pop("files_duplicate")
    with connect(run.cfg) as con:
        con.execute(
            sql_file("finish_run", RUNS_SQL),
            {
                "run_id": run.run_id,
                "status": status,
                "finished_at": clock.local_now(run.cfg.tz),
                **counts,
            },
        )


@contextlib.contextmanager
def pipeline_run(
    cfg: Settings,
    plan: str | None,
    as_of: date,
    *,
    now: datetime | None = None,
    flow: str = "nightly",
    run_id: str | None = None,
    lock_wait: float | None = None,
) -> Iterator[Run]:
    """Hold the lock and record the run in meta.runs: completed, failed, or (if killed) abandoned."""
    wait = cfg.lock_wait_seconds if lock_wait is None else lock_wait
    with pipeline_lock(cfg, wait_seconds=wait):
        run = Run(
            cfg=cfg,
            catalogue=load_plan(cfg, plan),
            as_of=as_of,
            now=now or clock.now(cfg.tz),
            run_id=run_id or new_run_id(),
            flow=flow,
        )
        _start_run(run)
        log.info("run %s started: %s as of %s", run.run_id, run.plan, as_of)
        try:
            yield run
        except BaseException:
            log.exception("run %s failed", run.run_id)
            with contextlib.suppress(Exception):  # the original error matters more
                _finish_run(run, "failed")
            raise
        _finish_run(run, "completed")
        log.info("run %s completed", run.run_id)


# --- the steps (each a plain function; flows wrap them as tasks) ---------------------------


def ingest_step(cfg: Settings, catalogue: Catalogue, as_of: date, run_id: str) -> list[dict]:
    """Ingest every file in the inbox; return the receipts."""
    from kpi.ingest import ingest_inbox

    receipts = ingest_inbox(cfg, catalogue, as_of=as_of, run_id=run_id)
    log.info("step ingest done: %d file(s)", len(receipts))
    return receipts


def progress_step(cfg: Settings, catalogue: Catalogue, as_of: date):
    """Compute progress for the as-of date into mart.progress and mart.status_history."""
    from kpi.progress import compute_progress

    progress = compute_progress(cfg, catalogue, as_of)
    log.info("step progress done: %d target(s)", len(progress))
    return progress


def snapshot_step(cfg: Settings) -> Path:
    """Publish the analysts' read-only snapshot."""
    path = publish_snapshot(cfg)
    log.info("step snapshot done: %s", path)
    return path


def alerts_step(cfg: Settings, catalogue: Catalogue, as_of: date, now: datetime) -> dict:
    """Raise alerts (episodes and outbox) for the as-of date."""
    from kpi.alerts import raise_alerts

    result = raise_alerts(cfg, catalogue, as_of, now)
    log.info("step alerts done: %s", result)
    return result


def reports_module():
    """`kpi.reports` if that area is installed, else None."""
    try:
        return importlib.import_module("kpi.reports")
    except ModuleNotFoundError as exc:
        if exc.name in ("kpi.reports", "kpi"):
            return None
        raise


def report_step(cfg: Settings, catalogue: Catalogue, as_of: date) -> Any:
    """Write the nightly report through `kpi.reports.write_reports` when that area exists."""
    reports = reports_module()
    if reports is None or not hasattr(reports, "write_reports"):
        log.info("step report skipped: kpi.reports.write_reports not available")
        return None
    result = reports.write_reports(cfg, catalogue, as_of)
    log.info("step report done: %s", result)
    return result


def run_nightly(
    cfg: Settings,
    plan: str | None,
    as_of: date,
    now: datetime | None = None,
    *,
    run_id: str | None = None,
    lock_wait: float | None = None,
    flow: str = "nightly",
    publish: bool = True,
) -> dict:
    """Ingest the inbox, compute progress, publish the snapshot, raise alerts, write the report.

    `publish=False` (replayed days before the last) skips the snapshot and the report: nobody
    reads them for a past night, and they are most of a quiet night's cost.
    """
    with pipeline_run(
        cfg, plan, as_of, now=now, flow=flow, run_id=run_id, lock_wait=lock_wait
    ) as run:
        run.receipts = ingest_step(cfg, run.catalogue, as_of, run.run_id)
        run.progress = progress_step(cfg, run.catalogue, as_of)
        if publish:
            run.snapshot = snapshot_step(cfg)
        run.alerts = alerts_step(cfg, run.catalogue, as_of, run.now)
        if publish:
            run.report = report_step(cfg, run.catalogue, as_of)
            # Again, so that the analysts' copy also holds tonight's alerts.
            run.snapshot = snapshot_step(cfg)
    return run.summary()


def run_deliver(cfg: Settings, now: datetime | None = None, *, lock_wait: float | None = None):
    """Send what the outbox holds that is due at `now` (under the run lock)."""
    from kpi.alerts import deliver

    wait = cfg.lock_wait_seconds if lock_wait is None else lock_wait
    with pipeline_lock(cfg, wait_seconds=wait):
        result = deliver(cfg, now or clock.now(cfg.tz))
    log.info("deliver done: %s", result)
    return result


# --- demo arrivals: files reach the inbox on the day they were submitted --------------------


@dataclass(frozen=True)
class Arrival:
    """A demo file and the moment it reached the inbox."""

    path: Path
    day: date
    at: datetime

    @property
    def key(self) -> str:
        """The file's name under the demo folder: `<arrival date>/<file>`."""
        return f"{self.day.isoformat()}/{self.path.name}"


def arrivals(cfg: Settings, source: Path = DEMO_SUBMISSIONS) -> list[Arrival]:
    """Every file under `source/<YYYY-MM-DD>/`, with its arrival, oldest first."""
    found: list[Arrival] = []
    if not source.is_dir():
        return found
    for folder in sorted(source.iterdir()):
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue  # not an arrival folder
        if not folder.is_dir():
            continue
        at = datetime.combine(day, ARRIVAL_AT, tzinfo=cfg.tz)
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                found.append(Arrival(path=path, day=day, at=at))
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_ledger(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True), "utf-8")
    os.replace(tmp, path)


def _inbox_target(inbox: Path, name: str, sha: str) -> Path | None:
    """Where a file goes in the inbox; None when the same bytes already wait there."""
    candidate = inbox / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 1
    while candidate.exists():
        if _sha256(candidate) == sha:
            return None
        n += 1
        # Two different files with one name (a resubmission) must both reach the inbox.
        candidate = inbox / f"{stem}__{n}{suffix}"
    return candidate


def stage_demo(cfg: Settings, until: date, *, source: Path = DEMO_SUBMISSIONS) -> list[Path]:
    """Copy the demo files that arrived on or before `until` into the inbox, each once.

    A file gets its arrival time as mtime. A ledger in the state home remembers what was staged,
    so files already ingested (and moved out of the inbox) never come back; the copy lands under
    a temporary name and is renamed, so a run never sees half a file.
    """
    ledger_path = cfg.home / STAGED_LEDGER
    ledger = _read_ledger(ledger_path)
    todo = [a for a in arrivals(cfg, source) if a.day <= until and a.key not in ledger]
    if not todo:
        return []
    cfg.inbox.mkdir(parents=True, exist_ok=True)
    tmp_dir = cfg.home / "staging"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    staged: list[Path] = []
    for arrival in todo:
        sha = _sha256(arrival.path)
        target = _inbox_target(cfg.inbox, arrival.path.name, sha)
        if target is not None:
            tmp = tmp_dir / f"{sha}{arrival.path.suffix}"
            shutil.copyfile(arrival.path, tmp)
            stamp = arrival.at.timestamp()
            os.utime(tmp, (stamp, stamp))
            os.replace(tmp, target)
            staged.append(target)
        ledger[arrival.key] = sha
        _write_json(ledger_path, ledger)
    log.info("staged %d demo file(s) up to %s", len(staged), until)
    return staged


# --- replay: the nightly run day by day ----------------------------------------------------


def replay_day(
    cfg: Settings,
    plan: str | None,
    day: date,
    *,
    source: Path | None = DEMO_SUBMISSIONS,
    deliver: bool = False,
    publish: bool = True,
    lock_wait: float | None = None,
) -> dict:
    """One replayed day: the day's files arrive, the nightly run judges it, the morning delivers."""
    staged = stage_demo(cfg, day, source=source) if source is not None else []
    summary = run_nightly(
        cfg, plan, day, nightly_now(day, cfg), lock_wait=lock_wait, flow="replay", publish=publish
    )
    summary["staged"] = len(staged)
    if deliver:
        summary["delivered"] = jsonable(
            run_deliver(cfg, morning_after(day, cfg), lock_wait=lock_wait)
        )
    return summary


def replay(
    cfg: Settings,
    plan: str | None,
    start: date,
    end: date,
    *,
    source: Path | None = DEMO_SUBMISSIONS,
    deliver: bool = False,
    on_day: Callable[[date, dict], None] | None = None,
) -> list[dict]:
    """Run the nightly job for every day from start to end, files arriving on their dates."""
    summaries = []
    for day in days(start, end):
        summary = replay_day(cfg, plan, day, source=source, deliver=deliver, publish=day == end)
        summaries.append(summary)
        if on_day is not None:
            on_day(day, summary)
    return summaries


# --- the leadership digest (used when kpi.reports is not there) ----------------------------


def digest_records(cfg: Settings, plan: str | None, as_of: date | None = None) -> list[dict]:
    """mart.progress rows of the latest as-of date on or before `as_of`, from the snapshot."""
    from kpi.warehouse import open_snapshot

    con = open_snapshot(cfg)
    try:
        cur = con.execute(
            sql_file("leadership_digest"),
            {"plan_code": plan or cfg.plan, "as_of": as_of or date(9999, 12, 31)},
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()


_ORDER = ("严重滞后", "滞后", "预警", "无数据", "正常", "已完成")


def _pct(value: Any) -> str:
    return "—" if value is None else f"{value:.1f}%"


def render_digest(plan: str, records: list[dict]) -> str:
    """The digest text from mart.progress rows (pure: no I/O)."""
    if not records:
        return f"# {plan} 目标任务进展\n\n暂无进展数据：请先运行每晚流程。\n"
    as_of = records[0]["as_of"]
    counts = Counter(r["status"] for r in records)
    lines = [
        f"# {plan} 目标任务进展（截至 {as_of}）",
        "",
        f"共 {len(records)} 项："
        + "，".join(f"{s} {counts[s]} 项" for s in _ORDER if counts.get(s)),
        "",
    ]
    behind = [r for r in records if r["status"] in ("严重滞后", "滞后", "预警")]
    if behind:
        lines += [
            "## 需关注的目标",
            "",
            "| 状态 | 指标 | 牵头单位 | 完成率 | 序时进度 | 差距(百分点) | 预计 |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in behind:
            gap = "—" if r["gap_pp"] is None else f"{r['gap_pp']:+.1f}"
            lines.append(
                f"| {r['status']} | {r['name_zh']} | {r['department_zh']} | "
                f"{_pct(r['completion_rate'])} | {_pct(r['time_progress'])} | {gap} | "
                f"{r['outlook'] or '—'} |"
            )
        lines.append("")
    missing = [r for r in records if r["data_status"] in ("缺报", "数据异常")]
    if missing:
        lines += ["## 数据问题", ""]
        lines += [f"- {r['department_zh']}：{r['name_zh']}（{r['data_status']}）" for r in missing]
        lines.append("")
    return "\n".join(lines)


def write_digest(cfg: Settings, plan: str | None, as_of: date | None = None) -> Path:
    """Write the status digest under cfg.reports; return its path."""
    plan = plan or cfg.plan
    records = digest_records(cfg, plan, as_of)
    stamp = records[0]["as_of"].isoformat() if records else "none"
    cfg.reports.mkdir(parents=True, exist_ok=True)
    path = cfg.reports / f"{plan}-digest-{stamp}.md"
    path.write_text(render_digest(plan, records), encoding="utf-8")
    return path
