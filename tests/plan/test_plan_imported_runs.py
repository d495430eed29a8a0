"""A second plan imported from a 分解表 works with `kpi --plan CODE` for templates, ingest, status, reports."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from openpyxl import load_workbook

from kpi.plan.draft import draft_plan
from kpi.plan.drafting import draft_report

FIXTURE = Path(__file__).parent / "fixtures" / "reports" / "baiyun-2023.txt"


def kpi(forks, env: dict, *args: str) -> str:
    """`kpi --plan baiyun-2023 ...` in a process of its own (a fork of the warm interpreter)."""
    done = forks.run(["--plan", "baiyun-2023", *args], env, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_an_imported_plan_gets_templates_ingest_status_and_reports(
    tmp_path, cfg, prefect_home, forks, prefect_api
):
    folder = tmp_path / "catalogue"
    folder.mkdir()
    # 白云区's own register: the departments the draft suggests, and the supervision office
    rows = draft_plan(FIXTURE.read_text("utf-8"), year=2023).rows
    names = sorted({r.department for r in rows if r.department} | {"民政局"})
    register = [
        {"code": f"d{i}", "name_zh": f"区{n}", "short_zh": n, "route": f"dept-d{i}"}
        for i, n in enumerate(names, start=1)
    ] + [{"code": "dcj", "name_zh": "区督查局", "short_zh": "督查局", "route": "dcj"}]
    (folder / "departments.yaml").write_text(
        yaml.safe_dump({"departments": register}, allow_unicode=True), encoding="utf-8"
    )
    report = tmp_path / "白云区2023年民生项目.txt"
    shutil.copy(FIXTURE, report)
    book = tmp_path / "分解表.xlsx"
    draft_report(cfg, report, out=book, year=2023, register=folder / "departments.yaml")
    wb = load_workbook(book)  # the office's review: a lead department for every row
    ws = wb["分解表"]
    lead = [c.value for c in ws[2]].index("牵头单位") + 1
    for row in range(3, ws.max_row + 1):
        ws.cell(row, lead).value = ws.cell(row, lead).value or "民政局"
    wb["计划信息"]["B3"] = "白云区2023年民生项目"
    wb["计划信息"]["B4"] = "白云区"  # a news excerpt names no reporting government
    wb.save(book)

    env = {
        **os.environ,
        "KPI_CATALOGUE_DIR": str(folder),
        "KPI_HOME": str(tmp_path / "home"),
        "PREFECT_HOME": str(prefect_home),
        # `kpi run`'s flow on this process's shared server: its start is not this test's subject
        "PREFECT_API_URL": prefect_api.url(),
    }
    args = ["plan", "import", str(book), "--plan", "baiyun-2023", "--report", str(report)]
    out = forks.run(args, env, timeout=600)
    assert out.returncode == 0, out.stderr
    targets = json.loads(kpi(forks, env, "targets", "--json"))
    assert len(targets) == len(rows) and targets[0]["code"] == "t001"

    dept = targets[0]["department"]
    template = tmp_path / "t.xlsx"
    kpi(forks, env, "template", "-d", dept, "--period", "2023-06", "-o", str(template))
    wb = load_workbook(template)
    ws = wb.active
    header = next(r for r in range(1, 6) if "数值" in [c.value for c in ws[r]])
    col = {c.value: c.column for c in ws[header]}
    filled = 0
    for r in range(header + 1, ws.max_row + 1):
        if ws.cell(r, col["指标代码"]).value:
            ws.cell(r, col["数值"]).value = 1
            filled += 1
    wb.save(template)
    # Received on 12 July (a file's arrival is its mtime): it counts as of the 15th.
    arrived = datetime(2023, 7, 12, 10, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    os.utime(template, (arrived, arrived))
    receipts = json.loads(
        kpi(forks, env, "ingest", str(template), "--json", "--as-of", "2023-07-12")
    )
    assert receipts[0]["accepted"] == filled > 0, receipts
    kpi(
        forks, env, "run", "--as-of", "2023-07-15"
    )  # progress, snapshot, alerts, report of this plan

    status = json.loads(kpi(forks, env, "status", "--as-of", "2023-07-15", "--json"))
    codes = {r["target_code"] for r in status}
    assert codes == {t["code"] for t in targets}
    assert {r["status"] for r in status if r["department_code"] == dept} - {"无数据"}

    reports = json.loads(
        kpi(forks, env, "report", "--as-of", "2023-07-15", "--json", "-o", str(tmp_path / "r"))
    )
    html = Path(next(v for v in reports.values() if str(v).endswith(".html")))
    page = html.read_text("utf-8")
    assert targets[0]["name_zh"] in page and "白云区" in page
