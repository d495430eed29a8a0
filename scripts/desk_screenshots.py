"""The README's screenshots of the desk (docs/img/desk-*.png), taken on the demo's state.

    make run                                   # the demo's state in var/demo
    .venv/bin/python scripts/desk_screenshots.py [--home var/demo] [--out docs/img]

Works on a copy of the home (the demo stays as it was), at the morning after the demo's as-of
date, in Debian's headless Chromium at 390x844 (a phone in WeCom). The upload is 发改委's June
template filled in with one figure written in words, so the receipt shows a refused row.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = "2023-07-16T09:00:00+08:00"  # the morning after the demo's as-of date (config demo_as_of)
PHONE = {"width": 390, "height": 844}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--hide-scrollbars",
]


def filled_template(data: bytes, catalogue, out: Path) -> Path:
    """发改委's template filled as a clerk would, one figure written in words."""
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["填报表"]
    col = {c.value: i + 1 for i, c in enumerate(ws[2])}
    targets = {t.code: t for t in catalogue.targets}
    first = True
    for r in range(3, ws.max_row + 1):
        t = targets.get(ws.cell(r, col["指标代码"]).value)
        if t is None:
            continue
        if t.kind in ("growth_rate", "relative"):
            ws.cell(r, col["同比增长(%)"]).value = 15.8
        elif t.kind in ("milestone", "qualitative"):
            ws.cell(r, col["进展状态"]).value = "推进中"
        elif first:
            ws.cell(r, col["数值"]).value = "约一百亿"
            first = False
        else:
            ws.cell(r, col["数值"]).value = round((t.value or 10) * 0.55, 2)
    wb.save(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Take the screenshots; print where they went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=str(ROOT / "var" / "demo"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    args = parser.parse_args(argv)
    home, out = Path(args.home), Path(args.out)
    if not (home / "warehouse" / "kpi_snapshot.duckdb").exists():
        print(f"no snapshot under {home}: run `make run` first", file=sys.stderr)
        return 1
    os.environ["KPI_NOW"] = NOW
    os.environ.pop("KPI_DESK_SECRET", None)

    import httpx
    from playwright.sync_api import sync_playwright

    from kpi.config import load_settings
    from kpi.desk.server import Background
    from kpi.desk.tokens import mint, scope_of
    from kpi.pipeline import load_plan

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "home"
        shutil.copytree(home, copy, ignore=shutil.ignore_patterns("desk", "inbox"))
        cfg = load_settings(env={}).with_home(copy)
        catalogue = load_plan(cfg)
        plan = catalogue.plan.code
        fgw = mint(cfg, plan, scope_of(department="fgw"))[0]
        dcj = mint(cfg, plan, scope_of(role="dcj"))[0]
        desk = Background(cfg, deliver_now=False).start()
        try:
            data = httpx.get(
                f"{desk.url}/template",
                params={"period": "2023-06"},
                headers={"Authorization": f"Bearer {fgw}"},
            ).content
            upload = filled_template(data, catalogue, Path(tmp) / "发改委_2023年6月.xlsx")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
                page = browser.new_page(viewport=PHONE, locale="zh-CN")
                page.goto(f"{desk.url}/?token={fgw}")
                page.screenshot(path=str(out / "desk-department.png"))
                page.set_input_files("#file", str(upload))
                with page.expect_navigation():
                    page.click("#send")
                page.screenshot(path=str(out / "desk-receipt.png"))
                page = browser.new_page(viewport=PHONE, locale="zh-CN")
                page.goto(f"{desk.url}/board?token={dcj}")
                page.locator("#alerts").scroll_into_view_if_needed()
                page.evaluate("document.getElementById('alerts').scrollIntoView()")
                page.screenshot(path=str(out / "desk-board.png"))
                browser.close()
        finally:
            desk.stop()
    for name in ("desk-department.png", "desk-receipt.png", "desk-board.png"):
        path = out / name
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
