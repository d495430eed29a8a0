"""The analysts' snapshot: a storage version released clients open, and a Chinese comment on
every table, view, column and sequence of every schema."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import shutil
import struct
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from kpi.progress import compute_progress
from kpi.warehouse import publish_snapshot

# The DuckDB CLI that `make setup` installs (pyproject: duckdb-cli) beside the interpreter.
DUCKDB_CLI = Path(sys.executable).parent / "duckdb"
# What the pinned CLI (1.5.x) reads: storage versions 64 to 68.
CLI_READS = range(64, 69)
HAN = re.compile(r"[\u4e00-\u9fff]")
SCHEMAS = {"meta", "ref", "raw", "staged", "mart", "alerts"}


@pytest.fixture(scope="module")
def _built(tmp_path_factory) -> dict:
    return {"home": tmp_path_factory.mktemp("snapshot_format") / "home"}


@pytest.fixture
def snapshot(cfg, tiny_catalogue, make_warehouse, _built) -> Path:
    """A published snapshot of a small warehouse: figures, a rejection, two computed days."""
    if _built["home"].exists():
        shutil.copytree(_built["home"], cfg.home, dirs_exist_ok=True)
        return cfg.snapshot
    with make_warehouse(tiny_catalogue).batch() as w:
        w.obs("investment_total", "2023-05", 95e4)
        w.obs("investment_total", "2023-06", 114e4)
        w.reject("urban_jobs", "2023-06")
        w.obs("market_entities", "2023-06", 56000)
    compute_progress(cfg, tiny_catalogue, date(2023, 6, 20))
    compute_progress(cfg, tiny_catalogue, date(2023, 7, 15))
    publish_snapshot(cfg)
    shutil.copytree(cfg.home, _built["home"])
    return cfg.snapshot


def storage_version_number(path: Path) -> int:
    """The version number in a DuckDB file's main header (what a reader checks first)."""
    head = path.read_bytes()[:20]
    assert head[8:12] == b"DUCK", f"{path} is not a DuckDB file"
    return struct.unpack("<Q", head[12:20])[0]


def uncommented(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every object of the database that has no Chinese comment."""
    rows = con.execute(
        """
        select 'table ' || schema_name || '.' || table_name, comment
        from duckdb_tables() where database_name = current_database() and not internal
        union all
        select 'view ' || schema_name || '.' || view_name, comment
        from duckdb_views() where database_name = current_database() and not internal
        union all
        select 'column ' || schema_name || '.' || table_name || '.' || column_name, comment
        from duckdb_columns() where database_name = current_database() and not internal
        union all
        select 'sequence ' || schema_name || '.' || sequence_name, comment
        from duckdb_sequences() where database_name = current_database()
        """
    ).fetchall()
    assert len(rows) > 300  # the check is not vacuous: every schema's objects are there
    return sorted(name for name, comment in rows if not HAN.search(comment or ""))


def test_every_table_view_column_and_sequence_of_the_snapshot_has_a_chinese_comment(snapshot):
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        schemas = {
            r[0]
            for r in con.execute(
                "select schema_name from duckdb_tables() where database_name = current_database()"
            ).fetchall()
        }
        assert schemas >= SCHEMAS
        assert uncommented(con) == []
    finally:
        con.close()


def test_a_table_added_without_a_comment_is_caught(snapshot, tmp_path):
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(snapshot, copy)
    con = duckdb.connect(str(copy))
    try:
        con.execute("create table staged.someone_elses (a integer)")
        con.execute("comment on table staged.someone_elses is '别人的表'")
        assert uncommented(con) == ["column staged.someone_elses.a"]
    finally:
        con.close()


def test_the_snapshot_is_written_in_a_storage_version_the_released_cli_reads(cfg, snapshot):
    assert storage_version_number(snapshot) in CLI_READS
    assert storage_version_number(cfg.warehouse) not in CLI_READS  # why the setting exists


def test_the_duckdb_cli_opens_the_snapshot_read_only_with_its_views(snapshot):
    assert DUCKDB_CLI.is_file(), "make setup installs the DuckDB CLI (pyproject: duckdb-cli)"
    query = (
        "select target_code, status from mart.current_progress order by target_code limit 2;"
        "select count(*) as n from mart.rejections where severity_zh = '拒收';"
        "select comment from duckdb_tables() where table_name = 'observations';"
    )
    done = subprocess.run(
        [str(DUCKDB_CLI), "-readonly", "-csv", str(snapshot), "-c", query],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = list(csv.reader(io.StringIO(done.stdout)))
    assert lines[:3] == [
        ["target_code", "status"],
        ["finance_hall_open", "严重滞后"],
        ["gdp_growth", "无数据"],
    ]
    assert lines[3:5] == [["n"], ["1"]]
    assert lines[5:] == [
        ["comment"],
        ["已接收的数据（标准单位，可追溯到文件、工作表、行号；含修订）"],
    ]


def test_the_cli_cannot_write_to_the_snapshot(snapshot):
    done = subprocess.run(
        [str(DUCKDB_CLI), "-readonly", str(snapshot), "-c", "delete from mart.progress"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "read-only" in (done.stderr + done.stdout).lower()


def test_a_failed_publish_keeps_the_previous_snapshot_and_leaves_no_temporary_file(cfg, snapshot):
    before = snapshot.read_bytes()
    broken = dataclasses.replace(cfg, snapshot_storage_version="v0.0.1")
    with pytest.raises(duckdb.Error):
        publish_snapshot(broken)
    assert snapshot.read_bytes() == before
    assert sorted(p.name for p in snapshot.parent.iterdir()) == ["kpi.duckdb", snapshot.name]


def test_a_storage_version_that_is_not_one_is_refused_before_anything_is_written(cfg, snapshot):
    with pytest.raises(ValueError, match="v1.0.0"):
        publish_snapshot(dataclasses.replace(cfg, snapshot_storage_version="v1'; drop"))


def test_a_copy_that_outgrows_its_memory_bound_is_made_again_unbounded(
    cfg, snapshot, monkeypatch, caplog
):
    monkeypatch.setattr("kpi.warehouse.SNAPSHOT_MEMORY_FLOOR_MB", 1)
    monkeypatch.setattr("kpi.warehouse.SNAPSHOT_MEMORY_FACTOR", 0)
    snapshot.unlink()
    with caplog.at_level("WARNING", logger="kpi.warehouse"):
        publish_snapshot(cfg)
    assert "copied again unbounded" in caplog.text  # the bounded copy did fail
    assert sorted(p.name for p in snapshot.parent.iterdir()) == ["kpi.duckdb", snapshot.name]
    counts = "select (select count(*) from mart.progress), (select count(*) from duckdb_tables())"
    with duckdb.connect(str(snapshot), read_only=True) as con:
        copied = con.execute(counts).fetchall()
    with duckdb.connect(str(cfg.warehouse), read_only=True) as con:
        assert copied == con.execute(counts).fetchall() and min(copied[0]) > 0
