"""The hub stops mid-shift: the register keeps selling cash sales from its IndexedDB catalog, the
queue survives a reload (the page from the service worker), and once the hub is back every sale
reaches it exactly once. Real hub process, real Chromium, at both tablet orientations."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from typing import Any

import pytest

from tests.e2e.conftest import WAIT_MS, Shop, pair_tablet
from tests.helpers import wait_until

LANDSCAPE = {"width": 1280, "height": 800}
PORTRAIT = {"width": 800, "height": 1280}
BREAD = ("0490000010015", "Sourdough loaf", "D1001")  # typed as a GTIN
NEW_PRICE = 199  # the loaf's price changed while the register was open: 1.86 -> 1.99
RYE = ("D1002", "Rye bread")  # typed as a SKU


def queued_ids(page: Any) -> list[str]:
    """The client ids in the tablet's IndexedDB queue, in the order they were sold."""
    ids: list[str] = page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open("backroom-register");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const r = open.result.transaction("sales").objectStore("sales").index("seq").getAll();
          r.onsuccess = () => { resolve(r.result.map((s) => s.id)); open.result.close(); };
        };
      })""")
    return ids


def sell_offline(page: Any, code: str, name: str) -> None:
    page.get_by_test_id("code-input").fill(code)
    page.get_by_test_id("code-input").press("Enter")
    page.get_by_test_id("cart-line").filter(has_text=name).wait_for()
    page.get_by_test_id("pay-cash").click()
    page.locator("#quick button").first.click()  # "Exact", priced from the tablet's catalog
    page.get_by_test_id("complete-sale").click()
    page.get_by_test_id("sale-number").filter(has_text="pending").wait_for()
    assert "Saved on this tablet" in page.get_by_test_id("receipt-status").inner_text()
    page.get_by_test_id("new-sale").click()


def tablet_price(page: Any, sku: str) -> int | None:
    price: int | None = page.evaluate("""(sku) => new Promise((resolve) => {
        const open = indexedDB.open("backroom-register");
        open.onsuccess = () => {
          const r = open.result.transaction("items").objectStore("items").get(sku);
          r.onsuccess = () => { resolve(r.result ? r.result.price_minor : null); open.result.close(); };
        };
      })""", sku)
    return price


def change_price(shop: Shop, sku: str, price: int) -> None:
    req = urllib.request.Request(f"{shop.url}/api/v1/items/{sku}", data=json.dumps({"price_minor": price}).encode(),
                                 method="PATCH", headers={"Authorization": f"Bearer {shop.token}",
                                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def paired_till(shop: Shop, browser: Any, viewport: dict[str, int]) -> Any:
    """A tablet paired as till-1, its cashier signed in by PIN, a shift open: only a paired register's
    queue may send offline sales."""
    page = browser.new_context(viewport=viewport, has_touch=True).new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("pageerror", lambda exc: print(f"page error: {exc}"))
    pair_tablet(shop, page)
    page.goto(f"{shop.url}/register/till-1")
    return page


def banner(page: Any) -> Any:
    return page.get_by_test_id("offline-banner")


@pytest.mark.parametrize("viewport", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
def test_the_hub_stops_mid_shift_and_every_sale_arrives_once(shop: Shop, browser: Any, viewport: dict[str, int]) -> None:
    page = paired_till(shop, browser, viewport)
    try:
        page.get_by_test_id("connection-state").filter(has_text="Connected").wait_for()
        page.wait_for_selector("body[data-shell=cached]", state="attached")  # the page itself is in the service worker's cache
        page.wait_for_selector("[data-testid=offline-catalog][data-state=ready]", state="attached", timeout=30000)
        assert banner(page).is_hidden()
        # a price change reaches the tablet's catalog as a delta, announced on the register's stream
        change_price(shop, BREAD[2], NEW_PRICE)
        wait_until(lambda: tablet_price(page, BREAD[2]) == NEW_PRICE, what="the new price in the tablet's catalog")

        shop.stop_process("hub")
        banner(page).filter(has_text="Offline").wait_for()
        sell_offline(page, BREAD[0], BREAD[1])
        assert "1 sale waiting" in banner(page).inner_text()
        sell_offline(page, RYE[0], RYE[1])
        assert "2 sales waiting" in banner(page).inner_text()
        sold = queued_ids(page)
        assert len(sold) == 2

        # a lookup the snapshot can't answer says so, and the till stays usable
        page.get_by_test_id("code-input").fill("4011")  # bananas: weighed, which needs the hub's scale
        page.get_by_test_id("code-input").press("Enter")
        page.get_by_test_id("scan-error").filter(has_text="weigh").wait_for()

        page.reload()  # the hub is still down: the shell comes from the service worker, the queue from IndexedDB
        banner(page).filter(has_text="2 sales waiting").wait_for()
        assert queued_ids(page) == sold

        shop.restart_hub()
        page.wait_for_selector("[data-testid=offline-banner][data-waiting='0'][data-hub=up]", state="attached",
                               timeout=30000)
        banner(page).wait_for(state="hidden")
        assert queued_ids(page) == []

        db = sqlite3.connect(shop.root / "data" / "backroom.sqlite3", timeout=10)
        try:
            rows = db.execute("SELECT s.id, s.total_minor, o.catalog_version, o.price_differences FROM sales s "
                              "JOIN offline_sales o ON o.sale_id = s.id ORDER BY s.number").fetchall()
            assert [r[0] for r in rows] == sold  # in the order they were sold, each once
            assert rows[0][1] == NEW_PRICE  # priced offline from the delta, and recorded at what was charged
            assert all(r[2] and r[3] == "[]" for r in rows)  # the tablet said what it charged, and it matched
            assert db.execute("SELECT count(*) FROM sales").fetchone()[0] == 2
        finally:
            db.close()
        wait_until(lambda: len([e for e in shop.sink_events() if e["type"] == "sale.completed"]) >= 2,
                   what="both sales at the sink")
        events = [e for e in shop.sink_events() if e["type"] == "sale.completed"]
        assert sorted(e["data"]["id"] for e in events) == sorted(sold)

        # online again: the register sells through the hub as before
        page.get_by_test_id("connection-state").filter(has_text="Connected").wait_for(timeout=30000)
        page.get_by_test_id("code-input").fill(BREAD[0])
        page.get_by_test_id("code-input").press("Enter")
        page.get_by_test_id("cart-line").filter(has_text=BREAD[1]).wait_for()
        page.get_by_test_id("pay-cash").click()
        page.locator("#quick button").first.click()
        page.get_by_test_id("complete-sale").click()
        page.wait_for_function("/^\\d+$/.test(document.querySelector('[data-testid=sale-number]')?.textContent)")
    finally:
        page.context.close()
