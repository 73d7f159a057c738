"""The main job, end to end: scan on the hub's scanner, see the line on the tablet, pay cash,
get a printed receipt, and find the sale in the cloud exactly once, even across a sink outage."""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

from tests.e2e.conftest import OWNER, Shop
from tests.helpers import wait_until

TABLET = {"width": 1024, "height": 768}
BREAD = ("0490000010015", "D1001", "Sourdough loaf")


def sign_in(page: Any, shop: Shop, next_path: str) -> None:
    page.goto(f"{shop.url}{next_path}")
    page.wait_for_url("**/login**")
    page.fill("input[name=username]", OWNER[0])
    page.fill("input[name=password]", OWNER[1])
    page.click("button[type=submit]")
    # not "**{next_path}": /login?next=... matches that too, before the sign-in is through
    page.wait_for_url(lambda url: url.endswith(next_path) and "/login" not in url)


def scan_on_hub_scanner(shop: Shop, code: str) -> None:
    shop.api("/api/v1/devices/sim-scanner-1/simulate-scan", {"data": code})


def sell_by_scanning(page: Any, shop: Shop, code: str, name: str, tender_minor: int | None = None) -> dict[str, str]:
    scan_on_hub_scanner(shop, code)
    line = page.get_by_test_id("cart-line").filter(has_text=name)
    line.wait_for(timeout=15000)
    page.get_by_test_id("pay-cash").click()
    if tender_minor is None:
        page.locator("#quick button").first.click()  # "Exact"
    else:
        page.get_by_test_id("tendered-input").fill(f"{tender_minor // 100}.{tender_minor % 100:02d}")
    page.get_by_test_id("complete-sale").click()
    page.get_by_test_id("sale-number").wait_for(timeout=15000)
    page.wait_for_function("document.querySelector('[data-testid=receipt-status]')?.textContent.includes('printed')",
                           timeout=15000)
    result = {k: page.get_by_test_id(k).inner_text() for k in ("sale-number", "change-due", "receipt-status")}
    page.get_by_test_id("new-sale").click()
    return result


def test_scan_pay_print_and_forward_exactly_once(shop: Shop, browser: Any) -> None:
    wait_until(lambda: len([d for d in shop.api("/api/v1/devices")["devices"] if d["online"]]) == 3,
             what="scanner, scale and printer online", timeout=60)
    context = browser.new_context(viewport=TABLET, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, shop, "/register/till-1")
        page.get_by_test_id("connection-state").filter(has_text="onnected").wait_for(timeout=15000)

        first = sell_by_scanning(page, shop, BREAD[0], BREAD[2], tender_minor=1000)
        assert "printed" in first["receipt-status"].lower()
        assert "8.14" in first["change-due"]  # 10.00 tendered for a 1.86 loaf

        receipts = shop.printer.wait_for(1, timeout=15)
        text = receipts[0].text
        assert BREAD[2] in text and "1.86" in text and "TOTAL" in text
        assert receipts[0].cut and receipts[0].barcodes

        def sales_in_sink() -> list[dict[str, Any]]:
            return [e for e in shop.sink_events() if e["type"] == "sale.completed"]

        sale_events = wait_until(sales_in_sink, what="sale event at the sink")
        assert len(sale_events) == 1 and sale_events[0]["data"]["lines"][0]["sku"] == BREAD[1]

        # The cloud goes away; the shop keeps selling.
        shop.stop_process("sink")
        second = sell_by_scanning(page, shop, BREAD[0], BREAD[2])
        assert second["sale-number"] != first["sale-number"]
        status = wait_until(lambda: (s := shop.api("/api/v1/status")["sync"])["backlog"] and s["last_error"] and s,
                          what="backlog with an error while the sink is down")
        assert status["backlog"] >= 1

        shop.start_sink()
        wait_until(lambda: shop.api("/api/v1/status")["sync"]["backlog"] == 0, timeout=30, what="backlog drained")
        events = shop.sink_events()
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(1, len(seqs) + 1)), "events out of order or with a gap"
        assert not [s for s, n in Counter(e["id"] for e in events).items() if n > 1], "an event arrived twice"
        assert len(sales_in_sink()) == 2
        assert shop.api("/api/v1/status")["sync"]["last_seq"] == seqs[-1]
    finally:
        page.screenshot(path=str(shop.root / "register.png"))
        context.close()


