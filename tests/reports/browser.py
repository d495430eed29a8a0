"""Open report pages in headless Chromium (Playwright driving Debian's chromium) and measure them."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

PHONE = (390, 844)  # how a leader opens the WeCom link
DESKTOP = (1440, 900)
ARTIFACTS_ENV = "KPI_TEST_ARTIFACTS"  # keep screenshots here (else under the test's tmp_path)

# What a reader gets at this viewport: sideways scroll, text sizes as rendered, charts drawn.
MEASURE = """() => {
  const de = document.documentElement;
  let svgMin = Infinity, svgMinText = null, svgTexts = 0;
  document.querySelectorAll('svg text').forEach(t => {
    const box = t.getBoundingClientRect();
    if (!box.width || !t.textContent.trim()) return;
    const px = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
    svgTexts++;
    if (px < svgMin) { svgMin = px; svgMinText = t.textContent; }
  });
  let htmlMin = Infinity, htmlMinText = null;
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const node = walk.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest('svg, script, style')) continue;
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    const px = parseFloat(getComputedStyle(el).fontSize);
    if (px < htmlMin) { htmlMin = px; htmlMinText = node.textContent.trim().slice(0, 40); }
  }
  const wide = [];
  document.querySelectorAll('body *').forEach(el => {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > de.clientWidth + 0.5 && !el.closest('.scroll')) wide.push(el.tagName + '.' + el.className);
  });
  const charts = [];
  document.querySelectorAll('svg.chart').forEach(svg => {
    const r = svg.getBoundingClientRect();
    if (!r.width) return;
    let drawn = 0;
    svg.querySelectorAll('.series').forEach(s => {
      const b = s.getBoundingClientRect();
      if (b.width > 0 || b.height > 0) drawn++;
    });
    charts.push({target: svg.getAttribute('data-target') || svg.getAttribute('class'),
                 want: Number(svg.getAttribute('data-series')), drawn: drawn,
                 width: r.width, height: r.height});
  });
  return {scrollWidth: de.scrollWidth, clientWidth: de.clientWidth, scrollHeight: de.scrollHeight,
          svgMin: svgTexts ? svgMin : null, svgMinText, svgTexts,
          htmlMin: htmlMin === Infinity ? null : htmlMin, htmlMinText, wide: wide.slice(0, 5), charts};
}"""


@dataclass
class Visit:
    """One page open at one viewport, with what it logged and asked for."""

    page: object
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # anything but file: and data:
    dialogs: list[str] = field(default_factory=list)

    def measure(self) -> dict:
        """Sideways scroll, smallest rendered text, charts drawn."""
        return self.page.evaluate(MEASURE)

    def open_all(self) -> None:
        """Open every <details>, as a reader who taps everything."""
        self.page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")


def visit(browser, page_path: Path, viewport: tuple[int, int]) -> Visit:
    """Load a local page offline: requests to any address are refused and recorded."""
    context = browser.new_context(
        viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=1
    )
    context.route(re.compile(r"^(https?|wss?|ftp)://"), lambda route: route.abort())
    page = context.new_page()
    seen = Visit(page)
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.on(
        "request",
        lambda r: (
            None if r.url.startswith(("file:", "data:", "about:")) else seen.requests.append(r.url)
        ),
    )

    def dialog(d) -> None:
        seen.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.goto(page_path.as_uri(), wait_until="load")
    return seen


def artifacts(tmp_path: Path, name: str) -> Path:
    """The folder that keeps this test's screenshots: $KPI_TEST_ARTIFACTS/<name> or tmp_path."""
    root = os.environ.get(ARTIFACTS_ENV)
    folder = Path(root) / "reports" / name if root else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
