"""A quiet night (nothing arrived, nothing to judge anew) keeps the report and the snapshot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from orchestration_helpers import GOOD_ROWS, LAGGING_ROWS, write_submission

from kpi import warehouse
from kpi.config import Settings, load_settings
from kpi.ingest import ingest_files
from kpi.pipeline import load_plan, replay, run_nightly
from kpi.warehouse import connect, migrate

AS_OF = date(2023, 7, 15)
NOW = datetime(2023, 7, 16, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(scope="module")
def first_night(tmp_path_factory, write_tiny_catalogue) -> tuple[Settings, Path]:
    """A tiny-plan world after one night that ingested a good file, kept for copies (`after_one`)."""
    base = tmp_path_factory.mktemp("quiet-night")
    world = base / "world"  # every copy lives here: the settings (and the report's inputs) are one
    write_tiny_catalogue(world / "catalogue")
    cfg = load_settings(env={}).with_home(world / "home")
    cfg = replace(cfg, catalogue_dir=world / "catalogue", plan="tiny-2023")
    write_submission(cfg.inbox, "a_good.csv", GOOD_ROWS)
    run_nightly(cfg, "tiny-2023", AS_OF, NOW)
    shutil.copytree(world, base / "after-one", symlinks=True)  # copy2: sizes and mtimes kept
    return cfg, base / "after-one"


@pytest.fixture
def after_one(first_night) -> Settings:
    """`tiny_cfg` as its first night (a good file) left it: a fresh copy of `first_night`'s world.

    The copy keeps every path, size and mtime, so the next night sees exactly what a night run
    in this test would have left (the warehouse's signature, the report's and snapshot's stamps).
    """
    cfg, kept = first_night
    world = cfg.home.parent
    shutil.rmtree(world)
    shutil.copytree(kept, world, symlinks=True)
    return cfg


def _mtimes(cfg) -> dict[str, int]:
    html = next(cfg.reports.glob(f"tiny-2023_{AS_OF.isoformat()}_progress.html"))
    return {"html": html.stat().st_mtime_ns, "snapshot": cfg.snapshot.stat().st_mtime_ns}


def _computed_at(cfg):
    con = duckdb.connect(str(cfg.snapshot), read_only=True)
    try:
        return con.execute(
            "select max(computed_at) from mart.progress where as_of = ?", [AS_OF]
        ).fetchone()[0]
    finally:
        con.close()


def test_a_quiet_night_keeps_report_and_snapshot_and_a_new_file_rewrites_them(tiny_cfg):
    write_submission(tiny_cfg.inbox, "a_good.csv", GOOD_ROWS)
    first = run_nightly(tiny_cfg, "tiny-2023", AS_OF, NOW)
    assert first["files_seen"] == 1 and first["status"] == "completed"
    before, computed = _mtimes(tiny_cfg), _computed_at(tiny_cfg)

    quiet = run_nightly(tiny_cfg, "tiny-2023", AS_OF, NOW)
    assert quiet["status"] == "completed" and quiet["files_seen"] == 0
    assert _mtimes(tiny_cfg) == before  # neither rewritten
    assert _computed_at(tiny_cfg) == computed  # progress equal: not rewritten either
    assert quiet["report"]["html"] == first["report"]["html"]

    again = run_nightly(tiny_cfg, "tiny-2023", AS_OF, NOW)  # quiet after quiet: still kept
    assert _mtimes(tiny_cfg) == before and again["status"] == "completed"

    write_submission(tiny_cfg.inbox, "b_lagging.csv", LAGGING_ROWS)
    busy = run_nightly(tiny_cfg, "tiny-2023", AS_OF, NOW)
    assert busy["files_seen"] == 1
    after = _mtimes(tiny_cfg)
    assert after["html"] > before["html"] and after["snapshot"] > before["snapshot"]


def _rewritten_after(cfg, between) -> bool:
    """After a night (`after_one`), `between(cfg)`, the same night again: both rewritten?"""
    before = _mtimes(cfg)
    between(cfg)
    run_nightly(cfg, "tiny-2023", AS_OF, NOW)
    after = _mtimes(cfg)
    return after["html"] > before["html"] and after["snapshot"] > before["snapshot"]


def test_a_run_in_between_makes_the_next_quiet_night_write_again(after_one):
    # Another date judged in between: the report of AS_OF was not written by the last run.
    assert _rewritten_after(
        after_one, lambda cfg: run_nightly(cfg, "tiny-2023", AS_OF.replace(day=16), NOW)
    )


def _touch_warehouse(cfg) -> None:
    con = duckdb.connect(str(cfg.warehouse))  # as a delivery or a 13710 step would
    con.execute("create table main.touched as select 1 as x")
    con.close()


def test_a_write_outside_runs_makes_the_quiet_night_publish_again(after_one):
    # Not known to be harmless to the report: both are written again.
    assert _rewritten_after(after_one, _touch_warehouse)


def test_a_file_ingested_outside_runs_appears_in_the_next_report(after_one, tmp_path):
    # `kpi ingest` of a refused file: no run, no change to progress, but the report lists it.
    bad = tmp_path / "refused_by_hand.csv"
    bad.write_text("not,a,template\n1,2,3\n", encoding="utf-8")
    noon = datetime(2023, 7, 15, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    os.utime(bad, (noon, noon))
    cat = load_plan(after_one, "tiny-2023")
    [receipt] = ingest_files(after_one, cat, [str(bad)], as_of=AS_OF)
    assert receipt["status"] == "rejected"
    run_nightly(after_one, "tiny-2023", AS_OF, NOW)
    html = next(after_one.reports.glob(f"tiny-2023_{AS_OF.isoformat()}_progress.html"))
    assert "refused_by_hand.csv" in html.read_text(encoding="utf-8")


# --- what a quiet night costs (issue 15: a night with no new file must be cheap) ---------------

_QUIET_RUN = """
import json, sys
from datetime import date, datetime
from pathlib import Path
from kpi.config import load_settings
from kpi.pipeline import run_nightly
cfg = load_settings(env=json.loads(sys.argv[1])).with_home(Path(sys.argv[2]))
as_of, now = date.fromisoformat(sys.argv[3]), datetime.fromisoformat(sys.argv[4])
summary = run_nightly(cfg, "tiny-2023", as_of, now)
print(json.dumps({"files": summary["files_seen"], "modules": sorted(sys.modules)}))
"""
# What a night with an empty inbox never needs: reading and validating files, writing reports,
# delivering, orchestrating.
NOT_ON_A_QUIET_NIGHT = (
    "kpi.ingest.core",
    "great_expectations",
    "openpyxl",
    "jinja2",
    "apprise",
    "prefect",
    "yaml",  # the validated catalogue comes from its JSON cache
)


def test_a_quiet_night_in_a_new_process_imports_no_ingest_report_or_delivery_code(after_one):
    before = _mtimes(after_one)
    env = {"KPI_CATALOGUE_DIR": str(after_one.catalogue_dir), "KPI_PLAN": "tiny-2023"}
    out = subprocess.run(
        [sys.executable, "-c", _QUIET_RUN, json.dumps(env), str(after_one.home)]
        + [AS_OF.isoformat(), NOW.isoformat()],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["files"] == 0 and _mtimes(after_one) == before  # it was quiet
    loaded = [
        m
        for m in seen["modules"]
        if m.split(".")[0] in NOT_ON_A_QUIET_NIGHT or m in NOT_ON_A_QUIET_NIGHT
    ]
    assert loaded == []


def _counting_loads(monkeypatch, warehouse) -> list[int]:
    """Count how often the warehouse's database is loaded, not merely connected to.

    DuckDB shares one database among a process's connections to a file; a global setting lives
    as long as that database, so a connection that finds it unset loaded the database afresh.
    """
    loads: list[int] = []
    real = duckdb.connect

    def connect(database=":memory:", *args, **kwargs):
        con = real(database, *args, **kwargs)
        if str(database) == str(warehouse):
            setting = "select current_setting('arrow_large_buffer_size')"
            if not con.execute(setting).fetchone()[0]:
                loads.append(1)
                con.execute("set global arrow_large_buffer_size = true")  # marks this load
        return con

    monkeypatch.setattr(duckdb, "connect", connect)
    return loads


def test_a_night_with_an_empty_inbox_loads_the_warehouse_once(after_one, monkeypatch):
    loads = _counting_loads(monkeypatch, after_one.warehouse)
    quiet = run_nightly(after_one, "tiny-2023", AS_OF, NOW)
    assert quiet["files_seen"] == 0
    # The start, progress, alerts and the run's end in one database (each loaded it, ~20 ms).
    assert len(loads) == 1
    # Released at the end: the last close checkpointed, no write-ahead log is left behind.
    wal = after_one.warehouse.with_name(after_one.warehouse.name + ".wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_a_busy_night_still_ingests_judges_reports_and_publishes(after_one):
    before = _mtimes(after_one)
    write_submission(after_one.inbox, "b_lagging.csv", LAGGING_ROWS)
    busy = run_nightly(after_one, "tiny-2023", AS_OF, NOW)
    assert busy["files_seen"] == 1 and busy["files_accepted"] == 1
    after = _mtimes(after_one)
    assert after["html"] > before["html"] and after["snapshot"] > before["snapshot"]
    con = duckdb.connect(str(after_one.snapshot), read_only=True)
    try:
        runs = con.execute("select status from meta.runs order by started_at").fetchall()
    finally:
        con.close()
    assert runs == [("completed",), ("completed",)]  # the snapshot shows the busy run ended


def test_a_current_warehouse_is_checked_by_a_read_and_a_new_migration_still_applied(
    cfg, tmp_path, monkeypatch
):
    with connect(cfg):
        pass
    # Current: a read-only connection suffices (no DDL, nothing written).
    ro = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        current = migrate(ro)
    finally:
        ro.close()
    folder = tmp_path / "migrations"
    shutil.copytree(warehouse.MIGRATIONS, folder)
    (folder / "999_added_later.sql").write_text("create table meta.added_later (x integer);")
    monkeypatch.setattr(warehouse, "MIGRATIONS", folder)
    with connect(cfg) as con:
        assert con.execute("select max(version) from meta.schema_version").fetchone() == (999,)
        assert con.execute("select count(*) from meta.added_later").fetchone() == (0,)
    assert current < 999


def test_a_replay_loads_the_warehouse_once_for_its_middle_nights_and_ends_published(
    tiny_cfg, monkeypatch
):
    source = tiny_cfg.home.parent / "arrivals"
    write_submission(source / "2023-07-12", "a_good.csv", GOOD_ROWS)
    loads = _counting_loads(monkeypatch, tiny_cfg.warehouse)
    after: list[int] = []  # loads so far, after each night
    nights = replay(
        tiny_cfg,
        "tiny-2023",
        date(2023, 7, 11),
        AS_OF,
        source=source,
        on_day=lambda day, summary: after.append(len(loads)),
    )
    assert [n["files_seen"] for n in nights] == [0, 1, 0, 0, 0]
    # The first night creates it and the replay then holds it: the 2nd-4th nights (a file
    # ingested too) load it no more. Let go before the last, which publishes as a nightly run.
    assert after[:4] == [2, 2, 2, 2] and after[4] > 2
    wal = tiny_cfg.warehouse.with_name(tiny_cfg.warehouse.name + ".wal")
    assert not wal.exists() or wal.stat().st_size == 0
    published = _mtimes(tiny_cfg)
    again = run_nightly(tiny_cfg, "tiny-2023", AS_OF, NOW)
    assert again["files_seen"] == 0 and _mtimes(tiny_cfg) == published  # nothing left unpublished
