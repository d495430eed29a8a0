"""The demo's snapshot as people use it: point-in-time status, the DuckDB shell, the queries."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from rich.cells import cell_len

from kpi.config import ROOT, load_settings
from kpi.ingest import ingest_inbox
from kpi.pipeline import stage_demo
from kpi.progress import compute_progress
from kpi.warehouse import publish_snapshot

AS_OF = date(2023, 7, 15)  # the demo's as-of date (make run)
DUCKDB_CLI = Path(sys.executable).parent / "duckdb"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory, hongqi):
    """The demo as `make run` leaves it: files staged on their arrival dates up to the as-of
    date, ingested, judged, published."""
    cfg = load_settings(env={}).with_home(tmp_path_factory.mktemp("demo_snapshot") / "home")
    assert stage_demo(cfg, AS_OF)
    ingest_inbox(cfg, hongqi, as_of=AS_OF)
    compute_progress(cfg, hongqi, AS_OF)
    publish_snapshot(cfg)
    return cfg


def kpi(forks, cfg, *args: str) -> subprocess.CompletedProcess:
    """`kpi ...` as a person types it, pointed at the demo's home (a fork of the warm one)."""
    env = {**os.environ, "KPI_HOME": str(cfg.home), "COLUMNS": "80"}
    return forks.run(list(args), env, timeout=120)


def snapshot_rows(cfg, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(cfg.snapshot), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_each_demo_file_is_received_on_the_day_it_arrived(demo):
    manifest = json.loads((ROOT / "demo" / "manifest.json").read_text(encoding="utf-8"))
    arrived = {(Path(f["path"]).name, f["arrival"]) for f in manifest["files"]}
    stored = snapshot_rows(demo, "select file_name, received_at from raw.submissions")
    assert len(stored) > 100
    assert {(name, at.date().isoformat()) for name, at in stored} <= arrived


def status(forks, cfg, day: str) -> list[dict]:
    done = kpi(forks, cfg, "status", "--as-of", day, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_status_as_of_the_end_of_january_shows_no_figure_received_after_that_day(
    demo, hongqi, forks
):
    records = status(forks, demo, "2023-01-31")
    assert len(records) == len(hongqi.targets)
    # The demo's first files arrived on 1 February: nothing was held at the end of January.
    assert [r["code"] for r in records if r["latest_period"] is not None] == []
    assert [r["code"] for r in records if r["latest_received_at"] is not None] == []
    assert {r["status"] for r in records} <= {"无数据", "正常"}  # nothing overdue yet


def test_status_as_of_a_day_uses_the_figures_received_by_then_and_no_later(demo, hongqi, forks):
    day = "2023-03-01"
    records = status(forks, demo, day)
    held = [r for r in records if r["latest_period"] is not None]
    assert held  # January's figures had arrived in February
    assert all(r["latest_received_at"] <= f"{day}T23:59:59" for r in held)
    # 发改委's 1-2月 figures arrived on 3 March: not yet known on the 1st.
    fgw = [r for r in records if r["department_code"] == "fgw"]
    assert fgw and all(r["latest_period"] in (None, "2023-01") for r in fgw)
    later = snapshot_rows(
        demo,
        "select count(*) from staged.observations where department_code = 'fgw'"
        " and period = '2023-02' and received_at::date = '2023-03-03'",
    )
    assert later[0][0] > 0  # ... though the warehouse holds them now
    # Each figure's period is the latest one received by then (amounts, counts, levels).
    expected = dict(
        snapshot_rows(
            demo,
            "select target_code, max(period) from staged.observations"
            " where received_at < ?::date + interval 1 day and period_end <= ?::date"
            " and value is not null group by target_code",
            [day, day],
        )
    )
    kinds = {t.code: t.kind for t in hongqi.targets}
    for r in records:
        if kinds[r["code"]] in ("cumulative", "count", "level", "ceiling"):
            assert r["latest_period"] == expected.get(r["code"]), r["code"]


def test_status_reads_well_at_80_columns_on_the_demo(demo, forks):
    done = kpi(forks, demo, "status")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    assert "…" not in done.stdout  # rich marks a cut cell with an ellipsis: none is cut
    summary = next(line for line in lines if "严重滞后" in line and "已完成" in line)
    order = [s for s in ("严重滞后", "滞后", "预警", "无数据", "正常", "已完成") if s in summary]
    positions = [summary.index(s + " ") for s in order]
    assert positions == sorted(positions)


def documented_queries() -> list[tuple[str, str]]:
    """(where, query) for every SQL block of docs/queries.md and the README."""
    out = []
    for doc in ("docs/queries.md", "README.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.DOTALL)
        out += [(f"{doc} #{i}", q) for i, q in enumerate(blocks, start=1)]
    return out


def test_the_duckdb_cli_runs_every_documented_query_on_the_demo_snapshot(demo):
    assert DUCKDB_CLI.is_file(), "make setup installs the DuckDB CLI (pyproject: duckdb-cli)"
    answers = {}
    for where, query in documented_queries():
        done = subprocess.run(
            [str(DUCKDB_CLI), "-readonly", "-json", str(demo.snapshot), "-c", query],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (where, done.stderr)
        answers[where] = json.loads(done.stdout or "[]")
    headline = answers["docs/queries.md #2"]
    assert headline and all(isinstance(r["实际"], int | float | None) for r in headline)
    refused = answers["docs/queries.md #6"]
    rejected_rows = snapshot_rows(demo, "select count(*) from staged.rejections")[0][0]
    assert refused and sum(r["行数"] for r in refused) == rejected_rows
    assert len(refused) < rejected_rows  # grouped by reason, not one line per row
    assert not any(re.match(r"文件“|工作表“|第\d+行", r["原因示例"]) for r in refused)
    assert {r["处理"] for r in refused} <= {"拒收", "提示"}


def test_written_figures_carry_no_float_noise(demo):
    noisy = snapshot_rows(
        demo,
        "select target_code, actual_written from mart.current_progress"
        " where actual_written is not null and actual_written <> round(actual_written, 6)",
    )
    assert noisy == []


def test_the_demo_warehouse_itself_is_not_what_analysts_open(demo):
    done = subprocess.run(
        [str(DUCKDB_CLI), "-readonly", str(demo.warehouse), "-c", "select 1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0  # the pipeline's own file is duckdb 2.x storage
