"""`kpi report`, and the report's figures against what `kpi status --json` prints."""

from __future__ import annotations

import importlib.util
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpi.cli.reports import report_cmd
from kpi.config import settings
from kpi.reports.view import FIGURE_KEYS
from kpi.warehouse import publish_snapshot


@pytest.fixture
def env(seeded, monkeypatch):
    """The process settings pointed at the seeded warehouse and the tiny catalogue."""
    # the cfg and tiny_catalogue fixtures share one tmp_path: home/ and catalogue/ side by side
    monkeypatch.setenv("KPI_HOME", str(seeded.cfg.home))
    monkeypatch.setenv("KPI_CATALOGUE_DIR", str(seeded.cfg.home.parent / "catalogue"))
    monkeypatch.setenv("KPI_PLAN", "tiny-2023")
    settings.cache_clear()
    yield seeded
    settings.cache_clear()


class Figures(HTMLParser):
    """The JSON figures block of a report."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.inside = tag == "script" and ("id", "kpi-figures") in attrs

    def handle_endtag(self, tag):
        self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.text += data


def figures_of(path: Path) -> dict[str, dict]:
    parser = Figures()
    parser.feed(path.read_text(encoding="utf-8"))
    return {f["code"]: f for f in json.loads(parser.text)["figures"]}


def test_kpi_report_writes_the_report_workbook_and_data_docs_for_the_latest_date(env, tmp_path):
    out = tmp_path / "share"
    result = CliRunner().invoke(report_cmd, ["-o", str(out), "--json"], obj={"plan": "tiny-2023"})

    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["as_of"] == "2023-07-15"
    assert Path(doc["html"]) == out / "tiny-2023_2023-07-15_progress.html"
    assert Path(doc["latest"]) == out / "tiny-2023" / "latest.html"
    for key in ("html", "workbook", "data_docs", "latest"):
        assert Path(doc[key]).is_file(), key


def test_kpi_report_says_where_the_latest_report_is_in_chinese(env, tmp_path):
    result = CliRunner().invoke(report_cmd, ["-o", str(tmp_path)], obj={"plan": "tiny-2023"})

    assert result.exit_code == 0, result.output
    assert f"最新报告（固定地址）：{tmp_path / 'tiny-2023' / 'latest.html'}" in result.output


def test_kpi_report_into_an_unwritable_folder_fails_in_chinese(env, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder", encoding="utf-8")

    result = CliRunner().invoke(report_cmd, ["-o", str(blocked / "out")], obj={"plan": "tiny-2023"})

    assert result.exit_code != 0
    assert "无法写入报告目录" in result.output
    assert "Traceback" not in result.output


def test_kpi_report_refuses_a_date_without_progress(env, tmp_path):
    result = CliRunner().invoke(
        report_cmd, ["--as-of", "2023-03-31", "-o", str(tmp_path)], obj={"plan": "tiny-2023"}
    )

    assert result.exit_code != 0
    assert "2023-03-31 没有进度数据" in result.output
    assert not list(tmp_path.glob("*.html"))


def test_kpi_report_creates_a_missing_output_folder_with_its_parents(env, tmp_path):
    out = tmp_path / "new" / "reports"
    result = CliRunner().invoke(report_cmd, ["-o", str(out), "--json"], obj={"plan": "tiny-2023"})

    assert result.exit_code == 0, result.output
    assert Path(json.loads(result.output)["html"]).parent == out
    assert (out / "tiny-2023" / "latest.html").is_file()


def test_kpi_report_for_a_date_without_progress_creates_no_folder(env, tmp_path):
    from kpi.cli import main

    out = tmp_path / "missing" / "dir"
    result = CliRunner().invoke(
        main, ["--plan", "tiny-2023", "report", "--as-of", "2023-03-31", "-o", str(out)]
    )

    assert result.exit_code == 1
    assert "2023-03-31 没有进度数据" in result.output
    assert not (tmp_path / "missing").exists()


def test_kpi_report_under_a_file_fails_in_chinese_and_creates_nothing(env, tmp_path):
    from kpi.cli import main

    blocked = tmp_path / "file"
    blocked.write_text("not a folder", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["--plan", "tiny-2023", "report", "-o", str(blocked / "a" / "b")]
    )

    assert result.exit_code == 1
    assert f"无法写入报告目录 {blocked / 'a' / 'b'}：路径中有一段是文件，不是目录" in result.output
    assert "Traceback" not in result.output and "Not a directory" not in result.output
    assert blocked.read_text(encoding="utf-8") == "not a folder"


def test_a_report_that_fails_while_writing_removes_the_folder_it_created(
    env, tmp_path, monkeypatch
):
    import errno

    from kpi.cli import main
    from kpi.reports import workbook

    def full_disk(data, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(workbook, "write_workbook", full_disk)
    out = tmp_path / "fresh" / "reports"
    result = CliRunner().invoke(main, ["--plan", "tiny-2023", "report", "-o", str(out)])

    assert result.exit_code == 1
    assert "磁盘空间不足" in result.output and "No space" not in result.output
    assert not (tmp_path / "fresh").exists()


def test_kpi_report_is_a_command_of_kpi():
    from kpi.cli import main

    result = CliRunner().invoke(main, ["report", "--help"])

    assert result.exit_code == 0
    assert "--as-of" in result.output and "--out" in result.output


@pytest.mark.skipif(
    importlib.util.find_spec("kpi.cli.progress") is None,
    reason="kpi status (kpi.cli.progress) is not in this tree yet",
)
def test_the_report_figures_equal_what_kpi_status_json_prints(env, tmp_path):
    from kpi.cli.progress import status_cmd

    publish_snapshot(env.cfg)
    status = CliRunner().invoke(
        status_cmd, ["--as-of", "2023-07-15", "--json"], obj={"plan": "tiny-2023"}
    )
    assert status.exit_code == 0, status.output
    printed = {r["code"]: r for r in json.loads(status.output)}
    report = CliRunner().invoke(
        report_cmd, ["--as-of", "2023-07-15", "-o", str(tmp_path), "--json"],
        obj={"plan": "tiny-2023"},
    )  # fmt: skip
    assert report.exit_code == 0, report.output

    shown = figures_of(Path(json.loads(report.output)["html"]))

    assert set(shown) == set(printed)
    for code, fig in shown.items():
        for key in FIGURE_KEYS:
            assert fig[key] == printed[code][key], (code, key)
