"""A run's lifecycle: the lock, its meta.runs row, and what it did, read back from the warehouse.

Every run holds `kpi.warehouse.pipeline_lock` for its whole length: a second run waits at most
`cfg.lock_wait_seconds`, then fails with `LockedError` (it never skips silently). What a run
reports (its summary, its meta.runs row) is read from the warehouse by run id when it ends, never
added up from what its steps returned, so a retried step cannot change it. The snapshot is
published after the row is final.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb

from kpi import clock
from kpi.catalogue import Catalogue, UnknownPlanError, load_catalogue
from kpi.config import ROOT, Settings, load_settings
from kpi.warehouse import connect, pipeline_lock, publish_snapshot, sql_file, sync_catalogue

log = logging.getLogger("kpi.pipeline")

RUNS_SQL = ROOT / "warehouse" / "runs"
# Worst first: the order every summary lists statuses in.
STATUS_ORDER = ("严重滞后", "滞后", "预警", "无数据", "正常", "已完成")
DATA_STATUS_ORDER = ("数据异常", "缺报", "正常", "未到期")
FILE_STATUSES = ("accepted", "partial", "rejected", "duplicate", "skipped")
# The system's episode events (alerts.events.kind) a run's summary counts.
ALERT_KINDS = (
    "opened",
    "worsened",
    "repeated",
    "recovered",
    "reminded",
    "escalated",
    "escalated_again",
)

Step = Callable[..., Any]


def direct(step: Step, *args: Any) -> Any:
    """Run a step as a plain call (flows pass a caller that runs it as a Prefect task)."""
    return step(*args)


def resolve_settings(home: str | Path | None = None) -> Settings:
    """Settings read afresh from the config file and KPI_* variables, optionally in another home."""
    cfg = load_settings()
    return cfg.with_home(Path(home)) if home else cfg


def load_plan(cfg: Settings, plan: str | None = None) -> Catalogue:
    """The validated catalogue of a plan from the configured catalogue folder (cached per version)."""
    path = cfg.catalogue_path(plan)
    if not path.is_file():
        raise UnknownPlanError(plan or cfg.plan, path)  # Chinese, naming the plans there are
    return _catalogue(str(path), path.stat().st_mtime_ns, str(cfg.home / "cache" / "catalogues"))


@lru_cache(maxsize=8)
def _catalogue(path: str, mtime_ns: int, cache_dir: str) -> Catalogue:
    # Parsing and validating the YAML costs ~0.4 s (0.8 s for a province's district): a replay
    # would pay it every day, a quiet night once. The validated catalogue is kept as JSON under
    # the state home, keyed by the content of every file it was built from (the catalogue, its
    # department register and report, the status thresholds' quarter floors): any edit misses.
    from kpi.catalogue import Catalogue, profile_floors

    source = Path(path)
    floors = profile_floors()
    data = source.read_bytes()
    key = hashlib.sha256(data + repr(floors).encode()).hexdigest()
    cached = Path(cache_dir) / f"{key}.json"
    try:
        entry = json.loads(cached.read_text(encoding="utf-8"))
        if all(_sha_of(Path(p)) == sha for p, sha in entry["inputs"].items()):
            return Catalogue.model_validate(entry["catalogue"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # no entry, or an unreadable one: load from the YAML
    catalogue = load_catalogue(source, floors)
    inputs = [source.parent / catalogue.plan.departments, source.parent / catalogue.plan.report]
    entry = {
        "inputs": {str(p): _sha_of(p) for p in inputs},
        "catalogue": catalogue.model_dump(mode="json"),
    }
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs time
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}")
        tmp.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
        tmp.replace(cached)
    return catalogue


def _sha_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def new_run_id() -> str:
    """A fresh run id for runs started outside Prefect."""
    return uuid.uuid4().hex


def jsonable(value: Any) -> Any:
    """A value made JSON-safe (dates, paths and other objects as strings)."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def local_naive(moment: datetime, cfg: Settings) -> datetime:
    """A moment as the warehouse stores it: naive district time."""
    return moment.astimezone(cfg.tz).replace(tzinfo=None) if moment.tzinfo else moment


