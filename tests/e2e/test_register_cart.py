"""The complete cart in Chromium at both tablet layouts, on a paired tablet with a cashier signed in by
PIN: the tax summary per rate, a cart discount a manager approves at payment, the sale post-voided with
the manager's PIN, a price override, a cart parked and resumed, and a voided cart kept for loss prevention."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from tests.e2e.conftest import Shop
from tests.e2e.test_register_pairing import (
    VIEWPORTS,
    new_tablet,
    pair_as_till_1,
    type_pin,
)
from tests.helpers import wait_until

BREAD = ("0490000010015", "Sourdough loaf")  # 1.86, 7% tax
WATER = ("0490000010893", "Sparkling water 1.5 l")  # 7.42, 20% tax


def db(shop: Shop) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{shop.root / 'data' / 'backroom.sqlite3'}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def add(page: Any, code: str, name: str) -> None:
    page.get_by_test_id("code-input").fill(code)
    page.get_by_test_id("code-input").press("Enter")
    page.get_by_test_id("cart-line").filter(has_text=name).wait_for()


def manager_approves(page: Any) -> None:
    sheet = page.get_by_test_id("approval-sheet")
    sheet.wait_for()
    person = sheet.locator("[data-person='mona']")
    if person.is_visible():
        person.click()
    type_pin(page, "739152")
    sheet.wait_for(state="detached")


def within(page: Any, test_id: str, viewport: dict[str, int]) -> None:
    box = page.get_by_test_id(test_id).bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], test_id


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_discount_approval_post_void_override_park_and_void(shop: Shop, browser: Any, layout: str) -> None:
    viewport = VIEWPORTS[layout]
    shop.api("/api/v1/people", {"username": "cara", "role": "cashier", "pin": "864213"})
    shop.api("/api/v1/people", {"username": "mona", "role": "manager", "pin": "739152"})
    code = shop.api("/api/v1/pairing/codes", {})["code"]
    shop.api("/api/v1/modifier-groups/wrap", {"name": "Gift wrap", "required": False, "max_choices": 1,
                                              "options": [{"id": "wrap", "name": "Wrap", "delta_minor": 200}]},
             method="PUT")
    shop.api("/api/v1/items/D1089", {"modifier_groups": ["wrap"]}, method="PATCH")
    context, page = new_tablet(browser, viewport)
    page.on("console", lambda m: print(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    try:
        pair_as_till_1(page, shop, code, "cara", "864213")
        page.get_by_test_id("float-input").fill("100")
        page.get_by_test_id("open-shift").click()
        page.get_by_test_id("connection-state").filter(has_text="onnected").wait_for()

        # two tax rates: the summary shows each, and the total is what the lines cost (prices include tax)
        add(page, BREAD[0], BREAD[1])
        add(page, WATER[0], WATER[1])
        page.get_by_test_id("tax-rate").nth(1).wait_for()
        rates = page.get_by_test_id("tax-rate").all_inner_texts()
        assert "7%" in rates[0] and "1.86" in rates[0] and "20%" in rates[1] and "7.42" in rates[1]
        page.wait_for_function("document.querySelector('[data-testid=cart-total]').dataset.minor === '928'")
        for tool in ("cart-adjust", "park", "parked-open"):
            within(page, tool, viewport)

        # 50% off the cart for loyalty: above the cashier's limit, so a manager approves at payment
        page.get_by_test_id("cart-adjust").click()
        page.get_by_test_id("discount-value").fill("50")
        page.locator("[data-testid=cart-sheet] [data-value=loyalty]").click()
        page.get_by_test_id("cart-apply").click()
        page.wait_for_function("document.querySelector('[data-testid=cart-total]').dataset.minor === '464'")
        assert "4.64" in page.get_by_test_id("cart-discount").inner_text()
        page.get_by_test_id("approval-note").wait_for()
        page.get_by_test_id("pay-cash").click()
        page.locator("#quick button").first.click()  # exact
        page.get_by_test_id("complete-sale").click()
        manager_approves(page)
        page.get_by_test_id("sale-number").wait_for()
        with db(shop) as conn:
            sale = json.loads(conn.execute("SELECT response FROM sales ORDER BY number DESC").fetchone()[0])
        assert sale["total_minor"] == 464 and sale["discount_approver"] == "mona"
        assert sale["cart_discount"]["reason"] == "loyalty" and sale["cart_discount"]["amount_minor"] == 464
        assert sum(t["tax_minor"] for t in sale["taxes"]) == sale["tax_minor"]

        # the customer changes their mind at once: the cashier post-voids it with the manager's PIN
        page.get_by_test_id("post-void").click()
        page.get_by_test_id("post-void-sheet").get_by_role("button", name="Rang twice").click()
        manager_approves(page)
        page.get_by_test_id("void-status").filter(has_text="voided").wait_for()
        with db(shop) as conn:
            assert conn.execute("SELECT voided_at IS NOT NULL FROM sales WHERE id = ?", (sale["id"],)).fetchone()[0]
        page.get_by_test_id("new-sale").click()

        # a price override on a line, then the cart parked and resumed with it
        add(page, WATER[0], WATER[1])
        page.get_by_test_id("cart-line").filter(has_text=WATER[1]).locator(".name").click()
        page.get_by_test_id("override-price").fill("5.00")
        page.locator("[data-testid=adjust-sheet] [data-value=price_match]").click()
        page.get_by_test_id("adjust-apply").click()
        page.wait_for_function("document.querySelector('[data-testid=cart-total]').dataset.minor === '500'")
        assert "price changed" in page.get_by_test_id("line-adjust").inner_text()
        page.get_by_test_id("park").click()
        page.get_by_test_id("park-label").fill("blue coat")
        page.get_by_test_id("park-confirm").click()
        page.get_by_test_id("cart-line").first.wait_for(state="detached")
        page.get_by_test_id("parked-open").filter(has_text="Parked (1)").wait_for()
        page.get_by_test_id("parked-open").click()
        page.get_by_test_id("parked-cart").filter(has_text="blue coat").get_by_test_id("resume").click()
        page.get_by_test_id("cart-line").filter(has_text=WATER[1]).wait_for()
        page.wait_for_function("document.querySelector('[data-testid=cart-total]').dataset.minor === '500'")
        assert shop.api("/api/v1/registers/till-1/parked")["parked"] == []
        # a modifier from the item's groups: gift wrap, +2.00
        page.get_by_test_id("cart-line").filter(has_text=WATER[1]).locator(".name").click()
        page.get_by_test_id("modifier-groups").get_by_role("button", name="Wrap").click()
        page.get_by_test_id("adjust-apply").click()
        page.wait_for_function("document.querySelector('[data-testid=cart-total]').dataset.minor === '700'")
        assert "+ wrap" in page.get_by_test_id("line-adjust").inner_text()

        # voided before payment: two taps, and the hub keeps what was in the cart
        page.locator("#clear-cart").click()
        page.locator("#clear-cart").click()
        page.get_by_test_id("cart-line").first.wait_for(state="detached")

        def voids() -> list[dict[str, Any]]:
            with db(shop) as conn:
                return [json.loads(r[0]) for r in conn.execute("SELECT data FROM cart_voids")]

        [void] = wait_until(voids, what="the cart void recorded")
        assert void["lines"][0]["name"] == WATER[1] and void["total_minor"] == 700 and void["by"] == "cara"

        # no barcode at hand: search by name as you type, then tap the item
        page.get_by_test_id("code-input").press_sequentially("sourd", delay=60)
        page.locator("[data-testid=search-result][data-sku=D1001]").click()
        page.get_by_test_id("cart-line").filter(has_text=BREAD[1]).wait_for()
        assert page.get_by_test_id("search-results").is_hidden()

        # a scanner typing into another field (here the discount box): its fast burst goes to the cart
        page.evaluate("import('/static/register-search.js').then((m) => { m.SEARCH.burstGapMs = 200; })")
        page.get_by_test_id("cart-adjust").click()
        page.get_by_test_id("discount-value").click()
        page.keyboard.type(BREAD[0])
        page.keyboard.press("Enter")
        page.locator("[data-testid=cart-line][data-sku=D1001][data-qty='2']").wait_for()
        assert page.get_by_test_id("discount-value").input_value() == ""
    finally:
        context.close()
