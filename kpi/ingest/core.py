"""Ingesting submissions: read, validate, quarantine, load, archive, and write the receipt.

Files go through in chunks of up to CHUNK_FILES, in the order given. Each file is read and parsed
on its own; the rows of all files of a chunk are validated together in one Great Expectations
run (kpi.ingest.validate.run_rules_many: the same findings per file and row as one run per file);
then the chunk loads in ONE transaction. A crash therefore leaves nothing of any file of the
chunk (none is half-loaded), and a rerun ingests them again. A file's outcome never depends on
later files, and a bad file never changes what was accepted before it. Receipts are the same as
when each file was ingested alone, in order.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import operator
import os
import resource
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from kpi import clock
from kpi.config import Settings
from kpi.contract import COLUMNS, STATUS_VOCAB
from kpi.ingest.failpoints import failpoint
from kpi.ingest.frame import YTD_KINDS, previous_values
from kpi.ingest.inbox import skipped_receipt
from kpi.ingest.prepare import (
    Prepared,
    archive_name,
    auto_workers,
    clear_staging,
    limits_of,
    prepared,
)
from kpi.ingest.quarantine import file_reason, listed, public, row_entries
from kpi.ingest.store import compare, current_for_targets, load_batch, lookup_submissions
from kpi.ingest.text import clip, stored_name
from kpi.ingest.validate import FileRows, load_rules, rule_columns, run_rules_many, warm_up
from kpi.warehouse import connect, open_snapshot, sync_catalogues
from transforms.periods import month_end

log = logging.getLogger("kpi.ingest")
chunk_log = logging.getLogger("kpi.ingest.chunks")  # one line per chunk: where a run's time went
GROWTH_BAND = (
    -50.0,
    100.0,
)  # plausible year-to-date growth, %; outside it is a typo or a unit slip
# Files validated and loaded together (and lost together by a crash, then ingested again).
# GX costs ~0.3 s per run whatever its size; 4,000 template files (~18,000 rows) add ~150 MB
# to the ~600 MB of an ingesting process (BENCHMARKS.md: 2,000 was 3% slower, 60 MB smaller).
# A chunk also ends at CHUNK_ROWS rows, so that its memory is bounded whatever the files hold
# (each is capped at max_rows): the same bound holds the rows parsed ahead of it.
CHUNK_FILES = 4000
CHUNK_ROWS = 20_000
# Files parsed ahead of the chunk being validated, kept packed (~1 KB a row): enough to keep
# the workers busy while a chunk is validated and loaded.
AHEAD_FILES = 4000
AHEAD_ROWS = 20_000
# Frame columns filled from the warehouse's current values (rules reading them run after the
# rows of earlier files are known to be accepted).
PREVIOUS_COLUMNS = frozenset({"previous_value", "previous_period"})
# Allocations between young collections during a run (Python's default is 700; 20,000
# measured 1 s slower over 14,000 files than 100,000). A chunk of CHUNK_ROWS rows makes fewer
# than this many lasting objects, so no young collection traverses a chunk's rows, frames and
# observations while they are still in use (~1 CPU-s a province backfill at 100,000, tenth
# pass, part C). What a chunk leaves is frozen when it ends (_run).
GC_YOUNG = 1_000_000
ARCHIVE_THREADS = 4  # archive copies are written by threads: file I/O, not Python, is the cost


class _Refusal(Exception):
    """The whole file is refused; `code` names why, for receipts and tests."""

    def __init__(self, reason: str, code: str):
        super().__init__(reason)
        self.reason, self.code = reason, code


def ingest_files(
    cfg: Settings,
    catalogue,
    paths,
    *,
    as_of: date | None = None,
    run_id: str | None = None,
    received_at: datetime | None = None,
) -> list[dict]:
    """Ingest the given files (left in place; a copy is archived); one receipt per file."""
    [receipts] = ingest_plans(
        cfg, [(catalogue, paths)], as_of=as_of, run_id=run_id, received_at=received_at
    )
    return receipts


def ingest_plans(
    cfg: Settings,
    batches,
    *,
    as_of: date | None = None,
    run_id: str | None = None,
    received_at: datetime | None = None,
    workers: int | None = None,
) -> list[list[dict]]:
    """Ingest the files of several plans, [(catalogue, paths), ...], in order; receipts per plan.

    The same as ingest_files once per plan, but files of plans with the same rules (the same
    targets and year) are validated together: a province backfill pays GX's fixed cost once per
    chunk, not once per plan. `workers` processes parse files ahead (default: the CPUs for a
    large run, none for a small one).
    """
    as_of = as_of or clock.today(cfg.tz)
    batches = [(cat, [Path(p) for p in paths]) for cat, paths in batches]
    with _collector():  # a backfill's files are tens of thousands of objects that live to the end
        jobs = [
            _File(n, cat, p, from_inbox=False)
            for n, (cat, paths) in enumerate(batches)
            for p in paths
        ]
        _run(cfg, [cat for cat, _ in batches], jobs, as_of, run_id, received_at, workers)
    out: list[list[dict]] = [[] for _ in batches]
    for job in jobs:
        out[job.batch].append(job.receipt)
    return out


def ingest_listed(
    cfg: Settings, catalogue, files: list[Path], as_of: date, run_id: str | None
) -> list[dict]:
    """Ingest a plan's inbox files (listed by `inbox.ingest_inbox`, in arrival order); receipts."""
    with _collector():
        jobs = [_File(0, catalogue, p, from_inbox=True) for p in files]
        _run(cfg, [catalogue], jobs, as_of, run_id, None, None)
    return [job.receipt for job in jobs]