@dataclass
class Run:
    """One pipeline run: its identity, what its steps returned, and its facts once it ended."""

    cfg: Settings
    catalogue: Catalogue
    as_of: date
    now: datetime
    run_id: str
    flow: str
    call: Step = direct
    started: float = field(default_factory=time.monotonic)
    receipts: list[dict] = field(default_factory=list)
    progress: Any = None  # pandas.DataFrame from compute_progress
    alerts: dict = field(default_factory=dict)
    report: Any = None
    snapshot: Path | None = None
    status: str = "running"
    facts: dict = field(default_factory=dict)  # read back from the warehouse when it ended
    # The warehouse files' latest change before this run began (ns): a snapshot newer than
    # that, on a run that changed nothing (`quiet`), is already the analysts' current copy.
    written_before: str = ""  # the warehouse's signature when the run began
    quiet: bool = False  # set by the steps: no file, progress and alerts as they were
    started_clean: bool = True  # its start changed nothing (no run abandoned, no ref.* sync)
    # Read at the start, in its connection (the lock is held, so no run can start before this
    # one ends): how many runs there are besides this one, and the run named by the stamp of
    # this plan's and date's report with how it ended. The report step needs no connection.
    others: int | None = None
    stamped: tuple[str, str | None] | None = None  # (run id, its status)
    held: Any = field(default=None, repr=False)  # the connection `keep_open` holds

    def keep_open(self) -> None:
        """Hold the warehouse open until `release`: each step's connection then opens for free.

        DuckDB's client shares one database among a process's connections to a file: while one
        is open, another opens without loading the database again (~20 ms of CPU each, ~30 %
        of a night without files) and closing it checkpoints nothing. Held from the run's start
        to its end, let go while files are ingested (ingest keeps its connection per chunk),
        before the report is written and before the snapshot: the file is locked no longer
        than the run's bookkeeping and judging steps take.
        """
        if self.held is None:
            held = connect(self.cfg)
            held.__enter__()
            self.held = held

    def release(self) -> None:
        """Close the connection `keep_open` holds (the last one to close checkpoints the WAL)."""
        held, self.held = self.held, None
        if held is not None:
            held.__exit__(None, None, None)

    @property
    def plan(self) -> str:
        """The plan code of this run."""
        return self.catalogue.plan.code

    @property
    def run_at(self) -> datetime:
        """The run's "now" as the warehouse stores it (alerts and messages carry it)."""
        return local_naive(self.now, self.cfg)

    def summary(self) -> dict:
        """A JSON-safe account of the run (what `kpi run --json` prints), from its facts."""
        facts = self.facts or empty_facts()
        return {
            "run_id": self.run_id,
            "flow": self.flow,
            "plan": self.plan,
            "as_of": self.as_of.isoformat(),
            "now": self.now.isoformat(),
            "status": self.status,
            **facts["counts"],
            "files": facts["files"],
            "skipped": facts["skipped"],
            "statuses": facts["statuses"],
            "data_statuses": facts["data_statuses"],
            "alerts": facts["alerts"],
            "warehouse": str(self.cfg.warehouse),
            "snapshot": str(self.snapshot) if self.snapshot else None,
            "report": jsonable(self.report),
            "seconds": round(time.monotonic() - self.started, 2),
        }


# --- what a run did, from the warehouse ------------------------------------------------------


