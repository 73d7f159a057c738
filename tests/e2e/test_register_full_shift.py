"""A whole shift as a cashier works it, in real Chromium at both tablet layouts, against a hub with a
real mosquitto, the devices agent and the scale, scanner and printer simulators (issue 7 §7).

The first test pairs the tablet, signs in by PIN, opens the shift with a float and sells: scans from
the hub's scanner, a weighed item from the scale under the legal-for-trade rules (a stable weight,
zero before the next), a price-embedded scale label, a discount above the limit a manager approves
with their PIN on the same tablet, a split tender (a card number as the reference refused), a return
with the receipt's code scanned, an exchange with the difference paid; then it closes with a cash
count and checks the Z report on screen and on paper. The second stops the hub mid-shift: sales go on
from the tablet's snapshot, survive a reload, and reach the hub exactly once, in the same shift.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.domain.barcodes.encode import rcn_label_code
from hub.mosquitto import Broker
from tests.e2e.conftest import Shop, _print_tracebacks
from tests.e2e.test_register_cart import add, manager_approves
from tests.e2e.test_register_offline import banner, queued_ids, sell_offline
from tests.e2e.test_register_pairing import VIEWPORTS, new_tablet, pair_as_till_1
from tests.e2e.test_register_pay_return import on_screen, sale_shown
from tests.helpers import wait_until

BREAD = ("0490000010015", "Sourdough loaf")  # 1.86
WATER = ("0490000010893", "Sparkling water 1.5 l")  # 7.42
BANANAS = ("4011", "Bananas")  # weighed
APPLES = ("4131", "Apples Fuji")  # weighed
HAM_LABEL = (
    "2012346301251",
    "Ham, sliced",
    125,
)  # GB layout: 20 12346 3 0125 1, 1.25 at 5.00/kg is 250 g
# a prepacked wedge sold each, whose label the deli's scale priced: 3.47 on the label, 4.00 on the shelf
BRIE_LABEL = (rcn_label_code("rcn_price", "12347", 347, "GB"), "Brie wedge", 347)
CASHIER = ("cara", "864213")
MANAGER = ("mona", "739152")


@pytest.fixture
def shop(tmp_path: Path, broker: Broker) -> Iterator[Shop]:
    s = Shop(tmp_path, broker)
    s.store_extra = {"rcn_region": "GB"}  # scale labels read by the UK layout
    try:
        s.start()
        yield s
    finally:
        s.stop()
        _print_tracebacks(s)


def scan(shop: Shop, code: str) -> None:
    """The hub's (simulated) scanner reads a code: over the bus, as a real one would."""
    shop.api("/api/v1/devices/sim-scanner-1/simulate-scan", {"data": code})


def minor(text: str) -> int:
    """The last amount in a text as minor units ("Short €0.10" -> 10, "−€1.86" -> -186)."""
    found = re.findall(r"-?\d[\d,]*\.\d{2}", re.sub(r"[\u2212\u2013]\s*€?\s*", "-", text))
    assert found, f"no amount in {text!r}"
    return int(found[-1].replace(",", "").replace(".", ""))


def db(shop: Shop) -> sqlite3.Connection:
    conn = sqlite3.connect(
        f"file:{shop.root / 'data' / 'backroom.sqlite3'}?mode=ro", uri=True, timeout=10
    )
    conn.row_factory = sqlite3.Row
    return conn


