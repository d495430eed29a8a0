"""`kpi run`, `kpi replay` and `kpi demo` refuse what makes no sense before Prefect starts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from kpi.cli import main


def kpi(*args: str, **env: str):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_a_replay_whose_start_is_after_its_end_is_refused_in_chinese():
    done = kpi("replay", "--from", "2023-03-02", "--to", "2023-03-01")
    assert done.exit_code == 1
    assert "结束日期 2023-03-01 早于起始日期 2023-03-02" in done.output
    assert "Traceback" not in done.output


def test_a_date_that_is_not_one_is_refused_in_chinese():
    done = kpi("replay", "--from", "2023-13-01", "--to", "2023-03-01")
    assert done.exit_code == 2
    assert "日期应写作 YYYY-MM-DD" in done.output and "2023-13-01" in done.output


def test_a_missing_source_folder_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    done = kpi("replay", "--from", "2023-03-01", "--to", "2023-03-02", "--source", str(missing))
    assert done.exit_code == 1
    assert f"找不到文件夹 {missing}" in done.output


def test_a_home_that_is_a_file_is_refused(tmp_path):
    file = tmp_path / "notes.txt"
    file.write_text("x")
    done = kpi("replay", "--from", "2023-03-01", "--to", "2023-03-02", "--home", str(file))
    assert done.exit_code == 1 and "是一个文件，不是文件夹" in done.output


@pytest.mark.parametrize(
    "verb", [["run"], ["demo"], ["replay", "--from", "2023-03-01", "--to", "2023-03-01"]]
)
def test_an_unknown_plan_is_refused_naming_the_plans_there_are(verb):
    done = kpi("--plan", "hongqi-2032", *verb)
    assert done.exit_code == 1
    assert "未知计划“hongqi-2032”" in done.output and "hongqi-2023" in done.output


def test_kpi_run_refuses_to_judge_a_plan_as_of_a_day_outside_its_year(monkeypatch):
    monkeypatch.setenv("KPI_NOW", "2026-12-05T10:00")  # yesterday is in 2026
    done = kpi("run")
    assert done.exit_code == 1
    assert "截至日期 2026-12-04 不在计划" in done.output
    assert "--allow-outside-year" in done.output and "--as-of 2023-12-31" in done.output
    done = kpi("run", "--as-of", "2022-12-31")
    assert done.exit_code == 1 and "--as-of 2023-01-01" in done.output
