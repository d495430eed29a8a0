"""The HTML report: its figures are the mart's, it stands alone, and submitted text stays text."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from report_seed import EVIL_FILE, EVIL_NAME, PROGRESS

from kpi.reports import NoProgressError, report_link, report_paths, write_reports
from kpi.reports.view import FIGURE_KEYS


class Page(HTMLParser):
    """Elements with their attributes and the text under each section."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.section: str | None = None
        self.text: dict[str, str] = {}
        self.heads: dict[str, str] = {}
        self._in_head = 0
        self._script_id: str | None = None
        self.scripts: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a))
        if tag == "section":
            self.section = a.get("id")
        if tag == "div" and a.get("class") == "head":
            self._in_head = 1
        elif self._in_head and tag == "div":
            self._in_head += 1
        if tag == "script":
            self._script_id = a.get("id") or ""

    def handle_endtag(self, tag):
        if tag == "div" and self._in_head:
            self._in_head -= 1
        if tag == "script":
            self._script_id = None

    def handle_data(self, data):
        if self._script_id is not None:
            self.scripts[self._script_id] = self.scripts.get(self._script_id, "") + data
            return
        if self.section:
            self.text[self.section] = self.text.get(self.section, "") + data
            if self._in_head:
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
def report(seeded, tmp_path):
    paths = write_reports(seeded.cfg, seeded.catalogue, seeded.as_of, tmp_path / "out")
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


def test_a_changed_mart_value_would_show_as_a_mismatch(report, tmp_path):
    # negative case: the comparison above is sensitive to a single figure
    seeded, _, _ = report
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
        "overview",
        "trajectories",
        "growth",
        "milestones",
        "data",
        "detail",
    }
    for section, head in page.heads.items():
        assert "截至 2023-07-15" in head, section
        # the file received on 2023-07-20 is after the as-of date and must not count
        assert "数据更新至 2023-07-12 16:30" in head, section


def test_the_overview_counts_departments_by_status(report):
    seeded, _, page = report
    cells = [
        (a["data-status"], int(a["data-count"]))
        for tag, a in page.elements
        if tag == "td" and "cell" in a.get("class", "")
    ]
    totals: dict[str, int] = {}
    for status, n in cells:
        totals[status] = totals.get(status, 0) + n

    assert totals == {
        "已完成": 0,
        "正常": 1,
        "预警": 1,
        "滞后": 1,
        "严重滞后": 2,
        "无数据": 2,
    }


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
    # performance sections speak of performance only: no rejection reasons there
    for section in ("overview", "trajectories", "growth", "milestones"):
        assert "数值应为非负数" not in page.text[section]
    # a submission received after the as-of date is not listed
    assert "7月补报" not in page.text["data"]


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
    _, paths, _ = report
    text = paths["html"].read_text(encoding="utf-8")

    assert re.search(r'<g class="milestone overdue" data-target="finance_hall_open"', text)
    assert "逾期 15 天" in text


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

    for tag, a in page.elements:
        for attr in ("src", "href"):
            value = a.get(attr) or ""
            assert not re.match(r"(?i)(https?:)?//", value), (tag, attr, value)
        assert not (tag == "link" and a.get("rel") == "stylesheet")
    assert "@import" not in text
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text)


def test_the_report_links_to_the_data_docs_and_to_each_file_page(report):
    _, paths, page = report
    out = paths["html"].parent
    links = [a["href"] for tag, a in page.elements if tag == "a" and "href" in a]
    docs = [h for h in links if h.startswith("data_docs/tiny-2023/")]

    pages = {h for h in docs if h.startswith("data_docs/tiny-2023/validations/")}
    flagged = {
        a["data-submission"] for tag, a in page.elements if tag == "tr" and "data-submission" in a
    }

    assert "data_docs/tiny-2023/index.html" in docs
    # one page per submission received by the as-of date (a, b, c, d; not e of 2023-07-20)
    assert {Path(h).stem for h in pages} == {c * 16 for c in "abcd"}
    assert flagged == {c * 16 for c in "bcd"}
    for href in docs:
        assert (out / href).is_file(), href
    assert paths["data_docs"] == out / "data_docs" / "tiny-2023" / "index.html"


def test_a_report_before_any_submission_says_there_are_no_validation_results(seeded, tmp_path):
    with duckdb.connect(str(seeded.cfg.warehouse)) as con:
        con.execute("delete from staged.rejections")
        con.execute("delete from raw.submissions")

    paths = write_reports(seeded.cfg, seeded.catalogue, seeded.as_of, tmp_path / "out")
    page = parse(paths["html"])

    assert paths["data_docs"] is None
    assert "尚无校验结果" in page.text["data"]
    assert "数据更新至 尚无报送" in page.heads["overview"]
    assert not [a for tag, a in page.elements if tag == "a" and "data_docs" in a.get("href", "")]


def test_writing_a_report_for_a_date_without_progress_fails_clearly(seeded, tmp_path):
    with pytest.raises(NoProgressError, match="2023-06-30"):
        write_reports(seeded.cfg, seeded.catalogue, date(2023, 6, 30), tmp_path / "out")
    assert not (tmp_path / "out" / "tiny-2023_2023-06-30_progress.html").exists()


def test_alerts_link_to_the_report_path_or_under_the_base_url(cfg):
    # An empty base URL (the default is the desk's address) links to the file path.
    local = report_link(replace(cfg, report_base_url=""), "hongqi-2023", date(2023, 7, 15))
    published = report_link(
        replace(cfg, report_base_url="https://kpi.example.gov.cn/reports/"),
        "hongqi-2023",
        date(2023, 7, 15),
    )

    assert local == str(cfg.reports / "hongqi-2023_2023-07-15_progress.html")
    assert published == "https://kpi.example.gov.cn/reports/hongqi-2023_2023-07-15_progress.html"
