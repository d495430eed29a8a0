"""The department register accepts names as clerks write them, and says which one was meant."""

from __future__ import annotations

from datetime import date

import duckdb
import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from kpi.catalogue import (
    CatalogueError,
    UnknownDepartmentError,
    load_catalogue,
    name_variants,
)
from kpi.ingest import ingest_files
from kpi.templates import FIELDS, FIRST_DATA_ROW, SHEET_FORM, Period, write_template

# Names an independently written register of 红旗区 uses, and other spellings seen in files.
CLERKS = {
    "区人社局": "rsj",
    "红旗区人社局": "rsj",
    "人力资源和社会保障局": "rsj",
    "红旗区人力资源和社会保障局": "rsj",
    "新乡市红旗区人力资源和社会保障局": "rsj",
    "区 人社局": "rsj",
    "区人社局 ": "rsj",
    "区发改委": "fgw",
    "发展改革委": "fgw",
    "红旗区发展和改革委员会": "fgw",
    "区发展改革委": "fgw",
    "区住建局": "zjj",
    "住房和城乡建设局": "zjj",
    "区市监局": "scjgj",
    "市场监督管理局": "scjgj",
    "区城管局": "cgj",
    "国家税务总局新乡市红旗区税务局": "tax",
    "区税务局": "tax",
    "区委区政府督查局": "dcj",
    "ＦＧＷ": "fgw",
    "人社局": "rsj",
    "rsj": "rsj",
}


@pytest.mark.parametrize(("written", "code"), CLERKS.items())
def test_a_name_as_clerks_write_it_resolves_to_its_department(hongqi, written, code):
    assert hongqi.resolve_department(written).code == code


@pytest.mark.parametrize("written", ["市人社局", "人事局", "财政", "", None, "红旗分局"])
def test_a_name_the_register_does_not_know_resolves_to_nothing(hongqi, written):
    assert hongqi.resolve_department(written) is None


def test_a_workers_plain_copy_resolves_as_the_register_and_remembers_boundedly(hongqi):
    from kpi.catalogue_view import MAX_NAME_CHARS, RESOLVED_KEPT

    plain = hongqi.plain()
    unknown = ["市人社局", "人事局", "财政", "", "红旗分局"]
    for _ in range(2):  # the second time from what it remembers
        for written, code in CLERKS.items():
            assert plain.resolve_department(written).code == code
        for written in unknown:
            assert plain.resolve_department(written) is None
    long_name = "人社局" + "x" * (MAX_NAME_CHARS * 4)
    assert plain.resolve_department(long_name) == hongqi.resolve_department(long_name)
    assert long_name not in plain._resolved
    for i in range(RESOLVED_KEPT + 10):
        plain.resolve_department(f"未知单位{i}")
    assert len(plain._resolved) == RESOLVED_KEPT


def test_the_district_prefix_is_the_plans_own_not_a_written_one(tiny_catalogue):
    assert tiny_catalogue.plan.district_zh == "测试区"
    assert tiny_catalogue.resolve_department("测试区人社局").code == "rsj"
    assert tiny_catalogue.resolve_department("区人社局").code == "rsj"
    assert tiny_catalogue.resolve_department("红旗区人社局") is None


def test_an_unknown_name_gets_the_closest_registered_names_in_chinese(hongqi):
    message = hongqi.unknown_department_zh("人事局")
    assert message.startswith(
        "未知单位“人事局”；最接近的已登记单位：人社局（区人力资源和社会保障局）"
    )
    assert [d.code for d in hongqi.closest_departments("发展计划委")][:1] == ["fgw"]
    assert [d.code for d in hongqi.closest_departments("住房保障局")][:1] == ["zjj"]
    with pytest.raises(UnknownDepartmentError) as info:
        hongqi.require_department("发改")
    assert "发改委（区发展和改革委员会）" in str(info.value)
    assert "已登记单位：发改委、统计局" in str(info.value)  # and the valid ones, for `-d`


def test_a_hostile_name_is_bounded_before_it_is_compared_or_shown(hongqi):
    huge = "局" * 1_000_000
    assert hongqi.resolve_department(huge) is None
    assert len(name_variants(huge, "红旗区")[0]) <= 60
    message = hongqi.unknown_department_zh("<script>" + huge)
    assert len(message) < 1000


