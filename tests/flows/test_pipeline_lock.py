"""Two runs never overlap: the run lock, bounded waiting, and the meta.runs record of each run."""

from __future__ import annotations

import signal
import time
from datetime import date

import duckdb
import pytest
from orchestration_helpers import child, lock_held_elsewhere, wait_for_line

from kpi.pipeline import pipeline_run, run_nightly
from kpi.warehouse import LockedError

AS_OF = date(2023, 7, 15)


def runs(cfg) -> list[tuple]:
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        return con.execute(
            "select run_id, flow, as_of, status, finished_at is not null from meta.runs"
            " order by started_at"
        ).fetchall()
    finally:
        con.close()


def test_a_second_run_waits_a_bounded_time_then_fails_clearly_without_touching_anything(tiny_cfg):
    with lock_held_elsewhere(tiny_cfg):
        started = time.monotonic()
        with pytest.raises(LockedError, match="另一次运行正在写入"):
            run_nightly(tiny_cfg, "tiny-2023", AS_OF, lock_wait=1.0)
        waited = time.monotonic() - started
    assert 1.0 <= waited < 4.0
    assert not tiny_cfg.warehouse.exists()


def test_a_run_waits_for_another_process_to_finish_and_then_proceeds(tiny_cfg, forks):
    holder = child(
        forks,
        tiny_cfg,
        "import time\nfrom kpi.warehouse import pipeline_lock\n"
        "with pipeline_lock(cfg):\n    print('holding', flush=True)\n    time.sleep(1.5)\n",
    )
    wait_for_line(holder, "holding")
    started = time.monotonic()
    with pipeline_run(tiny_cfg, "tiny-2023", AS_OF, run_id="second", lock_wait=30) as run:
        assert run.plan == "tiny-2023"
    assert time.monotonic() - started >= 0.5
    assert holder.wait(timeout=30) == 0
    assert runs(tiny_cfg) == [("second", "nightly", AS_OF, "completed", True)]


def test_a_killed_run_frees_the_lock_and_the_next_run_records_it_as_abandoned(tiny_cfg, forks):
    victim = child(
        forks,
        tiny_cfg,
        "import time\nfrom datetime import date\nfrom kpi.pipeline import pipeline_run\n"
        "with pipeline_run(cfg, 'tiny-2023', date(2023, 7, 15), run_id='killed'):\n"
        "    print('started', flush=True)\n    time.sleep(60)\n",
    )
    wait_for_line(victim, "started")
    with pytest.raises(LockedError), pipeline_run(tiny_cfg, "tiny-2023", AS_OF, lock_wait=0):
        pass
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    with pipeline_run(tiny_cfg, "tiny-2023", AS_OF, run_id="after", lock_wait=0):
        pass
    assert runs(tiny_cfg) == [
        ("killed", "nightly", AS_OF, "abandoned", True),
        ("after", "nightly", AS_OF, "completed", True),
    ]


def test_a_failing_step_marks_the_run_failed_and_the_error_reaches_the_caller(tiny_cfg):
    with (
        pytest.raises(ValueError, match="broken step"),
        pipeline_run(tiny_cfg, "tiny-2023", AS_OF, run_id="bad", lock_wait=0),
    ):
        raise ValueError("broken step")
    assert runs(tiny_cfg) == [("bad", "nightly", AS_OF, "failed", True)]
    # The lock was released: the next run starts at once.
    with pipeline_run(tiny_cfg, "tiny-2023", AS_OF, run_id="good", lock_wait=0):
        pass
    assert [r[3] for r in runs(tiny_cfg)] == ["failed", "completed"]


def test_a_run_mirrors_its_catalogue_into_ref_for_analysts(tiny_cfg, tiny_catalogue):
    with pipeline_run(tiny_cfg, "tiny-2023", AS_OF, lock_wait=0):
        pass
    con = duckdb.connect(str(tiny_cfg.warehouse), read_only=True)
    codes = {
        r[0]
        for r in con.execute(
            "select code from ref.targets where plan_code = 'tiny-2023'"
        ).fetchall()
    }
    con.close()
    assert codes == {t.code for t in tiny_catalogue.targets}
