"""An uploaded file: checked at once (kpi.ingest.check_file), then handed to the nightly run.

Choice (documented in docs/operations.md): an upload never writes the warehouse. It is checked
with the nightly ingest's own code and rules against the published snapshot (no lock), the
receipt is shown at once, and a file with rows to load is moved atomically into
inbox/<plan>/ for the next nightly run, which loads it like any other file. So an upload works
the same whether or not the nightly run is busy, the nightly run stays the one writer of the
raw and staged layers, and a file is never loaded twice (content hashes make a repeat a
duplicate) nor lost (it is in the inbox until a run has stored it). Files that would load
nothing (refused whole, every row refused, or the same bytes already stored) are not queued:
the department sees why at once and sends a corrected file.

Each upload leaves a record <home>/desk/uploads/<plan>/<id>.json (who, when, the inbox name,
content hash and receipt) so the department's page lists it before the night has loaded it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from kpi import clock
from kpi.catalogue import Catalogue
from kpi.config import Settings
from kpi.desk.tokens import desk_dir

ALLOWED_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".csv")
MAX_NAME_CHARS = 80
STAGING = ".desk-staging"  # inside inbox/<plan>/: same file system, hidden from the nightly run
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_ID = re.compile(r"^[0-9a-f]{16}$")


class Overloaded(RuntimeError):
    """Too many uploads are waiting to be checked (Chinese text)."""


class ForeignFile(PermissionError):
    """The file holds another department's rows (Chinese text)."""


def safe_name(name: str | None) -> str:
    """A file name from a client made harmless: last path part, no control or path characters."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _UNSAFE.sub("_", text).strip().lstrip(".")
    stem, dot, suffix = text.rpartition(".")
    if not dot:
        stem, suffix = text, ""
    suffix = suffix[:8].lower()
    stem = stem[: MAX_NAME_CHARS - len(suffix) - 1].strip() or "上传文件"
    return f"{stem}.{suffix}" if suffix else stem


def inbox_folder(cfg: Settings, plan_code: str) -> Path:
    """The plan's inbox folder, where the nightly run finds files (inbox/<plan>/)."""
    return cfg.inbox / plan_code


def records_folder(cfg: Settings, plan_code: str) -> Path:
    """Where upload records of a plan are kept."""
    return desk_dir(cfg) / "uploads" / plan_code


@dataclass
class Staged:
    """An upload written to the staging folder, not yet checked."""

    id: str
    path: Path
    name: str  # the safe name (what the receipt calls the file)
    size: int
    sha256: str


def stage(cfg: Settings, plan_code: str, name: str | None, chunks) -> Staged:
    """Write an upload's bytes (an iterable of chunks) to the staging folder; hash as it goes."""
    upload_id = uuid.uuid4().hex[:16]
    folder = inbox_folder(cfg, plan_code) / STAGING / upload_id
    folder.mkdir(parents=True, exist_ok=True)
    safe = safe_name(name)
    path = folder / safe
    digest, size = hashlib.sha256(), 0
    with open(path, "wb") as fh:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            fh.write(chunk)
    stamp = clock.now(cfg.tz).timestamp()  # the receipt's received time: the project's clock
    os.utime(path, (stamp, stamp))
    return Staged(upload_id, path, safe, size, digest.hexdigest())


def discard(staged: Staged) -> None:
    """Remove a staged upload (refused or failed)."""
    shutil.rmtree(staged.path.parent, ignore_errors=True)


class Checker:
    """check_file behind a gate: at most `concurrency` at once, at most `queue` waiting."""

    def __init__(self, concurrency: int, queue: int):
        self._running = threading.Semaphore(max(1, concurrency))
        self._admitted = threading.BoundedSemaphore(max(1, concurrency) + max(0, queue))

    def check(self, cfg: Settings, catalogue: Catalogue, path: Path, as_of: date) -> dict:
        """The receipt the nightly run would give the file (kpi.ingest.check_file)."""
        from kpi.ingest import check_file

        if not self._admitted.acquire(blocking=False):
            raise Overloaded("系统繁忙：正在校验的文件较多，请稍后再试")
        try:
            # Great Expectations contexts are not made for concurrent use in one process.
            with self._running:
                return check_file(cfg, catalogue, path, as_of=as_of)
        finally:
            self._admitted.release()


