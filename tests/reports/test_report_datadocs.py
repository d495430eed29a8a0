"""Validation pages: one per file, an index listing each, offline, in Chinese, text kept text."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from kpi.reports.datadocs import (
    GX_LEFTOVERS,
    batch_id,
    build_data_docs,
    results_dir,
    store_validation_result,
)
from kpi.warehouse import connect

EVERY_FILE = {c * 64 for c in "abcdef9"}


class Refs(HTMLParser):
    """Every attribute value and style text of a page, and its links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: list[tuple[str, str, str]] = []
        self.styles = ""
        self._style = False

    def handle_starttag(self, tag, attrs):
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        self._style = tag == "style"

    def handle_endtag(self, tag):
        self._style = False

    def handle_data(self, data):
        if self._style:
            self.styles += data


def external_references(page: Path) -> list[str]:
    """Addresses a browser would fetch from elsewhere: http://, https:// or //host."""
    refs = Refs()
    refs.feed(page.read_text(encoding="utf-8"))
    found = [
        f"{tag} {k}={v}"
        for tag, k, v in refs.attrs
        if re.match(r"(?i)\s*(https?:)?//", v) or re.search(r"(?i)url\(\s*['\"]?(https?:)?//", v)
    ]
    found += re.findall(r"(?i)(?:@import|url\()\s*['\"]?(?:https?:)?//[^)'\"\s]*", refs.styles)
    return found


def site(seeded, tmp_path):
    return build_data_docs(seeded.cfg, "tiny-2023", tmp_path / "site", plan_name="测试区2023年")


def test_each_file_gets_a_page_with_its_rejections_in_chinese(seeded, tmp_path):
    docs = site(seeded, tmp_path)

    assert docs is not None and docs.index.is_file()
    assert set(docs.pages) == EVERY_FILE
    kjj = docs.pages["c" * 64].read_text(encoding="utf-8")
    assert "数值应为非负数" in kjj and "指标代码不在本计划中" in kjj
    assert "@SUM(A1) 第4行" in kjj and "部分接收" in kjj
    whole = docs.pages["d" * 64].read_text(encoding="utf-8")
    assert "未找到表头行" in whole and "整个文件" in whole and "整体退回" in whole
    assert "全部校验规则通过" in docs.pages["a" * 64].read_text(encoding="utf-8")
    rsj = docs.pages["b" * 64].read_text(encoding="utf-8")
    assert "第5行“数值”列“abc”：数值不是数字" in rsj and "【提示】" in rsj


def test_the_index_lists_and_links_every_file(seeded, tmp_path):
    docs = site(seeded, tmp_path)
    refs = Refs()
    refs.feed(docs.index.read_text(encoding="utf-8"))
    links = [v for tag, k, v in refs.attrs if tag == "a" and k == "href"]
    listed = [v for tag, k, v in refs.attrs if k == "data-file"]

    assert sorted(listed) == sorted(batch_id(s) for s in EVERY_FILE)
    assert {(docs.index.parent / h).resolve() for h in links} == {
        p.resolve() for p in docs.pages.values()
    }
    for page in docs.pages.values():
        back = Refs()
        back.feed(page.read_text(encoding="utf-8"))
        hrefs = [v for tag, k, v in back.attrs if tag == "a" and k == "href"]
        assert [(page.parent / h).resolve() for h in hrefs] == [docs.index.resolve()]


def test_no_generated_page_references_any_external_address(seeded, tmp_path):
    docs = site(seeded, tmp_path)
    every = sorted((tmp_path / "site").rglob("*.html"))

    assert len(every) == len(EVERY_FILE) + 1
    for page in every:
        assert external_references(page) == [], page
    # the scan itself catches what GX's pages carried
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<link rel="stylesheet" href="https://cdn.jsdelivr.net/x.css">'
        '<img src="//s3.amazonaws.com/logo.png?dataContextId=1">'
        "<style>@import url(https://fonts.example/x.css);</style>",
        encoding="utf-8",
    )
    assert len(external_references(bad)) == 3
    assert docs.index.read_text(encoding="utf-8").count("<script") == 0


