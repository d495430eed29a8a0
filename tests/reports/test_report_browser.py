"""The report as a browser shows it: every chart drawn, a silent console, a screenshot kept."""

from __future__ import annotations

import pytest
from chromium_probe import probe, screenshot

from kpi.reports import write_reports

pytestmark = pytest.mark.slow

# 5 trajectory charts (2 cumulative/count + 1 count + ceiling + level), growth bars, timeline
EXPECTED_CHARTS = 7


def test_every_chart_of_the_report_is_drawn_in_chromium_with_no_console_error(seeded, tmp_path):
    paths = write_reports(seeded.cfg, seeded.catalogue, seeded.as_of, tmp_path / "out")

    seen = probe(paths["html"], tmp_path)

    assert len(seen.charts) == EXPECTED_CHARTS
    for chart in seen.charts:
        assert chart["want"] > 0, chart
        assert chart["drawn"] == chart["want"], f"chart not fully drawn: {chart}"
        assert chart["width"] > 100 and chart["height"] > 50, chart
    assert seen.errors == []
    assert seen.console == []
    assert seen.alerts == 0  # the hostile file name and note never ran
    png = tmp_path / "screenshots" / "report.png"
    assert screenshot(paths["html"], png, tmp_path) == []
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # a page with charts, not a blank one


def test_the_probe_catches_an_undrawn_chart_and_a_script_error(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'></head><body>"
        "<svg class='chart' data-series='2' width='200' height='100'>"
        "<path class='series' d='M0 0 L100 50' stroke='red'/><path class='series' d=''/></svg>"
        "<script>undefinedFunction();</script></body></html>",
        encoding="utf-8",
    )

    seen = probe(page, tmp_path)

    assert seen.charts == [{"target": "chart", "want": 2, "drawn": 1, "width": 200, "height": 100}]
    assert any("undefinedFunction" in e for e in seen.errors)
    assert any("undefinedFunction" in line for line in seen.console)


def test_a_page_that_fetches_from_the_internet_is_caught(tmp_path):
    page = tmp_path / "cdn.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<script src='https://cdn.example.invalid/lib.js'></script></head><body></body></html>",
        encoding="utf-8",
    )

    seen = probe(page, tmp_path)

    assert seen.errors, "a script that cannot load must be recorded"
