"""The HTML report: its figures are the mart's, worst first, honest, alone, and text stays text."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from report_seed import EVIL_FILE, EVIL_NAME, PROGRESS, TINY_CODES

from kpi.reports import (
    NoProgressError,
    latest_link,
    night_files,
    report_link,
    report_paths,
    write_reports,
)
from kpi.reports.view import FIGURE_KEYS

VOID = {"meta", "br", "img", "input", "link", "hr", "wbr", "source", "col", "area", "base"}


class Page(HTMLParser):
    """Elements with their attributes, the text under each section, and what people see."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.section: str | None = None
        self.text: dict[str, str] = {}
        self.heads: dict[str, str] = {}
        self.visible = ""
        self._head_depth = 0
        self._stack: list[str] = []
        self._script_id: str | None = None
        self.scripts: dict[str, str] = {}
        self.first_seen: dict[str, int] = {}  # data-attention code -> order in the page

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a))
        if tag == "section":
            self.section = a.get("id")
        if "head" in (a.get("class") or "").split() and not self._head_depth:
            self._head_depth = 1
        elif self._head_depth and tag not in VOID:
            self._head_depth += 1
        if tag == "script":
            self._script_id = a.get("id") or ""
        if "data-attention" in a:
            self.first_seen.setdefault(a["data-attention"], len(self.first_seen))

    def handle_endtag(self, tag):
        if self._head_depth:
            self._head_depth -= 1
        if tag == "script":
            self._script_id = None

    def handle_data(self, data):
        if self._script_id is not None:
            self.scripts[self._script_id] = self.scripts.get(self._script_id, "") + data
            return
        self.visible += data
        if self.section:
            self.text[self.section] = self.text.get(self.section, "") + data
            if self._head_depth:
                self.heads[self.section] = self.heads.get(self.section, "") + data


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def mart_rows(cfg, plan: str, as_of: date) -> dict[str, dict]:
    with duckdb.connect(str(cfg.warehouse), read_only=True) as con:
        cur = con.execute(
            "select * from mart.progress where plan_code = ? and as_of = ?", [plan, as_of]
        )
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    return {r["target_code"]: r for r in rows}


def expected_figure(row: dict, key: str):
    v = row[key]
    return v.isoformat() if isinstance(v, date) else v


@pytest.fixture
def report(written):
    """The module's report (written once), parsed for this test alone."""
    seeded, paths = written
    return seeded, paths, parse(paths["html"])


def test_the_figures_block_holds_exactly_the_mart_rows_of_the_as_of_date(report):
    seeded, paths, page = report
    doc = json.loads(page.scripts["kpi-figures"])
    mart = mart_rows(seeded.cfg, seeded.catalogue.plan.code, seeded.as_of)

    assert doc["as_of"] == "2023-07-15"
    assert {f["code"] for f in doc["figures"]} == set(mart) == set(PROGRESS)
    for fig in doc["figures"]:
        row = mart[fig["code"]]
        for key in FIGURE_KEYS:
            assert fig[key] == expected_figure(row, key), (fig["code"], key)


def test_each_detail_row_carries_the_mart_figures_as_data_attributes(report):
    seeded, _, page = report
    mart = mart_rows(seeded.cfg, seeded.catalogue.plan.code, seeded.as_of)
    rows = [a for tag, a in page.elements if tag == "tr" and "figure-row" in a.get("class", "")]

    assert len(rows) == len(mart)
    for a in rows:
        row = mart[a["data-code"]]
        assert a["data-status"] == row["status"]
        for key in FIGURE_KEYS:
            if key == "status":
                continue
            got = json.loads(a["data-" + key.replace("_", "-")])
            assert got == expected_figure(row, key), (a["data-code"], key)


def test_a_changed_mart_value_would_show_as_a_mismatch(seeded, tmp_path):
    # negative case: the comparison above is sensitive to a single figure
    write_reports(seeded.cfg, seeded.catalogue, seeded.as_of, tmp_path / "out")
    with duckdb.connect(str(seeded.cfg.warehouse)) as con:
        con.execute(
            "update mart.progress set gap_pp = gap_pp + 0.01 where target_code = 'urban_jobs'"
        )
    mart = mart_rows(seeded.cfg, seeded.catalogue.plan.code, seeded.as_of)
    page = parse(report_paths(tmp_path / "out", seeded.catalogue.plan.code, seeded.as_of)["html"])
    doc = json.loads(page.scripts["kpi-figures"])
    jobs = next(f for f in doc["figures"] if f["code"] == "urban_jobs")

    assert jobs["gap_pp"] != mart["urban_jobs"]["gap_pp"]