def test_status_page_shows_devices_and_scans_from_its_button(shop: Shop, browser: Any) -> None:
    context = browser.new_context(viewport=TABLET)
    page = context.new_page()
    try:
        sign_in(page, shop, "/status")
        rows = page.get_by_test_id("device-row")
        wait_until(lambda: page.locator("[data-testid=device-row][data-online=true]").count() == 3, what="3 devices online")
        assert rows.count() == 3
        page.get_by_test_id("hub-uptime").wait_for()
        register = browser.new_context(viewport=TABLET)
        reg_page = register.new_page()
        sign_in(reg_page, shop, "/register/till-1")
        reg_page.get_by_test_id("connection-state").filter(has_text="onnected").wait_for(timeout=15000)
        page.get_by_test_id("scan-code-input").fill(BREAD[0])
        page.get_by_test_id("scan-code-button").click()
        reg_page.get_by_test_id("cart-line").filter(has_text=BREAD[2]).wait_for(timeout=15000)
        register.close()
        # The agent dies (kill -9): every device goes offline through its last will, and the page shows it.
        shop.kill_process("agent")
        wait_until(lambda: page.locator("[data-testid=device-row][data-online=false]").count() == 3,
                 what="3 devices offline on the status page")
    finally:
        page.screenshot(path=str(shop.root / "status.png"))
        context.close()


def test_a_lost_answer_is_retried_with_the_same_id_and_sells_once(shop: Shop, browser: Any) -> None:
    """The hub commits the sale but the tablet never hears back (Wi-Fi drops): the register keeps
    the pending sale, sends the same id again, and the hub answers with the first sale."""
    wait_until(lambda: len([d for d in shop.api("/api/v1/devices")["devices"] if d["online"]]) == 3,
               what="scanner, scale and printer online", timeout=60)
    # no service worker: one that takes the page over mid-test may send the sale past the route
    context = browser.new_context(viewport=TABLET, has_touch=True, service_workers="block")
    page = context.new_page()
    lost: list[str] = []

    def lose_the_first_answer(route: Any) -> None:
        if route.request.method == "POST" and not lost:
            response = route.fetch()  # the hub gets the sale and commits it...
            lost.append(response.json()["id"])
            route.abort("connectionreset")  # ...and the answer never reaches the tablet
        else:
            route.continue_()

    try:
        sign_in(page, shop, "/register/till-1")
        page.get_by_test_id("connection-state").filter(has_text="onnected").wait_for(timeout=15000)
        page.route("**/api/v1/sales", lose_the_first_answer)
        scan_on_hub_scanner(shop, BREAD[0])
        page.get_by_test_id("cart-line").filter(has_text=BREAD[2]).wait_for(timeout=15000)
        page.get_by_test_id("pay-cash").click()
        page.locator("#quick button").first.click()
        page.get_by_test_id("complete-sale").click()
        page.get_by_test_id("sale-number").wait_for(timeout=30000)  # after the register's own retry
        assert lost, "the first answer was not intercepted"
        number = page.get_by_test_id("sale-number").inner_text()
        events = wait_until(lambda: [e for e in shop.sink_events() if e["type"] == "sale.completed"],
                            what="the sale at the sink")
        assert [e["data"]["id"] for e in events] == lost, "the retry made a second sale"
        assert str(events[0]["data"]["number"]) in number
    finally:
        context.close()


BANANAS = ("4011", "P4011", "Bananas")
APPLES = ("4131", "P4131", "Apples Fuji")


def pay_exact(page: Any) -> str:
    page.get_by_test_id("pay-cash").click()
    page.locator("#quick button").first.click()  # "Exact", once the hub has priced the cart
    page.get_by_test_id("complete-sale").click()
    page.get_by_test_id("sale-number").wait_for(timeout=15000)
    return str(page.get_by_test_id("sale-number").inner_text())