def query(con: duckdb.DuckDBPyConnection, name: str, params: dict) -> list[dict]:
    """Rows of a warehouse/runs/*.sql query as dicts."""
    cur = con.execute(sql_file(name, RUNS_SQL), params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def file_row(rec: dict) -> dict:
    """One file of a run as summaries and artifacts show it (from mart.run_files)."""
    return {
        "file": rec["file_name"],
        "department": rec["department_zh"],
        "department_code": rec["department_code"],
        "status": rec["status"],
        "status_zh": rec["status_zh"],
        "accepted": int(rec["rows_accepted"] or 0),
        "rejected": int(rec["rows_rejected"] or 0),
        "revisions": int(rec["revisions"] or 0),
        "reason": rec["reason_zh"],
    }


def run_files(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    """Every file a run saw (stored, duplicate, skipped), as summaries show them."""
    return [file_row(r) for r in query(con, "run_files", {"run_id": run_id})]


def night_files(con: duckdb.DuckDBPyConnection, plan_code: str, as_of: date) -> list[dict]:
    """The files the latest run that judged `plan_code` on `as_of` saw, as its summary lists them.

    A run's own view (duplicates and skipped files included); the report's
    `kpi.reports.night_files` lists instead what the night's runs stored, counted once.
    """
    found = query(con, "night_run", {"plan_code": plan_code, "as_of": as_of})
    return run_files(con, found[0]["run_id"]) if found else []


def file_counts(files: list[dict]) -> dict[str, int]:
    """meta.runs counters from a run's files: skipped files are listed, never counted as seen."""
    by_status = {s: 0 for s in FILE_STATUSES}
    for f in files:
        by_status[f["status"]] = by_status.get(f["status"], 0) + 1
    seen = [f for f in files if f["status"] != "skipped"]
    return {
        "files_seen": len(seen),
        **{f"files_{s}": by_status[s] for s in FILE_STATUSES},
        "rows_accepted": sum(f["accepted"] for f in seen),
        "rows_rejected": sum(f["rejected"] for f in seen),
    }


def alert_counts(con: duckdb.DuckDBPyConnection, plan_code: str, run_at: datetime) -> dict:
    """What the run's alerts step did, from the events and messages stamped with its moment."""
    params = {"plan_code": plan_code, "run_at": run_at}
    by_kind = {r["kind"]: int(r["n"]) for r in query(con, "run_alerts", params)}
    counts = {k: by_kind.get(k, 0) for k in ALERT_KINDS}
    counts["messages"] = int(query(con, "run_messages", params)[0]["n"])
    return counts


def alerts_raised(alerts: dict) -> int:
    """Alerts raised by a run: episodes opened plus episodes that worsened."""
    return sum(int(alerts.get(k) or 0) for k in ("opened", "worsened"))


def _ordered(counts: dict[str, int], order: tuple[str, ...]) -> dict[str, int]:
    rank = {s: i for i, s in enumerate(order)}
    return dict(sorted(counts.items(), key=lambda kv: (rank.get(kv[0], len(order)), kv[0])))


def status_counts(con: duckdb.DuckDBPyConnection, plan_code: str, as_of: date) -> tuple[dict, dict]:
    """Targets per status and per data status on an as-of date, worst first."""
    statuses: dict[str, int] = {}
    data: dict[str, int] = {}
    for r in query(con, "run_statuses", {"plan_code": plan_code, "as_of": as_of}):
        statuses[r["status"]] = statuses.get(r["status"], 0) + int(r["n"])
        data[r["data_status"]] = data.get(r["data_status"], 0) + int(r["n"])
    return _ordered(statuses, STATUS_ORDER), _ordered(data, DATA_STATUS_ORDER)


def empty_facts() -> dict:
    """The facts of a run that did nothing."""
    counts = file_counts([])
    alerts = {k: 0 for k in ALERT_KINDS} | {"messages": 0}
    counts["alerts_raised"] = 0
    return {
        "counts": counts,
        "files": [],
        "skipped": [],
        "statuses": {},
        "data_statuses": {},
        "alerts": alerts,
    }


def run_facts(con: duckdb.DuckDBPyConnection, run: Run) -> dict:
    """Everything a run reports, read from the warehouse by its id and its moment."""
    files = run_files(con, run.run_id)
    counts = file_counts(files)
    alerts = alert_counts(con, run.plan, run.run_at)
    counts["alerts_raised"] = alerts_raised(alerts)
    statuses, data_statuses = status_counts(con, run.plan, run.as_of)
    return {
        "counts": counts,
        "files": [f for f in files if f["status"] != "skipped"],
        "skipped": [f for f in files if f["status"] == "skipped"],
        "statuses": statuses,
        "data_statuses": data_statuses,
        "alerts": alerts,
    }


# --- the lifecycle -------------------------------------------------------------------------


def warehouse_written(cfg: Settings) -> str:
    """The warehouse's file and write-ahead log as stat sees them (size, mtime): a write changes it.

    Compared for equality only, never against a clock: a clock set back, or a process under
    faketime, must not make an old snapshot look current.
    """
    parts = []
    for p in (cfg.warehouse, cfg.warehouse.with_name(cfg.warehouse.name + ".wal")):
        try:
            st = p.stat()
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append("-")
    return " ".join(parts)


def _snapshot_stamp(cfg: Settings) -> Path:
    # Holds the warehouse's signature once a run's end is in the snapshot, or once a quiet run
    # found it current.
    return cfg.home / "cache" / "snapshot.current"


def untouched_since_publication(run: Run) -> bool:
    """True when nothing wrote to the warehouse between the last publication and this run's start.

    The snapshot's stamp holds the warehouse's signature as the last run left it; a delivery, a
    13710 step, `kpi ingest` or a failed run since then changes it. The report and the
    snapshot of a quiet night are kept only on this condition.
    """
    try:
        stamped = _snapshot_stamp(run.cfg).read_text(encoding="utf-8")
    except OSError:
        return False
    return not run.written_before.startswith("-") and stamped == run.written_before


def snapshot_current(run: Run) -> bool:
    """True when the published snapshot already shows everything this quiet run leaves.

    What it then lacks is the quiet runs' own rows in meta.runs.
    """
    return run.quiet and run.cfg.snapshot.is_file()


def _stamp_snapshot(cfg: Settings) -> None:
    stamp = _snapshot_stamp(cfg)
    with contextlib.suppress(OSError):  # a missing stamp only means the next run publishes
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(warehouse_written(cfg), encoding="utf-8")


def report_stamp(cfg: Settings, plan_code: str, as_of: date) -> Path:
    """Where the stamp of a plan's report of an as-of date is kept (which run wrote it, from what)."""
    return cfg.home / "cache" / "reports" / f"{plan_code}_{as_of.isoformat()}.json"


def stamped_run_id(stamp: Path) -> str | None:
    """The run id a report stamp names, or None (no stamp, or an unreadable one)."""
    try:
        run_id = json.loads(stamp.read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None
    return str(run_id) if run_id else None


def _start_run(run: Run) -> None:
    run.written_before = warehouse_written(run.cfg)  # before this run opens it
    run.keep_open()  # held into the steps; `night` lets go of it only while files are ingested
    try:
        _record_start(run)
    except BaseException:
        run.release()
        raise


def _record_start(run: Run) -> None:
    with connect(run.cfg) as con:
        now = clock.local_now(run.cfg.tz)
        abandoned = con.execute(sql_file("abandon_runs", RUNS_SQL), {"now": now}).fetchall()
        run.started_clean = not (abandoned and abandoned[0][0])
        con.execute(
            sql_file("start_run", RUNS_SQL),
            {
                "run_id": run.run_id,
                "plan_code": run.plan,
                "flow": run.flow,
                "as_of": run.as_of,
                "started_at": now,
                "run_at": run.run_at,
            },
        )
        stamp_run_id = stamped_run_id(report_stamp(run.cfg, run.plan, run.as_of))
        params = {"run_id": run.run_id, "stamp_run_id": stamp_run_id or ""}
        run.others, status = con.execute(sql_file("previous_run", RUNS_SQL), params).fetchall()[0]
        run.stamped = (stamp_run_id, status) if stamp_run_id else None
        # ref.* mirrors the catalogue this run judges by, so analysts join on the same codes
        # (unless it already mirrors this content).
        from kpi.progress import unsynced

        if unsynced(con, [run.catalogue]):
            sync_catalogue(con, run.catalogue)
            run.started_clean = False


def _finish_run(run: Run, status: str) -> None:
    run.status = status
    with connect(run.cfg) as con:
        run.facts = run_facts(con, run)
        con.execute(
            sql_file("finish_run", RUNS_SQL),
            {
                "run_id": run.run_id,
                "status": status,
                "finished_at": clock.local_now(run.cfg.tz),
                **run.facts["counts"],
            },
        )


def snapshot_step(cfg: Settings) -> Path:
    """Publish the analysts' read-only snapshot."""
    path = publish_snapshot(cfg)
    log.info("step snapshot done: %s", path)
    return path


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
    publish: bool = True,
    call: Step = direct,
) -> Iterator[Run]:
    """Hold the lock and record the run: completed, failed, or (if killed) abandoned by the next.

    When the block ends, the run's row is made final from the warehouse, and only then is the
    snapshot published (`publish`), so the analysts' copy shows the run as it ended. A failed
    run publishes too: the snapshot then says that the latest run failed and what it had done.
    """
    wait = cfg.lock_wait_seconds if lock_wait is None else lock_wait
    with pipeline_lock(cfg, wait_seconds=wait):
        run = Run(
            cfg=cfg,
            catalogue=load_plan(cfg, plan),
            as_of=as_of,
            now=now or clock.now(cfg.tz),
            run_id=run_id or new_run_id(),
            flow=flow,
            call=call,
        )
        _start_run(run)
        log.info("run %s started: %s as of %s", run.run_id, run.plan, as_of)
        try:
            yield run
            _finish_run(run, "completed")
            run.release()  # checkpointed before the warehouse's signature is taken below
            if publish and snapshot_current(run):
                # Nothing changed since the snapshot was published but this run's own row in
                # meta.runs: copying a province's warehouse would cost seconds for nothing.
                log.info("snapshot unchanged: nothing new since it was published")
                run.snapshot = cfg.snapshot
                _stamp_snapshot(cfg)
            elif publish:
                run.snapshot = call(snapshot_step, cfg)
                _stamp_snapshot(cfg)
        except BaseException as exc:
            log.exception("run %s failed", run.run_id)
            with contextlib.suppress(Exception):  # a connection a failed step broke
                run.release()
            with contextlib.suppress(Exception):  # the original error matters more
                _finish_run(run, "failed")
                if publish and isinstance(exc, Exception):
                    run.snapshot = call(snapshot_step, cfg)
            raise
        log.info("run %s completed", run.run_id)
