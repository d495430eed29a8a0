"""Each rule refuses what it guards, with a reason naming file, sheet, row, column and value."""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile

import pytest
from ingest_helpers import AS_OF, HEADER, good_rows, query, r, write_csv, write_xlsx

from kpi.ingest import ingest_files
from kpi.ingest.prepare import identity

GOOD = r("科技局", "2023-06", "hightech_firms", "家", 12)

# rule id -> (bad row, column blamed, value as written, words the reason must contain)
ROW_CASES = {
    "department_known": (
        r("不存在局", "2023-06", "investment_total", "亿元", 100),
        "填报单位",
        "不存在局",
        "不是已登记的填报单位",
    ),
    "department_empty": (
        r(None, "2023-06", "investment_total", "亿元", 100),
        "填报单位",
        "",
        "为空",
    ),
    "department_responsible": (
        r("统计局", "2023-06", "investment_total", "亿元", 100),
        "填报单位",
        "统计局",
        "应由发改委报送",
    ),
    "code_present": (r("发改委", "2023-06", None, "亿元", 100), "指标代码", "", "为空"),
    "code_known": (
        r("发改委", "2023-06", "no_such_code", "亿元", 100),
        "指标代码",
        "no_such_code",
        "不是本年度目标任务清单中的指标代码",
    ),
    "period_valid": (
        r("发改委", "2023年13月", "investment_total", "亿元", 100),
        "报告期",
        "2023年13月",
        "月份不在1-12之间",
    ),
    "period_in_plan_year": (
        r("发改委", "2022-12", "investment_total", "亿元", 100),
        "报告期",
        "2022-12",
        "不在计划年度2023年内",
    ),
    "period_not_after_as_of": (
        r("发改委", "2023-08", "investment_total", "亿元", 100),
        "报告期",
        "2023-08",
        "晚于截止日期2023-07-15",
    ),
    "kind_value_filled": (  # a growth rate entered where the amount was due
        r("发改委", "2023-06", "investment_total", "亿元", growth=5),
        "数值",
        "",
        "应填“数值”",
    ),
    "value_numeric": (
        r("发改委", "2023-06", "investment_total", "亿元", "abc"),
        "数值",
        "abc",
        "不是数字",
    ),
    "growth_numeric": (
        r("统计局", "2023-06", "gdp_growth", "%", growth="8..6"),
        "同比增长(%)",
        "8..6",
        "不是数字",
    ),
    "prior_value_numeric": (
        r("统计局", "2023-06", "gdp_growth", "亿元", 130, prior="一百"),
        "上年同期值",
        "一百",
        "不是数字",
    ),
    "reference_value_numeric": (
        r("统计局", "2023-06", "gdp_growth", "%", growth=8.6, ref="全市8%"),
        "参照值",
        "全市8%",
        "不是数字",
    ),
    "unit_convertible": (
        r("发改委", "2023-06", "investment_total", "公斤", 100),
        "计量单位",
        "公斤",
        "无法换算为指标的计量单位“亿元”",
    ),
    "unit_empty": (
        r("发改委", "2023-06", "investment_total", None, 100),
        "计量单位",
        "",
        "无法确定数值的单位",
    ),
    "unit_percent_on_an_amount": (
        r("发改委", "2023-06", "investment_total", "亿元", "45%"),
        "计量单位",
        "亿元",
        "数值带百分号",
    ),
    "value_not_below_range": (
        r("发改委", "2023-06", "investment_total", "亿元", -5),
        "数值",
        "-5",
        "不应小于0万元",
    ),
    "value_not_above_range": (
        r("发改委", "2023-06", "investment_total", "亿元", 2000),  # > 5 x 227.4 亿元
        "数值",
        "2000",
        "超过11370000万元",
    ),
    "percentage_above_100": (
        r("人社局", "2023-06", "unemployment_rate", "%", 120),
        "数值",
        "120",
        "超过100%",
    ),
    "growth_within_band": (
        r("统计局", "2023-06", "gdp_growth", "%", growth=150),
        "同比增长(%)",
        "150",
        "增速应在-50.0%至100.0%之间",
    ),
    "prior_value_not_negative": (
        r("统计局", "2023-06", "gdp_growth", "亿元", 130, prior=-1),
        "上年同期值",
        "-1",
        "不应为负数",
    ),
    "status_in_vocabulary": (
        r("发改委", "2023-06", "finance_hall_open", status="差不多"),
        "进展状态",
        "差不多",
        "未启动 / 推进中 / 已完成",
    ),
    "completion_date_valid": (
        r("发改委", "2023-06", "finance_hall_open", status="已完成", done="六月底"),
        "完成日期",
        "六月底",
        "不是有效日期",
    ),
}
RULE_OF = {
    "department_empty": "department_known",
    "unit_empty": "unit_convertible",
    "unit_percent_on_an_amount": "unit_convertible",
    "percentage_above_100": "value_not_above_range",
}