def check_file(cfg: Settings, catalogue, path, *, as_of: date | None = None) -> dict:
    """The receipt a file would get if ingested now; writes nothing and takes no lock.

    The same reading, caps, rules and words as ingest_files. The values a file is compared with
    (earlier periods, revisions, files sent before) come from the published snapshot, when one
    exists: the web desk checks an upload while a nightly run holds the warehouse.
    """
    as_of = as_of or clock.today(cfg.tz)
    job = _File(0, catalogue, Path(path), from_inbox=False)
    stream = prepared([(catalogue, job.path)], as_of, limits_of(cfg), 1)
    try:
        job.prep = next(stream)
    finally:
        stream.close()
    if job.prep.refusal and job.prep.refusal[1] == "vanished":
        return skipped_receipt(job.prep.name, catalogue.plan.code, job.prep.refusal[0])
    with _snapshot(cfg) as con:
        _chunk(cfg, con, [job], as_of, None, None, None, _Clock(), store=False)
    return job.receipt


@contextlib.contextmanager
def _snapshot(cfg: Settings):
    """A read-only connection to the published snapshot, or None when there is none yet."""
    try:
        con = open_snapshot(cfg)
    except FileNotFoundError:
        yield None
        return
    try:
        yield con
    finally:
        con.close()


def _sync(cfg: Settings, catalogues) -> None:
    with connect(cfg) as con:
        sync_catalogues(con, catalogues)


@dataclass(eq=False)
class _File:
    """One file on its way through a chunk: what was read, found and decided."""

    batch: int
    catalogue: object
    path: Path
    from_inbox: bool
    prep: Prepared | None = None
    name: str = ""
    sha: str = ""  # content hash (names the archived copy)
    id: str = ""  # submission id: the content hash, salted with the plan if another holds it
    base: dict = field(default_factory=dict)
    existing: dict | None = None  # the stored submission it duplicates
    first: _File | None = None  # the earlier file of the chunk it duplicates
    refusal: _Refusal | None = None
    rows: FileRows | None = None
    findings: list = field(default_factory=list)
    quarantined: set = field(default_factory=set)
    outcome: dict = field(default_factory=dict)  # accepted rid -> (new|unchanged|revision, obs)
    submission: dict | None = None
    receipt: dict | None = None

    def release(self) -> None:
        """Drop all but the receipt once the chunk is stored: a backfill holds every file."""
        self.prep = self.rows = self.submission = self.existing = self.first = None
        self.findings, self.quarantined, self.outcome, self.base = [], set(), {}, {}


def _run(cfg: Settings, catalogues, jobs: list[_File], as_of, run_id, received_at, workers):
    workers = auto_workers(len(jobs)) if workers is None else max(1, workers)
    clear_staging(str(cfg.archive))  # what a killed run staged and never renamed
    # Worker processes parse the next chunk while this process validates and loads one.
    stream = prepared(
        ((f.catalogue, f.path) for f in jobs),
        as_of,
        limits_of(cfg),
        workers,
        AHEAD_ROWS,
        AHEAD_FILES,
        str(cfg.archive),
    )
    if workers > 1:
        # Importing GX takes seconds of this process's time, while it only waits for the
        # workers' first files: do it meanwhile.
        threading.Thread(target=warm_up, daemon=True).start()
    clock = _Clock()
    todo = iter(jobs)
    try:
        _sync(cfg, catalogues)
        clock.lap("sync")
        with ThreadPoolExecutor(ARCHIVE_THREADS) as io:
            while chunk := _next_chunk(todo, stream):
                clock.lap("parse")
                gone = [f for f in chunk if f.prep.refusal and f.prep.refusal[1] == "vanished"]
                for f in gone:
                    f.receipt = skipped_receipt(
                        f.prep.name, f.catalogue.plan.code, f.prep.refusal[0]
                    )
                chunk = [f for f in chunk if f not in gone]
                if chunk:
                    try:
                        with connect(cfg) as con:
                            _chunk(cfg, con, chunk, as_of, run_id, received_at, io, clock)
                    except BaseException:
                        _unstage(chunk)  # nothing of the chunk is stored: no rename will come
                        raise
                    failpoint("tidy")  # stored, nothing moved out of the inbox yet
                    _tidy(cfg, chunk)
                for f in chunk:
                    f.release()
                # What survives a chunk (its receipts) survives the run: keep the collector
                # from scanning it again and again (full collections grew with every chunk,
                # 0.3-0.5 s pauses). Unfrozen when the run ends. Not collected first: a chunk
                # leaves ~80 objects of cyclic garbage, and collecting them cost ~0.4 CPU-s a
                # backfill (BENCHMARKS.md, tenth pass, part C).
                gc.freeze()
                clock = _Clock()
    finally:
        stream.close()


