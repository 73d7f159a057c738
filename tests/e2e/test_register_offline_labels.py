"""A deli's scale labels keep selling while the hub is stopped: the tablet reads them with the store's
label settings (here DE, with the price check digit), sells a weighed item by its weight label and
by its price label and a prepacked each item at its label's price, queues the sale, and once the hub
is back the sale replays once at the same lines and prices. Real hub process, real Chromium."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.domain.barcodes import with_check_digit
from hub.domain.barcodes.encode import rcn_label_code
from hub.mosquitto import Broker
from tests.e2e.conftest import Shop, _print_tracebacks
from tests.e2e.test_register_offline import LANDSCAPE, PORTRAIT, banner, paired_till, queued_ids

REGION = "DE"  # 28/29 weight (kg, 3 decimals), 22/23 price (2 decimals), each with a 5-digit value check digit
HAM = ("1234", "Ham, sliced", 1490)  # weighed, 14.90/kg; found by its label's item reference as SKU
OLIVES = ("1236", "Olives, loose", 1800)  # weighed, 18.00/kg; found by its label's zeroed GTIN
BRIE = ("D-BRIE", "Brie wedge", 400)  # each, 4.00 on the shelf; prepacked, priced by the deli's scale
HAM_LABEL = rcn_label_code("rcn_weight", HAM[0], 250, REGION)  # 0.250 kg: 250 x 14.90/kg = 3.725 -> 3.73
OLIVES_LABEL = rcn_label_code("rcn_price", OLIVES[0], 540, REGION)  # 5.40 buys 300 g at 18.00/kg
BRIE_LABEL = rcn_label_code("rcn_price", "5678", 347, REGION)  # 3.47 on the label
BAD_LABEL = with_check_digit(HAM_LABEL[:6] + str((int(HAM_LABEL[6]) + 1) % 10) + HAM_LABEL[7:12])  # wrong weight check


@pytest.fixture
def deli(tmp_path: Path, broker: Broker) -> Iterator[Shop]:
    shop = Shop(tmp_path, broker)
    shop.store_extra = {"rcn_region": REGION}
    try:
        shop.start()
        shop.api("/api/v1/items", {"sku": HAM[0], "name": HAM[1], "unit": "g", "price_minor": HAM[2]})
        shop.api("/api/v1/items", {"sku": OLIVES[0], "name": OLIVES[1], "unit": "g", "price_minor": OLIVES[2]})
        shop.api(f"/api/v1/items/{OLIVES[0]}/barcodes", {"code": OLIVES_LABEL})  # kept with its value zeroed
        shop.api("/api/v1/items", {"sku": BRIE[0], "name": BRIE[1], "unit": "each", "price_minor": BRIE[2]})
        shop.api(f"/api/v1/items/{BRIE[0]}/barcodes", {"code": BRIE_LABEL})
        yield shop
    finally:
        shop.stop()
        _print_tracebacks(shop)


def scan(page: Any, code: str) -> None:
    page.get_by_test_id("code-input").fill(code)
    page.get_by_test_id("code-input").press("Enter")


def line(page: Any, name: str) -> Any:
    found = page.get_by_test_id("cart-line").filter(has_text=name)
    found.wait_for()
    return found


@pytest.mark.parametrize("viewport", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
def test_scale_labels_sell_offline_and_replay_at_the_same_prices(deli: Shop, browser: Any,
                                                                 viewport: dict[str, int]) -> None:
    page = paired_till(deli, browser, viewport)
    try:
        page.get_by_test_id("connection-state").filter(has_text="Connected").wait_for()
        page.wait_for_selector("body[data-shell=cached]", state="attached")
        page.wait_for_selector("[data-testid=offline-catalog][data-state=ready]", state="attached", timeout=30000)
        # the store's label settings came with the session while the hub answered
        page.wait_for_function("JSON.parse(localStorage.getItem('backroom.labelSettings'))?.rcn_region === 'DE'")

        deli.stop_process("hub")
        banner(page).filter(has_text="Offline").wait_for()

        scan(page, BAD_LABEL)  # read as the hub would: refused, and the till stays usable
        page.get_by_test_id("scan-error").filter(has_text="weight check digit expected").wait_for()

        scan(page, HAM_LABEL)
        ham = line(page, HAM[1])
        assert ham.get_by_test_id("line-qty").inner_text() == "0.250 kg"
        assert ham.get_by_test_id("weight-source").inner_text() == "from label"
        scan(page, OLIVES_LABEL)
        olives = line(page, OLIVES[1])
        assert olives.get_by_test_id("line-qty").inner_text() == "0.300 kg"
        scan(page, BRIE_LABEL)
        brie = line(page, BRIE[1])
        brie.get_by_test_id("line-total").filter(has_text="3.47").wait_for()
        scan(page, HAM[0])  # the ham by its SKU, without a label: weighing needs the hub's scale
        page.get_by_test_id("scan-error").filter(has_text="weigh").wait_for()

        total = 373 + 540 + 347
        page.wait_for_function(f"document.querySelector('[data-testid=cart-total]').dataset.minor === '{total}'")
        assert ham.get_by_test_id("line-total").get_attribute("data-minor") == "373"
        assert olives.get_by_test_id("line-total").get_attribute("data-minor") == "540"
        page.get_by_test_id("pay-cash").click()
        page.locator("#quick button").first.click()  # "Exact"
        page.get_by_test_id("complete-sale").click()
        page.get_by_test_id("sale-number").filter(has_text="pending").wait_for()
        sold = queued_ids(page)
        assert len(sold) == 1

        deli.restart_hub()
        page.wait_for_selector("[data-testid=offline-banner][data-waiting='0'][data-hub=up]", state="attached",
                               timeout=30000)
        assert queued_ids(page) == []

        db = sqlite3.connect(deli.root / "data" / "backroom.sqlite3", timeout=10)
        try:
            sales = db.execute("SELECT s.id, s.total_minor, o.price_differences FROM sales s "
                               "JOIN offline_sales o ON o.sale_id = s.id").fetchall()
            assert sales == [(sold[0], total, "[]")]  # once, at what the tablet charged, and it matched the hub
            lines = db.execute("SELECT sku, qty, total_minor, weight_source, price_source FROM sale_lines "
                               "WHERE sale_id = ? ORDER BY line_no", (sold[0],)).fetchall()
            assert lines == [(HAM[0], 250, 373, "label", None), (OLIVES[0], 300, 540, "label", None),
                             (BRIE[0], 1, 347, None, "label")]
        finally:
            db.close()
    finally:
        page.context.close()
