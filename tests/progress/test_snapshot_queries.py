"""`kpi status` and `kpi sql` on the published snapshot; the documented queries; readers vs runs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from datetime import date

import duckdb
import pytest
from click.testing import CliRunner
from rich.cells import cell_len

from kpi.cli.progress import status_cmd
from kpi.cli.sql import sql_cmd
from kpi.config import ROOT, settings
from kpi.progress import compute_progress
from kpi.warehouse import connect, publish_snapshot

JULY = date(2023, 7, 15)


@pytest.fixture
def kpi_env(cfg, tiny_catalogue, monkeypatch):
    """Point the process-wide settings at the test's home and catalogue folder."""
    monkeypatch.setenv("KPI_HOME", str(cfg.home))
    # tiny_catalogue is written to tmp_path/catalogue, beside cfg's home tmp_path/home
    monkeypatch.setenv("KPI_CATALOGUE_DIR", str(cfg.home.parent / "catalogue"))
    monkeypatch.setenv("KPI_PLAN", "tiny-2023")
    settings.cache_clear()
    assert settings().snapshot == cfg.snapshot
    yield
    settings.cache_clear()


@pytest.fixture(scope="module")
def _built(tmp_path_factory) -> dict:
    """Where the first test of this module leaves its published home for the others to copy."""
    return {"home": tmp_path_factory.mktemp("published") / "home"}


@pytest.fixture
def published(cfg, tiny_catalogue, make_warehouse, _built):
    """A snapshot with two computed dates, a revision, a rejection and an overdue milestone."""
    if _built["home"].exists():  # the same tiny data every time: copy instead of rebuilding
        shutil.copytree(_built["home"], cfg.home, dirs_exist_ok=True)
        return cfg.snapshot
    with make_warehouse(tiny_catalogue).batch() as w:
        w.obs("investment_total", "2023-05", 95e4)
        w.obs("investment_total", "2023-06", 114e4)
        w.obs("investment_total", "2023-06", 100e4)  # revised down: now behind
        w.obs("urban_jobs", "2023-05", 3600)
        w.reject("urban_jobs", "2023-06")
        w.obs("unemployment_rate", "2023-06", 4.7)  # a breached ceiling
        w.obs("gdp_growth", "2023-06", growth_pct=8.9)
        w.obs("finance_hall_open", "2023-06", milestone_status="in_progress")
        w.obs("market_entities", "2023-06", 56000)
    compute_progress(cfg, tiny_catalogue, date(2023, 6, 20))
    compute_progress(cfg, tiny_catalogue, JULY)
    publish_snapshot(cfg)
    shutil.copytree(cfg.home, _built["home"])
    return cfg.snapshot


def run(cmd, args, env=None):
    result = CliRunner().invoke(
        cmd, args, obj={"plan": "tiny-2023"}, env={"COLUMNS": "200", **(env or {})}
    )
    return result


# ---------------------------------------------------------------- kpi status


def test_kpi_status_json_gives_every_target_with_the_promised_fields(kpi_env, published):
    result = run(status_cmd, ["--json"])
    assert result.exit_code == 0, result.output
    records = {r["code"]: r for r in json.loads(result.output)}
    assert len(records) == 7
    inv = records["investment_total"]
    for key in (
        "code",
        "status",
        "data_status",
        "actual",
        "expected",
        "completion_rate",
        "time_progress",
        "gap_pp",
        "outlook",
    ):
        assert key in inv
    assert inv["as_of"] == "2023-07-15"
    assert inv["status"] == "滞后" and inv["actual"] == 100e4
    assert records["unemployment_rate"]["status"] == "严重滞后"
    assert records["urban_jobs"]["data_status"] == "数据异常"


def test_kpi_status_for_an_earlier_stored_date_shows_that_date(kpi_env, published):
    records = json.loads(run(status_cmd, ["--json", "--as-of", "2023-06-20"]).output)
    assert {r["as_of"] for r in records} == {"2023-06-20"}


def test_kpi_status_for_a_date_never_computed_computes_it_from_the_snapshot(kpi_env, published):
    result = run(status_cmd, ["--json", "--as-of", "2023-06-09"])
    assert result.exit_code == 0, result.output
    inv = next(r for r in json.loads(result.output) if r["code"] == "investment_total")
    assert inv["latest_period"] == "2023-05" and inv["as_of"] == "2023-06-09"
    con = duckdb.connect(str(published), read_only=True)
    assert (
        con.execute("select count(*) from mart.progress where as_of = '2023-06-09'").fetchone()[0]
        == 0
    )
    con.close()


