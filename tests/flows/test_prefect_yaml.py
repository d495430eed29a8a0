"""prefect.yaml: four deployments on one process pool, the right schedules, no paths, no secrets."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml
from prefect import Flow

from kpi.config import ROOT

DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))


def by_name(name: str) -> dict:
    return next(d for d in DEPLOYMENTS["deployments"] if d["name"] == name)


def strings(node) -> list[str]:
    """Every string value in a parsed YAML document."""
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return [node] if isinstance(node, str) else []


def machine_paths(node) -> list[str]:
    """Values that name a place on one machine (absolute or home-relative paths)."""
    return [s for s in strings(node) if s.startswith(("/", "~")) or re.match(r"^[A-Za-z]:\\", s)]


@pytest.mark.parametrize(
    ("name", "cron"),
    [("nightly", "0 2 * * *"), ("deliver", "*/15 8-21 * * *"), ("leadership-report", "0 8 * * 1")],
)
def test_scheduled_deployments_run_at_district_time(name, cron):
    (schedule,) = by_name(name)["schedules"]
    assert schedule == {"cron": cron, "timezone": "Asia/Shanghai", "active": True}


def test_the_replay_deployment_has_no_schedule():
    assert by_name("replay")["schedules"] == []


def test_every_entrypoint_is_a_flow_of_the_same_name_as_its_deployment():
    for d in DEPLOYMENTS["deployments"]:
        path, func = d["entrypoint"].split(":")
        assert (ROOT / path).is_file()
        module = importlib.import_module(Path(path).with_suffix("").as_posix().replace("/", "."))
        flow = getattr(module, func)
        assert isinstance(flow, Flow)
        assert flow.name == d["name"]


def test_all_deployments_share_the_process_pool_that_serve_creates_and_run_one_at_a_time():
    serve = (ROOT / "scripts" / "serve.sh").read_text(encoding="utf-8")
    for d in DEPLOYMENTS["deployments"]:
        assert d["work_pool"]["name"] == "kpi-process"
        assert d["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    assert 'pool="kpi-process"' in serve and "--type process" in serve


def test_the_pull_step_takes_the_project_folder_from_the_workers_environment():
    assert DEPLOYMENTS["pull"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $KPI_PROJECT_DIR }}"}}
    ]


def test_no_machine_path_is_written_anywhere_in_the_file():
    assert machine_paths(DEPLOYMENTS) == []
    # The check itself catches what `prefect init` would have written.
    assert machine_paths({"pull": [{"directory": "/home/someone/kpi"}]}) == ["/home/someone/kpi"]


def test_no_secret_is_written_in_the_file():
    values = " ".join(strings(DEPLOYMENTS)).lower()
    keys = " ".join(yaml.safe_dump(DEPLOYMENTS).lower().split())
    for word in ("password", "secret", "token", "webhook", "wecombot://", "mailto", "key="):
        assert word not in values and word not in keys


def test_no_flow_parameter_takes_a_moment_at_import_time():
    """ "now" and dates default to None: each run asks kpi.clock when it starts, never earlier."""
    import inspect
    from datetime import date, datetime

    for d in DEPLOYMENTS["deployments"]:
        path, func = d["entrypoint"].split(":")
        module = importlib.import_module(Path(path).with_suffix("").as_posix().replace("/", "."))
        for name, param in inspect.signature(getattr(module, func).fn).parameters.items():
            assert not isinstance(param.default, date | datetime), (d["name"], name)
            if name in ("now", "as_of"):
                assert param.default is None, (d["name"], name)