@contextlib.contextmanager
def _collector():
    """Fewer collections during a run, and none rescanning what lived before it; restored after.

    What is alive at the start (catalogues, modules) lives through the run, and a run allocates
    millions of short-lived rows and dicts. Full collections rescanning the same objects, and
    young ones promoted only to die a moment later, cost a backfill ~3 s of this process's time
    (BENCHMARKS.md); so did building a backfill's 36,000 files before the run began (seventh
    pass, part B).
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], GC_YOUNG), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _next_chunk(todo, stream) -> list[_File]:
    """The next files to validate and load together: CHUNK_FILES, or CHUNK_ROWS rows at most."""
    chunk, rows = [], 0
    for f in todo:
        f.prep = next(stream)
        chunk.append(f)
        rows += f.prep.weight
        if len(chunk) >= CHUNK_FILES or rows >= CHUNK_ROWS:
            break
    return chunk


def _chunk(
    cfg: Settings, con, chunk, as_of: date, run_id, received_at, io, clock, *, store: bool = True
) -> None:
    """Validate and load one chunk of parsed files (one transaction for the load).

    With store=False (check_file) everything is decided the same way and nothing is written;
    `con` may then be a read-only snapshot, or None for an empty warehouse.
    """
    for f in chunk:
        _take(cfg, f, run_id, received_at)
    ids = [i for f in chunk for i in (f.sha, _salted(f))]
    stored = lookup_submissions(con, ids) if con is not None else {}
    first_of: dict[tuple[str, str], _File] = {}
    taken = set(stored)
    for f in chunk:
        plan = f.catalogue.plan.code
        mine = [
            stored[i] for i in (f.sha, _salted(f)) if stored.get(i, {}).get("plan_code") == plan
        ]
        if mine:
            f.existing = mine[0]
        elif (plan, f.sha) in first_of:
            f.first = first_of[(plan, f.sha)]
        else:
            first_of[(plan, f.sha)] = f
            _identify(f, taken)
            _parse(f, as_of)
    fresh = [f for f in chunk if f.existing is None and f.first is None]
    parsed = [f for f in fresh if f.refusal is None]

    rules = load_rules()
    later = tuple(r for r in rules if rule_columns(r) & PREVIOUS_COLUMNS)
    first_rules = tuple(r for r in rules if r not in later)
    _validate(parsed, first_rules, rules, first=True)
    failpoint("validate")
    clock.lap("validate")
    parsed = [f for f in parsed if f.refusal is None]
    state = current_for_targets(con, _pairs(parsed)) if con is not None else {}
    held: dict[tuple[str, str], dict] = {}  # the year-to-date values in `state`, kept up to date
    for f in parsed:
        _safely(f, "decide", _decide, f, state, later, held)
    clock.lap("decide")
    deferred = [f for f in parsed if f.refusal is None]
    # The archive copies of the files that will be stored are written by threads meanwhile;
    # all must exist before the commit.
    # A task per thread, not per file: 36,000 futures cost this process seconds.
    parts = [deferred[i::ARCHIVE_THREADS] for i in range(ARCHIVE_THREADS)]
    copies = [io.submit(_archive_all, cfg, part) for part in parts if part] if store else []
    if later and not any(r.severity == "critical" for r in later):
        _validate(deferred, later, rules, first=False)
    clock.lap("validate previous")

    submissions, rows, observations, rejections, superseded = [], [], [], [], []
    for f in fresh:
        if f.refusal is None:
            mine: tuple[list, ...] = ([], [], [], [], [])
            if _safely(f, "records", _accept, cfg, f, *mine):
                for out, part in zip(
                    (submissions, rows, observations, rejections, superseded), mine, strict=True
                ):
                    out.extend(part)
                continue
        _refused_records(cfg, f, submissions, rejections)
    in_chunk = {o["obs_id"] for o in observations}
    superseded_stored = [s for s in superseded if s not in in_chunk]
    revised = set(superseded)
    for o in observations:
        if o["obs_id"] in revised:
            o["is_current"] = False  # revised again later in this chunk
    for copy in copies:
        copy.result()
    kept = set(deferred) if store else set()
    _unstage([f for f in chunk if f not in kept])
    clock.lap("records")
    if store:
        for f in fresh:
            if f.refusal is None:
                log.info(
                    "loading %s: %d rows, %d quarantined",
                    f.name,
                    len(f.rows.rows),
                    len(f.quarantined),
                )
        load_batch(con, submissions, rows, observations, rejections, superseded_stored)
        clock.lap("load")
        for f in fresh:
            if f.refusal is None:
                log.info("loaded %s: %s", f.name, f.receipt["status"])
    for f in chunk:
        if f.existing is not None or f.first is not None:
            f.receipt = _duplicate_receipt(f, f.existing or _as_existing(f.first))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    chunk_log.info(
        "chunk of %d files (%d new): %s; peak RSS %.0f MB", len(chunk), len(fresh), clock, peak
    )


class _Clock:
    """Seconds spent per phase of a chunk, for the log (where a slow night went)."""

    def __init__(self):
        self.spent: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.spent[phase] = self.spent.get(phase, 0.0) + now - self.last
        self.last = now

    def __str__(self) -> str:
        return ", ".join(f"{k} {v:.2f} s" for k, v in self.spent.items())


def _salted(f: _File) -> str:
    return hashlib.sha256(f"{f.catalogue.plan.code}:{f.sha}".encode()).hexdigest()


def _identify(f: _File, taken: set[str]) -> None:
    """The submission id: the content hash, unless another plan already holds the same bytes.

    Two districts' departments can send byte-identical files (a .csv of milestone statuses has
    no title): each plan keeps its own copy, under the hash salted with the plan code.
    Duplicates are judged within a plan only.
    """
    sid = f.sha if f.sha not in taken else _salted(f)
    taken.add(sid)
    f.base["submission_id"] = f.id = sid


def _take(cfg: Settings, f: _File, run_id, received_at) -> None:
    """What the file is, from its parse: name, size, hash, arrival."""
    p = f.prep
    f.name, f.sha = p.name, p.sha
    received = received_at or datetime.fromtimestamp(p.mtime, cfg.tz).replace(tzinfo=None)
    log.info("ingest %s (%d bytes, sha %s)", f.name, p.size, f.sha[:12])
    f.base = {
        "submission_id": f.sha,
        "plan_code": f.catalogue.plan.code,
        "file_name": f.name,
        "size_bytes": p.size,
        "received_at": received,
        "run_id": run_id,
    }


def _parse(f: _File, as_of: date) -> None:
    """The file's rows for validation, or its refusal (it could not be read as a table)."""
    p = f.prep
    if p.refusal is not None:
        f.refusal = _Refusal(*p.refusal)
        return
    f.rows = FileRows(p.rows, p.columns, _params(f.catalogue, as_of), keys=p.keys)


