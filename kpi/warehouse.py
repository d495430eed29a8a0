"""The DuckDB warehouse: connections, migrations, the analysts' snapshot, the run lock, readers."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from kpi import clock
from kpi.config import ROOT, Settings

log = logging.getLogger(__name__)

MIGRATIONS = ROOT / "warehouse" / "migrations"
TRANSFORMS = ROOT / "transforms"


class LockedError(RuntimeError):
    """Another pipeline run holds the lock (the message is Chinese: operators read it)."""


class WarehouseBusy(LockedError):
    """A reader gave up waiting for the warehouse or the snapshot (Chinese message)."""


class NothingToRead(FileNotFoundError):
    """There is no warehouse or snapshot yet in this state home (Chinese message)."""


class NoSnapshot(NothingToRead):
    """No snapshot has been published yet (Chinese message, with a hint where one may be)."""


def sql_file(name: str, folder: Path = TRANSFORMS) -> str:
    """The text of a .sql file (`name` relative to `folder`, extension optional)."""
    path = folder / (name if name.endswith(".sql") else f"{name}.sql")
    return path.read_text(encoding="utf-8")


_INCLUDE = re.compile(r"^--\s*include:\s*([\w./-]+\.sql)\s*$", re.MULTILINE)


def expand_includes(text: str) -> str:
    """Inline each `-- include: NAME.sql` line (of a migration or a query) with that transforms/ select."""
    return _INCLUDE.sub(lambda m: sql_file(m.group(1)).strip().rstrip(";"), text)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every migration not yet recorded; return the schema version."""
    migrations = {int(p.name.split("_", 1)[0]): p for p in sorted(MIGRATIONS.glob("*.sql"))}
    try:
        done = {r[0] for r in con.execute("select version from meta.schema_version").fetchall()}
    except duckdb.CatalogException:
        done = set()  # a new warehouse
    if done and done >= migrations.keys():
        # Current: one read and no DDL. Every step opens a connection, and nearly all of them
        # find the warehouse current (the check was ~2 ms of a connection's ~25 ms).
        return max(done)
    con.execute(
        "create schema if not exists meta;"
        "create table if not exists meta.schema_version ("
        " version integer primary key, name varchar not null, applied_at timestamp not null)"
    )
    for version, path in migrations.items():
        if version in done:
            continue
        con.execute("begin")
        try:
            con.execute(expand_includes(path.read_text(encoding="utf-8")))
            con.execute(
                "insert into meta.schema_version values (?, ?, ?)",
                [version, path.stem, clock.local_now()],
            )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    return con.execute("select max(version) from meta.schema_version").fetchone()[0]