def test_every_section_header_shows_the_as_of_date_and_the_latest_submission(report):
    _, _, page = report

    assert set(page.heads) == {
        "attention",
        "overview",
        "trajectories",
        "growth",
        "milestones",
        "data",
        "detail",
    }
    for section, head in page.heads.items():
        assert "截至 2023-07-15" in head, section
        # the file received after midnight (and the one of 2023-07-20) do not count for 07-15
        assert "数据更新至 2023-07-15 18:00" in head, section


def test_the_attention_section_comes_first_and_ranks_who_is_behind(report):
    _, _, page = report
    sections = [a["id"] for tag, a in page.elements if tag == "section"]
    levels = [a["data-level"] for tag, a in page.elements if "data-level" in a]
    apart = {
        a["data-apart"]: a["data-apart-status"] for tag, a in page.elements if "data-apart" in a
    }

    assert sections[0] == "attention"
    assert levels == ["严重滞后", "滞后", "预警"]
    # 严重滞后: the overdue milestone (发改委) and the ceiling breach (人社局); then 滞后, 预警
    assert list(page.first_seen) == [
        "finance_hall_open",
        "unemployment_rate",
        "urban_jobs",
        "gdp_growth",
    ]
    assert apart == {"market_entities": "缺报", "hightech_firms": "数据异常"}
    text = page.text["attention"]
    assert "超出上限 0.2 个百分点" in text
    assert "逾期 15 天" in text
    assert "滞后序时进度 14.7 个百分点" in text
    assert "低于目标 0.6 个百分点" in text
    assert "1-6月累计 3,000 人，完成率 35.3%，序时进度 50%" in text


def test_a_ceiling_breach_never_reads_as_a_completion_rate(report):
    _, _, page = report

    assert "104.4" not in page.visible  # the mart's 4.7 / 4.5 ratio
    assert "超出上限 0.2 个百分点" in page.text["detail"]


def test_tiles_and_tables_are_worst_first_with_the_catalogue_order_attached(report):
    seeded, _, page = report
    catalogue = [t.code for t in seeded.catalogue.targets]
    rows = [a for tag, a in page.elements if tag == "tr" and "figure-row" in a.get("class", "")]
    tiles = [a for tag, a in page.elements if tag == "figure" and "tile" in a.get("class", "")]
    statuses = [r["data-status"] for r in rows]
    order = ["严重滞后", "滞后", "预警", "无数据", "正常", "已完成"]

    assert statuses == sorted(statuses, key=order.index)
    assert [int(r["data-rank"]) for r in rows] == list(range(len(rows)))
    assert [r["data-code"] for r in sorted(rows, key=lambda r: int(r["data-cat"]))] == catalogue
    assert tiles[0]["data-target"] == "unemployment_rate"  # the worst line chart first
    # the toggle is there, for the page's own script to reveal
    assert [a["data-order"] for tag, a in page.elements if "data-order" in a] == ["rank", "cat"]
    boxes = [a for tag, a in page.elements if "data-sortable" in a]
    assert len(boxes) >= 4


def test_the_night_counts_the_files_of_its_runs_even_after_midnight(report):
    seeded, _, page = report
    night = next(a for tag, a in page.elements if "data-night-files" in a)

    # f (18:00 on the 15th) and 9 (00:40 on the 16th), both ingested by the night's runs
    assert night["data-night-files"] == "2"
    text = page.text["data"]
    assert "共收到报送文件 2 个" in text
    assert "其中 1 个于 2023-07-15 之后送达" in text
    assert "截至 2023-07-15 累计收到 5 个" in text
    files = night_files(seeded.cfg, seeded.catalogue, seeded.as_of)
    assert sorted(f["文件"] for f in files) == ["人社局 补报.xlsx", "统计局 2023年6月.xlsx"]
    assert {f["结果"] for f in files} == {"全部接收"}