def departments_named(cfg: Settings, catalogue: Catalogue, path: Path, as_of: date) -> set[str]:
    """The registered departments the file's rows name (its 填报单位 cells), read as ingest reads:
    in the same worker process, under the same caps, time budget and memory ceiling."""
    from kpi.ingest.prepare import limits_of, prepared

    stream = prepared([(catalogue, path)], as_of, limits_of(cfg), 1)
    try:
        prep = next(stream)
    finally:
        stream.close()
    return {
        code
        for rec in prep.records or []
        if isinstance(code := rec.get("department_code"), str) and code
    }


def should_queue(receipt: dict) -> bool:
    """Whether the nightly run would store anything of this file."""
    return receipt.get("status") in ("accepted", "partial")


_QUEUE_LOCK = threading.Lock()


def queue(cfg: Settings, plan_code: str, staged: Staged) -> Path:
    """Move a checked file into inbox/<plan>/ atomically, never over another file; its
    modification time (the received time the nightly run records) is now, after every file
    already waiting, so the latest upload counts last."""
    folder = inbox_folder(cfg, plan_code)
    with _QUEUE_LOCK:
        waiting = [p.stat().st_mtime for p in folder.iterdir() if p.is_file()]
        stamp = max([clock.now(cfg.tz).timestamp(), *[m + 0.001 for m in waiting]])
        os.utime(staged.path, (stamp, stamp))
        stem, suffix = os.path.splitext(staged.name)
        for n in range(1, 1000):
            dest = folder / (staged.name if n == 1 else f"{stem}（{n}）{suffix}")
            try:
                os.link(staged.path, dest)  # fails if the name is taken: never overwrites
            except FileExistsError:
                continue
            break
        else:
            raise RuntimeError(f"no free name for {staged.name} in {folder}")
    discard(staged)
    return dest


def save_record(cfg: Settings, plan_code: str, record: dict) -> None:
    """Keep an upload's record (written atomically)."""
    folder = records_folder(cfg, plan_code)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{record['id']}.tmp"
    tmp.write_text(json.dumps(record, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, folder / f"{record['id']}.json")


def load_record(cfg: Settings, plan_code: str, upload_id: str) -> dict | None:
    """One upload's record, or None (ids are checked: nothing from a URL becomes a path)."""
    if not _ID.match(upload_id or ""):
        return None
    try:
        text = (records_folder(cfg, plan_code) / f"{upload_id}.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return json.loads(text)


def plan_records(cfg: Settings, plan_code: str) -> list[dict]:
    """Every upload record of a plan, newest first."""
    folder = records_folder(cfg, plan_code)
    if not folder.is_dir():
        return []
    out = []
    for path in folder.glob("*.json"):
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    out.sort(key=lambda r: (r.get("uploaded_at") or "", r.get("id") or ""), reverse=True)
    return out


def department_records(
    cfg: Settings, plan_code: str, department: str, limit: int = 50
) -> list[dict]:
    """A department's upload records, newest first."""
    mine = [r for r in plan_records(cfg, plan_code) if r.get("department") == department]
    return mine[:limit]


def pending(cfg: Settings, record: dict) -> bool:
    """Whether a queued upload still waits in the inbox for the nightly run."""
    inbox_name = record.get("inbox_name")
    if not record.get("queued") or not inbox_name:
        return False
    try:
        st = (inbox_folder(cfg, record["plan"]) / inbox_name).stat()
    except FileNotFoundError:
        return False
    return st.st_size == record.get("size")  # not a later file that took the same name