@pytest.mark.parametrize("case", list(ROW_CASES))
def test_a_bad_row_is_quarantined_with_its_reason_and_the_good_row_still_loads(
    cfg, tiny_catalogue, tmp_path, case
):
    bad, column, value, words = ROW_CASES[case]
    path = write_xlsx(tmp_path / "报送.xlsx", [GOOD, bad], title="2023年报表")
    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] == "partial", receipt
    assert receipt["accepted"] == 1
    [entry] = receipt["rejected"]
    assert entry["rule"] == RULE_OF.get(case, case)
    assert (entry["sheet"], entry["row"], entry["column"], entry["value"]) == (
        "报送表",
        4,  # title on row 1, header on row 2, the good row 3
        column,
        value,
    )
    assert entry["reason"].startswith(f"文件“报送.xlsx”工作表“报送表”第4行“{column}”列")
    assert words in entry["reason"]
    stored = query(cfg, "select * from staged.rejections where severity = 'critical'")
    assert [(s["row_number"], s["column_name"], s["reason_zh"]) for s in stored] == [
        (4, column, entry["reason"])
    ]
    assert [o["target_code"] for o in query(cfg, "select * from staged.observations")] == [
        "hightech_firms"
    ]


def test_a_ceiling_breach_is_accepted_for_the_alerts_not_quarantined(cfg, tiny_catalogue, tmp_path):
    path = write_csv(tmp_path / "c.csv", [r("人社局", "2023-06", "unemployment_rate", "%", 6.2)])
    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] == "accepted", receipt


def test_the_same_code_and_period_twice_in_a_file_quarantines_both_rows(
    cfg, tiny_catalogue, tmp_path
):
    rows = [GOOD, r("科技局", "2023-06", "hightech_firms", "家", 13)]
    path = write_csv(tmp_path / "dup.csv", rows)
    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] == "rejected"
    assert [(e["row"], e["rule"]) for e in receipt["rejected"]] == [
        (2, "no_duplicate_code_period"),
        (3, "no_duplicate_code_period"),
    ]
    assert "另见第3行" in receipt["rejected"][0]["reason"]
    assert "文件“dup.csv”第2行" in receipt["rejected"][0]["reason"]  # a CSV has no sheets
    assert query(cfg, "select * from staged.observations") == []


def test_a_year_to_date_value_below_the_previous_period_is_accepted_with_a_warning(
    cfg, tiny_catalogue, tmp_path
):
    first = write_csv(tmp_path / "may.csv", [r("科技局", "2023-05", "hightech_firms", "家", 12)])
    ingest_files(cfg, tiny_catalogue, [first], as_of=AS_OF)
    june = write_csv(tmp_path / "june.csv", [r("科技局", "2023-06", "hightech_firms", "家", 10)])
    [receipt] = ingest_files(cfg, tiny_catalogue, [june], as_of=AS_OF)
    assert receipt["status"] == "accepted"
    [warning] = receipt["warnings"]
    assert warning["rule"] == "ytd_not_decreasing"
    assert "低于上一期（2023-05）的累计值12家" in warning["reason"]
    [obs] = query(cfg, "select flags from staged.observations where period = '2023-06'")
    assert obs["flags"] == ["ytd_not_decreasing"]
    stored = query(cfg, "select severity, expectation from staged.rejections")
    assert stored == [{"severity": "warning", "expectation": "ytd_not_decreasing"}]