def _pairs(files: list[_File]) -> list[tuple[str, str]]:
    pairs = {(f.catalogue.plan.code, code) for f in files for code in f.rows.column("code") if code}
    return sorted(pairs)


def _in_order(findings: list, rules) -> list:
    order = {r.id: n for n, r in enumerate(rules)}
    return sorted(findings, key=lambda x: order[x.rule.id])


def _validate(files: list[_File], rules: tuple, order: tuple, *, first: bool) -> None:
    """Run rules over the files' rows together; a file whose rows break GX itself is refused."""
    try:
        found = run_rules_many([f.rows for f in files], rules)
    except Exception:  # one file's rows made a rule fail to run: find it, keep the others
        log.exception("validating %d files together failed; validating them one by one", len(files))
        found = []
        for f in files:
            try:
                [one] = run_rules_many([f.rows], rules)
            except Exception:
                log.exception("validating %s failed", f.name)
                f.refusal = _unexpected(f)
                one = []
            found.append(one)
    for f, more in zip(files, found, strict=True):
        if f.refusal is None:
            f.findings = more if first else _in_order(f.findings + more, order)


def _unexpected(f: _File) -> _Refusal:
    return _Refusal(
        f"文件“{clip(f.name)}”处理时发生意外错误，无法处理，请检查文件后重新报送"
        "（已记录，管理员可查看日志）",
        "unexpected",
    )


def _safely(f: _File, step: str, fn, *args) -> bool:
    """fn(*args) for one file; an unforeseen failure refuses that file only (False)."""
    try:
        fn(*args)
        return True
    except Exception:
        log.exception("%s of %s failed; the file is refused", step, f.name)
        f.refusal = _unexpected(f)
        f.receipt = None
        return False


