"""Helpers of the orchestration tests: subprocesses that run the pipeline on given settings."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from faults.forkserver import ForkServer, Streamed

from kpi.config import Settings

# The settings a subprocess rebuilds from JSON: the same state home and catalogue folder.
CHILD_PRELUDE = """
import json, sys
from dataclasses import replace
from pathlib import Path
from kpi.config import load_settings
_a = json.loads(sys.argv[1])
cfg = replace(load_settings(env={}).with_home(Path(_a["home"])), catalogue_dir=Path(_a["catalogues"]))
"""


def child(forks: ForkServer, cfg: Settings, body: str) -> Streamed:
    """Start a Python process that has `cfg` rebuilt and runs `body`, its output read as a stream.

    A fork of the warm interpreter (the `forks` fixture), not a cold `python -c`: a process of
    its own all the same (pid, environment, stdout and stderr, exit code or killing signal),
    without 1-4 CPU seconds of importing pandas, DuckDB and Great Expectations first.
    """
    arg = json.dumps({"home": str(cfg.home), "catalogues": str(cfg.catalogue_dir)})
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return forks.popen([arg], env, code=CHILD_PRELUDE + body)


def wait_for_line(proc: Streamed, marker: str, stream: str = "stdout") -> list[str]:
    """Read a subprocess's output until a line contains `marker`; return the lines read."""
    seen = []
    pipe = getattr(proc, stream)
    for line in pipe:
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"{marker!r} never printed; got:\n{''.join(seen)}\n{proc.stderr.read()}")


@contextlib.contextmanager
def lock_held_elsewhere(cfg: Settings) -> Iterator[None]:
    """The run lock held by another thread for the length of the block (not re-entrant here)."""
    from kpi.warehouse import pipeline_lock

    taken, release = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def hold() -> None:
        try:
            with pipeline_lock(cfg):
                taken.set()
                release.wait(60)
        except BaseException as exc:  # handed to the test's thread below
            failed.append(exc)
            taken.set()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert taken.wait(10), "the lock was never taken"
    if failed:
        raise failed[0]
    try:
        yield
    finally:
        release.set()
        holder.join(10)


# The template's headers (kpi.contract) and rows for the tiny catalogue of tests/conftest.py.
TEMPLATE = "填报单位,报告期,指标代码,指标名称,计量单位,数值,同比增长(%),上年同期值,参照值,进展状态,完成日期,备注"
GOOD_ROWS = ["发改委,2023-06,investment_total,完成投资,亿元,120.5,,,,,,"]
BAD_ROW = "人社局,2023-06,urban_jobs,新增城镇就业,人,很多,,,,,,"
LAGGING_ROWS = ["发改委,2023-06,investment_total,完成投资,亿元,10,,,,,,"]


def write_submission(folder: Path, name: str, rows: list[str]) -> Path:
    """A UTF-8 CSV submission in the template's layout."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join([TEMPLATE, *rows]) + "\n", encoding="utf-8")
    return path


def fail_once_after_storing(monkeypatch, cfg: Settings) -> list[str]:
    """The first inbox ingest stores its files, leaves them in the inbox, then fails with an
    I/O error (as a full disk would); later calls run as usual. Returns the calls, in order."""
    import kpi.ingest

    real_ingest, real_unlink = kpi.ingest.ingest_inbox, Path.unlink
    calls: list[str] = []

    def unlink(self, missing_ok=False):
        if self.parent == cfg.inbox and len(calls) == 1:
            raise OSError(28, "No space left on device", str(self))
        return real_unlink(self, missing_ok=missing_ok)

    def ingest_inbox(*args, **kwargs):
        calls.append("first" if not calls else "retry")
        receipts = real_ingest(*args, **kwargs)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return receipts

    monkeypatch.setattr(Path, "unlink", unlink)
    monkeypatch.setattr(kpi.ingest, "ingest_inbox", ingest_inbox)
    return calls


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Columns that record when or by which run something happened, not what the data says.
VOLATILE = {"ingested_at", "computed_at", "run_id", "archive_path"}


def warehouse_state(path: Path) -> dict[str, list[tuple]]:
    """Every row of every data table (raw, staged, mart, alerts), minus volatile columns."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_type = 'BASE TABLE'"
            " and table_schema in ('raw', 'staged', 'mart', 'alerts') order by all"
        ).fetchall()
        state = {}
        for schema, table in tables:
            cols = [
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if r[0] not in VOLATILE
            ]
            # Identifiers come from information_schema, not from input.
            select = ", ".join(f'"{c}"::varchar' for c in cols)
            state[f"{schema}.{table}"] = sorted(
                con.execute(f'select {select} from "{schema}"."{table}"').fetchall(),  # noqa: S608
                key=repr,
            )
        return state
    finally:
        con.close()
