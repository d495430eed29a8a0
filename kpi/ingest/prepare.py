"""Files read and parsed ahead of validation: in this process, or in worker processes.

Everything here depends only on a file and its plan's catalogue, never on the warehouse, so
a large run parses files in parallel while the main process validates and loads the chunk
before. The results are plain picklable values.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import pickle
import queue
import struct
import subprocess
import sys
import traceback
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kpi.ingest.frame import cell_text, find_table, frame_records
from kpi.ingest.read import FileRefused, read_sheets

BATCH_FILES = 64  # files of one plan per task sent to a worker (the catalogue travels once)
POOL_MIN_FILES = 400  # fewer files are parsed in-process: starting workers costs ~1 s
_COL_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class Prepared:
    """A file read and parsed: its identity, or why it is refused, or its rows for validation."""

    name: str
    size: int
    mtime: float
    sha: str
    refusal: tuple[str, str] | None = None  # (reason in Chinese, code)
    records: list[dict] | None = None  # build_frame's rows as dicts
    columns: list[str] = field(default_factory=list)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # sheet -> field -> header
    raw: list[tuple[str, int, str]] = field(default_factory=list)  # (sheet, row, cells as JSON)


@dataclass(frozen=True)
class Limits:
    """The hostile-input caps of the settings."""

    max_file_bytes: int
    max_uncompressed: int


def prepare_file(path: Path, catalogue, as_of: date, limits: Limits) -> Prepared:
    """Read, hash and parse one file; a file that cannot be read as a table is refused."""
    name = path.name  # the name on disk; nothing inside the file ever becomes a path
    st = path.stat()
    if st.st_size > limits.max_file_bytes:
        reason = (
            f"文件“{name}”大小{st.st_size / 1e6:.1f}MB，超过上限{limits.max_file_bytes / 1e6:.0f}MB"
        )
        return Prepared(name, st.st_size, st.st_mtime, sha_of_file(path), (reason, "too_large"))
    data = path.read_bytes()
    out = Prepared(name, st.st_size, st.st_mtime, hashlib.sha256(data).hexdigest())
    try:
        sheets = read_sheets(data, name, max_uncompressed=limits.max_uncompressed)
    except FileRefused as exc:
        out.refusal = (f"文件“{name}”{exc}", exc.code)
        return out
    tables = [t for t in (find_table(s) for s in sheets) if t is not None]
    if not tables:
        if all(not any(c is not None for r in s.rows for c in r) for s in sheets):
            out.refusal = (f"文件“{name}”中没有任何内容（空表）", "empty")
        else:
            out.refusal = (
                f"文件“{name}”中未找到表头（应有一行包含“填报单位”“报告期”“指标代码”“计量单位”等列），"
                "请使用下发的报送模板",
                "no_header",
            )
        return out
    out.records, out.columns = frame_records(tables, catalogue, as_of=as_of)
    out.headers = {t.sheet: {f: h for f, (_, h) in t.columns.items()} for t in tables}
    out.raw = raw_rows(tables, out.records)
    return out


def raw_rows(tables, records: list[dict]) -> list[tuple[str, int, str]]:
    """Every data row as received: header as written -> cell as written (lineage)."""
    wanted = {(rec["sheet"], rec["row"]) for rec in records}
    out = []
    for t in tables:
        header = _header_names(t)
        for number, cells in t.rows:
            if (t.sheet, number) not in wanted:
                continue
            row = {header[j]: cell_text(c) for j, c in enumerate(cells) if c is not None}
            out.append((t.sheet, number, json.dumps(row, ensure_ascii=False)))
    return out


def _header_names(t) -> dict[int, str]:
    """Column index -> the header as written (a column letter where the header is blank)."""
    names = _Names()
    for j, h in enumerate(t.header):
        key = h or _letter(j)
        names[j] = key if key not in names.values() else f"{key}({_letter(j)})"
    return names


class _Names(dict):
    def __missing__(self, j: int) -> str:
        return _letter(j)


def _letter(j: int) -> str:
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = _COL_LETTERS[r] + s
    return f"列{s}"


def sha_of_file(path: Path) -> str:
    """The sha256 of a file read in pieces (for files too large to hold)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def prepare_batch(task: tuple) -> list[Prepared]:
    """prepare_file over a batch of one plan's files (the unit of work of a worker)."""
    catalogue, paths, as_of, limits = task
    return [prepare_file(Path(p), catalogue, as_of, limits) for p in paths]


