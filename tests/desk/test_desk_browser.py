"""The desk in headless Chromium (Debian's, driven by Playwright): phone width, upload, 13710."""

from __future__ import annotations

import pytest
from desk_support import fill_template

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture
def browser(chromium):
    """The module's Chromium (tests/conftest.py); each page opens a context of its own."""
    return chromium


class Page:
    """A page with its console errors recorded (a CSP violation is one)."""

    def __init__(self, browser, viewport):
        self.context = browser.new_context(viewport=viewport, locale="zh-CN")
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def scroll_width(self) -> int:
        return self.page.evaluate("document.documentElement.scrollWidth")

    def close(self):
        self.context.close()


def open_as(browser, desk, token, path="/", viewport=PHONE) -> Page:
    page = Page(browser, viewport)
    page.page.goto(f"{desk.url}{path}?token={token}")
    return page


def test_the_department_page_fits_a_phone_and_an_office_screen(browser, desk, seeded, tmp_path):
    token = seeded.token(department="fgw")
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = open_as(browser, desk, token, viewport=viewport)
        assert page.page.url == f"{desk.url}/"  # the token left the address bar
        assert page.page.locator("#targets .card").count() == 2
        assert page.scroll_width() <= viewport["width"], f"sideways scroll at {name}"
        shot = tmp_path / "screenshots" / f"department-{name}.png"
        page.page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert page.errors == []
        page.close()


def test_upload_then_receipt_in_the_browser(browser, desk, seeded, tmp_path):
    import httpx

    token = seeded.token(department="fgw")
    data = httpx.get(
        f"{desk.url}/template",
        params={"period": "2023-06"},
        headers={"Authorization": f"Bearer {token}"},
    ).content
    path = fill_template(
        data, seeded.catalogue, tmp_path / "发改委_2023年6月.xlsx", {"investment_total": "一百"}
    )
    page = open_as(browser, desk, token)
    page.page.set_input_files("#file", str(path))
    assert "发改委_2023年6月.xlsx" in page.page.inner_text("#chosen")
    with page.page.expect_navigation():
        page.page.click("#send")
    assert "/uploads/" in page.page.url
    assert page.page.inner_text("#receipt-status") == "部分接收"
    assert page.page.inner_text("#receipt-accepted") == "1"
    row = page.page.inner_text("#rejected .rejected-row")
    assert "第 3 行" in row and "数值" in row and "一百" in row
    assert "待入库" in page.page.inner_text("#queued")
    assert page.scroll_width() <= PHONE["width"]
    # Back on the department page the file is listed as waiting for tonight.
    page.page.goto(f"{desk.url}/")
    assert "待入库" in page.page.inner_text("#files")
    assert page.errors == []
    page.close()


def test_a_file_dropped_on_the_page_is_uploaded(browser, desk, seeded):
    page = open_as(browser, desk, seeded.token(department="rsj"))
    csv_text = "填报单位,报告期,指标代码,计量单位,数值\\n人社局,2023-06,urban_jobs,人,5200\\n"
    with page.page.expect_navigation():
        page.page.evaluate(
            """(text) => {
              const dt = new DataTransfer();
              dt.items.add(new File([text], '人社局_6月.csv', {type: 'text/csv'}));
              const drop = document.getElementById('drop');
              drop.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));
            }""",
            csv_text.replace("\\n", "\n"),
        )
    assert page.page.inner_text("#receipt-status") == "全部接收"
    assert page.errors == []
    page.close()


def test_the_13710_buttons_on_the_board(browser, desk, seeded, tmp_path):
    page = open_as(browser, desk, seeded.token(role="dcj"), path="/board")
    p = page.page
    assert p.url == f"{desk.url}/board"
    card = p.locator("li.episode").first
    eid = card.get_attribute("data-id")
    assert card.locator(".stage").inner_text() == "待确认"

    def act(step: str, text: str):
        item = p.locator(f"#e{eid}")
        item.locator("summary").click()
        form = item.locator(f"form[action='/alerts/{eid}/{step}']")
        form.locator("input[name=text]").fill(text)
        with p.expect_navigation():
            form.locator("button").click()

    act("ack", "已收到，正在核实")
    assert "已办理：确认" in p.inner_text("#flash")
    assert p.locator(f"#e{eid} .stage").inner_text() == "待反馈"
    act("feedback", "已约谈项目单位，月底前补报")
    assert p.locator(f"#e{eid} .stage").inner_text() == "待销号"
    assert "已约谈项目单位" in p.inner_text(f"#e{eid}")
    assert p.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    p.screenshot(path=str(tmp_path / "board-phone.png"), full_page=True)
    act("close", "")
    assert "已办理：销号" in p.inner_text("#flash")
    assert p.locator(f"#e{eid}").count() == 0
    # 催报 from the same board.
    missing = p.locator("li.missing[data-department='fgw']")
    with p.expect_navigation():
        missing.locator("button").click()
    assert "已办理：催报" in p.inner_text("#flash")
    assert p.locator("li.missing[data-department='fgw'] button").is_disabled()
    assert page.errors == []
    page.close()
