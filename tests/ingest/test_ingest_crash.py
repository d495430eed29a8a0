"""A crash in the middle of loading a file leaves nothing of it (one transaction per file)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest
from ingest_helpers import AS_OF, r, write_csv

from kpi.config import ROOT

ROWS = 12_000  # loading them takes long enough for the kill to land inside the transaction

# The subprocess runs the real command; logging at INFO only makes its progress visible.
RUNNER = """
import logging, sys
logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
logging.getLogger("kpi").setLevel(logging.INFO)
from kpi.cli import main
main()
"""


def _counts(cfg) -> tuple[int, int, int, int]:
    con = duckdb.connect(str(cfg.warehouse))  # read-write: the crashed run's WAL is replayed
    try:
        return tuple(
            con.execute(f"select count(*) from {t}").fetchone()[0]
            for t in (
                "raw.submissions",
                "raw.submission_rows",
                "staged.rejections",
                "staged.observations",
            )
        )
    finally:
        con.close()


@pytest.mark.slow
def test_killing_ingestion_mid_file_leaves_no_partial_rows(cfg, tiny_catalogue, tmp_path):
    # Six valid rows and thousands with unknown codes: every row lands in raw.submission_rows,
    # the bad ones in staged.rejections too, all in the one transaction of the file.
    rows = [
        r("科技局", f"2023-{i % 6 + 1:02d}", "hightech_firms" if i < 6 else f"nope_{i}", "家", i)
        for i in range(ROWS)
    ]
    path = write_csv(tmp_path / "big.csv", rows)
    env = {
        **os.environ,
        "KPI_HOME": str(cfg.home),
        "KPI_CATALOGUE_DIR": str(tmp_path / "catalogue"),
        "KPI_PLAN": tiny_catalogue.plan.code,
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, "ingest", str(path), "--as-of", AS_OF.isoformat()],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("loading big.csv"):
                time.sleep(0.15)  # into the transaction, before its commit
                break
        alive = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert any(s.startswith("loading big.csv") for s in seen), "".join(seen)
    assert alive, "the run finished before the kill: the test proved nothing"
    assert proc.returncode == -signal.SIGKILL

    submissions, raw_rows, rejections, observations = _counts(cfg)  # the warehouse opens
    all_or_none = {(0, 0, 0, 0), (1, ROWS, ROWS - 6, 6)}
    assert (submissions, raw_rows, rejections, observations) in all_or_none

    # Ingesting again after the crash completes the file exactly once.
    from kpi.ingest import ingest_files

    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] in ("partial", "duplicate")
    assert _counts(cfg) == (1, ROWS, ROWS - 6, 6)