def _decide(f: _File, state: dict, later: tuple, held: dict) -> None:
    """Refusal or quarantine of one file, then its accepted rows become the current values.

    Files are decided in order: the year-to-date check of a file reads the values accepted from
    the files before it, exactly as when each file was ingested alone.
    """
    refused = file_reason(f.findings, file_name=f.name)
    if refused:
        f.refusal = _Refusal(*refused)
        return
    plan = f.catalogue.plan.code
    rows = f.rows
    # Only cumulative and count targets compare with earlier periods (frame.add_previous).
    ytd = rows.tuples(_YTD_FIELDS)
    codes = {code for code, kind, *_ in ytd if code and kind in YTD_KINDS}
    previous: dict[str, list[tuple]] = {}
    for code in codes:
        values = [v for v in _held(held, state, (plan, code)).values() if v is not None]
        if values:
            previous[code] = values
    rows.previous = previous_values(ytd, previous)
    if any(r.severity == "critical" for r in later):
        # A rule that can quarantine on earlier files' values: this file's verdict must be known
        # before the next file reads it. Exact, and one GX run per file.
        [more] = run_rules_many([f.rows], later)
        f.findings = _in_order(f.findings + more, load_rules())
    critical = {
        rid
        for x in f.findings
        if x.rule.scope == "row" and x.rule.severity == "critical"
        for rid in x.rids
    }
    outcome, changes = {}, []
    at = rows.index()
    rid_at, fields = at[_RID], operator.itemgetter(*(at[k] for k in _OBS_FIELDS))
    raw_at = [at.get(k) for k in _OBS_RAW]  # a file without those columns has no such keys
    for row in rows.rows:
        rid = row[rid_at]
        if rid in critical:
            continue
        raw = [None if i is None else row[i] for i in raw_at]
        obs = _observation(fields(row), *raw, f.base, [])
        key = (plan, obs["target_code"])
        kind, revision_no, supersedes = compare(obs, state.get(key, {}).get(obs["period"]))
        outcome[rid] = (kind, obs)
        if kind != "unchanged":
            obs.update(revision_no=revision_no, supersedes=supersedes)
            changes.append((key, obs))
    # Only a file decided to the end changes what the next files compare with.
    f.quarantined, f.outcome = critical, outcome
    for key, obs in changes:
        state.setdefault(key, {})[obs["period"]] = _Current(obs)
        if (values := held.get(key)) is not None:
            _hold(values, obs["period"], obs["value"], obs["period_year"], obs["period_month"])


def _held(held: dict, state: dict, key: tuple[str, str]) -> dict:
    """period -> (month index, period, value) of a target's current values in `state`, in its order.

    Built once per target and chunk, then kept by _decide as it changes `state`: reading every
    earlier period of every target again for each file cost a backfill ~1 CPU-s (BENCHMARKS.md).
    A null value is kept as None (it has nothing to compare with), so the order stays the same.
    """
    values = held.get(key)
    if values is None:
        values = held[key] = {}
        for period, old in state.get(key, {}).items():
            value = getattr(old, "value", None)
            _hold(values, period, value, old.period_year, old.period_month)
    return values


def _hold(values: dict, period: str, value, year, month) -> None:
    if value is None or value != value:  # stored null (NaN in a frame)
        values[period] = None
    else:
        values[period] = (int(year) * 12 + int(month) - 1, period, value)


class _Current:
    """A row accepted earlier in the chunk, read like a stored one (attributes), without a copy.

    What is read of it (the payload, revision, id, period, value) is fixed once it is decided.
    """

    __slots__ = ("obs",)

    def __init__(self, obs: dict):
        self.obs = obs

    def __getattr__(self, name: str):
        try:
            return self.obs[name]
        except KeyError:
            raise AttributeError(name) from None


def _accept(cfg, f: _File, submissions, rows_out, observations, rejections, superseded):
    """The receipt and the records of a readable file (accepted, partial or all rows rejected)."""
    name, sha, base = f.name, f.id, f.base
    rows = f.rows
    params = rows.params
    headers = f.prep.headers
    # Dicts of the rows only for a file whose rows are reported one by one (few files).
    records = rows.records if any(x.rule.scope == "row" for x in f.findings) else []
    entries = row_entries(records, f.findings, file_name=name, headers=headers, params=params)
    critical = [e for e in entries if e["severity"] == "critical"]
    quarantined = {e["_rid"] for e in critical}
    # A warning flags an accepted row; a quarantined row's reasons are its rejections.
    warnings = [e for e in entries if e["severity"] == "warning" and e["_rid"] not in quarantined]
    # Rows are listed one by one up to a cap; the rest are counted (a file of thousands of bad
    # rows must not make a receipt of megabytes).
    shown, rest = listed(critical, cfg.max_listed_rows)
    shown_warnings, rest_warnings = listed(warnings, cfg.max_listed_rows)
    entries = shown + shown_warnings
    flags: dict[int, list[str]] = {}
    for e in warnings:
        flags.setdefault(e["_rid"], []).append(e["rule"])
    rids, departments = rows.values([_RID, "department_code"])
    accepted = [rid for rid in rids if rid not in quarantined]
    dept = _file_department(departments)
    status = "accepted" if not quarantined else ("partial" if accepted else "rejected")

    revisions = unchanged = 0
    for rid in accepted:
        kind, obs = f.outcome[rid]
        if kind == "unchanged":
            unchanged += 1  # the same value again is not a revision
            continue
        obs["flags"] = flags.get(int(rid), [])
        if kind == "revision":
            revisions += 1
            superseded.append(obs["supersedes"])
        observations.append(obs)
    rows_out.extend(
        {"submission_id": sha, "sheet": sheet, "row_number": row, "cells": cells}
        for sheet, row, cells in f.prep.raw
    )
    rejections.extend(_rejection(e, base) for e in entries)
    rejections.extend(_unlisted(rest, rest_warnings, base, f.catalogue, cfg.max_listed_rows))
    f.receipt = {
        "file": name,
        "submission_id": sha,
        "department": dept,
        "status": status,
        "accepted": len(accepted),
        "rejected": [public(e) for e in shown],
        "warnings": [public(e) for e in shown_warnings],
        "revisions": revisions,
        "unchanged": unchanged,
        "reason": None,
        "refusal": None,
        "received_at": base["received_at"].isoformat(sep=" "),
        "plan": base["plan_code"],
        "rejected_rows": len(quarantined),
        "rejected_unlisted": len({(e["sheet"], e["row"]) for e in rest}),
        "warnings_unlisted": len({(e["sheet"], e["row"]) for e in rest_warnings}),
        "blank_rows": f.prep.blank_rows,
    }
    f.submission = {
        **base,
        "department_code": dept,
        "archive_path": _archive_rel(cfg, f.path, f.sha),
        "ingested_at": clock.local_now(cfg.tz),
        "status": status,
        "reason_zh": None,
        "n_rows": len(rows.rows),
        "n_accepted": len(accepted),
        "n_rejected": len(quarantined),
        "n_warnings": len({e["_rid"] for e in warnings}),
        "n_revisions": revisions,
        "n_unchanged": unchanged,
        "receipt": _RECEIPT_JSON(f.receipt),
    }
    submissions.append(f.submission)