def test_a_name_claimed_by_two_departments_is_refused_on_load(tmp_path, tiny_catalogue):
    path = tmp_path / "catalogue" / "tiny-2023.yaml"  # where the tiny_catalogue fixture wrote it
    register = yaml.safe_load((path.parent / "departments.yaml").read_text(encoding="utf-8"))
    register["departments"][0]["aliases"] = ["统计局"]  # 发改委 claiming 统计局's name
    (path.parent / "departments.yaml").write_text(
        yaml.safe_dump(register, allow_unicode=True), encoding="utf-8"
    )
    with pytest.raises(CatalogueError, match="names both"):
        load_catalogue(path)


def test_the_hongqi_register_has_no_name_claimed_twice(hongqi):
    from kpi.catalogue import department_names

    assert department_names(hongqi.departments, hongqi.plan.district_zh)[1] == []


# ---------------------------------------------------------------- through the real ingest


def filled_template(catalogue, tmp_path, written_as: str):
    """人社局's June template, filled in as a clerk would, 填报单位 written `written_as`."""
    path = write_template(catalogue, "rsj", Period(2023, 6), tmp_path / "人社局_2023年6月.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb[SHEET_FORM]
    col = {f: i + 1 for i, f in enumerate(FIELDS)}
    row = FIRST_DATA_ROW
    while ws.cell(row, col["code"]).value:
        t = catalogue.target(ws.cell(row, col["code"]).value)
        ws.cell(row, col["department"]).value = written_as
        if t.kind == "ceiling":
            ws.cell(row, col["value"]).value = t.value * 0.8
        elif t.kind in ("count", "cumulative"):
            ws.cell(row, col["value"]).value = round(t.value * 0.5)
        elif t.kind in ("milestone", "qualitative"):
            ws.cell(row, col["status"]).value = "推进中"
        row += 1
    wb.save(path)
    return path, row - FIRST_DATA_ROW


@pytest.mark.parametrize("written_as", ["区人社局", "红旗区人力资源和社会保障局"])
def test_a_file_from_the_district_bureau_is_accepted_as_its_own(cfg, hongqi, tmp_path, written_as):
    path, n_rows = filled_template(hongqi, tmp_path, written_as)
    [receipt] = ingest_files(cfg, hongqi, [path], as_of=date(2023, 7, 15))
    assert receipt["status"] == "accepted", receipt
    assert receipt["department"] == "rsj"
    assert receipt["accepted"] == n_rows and receipt["rejected"] == []
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        assert con.execute("select department_code from raw.submissions").fetchall() == [("rsj",)]
        assert con.execute(
            "select distinct department_code from staged.observations"
        ).fetchall() == [("rsj",)]
    finally:
        con.close()


def test_a_file_from_an_unknown_bureau_is_still_refused(cfg, hongqi, tmp_path):
    path, _ = filled_template(hongqi, tmp_path, "市人社局")  # the city's bureau, not ours
    [receipt] = ingest_files(cfg, hongqi, [path], as_of=date(2023, 7, 15))
    assert receipt["accepted"] == 0
    assert all(r["column"] == "填报单位" for r in receipt["rejected"])


# ---------------------------------------------------------------- the -d options


def test_every_d_option_takes_clerks_names_and_names_the_valid_ones(tmp_path, monkeypatch):
    from kpi.cli import main

    monkeypatch.setenv("KPI_HOME", str(tmp_path / "home"))
    from kpi.config import settings

    settings.cache_clear()
    try:
        runner = CliRunner()
        done = runner.invoke(main, ["targets", "-d", "发展改革委", "--json"])
        assert done.exit_code == 0, done.output
        assert done.output.count('"department": "fgw"') >= 1
        unknown = runner.invoke(main, ["targets", "-d", "发展计划局"])
        assert unknown.exit_code == 1
        assert "未知单位“发展计划局”" in unknown.output and "发改委" in unknown.output
        assert "Traceback" not in unknown.output
        template = runner.invoke(
            main, ["template", "-d", "区住建局", "-p", "2023-06", "-o", str(tmp_path)]
        )
        assert template.exit_code == 0, template.output
        assert (tmp_path / "住建局_2023年6月.xlsx").is_file()
    finally:
        settings.cache_clear()
