"""meta.access: every request the desk answers, buffered in a file and flushed when the lock is free.

The nightly run holds the warehouse for minutes; a request must never wait for it to be logged.
Each request appends one JSON line to <home>/desk/access.jsonl; `flush` moves the lines into
meta.access (under the run lock, by whoever holds it: the desk's flusher thread, or a desk write)
and empties the file. Every record has a unique id, so a flush interrupted after its commit and
repeated inserts nothing twice. Tokens never reach this module: only scope and token id.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid

import pandas as pd

from kpi import clock
from kpi.config import Settings
from kpi.desk.store import SQL
from kpi.desk.tokens import desk_dir
from kpi.warehouse import LockedError, connect, pipeline_lock, sql_file

log = logging.getLogger("kpi.desk.access")

# A flood of requests while the warehouse stays busy must not fill the disk: past this size new
# records are counted and dropped (logged once) until a flush empties the buffer (~250k requests).
MAX_BUFFER_BYTES = 64 * 1024 * 1024
COLUMNS = (
    "access_id",
    "accessed_at",
    "scope",
    "token_id",
    "method",
    "path",
    "status",
    "elapsed_ms",
    "client",
)
MAX_PATH_CHARS = 500


class AccessLog:
    """The buffer file of one desk process, and its flush into meta.access."""

    def __init__(self, cfg: Settings):
        self.cfg = cfg
        self.path = desk_dir(cfg) / "access.jsonl"
        self._lock = threading.Lock()
        self.dropped = 0

    def record(
        self,
        *,
        scope: str | None,
        token_id: str | None,
        method: str,
        path: str,
        status: int,
        elapsed_ms: int | None,
        client: str | None,
    ) -> None:
        """Append one request (path without its query string) to the buffer."""
        entry = {
            "access_id": uuid.uuid4().hex,
            "accessed_at": clock.local_now(self.cfg.tz).isoformat(),
            "scope": scope,
            "token_id": token_id,
            "method": method[:16],
            "path": path[:MAX_PATH_CHARS],
            "status": int(status),
            "elapsed_ms": elapsed_ms,
            "client": (client or "")[:64] or None,
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size > MAX_BUFFER_BYTES:
                if not self.dropped:
                    log.warning("access buffer full (%d bytes): dropping records", size)
                self.dropped += 1
                return
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)

    def pending(self) -> list[dict]:
        """The records not yet flushed."""
        with self._lock:
            return self._read()

    def _read(self) -> list[dict]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a crash mid-write
                continue
        return out

    def flush_locked(self) -> int:
        """Move the buffer into meta.access; the caller holds the run lock. Returns rows moved."""
        with self._lock:
            records = self._read()
            if records:
                frame = pd.DataFrame(records, columns=list(COLUMNS))
                frame["accessed_at"] = pd.to_datetime(frame["accessed_at"])
                frame["status"] = frame["status"].astype("int64")
                frame["elapsed_ms"] = frame["elapsed_ms"].astype("Int64")
                with connect(self.cfg) as con:
                    cur = con.cursor()  # its own result state: migrate() leaves one open
                    cur.register("access_rows", frame)
                    cur.execute(sql_file("insert_access", SQL))
                    cur.close()
            self.path.unlink(missing_ok=True)
            if self.dropped:
                log.warning("access buffer: %d record(s) were dropped while full", self.dropped)
                self.dropped = 0
            return len(records)

    def flush(self, wait_seconds: float = 0) -> int | None:
        """Flush if the run lock can be had within `wait_seconds`; None when it is busy."""
        try:
            with pipeline_lock(self.cfg, wait_seconds=wait_seconds):
                return self.flush_locked()
        except LockedError:
            return None


class Flusher(threading.Thread):
    """Flushes the access buffer every `interval` seconds while the lock is free."""

    def __init__(self, access: AccessLog, interval: float = 60.0):
        super().__init__(name="kpi-desk-access-flush", daemon=True)
        self.access = access
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        """Flush until stopped."""
        while not self.stopped.wait(self.interval):
            try:
                self.access.flush()
            except Exception:  # a failed flush keeps the buffer; the next one retries
                log.exception("access flush failed")

    def stop(self) -> None:
        """Stop, flushing once more if the lock is free within 2 s."""
        self.stopped.set()
        try:
            self.access.flush(wait_seconds=2)
        except Exception:
            log.exception("access flush at shutdown failed")
