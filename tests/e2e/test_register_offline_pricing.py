"""Offline, the register prices as the hub does: a member's cart of a break-priced item with a
cart discount, taxed with the store's per-receipt rounding, is sold while the hub is stopped,
replayed once it is back, and the hub records no price difference. A price change a cashier may
not make alone is refused offline, since its manager's approval is spent at the hub. A tablet that
kept the first offline catalog format upgrades without losing the sale it had queued. Real hub
process, real Chromium, at both tablet orientations."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from hub.domain.barcodes import with_check_digit
from hub.mosquitto import Broker
from tests.e2e.conftest import WAIT_MS, Shop, _print_tracebacks, pair_tablet
from tests.helpers import wait_until

LANDSCAPE = {"width": 1280, "height": 800}
PORTRAIT = {"width": 800, "height": 1280}
SOAP = with_check_digit("401234567890")  # typed into the tablet: its GTIN
# 2.15 each, members 1.90; 3 for 5.55. Four for a member: 5.55 + 1.90 = 7.45, less 5% loyalty (0.37) = 7.08
SOAP_ITEM = {"sku": "E2E-SOAP", "name": "Olive soap", "unit": "each", "price_minor": 215, "tax_category": "e2e-std",
             "tiers": {"member": 190}, "breaks": [{"tier": "retail", "qty": 4, "price_minor": 800}], "barcodes": [SOAP]}
OFFLINE_TOTAL = 708

# The first offline catalog (IndexedDB version 1): an item without price lists, and a sale queued in it.
OLD_TABLET = """async ([sale]) => {
  const open = indexedDB.open("backroom-register", 1);
  open.onupgradeneeded = () => {
    const db = open.result;
    db.createObjectStore("items", { keyPath: "sku" }).createIndex("code", "codes", { multiEntry: true });
    db.createObjectStore("meta", { keyPath: "key" });
    db.createObjectStore("sales", { keyPath: "id" }).createIndex("seq", "seq");
  };
  const db = await new Promise((resolve, reject) => { open.onsuccess = () => resolve(open.result); open.onerror = reject; });
  const tx = db.transaction(["items", "meta", "sales"], "readwrite");
  tx.objectStore("items").put({ sku: "E2E-SOAP", name: "Olive soap", unit: "each", price_minor: 215, tax: "e2e-std",
    active: true, variants: false, codes: ["0" + sale.code], packs: {} });
  tx.objectStore("meta").put({ key: "catalog", version: sale.version, taxes: { "e2e-std": 2000 }, complete: true });
  tx.objectStore("sales").put({ id: sale.body.id, seq: 1, body: sale.body, total: 215, status: "waiting", error: "" });
  await new Promise((resolve) => { tx.oncomplete = resolve; });
  db.close();
}"""

IDB_GET = """([store, key]) => new Promise((resolve) => {
  const open = indexedDB.open("backroom-register");
  open.onsuccess = () => {
    const r = open.result.transaction(store).objectStore(store).get(key);
    r.onsuccess = () => { resolve(r.result ?? null); open.result.close(); };
  };
})"""


def call(shop: Shop, method: str, path: str, body: Any) -> Any:
    req = urllib.request.Request(f"{shop.url}{path}", data=json.dumps(body).encode(), method=method,
                                 headers={"Authorization": f"Bearer {shop.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture
def shop(tmp_path: Path, broker: Broker) -> Iterator[Shop]:
    """The shop rounds tax once per receipt (store.tax_rounding), which the tablet must do too."""
    s = Shop(tmp_path, broker)
    s.store_extra = {"tax_rounding": "receipt"}
    try:
        s.start()
        call(s, "PUT", "/api/v1/tax-categories/e2e-std", {"name": "Standard", "rate_bp": 2000})
        call(s, "POST", "/api/v1/items", SOAP_ITEM)
        yield s
    finally:
        s.stop()
        _print_tracebacks(s)


def old_tablet_till(shop: Shop, browser: Any, viewport: dict[str, int]) -> tuple[Any, str]:
    """A tablet paired as till-1 whose IndexedDB still has the first catalog format and one queued sale,
    its cashier signed in by PIN, a shift open; then the register opens. Returns (page, queued sale id)."""
    page = browser.new_context(viewport=viewport, has_touch=True).new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("pageerror", lambda exc: print(f"page error: {exc}"))
    page.on("console", lambda m: print(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    pair_tablet(shop, page)
    sale_id = str(uuid.uuid4())
    body = {"id": sale_id, "register_id": "till-1", "lines": [{"sku": "E2E-SOAP", "qty": 1}],
            "tenders": [{"kind": "cash", "amount_minor": 215}], "offline": True,
            "recorded_at": page.evaluate("new Date().toISOString()"),
            "charged": {"catalog_version": 1, "total_minor": 215, "lines": [{"unit_price_minor": 215, "total_minor": 215}]}}
    # at the hub's current version: no delta would bring the price lists, only the snapshot loaded again
    with closing(sqlite3.connect(shop.root / "data" / "backroom.sqlite3", timeout=10)) as db:
        version = db.execute("SELECT max(version) FROM catalog_versions").fetchone()[0]
    page.evaluate(OLD_TABLET, [{"body": body, "code": SOAP, "version": version}])
    page.goto(f"{shop.url}/register/till-1")
    return page, sale_id


def scan(page: Any, code: str) -> None:
    page.get_by_test_id("code-input").fill(code)
    page.get_by_test_id("code-input").press("Enter")


def cart_total(page: Any) -> str:
    return str(page.get_by_test_id("cart-total").get_attribute("data-minor"))


@pytest.mark.parametrize("viewport", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
def test_an_offline_cart_is_priced_as_the_hub_prices_it(shop: Shop, browser: Any, viewport: dict[str, int]) -> None:
    page, old_sale = old_tablet_till(shop, browser, viewport)
    db = sqlite3.connect(shop.root / "data" / "backroom.sqlite3", timeout=10)
    try:
        page.get_by_test_id("connection-state").filter(has_text="Connected").wait_for()
        page.wait_for_selector("body[data-shell=cached]", state="attached")
        # the old catalog went, the new one came with the price lists; the queued sale was kept and sent once
        page.wait_for_selector("[data-testid=offline-catalog][data-state=ready]", state="attached", timeout=30000)
        wait_until(lambda: db.execute("SELECT count(*) FROM sales WHERE id = ?", (old_sale,)).fetchone()[0] == 1,
                   what="the sale queued in the old catalog at the hub")
        assert page.evaluate(IDB_GET, ["items", "E2E-SOAP"])["breaks"] == {"retail": [[4, 800]]}
        # a break changed while the register is open reaches the tablet as a delta
        call(shop, "PATCH", "/api/v1/items/E2E-SOAP", {"breaks": [{"tier": "retail", "qty": 3, "price_minor": 555}]})
        wait_until(lambda: page.evaluate(IDB_GET, ["items", "E2E-SOAP"])["breaks"] == {"retail": [[3, 555]]},
                   what="the new break in the tablet's catalog")
        # so is a modifier group given to the item: picked offline from the tablet's catalog below
        call(shop, "PUT", "/api/v1/modifier-groups/wrap", {"name": "Gift wrap", "required": False, "max_choices": 1,
                                                             "options": [{"id": "wrap", "name": "Wrap",
                                                                          "delta_minor": 50}]})
        call(shop, "PATCH", "/api/v1/items/E2E-SOAP", {"modifier_groups": ["wrap"]})
        wait_until(lambda: page.evaluate(IDB_GET, ["items", "E2E-SOAP"]).get("groups") == ["wrap"],
                   what="the item's modifier group in the tablet's catalog")

        shop.stop_process("hub")
        page.get_by_test_id("offline-banner").filter(has_text="Offline").wait_for()
        # searched by name in the tablet's own catalog, then scanned
        page.get_by_test_id("code-input").fill("olive s")
        page.locator(".search-heading").filter(has_text="From this tablet's catalog").wait_for()
        page.get_by_test_id("search-result").filter(has_text="Olive soap").click()
        page.get_by_test_id("cart-line").filter(has_text="Olive soap").wait_for()
        for _ in range(3):
            scan(page, SOAP)
        page.wait_for_selector("[data-testid=cart-line][data-qty='4']", state="attached")
        wait_until(lambda: cart_total(page) == "770", what="3 for 5.55 and one at 2.15 priced on the tablet")
        page.get_by_test_id("cart-adjust").click()  # a member, and 5% off for loyalty: within a cashier's own limits
        page.get_by_test_id("tier-choice").locator("[data-value=member]").click()
        page.get_by_test_id("discount-value").fill("5")
        page.get_by_test_id("cart-sheet").locator("[data-value=loyalty]").click()
        page.get_by_test_id("cart-apply").click()
        wait_until(lambda: cart_total(page) == str(OFFLINE_TOTAL), what="the member's cart priced on the tablet")
        page.get_by_test_id("pay-cash").click()
        page.locator("#quick button").first.click()
        page.get_by_test_id("complete-sale").click()
        page.get_by_test_id("sale-number").filter(has_text="pending").wait_for()
        page.get_by_test_id("new-sale").click()

        # a modifier is picked from the tablet's catalog, priced as the hub prices it
        scan(page, SOAP)
        page.get_by_test_id("cart-line").filter(has_text="Olive soap").wait_for()
        page.get_by_test_id("cart-line").locator(".name").click()
        page.get_by_test_id("modifier-groups").locator("[data-option=wrap]").click()
        page.get_by_test_id("adjust-apply").click()
        wait_until(lambda: cart_total(page) == "265", what="the soap with its wrap priced on the tablet")
        # a cashier's price change needs a manager's approval, spent at the hub: refused, and said why
        page.get_by_test_id("cart-line").locator(".name").click()
        page.get_by_test_id("override-price").fill("1.00")
        page.get_by_test_id("adjust-sheet").locator("[data-value=damaged]").click()
        page.get_by_test_id("adjust-apply").click()
        page.get_by_test_id("cart-quote").filter(has_text="needs a manager's approval, which needs the hub").wait_for()
        assert page.get_by_test_id("pay-cash").is_disabled()

        shop.restart_hub()
        page.wait_for_selector("[data-testid=offline-banner][data-waiting='0'][data-hub=up]", state="attached",
                               timeout=30000)
        rows = db.execute("SELECT s.total_minor, o.price_differences, o.today_total_minor FROM sales s "
                          "JOIN offline_sales o ON o.sale_id = s.id WHERE s.id <> ? ORDER BY s.number",
                          (old_sale,)).fetchall()
        assert rows == [(OFFLINE_TOTAL, "[]", OFFLINE_TOTAL)]  # charged what the hub charges: no difference
        line = db.execute("SELECT qty, unit_price_minor, cart_discount_minor FROM sale_lines l JOIN offline_sales o "
                          "ON o.sale_id = l.sale_id WHERE l.sale_id <> ?", (old_sale,)).fetchone()
        assert line == (4, 190, 37)
    finally:
        db.close()
        page.context.close()
