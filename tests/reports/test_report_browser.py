"""The report as Chromium shows it on a phone (390×844) and a desktop (1440×900).

Screenshots of each view are kept as test artifacts (under $KPI_TEST_ARTIFACTS, else the test's
tmp_path) and their folder is printed.
"""

from __future__ import annotations

import pytest
from browser import DESKTOP, PHONE, artifacts, visit

pytestmark = pytest.mark.slow

MIN_TEXT_PX = 11
# line charts: investment, jobs, unemployment, market entities, high-tech firms; one growth bar
# (GDP); one milestone track
EXPECTED_CHARTS = 7
BEHIND = ("finance_hall_open", "unemployment_rate", "urban_jobs", "gdp_growth")


@pytest.fixture
def browser(chromium):
    """The module's Chromium (tests/conftest.py); each visit's context is closed after the test."""
    yield chromium
    for context in chromium.contexts:
        context.close()


@pytest.fixture
def pages(written):
    """The module's report pages, written once (tests/reports/conftest.py): visits only read them."""
    return written[1]


def _shoot(seen, folder, name: str, capsys) -> None:
    seen.page.screenshot(path=str(folder / f"{name}.png"))
    seen.page.screenshot(path=str(folder / f"{name}-full.png"), full_page=True)
    with capsys.disabled():
        print(f"\n  screenshot: {folder / name}.png (and -full.png)")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_report_never_scrolls_sideways_and_its_text_stays_legible(
    browser, pages, viewport, tmp_path, capsys
):
    folder = artifacts(tmp_path, f"report-{viewport[0]}x{viewport[1]}")
    seen = visit(browser, pages["html"], viewport)
    first = seen.measure()
    _shoot(seen, folder, "first-view", capsys)
    seen.open_all()
    opened = seen.measure()
    _shoot(seen, folder, "all-open", capsys)

    for m in (first, opened):
        assert m["scrollWidth"] <= viewport[0], m["wide"]
        assert m["htmlMin"] >= MIN_TEXT_PX, m["htmlMinText"]
    assert opened["svgTexts"] > 0
    assert opened["svgMin"] >= MIN_TEXT_PX, opened["svgMinText"]
    assert seen.errors == [] and seen.requests == [] and seen.dialogs == []


def test_on_a_phone_the_long_sections_wait_behind_a_tap_and_a_desktop_opens_them(browser, pages):
    phone = visit(browser, pages["html"], PHONE)
    desktop = visit(browser, pages["html"], DESKTOP)
    folds = "() => Array.from(document.querySelectorAll('details.fold')).map(d => d.open)"

    assert phone.page.evaluate(folds) == [False] * 4
    assert desktop.page.evaluate(folds) == [True] * 4
    closed = phone.measure()["scrollHeight"]
    phone.open_all()
    assert closed < phone.measure()["scrollHeight"] / 2
    # a link to a folded section opens it
    phone.page.click("nav.toc a[href='#detail']")
    assert phone.page.evaluate("() => document.querySelector('#detail details').open")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_first_screen_names_every_target_behind(browser, pages, viewport):
    seen = visit(browser, pages["html"], viewport)
    boxes = seen.page.evaluate(
        """() => Array.from(document.querySelectorAll('[data-attention] .t, [data-attention] .gap'))
             .map(e => { const r = e.getBoundingClientRect();
                         return {code: e.closest('[data-attention]').dataset.attention,
                                 text: e.textContent, bottom: r.bottom, top: r.top}; })"""
    )
    header = seen.page.evaluate("() => document.querySelector('header.top').offsetHeight")

    assert {b["code"] for b in boxes} == set(BEHIND)
    for b in boxes:
        assert b["top"] >= 0 and b["bottom"] <= viewport[1], b
    assert header <= viewport[1] * 0.06  # the sticky header takes little room
    assert seen.page.is_visible("[data-chip='缺报']")


def test_every_chart_is_drawn_and_nothing_runs_or_loads_from_elsewhere(browser, pages):
    seen = visit(browser, pages["html"], DESKTOP)
    charts = seen.measure()["charts"]

    assert len(charts) == EXPECTED_CHARTS
    for chart in charts:
        assert chart["want"] > 0, chart
        assert chart["drawn"] == chart["want"], f"chart not fully drawn: {chart}"
        assert chart["width"] > 100 and chart["height"] > 10, chart
    assert seen.errors == []
    assert seen.requests == []
    assert seen.dialogs == []  # the hostile file name and note never ran


def test_the_catalogue_order_is_one_click_away(browser, pages, written):
    seeded = written[0]
    seen = visit(browser, pages["html"], PHONE)
    order = "() => Array.from(document.querySelectorAll('#detail-table tr.figure-row')).map(r => r.dataset.code)"
    worst = seen.page.evaluate(order)

    seen.page.click("button[data-order='cat']")
    assert seen.page.evaluate(order) == [t.code for t in seeded.catalogue.targets]
    tiles = seen.page.evaluate(
        "() => Array.from(document.querySelectorAll('figure.tile')).map(t => Number(t.dataset.cat))"
    )
    assert tiles == sorted(tiles)
    seen.page.click("button[data-order='rank']")
    assert seen.page.evaluate(order) == worst
    assert worst[0] == "finance_hall_open"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_validation_pages_open_offline_and_fit_a_phone(
    browser, pages, viewport, tmp_path, capsys
):
    folder = artifacts(tmp_path, f"datadocs-{viewport[0]}x{viewport[1]}")
    index = visit(browser, pages["data_docs"], viewport)
    rows = index.page.locator("tr[data-file]").count()
    _shoot(index, folder, "index", capsys)
    index.page.click("tr[data-file] a >> nth=0")
    index.page.wait_for_load_state("load")

    assert rows == 7
    assert "校验报告" in index.page.title()
    m = index.measure()
    assert m["scrollWidth"] <= viewport[0], m["wide"]
    assert index.errors == [] and index.requests == []


def test_a_page_that_fetches_from_the_internet_or_fails_is_caught(browser, tmp_path):
    page = tmp_path / "cdn.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<script src='https://cdn.example.invalid/lib.js'></script></head><body>"
        "<div style='width:600px'>wide</div><script>undefinedFunction();</script></body></html>",
        encoding="utf-8",
    )

    seen = visit(browser, page, PHONE)

    assert seen.requests == ["https://cdn.example.invalid/lib.js"]
    assert any("undefinedFunction" in e for e in seen.errors)
    assert seen.measure()["scrollWidth"] > PHONE[0]