def _unlisted(rest: list, rest_warnings: list, base: dict, catalogue, cap: int) -> list[dict]:
    """staged.rejections rows standing for the rows not listed: a count per target and period.

    They keep what progress reads (a period whose only rows were quarantined is 数据异常), for
    every target of the plan; rows whose code is not the plan's are counted in one line.
    """
    if not rest and not rest_warnings:
        return []
    known = {t.code for t in catalogue.targets}
    groups: dict[tuple, set] = {}
    for e in rest:
        code = e["_target_code"] if e["_target_code"] in known else None
        key = ("critical", code, e["_period"] if code else None)
        groups.setdefault(key, set()).add((e["sheet"], e["row"]))
    if rest_warnings:
        groups[("warning", None, None)] = {(e["sheet"], e["row"]) for e in rest_warnings}
    out = []
    for (severity, code, period), rows in sorted(groups.items(), key=lambda kv: str(kv[0])):
        what = "被退回" if severity == "critical" else "有提示"
        of = f"指标“{code}”报告期{period}" if code else ""
        out.append(
            {
                "submission_id": base["submission_id"],
                "plan_code": base["plan_code"],
                "file_name": base["file_name"],
                "sheet": None,
                "row_number": None,
                "column_name": None,
                "value_raw": None,
                "reason_zh": (
                    f"文件“{clip(base['file_name'])}”另有{of}{len(rows)}行{what}，"
                    f"未逐行列出（每个文件逐行列出前{cap}行）"
                ),
                "expectation": "rows_not_listed",
                "severity": severity,
                "target_code": code,
                "period": period,
                "department_code": None,
            }
        )
    return out


def _params(catalogue, as_of: date) -> dict:
    key = (id(catalogue), as_of)
    hit = _PARAMS.get(key)
    if hit is None or hit[0] is not catalogue:
        hit = _PARAMS[key] = (catalogue, _new_params(catalogue, as_of))
        if len(_PARAMS) > 1024:  # a long-lived process: forget old runs' plans
            _PARAMS.clear()
            _PARAMS[key] = hit
    return hit[1]


# Run-time values of the suite, shared by a plan's files (one list of target codes per plan).
_PARAMS: dict[tuple[int, date], tuple[object, dict]] = {}


def _new_params(catalogue, as_of: date) -> dict:
    return {
        "required_columns": [f"{c.field}_raw" for c in COLUMNS if c.required],
        "target_codes": sorted(t.code for t in catalogue.targets),
        "status_values": list(STATUS_VOCAB),
        "plan_year": catalogue.plan.year,
        "as_of_index": as_of.year * 12 + as_of.month - 1,
        "as_of": as_of.isoformat(),
        "growth_min": GROWTH_BAND[0],
        "growth_max": GROWTH_BAND[1],
    }


def _file_department(departments) -> str | None:
    """The most frequent department code; of equally frequent ones, the first seen."""
    codes: dict[str, int] = {}
    for c in departments:
        if isinstance(c, str):
            codes[c] = codes.get(c, 0) + 1
    # max keeps the first of equal counts, as Counter.most_common(1) does.
    return max(codes, key=codes.__getitem__) if codes else None


# (year, month) -> its last day: every row asks, and a backfill has a few dozen months.
_MONTH_END: dict[tuple[int, int], date] = {}


def _none(v):
    return None if v is None or (isinstance(v, float) and v != v) else v


# What an observation is made of (a row's fields, in _observation's order), what it reads to
# find earlier year-to-date values, and the raw cells a file may lack (no such column).
_OBS_FIELDS = (
    "period_year",
    "period_month",
    "completion_date",
    "sheet",
    "row",
    "code",
    "department_code",
    "period",
    "period_start_month",
    "value",
    "unit",
    "growth_pct",
    "prior_value",
    "reference_value",
    "milestone_status",
    "note",
)
_OBS_RAW = ("value_raw", "unit_raw")
_YTD_FIELDS = ["code", "target_kind", "period_index", "period", "value"]
_RID = "_rid"