def test_missing_and_rejected_data_are_listed_in_their_own_section(report):
    _, _, page = report
    problems = {
        a["data-problem"]: a["data-problem-status"]
        for tag, a in page.elements
        if tag == "tr" and "data-problem" in a
    }

    assert problems == {"market_entities": "缺报", "hightech_firms": "数据异常"}
    assert "数值应为非负数" in page.text["data"]
    assert "未找到表头行" in page.text["data"]
    # a partly accepted file says why, without repeating its own name
    assert "拒收 1 行：第5行“数值”列“abc”：数值不是数字；提示 1 条" in page.text["data"]
    # performance sections speak of performance only: no rejection reasons there
    for section in ("attention", "overview", "trajectories", "growth", "milestones"):
        assert "数值应为非负数" not in page.text[section]
    # a submission received after the as-of date and not by its night is not listed
    assert "7月补报" not in page.text["data"]


def test_people_read_chinese_names_not_codes(report):
    _, _, page = report
    words = set(re.findall(r"[A-Za-z_]{3,}", page.visible))

    assert not words & set(TINY_CODES), words & set(TINY_CODES)
    for code in ("fgw", "tjj", "rsj", "kjj", "scjgj", "accepted", "partial", "rejected",
                 "cumulative", "growth_rate", "ceiling", "critical", "warning"):  # fmt: skip
        assert code not in words, code


def test_the_charts_plot_the_current_figure_of_each_period(report):
    _, paths, _ = report
    text = paths["html"].read_text(encoding="utf-8")
    chart = re.search(
        r'<svg class="chart line-chart" data-target="investment_total".*?</svg>', text
    )

    assert chart is not None
    # the revised May figure (102.8 亿元), not the superseded first report (100 亿元)
    assert "2023-05：102.8 亿元" in chart.group(0)
    assert "2023-05：100 亿元" not in chart.group(0)
    assert 'class="series trajectory"' in chart.group(0)


def test_an_overdue_milestone_is_marked_on_the_timeline(report):
    _, paths, page = report
    text = paths["html"].read_text(encoding="utf-8")

    assert re.search(r'<svg class="chart track overdue" data-target="finance_hall_open"', text)
    assert "逾期 15 天" in page.text["milestones"]


def test_submitted_and_catalogue_text_is_escaped(report):
    _, paths, page = report
    text = paths["html"].read_text(encoding="utf-8")

    assert "<script>alert(1)</script>" not in text
    assert "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.xlsx" in text
    assert EVIL_FILE in page.text["data"]  # shown as text
    assert EVIL_NAME in page.text["detail"]
    assert not [a for tag, a in page.elements if tag == "img"]
    # only the report's own script and its figures block
    assert [a.get("id") for tag, a in page.elements if tag == "script"] == ["kpi-figures", None]


def test_the_report_needs_nothing_from_the_network(report):
    _, paths, page = report
    text = paths["html"].read_text(encoding="utf-8")

    # no address at all outside submitted text (inline SVG needs no namespace in HTML)
    assert "http://www.w3.org" not in text
    for tag, a in page.elements:
        for attr, value in a.items():
            assert not re.match(r"(?i)\s*(https?:)?//", value or ""), (tag, attr, value)
        assert not (tag == "link" and a.get("rel") == "stylesheet")
    assert "@import" not in text
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text)


def test_the_report_links_each_file_page_and_the_index_of_the_validation_pages(report):
    _, paths, page = report
    out = paths["html"].parent
    links = [a["href"] for tag, a in page.elements if tag == "a" and "href" in a]
    docs = [h for h in links if h.startswith("data_docs/tiny-2023/")]
    pages = {h for h in docs if h.startswith("data_docs/tiny-2023/files/")}
    flagged = {
        a["data-submission"] for tag, a in page.elements if tag == "tr" and "data-submission" in a
    }

    assert "data_docs/tiny-2023/index.html" in docs
    # a page per file of the as-of date and its night (a, b, c, d, f, 9; not e of 2023-07-20)
    assert {Path(h).stem for h in pages} == {c * 16 for c in "abcdf9"}
    assert flagged == {c * 16 for c in "bcd"}
    for href in docs:
        assert (out / href).is_file(), href
    assert paths["data_docs"] == out / "data_docs" / "tiny-2023" / "index.html"
    # no header link to the validation pages: they are reached from the data section
    header = page.visible.split("需关注")[0]
    assert "校验" not in header


