"""Files read and parsed ahead of validation, each in a worker process that can be stopped.

Everything here depends only on a file and its plan's catalogue, never on the warehouse. Every
file is parsed in a worker process (`python -m kpi.ingest.worker`), one file at a time, under a
time budget and a memory ceiling. A file that runs over either, or brings its worker down, is
refused with a Chinese reason and the worker is replaced: no file can stop a night. Workers run
ahead of the consumer by a bounded number of rows (memory), and the results come back in order.
Idle workers are kept for the next run of this process (starting one costs about a second).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import pickle
import queue
import selectors
import stat
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import date
from operator import attrgetter
from pathlib import Path

from kpi.ingest.failpoints import failpoint, worker_failpoint
from kpi.ingest.frame import cell_text, find_table, frame_parts, packed
from kpi.ingest.read import Caps, FileRefused, read_sheets
from kpi.ingest.text import clip, display_name, name_key

log = logging.getLogger("kpi.ingest")
POOL_MIN_FILES = 400  # fewer files are parsed by one worker: more cost ~1 s each to start
MAX_POOL_WORKERS = 2  # x parse_memory_mb each: part of the 1 GB the whole process tree may take
STARTUP_SECONDS = 120.0  # a worker that cannot even start is a broken installation, not a file
POLL_SECONDS = 0.05  # how often a busy worker's clock and memory are looked at
IDLE_KEPT = 1  # workers kept for this process's next run
WORKER_NICENESS = 10  # added to the nice value of a pool's workers (a lower CPU priority)
# Files queued on a worker: it keeps parsing while this process's main thread holds the GIL
# and the feeding thread waits for it (up to a switch interval for every blocking call).
QUEUED = 64
RESULT_PIPE_BYTES = 1 << 20  # the pipe of a worker's results (Linux's default ceiling)
# After reading results, the feeding thread lets the next ones gather this long: one turn of its
# loop per few files instead of one per file (each turn costs this process ~0.1 ms of Python).
# Short beside the QUEUED files' parse time; the results pipe (1 MB) holds what gathers meanwhile.
GATHER_SECONDS = 0.002
# While the consumer has this many results ready, the feeding thread lets results gather longer:
# each turn costs this process a GIL hand-over or more per blocking call. Still short beside the
# files queued (QUEUED x ~0.8 ms) and the ready results' validation (~0.5 ms a file); the clocks
# and memory of the workers are then looked at every ~70 ms instead of ~52.
GATHER_AHEAD = 64
GATHER_AHEAD_SECONDS = 0.02
RECYCLE_MB = 200  # a worker that grew beyond this after a file is not kept
CATALOGUES_PER_WORKER = 32  # catalogues a worker keeps (a run sends a plan's files together)
LAYOUTS_PER_WORKER = 256  # row layouts (keys, columns) a worker sends once and then names by number
_COL_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ARCHIVE_EXTS = (".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".csv")
STAGING = ".staging"  # archive/.staging/: parsed files' bytes waiting to be renamed into place
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Prepared:
    """A file read and parsed: its identity, or why it is refused, or its rows for validation."""

    name: str
    size: int
    mtime: float
    sha: str
    refusal: tuple[str, str] | None = None  # (reason in Chinese, code)
    rows: list[tuple] | None = None  # build_frame's rows, one tuple each over `keys` (packed)
    keys: tuple[str, ...] = ()
    columns: list[str] = field(default_factory=list)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # sheet -> field -> header
    raw: list[tuple[str, int, str]] = field(default_factory=list)  # (sheet, row, cells as JSON)
    blank_rows: int = 0  # template rows left blank (ignored)
    error: str | None = None  # the traceback of an unforeseen failure, for the log
    # The bytes read, written to archive/.staging/ by the worker: the ingesting process renames
    # the copy into place if the file is stored, and removes it if not.
    staged: str | None = None

    @property
    def weight(self) -> int:
        """What holding this result costs, in rows (a file counts as one row at least)."""
        return len(self.rows or ()) + 1

    @property
    def records(self) -> list[dict] | None:
        """The rows as dicts (build_frame's rows without the previous-period columns)."""
        if self.rows is None:
            return None
        return [dict(zip(self.keys, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Limits:
    """The hostile-input caps of the settings."""

    max_file_bytes: int
    max_uncompressed: int
    max_rows: int = 5_000
    max_columns: int = 100
    max_cells: int = 200_000
    seconds: float = 30.0  # to read and parse one file
    memory_mb: int = 192  # resident memory of the worker parsing it

    @property
    def caps(self) -> Caps:
        """What read_sheets may read of one file."""
        return Caps(self.max_rows, self.max_columns, self.max_cells, self.max_uncompressed)


def limits_of(cfg) -> Limits:
    """The Limits of a Settings."""
    return Limits(
        cfg.max_file_bytes,
        cfg.max_xlsx_uncompressed_bytes,
        cfg.max_rows,
        cfg.max_columns,
        cfg.max_cells,
        float(cfg.parse_seconds),
        cfg.parse_memory_mb,
    )


def _q(name: str) -> str:
    return f"文件“{clip(name)}”"


def prepare_file(
    path: Path, catalogue, as_of: date, limits: Limits, archive: str | None = None
) -> Prepared:
    """Read, hash and parse one file; never raises: what cannot be read is refused.

    With `archive` (the archive folder), a parsed file's bytes are staged for its archive path
    (Prepared.staged), unless that path holds them already.
    """
    name = display_name(path.name)  # the name on disk; nothing inside a file becomes a path
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return Prepared(
            name,
            0,
            0.0,
            name_key(path.name),
            (f"{_q(name)}在处理前已被移走或改名（可能正在同步），未处理", "vanished"),
        )
    if not stat.S_ISREG(st.st_mode):
        reason = f"{_q(name)}不是普通文件（可能是快捷方式、链接或设备），不予读取"
        return Prepared(name, 0, st.st_mtime, name_key(path.name), (reason, "not_regular"))
    size, sha, data = identity(path, limits.max_file_bytes)
    out = Prepared(name, size, st.st_mtime, sha)
    if data is None:
        if size < 0:
            out.refusal = (f"{_q(name)}无法打开（权限不足或正被其他程序占用）", "unreadable")
        else:
            out.refusal = (
                f"{_q(name)}大小{size / 1e6:.1f}MB，超过上限{limits.max_file_bytes / 1e6:.0f}MB",
                "too_large",
            )
        return out
    try:
        worker_failpoint(path.name)
        _parse(out, data, catalogue, as_of, limits)
        if archive is not None and out.refusal is None:
            out.staged = stage(archive, path, sha, data)
    except FileRefused as exc:
        out.refusal = (f"{_q(name)}{exc}", exc.code)
    except MemoryError:
        out.rows, out.raw = None, []
        out.refusal = memory_refusal(name, limits)
    except Exception:  # a bug or a case nobody foresaw: the file is refused, the night goes on
        out.rows, out.raw = None, []
        out.error = traceback.format_exc()
        out.refusal = (
            f"{_q(name)}读取时发生意外错误，无法处理，请检查文件后重新报送（已记录，管理员可查看日志）",
            "unexpected",
        )
    return out


def _parse(out: Prepared, data: bytes, catalogue, as_of: date, limits: Limits) -> None:
    name = out.name
    sheets = read_sheets(data, name, limits.caps)
    del data
    tables = [t for t in (find_table(s) for s in sheets) if t is not None]
    if not tables:
        if all(not any(c is not None for r in s.rows for c in r) for s in sheets):
            out.refusal = (f"{_q(name)}中没有任何内容（空表）", "empty")
        else:
            out.refusal = (
                f"{_q(name)}中未找到表头（应有一行包含“填报单位”“报告期”“指标代码”“计量单位”等列），"
                "请使用下发的报送模板",
                "no_header",
            )
        return
    records, out.columns, out.blank_rows = frame_parts(tables, catalogue)
    out.keys, out.rows = packed(records, out.columns)
    out.headers = {t.sheet: {f: h for f, (_, h) in t.columns.items()} for t in tables}
    out.raw = raw_rows(tables, records)


def archive_name(path: Path, sha: str) -> str:
    """<sha><ext>: the name of a file's archived copy, by content."""
    ext = path.suffix.lower()
    return f"{sha}{ext if ext in ARCHIVE_EXTS else '.bin'}"


def stage(archive: str, path: Path, sha: str, data: bytes) -> str | None:
    """Write the bytes read to archive/.staging/; None if the archive holds them already.

    The archive copy is then one rename in the ingesting process: writing copies there cost
    it more kernel time than any other step of a backfill (BENCHMARKS.md, sixth pass). The
    bytes are those hashed and parsed. A copy that cannot be staged is made there as before.
    Named `<pid>.<n>.<name>.tmp`: a later run removes what a killed run left (clear_staging).
    """
    name = archive_name(path, sha)
    try:
        if os.stat(os.path.join(archive, sha[:2], name)).st_size == len(data):
            return None
    except OSError:
        pass
    folder = os.path.join(archive, STAGING)
    _STAGED[0] += 1  # unique per file: a rename of an earlier one may be under way
    tmp = os.path.join(folder, f"{os.getpid()}.{_STAGED[0]}.{name}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    try:
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileNotFoundError:
            os.makedirs(folder, exist_ok=True)
            fd = os.open(tmp, flags, 0o666)
        try:
            view = memoryview(data)
            while view:  # a regular file takes it in one write; a full disk raises
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return None
    return tmp


def clear_staging(archive: str) -> None:
    """Remove staged copies left by workers that are gone (a run killed before renaming them)."""
    folder = os.path.join(archive, STAGING)
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        try:
            os.kill(int(name.split(".", 1)[0]), 0)
            continue  # its worker lives (another run's, still staging)
        except ProcessLookupError:
            pass
        except (ValueError, OSError):  # not a staged name, or a process of another user
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, name))


_STAGED = [0]  # files staged by this process


def identity(path: Path, max_bytes: int) -> tuple[int, str, bytes | None]:
    """(size, sha256, bytes) of a file read up to the cap; bytes None when over it (size -1: unreadable).

    Over the cap, the hash is of the first `max_bytes` and the size: an identity, read in bounded
    time whatever the file's size.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = _read_capped(fd, max_bytes)
            if len(data) <= max_bytes:
                return len(data), hashlib.sha256(data).hexdigest(), data
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
    except OSError:
        return -1, name_key(str(path)), None
    h = hashlib.sha256(data[:max_bytes])
    h.update(f":{size}".encode())
    return size, h.hexdigest(), None


def _read_capped(fd: int, max_bytes: int) -> bytes:
    """The file's first `max_bytes` + 1 bytes at most: more than `max_bytes` means over the cap.

    Asked for by the file's size, not the cap: a buffered `read(max_bytes + 1)` allocates the
    whole cap (20 MB) for every 8 KB file, which cost more than reading and hashing it.
    """
    want = min(os.fstat(fd).st_size, max_bytes) + 1  # a hint only: the file may change size
    chunks, got = [], 0
    while got <= max_bytes:
        chunk = os.read(fd, min(want, max_bytes + 1 - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
        want = 1 << 20
    return b"".join(chunks)


def memory_refusal(name: str, limits: Limits) -> tuple[str, str]:
    """The refusal of a file whose parse outgrew the memory ceiling."""
    return (
        f"{_q(name)}读取时占用内存超过上限（{limits.memory_mb}MB），已停止读取"
        "（文件过大或结构异常），请检查后重新报送",
        "memory",
    )


def raw_rows(tables, records: list[dict]) -> list[tuple[str, int, str]]:
    """Every data row as received: header as written -> cell as written (lineage)."""
    wanted = {(rec["sheet"], rec["row"]) for rec in records}
    out = []
    for t in tables:
        sheet = t.sheet
        # A plain list over the widest row: a lookup in the dict subclass cost more per cell.
        names = _column_names(t, max((len(cells) for _, cells in t.rows), default=0))
        for number, cells in t.rows:
            if (sheet, number) not in wanted:
                continue
            # cell_text, its most common case inline (a call per cell cost more)
            row = {
                n: c.strip() if c.__class__ is str else cell_text(c)
                for n, c in zip(names, cells, strict=False)  # names reach the widest row
                if c is not None
            }
            out.append((sheet, number, _JSON(row)))
    return out


NAMES_KEPT = 256  # header rows whose column names a worker remembers (a few templates' a night)
NAMES_KEPT_CHARS = 2_048  # only short header rows are remembered: a worker's memory is capped


def _column_names(t, width: int) -> tuple[str, ...]:
    """_header_names of the first `width` columns, remembered by header: files share templates."""
    header = tuple(t.header)
    if sum(map(len, header)) > NAMES_KEPT_CHARS:
        names = _header_names(t)
        return tuple(names[j] for j in range(width))
    key = (header, width)
    hit = _NAMES.get(key)
    if hit is None:
        if len(_NAMES) >= NAMES_KEPT:
            _NAMES.clear()
        names = _header_names(t)
        hit = _NAMES[key] = tuple(names[j] for j in range(width))
    return hit


_NAMES: dict[tuple, tuple[str, ...]] = {}


def _json_of_text() -> Callable[[dict[str, str]], str]:
    """json.dumps(row, ensure_ascii=False) of a dict of text, its encoder made once, not per row.

    JSONEncoder.encode makes json's C encoder anew for every call (a third of its cost for a
    row of a dozen cells). Without the C encoder (another Python), JSONEncoder.encode as before.
    """
    from json import encoder

    if encoder.c_make_encoder is None:
        return json.JSONEncoder(ensure_ascii=False).encode
    # JSONEncoder(ensure_ascii=False)'s own arguments; no circular check: text has no cycles.
    make = encoder.c_make_encoder(
        None, None, encoder.encode_basestring, None, ": ", ", ", False, False, True
    )
    return lambda row: "".join(make(row, 0))


_JSON = _json_of_text()


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


def auto_workers(n_files: int) -> int:
    """Worker processes for a run of n files: one for a night, the CPUs for a backfill."""
    if n_files < POOL_MIN_FILES:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_POOL_WORKERS))


def prepared(
    jobs: Iterable[tuple[object, Path]],
    as_of: date,
    limits: Limits,
    workers: int,
    ahead_rows: int = 20_000,
    ahead_files: int = 4_000,
    archive: str | None = None,
) -> Iterator[Prepared]:
    """prepare_file for (catalogue, path) jobs, in order, by `workers` processes.

    Results are held ahead of the consumer up to about `ahead_rows` rows (or `ahead_files`
    files); close() the iterator to stop the workers. With `archive`, parsed files are staged
    there (prepare_file); the consumer renames or removes every Prepared.staged it is given.
    """
    return _Pool(iter(jobs), as_of, limits, max(1, workers), ahead_rows, ahead_files, archive)


# --- the workers --------------------------------------------------------------------------------


class _Worker:
    """One parsing process, fed files over a pipe; it parses them in order, one at a time."""

    def __init__(self, memory_mb: int, nice: int = 0):
        env = {
            **os.environ,
            "KPI_PARSE_BACKSTOP_MB": str(max(1024, 4 * memory_mb)),
            "KPI_PARSE_NICE": str(nice),
        }
        self.memory_mb = memory_mb
        self.nice = nice
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kpi.ingest.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.fd = self.proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        # Room for the results of the files queued: the worker keeps parsing while the feeding
        # thread waits for the GIL, instead of blocking on a full 64 KB pipe. Linux only; the
        # pipe's bytes are the kernel's, not counted in anyone's RSS, and bounded by this size.
        with contextlib.suppress(AttributeError, OSError):
            fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, RESULT_PIPE_BYTES)
        self.buf = bytearray()
        self.catalogues: dict[int, object] = {}  # id -> catalogue (kept alive: ids stay unique)
        self.run: tuple | None = None  # the (as_of, limits, archive) sent last
        self.layouts: dict[int, tuple] = {}  # the row layouts (keys, columns) it named, by number
        self.ready = False
        self.started = time.monotonic()
        self.tasks: deque[tuple[int, object, Path]] = deque()  # sent, result not yet read
        self.since = 0.0  # when the first of `tasks` started, as far as this side can tell
        self.paused_at: float | None = None  # results not read (the consumer is behind)
        # Messages go out through a thread of their own: a worker blocked on writing a result
        # does not read its input, and the feeding thread must never wait for it.
        self.outbox: queue.SimpleQueue = queue.SimpleQueue()
        self.writer = threading.Thread(target=self._write, name="kpi-ingest-send", daemon=True)
        self.writer.start()

    def send(self, message: object) -> None:
        self.outbox.put(message)

    def _write(self) -> None:
        stream = self.proc.stdin
        ended = False
        while not ended:
            # Every message waiting goes out in one write: each write gives up the GIL, and
            # taking it back from a busy main thread costs up to a switch interval (5 ms), so
            # one write per file throttled the feed while this process validated (BENCHMARKS.md).
            messages = [self.outbox.get()]
            with contextlib.suppress(queue.Empty):
                while messages[-1] is not None:
                    messages.append(self.outbox.get_nowait())
            if messages[-1] is None:
                ended = True
                messages.pop()
            try:
                stream.write(b"".join(map(_Worker._framed, messages)))
                stream.flush()
            except (OSError, ValueError):  # the worker is gone: its end of file says so
                return
        with contextlib.suppress(OSError):
            stream.close()  # end of input: the worker exits

    @staticmethod
    def _framed(message: object) -> bytes:
        """A message as _receive reads it: its length, then its pickle (bytes: framed already)."""
        if type(message) is bytes:
            return message
        return _frame(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def give(self, files: list[tuple[int, object, Path]], as_of: date, limits: Limits, archive):
        """Queue (index, catalogue, path) files: a message for each run of one catalogue's.

        The catalogue travels once per worker, and the run's settings once per run.
        """
        run = (as_of, limits, archive)
        if run != self.run:
            self.send(("run", *run))
            self.run = run
        if not self.tasks:
            self.since = time.monotonic()
            if self.paused_at is not None:
                self.paused_at = self.since
        start = 0
        for end in range(1, len(files) + 1):
            if end == len(files) or files[end][1] is not files[start][1]:
                key = self._catalogue_key(files[start][1])
                self.send(("files", key, [str(path) for _, _, path in files[start:end]]))
                start = end
        self.tasks.extend(files)

    def _catalogue_key(self, catalogue) -> int:
        """The number the worker knows a catalogue by, the catalogue sent first if it does not."""
        key = id(catalogue)
        if key not in self.catalogues:
            if len(self.catalogues) >= CATALOGUES_PER_WORKER:
                self.send(("reset",))
                self.catalogues.clear()
            self.send(_catalogue_message(key, catalogue))
            self.catalogues[key] = catalogue
        return key

    def messages(self) -> list:
        """The complete messages that have arrived; EOFError once the worker is gone."""
        ended = False
        while True:
            try:
                chunk = os.read(self.fd, RESULT_PIPE_BYTES)
            except BlockingIOError:
                break
            if not chunk:
                ended = True
                break
            self.buf += chunk
            if len(chunk) < RESULT_PIPE_BYTES:
                # The pipe is empty for now: another read would only say so, and each read
                # gives up the GIL (the end of file, if it came meanwhile, is read next turn).
                break
        out = []
        buf, at = self.buf, 0
        while len(buf) - at >= 8:
            end = at + 8 + struct.unpack_from("<Q", buf, at)[0]
            if len(buf) < end:
                break
            tag = buf[at + 8]
            if tag == _DONE:  # kept packed until the consumer takes it
                weight = _WEIGHT.unpack_from(buf, at + 9)[0]
                out.append(("done", (weight, (bytes(buf[at + 8 : end]), self.layouts))))
            elif tag == _LAYOUT:
                number, layout = pickle.loads(memoryview(buf)[at + 9 : end])
                self.layouts[number] = layout
            else:
                out.append(pickle.loads(buf[at + 8 : end]))
            at = end
        del buf[:at]
        if ended and not out:
            raise EOFError("a parsing worker ended")
        return out  # after an end, the next call raises

    def rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.proc.pid}/statm", "rb") as fh:
                return int(fh.read().split()[1]) * _PAGE / 2**20
        except (OSError, IndexError, ValueError):
            return 0.0

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.outbox.put(None)
        self.writer.join()
        with contextlib.suppress(OSError):
            self.proc.stdout.close()

    def stop(self) -> None:
        """End the worker: end of input, then a kill if it does not go."""
        self.outbox.put(None)
        self.writer.join(timeout=5)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.writer.join()
        with contextlib.suppress(OSError):
            self.proc.stdout.close()


def _catalogue_message(key: int, catalogue) -> bytes:
    """The framed message that gives a worker a catalogue, pickled once for all the workers."""
    hit = _CATALOGUE_MESSAGES.get(key)
    if hit is None or hit[0] is not catalogue:
        if len(_CATALOGUE_MESSAGES) >= CATALOGUES_PER_WORKER:
            _CATALOGUE_MESSAGES.clear()
        # Its plain copy (kpi.catalogue_view): unpickling the pydantic models made each worker
        # import pydantic, half of its start. Anything else is sent as it is.
        plain = getattr(catalogue, "plain", None)
        message = ("catalogue", key, plain() if callable(plain) else catalogue)
        hit = _CATALOGUE_MESSAGES[key] = (catalogue, _Worker._framed(message))
    return hit[1]


_CATALOGUE_MESSAGES: dict[int, tuple[object, bytes]] = {}  # id -> (catalogue, message)
# The first byte of a result's frames (any other: a pickled message): the result, a row layout.
_DONE_TAG, _LAYOUT_TAG = b"D", b"L"
_DONE, _LAYOUT = _DONE_TAG[0], _LAYOUT_TAG[0]
_IDLE: list[_Worker] = []
_IDLE_LOCK = threading.Lock()


def _take_worker(memory_mb: int, nice: int) -> _Worker:
    """An idle worker of this memory limit (of this priority if one is idle), or a new one."""
    with _IDLE_LOCK:
        alive = [w for w in _IDLE if w.memory_mb == memory_mb and w.proc.poll() is None]
        if alive:
            # Any priority will do rather than a new process: starting one from a process that
            # has grown large costs more, and its (copied) peak memory is counted as the child's.
            w = min(alive, key=lambda w: w.nice != nice)  # this priority's first, if one is idle
            _IDLE.remove(w)
            return w
    return _Worker(memory_mb, nice)


def _give_back(w: _Worker) -> None:
    healthy = w.ready and not w.tasks and w.proc.poll() is None and not w.buf
    if healthy and w.rss_mb() < RECYCLE_MB:
        with _IDLE_LOCK:
            if len(_IDLE) < IDLE_KEPT:
                _IDLE.append(w)
                return
    w.stop()


@atexit.register
def _stop_idle() -> None:
    with _IDLE_LOCK:
        idle, _IDLE[:] = list(_IDLE), []
    for w in idle:
        w.stop()


class _Pool:
    """Workers fed by one thread; results handed to the consumer in the order of the jobs.

    Each worker has up to QUEUED files queued, so that it keeps parsing while this process is
    busy. Memory is bounded where results arrive: a worker's results are read only while those
    waiting for the consumer weigh less than `rows` (or when it holds the very one the consumer
    waits for); a worker not read blocks once its pipe is full (RESULT_PIPE_BYTES), holding one
    file's result. A file's time budget runs from when the result before it was read, and only
    while its worker is read.
    """

    def __init__(
        self,
        jobs: Iterator,
        as_of,
        limits: Limits,
        workers: int,
        rows: int,
        files: int,
        archive: str | None = None,
    ):
        self.jobs = enumerate(jobs)
        self.archive = archive
        self.retry: deque[tuple[int, tuple]] = deque()  # queued on a worker that was stopped
        self.as_of, self.limits = as_of, limits
        self.ahead_rows, self.ahead_files = rows, files
        self.cond = threading.Condition()
        # index -> (weight, result): a Prepared, or (frame body, layouts) as it arrived
        self.results: dict[int, tuple[int, Prepared | tuple]] = {}
        self.next = 0  # the index the consumer takes next
        self.dispatched = 0  # jobs taken from `jobs`
        self.held = 0  # weight of the results waiting for the consumer
        self.finished = False
        self.closing = False
        self.error: BaseException | None = None
        self.watched = 0.0  # when the workers' clocks and memory were last looked at
        # Several workers run below this process: it validates and loads one file after another
        # and is the run's critical path, while they only parse ahead into a bounded buffer. At
        # equal priority two workers and it shared two cores three ways (BENCHMARKS.md). One
        # worker (a night's few files) keeps this process's priority: its wall-clock parse limit
        # must not depend on what else the machine runs.
        nice = WORKER_NICENESS if workers > 1 else 0
        self.workers = [_take_worker(limits.memory_mb, nice) for _ in range(workers)]
        self.thread = threading.Thread(target=self._feed, name="kpi-ingest-parse", daemon=True)
        self.thread.start()

    # consumer side
    def __iter__(self) -> _Pool:
        return self

    def __next__(self) -> Prepared:
        with self.cond:
            while self.next not in self.results and not self.finished and self.error is None:
                self.cond.wait(0.5)
            if self.next in self.results:
                weight, p = self.results.pop(self.next)
                self.next += 1
                self.held -= weight
                self.cond.notify_all()
            else:
                p = None
            error = self.error
        if p is not None:
            if type(p) is tuple:  # kept packed while it waited: a fraction of the memory
                p = unpacked(*p)
            if p.error:
                log.error("unexpected failure reading %s:\n%s", p.name, p.error)
            return p
        if error is not None:
            raise RuntimeError("parsing files failed") from error
        self.close()  # all delivered: the workers go back (or stop)
        raise StopIteration

    def close(self) -> None:
        """Stop feeding, and keep or stop the workers (idempotent)."""
        with self.cond:
            if self.closing:
                return
            self.closing = True
            self.cond.notify_all()
        self.thread.join()
        for _, p in self.results.values():  # parsed, never taken: their staged copies go
            with contextlib.suppress(Exception):  # closing never fails on a leftover
                p = unpacked(*p) if type(p) is tuple else p
                if p.staged:
                    os.unlink(p.staged)
        self.results.clear()
        for w in self.workers:
            if w.tasks:
                w.kill()
            else:
                _give_back(w)
        self.workers = []

    # feeding thread
    def _take_job(self):
        if self.retry:
            return self.retry.popleft()
        if self.dispatched - self.next >= self.ahead_files:
            return None
        item = next(self.jobs, None)
        if item is not None:
            self.dispatched += 1
        return item

    def _readable(self, w: _Worker) -> bool:
        if not w.ready:
            return True
        return self.held < self.ahead_rows or bool(w.tasks and w.tasks[0][0] == self.next)

    def _feed(self) -> None:
        sel = selectors.DefaultSelector()
        registered: set[_Worker] = set()
        exhausted = False
        try:
            while True:
                with self.cond:
                    if self.closing:
                        return
                    todo = []
                    for w in self.workers:
                        queued = len(w.tasks)
                        while w.ready and queued < QUEUED:
                            item = self._take_job()
                            if item is None:
                                exhausted = exhausted or (
                                    not self.retry
                                    and self.dispatched - self.next < self.ahead_files
                                )
                                break
                            todo.append((w, item))
                            queued += 1
                    readable = {w for w in self.workers if self._readable(w)}
                given: dict[_Worker, list] = {}
                for w, (index, (catalogue, path)) in todo:
                    if w not in self.workers:  # stopped meanwhile: its files go back
                        self.retry.append((index, (catalogue, path)))
                        continue
                    if not isinstance(path, Path):  # parsing a path again cost ~10 µs a file
                        path = Path(path)
                    given.setdefault(w, []).append((index, catalogue, path))
                for w, files in given.items():
                    w.give(files, self.as_of, self.limits, self.archive)
                    failpoint("parse")  # a worker is reading a file
                busy = any(w.tasks or not w.ready for w in self.workers)
                if exhausted and not busy and not self.retry:
                    with self.cond:
                        self.finished = True
                        self.cond.notify_all()
                    return
                now = time.monotonic()
                for w in self.workers:
                    if w in readable and w not in registered:
                        sel.register(w.fd, selectors.EVENT_READ, w)
                        registered.add(w)
                        if w.paused_at is not None:  # the clock stood while nothing was read
                            w.since += now - w.paused_at
                            w.paused_at = None
                    elif w not in readable and w in registered:
                        sel.unregister(w.fd)
                        registered.discard(w)
                        w.paused_at = now
                if not registered:
                    with self.cond:
                        self.cond.wait(0.1)  # the consumer is behind: wait for it
                    self._watch(sel, registered, memory_only=True)
                    continue
                ready = sel.select(POLL_SECONDS)
                for key, _ in ready:
                    self._read(sel, registered, key.data)
                self._watch(sel, registered)
                if ready:
                    ahead = len(self.results) >= GATHER_AHEAD  # read without the lock: a hint
                    time.sleep(GATHER_AHEAD_SECONDS if ahead else GATHER_SECONDS)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            with self.cond:
                self.error = exc
                self.cond.notify_all()
        finally:
            sel.close()

    def _read(self, sel, registered: set, w: _Worker) -> None:
        if w not in self.workers:
            return
        try:
            messages = w.messages()
        except EOFError:
            if not w.ready:
                raise RuntimeError("a parsing worker could not start") from None
            self._replace(sel, registered, w, "crash")
            return
        done = []
        for kind, value in messages:
            if kind == "ready":
                w.ready = True
            elif kind == "done":
                index, _, _ = w.tasks.popleft()
                done.append((index, *value))
        if done:
            w.since = time.monotonic()  # the next file starts now, as far as we can tell
            self._deliver(done)

    def _watch(self, sel, registered: set, *, memory_only: bool = False) -> None:
        now = time.monotonic()
        if now - self.watched < POLL_SECONDS:
            return  # results arrive hundreds of times a second: look at the clock less often
        self.watched = now
        for w in list(self.workers):
            if not w.ready:
                if now - w.started > STARTUP_SECONDS:
                    raise RuntimeError("a parsing worker did not start in time")
                continue
            if not w.tasks:
                continue
            if w.rss_mb() > self.limits.memory_mb:
                self._replace(sel, registered, w, "memory")
            elif not memory_only and w in registered and now - w.since > self.limits.seconds:
                self._replace(sel, registered, w, "timeout")

    def _replace(self, sel, registered: set, w: _Worker, why: str) -> None:
        """Stop a worker whose file broke a limit (or the worker), refuse that file, start anew.

        Results it had finished are taken first, so that only the file it was on is blamed; the
        files queued behind it go to other workers.
        """
        with contextlib.suppress(EOFError, OSError):
            for kind, value in w.messages():
                if kind == "done":
                    index, _, _ = w.tasks.popleft()
                    self._deliver([(index, *value)])
        if w in registered:
            sel.unregister(w.fd)
            registered.discard(w)
        w.kill()
        fresh = _Worker(self.limits.memory_mb)
        self.workers[self.workers.index(w)] = fresh
        if w.tasks:
            index, _, path = w.tasks.popleft()
            log.warning("parsing %s stopped: %s", path.name, why)
            self._deliver([(index, 1, refused_here(path, self.limits, why))])
        with self.cond:
            for index, catalogue, path in reversed(w.tasks):
                self.retry.appendleft((index, (catalogue, path)))
        w.tasks.clear()

    def _deliver(self, done: list[tuple[int, int, Prepared | tuple]]) -> None:
        """Hand (index, weight, result) over to the consumer: one hand-over for all of them."""
        with self.cond:
            for index, weight, p in done:
                self.results[index] = (weight, p)
                self.held += weight
            self.cond.notify_all()


def refused_here(path: Path, limits: Limits, why: str) -> Prepared:
    """The refusal of a file whose worker was stopped (time, memory) or died while reading it."""
    name = display_name(path.name)
    try:
        mtime = os.lstat(path).st_mtime
        size, sha, _ = identity(path, limits.max_file_bytes)
    except OSError:
        mtime, size, sha = 0.0, 0, name_key(path.name)
    if why == "timeout":
        reason = (
            f"{_q(name)}读取超过{limits.seconds:g}秒仍未完成，已停止读取"
            "（文件过大或结构异常），请检查后重新报送",
            "timeout",
        )
    elif why == "memory":
        reason = memory_refusal(name, limits)
    else:
        reason = (
            f"{_q(name)}读取时处理程序意外中止，无法读取，请检查文件后重新报送",
            "crash",
        )
    return Prepared(name, max(size, 0), mtime, sha, reason)


# --- the worker's side ----------------------------------------------------------------------------


def _frame(body: bytes) -> bytes:
    """A message as _receive reads it: its length, then its body."""
    return struct.pack("<Q", len(body)) + body


def _send(stream, value: object) -> None:
    stream.write(_frame(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)))
    stream.flush()


def _receive(stream) -> object:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("end of input")
    return pickle.loads(stream.read(struct.unpack("<Q", head)[0]))


def _backstop() -> None:
    """A hard ceiling on the worker's address space, behind the parent's memory watch."""
    import resource

    extra = int(os.environ.get("KPI_PARSE_BACKSTOP_MB", "0")) * 2**20
    if not extra:
        return
    try:
        with open("/proc/self/statm", "rb") as fh:
            vm = int(fh.read().split()[0]) * _PAGE
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = vm + extra
        resource.setrlimit(resource.RLIMIT_AS, (soft if hard < 0 else min(soft, hard), hard))
    except (OSError, ValueError):
        pass


def serve() -> None:
    """A worker: parse each file it is sent, results to stdout, until its input ends."""
    stdin = sys.stdin.buffer
    # Results go to a private copy of fd 1, and fd 1 becomes stderr: nothing printed, by Python
    # or by a native library writing to fd 1 directly, can corrupt the result stream.
    stdout = os.fdopen(os.dup(1), "wb")
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _backstop()
    nice = int(os.environ.get("KPI_PARSE_NICE") or 0)  # _Pool: below the ingesting process
    if nice > 0:
        os.nice(nice)
    catalogues: dict[int, object] = {}
    run: tuple = ()  # (as_of, limits, archive) of the files that follow
    layouts: dict[tuple, int] = {}  # row layouts sent, by number
    _send(stdout, ("ready", os.getpid()))
    while True:
        try:
            message = _receive(stdin)
        except EOFError:
            return
        kind = message[0]
        if kind == "catalogue":
            catalogues[message[1]] = message[2]
        elif kind == "reset":
            catalogues.clear()
        elif kind == "run":
            run = message[1:]
        elif kind == "files":
            _, key, paths = message
            for path in paths:
                out = prepare_file(Path(path), catalogues[key], *run)
                # Each result is written before the next file starts: a worker stopped on that
                # one has handed over every result before it, and only its own file is refused.
                stdout.write(_result_frames(out, layouts))
                stdout.flush()
                out = None


def _result_frames(out: Prepared, layouts: dict[tuple, int]) -> bytes:
    """A file's result framed for the trip, after any new row layout it names."""
    try:
        return _packed_result(out, layouts)
    except (pickle.PicklingError, TypeError, ValueError, MemoryError):
        if out.staged:
            with contextlib.suppress(OSError):
                os.unlink(out.staged)
        failed = Prepared(out.name, out.size, out.mtime, out.sha, error=traceback.format_exc())
        failed.refusal = (f"{_q(out.name)}读取时发生意外错误，无法处理", "unexpected")
        return _packed_result(failed, layouts)


# A result travels as the pickle of its fields' tuple, not of the dataclass (~40 % cheaper both
# ways), with its row layout named by number after the layout's first trip.
_FIELDS = tuple(f.name for f in fields(Prepared))
_field_values = attrgetter(*_FIELDS)
_KEYS, _COLUMNS = _FIELDS.index("keys"), _FIELDS.index("columns")
_WEIGHT = struct.Struct("<I")
_STR = frozenset({str})


def _packed_result(out: Prepared, layouts: dict[tuple, int]) -> bytes:
    """The frames of one result: an "L" frame for each new row layout, then its "D" frame."""
    weight = _WEIGHT.pack(out.weight)
    values = list(_field_values(out))
    new: dict[tuple, int] = {}
    # A file's keys and columns are those of every file of its kind: named by number, they are
    # neither pickled nor built again in the ingesting process. Only plain str layouts: a
    # subclass must come back as it went.
    for i, kind in ((_KEYS, tuple), (_COLUMNS, list)):
        layout = values[i]
        if type(layout) is not kind or not _STR.issuperset(map(type, layout)):
            continue
        layout = tuple(layout)
        number = layouts.get(layout, new.get(layout))
        if number is None and len(layouts) + len(new) < LAYOUTS_PER_WORKER:
            number = new[layout] = len(layouts) + len(new)
        if number is not None:
            values[i] = number
    body = pickle.dumps(tuple(values), protocol=pickle.HIGHEST_PROTOCOL)
    # Named only once the result is packed: a result that cannot be leaves no number unsent.
    frames = [
        _frame(_LAYOUT_TAG + pickle.dumps(item[::-1], pickle.HIGHEST_PROTOCOL))
        for item in new.items()
    ]
    layouts.update(new)
    frames.append(_frame(_DONE_TAG + weight + body))
    return b"".join(frames)


def unpacked(body: bytes, layouts: dict[int, tuple]) -> Prepared:
    """The Prepared of a "D" frame's body (from its tag on), its layouts named in `layouts`."""
    values = list(pickle.loads(memoryview(body)[1 + _WEIGHT.size :]))
    if type(values[_KEYS]) is int:
        values[_KEYS] = layouts[values[_KEYS]]
    if type(values[_COLUMNS]) is int:  # a list of its own: the consumer's to change
        values[_COLUMNS] = list(layouts[values[_COLUMNS]])
    return Prepared(*values)
