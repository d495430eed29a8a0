"""Demo arrivals: files reach the inbox on the day they were submitted (demo, replay, backfill)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

from kpi.config import ROOT, Settings
from kpi.pipeline.schedule import morning_after
from kpi.warehouse import shown_path

log = logging.getLogger("kpi.pipeline")

DEMO_SUBMISSIONS = ROOT / "demo" / "submissions"
ARRIVAL_AT = dtime(10, 0)  # time of day given to a demo file that arrived on a date
STAGED_LEDGER = "demo-staged.json"


@dataclass(frozen=True)
class Arrival:
    """A demo file and the moment it reached the inbox."""

    path: Path
    day: date
    at: datetime

    @property
    def key(self) -> str:
        """The file's name under the demo folder: `<arrival date>/<file>`."""
        return f"{self.day.isoformat()}/{self.path.name}"


def arrivals(cfg: Settings, source: Path = DEMO_SUBMISSIONS) -> list[Arrival]:
    """Every file under `source/<YYYY-MM-DD>/`, with its arrival, oldest first."""
    found: list[Arrival] = []
    if not source.is_dir():
        return found
    for folder in sorted(source.iterdir()):
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue  # not an arrival folder
        if not folder.is_dir():
            continue
        at = datetime.combine(day, ARRIVAL_AT, tzinfo=cfg.tz)
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                found.append(Arrival(path=path, day=day, at=at))
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_ledger(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True), "utf-8")
    os.replace(tmp, path)


def _inbox_target(inbox: Path, name: str, sha: str) -> Path | None:
    """Where a file goes in the inbox; None when the same bytes already wait there."""
    candidate = inbox / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 1
    while candidate.exists():
        if _sha256(candidate) == sha:
            return None
        n += 1
        # Two different files with one name (a resubmission) must both reach the inbox.
        candidate = inbox / f"{stem}__{n}{suffix}"
    return candidate


def stage_demo(cfg: Settings, until: date, *, source: Path = DEMO_SUBMISSIONS) -> list[Path]:
    """Copy the demo files that arrived on or before `until` into the inbox, each once.

    A file gets its arrival time as mtime. A ledger in the state home remembers what was staged,
    so files already ingested (and moved out of the inbox) never come back; the copy lands under
    a temporary name and is renamed, so a run never sees half a file.
    """
    ledger_path = cfg.home / STAGED_LEDGER
    ledger = _read_ledger(ledger_path)
    todo = [a for a in arrivals(cfg, source) if a.day <= until and a.key not in ledger]
    if not todo:
        return []
    cfg.inbox.mkdir(parents=True, exist_ok=True)
    tmp_dir = cfg.home / "staging"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    staged: list[Path] = []
    for arrival in todo:
        sha = _sha256(arrival.path)
        target = _inbox_target(cfg.inbox, arrival.path.name, sha)
        if target is not None:
            tmp = tmp_dir / f"{sha}{arrival.path.suffix}"
            shutil.copyfile(arrival.path, tmp)
            stamp = arrival.at.timestamp()
            os.utime(tmp, (stamp, stamp))
            os.replace(tmp, target)
            staged.append(target)
        ledger[arrival.key] = sha
        _write_json(ledger_path, ledger)
    log.info("staged %d demo file(s) up to %s", len(staged), until)
    return staged


def demo_exports(demo: Settings, as_of: date | None = None) -> str:
    """The shell line that points a new terminal at a demo home, on the demo's morning.

    KPI_NOW makes alert ages and 13710 days read as on the morning after the demo's as-of date
    (the as-of of its latest run, else the `demo_as_of` setting), not as on today's date.
    """
    if as_of is None:
        as_of = _latest_as_of(demo) or date.fromisoformat(demo.demo_as_of)
    morning = morning_after(as_of, demo).replace(tzinfo=None).isoformat(timespec="minutes")
    return f"export KPI_HOME={shown_path(demo.home)} KPI_NOW={morning}"


def _latest_as_of(cfg: Settings) -> date | None:
    import duckdb

    try:
        con = duckdb.connect(str(cfg.snapshot), read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute("select as_of from meta.runs order by started_at desc limit 1").fetchone()
        return row[0] if row else None
    except duckdb.Error:
        return None
    finally:
        con.close()