def prepared(
    jobs: Iterable[tuple[object, Path]],
    as_of: date,
    limits: Limits,
    workers: int,
    ahead: int = 2000,
) -> Iterator[Prepared]:
    """prepare_file for (catalogue, path) jobs, in order; by `workers` processes when > 1.

    Workers start at once and run at most about `ahead` files ahead of the consumer, so that
    memory stays bounded; close() the iterator to stop them.
    """
    tasks = ((batch[0][0], [str(p) for _, p in batch], as_of, limits) for batch in _batches(jobs))
    if workers <= 1:
        return (p for task in tasks for p in prepare_batch(task))
    return _Pool(tasks, workers, max(2 * workers, -(-ahead // BATCH_FILES)))


class _Pool:
    """Worker processes fed over pipes, their results consumed in order.

    Workers are started as `python -m kpi.ingest.worker`: a fork would copy DuckDB's and GX's
    threads, and multiprocessing's spawn would re-run the caller's main script in each worker.
    """

    def __init__(self, tasks: Iterator[tuple], workers: int, window: int):
        self.tasks = tasks
        self.procs = [_start() for _ in range(workers)]
        self.idle: queue.Queue = queue.Queue()
        for proc in self.procs:
            self.idle.put(proc)
        self.threads = ThreadPoolExecutor(workers)
        self.window = deque(
            self.threads.submit(self._run, t) for t in itertools.islice(tasks, window)
        )
        self.ready: deque[Prepared] = deque()

    def _run(self, task: tuple) -> list[Prepared]:
        proc = self.idle.get()
        try:
            _send(proc.stdin, task)
            status, value = _receive(proc.stdout)
        finally:
            self.idle.put(proc)
        if status != "ok":
            raise RuntimeError(f"a parsing worker failed:\n{value}")
        return value

    def __iter__(self) -> _Pool:
        return self

    def __next__(self) -> Prepared:
        while not self.ready:
            if not self.window:
                self.close()
                raise StopIteration
            self.ready.extend(self.window.popleft().result())
            for task in itertools.islice(self.tasks, 1):
                self.window.append(self.threads.submit(self._run, task))
        return self.ready.popleft()

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        if self.threads is None:
            return
        self.threads.shutdown(wait=True, cancel_futures=True)
        self.threads = None
        for proc in self.procs:
            proc.stdin.close()  # end of input: the worker exits
        for proc in self.procs:
            proc.wait(timeout=60)


def _start() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "kpi.ingest.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )


def _send(stream, value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream) -> object:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("a parsing worker ended early")
    return pickle.loads(stream.read(struct.unpack("<Q", head)[0]))


def serve() -> None:
    """A worker: prepare_batch for each task read from stdin, results to stdout, until EOF."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # anything printed must not corrupt the result stream
    while True:
        try:
            task = _receive(stdin)
        except EOFError:
            return
        try:
            _send(stdout, ("ok", prepare_batch(task)))
        except Exception:  # reported to the parent, which raises it there
            _send(stdout, ("error", traceback.format_exc()))


def _batches(jobs: Iterable[tuple[object, Path]]) -> Iterator[list[tuple[object, Path]]]:
    """Runs of consecutive jobs of one catalogue, at most BATCH_FILES long."""
    batch: list[tuple[object, Path]] = []
    for job in jobs:
        if batch and (job[0] is not batch[0][0] or len(batch) == BATCH_FILES):
            yield batch
            batch = []
        batch.append(job)
    if batch:
        yield batch


def auto_workers(n_files: int) -> int:
    """Worker processes for a run of n files: none for a night, the CPUs for a backfill."""
    return min(os.cpu_count() or 1, 4) if n_files >= POOL_MIN_FILES else 1
