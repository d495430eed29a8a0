"""The WeCom limiter: 18 a minute per robot by default, counted across processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kpi.alerts.plugins import RateLimiter
from kpi.config import load_settings


class Stop(Exception):
    """Raised by a sleep stub: the limiter wanted to wait this long."""


def test_the_default_is_18_a_minute_a_margin_under_wecoms_20():
    assert load_settings(env={}).wecom_per_minute == 18
    assert RateLimiter().limit == 18


def test_two_limiters_sharing_a_state_file_count_each_others_sends(tmp_path):
    clock, waits = [0.0], []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    state = tmp_path / "wecom-rate.json"
    first = RateLimiter(limit=18, window=60, clock=lambda: clock[0], sleep=sleep, state_file=state)
    second = RateLimiter(limit=18, window=60, clock=lambda: clock[0], sleep=sleep, state_file=state)
    for _ in range(10):
        first.acquire("robot-a")
    for _ in range(8):
        second.acquire("robot-a")
    assert waits == []
    second.acquire("robot-a")  # the 19th within the minute waits for the first one's oldest
    assert waits == [60.0]
    second.acquire("robot-b")  # another robot has its own minute
    assert waits == [60.0]


def test_without_a_state_file_two_limiters_would_not_know_of_each_other(tmp_path):
    def never(seconds: float) -> None:
        pytest.fail("an in-memory limiter does not see the other one's sends")

    clock = [0.0]
    first, second = (RateLimiter(limit=18, clock=lambda: clock[0], sleep=never) for _ in "ab")
    for _ in range(18):  # 36 in the minute between them: why the state file exists
        assert first.acquire("robot-a") == 0 and second.acquire("robot-a") == 0


# The other process sends at the moment it is given: the two processes' clocks are the test's,
# not the machine's (under faketime each new process starts its own clock at the faked moment).
ACQUIRE = """
import sys
from pathlib import Path
from kpi.alerts.plugins import RateLimiter
at = float(sys.argv[2])
limiter = RateLimiter(limit=18, clock=lambda: at, state_file=Path(sys.argv[1]))
for _ in range(18):
    limiter.acquire("robot-a")
print("done", flush=True)
"""
SENT_AT = 1_700_000_000.0  # seconds, as a wall clock reads them


def test_sends_made_by_another_process_hold_this_one_back(tmp_path):
    state = tmp_path / "wecom-rate.json"
    out = subprocess.run(
        [sys.executable, "-c", ACQUIRE, str(state), str(SENT_AT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "done", out.stderr

    def sleep(seconds: float) -> None:
        raise Stop(seconds)

    here = RateLimiter(limit=18, clock=lambda: SENT_AT + 5, sleep=sleep, state_file=state)
    with pytest.raises(Stop) as waited:
        here.acquire("robot-a")
    assert waited.value.args[0] == pytest.approx(55)  # the other process's 18 sends, 5 s old


def test_a_torn_state_file_starts_the_count_afresh(tmp_path):
    state = tmp_path / "wecom-rate.json"
    state.write_text("{not json", encoding="utf-8")
    RateLimiter(limit=1, state_file=state, sleep=None).acquire("robot-a")
    assert "robot-a" in state.read_text(encoding="utf-8")
