"""Replay staging: each file reaches the inbox on its arrival date, once, whole, with that mtime."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from kpi.pipeline import (
    arrivals,
    days,
    default_as_of,
    morning_after,
    nightly_now,
    stage_demo,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def source(tmp_path):
    """A folder of submissions by arrival date, with a resubmission under the same name."""
    root = tmp_path / "submissions"
    files = {
        "2023-01-20/发改委_2023-01.xlsx": b"jan",
        "2023-02-15/统计局_2023-01.csv": b"tjj jan",
        "2023-02-15/人社局_2023-01.csv": b"rsj jan",
        "2023-03-01/发改委_2023-01.xlsx": b"jan corrected",
        "2023-02-15/.~lock.csv#": b"editor lock file",
        "notes/README.txt": b"not an arrival folder",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def inbox(cfg) -> dict[str, bytes]:
    return (
        {p.name: p.read_bytes() for p in sorted(cfg.inbox.iterdir())} if cfg.inbox.exists() else {}
    )


def test_arrivals_are_read_from_date_folders_oldest_first_ignoring_other_files(cfg, source):
    found = [(a.day.isoformat(), a.path.name) for a in arrivals(cfg, source)]
    assert found == [
        ("2023-01-20", "发改委_2023-01.xlsx"),
        ("2023-02-15", "人社局_2023-01.csv"),
        ("2023-02-15", "统计局_2023-01.csv"),
        ("2023-03-01", "发改委_2023-01.xlsx"),
    ]


def test_files_arrive_on_or_before_the_day_with_their_arrival_time_as_mtime(cfg, source):
    staged = stage_demo(cfg, date(2023, 2, 15), source=source)
    assert sorted(p.name for p in staged) == sorted(inbox(cfg))
    assert inbox(cfg) == {
        "发改委_2023-01.xlsx": b"jan",
        "人社局_2023-01.csv": b"rsj jan",
        "统计局_2023-01.csv": b"tjj jan",
    }
    mtime = datetime.fromtimestamp((cfg.inbox / "发改委_2023-01.xlsx").stat().st_mtime, SHANGHAI)
    assert mtime == datetime(2023, 1, 20, 10, 0, tzinfo=SHANGHAI)
    assert not (cfg.home / "staging").exists() or not any((cfg.home / "staging").iterdir())


def test_nothing_arrives_before_the_first_arrival_date(cfg, source):
    assert stage_demo(cfg, date(2023, 1, 19), source=source) == []
    assert inbox(cfg) == {}


def test_a_file_is_staged_once_even_after_it_has_left_the_inbox(cfg, source):
    stage_demo(cfg, date(2023, 2, 15), source=source)
    assert stage_demo(cfg, date(2023, 2, 15), source=source) == []
    for p in cfg.inbox.iterdir():  # ingestion moves files out of the inbox
        p.unlink()
    staged = stage_demo(cfg, date(2023, 3, 1), source=source)
    assert [p.name for p in staged] == ["发改委_2023-01.xlsx"]
    assert inbox(cfg) == {"发改委_2023-01.xlsx": b"jan corrected"}


def test_a_resubmission_under_the_same_name_does_not_overwrite_the_waiting_original(cfg, source):
    stage_demo(cfg, date(2023, 3, 1), source=source)
    got = inbox(cfg)
    assert got["发改委_2023-01.xlsx"] == b"jan"
    assert got["发改委_2023-01__2.xlsx"] == b"jan corrected"
    assert len(got) == 4


def test_an_interrupted_staging_copies_nothing_twice(cfg, source):
    stage_demo(cfg, date(2023, 2, 15), source=source)
    (cfg.home / "demo-staged.json").unlink()  # killed before the ledger was written
    assert stage_demo(cfg, date(2023, 2, 15), source=source) == []
    assert len(inbox(cfg)) == 3


def test_the_nightly_run_for_a_day_happens_at_two_the_next_morning_and_delivery_at_half_past_eight(
    cfg,
):
    assert nightly_now(date(2023, 7, 15), cfg) == datetime(2023, 7, 16, 2, 0, tzinfo=SHANGHAI)
    assert morning_after(date(2023, 7, 15), cfg) == datetime(2023, 7, 16, 8, 30, tzinfo=SHANGHAI)
    assert default_as_of(datetime(2023, 7, 16, 2, 0, tzinfo=SHANGHAI)) == date(2023, 7, 15)


def test_a_range_of_days_includes_both_ends_and_refuses_a_reversed_range():
    assert days(date(2023, 2, 27), date(2023, 3, 1)) == [
        date(2023, 2, 27),
        date(2023, 2, 28),
        date(2023, 3, 1),
    ]
    assert days(date(2023, 3, 1), date(2023, 3, 1)) == [date(2023, 3, 1)]
    with pytest.raises(ValueError, match="早于起始日期"):
        days(date(2023, 3, 2), date(2023, 3, 1))