def _observation(fields: tuple, value_raw, unit_raw, base: dict, flags: list[str]) -> dict:
    """The staged observation of one accepted row: `fields` are its _OBS_FIELDS."""
    (
        year,
        month,
        done,
        sheet,
        row,
        code,
        department,
        period,
        start_month,
        value,
        unit,
        growth_pct,
        prior_value,
        reference_value,
        milestone_status,
        note,
    ) = fields
    year, month = int(year), int(month)
    done = _none(done)
    end = _MONTH_END.get((year, month))
    if end is None:
        end = _MONTH_END[(year, month)] = month_end(year, month)
    return {
        "obs_id": f"{base['submission_id'][:16]}:{sheet}:{int(row)}",
        "plan_code": base["plan_code"],
        "target_code": code,
        "department_code": department,
        "period": period,
        "period_year": year,
        "period_month": month,
        "period_start_month": int(start_month),
        "period_end": end,
        "value": _none(value),
        "unit": _none(unit),
        "value_raw": value_raw or None,
        "unit_raw": unit_raw or None,
        "growth_pct": _none(growth_pct),
        "prior_value": _none(prior_value),
        "reference_value": _none(reference_value),
        "milestone_status": _none(milestone_status),
        "completion_date": date.fromisoformat(done) if done else None,
        "note": _none(note),
        "flags": flags,
        "submission_id": base["submission_id"],
        "file_name": base["file_name"],
        "sheet": sheet,
        "row_number": int(row),
        "received_at": base["received_at"],
        "revision_no": 1,
        "supersedes": None,
        "is_current": True,
    }


def _rejection(e: dict, base: dict) -> dict:
    return {
        "submission_id": base["submission_id"],
        "plan_code": base["plan_code"],
        "file_name": base["file_name"],
        "sheet": e["sheet"],
        "row_number": e["row"],
        "column_name": e["column"],
        "value_raw": e["value"],
        "reason_zh": e["reason"],
        "expectation": e["rule"],
        "severity": e["severity"],
        "target_code": e["_target_code"],
        "period": e["_period"],
        "department_code": e["_department_code"],
    }


def _archive_path(cfg: Settings, path: Path, sha: str) -> Path:
    """archive/<sha[:2]>/<sha><ext>: the raw file's copy, by content."""
    return cfg.archive / sha[:2] / archive_name(path, sha)


def _archive_rel(cfg: Settings, path: Path, sha: str) -> str:
    """_rel(cfg, _archive_path(...)) without building paths: a backfill asks for 36,000."""
    key = (cfg.archive, cfg.home)
    folder = _ARCHIVE_REL.get(key)
    if folder is None:
        folder = _ARCHIVE_REL[key] = _rel(cfg, cfg.archive)
    name = f"{sha[:2]}/{archive_name(path, sha)}"
    return name if folder == "." else f"{folder}/{name}"


_ARCHIVE_REL: dict[tuple[Path, Path], str] = {}
# json.dumps(receipt, ensure_ascii=False, default=str) without building an encoder per file.
_RECEIPT_JSON = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _archive(cfg: Settings, path: Path, sha: str, staged: str | None = None) -> None:
    """Keep the raw file unchanged under its archive path; written once, atomically.

    `staged`: the bytes as the worker read them (archive/.staging/): renamed into place.
    """
    # Paths as text: building pathlib paths cost the backfill more of this process's time than
    # the copies themselves (py-spy, BENCHMARKS.md); _archive_path is the same place.
    folder = os.path.join(cfg.archive, sha[:2])
    name = archive_name(path, sha)
    dest = os.path.join(folder, name)
    if staged is not None:
        try:
            os.replace(staged, dest)
            return
        except FileNotFoundError:  # the folder is new, or the staged copy was removed meanwhile
            os.makedirs(folder, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):  # removed: copied below instead
            os.replace(staged, dest)
            return
    try:
        if os.stat(dest).st_size == os.stat(path).st_size:
            return
    except FileNotFoundError:
        pass
    if folder not in _MADE:  # one mkdir per folder and process, not per file
        os.makedirs(folder, exist_ok=True)
        _MADE.add(folder)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
    shutil.copyfile(path, tmp)
    os.replace(tmp, dest)


_MADE: set[str] = set()


def _archive_all(cfg: Settings, files: list[_File]) -> None:
    for f in files:
        _archive(cfg, f.path, f.sha, f.prep.staged)
        f.prep.staged = None


def _unstage(files: list[_File]) -> None:
    """Remove the staged copies of files that will not be archived (refused, duplicates)."""
    for f in files:
        staged = f.prep.staged if f.prep is not None else None
        if staged is not None:
            f.prep.staged = None
            with contextlib.suppress(OSError):
                os.unlink(staged)


def _rel(cfg: Settings, p: Path) -> str:
    try:
        return str(p.relative_to(cfg.home))
    except ValueError:
        return str(p)


