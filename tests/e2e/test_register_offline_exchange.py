"""Exchanges and card payments while the hub is out of reach, in real Chromium against a real hub
process: the replacement sale of an exchange (its return recorded at the hub first) and a card sale
are queued on the tablet and replayed exactly once when the hub is back; a gift card is refused
with a message saying what to do, and so is a return; an exchange whose credit was refunded
meanwhile stays on the tablet, listed with the hub's reason."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from hub.ledger import Ledger
from hub.returns import ReturnsDesk
from hub.service import open_database
from hub.store import Store
from tests.conftest import HUB_ID
from tests.e2e.conftest import Shop
from tests.e2e.test_register_offline import LANDSCAPE, PORTRAIT, banner, paired_till, queued_ids

BREAD = ("0490000010015", "Sourdough loaf", "D1001")  # 1.86


def ready(page: Any) -> None:
    """Online, the page in the service worker's cache and the catalog in IndexedDB: ready to lose the hub."""
    page.get_by_test_id("connection-state").filter(has_text="Connected").wait_for(timeout=30000)
    page.wait_for_selector("body[data-shell=cached]", state="attached")
    page.wait_for_selector("[data-testid=offline-catalog][data-state=ready]", state="attached", timeout=30000)


def hub_down(shop: Shop, page: Any) -> None:
    shop.stop_process("hub")
    banner(page).filter(has_text="Offline").wait_for()


def hub_back(shop: Shop, page: Any, refused: int = 0) -> None:
    shop.restart_hub()
    page.wait_for_selector(f"[data-testid=offline-banner][data-waiting='0'][data-refused='{refused}'][data-hub=up]",
                           state="attached", timeout=30000)


def add_bread(page: Any, times: int = 1) -> None:
    """Loaves typed into the tablet (from its catalog while the hub is away), one line of `times`."""
    for n in range(1, times + 1):
        page.get_by_test_id("code-input").fill(BREAD[0])
        page.get_by_test_id("code-input").press("Enter")
        line = page.get_by_test_id("cart-line").filter(has_text=BREAD[1])
        line.get_by_test_id("line-qty").filter(has_text=str(n)).wait_for()


def sell_bread(shop: Shop, qty: int) -> dict[str, Any]:
    sale: dict[str, Any] = shop.api("/api/v1/sales", {
        "id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": BREAD[2], "qty": qty}],
        "tenders": [{"kind": "cash", "amount_minor": 186 * qty}]})
    return sale


def start_exchange(page: Any, sale: dict[str, Any]) -> None:
    """One loaf back, its refund held at the hub as credit for the replacement sale."""
    page.get_by_test_id("returns-open").click()
    page.get_by_test_id("return-code").fill(sale["receipt_code"])
    page.get_by_test_id("return-find").click()
    page.get_by_test_id("qty-plus").first.click()
    page.get_by_test_id("return-exchange").click()
    page.get_by_test_id("exchange-banner").filter(has_text="1.86").wait_for()