def sale_in_sink(shop: Shop, number: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        return next((e["data"] for e in shop.sink_events()
                     if e["type"] == "sale.completed" and str(e["data"]["number"]) == number), None)

    found: dict[str, Any] = wait_until(find, what=f"sale {number} at the sink", timeout=30)
    return found


def test_the_hub_weighs_and_the_scale_must_show_zero_between_items(shop: Shop, browser: Any) -> None:
    wait_until(lambda: len([d for d in shop.api("/api/v1/devices")["devices"] if d["online"]]) == 3,
               what="scanner, scale and printer online", timeout=60)
    context = browser.new_context(viewport=TABLET, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, shop, "/register/till-1")
        page.get_by_test_id("connection-state").filter(has_text="onnected").wait_for(timeout=15000)
        live = page.get_by_test_id("live-weight")
        page.wait_for_function("document.querySelector('[data-testid=live-weight]').dataset.grams === '0'",
                               timeout=15000)
        scan_on_hub_scanner(shop, BANANAS[0])
        page.get_by_test_id("weigh-text").filter(has_text=f"Place the item on the scale: {BANANAS[2]}").wait_for(timeout=15000)
        shop.scale.set_weight(532)
        bananas = page.get_by_test_id("cart-line").filter(has_text=BANANAS[2])
        bananas.wait_for(timeout=15000)
        assert bananas.get_by_test_id("line-qty").inner_text() == "0.532 kg"
        assert bananas.get_by_test_id("weight-source").inner_text() == "weighed"
        assert page.get_by_test_id("weigh-prompt").is_hidden()

        # The apples go on without the bananas coming off: the hub refuses, and the page says why.
        scan_on_hub_scanner(shop, APPLES[0])
        refused = page.get_by_test_id("weigh-text").filter(
            has_text="Take the item off the scale: it must show zero before the next weighing")
        refused.wait_for(timeout=15000)
        page.screenshot(path=str(shop.root / "weighing-refused.png"))
        assert page.get_by_test_id("cart-line").count() == 1
        shop.scale.set_weight(0)
        page.get_by_test_id("weigh-text").filter(has_text=f"Place the item on the scale: {APPLES[2]}").wait_for(timeout=15000)
        assert live.get_attribute("data-grams") == "0"
        shop.scale.set_weight(310)
        apples = page.get_by_test_id("cart-line").filter(has_text=APPLES[2])
        apples.wait_for(timeout=15000)
        assert apples.get_by_test_id("line-qty").inner_text() == "0.310 kg"

        sale = sale_in_sink(shop, pay_exact(page))
        assert [(ln["sku"], ln["qty"], ln["weight_source"]) for ln in sale["lines"]] == [
            (BANANAS[1], 532, "scale"), (APPLES[1], 310, "scale")]
        assert all(ln["weighing_id"] for ln in sale["lines"])
    finally:
        page.screenshot(path=str(shop.root / "weighing.png"))
        context.close()


def test_a_register_without_a_scale_takes_a_typed_weight_marked_manual(shop: Shop, browser: Any) -> None:
    db = sqlite3.connect(shop.root / "data" / "backroom.sqlite3", timeout=10)
    with db:
        db.execute("INSERT INTO registers (id, name) VALUES ('till-2', 'Till 2')")
    db.close()
    context = browser.new_context(viewport=TABLET, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, shop, "/register/till-2")
        page.get_by_test_id("connection-state").filter(has_text="onnected").wait_for(timeout=15000)
        page.get_by_test_id("code-input").fill(BANANAS[0])
        page.get_by_test_id("code-input").press("Enter")
        page.get_by_test_id("manual-weight").wait_for(timeout=15000)
        page.get_by_test_id("manual-weight-input").fill("1,25")
        page.screenshot(path=str(shop.root / "manual-weight-entry.png"))
        page.get_by_test_id("manual-weight-add").click()
        line = page.get_by_test_id("cart-line").filter(has_text=BANANAS[2])
        line.wait_for(timeout=15000)
        assert line.get_by_test_id("line-qty").inner_text() == "1.250 kg"
        assert line.get_by_test_id("weight-source").inner_text() == "manual weight"
        sale = sale_in_sink(shop, pay_exact(page))
        assert [(ln["sku"], ln["qty"], ln["weight_source"]) for ln in sale["lines"]] == [(BANANAS[1], 1250, "manual")]
    finally:
        page.screenshot(path=str(shop.root / "manual-weight.png"))
        context.close()