def test_a_rising_year_to_date_value_raises_no_warning(cfg, tiny_catalogue, tmp_path):
    rows = [
        r("科技局", "2023-05", "hightech_firms", "家", 10),
        r("科技局", "2023-06", "hightech_firms", "家", 12),
    ]
    [receipt] = ingest_files(
        cfg, tiny_catalogue, [write_csv(tmp_path / "up.csv", rows)], as_of=AS_OF
    )
    assert receipt["status"] == "accepted" and receipt["warnings"] == []


def test_a_finished_milestone_without_a_date_is_refused_as_the_template_says(
    cfg, tiny_catalogue, tmp_path
):
    rows = [r("发改委", "2023-06", "finance_hall_open", status="已完成"), GOOD]
    [receipt] = ingest_files(
        cfg, tiny_catalogue, [write_csv(tmp_path / "m.csv", rows)], as_of=AS_OF
    )
    assert receipt["status"] == "partial" and receipt["accepted"] == 1
    [e] = receipt["rejected"]
    assert e["rule"] == "completion_date_when_done" and e["column"] == "完成日期"
    assert "须填写完成日期" in e["reason"]


def test_template_rows_left_blank_are_ignored_not_rejected(cfg, tiny_catalogue, tmp_path):
    # What a department sends back when it fills one of its rows: the others keep only what
    # the template pre-filled (department, period, code, name, unit).
    rows = [
        GOOD,
        r("人社局", "2023-06", "urban_jobs", "人"),
        r("人社局", "2023-06", "unemployment_rate", "%", note=None),
    ]
    [receipt] = ingest_files(
        cfg, tiny_catalogue, [write_xlsx(tmp_path / "t.xlsx", rows)], as_of=AS_OF
    )
    assert receipt["status"] == "accepted" and receipt["accepted"] == 1
    assert receipt["rejected"] == [] and receipt["blank_rows"] == 2
    assert len(query(cfg, "select * from raw.submission_rows")) == 1


# --- files refused whole ------------------------------------------------------------------


def _bytes(p, data: bytes):
    p.write_bytes(data)
    return p