def test_submitted_values_cannot_inject_markup(seeded, tmp_path):
    docs = site(seeded, tmp_path)
    every = "".join(p.read_text(encoding="utf-8") for p in docs.pages.values())
    every += docs.index.read_text(encoding="utf-8")

    assert "<script>alert(1)</script>" not in every
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in every


def test_pages_left_by_an_older_gx_build_are_removed(seeded, tmp_path):
    old = tmp_path / "site" / "validations" / "x" / "page.html"
    old.parent.mkdir(parents=True)
    old.write_text('<script src="https://code.jquery.com/jquery.js"></script>', encoding="utf-8")

    site(seeded, tmp_path)

    assert not any((tmp_path / "site" / name).exists() for name in GX_LEFTOVERS)


def test_a_gx_result_handed_over_by_ingestion_is_shown_on_the_files_page(seeded, tmp_path):
    import great_expectations as gx

    ctx = gx.get_context(mode="ephemeral")
    batch = (
        ctx.data_sources.add_pandas("s")
        .add_dataframe_asset("rows")
        .add_batch_definition_whole_dataframe("all")
    )
    frame = pd.DataFrame({"数值": [3000.0, -1.0], "备注": ["ok", "<b>x</b>"]})
    suite = gx.ExpectationSuite(name="submission_rows")
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(column="数值", min_value=0))
    suite.add_expectation(
        gx.expectations.ExpectColumnValuesToNotMatchRegex(column="备注", regex="<")
    )
    result = batch.get_batch(batch_parameters={"dataframe": frame}).validate(
        suite, result_format="COMPLETE"
    )
    with connect(seeded.cfg) as con:
        received = con.execute(
            "select ingested_at from raw.submissions where submission_id = ?", ["b" * 64]
        ).fetchone()[0]

    stored = store_validation_result(
        seeded.cfg, "tiny-2023", "b" * 64, result, file_name="人社局6月.csv", run_time=received
    )
    docs = site(seeded, tmp_path)

    assert stored.parent == results_dir(seeded.cfg, "tiny-2023")
    assert not stored.is_relative_to(seeded.cfg.reports)  # kept apart from what is served
    text = docs.pages["b" * 64].read_text(encoding="utf-8")
    assert "取值在范围内" in text and "不含禁止的内容" in text and "下限：0" in text
    assert "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text
    assert "Great Expectations" not in docs.pages["c" * 64].read_text(encoding="utf-8")


def test_an_unreadable_stored_result_is_skipped(seeded, tmp_path):
    folder = results_dir(seeded.cfg, "tiny-2023")
    folder.mkdir(parents=True)
    (folder / f"{batch_id('b' * 64)}.json").write_text("{not json", encoding="utf-8")

    docs = site(seeded, tmp_path)

    assert "数值不是数字" in docs.pages["b" * 64].read_text(encoding="utf-8")


def test_no_submissions_means_no_data_docs(cfg, tmp_path):
    with connect(cfg):
        pass  # a migrated, empty warehouse

    assert build_data_docs(cfg, "tiny-2023", tmp_path) is None


def test_a_file_with_thousands_of_bad_rows_lists_a_sample_and_counts_them_all(seeded, tmp_path):
    with connect(seeded.cfg) as con:
        con.execute(
            "insert into staged.rejections (submission_id, plan_code, file_name, sheet, row_number,"
            " column_name, value_raw, reason_zh, expectation, severity)"
            " select ?, 'tiny-2023', '人社局6月.csv', 'Sheet1', i, '数值', 'x' || i, '数值不是数字',"
            " 'value_numeric', 'critical' from range(100, 5100) as t(i)",
            ["b" * 64],
        )

    docs = site(seeded, tmp_path)
    text = docs.pages["b" * 64].read_text(encoding="utf-8")

    assert "5001 处" in text  # 5000 added to the one seeded
    assert text.count("<tr>") < 60  # a sample, not five thousand rows