def paired_and_open(shop: Shop, browser: Any, viewport: dict[str, int]) -> tuple[Any, Any]:
    """A tablet paired as till-1 by code, the cashier signed in by PIN, the shift open with 100.00."""
    wait_until(
        lambda: len([d for d in shop.api("/api/v1/devices")["devices"] if d["online"]]) == 3,
        what="scanner, scale and printer online",
        timeout=60,
    )
    shop.api("/api/v1/people", {"username": CASHIER[0], "role": "cashier", "pin": CASHIER[1]})
    shop.api("/api/v1/people", {"username": MANAGER[0], "role": "manager", "pin": MANAGER[1]})
    code = shop.api("/api/v1/pairing/codes", {})["code"]
    context, page = new_tablet(browser, viewport)
    page.on(
        "console",
        lambda m: print(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    pair_as_till_1(page, shop, code, *CASHIER)
    page.get_by_test_id("float-input").fill("100")
    page.get_by_test_id("open-shift").click()
    page.get_by_test_id("shift-button").filter(has_text="Shift #1").wait_for()
    page.get_by_test_id("connection-state").filter(has_text="onnected").wait_for(timeout=30000)
    return context, page


def weigh(page: Any, shop: Shop, code: str, name: str, grams: int) -> None:
    """Scan a weighed item, put it on the scale, and take it off again: zero before the next."""
    scan(shop, code)
    page.get_by_test_id("weigh-text").filter(
        has_text=f"Place the item on the scale: {name}"
    ).wait_for()
    shop.scale.set_weight(grams)
    line = page.get_by_test_id("cart-line").filter(has_text=name)
    line.wait_for()
    assert line.get_by_test_id("line-qty").inner_text() == f"{grams / 1000:.3f} kg"
    assert line.get_by_test_id("weight-source").inner_text() == "weighed"


def pay_exact_cash(page: Any) -> None:
    page.get_by_test_id("pay-cash").click()
    page.locator("#quick button").first.click()  # "Exact", once the hub has priced the cart
    page.get_by_test_id("complete-sale").click()
    page.get_by_test_id("sale-number").wait_for()


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_a_whole_shift_from_pairing_to_the_z_report(shop: Shop, browser: Any, layout: str) -> None:
    # sold from the deli counter's scale, which prints the price on a label (its item reference is the SKU)
    shop.api(
        "/api/v1/items", {"sku": "12346", "name": HAM_LABEL[1], "unit": "g", "price_minor": 500}
    )
    shop.api("/api/v1/items", {"sku": "12347", "name": BRIE_LABEL[1], "unit": "each", "price_minor": 400})
    context, page = paired_and_open(shop, browser, VIEWPORTS[layout])
    try:
        # --- sale 1: scans, two weighings, a scale label, 50% off approved by a manager, card + cash
        page.wait_for_function(
            "document.querySelector('[data-testid=live-weight]')?.dataset.grams === '0'"
        )
        scan(shop, BREAD[0])
        page.get_by_test_id("cart-line").filter(has_text=BREAD[1]).wait_for()
        weigh(page, shop, BANANAS[0], BANANAS[1], 532)
        scan(shop, APPLES[0])  # the bananas are still on the scale: refused until it shows zero
        page.get_by_test_id("weigh-text").filter(
            has_text="must show zero before the next weighing"
        ).wait_for()
        assert page.get_by_test_id("cart-line").count() == 2
        shop.scale.set_weight(0)
        page.get_by_test_id("weigh-text").filter(
            has_text=f"Place the item on the scale: {APPLES[1]}"
        ).wait_for()
        shop.scale.set_weight(310)
        page.get_by_test_id("cart-line").filter(has_text=APPLES[1]).wait_for()
        shop.scale.set_weight(0)
        page.wait_for_function(
            "document.querySelector('[data-testid=live-weight]').dataset.grams === '0'"
        )
        scan(shop, HAM_LABEL[0])
        ham = page.get_by_test_id("cart-line").filter(has_text=HAM_LABEL[1])
        ham.wait_for()
        assert ham.get_by_test_id("line-qty").inner_text() == "0.250 kg"
        assert ham.get_by_test_id("weight-source").inner_text() == "from label"
        scan(shop, BRIE_LABEL[0])  # sold each, at the label's 3.47 rather than the shelf's 4.00
        brie = page.get_by_test_id("cart-line").filter(has_text=BRIE_LABEL[1])
        brie.get_by_test_id("line-total").filter(has_text="3.47").wait_for()
        assert brie.get_by_test_id("price-source").inner_text() == "price from label"
        page.wait_for_function("document.querySelectorAll('[data-testid=cart-line]').length === 5")
        full = int(
            page.wait_for_function(
                "document.querySelector('[data-testid=cart-total]').dataset.minor"
            ).json_value()
        )  # once the hub has priced the cart

        page.get_by_test_id("cart-adjust").click()
        page.get_by_test_id("discount-value").fill("50")
        page.locator("[data-testid=cart-sheet] [data-value=loyalty]").click()
        page.get_by_test_id("cart-apply").click()
        page.wait_for_function(
            "(full) => { const m = document.querySelector('[data-testid=cart-total]').dataset.minor;"
            " return m && m !== full; }",
            arg=str(full),
        )
        page.get_by_test_id(
            "approval-note"
        ).wait_for()  # above the cashier's limit: a manager at payment
        total1 = int(page.get_by_test_id("cart-total").get_attribute("data-minor"))

        page.get_by_test_id("pay-cash").click()
        on_screen(page, "pay-total", f"{total1 / 100:.2f}")
        page.get_by_test_id("tender-card").click()
        page.get_by_test_id("tender-ref").fill(
            "4111 1111 1111 1111"
        )  # the card's number, not the terminal's
        page.get_by_test_id("tender-amount").fill("1.00")
        page.get_by_test_id("tender-add").click()
        on_screen(page, "tender-message", "looks like a card number")
        assert page.get_by_test_id("tender-ref").input_value() == ""
        page.get_by_test_id("tender-ref").fill("TID7-004512")
        page.get_by_test_id("tender-add").click()
        on_screen(page, "tender-list", "TID7-004512")
        page.locator("#quick button").first.click()  # the rest in cash
        page.get_by_test_id("complete-sale").click()
        manager_approves(page)  # mona's PIN on cara's tablet
        page.get_by_test_id("sale-number").wait_for()
        sale1 = sale_shown(shop, page)
        conn = db(shop)
        try:
            recorded = json.loads(
                conn.execute("SELECT response FROM sales WHERE id = ?", (sale1["id"],)).fetchone()[
                    0
                ]
            )
        finally:
            conn.close()
        assert sale1["total_minor"] == total1 and recorded["discount_approver"] == MANAGER[0]
        assert (
            recorded["cart_discount"]["reason"] == "loyalty"
            and recorded["cart_discount"]["amount_minor"] == full - total1
        )
        assert sale1["tenders"] == [
            {"kind": "card", "amount_minor": 100, "reference": "TID7-004512"},
            {"kind": "cash", "amount_minor": total1 - 100, "reference": ""},
        ]
        assert [(ln["sku"], ln["qty"], ln["weight_source"]) for ln in recorded["lines"][1:3]] == [
            ("P4011", 532, "scale"),
            ("P4131", 310, "scale"),
        ]
        ham_line = recorded["lines"][3]
        assert (ham_line["sku"], ham_line["qty"], ham_line["weight_source"]) == (
            "12346",
            250,
            "label",
        )
        brie_line = recorded["lines"][4]
        assert (brie_line["sku"], brie_line["qty"], brie_line["unit_price_minor"], brie_line["price_source"]) == (
            "12347", 1, BRIE_LABEL[2], "label")
        page.get_by_test_id("new-sale").click()

        # --- sale 2: two loaves by scanning, exact cash
        scan(shop, BREAD[0])
        page.get_by_test_id("cart-line").filter(has_text=BREAD[1]).wait_for()
        scan(shop, BREAD[0])
        page.locator("[data-testid=cart-line][data-sku=D1001][data-qty='2']").wait_for()
        pay_exact_cash(page)
        sale2 = sale_shown(shop, page)
        assert sale2["total_minor"] == 372
        page.get_by_test_id("new-sale").click()

        # --- a return with the receipt: its code scanned on the hub's scanner, one loaf back in cash
        scan(shop, sale2["receipt_code"])
        page.get_by_test_id("return-line").first.wait_for()
        page.get_by_test_id("qty-plus").first.click()
        on_screen(page, "return-refund", "1.86")
        page.get_by_test_id("return-refund-button").click()
        page.get_by_test_id("return-result").wait_for()
        page.get_by_test_id("return-close").click()  # "Done": back to the till

        # --- an exchange: the other loaf comes back for a bottle of water, the difference in cash
        page.get_by_test_id("returns-open").click()
        page.get_by_test_id("return-code").fill(sale2["receipt_code"])
        page.get_by_test_id("return-find").click()
        page.get_by_test_id("qty-plus").first.click()
        page.get_by_test_id("return-exchange").click()
        on_screen(page, "exchange-banner", "1.86")
        add(page, WATER[0], WATER[1])
        page.get_by_test_id("pay-cash").click()
        on_screen(page, "tender-list", "Exchange credit")
        quick = page.locator("#quick button").first
        assert "5.56" in quick.inner_text()  # 7.42 less the loaf's 1.86
        quick.click()
        page.get_by_test_id("complete-sale").click()
        on_screen(page, "exchange-result", "recorded")
        sale3 = sale_shown(shop, page)
        assert [(t["kind"], t["amount_minor"]) for t in sale3["tenders"]] == [
            ("exchange", 186),
            ("cash", 556),
        ]
        back = shop.api(f"/api/v1/sales/{sale2['id']}")
        assert back["lines"][0]["returned_qty"] == 2 and len(back["returns"]) == 2
        page.get_by_test_id("new-sale").click()

        # --- close: count the drawer 0.10 short; the Z report on screen and on paper
        receipts_before = len(shop.printer.receipts())
        cash_in = sum(
            t["amount_minor"]
            for s in (sale1, sale2, sale3)
            for t in s["tenders"]
            if t["kind"] == "cash"
        )
        expected = 10000 + cash_in - 186  # the float, cash taken, the loaf refunded in cash
        page.get_by_test_id("shift-button").click()
        assert minor(page.get_by_test_id("expected-cash").inner_text()) == expected
        counted = expected - 10
        page.get_by_test_id("count-input").fill(f"{counted / 100:.2f}")
        page.get_by_test_id("close-shift").click()
        page.get_by_test_id("z-report").wait_for()
        assert "(3)" in page.get_by_test_id("z-sales").inner_text()
        assert minor(page.get_by_test_id("z-sales").inner_text()) == total1 + 372 + 742
        assert minor(page.get_by_test_id("z-tender-card").inner_text()) == 100
        assert minor(page.get_by_test_id("z-tender-cash").inner_text()) == cash_in
        returns = page.get_by_test_id("z-returns").inner_text()
        assert "(2)" in returns and minor(returns) == -372
        assert minor(page.get_by_test_id("z-discounts").inner_text()) == full - total1
        assert minor(page.get_by_test_id("z-counted").inner_text()) == counted
        short = page.get_by_test_id("z-over-short").inner_text()
        assert "Short" in short and minor(short) == -10
        page.get_by_test_id("z-print-status").filter(has_text="Printed").wait_for()
        z = shop.printer.wait_for(receipts_before + 1, timeout=15)[receipts_before].text
        assert "Z REPORT" in z and "Short" in z and f"{expected / 100:.2f}" in z
        assert shop.api("/api/v1/registers/till-1/shift")["shift"] is None
    finally:
        context.close()


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_the_hub_stops_mid_shift_and_the_queue_replays_once(
    shop: Shop, browser: Any, layout: str
) -> None:
    context, page = paired_and_open(shop, browser, VIEWPORTS[layout])
    try:
        page.wait_for_selector("body[data-shell=cached]", state="attached")
        page.wait_for_selector(
            "[data-testid=offline-catalog][data-state=ready]", state="attached", timeout=30000
        )
        scan(shop, BREAD[0])  # one sale through the hub first
        page.get_by_test_id("cart-line").filter(has_text=BREAD[1]).wait_for()
        pay_exact_cash(page)
        online = sale_shown(shop, page)
        page.get_by_test_id("new-sale").click()

        shop.stop_process("hub")
        banner(page).filter(has_text="Offline").wait_for()
        sell_offline(page, BREAD[0], BREAD[1])
        sell_offline(page, WATER[0], WATER[1])
        sold = queued_ids(page)
        assert len(sold) == 2
        page.reload()  # the hub still down: the page from the service worker, the queue from IndexedDB
        banner(page).filter(has_text="2 sales waiting").wait_for()
        assert queued_ids(page) == sold
        sell_offline(page, BREAD[0], BREAD[1])  # after the reload the till still sells
        sold = queued_ids(page)
        assert len(sold) == 3

        shop.restart_hub()
        page.wait_for_selector(
            "[data-testid=offline-banner][data-waiting='0'][data-hub=up]",
            state="attached",
            timeout=30000,
        )
        assert queued_ids(page) == []
        conn = db(shop)
        try:
            rows = conn.execute(
                "SELECT s.id, s.total_minor, s.shift_id FROM sales s "
                "JOIN offline_sales o ON o.sale_id = s.id ORDER BY s.number"
            ).fetchall()
            assert [r["id"] for r in rows] == sold  # in the order sold, each exactly once
            assert [r["total_minor"] for r in rows] == [186, 742, 186]
            shift = conn.execute(
                "SELECT shift_id FROM sales WHERE id = ?", (online["id"],)
            ).fetchone()[0]
            assert shift and {r["shift_id"] for r in rows} == {
                shift
            }  # the same shift as before the outage
            assert conn.execute("SELECT count(*) FROM sales").fetchone()[0] == 4
        finally:
            conn.close()

        # the replay is idempotent: the same id sent again is the same sale, not a fifth one
        again = shop.api(
            "/api/v1/sales",
            {
                "id": sold[0],
                "register_id": "till-1",
                "lines": [{"sku": "D1001", "qty": 1}],
                "tenders": [{"kind": "cash", "amount_minor": 186}],
            },
        )
        assert again["id"] == sold[0]
        conn = db(shop)
        try:
            assert conn.execute("SELECT count(*) FROM sales").fetchone()[0] == 4
        finally:
            conn.close()
        # opened while the hub was down, the page learns again who is signed in and which shift is open
        page.locator("#cashier").filter(has_text=CASHIER[0]).wait_for()
        page.get_by_test_id("shift-button").filter(has_text="Shift #1").wait_for()
    finally:
        context.close()
