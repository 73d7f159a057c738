"""A cashier's shift in Chromium at both tablet layouts, on a tablet paired by code: PIN sign-in,
open the shift with a float, sell by scanning, close with a cash count; the Z report shows on
screen and prints on the register's (simulated) receipt printer, and prints again on request."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import Shop
from tests.e2e.test_register_cart import manager_approves
from tests.e2e.test_register_flow import BREAD, sell_by_scanning
from tests.e2e.test_register_pairing import VIEWPORTS, new_tablet, pair_as_till_1
from tests.helpers import wait_until


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_open_sell_close_and_print_the_z_report(shop: Shop, browser: Any, layout: str) -> None:
    wait_until(lambda: len([d for d in shop.api("/api/v1/devices")["devices"] if d["online"]]) == 3,
               what="scanner, scale and printer online", timeout=60)
    shop.api("/api/v1/people", {"username": "cara", "role": "cashier", "pin": "864213"})
    shop.api("/api/v1/people", {"username": "mona", "role": "manager", "pin": "739152"})
    code = shop.api("/api/v1/pairing/codes", {})["code"]
    context, page = new_tablet(browser, VIEWPORTS[layout])
    try:
        pair_as_till_1(page, shop, code, "cara", "864213")

        page.get_by_test_id("float-input").fill("100")
        page.get_by_test_id("open-shift").click()
        page.get_by_test_id("shift-button").filter(has_text="Shift #1").wait_for()
        page.get_by_test_id("connection-state").filter(has_text="onnected").wait_for()
        sale = sell_by_scanning(page, shop, BREAD[0], BREAD[2], tender_minor=1000)
        assert "8.14" in sale["change-due"]
        shop.printer.wait_for(1, timeout=15)  # the sale's receipt

        # milk for the staff room, paid out of the drawer: a cashier asks a manager's PIN for it
        kicks = shop.printer.drawer_kicks
        page.get_by_test_id("shift-button").click()
        page.get_by_test_id("cash-in-out").click()
        page.get_by_test_id("cash-amount").fill("5.00")
        page.get_by_test_id("cash-reason").fill("milk for the staff room")
        page.get_by_test_id("cash-move").click()
        manager_approves(page)
        page.get_by_test_id("paid-out").filter(has_text="5.00").wait_for()  # back on the shift sheet
        wait_until(lambda: shop.printer.drawer_kicks > kicks, what="the drawer opened for the cash")
        assert "96.86" in page.get_by_test_id("expected-cash").inner_text()
        page.get_by_test_id("count-input").fill("96.80")
        page.get_by_test_id("close-shift").click()
        report = page.get_by_test_id("z-report")
        report.wait_for()
        assert "1.86" in page.get_by_test_id("z-sales").inner_text()
        assert "1.86" in page.get_by_test_id("z-tender-cash").inner_text()
        short = page.get_by_test_id("z-over-short").inner_text()
        assert "Short" in short and "0.06" in short
        page.get_by_test_id("z-print-status").filter(has_text="Printed").wait_for()
        assert "5.00" in page.get_by_test_id("z-paid-out").inner_text()
        z = shop.printer.wait_for(2, timeout=15)[1].text
        assert "Z REPORT" in z and "Short" in z and "96.86" in z
        assert "Paid out -5.00 EUR: milk for the staff room (cara, approved by mona)" in " ".join(z.split())
        box = page.get_by_test_id("z-print").bounding_box()
        assert box and box["x"] + box["width"] <= VIEWPORTS[layout]["width"]

        page.get_by_test_id("z-print").click()
        assert "Z REPORT" in shop.printer.wait_for(3, timeout=15)[2].text
        page.get_by_test_id("next-shift").click()
        page.get_by_test_id("float-input").wait_for()
        assert shop.api("/api/v1/registers/till-1/shift")["shift"] is None
    finally:
        context.close()


def post_from_tablet(page: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A POST as the tablet's signed-in cashier: the session cookie and its CSRF token."""
    answer: dict[str, Any] = page.evaluate("""async ([path, body]) => {
        const { csrf_token } = await (await fetch("/api/v1/tablet")).json();
        const r = await fetch(path, { method: "POST", body: JSON.stringify(body),
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf_token } });
        if (!r.ok) throw new Error(`${path}: ${await r.text()}`);
        return r.json();
      }""", [path, body])
    return answer


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_the_close_screen_shows_a_late_offline_sale_and_a_cash_void(shop: Shop, browser: Any, layout: str) -> None:
    """Shift #1 sells a jar (on the hub) and, the tablet says, a loaf it sold without the hub; shift #1
    closes before the loaf's sale reaches the hub. In shift #2 a manager voids the jar's sale: its cash
    leaves this drawer. Closing shift #2 shows both, and the expected cash the cashier must count."""
    wait_until(lambda: len([d for d in shop.api("/api/v1/devices")["devices"] if d["online"]]) == 3,
               what="scanner, scale and printer online", timeout=60)
    shop.api("/api/v1/people", {"username": "cara", "role": "cashier", "pin": "864213"})
    code = shop.api("/api/v1/pairing/codes", {})["code"]
    context, page = new_tablet(browser, VIEWPORTS[layout])
    try:
        pair_as_till_1(page, shop, code, "cara", "864213")
        page.get_by_test_id("float-input").fill("0")
        page.get_by_test_id("open-shift").click()
        page.get_by_test_id("shift-button").filter(has_text="Shift #1").wait_for()
        first = shop.api("/api/v1/registers/till-1/shift")["shift"]
        jar = shop.api("/api/v1/sales", {"id": str(uuid.uuid4()), "register_id": "till-1",
                                         "lines": [{"sku": "D1002", "qty": 1}],
                                         "tenders": [{"kind": "cash", "amount_minor": 223}]})
        # the tablet's clock said this, within the 5 minutes' skew the hub allows: it books into shift #1
        opened = datetime.fromisoformat(first["opened_at"])
        sold_at = (opened - timedelta(minutes=5) + timedelta(milliseconds=1)).isoformat().replace("+00:00", "Z")

        page.get_by_test_id("shift-button").click()
        page.get_by_test_id("count-input").fill("2.23")
        page.get_by_test_id("close-shift").click()
        page.get_by_test_id("z-report").wait_for()
        page.get_by_test_id("next-shift").click()
        page.get_by_test_id("float-input").fill("10")
        page.get_by_test_id("open-shift").click()
        page.get_by_test_id("shift-button").filter(has_text="Shift #2").wait_for()

        loaf = post_from_tablet(page, "/api/v1/sales", {  # the offline queue, replayed late
            "id": str(uuid.uuid4()), "register_id": "till-1", "offline": True, "recorded_at": sold_at,
            "lines": [{"sku": "D1001", "qty": 1}], "tenders": [{"kind": "cash", "amount_minor": 186}],
            "charged": {"catalog_version": 1, "total_minor": 186,
                        "lines": [{"unit_price_minor": 186, "total_minor": 186}]}})
        shop.api(f"/api/v1/sales/{jar['id']}/void", {"reason": "rang up twice"})

        page.get_by_test_id("shift-button").click()
        assert "2.23" in page.get_by_test_id("cash-voids").inner_text()
        assert "7.77" in page.get_by_test_id("expected-cash").inner_text()  # 10.00 float - 2.23 paid back
        voids = page.get_by_test_id("shift-cash-voids").inner_text()
        assert "2.23" in voids and "lower" in voids
        late = page.get_by_test_id("shift-late-offline")
        assert "Late offline sales: 1" in late.inner_text() and "not in the expected cash" in late.inner_text()
        assert f"S{loaf['number']:08d} · shift #1" in late.get_by_test_id("late-offline-sale").inner_text()

        page.get_by_test_id("count-input").fill("7.77")
        page.get_by_test_id("close-shift").click()
        page.get_by_test_id("z-report").wait_for()
        assert "2.23" in page.get_by_test_id("z-cash-voids").inner_text()
        assert "7.77" in page.get_by_test_id("z-expected").inner_text()
        assert "0.00" in page.get_by_test_id("z-over-short").inner_text()
        assert "1.86" in page.get_by_test_id("shift-late-offline").inner_text()
        page.get_by_test_id("z-print-status").filter(has_text="Printed").wait_for()
        printed = wait_until(lambda: [r.text for r in shop.printer.wait_for(1) if "Late offline sale" in r.text],
                             what="the Z report of shift #2 printed")[0]
        assert "Cash voids" in printed and "7.77" in printed
        for testid in ("z-print", "next-shift"):
            box = page.get_by_test_id(testid).bounding_box()
            assert box and box["x"] + box["width"] <= VIEWPORTS[layout]["width"]

        page.get_by_test_id("next-shift").click()  # the shift history, from the open sheet
        page.get_by_test_id("shift-history-button").click()
        page.locator("[data-testid=past-shift][data-number='2']").filter(has_text="1 late offline").click()
        page.get_by_test_id("shift-late-offline").wait_for()
        assert "2.23" in page.get_by_test_id("z-cash-voids").inner_text()
    finally:
        context.close()
