"""kill -9 at any step of ingest: nothing half-loaded, and a rerun ends where one clean run ends."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
from ingest_helpers import AS_OF, dump, good_rows, r, write_csv, write_xlsx

from kpi.ingest.failpoints import POINTS

ROWS = 12_000  # loading them takes long enough for the kill to land inside the transaction

# The subprocess runs the real command; logging at INFO only makes its progress visible.
RUNNER = """
import logging, sys
logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
logging.getLogger("kpi").setLevel(logging.INFO)
from kpi.cli import main
main()
"""


def _env(home: Path, catalogue_dir: Path, plan: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "KPI_HOME": str(home),
        "KPI_CATALOGUE_DIR": str(catalogue_dir),
        "KPI_PLAN": plan,
        **extra,
    }
    env.pop("KPI_FAILPOINT", None)
    env.update({k: v for k, v in extra.items() if k == "KPI_FAILPOINT"})
    return env


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
def test_killing_ingestion_mid_file_leaves_no_partial_rows(cfg, tiny_catalogue, tmp_path, forks):
    # Six valid rows and thousands with unknown codes: every row lands in raw.submission_rows,
    # the bad ones in staged.rejections too, all in the one transaction of the file.
    rows = [
        r("科技局", f"2023-{i % 6 + 1:02d}", "hightech_firms" if i < 6 else f"nope_{i}", "家", i)
        for i in range(ROWS)
    ]
    path = write_csv(tmp_path / "big.csv", rows)
    env = _env(
        cfg.home,
        tmp_path / "catalogue",
        tiny_catalogue.plan.code,
        KPI_MAX_ROWS=str(ROWS + 10),  # above the default cap: the load must take a while
    )
    # A process of its own, forked from the warm interpreter (its imports already done), its
    # stderr read as it writes: killed from outside at a logged line, as a cold one would be.
    proc = forks.popen(["ingest", str(path), "--as-of", AS_OF.isoformat()], env, code=RUNNER)
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("loading big.csv"):
                # Into the load's transaction, before its commit: the load takes ~40 ms on a quiet
                # machine, and a forked command exits as soon as it is done.
                time.sleep(0.01)
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

    crashed = _counts(cfg)  # the warehouse opens

    # Ingesting again after the crash completes the file exactly once.
    from dataclasses import replace

    from kpi.ingest import ingest_files

    [receipt] = ingest_files(replace(cfg, max_rows=ROWS + 10), tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] in ("partial", "duplicate")
    final = _counts(cfg)
    # Every row as received, the six good ones observed, the rejections listed up to the cap
    # plus one line counting the rest.
    assert final == (1, ROWS, cfg.max_listed_rows + 1, 6)
    assert crashed in {(0, 0, 0, 0), final}


def _night(folder: Path) -> Path:
    """A night's files: good, partly bad, unreadable, a copy, a lock file (fixed mtimes)."""
    folder.mkdir(parents=True, exist_ok=True)
    made = [
        write_xlsx(folder / "发改委_2023年6月.xlsx", good_rows()),
        write_csv(
            folder / "人社局_2023年6月.csv",
            [
                r("人社局", "2023-06", "urban_jobs", "人", 4300),
                r("人社局", "2023-06", "nope", "人", 1),
            ],
        ),
        folder / "坏文件.xlsx",
        folder / "重发_发改委_2023年6月.xlsx",
        folder / "~$发改委_2023年6月.xlsx",
    ]
    made[2].write_bytes(b"PK\x03\x04 truncated")
    shutil.copyfile(made[0], made[3])
    made[4].write_bytes(b"\x00owner")
    for n, p in enumerate(made):
        os.utime(p, (1_688_000_000 + n * 60, 1_688_000_000 + n * 60))
    return folder


def _inbox(inbox: Path, night: Path) -> None:
    """The same bytes and mtimes in an inbox (a workbook written twice differs in its zip)."""
    shutil.copytree(night, inbox, copy_function=shutil.copy2, dirs_exist_ok=True)


def _ingest(home: Path, tmp: Path, plan: str, forks, **extra: str) -> subprocess.CompletedProcess:
    # A process of its own, forked from the warm interpreter (its imports already done): the
    # failpoint kills that process, as it would a cold one.
    args = ["ingest", "--inbox", "--as-of", AS_OF.isoformat()]
    return forks.run(args, _env(home, tmp / "catalogue", plan, **extra), timeout=300)


def _state(cfg) -> dict:
    """Everything a run leaves: the warehouse's rows and the files of each folder."""
    files = {}
    for folder in (cfg.inbox, cfg.rejected_dir, cfg.archive):
        for p in sorted(folder.rglob("*")) if folder.exists() else []:
            if p.is_file() and not p.name.endswith(".tmp"):  # a copy cut short by the kill
                files[str(p.relative_to(cfg.home))] = p.read_bytes()
    return {"warehouse": dump(cfg), "files": files}


def _workers_of(home: Path) -> list[int]:
    """Parsing workers still alive that were started for this home."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes()
            env = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"kpi.ingest.worker" in cmd and f"KPI_HOME={home}".encode() in env:
            pids.append(int(proc.name))
    return pids


_CLEAN: dict = {}


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_a_kill_at_any_step_then_a_rerun_ends_as_one_clean_run(
    cfg, tiny_catalogue, tmp_path, point, forks
):
    from kpi.config import load_settings

    plan = tiny_catalogue.plan.code
    if "state" not in _CLEAN:  # the same files and catalogue in every case: one clean run
        _CLEAN["night"] = _night(tmp_path / "night")  # kept for the session by pytest
        clean = load_settings(env={}).with_home(tmp_path / "clean")
        _inbox(clean.inbox, _CLEAN["night"])
        done = _ingest(clean.home, tmp_path, plan, forks)
        assert done.returncode == 1, done.stderr  # exit 1: a file was refused
        _CLEAN["state"] = _state(clean)
    expected = _CLEAN["state"]
    assert list(expected["files"]) and expected["warehouse"]["raw.submissions"]

    _inbox(cfg.inbox, _CLEAN["night"])
    killed = _ingest(cfg.home, tmp_path, plan, forks, KPI_FAILPOINT=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    deadline = time.monotonic() + 10
    while _workers_of(cfg.home) and time.monotonic() < deadline:
        time.sleep(0.1)  # a worker ends when its parent's pipe closes
    assert _workers_of(cfg.home) == []

    again = _ingest(cfg.home, tmp_path, plan, forks)
    assert again.returncode in (0, 1), again.stderr
    assert _state(cfg) == expected
