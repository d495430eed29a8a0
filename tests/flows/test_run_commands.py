"""`kpi demo`, `kpi run` and `kpi replay` as a user types them (subprocesses, a local server)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from pathlib import Path

import pytest

from kpi.config import ROOT, load_settings
from kpi.pipeline import stage_demo
from kpi.warehouse import pipeline_lock

KPI = str(ROOT / ".venv" / "bin" / "kpi")


def kpi(
    served, *args: str, home: Path | None = None, forks=None, **env: str
) -> subprocess.CompletedProcess:
    """Run `kpi ...` against the session's Prefect server: the installed command, cold, or with
    `forks` `python -m kpi.cli` forked from the warm interpreter (which has not imported Prefect:
    the command imports it, configured by its own environment, as a cold one does)."""
    base = os.environ if served is None else {**served.env, "PREFECT_API_URL": served.api_url}
    full = {k: v for k, v in base.items() if k != "KPI_HOME"} | env
    if home is not None:
        full["KPI_HOME"] = str(home)
    if forks is not None:
        return forks.run(list(args), full, timeout=300)
    return subprocess.run(
        [KPI, *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_the_main_job_builds_the_warehouse_and_delivers_alerts_to_the_local_sinks(
    served, tmp_path, forks
):
    # Forked warm: the installed command's cold start is test_ephemeral's (on a clone without var).
    home = tmp_path / "demo"
    done = kpi(served, "demo", "--as-of", "2023-02-06", "--home", str(home), forks=forks)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "示例数据：17 个文件于 2023-02-06 前到达" in out
    assert f"数据仓库：{home / 'warehouse' / 'kpi.duckdb'}" in out
    assert f"分析快照：{home / 'warehouse' / 'kpi_snapshot.duckdb'}" in out
    assert "进展报告：" in out and "已发送的提醒：" in out
    assert "暂缓 0" in out  # delivered the morning after: quiet hours held nothing
    # What to type in a new shell: the demo's home and its morning, not `make run` again.
    assert f"export KPI_HOME={home} KPI_NOW=2023-02-07T08:30" in out
    assert (home / "warehouse" / "kpi_snapshot.duckdb").is_file()
    sent = [p for p in (home / "sinks").rglob("*") if p.is_file()]
    assert sent and any("新培养技能人才" in p.read_text(encoding="utf-8") for p in sent)


def test_the_main_job_refuses_to_empty_a_folder_that_is_not_a_state_home(tmp_path):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.docx").write_bytes(b"years of work")
    done = kpi(None, "demo", "--home", str(precious))
    assert done.returncode == 1
    assert "不是本项目的状态目录" in done.stderr
    assert (precious / "chapter1.docx").read_bytes() == b"years of work"


@pytest.mark.slow
def test_kpi_run_runs_the_nightly_flow_once_and_reports_it_as_json(served, tmp_path, forks):
    home = tmp_path / "home"
    cfg = load_settings(env={"KPI_HOME": str(home)})
    assert len(stage_demo(cfg, date(2023, 2, 1))) == 2
    done = kpi(served, "run", "--as-of", "2023-02-01", "--json", home=home, forks=forks)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert (summary["as_of"], summary["status"], summary["files_seen"]) == (
        "2023-02-01",
        "completed",
        2,
    )
    assert len(summary["run_id"]) == 36  # the Prefect flow run id, also in meta.runs


@pytest.mark.slow
def test_kpi_run_fails_clearly_while_another_run_holds_the_warehouse(served, tmp_path, forks):
    home = tmp_path / "home"
    cfg = load_settings(env={"KPI_HOME": str(home)})
    with pipeline_lock(cfg):
        done = kpi(
            served,
            "run",
            "--as-of",
            "2023-02-01",
            home=home,
            forks=forks,
            KPI_LOCK_WAIT_SECONDS="1",
        )
    assert done.returncode == 1
    assert "另一次运行正在写入数据仓库" in done.stderr
    assert not cfg.warehouse.exists()


@pytest.mark.slow
def test_kpi_replay_runs_each_night_with_the_files_of_that_day(served, tmp_path, forks):
    home = tmp_path / "replay"
    done = kpi(
        served,
        "replay",
        "--from",
        "2023-02-01",
        "--to",
        "2023-02-03",
        "--home",
        str(home),
        "--fresh",
        forks=forks,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "回放 3 天：处理文件 9 个" in done.stdout
    assert not os.listdir(home / "inbox")
