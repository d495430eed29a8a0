"""The 13710 steps refuse what makes no sense, hold the run lock, and show up in the snapshot."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import date, datetime

import duckdb
import pytest

from kpi.alerts import (
    WarehouseBusy,
    WorkflowRefused,
    ack,
    close,
    feedback,
    overview,
)
from kpi.warehouse import LockedError, connect, pipeline_lock

AS_OF = date(2023, 7, 15)  # the day `raised_kept` raised its alerts


@pytest.fixture
def cfg(kept_home):
    """One home for this module's tests, emptied for each (tests/alerts/conftest.py)."""
    return kept_home


def now(cfg, day=16, hh=9):
    return datetime(2023, 7, day, hh, tzinfo=cfg.tz)


def events(cfg) -> list[tuple]:
    with connect(cfg) as con:
        return con.execute("select episode_id, kind, note from alerts.events order by 1").fetchall()


def refused(cfg, call, match: str) -> None:
    """The call is refused in Chinese and writes nothing."""
    before = events(cfg)
    with pytest.raises(WorkflowRefused, match=match):
        call()
    assert events(cfg) == before


@pytest.mark.parametrize("note", ["", "   ", "\n\t "])
def test_an_empty_or_blank_note_is_refused(raised, note):
    cfg = raised
    refused(cfg, lambda: ack(cfg, 1, note, now(cfg)), "确认说明不能为空")
    refused(cfg, lambda: feedback(cfg, 1, note, now(cfg)), "反馈内容不能为空")
    refused(cfg, lambda: close(cfg, 1, now(cfg), note=note), "销号说明不能为空")


def test_a_note_too_long_is_refused_not_cut(raised):
    cfg = raised
    refused(cfg, lambda: ack(cfg, 1, "说" * 2001, now(cfg)), "过长")


def test_a_closed_alert_cannot_be_acknowledged_fed_back_or_closed_again(raised):
    cfg = raised
    close(cfg, 1, now(cfg), note="计划已报批")
    refused(
        cfg, lambda: ack(cfg, 1, "已收到", now(cfg)), "已于 2023-07-16 09:00 已销号，不能再确认"
    )
    refused(cfg, lambda: feedback(cfg, 1, "措施", now(cfg)), "不能再反馈")
    refused(cfg, lambda: close(cfg, 1, now(cfg)), "不能再销号")
    assert [k for _, k, _ in events(cfg) if k == "closed"] == ["closed"]


def test_an_alert_is_acknowledged_once(raised):
    cfg = raised
    ack(cfg, 1, "已收到", now(cfg))
    refused(cfg, lambda: ack(cfg, 1, "再次确认", now(cfg)), "无需重复确认")
    feedback(cfg, 1, "三季度加快", now(cfg))
    feedback(cfg, 1, "已追加两个项目", now(cfg, day=17))  # progress reports are welcome
    assert [k for _, k, _ in events(cfg) if k != "opened"] == ["acked", "feedback", "feedback"]


def test_notes_are_trimmed_and_control_characters_dropped(raised):
    cfg = raised
    ep = ack(cfg, 1, "  已收到\x00\x1b，正在核实  ", now(cfg))
    assert ep["ack_note"] == "已收到，正在核实"


def test_a_step_waits_for_the_run_lock_and_then_gives_up_clearly(raised):
    cfg = raised
    with pipeline_lock(cfg):
        started = time.monotonic()
        with pytest.raises(LockedError):
            ack(cfg, 1, "已收到", now(cfg), lock_wait=1)
        assert 0.9 <= time.monotonic() - started < 10
    assert [k for _, k, _ in events(cfg) if k == "acked"] == []


def test_a_step_goes_ahead_once_the_run_lets_go(raised):
    cfg = raised
    held = threading.Event()

    def run():
        with pipeline_lock(cfg):
            held.set()
            time.sleep(1.0)

    t = threading.Thread(target=run)
    t.start()
    held.wait(5)
    ep = ack(cfg, 1, "已收到", now(cfg), lock_wait=30)
    t.join()
    assert ep["acked_at"] is not None


def test_what_a_step_records_is_in_the_snapshot_at_once(raised):
    cfg = raised
    feedback(cfg, 1, "三季度加快项目入库", now(cfg))
    with duckdb.connect(str(cfg.snapshot), read_only=True) as snap:
        got = snap.execute("select feedback_text from alerts.episodes where episode_id = 1")
        assert got.fetchone() == ("三季度加快项目入库",)
    data = overview(cfg, "tiny-2023", now(cfg))
    assert data["episodes"][0]["feedback_text"] == "三季度加快项目入库"


HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(60)
"""


@pytest.fixture
def warehouse_held_by_another_process(raised):
    """Another process with a read-write connection: the warehouse file is locked."""

    def hold():
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(raised.warehouse)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "holding"
        procs.append(proc)

    procs: list[subprocess.Popen] = []
    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()


def test_the_overview_reads_the_snapshot_while_another_process_writes(
    raised, warehouse_held_by_another_process
):
    cfg = raised
    ack(cfg, 1, "已收到", now(cfg))  # publishes the snapshot
    warehouse_held_by_another_process()
    started = time.monotonic()
    data = overview(cfg, "tiny-2023", now(cfg))
    assert time.monotonic() - started < 5
    assert data["episodes"][0]["ack_note"] == "已收到"


def test_without_a_snapshot_a_busy_warehouse_is_said_in_chinese_within_seconds(
    raised, warehouse_held_by_another_process
):
    cfg = raised
    assert not cfg.snapshot.exists()
    warehouse_held_by_another_process()
    started = time.monotonic()
    with pytest.raises(WarehouseBusy, match="数据仓库正被另一运行占用"):
        overview(cfg, "tiny-2023", now(cfg))
    assert time.monotonic() - started < 10


def test_days_open_count_from_the_clock_given_and_never_go_negative(raised):
    cfg = raised
    ep = overview(cfg, "tiny-2023", now(cfg, day=20))["episodes"][0]
    assert ep["opened_on"] == "2023-07-15" and ep["days_open"] == 5
    before = overview(cfg, "tiny-2023", datetime(2023, 7, 1, tzinfo=cfg.tz))["episodes"][0]
    assert before["days_open"] == 0
    close(cfg, 1, now(cfg, day=18))
    closed = overview(cfg, "tiny-2023", now(cfg, day=30), include_closed=True)["episodes"][0]
    assert closed["days_open"] == 3  # until it was closed, not until today
