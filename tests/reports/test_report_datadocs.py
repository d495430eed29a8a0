"""Data Docs: built from the warehouse's records, or from a real GX result ingestion handed over."""

from __future__ import annotations

import logging
from datetime import date

import pandas as pd

from kpi.reports.datadocs import SUITE, build_data_docs, gx_project, store_validation_result
from kpi.warehouse import connect


def page_text(path) -> str:
    return path.read_text(encoding="utf-8")


def test_each_submission_gets_a_page_with_its_rejections_in_chinese(seeded, tmp_path, caplog):
    caplog.set_level(logging.WARNING)

    docs = build_data_docs(seeded.cfg, "tiny-2023", seeded.as_of, tmp_path / "site")

    assert docs is not None and docs.index.is_file()
    # four submissions by the as-of date; the one of 2023-07-20 is not among them
    assert set(docs.pages) == {c * 64 for c in "abcd"}
    kjj = page_text(docs.pages["c" * 64])
    assert "数值应为非负数" in kjj and "指标代码不在本计划中" in kjj
    assert "@SUM(A1) 第4行" in kjj
    whole = page_text(docs.pages["d" * 64])
    assert "未找到表头行" in whole and "整个文件" in whole
    assert "全部校验规则通过" in page_text(docs.pages["a" * 64])
    # GX swallows rendering errors into the log: there must be none
    assert not [r for r in caplog.records if "data docs rendering" in r.getMessage()]


def test_submitted_values_cannot_inject_markup_into_data_docs(seeded, tmp_path):
    docs = build_data_docs(seeded.cfg, "tiny-2023", seeded.as_of, tmp_path / "site")
    every = "".join(page_text(p) for p in docs.pages.values()) + page_text(docs.index)

    assert "<script>alert(1)</script>" not in every
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in every


def test_a_real_gx_result_from_an_ephemeral_context_takes_the_place_of_the_rebuilt_one(
    seeded, tmp_path
):
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

    store_validation_result(
        seeded.cfg, "tiny-2023", "b" * 64, result, file_name="人社局6月.csv", run_time=received
    )
    docs = build_data_docs(seeded.cfg, "tiny-2023", seeded.as_of, tmp_path / "site")

    page = docs.pages["b" * 64]
    assert "/submission_rows/" in page.as_posix()
    text = page_text(page)
    assert "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text
    # the others are still the ones rebuilt from the warehouse
    assert f"/{SUITE}/" in docs.pages["c" * 64].as_posix()
    assert (gx_project(seeded.cfg, "tiny-2023") / "gx" / "great_expectations.yml").is_file()


def test_no_submissions_means_no_data_docs(cfg, tmp_path):
    with connect(cfg):
        pass  # a migrated, empty warehouse

    assert build_data_docs(cfg, "tiny-2023", date(2023, 7, 15), tmp_path) is None