@contextlib.contextmanager
def connect(
    cfg: Settings, *, retries: int = 30, wait: float = 1.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-write connection to the warehouse, migrated; waits out a brief lock."""
    cfg.warehouse.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(retries):
        try:
            con = duckdb.connect(str(cfg.warehouse))
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or attempt == retries - 1:
                raise
            time.sleep(wait)
    try:
        migrate(con)
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Everything inside commits together or not at all."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def shown_path(path: Path) -> str:
    """A path as a person types it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _no_snapshot(cfg: Settings) -> NoSnapshot:
    message = f"尚未发布查询快照（{shown_path(cfg.snapshot)}）。"
    demo = cfg.with_home(cfg.home / "demo")
    if demo.snapshot.exists():
        from kpi.pipeline.demo import demo_exports  # only on this error path

        message += (
            f"示例数据（make run）的状态在 {shown_path(demo.home)}，请先在本终端执行：\n"
            f"  {demo_exports(demo)}\n"
            "（KPI_NOW 让提醒天数和 13710 时限按示例当天早上计算）"
        )
    else:
        message += "请先运行 kpi run（或用 make run 运行示例数据）。"
    return NoSnapshot(message)


def _open_read_only(path: Path, deadline: float, busy: str) -> duckdb.DuckDBPyConnection:
    """A read-only connection, retried while another process holds the file read-write."""
    while True:
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusy(busy) from None
            time.sleep(0.2)


def open_snapshot(cfg: Settings, *, wait_seconds: float | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published snapshot (what analysts and `kpi sql` read)."""
    if not cfg.snapshot.exists():
        raise _no_snapshot(cfg)
    wait = cfg.read_wait_seconds if wait_seconds is None else wait_seconds
    busy = (
        f"分析快照（{shown_path(cfg.snapshot)}）正被其他程序以读写方式打开（已等待 {wait:g} 秒）："
        "请关闭该程序，分析时用 duckdb -readonly 打开快照"
    )
    return _open_read_only(cfg.snapshot, time.monotonic() + wait, busy)


def busy_message(cfg: Settings, waited: float) -> str:
    """What a command says when the warehouse stays busy longer than it may wait."""
    return (
        f"数据仓库正忙：另一次运行正在写入（{shown_path(cfg.lock_file)}，已等待 {waited:g} 秒）。"
        "请稍后再试；查询请用分析快照（kpi sql）"
    )


@contextlib.contextmanager
def reading(
    cfg: Settings, *, source: str = "snapshot", wait_seconds: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for a reader: the snapshot (default) or the warehouse; busy after seconds.

    Readers never wait long: after `wait_seconds` (setting `read_wait_seconds`) they raise
    WarehouseBusy, whose Chinese message a command prints as it is. The warehouse is read under
    the shared run lock, so a reader never sees a run half-way and a run waits only for readers
    already reading; inside a run (this thread holds the lock) it is an ordinary connection.
    """
    wait = cfg.read_wait_seconds if wait_seconds is None else wait_seconds
    if source == "snapshot":
        con = open_snapshot(cfg, wait_seconds=wait)
        try:
            yield con
        finally:
            con.close()
        return
    if source != "warehouse":
        raise ValueError(f"unknown source {source!r}: snapshot or warehouse")
    if holds_lock(cfg):
        with connect(cfg) as con:
            yield con
        return
    deadline = time.monotonic() + wait
    with pipeline_lock(cfg, wait_seconds=wait, shared=True):
        if not cfg.warehouse.exists():
            raise NothingToRead(
                f"尚无数据仓库（{shown_path(cfg.warehouse)}）：请先运行 kpi run（或 make run）"
            )
        con = _open_read_only(cfg.warehouse, deadline, busy_message(cfg, wait))
        try:
            yield con
        finally:
            con.close()


_STORAGE_VERSION = re.compile(r"v\d+\.\d+\.\d+")


SNAPSHOT_MEMORY_FLOOR_MB = 128
SNAPSHOT_MEMORY_FACTOR = 2


def publish_snapshot(cfg: Settings) -> Path:
    """Write the warehouse to the snapshot path atomically, in the configured storage version.

    The warehouse is checkpointed and copied while its lock is held (a file copy: short), and
    the copy is then rewritten without the lock (`COPY FROM DATABASE`: tables, views, sequences
    and comments) in `snapshot_storage_version`, so that released clients (the DuckDB CLI,
    DBeaver, older Python) open it. The result is written under a temporary name and renamed:
    readers holding the old snapshot open keep their file (rename replaces the name, not the
    inode), so an analyst never blocks the nightly run and never sees a half-written copy.
    """
    version = cfg.snapshot_storage_version
    if not _STORAGE_VERSION.fullmatch(version):
        raise ValueError(f"snapshot_storage_version must look like v1.0.0, not {version!r}")
    cfg.snapshot.parent.mkdir(parents=True, exist_ok=True)
    stem = f".{cfg.snapshot.name}.{os.getpid()}"
    raw = cfg.snapshot.with_name(f"{stem}.raw")
    tmp = cfg.snapshot.with_name(f"{stem}.tmp")
    leftovers = (raw, tmp, raw.with_name(raw.name + ".wal"), tmp.with_name(tmp.name + ".wal"))
    spill = cfg.snapshot.with_name(f"{stem}.spill")
    for p in leftovers:
        p.unlink(missing_ok=True)
    shutil.rmtree(spill, ignore_errors=True)
    try:
        with connect(cfg) as con:
            con.execute("checkpoint")
            shutil.copyfile(cfg.warehouse, raw)  # consistent: our open connection holds the lock
        # DuckDB's buffer pool may grow to most of the machine's memory, and the copy would fill
        # it with blocks already written: 210 MB more at the province's nightly peak, against
        # ~110 MB with this bound, in the same time. The copy needs about the file's size (it
        # failed below 0.9x on the province, below 1.6x on the demo's 10 MB); should a
        # warehouse ever need more, the copy is made again unbounded rather than fail the night.
        limit_mb = max(SNAPSHOT_MEMORY_FLOOR_MB, SNAPSHOT_MEMORY_FACTOR * raw.stat().st_size >> 20)
        try:
            _copy_database(raw, tmp, version, f"{limit_mb}MB", spill)
        except duckdb.OutOfMemoryException:
            log.warning("snapshot copy needed more than %s MB: copied again unbounded", limit_mb)
            for p in leftovers[1::2]:  # the partial copy and its WAL
                p.unlink(missing_ok=True)
            _copy_database(raw, tmp, version, None, spill)
        os.replace(tmp, cfg.snapshot)
    finally:
        for p in leftovers:
            p.unlink(missing_ok=True)
        shutil.rmtree(spill, ignore_errors=True)
    return cfg.snapshot


def _copy_database(
    raw: Path, tmp: Path, version: str, memory_limit: str | None, spill: Path
) -> None:
    """Rewrite database file `raw` as `tmp` in storage `version`, within `memory_limit`."""
    con = duckdb.connect()
    try:
        # Within the bound the copy spills (it fails at 148 MB on the province without): to a
        # folder beside the snapshot, not DuckDB's default `.tmp` in whatever folder we run in.
        con.execute("set temp_directory = ?", [str(spill)])
        if memory_limit is not None:
            con.execute("set memory_limit = ?", [memory_limit])
        # ATTACH takes no parameters; both paths are ours, the version was checked by the caller.
        con.execute(f"attach '{_quoted(raw)}' as kpi_snapshot_in (read_only)")
        con.execute(f"attach '{_quoted(tmp)}' as kpi_snapshot_out (storage_version '{version}')")
        con.execute("copy from database kpi_snapshot_in to kpi_snapshot_out")
        con.execute("detach kpi_snapshot_out")
    finally:
        con.close()


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


# Run locks this process holds, by (lock file, thread): a reader inside its own run uses the
# run's warehouse instead of waiting for itself (`reading`).
_HELD: dict[tuple[str, int], int] = {}


def holds_lock(cfg: Settings) -> bool:
    """True when this thread holds the run lock of `cfg`'s state home."""
    return _HELD.get((str(cfg.lock_file), threading.get_ident()), 0) > 0


@contextlib.contextmanager
def pipeline_lock(
    cfg: Settings, *, wait_seconds: float = 0, shared: bool = False
) -> Iterator[None]:
    """Hold the run lock: two writers never overlap; `shared` readers wait only for writers.

    Not re-entrant: a second hold waits like any other, even in the same thread (what runs
    inside a run never takes the lock again). After `wait_seconds` a writer gets LockedError
    and a reader WarehouseBusy, both with a Chinese message; nothing is written before.
    """
    key = (str(cfg.lock_file), threading.get_ident())
    cfg.home.mkdir(parents=True, exist_ok=True)
    fh = open(cfg.lock_file, "a+")  # noqa: SIM115 - held for the whole block
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(fh, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                fh.close()
                if shared:
                    raise WarehouseBusy(busy_message(cfg, wait_seconds)) from None
                raise LockedError(
                    f"另一次运行正在写入数据仓库（{shown_path(cfg.lock_file)}），"
                    f"已等待 {wait_seconds:g} 秒仍未结束，本次未做任何改动：请稍后再试"
                ) from None
            time.sleep(0.2)
    if not shared:
        _HELD[key] = _HELD.get(key, 0) + 1
    try:
        yield
    finally:
        if not shared:
            _HELD[key] -= 1
            if not _HELD[key]:
                del _HELD[key]
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def sync_catalogue(con: duckdb.DuckDBPyConnection, catalogue) -> None:
    """Mirror a plan's catalogue into ref.* so analysts can join targets by code."""
    import pandas as pd

    plan = catalogue.plan
    sha = catalogue.sha256
    rows = []
    for t in catalogue.targets:
        row = {"plan_code": plan.code, **t.record()}
        baseline = row.pop("baseline")
        row["baseline_value"] = baseline["value"] if baseline else None
        row["baseline_unit"] = baseline["unit"] if baseline else None
        rows.append(row)
    targets = pd.DataFrame(rows)  # noqa: F841 - scanned by DuckDB below
    depts = pd.DataFrame(  # noqa: F841
        [
            {
                "plan_code": plan.code,
                "code": d.code,
                "name_zh": d.name_zh,
                "short_zh": d.short_zh,
                "route": d.route,
            }
            for d in catalogue.departments
        ]
    )
    with transaction(con):
        con.execute("delete from ref.plans where plan_code = ?", [plan.code])
        con.execute(
            "insert into ref.plans values (?, ?, ?, ?, ?, ?, ?)",
            [plan.code, plan.name_zh, plan.district_zh, plan.year, plan.start, plan.end, sha],
        )
        con.execute("delete from ref.targets where plan_code = ?", [plan.code])
        con.execute(
            "insert into ref.targets by name select * replace (supporting::varchar[] as supporting,"
            " profile::double[] as profile) from targets"
        )
        con.execute("delete from ref.departments where plan_code = ?", [plan.code])
        con.execute("insert into ref.departments by name select * from depts")


# (warehouse file, plan code) -> the catalogue content this process last mirrored there.
_SYNCED: dict[tuple[str, str], str] = {}


def sync_catalogues(con: duckdb.DuckDBPyConnection, catalogues) -> int:
    """sync_catalogue for several plans in one transaction; returns how many were written.

    A province run mirrors 150 plans per step: one transaction instead of 150, and a plan this
    process already mirrored unchanged into this warehouse is skipped (its ref.plans row must
    still be there: a warehouse re-created under the same path is written again). The rows are
    sync_catalogue's (tests/multiplan checks that both write the same).
    """
    import pandas as pd

    db = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()[0]
    stored = dict(con.execute("select plan_code, catalogue_sha from ref.plans").fetchall())
    todo = []
    for cat in {c.plan.code: c for c in catalogues}.values():
        content = cat.model_dump_json()
        if _SYNCED.get((db, cat.plan.code)) != content or stored.get(cat.plan.code) != cat.sha256:
            todo.append((cat, content))
    if not todo:
        return 0
    plans, rows, dept_rows = [], [], []
    for cat, _ in todo:
        plan = cat.plan
        plans.append(
            {
                "plan_code": plan.code,
                "name_zh": plan.name_zh,
                "district_zh": plan.district_zh,
                "year": plan.year,
                "start_date": plan.start,
                "end_date": plan.end,
                "catalogue_sha": cat.sha256,
            }
        )
        for t in cat.targets:
            row = {"plan_code": plan.code, **t.record()}
            baseline = row.pop("baseline")
            row["baseline_value"] = baseline["value"] if baseline else None
            row["baseline_unit"] = baseline["unit"] if baseline else None
            rows.append(row)
        dept_rows += [
            {
                "plan_code": plan.code,
                "code": d.code,
                "name_zh": d.name_zh,
                "short_zh": d.short_zh,
                "route": d.route,
            }
            for d in cat.departments
        ]
    new_plans = pd.DataFrame(plans)  # noqa: F841 - scanned by DuckDB below
    targets = pd.DataFrame(rows)  # noqa: F841
    depts = pd.DataFrame(dept_rows)  # noqa: F841
    codes = [[cat.plan.code for cat, _ in todo]]
    with transaction(con):
        con.execute("delete from ref.plans where plan_code in (select unnest(?))", codes)
        con.execute("insert into ref.plans by name select * from new_plans")
        con.execute("delete from ref.targets where plan_code in (select unnest(?))", codes)
        con.execute(
            "insert into ref.targets by name select * replace (supporting::varchar[] as supporting,"
            " profile::double[] as profile) from targets"
        )
        con.execute("delete from ref.departments where plan_code in (select unnest(?))", codes)
        con.execute("insert into ref.departments by name select * from depts")
    for cat, content in todo:
        _SYNCED[(db, cat.plan.code)] = content
    return len(todo)
