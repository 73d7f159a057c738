"""The owner's review of offline sales on the status page, in Chromium at both tablet layouts: a paired
tablet replays a sale it made without the hub at its old price (and one that took an item below zero
stock); the owner sees when it was sold and when it arrived, the register and tablet, what was paid
against the hub's prices line by line, and marks it reviewed, which clears the count in the top bar
and is recorded once. Real hub, broker and devices agent processes."""

from __future__ import annotations

import sqlite3
import urllib.request
from typing import Any

import pytest

from tests.e2e.conftest import OWNER, WAIT_MS, Shop, page_opener, pair_tablet
from tests.e2e.test_register_pairing import VIEWPORTS

LOAF = ("D1001", "Sourdough loaf", 186)  # the hub's price; the tablet's catalog still said 1.59
JAM = ("D1002", 223)  # 26 on hand, and this item may not go below zero


def replay_offline_sales(shop: Shop, browser: Any) -> list[dict[str, Any]]:
    """Pair a tablet as till-1, sign its cashier in, open a shift, and send what its queue sends for two
    sales made 4 minutes ago without the hub: two loaves at 1.59, and 30 jars of jam."""
    req = urllib.request.Request(f"{shop.url}/api/v1/items/{JAM[0]}", data=b'{"negative_stock": "block"}',
                                 method="PATCH", headers={"Authorization": f"Bearer {shop.token}",
                                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    context = browser.new_context(viewport=VIEWPORTS["landscape"], has_touch=True)
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        csrf = pair_tablet(shop, page)
        sales: list[dict[str, Any]] = page.evaluate("""async ([csrf_token, loaf, jam]) => {
            const post = async (path, body) => {
              const r = await fetch(path, { method: "POST", body: JSON.stringify(body),
                headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf_token } });
              if (!r.ok) throw new Error(`${path}: ${await r.text()}`);
              return r.json();
            };
            const recorded_at = new Date(Date.now() - 4 * 60 * 1000).toISOString();
            const sale = (sku, qty, unit) => post("/api/v1/sales", {
              id: crypto.randomUUID(), register_id: "till-1", offline: true, recorded_at,
              lines: [{ sku, qty }], tenders: [{ kind: "cash", amount_minor: qty * unit }],
              charged: { catalog_version: 1, total_minor: qty * unit,
                lines: [{ unit_price_minor: unit, total_minor: qty * unit }] } });
            return [await sale(loaf, 2, 159), await sale(jam, 30, 223)];
          }""", [csrf, LOAF[0], JAM[0]])
        return sales
    finally:
        context.close()


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_the_owner_sees_an_offline_price_difference_and_marks_it_reviewed(shop: Shop, browser: Any,
                                                                          layout: str) -> None:
    loaves, jam = replay_offline_sales(shop, browser)
    assert loaves["total_minor"] == 318  # kept at what the customer paid
    viewport = VIEWPORTS[layout]
    with page_opener(shop, browser, OWNER) as open_:
        page = open_("/status", viewport=viewport)
        count = page.get_by_test_id("offline-review-count")
        count.filter(has_text="1 offline sale to review").wait_for()
        count.click()  # the top bar's count leads down to the panel
        panel = page.get_by_test_id("offline-sales")
        row = panel.locator(f"[data-sale='{loaves['id']}']")
        row.wait_for()
        assert row.is_visible() and panel.locator("[data-testid=offline-sale]").count() == 1
        text = row.inner_text()
        assert f"S{loaves['number']:08d}" in text and "till-1" in text and "tablet " in text and "by tess" in text
        assert "4 min later" in row.get_by_test_id("offline-received-at").inner_text()
        assert row.get_by_test_id("offline-charged").inner_text() == "€3.18"
        assert row.get_by_test_id("offline-today").inner_text() == "€3.72"
        assert "paid €0.54 less" in row.get_by_test_id("offline-difference").inner_text()
        line = row.locator(f"[data-testid=offline-line][data-sku='{LOAF[0]}']").inner_text()
        assert LOAF[1] in line and "€1.59" in line and "€1.86" in line
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), "the page scrolls sideways"

        page.get_by_test_id("offline-view-all").click()  # every offline sale, with the one that oversold
        oversold = panel.locator(f"[data-sale='{jam['id']}']")
        oversold.get_by_test_id("offline-oversold").wait_for()
        link = oversold.get_by_test_id("offline-exceptions-link")
        assert link.get_attribute("href") == "/stock?view=exceptions"
        page.get_by_test_id("offline-view-review").click()
        oversold.wait_for(state="detached")  # the list to review again: price differences only

        row.get_by_role("textbox").fill("old shelf label; relabelled")
        row.get_by_test_id("offline-mark-reviewed").click()
        panel.get_by_test_id("offline-empty").filter(has_text="All is well").wait_for()
        count.wait_for(state="hidden")
        assert panel.get_by_test_id("offline-badge").inner_text() == "All reviewed"
        page.get_by_test_id("offline-view-all").click()
        reviewed = panel.locator(f"[data-sale='{loaves['id']}'] [data-testid=offline-reviewed]")
        reviewed.wait_for()
        assert "Reviewed by olive" in reviewed.inner_text() and "relabelled" in reviewed.inner_text()

    db = sqlite3.connect(shop.root / "data" / "backroom.sqlite3", timeout=10)
    try:
        assert db.execute("SELECT reviewed_by, review_note FROM offline_sales WHERE sale_id = ?",
                          (loaves["id"],)).fetchone() == ("user:olive", "old shelf label; relabelled")
        assert db.execute("SELECT count(*) FROM outbox WHERE type = 'offline_sale.reviewed'").fetchone()[0] == 1
    finally:
        db.close()