def queued_bodies(page: Any) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open("backroom-register");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const r = open.result.transaction("sales").objectStore("sales").index("seq").getAll();
          r.onsuccess = () => { resolve(r.result.map((s) => s.body)); open.result.close(); };
        };
      })""")
    return bodies


def one(db: sqlite3.Connection, sql: str, *args: Any) -> Any:
    return db.execute(sql, args).fetchone()[0]


def database(shop: Shop) -> sqlite3.Connection:
    return sqlite3.connect(shop.root / "data" / "backroom.sqlite3", timeout=10)


def pay_exact(page: Any) -> None:
    page.locator("#quick button").first.click()
    page.get_by_test_id("complete-sale").click()
    page.get_by_test_id("sale-number").filter(has_text="pending").wait_for()


@pytest.mark.parametrize("viewport", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
def test_an_exchange_paid_while_the_hub_is_down_completes_once_it_is_back(shop: Shop, browser: Any,
                                                                           viewport: dict[str, int]) -> None:
    original = sell_bread(shop, 2)
    page = paired_till(shop, browser, viewport)
    try:
        ready(page)
        start_exchange(page, original)
        (held,) = shop.api(f"/api/v1/sales/{original['id']}")["returns"]

        hub_down(shop, page)
        add_bread(page, 2)  # two loaves for the one coming back: 3.72, 1.86 of it paid by the credit
        page.get_by_test_id("pay-cash").click()
        page.get_by_test_id("tender-list").filter(has_text="Exchange credit").wait_for()
        assert "1.86" in page.locator("#quick button").first.inner_text()  # the difference, in cash
        pay_exact(page)
        result = page.get_by_test_id("exchange-result")
        result.filter(has_text="saved on this tablet").wait_for()
        assert "completes when the hub is back" in result.inner_text()
        (body,) = queued_bodies(page)
        assert [(t["kind"], t["amount_minor"], t.get("reference")) for t in body["tenders"]] == [
            ("exchange", 186, held["id"]), ("cash", 186, None)]
        page.get_by_test_id("new-sale").click()
        assert page.get_by_test_id("exchange-banner").count() == 0  # spent: never offered to the next customer
        assert page.get_by_test_id("exchange-result").count() == 0  # nor its result on the next sale's sheet

        page.reload()  # still down: the page from the service worker, the sale from IndexedDB
        banner(page).filter(has_text="1 sale waiting").wait_for()
        assert page.get_by_test_id("exchange-banner").count() == 0
        assert [b["id"] for b in queued_bodies(page)] == [body["id"]]

        hub_back(shop, page)
        assert queued_ids(page) == []
        page.locator("#scan-info").filter(has_text="exchange is complete at the hub").wait_for()
        db = database(shop)
        try:
            assert one(db, "SELECT count(*) FROM sales") == 2  # the original and its exchange, each once
            assert one(db, "SELECT count(*) FROM offline_sales WHERE sale_id = ?", body["id"]) == 1
            assert one(db, "SELECT exchange_sale_id FROM returns WHERE id = ?", held["id"]) == body["id"]
            refunds = db.execute("SELECT kind, amount_minor FROM return_refunds WHERE return_id = ?",
                                 (held["id"],)).fetchall()
            assert refunds == [("exchange_credit", 186)]  # all of it spent by the sale, nothing paid out besides
            exchanged = [json.loads(r[0]) for r in db.execute("SELECT data FROM outbox WHERE type = 'sale.exchanged'")]
            assert [(e["id"], e["return_id"], e["credit_minor"]) for e in exchanged] == [(body["id"], held["id"], 186)]
        finally:
            db.close()
        view = shop.api(f"/api/v1/sales/{body['id']}")
        assert view["exchange_for_return"] == held["id"] and view["total_minor"] == 372
    finally:
        page.context.close()


def test_a_card_sale_is_queued_with_its_terminal_reference_and_returns_need_the_hub(shop: Shop,
                                                                                    browser: Any) -> None:
    page = paired_till(shop, browser, PORTRAIT)
    try:
        ready(page)
        hub_down(shop, page)
        # a return (and so an exchange) needs the original sale, at the hub: the sheet says so at once
        page.get_by_test_id("returns-open").click()
        page.get_by_test_id("return-message").filter(has_text="Returns need the hub").wait_for()
        page.get_by_test_id("return-code").fill("S00000001")
        page.get_by_test_id("return-find").click()  # tried anyway: the same plain answer, not a network error
        page.get_by_test_id("return-message").filter(has_text="try again when the hub is back").wait_for()
        page.get_by_test_id("return-cancel").click()

        add_bread(page, 2)
        page.get_by_test_id("pay-cash").click()
        page.get_by_test_id("tender-card").click()  # the terminal has its own line out: it works without the hub
        page.get_by_test_id("tender-ref").fill("TID9-000777")
        page.get_by_test_id("tender-amount").fill("3.00")
        page.get_by_test_id("tender-add").click()
        page.get_by_test_id("tender-list").filter(has_text="TID9-000777").wait_for()
        pay_exact(page)  # the 0.72 left, in cash
        (body,) = queued_bodies(page)
        assert body["offline"] is True
        assert [(t["kind"], t["amount_minor"]) for t in body["tenders"]] == [("card", 300), ("cash", 72)]

        hub_back(shop, page)
        assert queued_ids(page) == []
        db = database(shop)
        try:
            tenders = db.execute("SELECT kind, amount_minor, reference FROM sale_tenders WHERE sale_id = ? "
                                 "ORDER BY line_no", (body["id"],)).fetchall()
            assert tenders == [("card", 300, "TID9-000777"), ("cash", 72, "")]
            assert one(db, "SELECT count(*) FROM offline_sales WHERE sale_id = ?", body["id"]) == 1
            assert one(db, "SELECT count(*) FROM sales") == 1
        finally:
            db.close()
    finally:
        page.context.close()


def test_a_gift_card_is_refused_offline_with_what_to_do(shop: Shop, browser: Any) -> None:
    card = shop.api("/api/v1/stored-value", {"kind": "gift_card", "amount_minor": 500})
    page = paired_till(shop, browser, LANDSCAPE)
    try:
        ready(page)
        add_bread(page)
        page.get_by_test_id("pay-cash").click()
        page.get_by_test_id("tender-gift_card").click()
        page.get_by_test_id("tender-ref").fill(card["code"])
        page.get_by_test_id("tender-add").click()  # its balance, while the hub is there
        page.get_by_test_id("tender-balance").filter(has_text="5.00").wait_for()
        expect(page.get_by_test_id("tender-amount")).to_have_value("1.86")  # what is due, once quoted
        page.get_by_test_id("tender-add").click()
        page.get_by_test_id("tender-list").filter(has_text=card["code"]).wait_for()

        hub_down(shop, page)
        page.get_by_test_id("complete-sale").click()
        message = page.locator("#pay-message")
        message.filter(has_text="take another tender").wait_for()
        assert "gift card" in message.inner_text() and "wait for the hub" in message.inner_text()
        assert queued_ids(page) == []  # nothing sent, nothing kept: the cashier may change the tenders
        page.get_by_role("button", name="Remove Gift card").click()
        pay_exact(page)  # cash instead: that goes on

        hub_back(shop, page)
        assert queued_ids(page) == []
        assert shop.api(f"/api/v1/stored-value/{card['code']}")["balance_minor"] == 500  # never touched
        db = database(shop)
        try:
            assert db.execute("SELECT kind FROM sale_tenders").fetchall() == [("cash",)]
        finally:
            db.close()
    finally:
        page.context.close()


def test_an_exchange_whose_credit_was_refunded_meanwhile_stays_listed_with_the_reason(shop: Shop,
                                                                                     browser: Any) -> None:
    original = sell_bread(shop, 1)
    page = paired_till(shop, browser, PORTRAIT)
    try:
        ready(page)
        start_exchange(page, original)
        (held,) = shop.api(f"/api/v1/sales/{original['id']}")["returns"]
        hub_down(shop, page)
        add_bread(page)
        page.get_by_test_id("pay-cash").click()
        page.get_by_test_id("tender-list").filter(has_text="Exchange credit").wait_for()
        page.get_by_test_id("complete-sale").click()  # the credit pays it all
        page.get_by_test_id("sale-number").filter(has_text="pending").wait_for()
        (body,) = queued_bodies(page)

        # meanwhile, at the hub, the credit was paid out (the hub is stopped: straight on its database)
        db = open_database(shop.root / "data")
        try:
            store = Store(db, HUB_ID, "EUR")
            ReturnsDesk(store, Ledger(store), 10**6).refund_credit(held["id"], "manny")
        finally:
            db.close()

        hub_back(shop, page, refused=1)
        assert queued_ids(page) == [body["id"]]  # kept on the tablet, never dropped
        listed = page.get_by_test_id("offline-refused-sale")
        listed.filter(has_text="refunded already").wait_for()
        assert f"return {held['number']}" in listed.inner_text() and "1.86" in listed.inner_text()
        assert "1 × Sourdough loaf" in listed.inner_text()  # what left the shop, for the manager settling it
        assert "refused by the hub" in banner(page).inner_text()
        page.get_by_test_id("exchange-result").filter(has_text="ask a manager").wait_for()
        page.get_by_test_id("new-sale").click()
        assert listed.is_visible()  # on the register itself, not in a tooltip
        page.evaluate("""() => { window.refusedAgain = new Promise((resolve) => addEventListener(
            "backroom:offline-refused", (e) => resolve(e.detail.error), { once: true })); }""")
        page.locator("#offline-retry").click()  # sent again: the same answer, and still kept
        assert "refunded already" in page.evaluate("() => window.refusedAgain")
        page.wait_for_selector("[data-testid=offline-banner][data-waiting='0'][data-refused='1']", state="attached")
        assert queued_ids(page) == [body["id"]]
        assert shop.api(f"/api/v1/sales/{original['id']}")["returns"][0]["exchange_sale_id"] is None
    finally:
        page.context.close()
