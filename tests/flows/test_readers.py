"""Readers answer from the snapshot, or say in Chinese within seconds that the warehouse is busy."""

from __future__ import annotations

import threading
import time
from datetime import date

import duckdb
import pytest
from orchestration_helpers import child, lock_held_elsewhere, wait_for_line

from kpi.pipeline import pipeline_run
from kpi.warehouse import (
    LockedError,
    NoSnapshot,
    NothingToRead,
    WarehouseBusy,
    holds_lock,
    pipeline_lock,
    reading,
)

AS_OF = date(2023, 7, 15)


@pytest.fixture
def published(tiny_cfg):
    """A state home whose warehouse has one completed run and a published snapshot."""
    with pipeline_run(tiny_cfg, "tiny-2023", AS_OF, run_id="done", lock_wait=0):
        pass
    return tiny_cfg


def test_the_snapshot_answers_at_once_while_a_run_holds_the_warehouse(published):
    with lock_held_elsewhere(published):
        started = time.monotonic()
        with reading(published) as con:
            assert con.execute("select status from meta.runs").fetchall() == [("completed",)]
        assert time.monotonic() - started < 2


def test_a_reader_of_the_warehouse_says_it_is_busy_in_chinese_within_its_wait(published):
    with lock_held_elsewhere(published):
        started = time.monotonic()
        with (
            pytest.raises(WarehouseBusy, match="数据仓库正忙") as err,
            reading(published, source="warehouse", wait_seconds=1),
        ):
            pass
        waited = time.monotonic() - started
    assert 1 <= waited < 3
    assert "kpi sql" in str(err.value)  # and says where to read instead
    with reading(published, source="warehouse") as con:  # free again
        assert con.execute("select count(*) from meta.runs").fetchone() == (1,)


def test_inside_its_own_run_a_step_reads_the_warehouse_without_waiting_for_itself(published):
    with pipeline_run(published, "tiny-2023", AS_OF, run_id="inside", lock_wait=0):
        assert holds_lock(published)
        started = time.monotonic()
        with reading(published, source="warehouse", wait_seconds=0) as con:
            assert con.execute("select status from meta.runs where run_id = 'inside'").fetchone()
        assert time.monotonic() - started < 2
    assert not holds_lock(published)


def test_a_run_waits_for_readers_already_reading_and_readers_share(published):
    with reading(published, source="warehouse") as first, reading(published, source="warehouse"):
        assert first.execute("select 1").fetchone() == (1,)
        with pytest.raises(LockedError), lock_held_elsewhere(published):
            pass
    with lock_held_elsewhere(published):  # readers gone: the writer gets it
        pass


def test_the_run_lock_is_exclusive_across_threads_and_within_one(tiny_cfg):
    failures: list[Exception] = []

    def other_thread() -> None:
        try:
            with pipeline_lock(tiny_cfg, wait_seconds=0.5):
                pass
        except LockedError as exc:
            failures.append(exc)

    with pipeline_lock(tiny_cfg):
        t = threading.Thread(target=other_thread)
        t.start()
        t.join(10)
        with (  # not re-entrant either
            pytest.raises(LockedError, match="本次未做任何改动"),
            pipeline_lock(tiny_cfg, wait_seconds=0.3),
        ):
            pass
        assert holds_lock(tiny_cfg)
    assert len(failures) == 1 and "另一次运行正在写入" in str(failures[0])
    assert not holds_lock(tiny_cfg)
    with pipeline_lock(tiny_cfg, wait_seconds=0):  # released
        pass


def test_a_snapshot_held_read_write_by_another_program_is_reported_within_seconds(published, forks):
    holder = child(
        forks,
        published,
        "import duckdb, time\n"
        "con = duckdb.connect(str(cfg.snapshot))\n"
        "print('open', flush=True)\ntime.sleep(30)\n",
    )
    try:
        wait_for_line(holder, "open")
        started = time.monotonic()
        with (
            pytest.raises(WarehouseBusy, match="正被其他程序以读写方式打开"),
            reading(published, wait_seconds=1),
        ):
            pass
        assert time.monotonic() - started < 4
    finally:
        holder.kill()
        holder.wait(10)


def test_with_no_snapshot_the_reader_points_to_the_demo_home_and_its_morning(tmp_path, cfg):
    with pytest.raises(NoSnapshot, match="请先运行 kpi run"), reading(cfg):
        pass
    demo = cfg.with_home(cfg.home / "demo")
    demo.snapshot.parent.mkdir(parents=True)
    con = duckdb.connect(str(demo.snapshot))
    con.execute(
        "create schema meta; create table meta.runs (as_of date, started_at timestamp);"
        "insert into meta.runs values ('2023-02-06', '2023-02-07 02:00')"
    )
    con.close()
    with pytest.raises(NoSnapshot) as err, reading(cfg):
        pass
    message = str(err.value)
    assert f"export KPI_HOME={demo.home} KPI_NOW=2023-02-07T08:30" in message
    assert "make run" in message
    with pytest.raises(NothingToRead, match="尚无数据仓库"), reading(cfg, source="warehouse"):
        pass
