"""Pairing a tablet in Chromium at both tablet layouts: the owner makes a code on the status page,
the tablet enters it at /pair and becomes a register, a cashier signs in with a PIN, and once the
owner unpairs it the tablet says it is no longer a register and offers to pair again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import OWNER, WAIT_MS, Shop, page_opener

VIEWPORTS = {"landscape": {"width": 1280, "height": 800}, "portrait": {"width": 800, "height": 1280}}


def new_tablet(
    browser: Any, viewport: dict[str, int], service_workers: str = "allow"
) -> tuple[Any, Any]:
    context = browser.new_context(viewport=viewport, has_touch=True, service_workers=service_workers)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("pageerror", lambda exc: print(f"page error: {exc}"))
    return context, page


def type_pin(page: Any, pin: str) -> None:
    for digit in pin:
        page.locator(f"#signin-sheet [data-digit='{digit}'], .approval-backdrop [data-digit='{digit}']").click()
    page.get_by_test_id("pin-ok").click()


def pin_sign_in(page: Any, name: str, pin: str) -> None:
    page.locator(f"#signin-sheet [data-person='{name}']").click()
    type_pin(page, pin)


def pair_as_till_1(page: Any, shop: Shop, code: str, name: str, pin: str) -> None:
    """The tablet opens the pairing page as its QR code does, becomes till-1, and name signs in by PIN."""
    page.goto(f"{shop.url}/pair?code={code}")
    page.locator("[data-register='till-1']").click()
    page.wait_for_url("**/register/till-1")
    pin_sign_in(page, name, pin)


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_pair_a_tablet_sign_in_with_a_pin_and_unpair_it(shop: Shop, browser: Any, layout: str) -> None:
    viewport = VIEWPORTS[layout]
    with page_opener(shop, browser, OWNER) as open_:
        status = open_("/status", viewport=viewport)
        panel = status.get_by_test_id("registers-panel")
        # the owner adds a cashier with a PIN, then makes a pairing code
        form = panel.get_by_test_id("add-person")
        form.locator("input[name=username]").fill("cara")
        form.locator("input[name=pin]").fill("2580")
        form.locator("button[type=submit]").click()
        panel.locator("[data-person='cara']").filter(has_text="PIN set").wait_for()
        panel.get_by_test_id("pair-register").click()
        code = panel.get_by_test_id("pair-code-shown").inner_text().strip()
        assert len(code) == 6 and code.isdigit()
        assert panel.get_by_test_id("pair-qr").is_visible()

        context, tablet = new_tablet(browser, viewport)
        try:
            tablet.goto(f"{shop.url}/pair")
            tablet.get_by_test_id("pair-code").fill("000000" if code != "000000" else "111111")
            tablet.get_by_test_id("pair-message").filter(has_text="wrong").wait_for()
            tablet.get_by_test_id("pair-code").fill(code)
            tablet.locator("[data-register='till-1']").click()
            tablet.wait_for_url("**/register/till-1")
            (cookie,) = [c for c in context.cookies() if c["name"] == "backroom_tablet"]
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0

            # a wrong PIN says so; the right one signs in and the register asks for the shift's float
            tablet.locator("#signin-sheet [data-person='cara']").click()
            type_pin(tablet, "1111")
            tablet.get_by_test_id("pin-message").filter(has_text="wrong").wait_for()
            type_pin(tablet, "2580")
            tablet.get_by_test_id("float-input").wait_for()
            assert tablet.locator("#cashier").inner_text() == "cara"
            box = tablet.get_by_test_id("open-shift").bounding_box()
            assert box and box["height"] >= 48 and box["x"] + box["width"] <= viewport["width"]

            # switch cashier: back to "who is working?"; a tablet with a keyboard takes the PIN typed
            tablet.get_by_test_id("shift-sheet").get_by_role("button", name="Switch cashier").click()
            tablet.locator("#signin-sheet [data-person='cara']").click()
            tablet.keyboard.type("2580")
            tablet.keyboard.press("Enter")
            tablet.get_by_test_id("float-input").wait_for()

            # the owner sees the tablet, and unpairs it
            row = panel.get_by_test_id("tablets").locator("[data-register='till-1']")
            row.wait_for()
            assert "HeadlessChrome" in row.inner_text() or "Chrome" in row.inner_text()
            status.on("dialog", lambda d: d.accept())
            row.get_by_test_id("unpair").click()
            panel.get_by_test_id("tablets").filter(has_text="No tablet is paired").wait_for()

            tablet.reload()
            tablet.get_by_test_id("unpaired").wait_for()
            tablet.get_by_role("link", name="Pair this tablet again").click()
            tablet.wait_for_url("**/pair")
            tablet.get_by_test_id("pair-message").filter(has_text="no longer a register").wait_for()
        finally:
            context.close()
