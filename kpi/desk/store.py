"""What the desk reads: the published snapshot only, never the pipeline's warehouse (no lock)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import duckdb

from kpi.config import Settings
from kpi.desk.tokens import Revocations
from kpi.warehouse import open_snapshot, sql_file

SQL = Path(__file__).resolve().parent / "sql"


@contextlib.contextmanager
def snapshot(cfg: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the published snapshot, for one request.

    Before the first nightly run there is none: an empty in-memory database stands in, so
    pages show "no data yet" and a department can already download its template and upload.
    """
    try:
        con = open_snapshot(cfg)
    except FileNotFoundError:
        con = duckdb.connect()
    try:
        # Requests read the snapshot and nothing else: no files, no extensions, no network.
        con.execute("set enable_external_access = false")
        yield con
    finally:
        con.close()


def rows(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> list[dict]:
    """The rows of one of the desk's .sql files, as dicts."""
    cur = con.execute(sql_file(name, SQL), params or {})
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether the snapshot has a table (one published before a migration lacks it)."""
    return bool(rows(con, "table_exists", {"schema": schema, "table": table})[0]["present"])


def receipt_of(row: dict) -> dict:
    """The stored receipt of a submission row as a dict."""
    raw = row.get("receipt")
    if isinstance(raw, dict):
        return raw
    return json.loads(raw) if raw else {}


class RevocationCache:
    """Revocations read from the snapshot, re-read only when a new snapshot is published."""

    def __init__(self, cfg: Settings):
        self.cfg = cfg
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._value = Revocations()

    def get(self) -> Revocations:
        """The revocations of the current snapshot."""
        try:
            st = os.stat(self.cfg.snapshot)
        except FileNotFoundError:
            return Revocations()
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            if key != self._key:
                self._value = read_revocations(self.cfg)
                self._key = key
            return self._value


def read_revocations(cfg: Settings) -> Revocations:
    """Every revocation in the snapshot."""
    tz = cfg.tz
    with snapshot(cfg) as con:
        if not has_table(con, "meta", "desk_revocations"):
            return Revocations()
        found = rows(con, "revocations")
    ids = frozenset(r["token_id"] for r in found if r["token_id"])
    scopes = tuple(
        (r["scope"], _aware(r["revoked_at"], tz)) for r in found if r["scope"] and r["revoked_at"]
    )
    return Revocations(ids, scopes)


def _aware(value: datetime, tz) -> datetime:
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def as_date(value) -> date | None:
    """A date from a DuckDB value (date, datetime or ISO text)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