def test_the_latest_report_of_a_plan_has_a_stable_address_with_working_links(report):
    seeded, paths, _ = report
    out = paths["html"].parent
    latest = report_paths(out, "tiny-2023", seeded.as_of)["latest_html"]

    assert latest == out / "tiny-2023" / "latest.html"
    assert (out / "tiny-2023" / "latest.xlsx").is_file()
    page = parse(latest)
    hrefs = [
        a["href"] for tag, a in page.elements if tag == "a" and "data_docs" in a.get("href", "")
    ]
    assert hrefs and all(h.startswith("../data_docs/tiny-2023/") for h in hrefs)
    for href in hrefs:
        assert (latest.parent / href).resolve().is_file(), href
    assert json.loads(page.scripts["kpi-figures"])["as_of"] == "2023-07-15"


def test_a_report_for_an_earlier_date_leaves_the_latest_alone(seeded, tmp_path):
    with duckdb.connect(str(seeded.cfg.warehouse)) as con:
        con.execute(
            "insert into mart.progress select * replace (date '2023-07-14' as as_of)"
            " from mart.progress where as_of = date '2023-07-15'"
        )
    out = tmp_path / "out"
    write_reports(seeded.cfg, seeded.catalogue, seeded.as_of, out)
    write_reports(seeded.cfg, seeded.catalogue, date(2023, 7, 14), out)

    latest = parse(out / "tiny-2023" / "latest.html")
    assert json.loads(latest.scripts["kpi-figures"])["as_of"] == "2023-07-15"
    assert (out / "tiny-2023_2023-07-14_progress.html").is_file()


def test_a_report_before_any_submission_says_there_are_no_validation_results(seeded, tmp_path):
    with duckdb.connect(str(seeded.cfg.warehouse)) as con:
        con.execute("delete from staged.rejections")
        con.execute("delete from raw.submissions")

    paths = write_reports(seeded.cfg, seeded.catalogue, seeded.as_of, tmp_path / "out")
    page = parse(paths["html"])

    assert paths["data_docs"] is None
    assert "尚无校验结果" in page.text["data"]
    assert "数据更新至 尚无报送" in page.heads["overview"]
    assert "共收到报送文件 0 个" in page.text["data"]
    assert not [a for tag, a in page.elements if tag == "a" and "data_docs" in a.get("href", "")]


def test_writing_a_report_for_a_date_without_progress_fails_clearly(seeded, tmp_path):
    with pytest.raises(NoProgressError, match="2023-06-30"):
        write_reports(seeded.cfg, seeded.catalogue, date(2023, 6, 30), tmp_path / "out")
    assert not (tmp_path / "out" / "tiny-2023_2023-06-30_progress.html").exists()


def test_alerts_link_to_the_report_path_or_under_the_base_url(cfg):
    # An empty base URL (the default is the desk's address) links to the file path.
    local = report_link(replace(cfg, report_base_url=""), "hongqi-2023", date(2023, 7, 15))
    served = replace(cfg, report_base_url="https://kpi.example.gov.cn/reports/")

    assert local == str(cfg.reports / "hongqi-2023_2023-07-15_progress.html")
    assert report_link(served, "hongqi-2023", date(2023, 7, 15)) == (
        "https://kpi.example.gov.cn/reports/hongqi-2023_2023-07-15_progress.html"
    )
    assert latest_link(served, "hongqi-2023") == (
        "https://kpi.example.gov.cn/reports/hongqi-2023/latest.html"
    )
    assert latest_link(replace(cfg, report_base_url=""), "hongqi-2023") == str(
        cfg.reports / "hongqi-2023" / "latest.html"
    )


def test_the_nights_files_can_be_listed_before_progress_is_computed(seeded):
    with duckdb.connect(str(seeded.cfg.warehouse)) as con:
        con.execute("delete from mart.progress")

    files = night_files(seeded.cfg, seeded.catalogue, seeded.as_of)

    assert len(files) == 2
    assert night_files(seeded.cfg, seeded.catalogue, date(2023, 7, 13)) == []
