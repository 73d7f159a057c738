"""The item pages in Chromium against a real hub: find, edit by role, change requests, barcodes,
variants, and a layout that fits a tablet and a phone. One shop for the module: each test
works on its own demo items, so they don't see each other's edits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import (
    CASHIER,
    MANAGER,
    OWNER,
    PHONE,
    TABLET,
    Shop,
    page_opener,
    staffed_shop,
)
from tests.helpers import wait_until


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    with staffed_shop(tmp_path_factory.mktemp("items-pages")) as s:
        yield s


@pytest.fixture
def open_page(shop: Shop, browser: Any) -> Iterator[Any]:
    """open_page(path, who=OWNER, viewport=TABLET): a signed-in page in its own browser context."""
    with page_opener(shop, browser, OWNER) as open_:
        yield open_


def open_item(open_page: Any, sku: str, name: str, who: tuple[str, str] = OWNER, viewport: dict[str, int] = TABLET) -> Any:
    page = open_page(f"/items/{sku}", who, viewport)
    page.get_by_test_id("item-title").filter(has_text=name).wait_for()
    return page


def rows(page: Any) -> list[str]:
    skus: list[str] = page.get_by_test_id("item-row").evaluate_all("rows => rows.map(r => r.dataset.sku)")
    return skus


def test_search_as_you_type_by_name_then_a_scanned_barcode_opens_its_item(open_page: Any) -> None:
    page = open_page("/items")
    page.get_by_test_id("item-row").first.wait_for()  # the first page of all items
    assert len(rows(page)) == 50
    page.get_by_test_id("load-more").click()
    wait_until(lambda: len(rows(page)) == 100, what="a second page of items after Load more")
    assert len(set(rows(page))) == 100

    box = page.get_by_test_id("item-search")
    box.press_sequentially("cinnamon", delay=40)  # no Enter: results come as the person types
    wait_until(lambda: rows(page) == ["D1005", "D1015", "D1025", "D1035"], what="the four cinnamon rolls")
    assert "Cinnamon roll" in page.get_by_test_id("search-results").inner_text()

    box.fill("")
    box.press_sequentially("0490000010442", delay=5)  # a wedge scanner: digits, then Enter
    box.press("Enter")
    page.wait_for_url("**/items/D1044")
    page.get_by_test_id("item-title").filter(has_text="Greek yoghurt 500 g").wait_for()
    assert page.get_by_test_id("field-price").input_value() == "8.77"

    page.go_back()  # the search is still there, narrowed to the scanned code's one item
    wait_until(lambda: page.get_by_test_id("item-search").is_visible() and rows(page) == ["D1044"],
               what="the search view with the scanned item")


def test_owner_edits_a_price_and_it_applies_and_shows_in_the_history(shop: Shop, open_page: Any) -> None:
    page = open_item(open_page, "D1002", "Rye bread")
    assert page.get_by_test_id("needs-approval").is_hidden()  # an owner's change applies directly
    page.get_by_test_id("field-price").fill("2.45")
    page.get_by_test_id("field-reason").fill("flour costs more")
    page.get_by_test_id("save-item").click()
    result = page.get_by_test_id("save-result")
    result.filter(has_text="Saved").wait_for()
    assert "€2.23 → €2.45" in result.inner_text()
    assert result.get_attribute("data-request-id") == ""
    assert shop.api("/api/v1/items/D1002")["price_minor"] == 245

    first = page.get_by_test_id("history-row").first
    first.filter(has_text="€2.45").wait_for()
    text = first.inner_text()
    assert first.get_attribute("data-field") == "price_minor"
    assert "Price" in text and "€2.23 → €2.45" in text and "olive" in text and "flour costs more" in text


def test_a_managers_price_change_waits_until_the_owner_approves_it(shop: Shop, open_page: Any) -> None:
    manager = open_item(open_page, "D1003", "Croissant", MANAGER)
    manager.get_by_test_id("needs-approval").wait_for()  # visible, not only present
    manager.get_by_test_id("field-price").fill("2.75")
    manager.get_by_test_id("field-department").fill("Bakery counter")
    manager.get_by_test_id("field-reason").fill("new supplier")
    manager.get_by_test_id("save-item").click()
    result = manager.get_by_test_id("save-result")
    result.filter(has_text="Change request").wait_for()
    request_id = result.get_attribute("data-request-id")
    assert request_id and result.get_attribute("data-request-status") == "pending"
    assert f"#{request_id}" in result.inner_text() and "pending" in result.inner_text()
    item = shop.api("/api/v1/items/D1003")
    assert (item["price_minor"], item["department"]) == (260, "Bakery counter")  # description applied, price waits

    manager.get_by_test_id("nav-requests").click()
    mine = manager.locator(f"[data-testid=request-row][data-request-id='{request_id}']")
    mine.wait_for()
    assert mine.get_by_test_id("request-approve").count() == 0  # a manager can't approve
    assert mine.get_by_test_id("request-reject").inner_text() == "Cancel my request"

    owner = open_page("/items?view=requests")
    row = owner.locator(f"[data-testid=request-row][data-request-id='{request_id}']")
    row.wait_for()
    text = row.inner_text()
    assert "Croissant" in text and "€2.60" in text and "€2.75" in text and "manny" in text and "new supplier" in text
    row.get_by_test_id("request-approve").click()
    owner.get_by_test_id("requests-result").filter(has_text="applied").wait_for()
    row.wait_for(state="detached")
    assert shop.api("/api/v1/items/D1003")["price_minor"] == 275


def test_a_cashier_sees_the_item_read_only_without_a_save_button(open_page: Any) -> None:
    page = open_item(open_page, "D1004", "Baguette", CASHIER)
    assert page.get_by_test_id("field-price").input_value() == "2.97"
    assert page.get_by_test_id("save-item").count() == 0
    assert page.get_by_test_id("barcode-add").count() == 0 and page.get_by_test_id("barcode-remove").count() == 0
    assert page.get_by_test_id("nav-requests").count() == 0
    editable = page.locator("#item-form input:enabled, #item-form select:enabled")
    assert editable.count() == 0, editable.evaluate_all("els => els.map(e => e.name)")


def test_a_barcode_another_item_holds_is_refused_next_to_the_field(shop: Shop, open_page: Any) -> None:
    page = open_item(open_page, "D1006", "Bagels 4-pack")
    page.get_by_test_id("barcode-code").fill("0490000010015")  # the sourdough loaf's
    page.get_by_test_id("barcode-add").click()
    error = page.get_by_test_id("barcode-code-error")
    error.wait_for()
    assert "D1001" in error.inner_text() and "0490000010015" in error.inner_text()
    assert page.get_by_test_id("barcode-code").get_attribute("aria-invalid") == "true"
    # next to the field: in the same form field as the code box, not a banner elsewhere
    assert error.evaluate("e => e.closest('.field').contains(document.querySelector('[data-testid=barcode-code]'))")
    assert [b["code"] for b in shop.api("/api/v1/items/D1006")["barcodes"]] == ["00490000010060"]  # kept as GTIN-14


def test_generate_an_in_store_barcode(shop: Shop, open_page: Any) -> None:
    page = open_item(open_page, "D1007", "Wholemeal loaf")
    page.get_by_test_id("barcode-row").first.wait_for()
    assert page.locator("[data-testid=barcode-row][data-internal=true]").count() == 0
    page.get_by_test_id("barcode-generate").click()
    made = page.locator("[data-testid=barcode-row][data-internal=true]")
    made.wait_for()
    code = made.get_attribute("data-code")
    assert code in page.get_by_test_id("barcode-result").inner_text()
    codes = {b["code"]: b["internal"] for b in shop.api("/api/v1/items/D1007")["barcodes"]}
    assert codes == {"00490000010077": False, code: True}
    page.get_by_test_id("history-row").first.filter(has_text=code).wait_for()


def test_create_a_variant_parent_and_add_a_variant(shop: Shop, open_page: Any) -> None:
    page = open_page("/items?view=new")
    page.get_by_test_id("new-sku").fill("TEE")
    page.get_by_test_id("new-name").fill("T-shirt")
    page.get_by_test_id("new-price").fill("15")
    page.get_by_test_id("new-tax").select_option("standard")
    page.get_by_test_id("new-department").fill("Clothing")
    page.get_by_test_id("new-variant-axes").fill("size, colour")
    page.get_by_test_id("new-create").click()
    page.wait_for_url("**/items/TEE")
    page.get_by_test_id("item-title").filter(has_text="T-shirt").wait_for()
    assert shop.api("/api/v1/items/TEE")["variant_axes"] == ["size", "colour"]

    page.get_by_test_id("variant-sku").fill("TEE-M-RED")
    page.get_by_test_id("variant-value-size").fill("M")
    page.get_by_test_id("variant-value-colour").fill("red")
    page.get_by_test_id("variant-add").click()
    row = page.locator("[data-testid=variant-row][data-sku='TEE-M-RED']")
    row.wait_for()
    assert "€15.00" in row.inner_text() and "size M" in row.inner_text()

    row.get_by_role("link", name="TEE-M-RED").click()
    page.wait_for_url("**/items/TEE-M-RED")
    parent = page.get_by_test_id("parent-link")
    parent.wait_for()
    assert parent.get_by_role("link").get_attribute("href") == "/items/TEE"
    child = shop.api("/api/v1/items/TEE-M-RED")
    assert (child["parent_sku"], child["variant_values"]) == ("TEE", {"size": "M", "colour": "red"})


@pytest.mark.parametrize("viewport", [TABLET, PHONE], ids=["tablet-768", "phone-390"])
def test_the_pages_fit_the_screen_without_sideways_scrolling(shop: Shop, open_page: Any, viewport: dict[str, int]) -> None:
    def overflow(page: Any) -> int:
        return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))

    page = open_item(open_page, "D1008", "Pita bread", viewport=viewport)
    page.get_by_test_id("history-row").first.wait_for()
    page.screenshot(path=str(shop.root / f"item-{viewport['width']}.png"), full_page=True)
    assert overflow(page) <= 0
    for view in ("nav-search", "nav-requests", "nav-new"):
        page.get_by_test_id(view).click()
        page.wait_for_function("document.querySelector('main > section:not([hidden])') !== null")
        assert overflow(page) <= 0, view
    save = page.get_by_test_id("new-create").bounding_box()
    assert save and save["height"] >= 44  # a finger's target


def test_page_needs_a_signed_in_person(shop: Shop, browser: Any) -> None:
    context = browser.new_context(viewport=TABLET)
    try:
        page = context.new_page()
        page.goto(f"{shop.url}/items/D1001")
        page.wait_for_url("**/login?next=/items/D1001")
    finally:
        context.close()
