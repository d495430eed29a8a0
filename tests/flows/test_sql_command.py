"""`kpi sql`: one read-only query on the snapshot, stopped in time, bounded, and inert as CSV."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import time

import duckdb
import pytest

from kpi.cli.sql import inert

HOSTILE = [
    '=HYPERLINK("http://evil.example/x","点我")',
    "+86 1234",
    "-2+3",
    "@SUM(A1:A9)",
    "\tcmd",
    "\rcmd",
    "区发改委",
]


@pytest.fixture
def home(cfg):
    """A state home whose snapshot holds department text and a float with binary noise."""
    cfg.snapshot.parent.mkdir(parents=True)
    con = duckdb.connect(str(cfg.snapshot))
    con.execute("create schema mart; create table mart.cells (text varchar, n double)")
    con.executemany("insert into mart.cells values (?, ?)", [(t, -1.5) for t in HOSTILE])
    con.execute("insert into mart.cells values ('噪声', 0.1 + 0.2 + 0.3)")
    con.close()
    return cfg.home


def kpi_sql(forks, home, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`kpi sql ...` in a process of its own, forked from the warm interpreter."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("KPI_")}
    full.update(KPI_HOME=str(home), KPI_NOW=os.environ["KPI_NOW"], COLUMNS="80", **env)
    return forks.run(["sql", *args], full, timeout=120)


def test_formula_like_cells_get_an_apostrophe_and_nothing_else_changes():
    assert [inert(v) for v in HOSTILE] == ["'" + v for v in HOSTILE[:-1]] + ["区发改委"]
    assert inert(-1.5) == -1.5 and inert(None) is None and inert("a=b") == "a=b"


def test_csv_output_is_inert_in_a_spreadsheet(home, forks):
    done = kpi_sql(forks, home, "select text, n from mart.cells order by text", "--csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0] == ["text", "n"]
    cells = [r[0] for r in rows[1:]]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert '\'=HYPERLINK("http://evil.example/x","点我")' in cells
    assert "区发改委" in cells and {r[1] for r in rows[1:]} >= {"-1.5"}


def test_a_runaway_query_is_stopped_at_its_timeout_with_a_chinese_message(home, forks):
    started = time.monotonic()
    done = kpi_sql(forks, home, "select sum(range) from range(100000000000)", "--timeout", "1")
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    assert "查询超过 1 秒，已中止" in done.stderr and "Traceback" not in done.stderr
    assert elapsed < 20  # 1 s of query (it burns a core meanwhile) plus the start-up, generously


def test_a_query_over_its_memory_limit_is_stopped_with_a_chinese_message(home, forks):
    done = kpi_sql(
        forks,
        home,
        "select string_agg(range::varchar, ',') from range(50000000)",
        KPI_SQL_MEMORY_LIMIT="100MB",
    )
    assert done.returncode == 1
    assert "查询所需内存超过上限 100MB，已中止" in done.stderr


@pytest.mark.parametrize(
    "query",
    [
        "create table mart.x (a int)",
        "select 1; select 2",
        "copy mart.cells to '/tmp/x.csv'",
        "set memory_limit = '64GB'",
    ],
)
def test_only_one_read_only_query_is_run(home, query, forks):
    done = kpi_sql(forks, home, query)
    assert done.returncode == 1
    assert "只能执行一条只读查询" in done.stderr


def test_a_query_cannot_read_files_or_raise_its_own_limits(home, forks):
    done = kpi_sql(forks, home, "select * from read_csv('/etc/passwd')")
    assert done.returncode == 1 and "查询出错" in done.stderr


def test_rows_beyond_the_cap_are_left_out_and_said_so(home, forks):
    done = kpi_sql(forks, home, "select range from range(50)", "--json", "--max-rows", "10")
    assert done.returncode == 0
    assert done.stdout.count('"range"') == 10
    assert "只输出了前 10 行" in done.stderr


def test_a_wide_result_is_shown_one_record_per_block_without_cutting_a_figure(home, forks):
    wide = ", ".join(f"12345.678901 as 第{i}列很长的列名" for i in range(8))
    done = kpi_sql(forks, home, f"select {wide}, text from mart.cells where n > 0")
    assert done.returncode == 0, done.stderr
    assert "第 1 行" in done.stdout and done.stdout.count("12345.678901") == 8
    assert "…" not in done.stdout


def test_floats_are_shown_without_binary_noise(home, forks):
    done = kpi_sql(forks, home, "select n from mart.cells where text = '噪声'")
    assert "0.6" in done.stdout and "0.6000000000000001" not in done.stdout


def test_with_no_snapshot_it_says_what_to_run_in_chinese(cfg, forks):
    done = kpi_sql(forks, cfg.home, "select 1")
    assert done.returncode == 1
    assert "尚未发布查询快照" in done.stderr and "Traceback" not in done.stderr