def _refused_records(cfg: Settings, f: _File, submissions: list, rejections: list) -> None:
    """The receipt and records of a file refused whole (set aside with its reason after loading)."""
    sha, name, base, r = f.id, f.name, f.base, f.refusal
    log.warning("refused %s: %s", name, r.reason)
    dest = _aside_path(cfg, sha, name)
    f.receipt = {
        "file": name,
        "submission_id": sha,
        "department": None,
        "status": "rejected",
        "accepted": 0,
        "rejected": [],
        "warnings": [],
        "revisions": 0,
        "unchanged": 0,
        "reason": r.reason,
        "refusal": r.code,
        "received_at": base["received_at"].isoformat(sep=" "),
        "plan": base["plan_code"],
        "rejected_rows": 0,
        "rejected_unlisted": 0,
        "warnings_unlisted": 0,
        "blank_rows": 0,
    }
    f.submission = {
        **base,
        "department_code": None,
        "archive_path": _rel(cfg, dest),
        "ingested_at": clock.local_now(cfg.tz),
        "status": "rejected",
        "reason_zh": r.reason,
        "n_rows": 0,
        "n_accepted": 0,
        "n_rejected": 0,
        "n_warnings": 0,
        "n_revisions": 0,
        "n_unchanged": 0,
        "receipt": _RECEIPT_JSON(f.receipt),
    }
    submissions.append(f.submission)
    rejections.append(
        {
            "submission_id": sha,
            "plan_code": base["plan_code"],
            "file_name": name,
            "sheet": None,
            "row_number": None,
            "column_name": None,
            "value_raw": None,
            "reason_zh": r.reason,
            "expectation": r.code,
            "severity": "critical",
            "target_code": None,
            "period": None,
            "department_code": None,
        }
    )


def _as_existing(f: _File) -> dict:
    """An earlier file of the same chunk as lookup_submissions would return it once stored."""
    sub = f.submission
    keys = ("submission_id", "plan_code", "status", "department_code", "file_name", "received_at")
    return {k: sub[k] for k in (*keys, "archive_path", "reason_zh")}


def _aside_path(cfg: Settings, submission_id: str, name: str) -> Path:
    """rejected/<id[:12]>-<name>: the name cut to a bounded length (any name fits a file system)."""
    return cfg.rejected_dir / f"{submission_id[:12]}-{stored_name(name)}"


def _tidy(cfg: Settings, chunk: list[_File]) -> None:
    """After the chunk is stored: refused files set aside, loaded ones leave the inbox.

    What is stored is stored: a file that cannot be moved (gone, permissions) is logged and left,
    and the next run finds it a duplicate and tries again. Nothing here fails a night.
    """
    for f in chunk:
        try:
            _tidy_file(cfg, f)
        except OSError:
            log.exception("could not move %s out of the inbox; it is tried again next run", f.name)
        failpoint("moving")  # some files moved out, others not yet


def _tidy_file(cfg: Settings, f: _File) -> None:
    if f.existing is not None or f.first is not None:
        existing = f.existing or _as_existing(f.first)
        log.info("duplicate %s of %s", f.name, existing["file_name"])
        if f.from_inbox and f.path.exists():
            _tidy_duplicate(cfg, f, existing)
    elif f.refusal is not None:
        _set_aside(cfg, f.path, _aside_path(cfg, f.id, f.name), f.refusal.reason, f.from_inbox)
    elif f.from_inbox:
        f.path.unlink(missing_ok=True)


def _set_aside(cfg: Settings, path: Path, dest: Path, reason: str, move: bool) -> None:
    """A refused file into rejected/ with its reason beside it (moved out of the inbox, or copied)."""
    cfg.rejected_dir.mkdir(parents=True, exist_ok=True)
    if move:
        shutil.move(str(path), dest)
    else:
        shutil.copyfile(path, dest)
    note = dest.with_name(dest.name + ".reason.txt")
    if move or not note.exists():
        note.write_text(reason + "\n", encoding="utf-8")


def _tidy_duplicate(cfg: Settings, f: _File, existing: dict) -> None:
    if existing["status"] == "rejected":
        dest = _aside_path(cfg, existing["submission_id"], f.name)
        _set_aside(cfg, f.path, dest, existing["reason_zh"] or "", move=True)
    else:
        _archive(cfg, f.path, f.sha)  # in case the archive copy was lost
        f.path.unlink()


def _duplicate_receipt(f: _File, existing: dict) -> dict:
    """The same bytes were ingested before: nothing changes."""
    first = existing["received_at"]
    return {
        "file": f.name,
        "submission_id": existing["submission_id"],
        "department": existing["department_code"],
        "status": "duplicate",
        "accepted": 0,
        "rejected": [],
        "warnings": [],
        "revisions": 0,
        "unchanged": 0,
        "reason": (
            f"文件“{clip(f.name)}”与{first:%Y-%m-%d %H:%M}收到的“{clip(existing['file_name'])}”"
            "内容完全相同，"
            "未重复入库"
        ),
        "refusal": None,
        "received_at": None,
        "plan": None,
    }
