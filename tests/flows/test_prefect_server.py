"""The embedded production setup: serve.sh's server and worker run the nightly deployment."""

from __future__ import annotations

import json
from datetime import date

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
    statuses = json.loads(by_key["hongqi-2023-status"].data)
    assert len(statuses) == len(load_catalogue(cfg.catalogue_path()).targets)
    assert {r["状态"] for r in statuses} <= {"已完成", "正常", "预警", "滞后", "严重滞后", "无数据"}
    files = json.loads(by_key["hongqi-2023-files"].data)
    assert sorted(f["文件"] for f in files) == sorted(p.name for p in staged)
    assert "| 接收行数 |" in by_key["hongqi-2023-nightly"].data
    # The worker ran in the project checkout, on the state home of its environment.
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    row = con.execute(
        "select status, files_seen from meta.runs where run_id = ?", [str(run.id)]
    ).fetchone()
    con.close()
    assert row == ("completed", len(staged))
