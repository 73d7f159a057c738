"""A cashier's shift in Chromium at both tablet layouts, on a tablet paired by code: PIN sign-in,
open the shift with a float, sell by scanning, close with a cash count; the Z report shows on
screen and prints on the register's (simulated) receipt printer, and prints again on request."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Shop
from tests.e2e.test_register_flow import BREAD, sell_by_scanning
from tests.e2e.test_register_pairing import VIEWPORTS, new_tablet, pin_sign_in
from tests.helpers import wait_until


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_open_sell_close_and_print_the_z_report(shop: Shop, browser: Any, layout: str) -> None:
    wait_until(lambda: len([d for d in shop.api("/api/v1/devices")["devices"] if d["online"]]) == 3,
               what="scanner, scale and printer online", timeout=60)
    shop.api("/api/v1/people", {"username": "cara", "role": "cashier", "pin": "864213"})
    code = shop.api("/api/v1/pairing/codes", {})["code"]
    context, page = new_tablet(browser, VIEWPORTS[layout])
    try:
        page.goto(f"{shop.url}/pair?code={code}")  # as the QR code opens it
        page.locator("[data-register='till-1']").click()
        page.wait_for_url("**/register/till-1")
        pin_sign_in(page, "cara", "864213")

        page.get_by_test_id("float-input").fill("100")
        page.get_by_test_id("open-shift").click()
        page.get_by_test_id("shift-button").filter(has_text="Shift #1").wait_for()
        page.get_by_test_id("connection-state").filter(has_text="onnected").wait_for()
        sale = sell_by_scanning(page, shop, BREAD[0], BREAD[2], tender_minor=1000)
        assert "8.14" in sale["change-due"]
        shop.printer.wait_for(1, timeout=15)  # the sale's receipt

        page.get_by_test_id("shift-button").click()
        assert "101.86" in page.get_by_test_id("expected-cash").inner_text()
        page.get_by_test_id("count-input").fill("101.80")
        page.get_by_test_id("close-shift").click()
        report = page.get_by_test_id("z-report")
        report.wait_for()
        assert "1.86" in page.get_by_test_id("z-sales").inner_text()
        assert "1.86" in page.get_by_test_id("z-tender-cash").inner_text()
        short = page.get_by_test_id("z-over-short").inner_text()
        assert "Short" in short and "0.06" in short
        page.get_by_test_id("z-print-status").filter(has_text="Printed").wait_for()
        z = shop.printer.wait_for(2, timeout=15)[1].text
        assert "Z REPORT" in z and "Short" in z and "101.86" in z
        box = page.get_by_test_id("z-print").bounding_box()
        assert box and box["x"] + box["width"] <= VIEWPORTS[layout]["width"]

        page.get_by_test_id("z-print").click()
        assert "Z REPORT" in shop.printer.wait_for(3, timeout=15)[2].text
        page.get_by_test_id("next-shift").click()
        page.get_by_test_id("float-input").wait_for()
        assert shop.api("/api/v1/registers/till-1/shift")["shift"] is None
    finally:
        context.close()