def _encrypted(p):
    # What Excel writes for a password-protected workbook: an OLE2 container holding
    # EncryptionInfo and EncryptedPackage streams, under an .xlsx name.
    body = bytearray(4096)
    body[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    name = "EncryptionInfo".encode("utf-16-le")
    body[1024 : 1024 + len(name)] = name
    p.write_bytes(bytes(body))
    return p


def _corrupt(p):
    good = write_xlsx(p.with_name("good.xlsx"), good_rows()).read_bytes()
    p.write_bytes(good[: len(good) // 2])
    return p


def _zip_not_workbook(p):
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("readme.txt", "hello")
    return p


FILE_CASES = {
    "empty": (lambda p: _bytes(p / "e.xlsx", b""), "empty", "为空"),
    "encrypted": (lambda p: _encrypted(p / "locked.xlsx"), "encrypted", "已加密"),
    "corrupt": (lambda p: _corrupt(p / "broken.xlsx"), "corrupt", "已损坏"),
    "pdf_named_xlsx": (
        lambda p: _bytes(p / "report.xlsx", b"%PDF-1.4\n%..."),
        "not_spreadsheet",
        "不是电子表格",
    ),
    "zip_not_workbook": (
        lambda p: _zip_not_workbook(p / "z.xlsx"),
        "not_spreadsheet",
        "不是Excel工作簿",
    ),
    "unsupported_type": (
        lambda p: _bytes(p / "notes.docx", b"PK\x03\x04xx"),
        "unsupported_type",
        "不支持的文件类型",
    ),
    "binary_csv": (
        lambda p: _bytes(p / "bin.csv", b"\x00\x01\x02" * 100),
        "not_spreadsheet",
        "二进制",
    ),
    "html_without_table": (
        lambda p: _bytes(p / "page.xls", b"<html><body>hello</body></html>"),
        "not_spreadsheet",
        "不是电子表格",
    ),
    "no_header": (
        lambda p: write_csv(p / "nohead.csv", [["a", "b", "c"]], header=["甲", "乙", "丙"]),
        "no_header",
        "未找到表头",
    ),
    "blank_sheet": (
        lambda p: write_xlsx(p / "blank.xlsx", [], header=[]),
        "empty",
        "没有任何内容",
    ),
    "required_column_missing": (
        lambda p: write_xlsx(
            p / "nounit.xlsx",
            [[row[i] for i in (0, 1, 2, 5)] for row in good_rows()],
            header=[HEADER[i] for i in (0, 1, 2, 5)],
        ),
        "required_columns_present",
        "缺少必填列“计量单位”",
    ),
    "header_without_rows": (
        lambda p: write_xlsx(p / "norows.xlsx", []),
        "has_data_rows",
        "没有任何数据行",
    ),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_an_unreadable_file_is_refused_whole_with_a_reason_and_set_aside(
    cfg, tiny_catalogue, tmp_path, case
):
    make, code, words = FILE_CASES[case]
    (tmp_path / "in").mkdir()
    path = make(tmp_path / "in")
    [receipt] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["status"] == "rejected" and receipt["refusal"] == code, receipt
    assert receipt["reason"].startswith(f"文件“{path.name}”") and words in receipt["reason"]
    aside = cfg.rejected_dir / f"{receipt['submission_id'][:12]}-{path.name}"
    assert aside.read_bytes() == path.read_bytes()
    assert (
        aside.with_name(aside.name + ".reason.txt").read_text("utf-8").strip()
        == (receipt["reason"])
    )
    assert query(cfg, "select * from staged.observations") == []
    [sub] = query(cfg, "select status, reason_zh from raw.submissions")
    assert sub == {"status": "rejected", "reason_zh": receipt["reason"]}


def test_a_file_over_the_size_cap_is_refused_unread(cfg, tiny_catalogue, tmp_path):
    path = write_csv(tmp_path / "big.csv", good_rows())
    small = dataclasses.replace(cfg, max_file_bytes=path.stat().st_size - 1)
    [receipt] = ingest_files(small, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["refusal"] == "too_large" and "超过上限" in receipt["reason"]


def test_a_file_is_read_whole_up_to_the_cap_and_named_by_its_first_bytes_and_size_beyond(
    tmp_path,
):
    data = bytes(range(256)) * 12_000  # 3 MB: more than one read of a megabyte
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    assert identity(path, len(data)) == (len(data), hashlib.sha256(data).hexdigest(), data)
    over = hashlib.sha256(data[:-1])
    over.update(f":{len(data)}".encode())
    assert identity(path, len(data) - 1) == (len(data), over.hexdigest(), None)
    assert identity(tmp_path, 100)[0] == -1  # a folder cannot be read: unreadable, not refused here


def test_an_xlsx_that_unpacks_beyond_the_cap_is_refused_before_it_is_opened(
    cfg, tiny_catalogue, tmp_path
):
    path = write_xlsx(tmp_path / "bomb.xlsx", good_rows())
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/padding.bin", b"\0" * 5_000_000)  # 5 MB of zeros packs into ~5 KB
    assert path.stat().st_size < 100_000
    capped = dataclasses.replace(cfg, max_xlsx_uncompressed_bytes=1_000_000)
    [receipt] = ingest_files(capped, tiny_catalogue, [path], as_of=AS_OF)
    assert receipt["refusal"] == "zip_bomb" and "超过上限" in receipt["reason"]
    # Under the real cap the same workbook is fine: the cap, not the padding, refused it.
    [ok] = ingest_files(cfg, tiny_catalogue, [path], as_of=AS_OF)
    assert ok["status"] == "duplicate"
