"""The one clock: "now" comes from kpi.clock, which tests set, never from the wall clock."""

from __future__ import annotations

import os
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kpi import clock
from kpi.config import ROOT

SHANGHAI = ZoneInfo("Asia/Shanghai")
WALL_CLOCK = re.compile(r"\b(datetime\.(now|today|utcnow)|date\.today|time\.time)\(")


def test_kpi_now_without_an_offset_is_district_time(monkeypatch):
    monkeypatch.setenv("KPI_NOW", "2023-03-01T23:30")
    assert clock.now(SHANGHAI) == datetime(2023, 3, 1, 23, 30, tzinfo=SHANGHAI)
    assert clock.today(SHANGHAI).isoformat() == "2023-03-01"


def test_kpi_now_with_an_offset_is_converted_to_district_time(monkeypatch):
    monkeypatch.setenv("KPI_NOW", "2023-03-01T15:30:00+00:00")
    assert clock.local_now(SHANGHAI) == datetime(2023, 3, 1, 23, 30)


def test_a_frozen_moment_wins_over_the_environment_and_is_undone_after_the_block(monkeypatch):
    monkeypatch.setenv("KPI_NOW", "2023-03-01")
    with clock.frozen(datetime(2024, 1, 2, 3, tzinfo=SHANGHAI)):
        assert clock.today(SHANGHAI).isoformat() == "2024-01-02"
    assert clock.today(SHANGHAI).isoformat() == "2023-03-01"


def test_a_bad_value_is_refused_in_chinese(monkeypatch):
    monkeypatch.setenv("KPI_NOW", "yesterday")
    with pytest.raises(clock.BadNow, match="无法识别"):
        clock.now(SHANGHAI)


def test_the_kpi_command_passes_now_to_everything_it_runs(forks):
    # `kpi --now nonsense targets` in a process of its own (a fork of the warm interpreter).
    out = forks.run(["--now", "nonsense", "targets"], dict(os.environ))
    assert out.returncode == 2 and "无法识别" in out.stderr


def test_no_module_reads_the_wall_clock_except_the_clock():
    offenders = []
    for folder in ("kpi", "flows", "transforms"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "kpi" / "clock.py":
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if WALL_CLOCK.search(line) and "# wall clock:" not in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []
