"""The embedded production setup: serve.sh's server and worker run the nightly deployment."""

from __future__ import annotations

import json
from datetime import date, datetime

import duckdb
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from kpi.catalogue import load_catalogue
from kpi.config import load_settings
from kpi.pipeline import stage_demo

pytestmark = pytest.mark.slow


def test_deployments_keep_their_district_time_schedules_and_a_templated_pull_step(served):
    with temporary_settings({PREFECT_API_URL: served.api_url}), get_client(sync_client=True) as c:
        nightly = c.read_deployment_by_name("nightly/nightly")
        deliver = c.read_deployment_by_name("deliver/deliver")
        report = c.read_deployment_by_name("leadership-report/leadership-report")
        c.read_deployment_by_name("replay/replay")
        pool = c.read_work_pool("kpi-process")
    assert pool.type == "process"
    crons = {
        d.name: [(s.schedule.cron, s.schedule.timezone) for s in d.schedules]
        for d in (nightly, deliver, report)
    }
    assert crons == {
        "nightly": [("0 2 * * *", "Asia/Shanghai")],
        "deliver": [("*/15 8-21 * * *", "Asia/Shanghai")],
        "leadership-report": [("0 8 * * 1", "Asia/Shanghai")],
    }
    # Stored as a template: each worker resolves it to its own checkout at run time.
    assert nightly.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $KPI_PROJECT_DIR }}"}}
    ]


def test_the_nightly_deployment_runs_on_the_process_worker_and_leaves_its_artifacts(served):
    cfg = load_settings(env={"KPI_HOME": str(served.kpi_home)})
    staged = stage_demo(cfg, date(2023, 2, 28))
    assert staged, "no demo file arrived by 2023-02-28"
    with temporary_settings({PREFECT_API_URL: served.api_url}):
        run = run_deployment(
            "nightly/nightly",
            parameters={"as_of": "2023-02-28", "now": "2023-03-01T02:00:00+08:00"},
            timeout=180,
            poll_interval=1,
        )
        assert run.state.is_completed(), f"{run.state}\n{served.log.read_text()[-4000:]}"
        with get_client(sync_client=True) as c:
            artifacts = c.read_artifacts(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
            )
    by_key = {a.key: a for a in artifacts}
    assert {"hongqi-2023-status", "hongqi-2023-files", "hongqi-2023-nightly"} <= set(by_key)
    catalogue = load_catalogue(cfg.catalogue_path())
    statuses = json.loads(by_key["hongqi-2023-status"].data)
    assert len(statuses) == len(catalogue.targets)
    assert list(statuses[0])[0] == "状态"  # the column people look for first
    assert {r["状态"] for r in statuses} <= {"已完成", "正常", "预警", "滞后", "严重滞后", "无数据"}
    assert {r["牵头单位"] for r in statuses} <= {d.short_zh for d in catalogue.departments}
    files = json.loads(by_key["hongqi-2023-files"].data)
    assert sorted(f["文件"] for f in files) == sorted(p.name for p in staged)
    assert list(files[0])[0] == "结果"
    assert {f["结果"] for f in files} <= {"全部接收", "部分接收", "整体退回", "重复文件"}
    nightly = by_key["hongqi-2023-nightly"].data
    assert f"| 收到文件 | {len(staged)} |" in nightly and "| 接收行数 |" in nightly
    assert not any(raw in nightly for raw in ("{'", "['", "None", "PosixPath"))
    # The worker ran in the project checkout, on the state home of its environment.
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    row = con.execute(
        "select status, files_seen from meta.runs where run_id = ?", [str(run.id)]
    ).fetchone()
    con.close()
    assert row == ("completed", len(staged))


def test_a_retried_ingest_task_does_not_change_what_the_night_reports(
    served, tmp_path, monkeypatch
):
    from orchestration_helpers import fail_once_after_storing

    from flows import tasks
    from flows.nightly import nightly

    cfg = load_settings(env={}).with_home(tmp_path / "home")
    staged = stage_demo(cfg, date(2023, 2, 3))
    calls = fail_once_after_storing(monkeypatch, cfg)
    # Retried at once: the task's own delay (5 s, then 30) is a wait, not what this test checks.
    retried_at_once = tasks.ingest.with_options(retry_delay_seconds=0)
    monkeypatch.setitem(tasks.STEP_TASKS, "ingest_step", retried_at_once)
    with temporary_settings({PREFECT_API_URL: served.api_url}):
        state = nightly(
            as_of=date(2023, 2, 3),
            now=datetime(2023, 2, 4, 2, tzinfo=cfg.tz),
            home=str(cfg.home),
            return_state=True,
        )
        summary = state.result()
        run_id = state.state_details.flow_run_id
        with get_client(sync_client=True) as c:
            task_runs = c.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            )
            artifacts = c.read_artifacts(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            )
    ingest_runs = [t.run_count for t in task_runs if t.name.startswith("ingest inbox")]
    assert calls == ["first", "retry"] and ingest_runs == [2]  # it was retried
    assert (summary["files_seen"], summary["files_accepted"], summary["files_duplicate"]) == (
        len(staged),
        len(staged),
        0,
    )
    files = json.loads(next(a for a in artifacts if a.key == "hongqi-2023-files").data)
    assert sorted(f["文件"] for f in files) == sorted(p.name for p in staged)
    assert {f["结果"] for f in files} == {"全部接收"}
    con = duckdb.connect(str(cfg.snapshot), read_only=True)
    row = con.execute(
        "select status, files_seen, files_duplicate from meta.runs where run_id = ?", [str(run_id)]
    ).fetchone()
    con.close()
    assert row == ("completed", len(staged), 0)
