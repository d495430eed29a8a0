"""Open an HTML file in headless Chromium: what it drew, what it logged, and a screenshot."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package, installed by `make setup`
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)
# Before anything of the page runs: record errors (scripts and failed resources) and alerts.
RECORDER = (
    "<script>window.__probeErrors=[];window.__alerts=0;"
    "window.addEventListener('error',function(e){window.__probeErrors.push("
    "String(e.message||('failed to load '+((e.target&&(e.target.src||e.target.href))||e.type))))"
    "},true);"
    "(function(){var o=console.error;console.error=function(){window.__probeErrors.push("
    "Array.prototype.join.call(arguments,' '));return o.apply(console,arguments)}})();"
    "window.alert=function(){window.__alerts++};</script>"
)
# After the page's own scripts: measure every chart's series paths as laid out by the browser.
PROBE = """<script>(function(){var charts=[];
document.querySelectorAll('svg.chart').forEach(function(svg){
 var drawn=0;svg.querySelectorAll('path.series').forEach(function(p){var b=p.getBBox();
  if((b.width>0||b.height>0)&&p.getTotalLength()>0){drawn++;}});
 var r=svg.getBoundingClientRect();
 charts.push({target:svg.getAttribute('data-target')||svg.getAttribute('class'),
  want:Number(svg.getAttribute('data-series')),drawn:drawn,width:r.width,height:r.height});});
var pre=document.createElement('pre');pre.id='probe-result';
pre.textContent=JSON.stringify({charts:charts,errors:window.__probeErrors,alerts:window.__alerts});
document.body.appendChild(pre);})();</script>"""
_RESULT = re.compile(r'<pre id="probe-result">(.*?)</pre>', re.S)
_CONSOLE = re.compile(r":CONSOLE[:(]")


@dataclass(frozen=True)
class Probe:
    """What Chromium made of a page."""

    charts: list[dict]
    errors: list[str]  # recorded in the page
    alerts: int
    console: list[str]  # console lines Chromium logged to stderr


def require_chromium() -> Path:
    """Chromium's path; skip only where it is absent and cannot be installed (not root)."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() == 0:
        pytest.fail(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium as root")
    pytest.skip(f"{CHROMIUM} is missing and this user is not root (`make setup` as root adds it)")


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [str(require_chromium()), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def console_lines(stderr: str) -> list[str]:
    """The page's console messages among Chromium's log lines."""
    return [line for line in stderr.splitlines() if _CONSOLE.search(line)]


def probe(page: Path, workdir: Path) -> Probe:
    """Load a copy of `page` (beside it, so relative links hold) with the recorder and probe."""
    text = page.read_text(encoding="utf-8")
    text = text.replace("<head>", "<head>" + RECORDER, 1).replace("</body>", PROBE + "</body>", 1)
    copy = page.with_name(f".probe-{page.name}")
    copy.write_text(text, encoding="utf-8")
    try:
        done = _run(["--dump-dom", copy.as_uri()], workdir / "profile-probe")
    finally:
        copy.unlink()
    hit = _RESULT.search(done.stdout)
    if hit is None:
        raise AssertionError(f"the probe did not run; chromium said:\n{done.stderr[-2000:]}")
    doc = json.loads(html.unescape(hit.group(1)))
    return Probe(doc["charts"], doc["errors"], doc["alerts"], console_lines(done.stderr))


def screenshot(page: Path, png: Path, workdir: Path, size: str = "1400,4000") -> list[str]:
    """Save a screenshot of the page as it is; return the console lines of that load."""
    png.parent.mkdir(parents=True, exist_ok=True)
    done = _run(
        [f"--screenshot={png}", f"--window-size={size}", page.as_uri()], workdir / "profile-shot"
    )
    if not png.exists():
        raise AssertionError(f"no screenshot; chromium said:\n{done.stderr[-2000:]}")
    shutil.rmtree(workdir / "profile-shot", ignore_errors=True)
    return console_lines(done.stderr)
