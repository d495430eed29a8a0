"""Every error a person causes at the `kpi` command is one Chinese line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kpi.config import ROOT

KPI = Path(sys.executable).parent / "kpi"  # the command `make setup` installs


def kpi(tmp_path, *args: str, forks=None) -> subprocess.CompletedProcess:
    """`kpi ...` in a process of its own, with an empty state home.

    With `forks`, a fork of the warm interpreter runs `python -m kpi.cli` (the same `main` as the
    installed command); else the installed command itself, cold.
    """
    env = {**os.environ, "KPI_HOME": str(tmp_path / "home"), "COLUMNS": "80"}
    if forks is not None:
        return forks.run(list(args), env, timeout=120)
    return subprocess.run(
        [str(KPI), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


CASES = [
    # (arguments, exit code, what the message must say)
    (["status", "--as-of", "2023-13-01"], 2, "日期应写作 YYYY-MM-DD"),
    (["status", "--as-of", "yesterday"], 2, "收到“yesterday”"),
    (["--plan", "hongqi-2099", "targets"], 1, "未知计划“hongqi-2099”"),
    (["--plan", "../config/kpi", "targets"], 1, "未知计划"),
    (["targets", "-d", "人事局"], 1, "最接近的已登记单位：人社局"),
    (["status", "-d", "人事局"], 1, "未知单位“人事局”"),
    (
        ["template", "-d", "发改委", "-p", "2023-06", "-o", "/nonexistent/x.xlsx"],
        1,
        "输出目录不存在",
    ),
    (["template", "-d", "发改委", "-p", "2023-06", "-o", "x.xls"], 1, "扩展名应为 .xlsx 或 .csv"),
    (["template", "-d", "发改委", "-p", "2023-06", "--format", "csv", "-o", "x.xlsx"], 1, "不一致"),
    (["template", "-d", "发改委", "-p", "2023-13"], 1, "无法识别"),
    (["template", "-p", "2023-06"], 2, "缺少选项"),
    (["template", "-d", "发改委", "-p", "2023-06", "--format", "ods"], 2, "可选值：xlsx、csv"),
    (["status", "--bogus"], 2, "没有选项 --bogus"),
    (["stauts"], 2, "没有命令“stauts”"),
    (["status"], 1, "尚未发布查询快照"),
    (["ingest", "{tmp}/报表.xlsx"], 2, "报表.xlsx”不存在"),
]


@pytest.mark.parametrize(("args", "code", "message"), CASES, ids=lambda x: str(x)[:40])
def test_a_bad_request_gets_one_chinese_line_and_no_traceback(tmp_path, args, code, message, forks):
    done = kpi(tmp_path, *(a.replace("{tmp}", str(tmp_path)) for a in args), forks=forks)
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    for english in ("Traceback", "Error:", "Usage:", "Try '"):
        assert english not in done.stderr


def test_a_usage_error_says_where_to_find_help(tmp_path):
    done = kpi(tmp_path, "template", "-p", "2023-06")
    assert "运行 kpi template --help 查看用法" in done.stderr


def test_a_bug_keeps_its_traceback(monkeypatch):
    from click.testing import CliRunner

    from kpi.cli import main

    @main.command("boom-for-test")
    def boom():
        raise RuntimeError("a bug")

    try:
        result = CliRunner().invoke(main, ["boom-for-test"])
        assert isinstance(result.exception, RuntimeError)
    finally:
        main.commands.pop("boom-for-test")
