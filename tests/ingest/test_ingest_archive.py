"""Archived copies: the bytes of every stored file under archive/, nothing else left there."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
from ingest_helpers import AS_OF, good_rows, r, write_csv

from kpi.ingest import ingest_plans


def _files_under(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("workers", [1, 2])
def test_only_stored_files_are_archived_and_no_staged_copy_is_left_behind(
    cfg, tiny_catalogue, tmp_path, workers
):
    good = write_csv(tmp_path / "good.csv", good_rows())
    again = tmp_path / "again.csv"
    again.write_bytes(good.read_bytes())  # the same bytes: a duplicate
    every_row = write_csv(
        tmp_path / "every_row.csv", [r("统计局", "2023-06", "investment_total", "亿元", 1)]
    )  # stored, every row rejected
    empty = write_csv(tmp_path / "empty.csv", [])  # read by the worker, refused by the suite
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04garbage")  # refused by the worker
    files = [good, again, every_row, empty, broken]
    [receipts] = ingest_plans(cfg, [(tiny_catalogue, files)], as_of=AS_OF, workers=workers)
    assert [(x["status"], x["refusal"]) for x in receipts] == [
        ("accepted", None),
        ("duplicate", None),
        ("rejected", None),
        ("rejected", "has_data_rows"),
        ("rejected", "corrupt"),
    ]
    stored = [good, every_row]
    names = [
        f"{s[:2]}/{s}.csv" for s in (hashlib.sha256(p.read_bytes()).hexdigest() for p in stored)
    ]
    assert _files_under(cfg.archive) == sorted(names)
    for p, name in zip(stored, names, strict=True):
        assert (cfg.archive / name).read_bytes() == p.read_bytes()
    # Sent again in a later run: a duplicate, and the archive is as it was.
    [[receipt]] = ingest_plans(cfg, [(tiny_catalogue, [good])], as_of=AS_OF, workers=workers)
    assert receipt["status"] == "duplicate"
    assert _files_under(cfg.archive) == sorted(names)
    assert [p for p in cfg.home.rglob("*") if p.name.endswith(".tmp")] == []


def test_a_run_removes_what_a_killed_run_staged_and_keeps_what_a_live_one_stages(
    cfg, tiny_catalogue, tmp_path
):
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()  # its pid names no process now
    staging = cfg.archive / ".staging"
    staging.mkdir(parents=True)
    dead = staging / f"{ended.pid}.1.{'a' * 64}.csv.tmp"
    dead.write_bytes(b"left by a killed run")
    live = staging / f"{os.getpid()}.1.{'b' * 64}.csv.tmp"
    live.write_bytes(b"another run, still going")
    good = write_csv(tmp_path / "good.csv", good_rows())
    [[receipt]] = ingest_plans(cfg, [(tiny_catalogue, [good])], as_of=AS_OF)
    assert receipt["status"] == "accepted"
    assert [p.name for p in staging.iterdir()] == [live.name]