def test_kpi_status_filters_by_department_short_name(kpi_env, published):
    records = json.loads(run(status_cmd, ["--json", "-d", "发改委"]).output)
    assert {r["code"] for r in records} == {"investment_total", "finance_hall_open"}
    bad = run(status_cmd, ["-d", "不存在局"])
    assert bad.exit_code != 0 and "未知单位" in bad.output


def test_kpi_status_prints_a_coloured_table_grouped_by_department(kpi_env, published):
    result = run(status_cmd, [], env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert result.exit_code == 0, result.output
    out = result.output
    for header in ("指标（单位）", "完成率", "序时", "差距", "状态", "数据", "年底预判"):
        assert header in out
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert "\x1b[" in out  # coloured
    assert re.search(r"\x1b\[[0-9;]*31m严重滞后", out)  # red for a breached ceiling
    assert "发改委" in plain and "人社局" in plain
    assert plain.index("发改委") < plain.index("完成投资") < plain.index("人社局")
    assert re.search(r"完成投资（亿元）\s+100\s+≥227\.4\s+44\.0%\s+50\.0%\s+-6\.0\s+滞后", plain)


@pytest.mark.parametrize("columns", ["80", "100", "200"])
def test_kpi_status_never_cuts_a_figure_and_sums_up_worst_first(kpi_env, published, columns):
    result = run(status_cmd, [], env={"COLUMNS": columns})
    assert result.exit_code == 0, result.output
    out = result.output
    assert max(cell_len(line) for line in out.splitlines()) <= int(columns)
    assert "…" not in out  # rich marks a cut cell with an ellipsis
    for figure in ("≥227.4", "44.0%", "50.0%", "-6.0", "≤4.5", "4.7", "5.6", "≥5.5"):
        assert re.search(rf"(^|\s){re.escape(figure)}(\s|$)", out, re.MULTILINE), figure
    summary = next(line for line in out.splitlines() if re.match(r"\s*严重滞后 \d", line))
    assert summary.split() == ["严重滞后", "2", "滞后", "1", "无数据", "1", "正常", "3"]


def test_kpi_status_without_a_snapshot_says_how_to_get_one(kpi_env, cfg, warehouse):
    result = run(status_cmd, [])
    assert result.exit_code != 0
    assert "kpi run" in result.output


# ---------------------------------------------------------------- kpi sql


def test_kpi_sql_prints_a_table_json_or_csv(kpi_env, published):
    q = "select target_code, status from mart.current_progress order by target_code"
    table = run(sql_cmd, [q])
    assert table.exit_code == 0 and "investment_total" in table.output and "7 行" in table.output
    rows = json.loads(run(sql_cmd, [q, "--json"]).output)
    assert rows[1] == {"target_code": "gdp_growth", "status": "正常"}
    csv_out = run(sql_cmd, [q, "--csv"]).output.splitlines()
    assert csv_out[0] == "target_code,status" and len(csv_out) == 8


@pytest.mark.parametrize(
    "query",
    [
        "delete from mart.progress",
        "select 1; drop table mart.progress",
        "copy mart.progress to 'out.csv'",
        "attach 'other.duckdb' as other",
        "",
    ],
)
def test_kpi_sql_refuses_anything_but_one_read_only_query(kpi_env, published, query):
    result = run(sql_cmd, [query])
    assert result.exit_code != 0
    assert "只读查询" in result.output


def test_kpi_sql_cannot_read_files_beside_the_snapshot(kpi_env, published, tmp_path):
    (tmp_path / "secret.csv").write_text("a\n1\n", encoding="utf-8")
    result = run(sql_cmd, [f"select * from read_csv('{tmp_path / 'secret.csv'}')"])
    assert result.exit_code != 0 and "查询出错" in result.output


def test_kpi_sql_reports_a_bad_query_in_chinese(kpi_env, published):
    result = run(sql_cmd, ["select no_such_column from mart.progress"])
    assert result.exit_code != 0 and "查询出错" in result.output


def test_the_commands_are_registered_on_kpi(kpi_env, published):
    from kpi.cli import main

    result = CliRunner().invoke(main, ["sql", "select count(*) as n from mart.progress", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"n": 14}]


# ---------------------------------------------------------------- the documented queries


def documented_queries() -> list[tuple[str, str]]:
    """(where, query) for every SQL block of docs/queries.md and the README, and every
    `kpi sql "..."` the README shows."""
    out = []
    for doc in ("docs/queries.md", "README.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        for i, q in enumerate(re.findall(r"```sql\n(.*?)```", text, flags=re.DOTALL), start=1):
            out.append((f"{doc} #{i}", q))
        for q in re.findall(r'kpi sql "(.+?)"(?:\s|$)', text):
            if q != "…":
                out.append((f"{doc} kpi sql", q))
    return out


def test_the_docs_document_at_least_ten_queries_and_the_readme_five():
    where = [w for w, _ in documented_queries()]
    assert sum(w.startswith("docs/") for w in where) >= 10
    assert sum(w.startswith("README") for w in where) >= 5


@pytest.mark.parametrize(("title", "query"), documented_queries(), ids=lambda x: x[:24])
def test_each_documented_query_runs_on_the_snapshot(kpi_env, published, title, query):
    result = run(sql_cmd, [query, "--json"])
    assert result.exit_code == 0, f"{title}: {result.output}"
    rows = json.loads(result.output)
    assert rows, f"{title}: no rows on the test warehouse"
    for row in rows:  # what people read: Chinese column names, figures without float noise
        assert all(re.search(r"[\u4e00-\u9fff]", k) for k in row), (title, list(row))
        for value in row.values():
            if isinstance(value, float):
                assert len(repr(value).split(".")[-1]) <= 6, (title, value)


def test_the_june_query_finds_the_revised_investment_behind(kpi_env, published):
    query = documented_queries()[0][1]
    rows = json.loads(run(sql_cmd, [query, "--json"]).output)
    assert [(r["指标代码"], r["差距"]) for r in rows] == [("investment_total", -6.0)]


def test_the_refusal_query_counts_rows_by_reason_not_one_line_per_row(
    kpi_env, published, cfg, tiny_catalogue, make_warehouse
):
    query = next(q for w, q in documented_queries() if w == "docs/queries.md #6")
    warehouse = make_warehouse(tiny_catalogue)
    # Three rows of two files fail the same rule; ingest's reasons name file, sheet, row, column.
    bad = [("人社局_2023年6月.xlsx", "填报表", 4), ("人社局_2023年6月.xlsx", "填报表", 7)]
    bad.append(("人社局_6月.csv", "csv", 3))
    with connect(cfg) as con:
        for name, sheet, row in bad:
            sid = warehouse.submission("rsj", name, status="partial")
            place = f"文件“{name}”" + (f"工作表“{sheet}”" if sheet != "csv" else "")
            con.execute(
                "insert into staged.rejections values"
                " (?, 'tiny-2023', ?, ?, ?, '数值', 'abc', ?, 'value_numeric', 'critical',"
                " 'urban_jobs', '2023-06', 'rsj')",
                [sid, name, sheet, row, f"{place}第{row}行“数值”列“abc”不是数字"],
            )
    compute_progress(cfg, tiny_catalogue, JULY)
    publish_snapshot(cfg)
    rows = json.loads(run(sql_cmd, [query, "--json"]).output)
    # One line for the rule, with the published warehouse's own row of it: 4 rows in 3 files.
    assert [(r["填报单位"], r["处理"], r["列"], r["行数"], r["文件数"]) for r in rows] == [
        ("人社局", "拒收", "数值", 4, 3)
    ]
    assert rows[0]["原因示例"] == "“abc”不是数字"  # without file, sheet, row and column


# ---------------------------------------------------------------- readers never block runs


READER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    q = "select count(distinct as_of) from mart.progress"
    print(con.execute(q).fetchone()[0], flush=True)
    sys.stdin.readline()
    print(con.execute(q).fetchone()[0], flush=True)
    """
)


def test_an_analyst_holding_the_snapshot_open_does_not_block_a_run(
    cfg, tiny_catalogue, make_warehouse, published
):
    warehouse = make_warehouse(tiny_catalogue)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "2"  # the analyst has it open
        warehouse.obs("investment_total", "2023-07", 130e4)
        compute_progress(cfg, tiny_catalogue, date(2023, 8, 15))
        publish_snapshot(cfg)
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "2"  # still reading its own, whole copy
        assert reader.wait(timeout=30) == 0
    finally:
        reader.kill()
    con = duckdb.connect(str(cfg.snapshot), read_only=True)
    assert con.execute("select count(distinct as_of) from mart.progress").fetchone()[0] == 3
    con.close()


WRITER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("begin transaction")
    con.execute("delete from mart.progress")
    print("locked", flush=True)
    sys.stdin.readline()
    con.execute("rollback")
    """
)


def test_kpi_status_answers_while_the_pipeline_holds_the_warehouse(kpi_env, cfg, published):
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(cfg.warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "locked"
        with pytest.raises(duckdb.IOException):  # the warehouse itself is locked
            duckdb.connect(str(cfg.warehouse), read_only=True)
        result = run(status_cmd, ["--json"])
        assert result.exit_code == 0, result.output
        assert len(json.loads(result.output)) == 7
        writer.stdin.write("\n")
        writer.stdin.flush()
        assert writer.wait(timeout=30) == 0
    finally:
        writer.kill()
