"""Variants picked from the parent at the till (issue 7 §2), in Chromium at both tablet layouts.

A parent's own code (a shelf or hang tag), typed or scanned on the hub's scanner, opens its variants
to pick from instead of adding a line the hub would refuse; only variants on sale are offered. Search
finds the parent and lists its variants the same way. A parent with nothing on sale says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from stdnum import ean

from tests.e2e.conftest import MANAGER, Shop, page_opener, staffed_shop
from tests.e2e.test_register_pairing import VIEWPORTS
from tests.e2e.test_register_pay_return import till


def gtin(body: str) -> str:
    return body + ean.calc_check_digit(body)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    with staffed_shop(tmp_path_factory.mktemp("variants")) as s:
        yield s


@pytest.fixture
def open_page(shop: Shop, browser: Any) -> Iterator[Any]:
    with page_opener(shop, browser, MANAGER) as open_:
        yield open_


def cap(shop: Shop, n: int) -> tuple[str, str]:
    """A wool cap in red, blue and green (green taken off sale): its SKU and the parent's barcode."""
    sku, code = f"CAP{n}", gtin(f"400638177{n:03d}")
    shop.api("/api/v1/items", {"sku": sku, "name": f"Wool cap {n}", "unit": "each", "price_minor": 1200,
                               "variant_axes": ["colour"], "barcodes": [code]})
    for colour in ("red", "blue", "green"):
        shop.api("/api/v1/items", {"sku": f"{sku}-{colour.upper()}", "parent_sku": sku,
                                   "variant_values": {"colour": colour}})
    shop.api(f"/api/v1/items/{sku}-GREEN", {"active": False}, method="PATCH")
    return sku, code


def offered(page: Any) -> list[str]:
    results = page.get_by_test_id("search-results")
    expect(results).to_be_visible()
    return sorted(b.get_attribute("data-sku") for b in results.get_by_test_id("search-result").all())


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_a_parents_code_offers_its_variants_on_sale(shop: Shop, open_page: Any, layout: str) -> None:
    n = list(VIEWPORTS).index(layout) + 1
    sku, code = cap(shop, n)
    page = till(open_page, layout)

    page.get_by_test_id("code-input").fill(code)  # typed (or a wedge scanner): the cap's hang tag
    page.get_by_test_id("code-input").press("Enter")
    expect(page.get_by_test_id("search-results")).to_contain_text(f"Wool cap {n}: pick one (colour)")
    assert offered(page) == [f"{sku}-BLUE", f"{sku}-RED"]  # green is off sale
    expect(page.locator("#scan-info")).to_contain_text("pick the colour")
    expect(page.get_by_test_id("cart-line")).to_have_count(0)  # nothing the hub would refuse
    page.locator(f"[data-testid=search-result][data-sku={sku}-RED]").click()
    page.locator(f"[data-testid=cart-line][data-sku={sku}-RED]").wait_for()
    expect(page.get_by_test_id("search-results")).to_be_hidden()

    shop.api("/api/v1/devices/sim-scanner-1/simulate-scan", {"data": code})  # the hub's scanner, same tag
    expect(page.get_by_test_id("search-results")).to_contain_text(f"Wool cap {n}: pick one")
    page.locator(f"[data-testid=search-result][data-sku={sku}-BLUE]").click()
    page.locator(f"[data-testid=cart-line][data-sku={sku}-BLUE]").wait_for()

    page.get_by_test_id("code-input").fill(f"Wool cap {n}")  # search: the parent, then its variants
    page.locator(f"[data-testid=search-result][data-sku={sku}]").click()
    expect(page.get_by_test_id("search-results")).to_contain_text(f"Wool cap {n}: pick one")
    page.locator(f"[data-testid=search-result][data-sku={sku}-RED]").click()
    page.locator(f"[data-testid=cart-line][data-sku={sku}-RED][data-qty='2']").wait_for()
    expect(page.get_by_test_id("cart-line")).to_have_count(2)
    expect(page.get_by_test_id("scan-error")).to_be_hidden()


def test_a_parent_with_nothing_on_sale_says_so(shop: Shop, open_page: Any) -> None:
    code = gtin("400638178001")
    shop.api("/api/v1/items", {"sku": "SCARF", "name": "Silk scarf", "unit": "each", "price_minor": 2500,
                               "variant_axes": ["pattern"], "barcodes": [code]})
    page = till(open_page, "landscape")
    page.get_by_test_id("code-input").fill(code)
    page.get_by_test_id("code-input").press("Enter")
    expect(page.get_by_test_id("scan-error")).to_contain_text("Silk scarf has no variants for sale yet")
    expect(page.get_by_test_id("cart-line")).to_have_count(0)
