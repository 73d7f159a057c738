"""The stock pages and the counting page in Chromium against a real hub: adjust, transfer,
receive against a purchase order, exceptions, and a blind count from the scan box to the
manager's approval. One shop for the module: each test works on its own demo items."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import (
    CASHIER,
    MANAGER,
    PHONE,
    TABLET,
    Shop,
    page_opener,
    staffed_shop,
)
from tests.helpers import WAIT_S

STOCK_VIEWS = ("adjust", "transfer", "receive", "review", "exceptions", "counts")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    with staffed_shop(tmp_path_factory.mktemp("stock-pages")) as s:
        yield s


@pytest.fixture
def open_page(shop: Shop, browser: Any) -> Iterator[Any]:
    """open_page(path, who=MANAGER, viewport=TABLET): a signed-in page in its own browser context."""
    with page_opener(shop, browser, MANAGER) as open_:
        def open_ready(path: str, who: tuple[str, str] = MANAGER, viewport: dict[str, int] = TABLET) -> Any:
            page = open_(path, who, viewport)
            page.wait_for_selector("body[data-role]", state="attached")  # signed in and the page's controls wired
            return page

        yield open_ready


def on_hand(shop: Shop, sku: str, location: str = "floor") -> int:
    levels = {lv["location"]: lv["on_hand"] for lv in shop.api(f"/api/v1/stock/{sku}")["locations"]}
    return int(levels.get(location, 0))


def open_count(shop: Shop, skus: list[str], blind: bool = True) -> int:
    session = shop.api("/api/v1/counts", {"location": "floor", "scope_kind": "items", "scope": skus, "blind": blind})
    return int(session["id"])


def scan(page: Any, code: str) -> None:
    box = page.get_by_test_id("count-scan")
    box.press_sequentially(code, delay=5)  # a wedge scanner types the code, then Enter
    box.press("Enter")


def wait_in(page: Any, check: Any, what: str) -> Any:
    """wait_until, but sleeping inside Playwright: route handlers only run while the test thread is in it."""
    deadline = time.monotonic() + WAIT_S
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {WAIT_S} s waiting for {what}")
        page.wait_for_timeout(20)
    return value


def overflow(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_an_adjustment_with_a_reason_shows_in_the_items_moves_with_its_running_balance(shop: Shop, open_page: Any) -> None:
    before = on_hand(shop, "D1010")
    page = open_page("/stock?view=adjust")
    page.get_by_test_id("adjust-item").press_sequentially("muffin blue", delay=30)  # results as the person types
    page.locator("[data-testid=picker-option][data-sku=D1010]").click()
    page.get_by_test_id("adjust-item-chosen").filter(has_text=f"Sales floor {before}").wait_for()

    page.get_by_test_id("adjust-qty").fill("-3")
    page.get_by_test_id("adjust-reason").select_option("correction")  # this reason needs a note
    page.get_by_test_id("adjust-save").click()
    error = page.locator("#adjust-form [data-error-for=note]")
    error.wait_for()
    assert "needs a note" in error.inner_text()
    assert page.get_by_test_id("adjust-note").get_attribute("aria-invalid") == "true"
    assert on_hand(shop, "D1010") == before

    page.get_by_test_id("adjust-reason").select_option("damaged")
    page.get_by_test_id("adjust-note").fill("dropped a tray")
    page.get_by_test_id("adjust-save").click()
    result = page.get_by_test_id("adjust-result")
    result.filter(has_text="On hand there now").wait_for()
    assert f"now {before - 3}" in result.inner_text() and "−3" in result.inner_text()
    assert on_hand(shop, "D1010") == before - 3

    result.get_by_role("link").click()
    page.wait_for_url("**/stock/D1010")
    page.get_by_test_id("stock-item-title").filter(has_text="Muffin blueberry").wait_for()
    rows = page.get_by_test_id("move-row")
    rows.nth(1).wait_for()
    newest, opening = rows.nth(0), rows.nth(1)
    assert (newest.get_attribute("data-qty"), newest.get_attribute("data-balance")) == ("-3", str(before - 3))
    assert (opening.get_attribute("data-qty"), opening.get_attribute("data-balance")) == (str(before), str(before))
    text = newest.inner_text()
    assert "Damaged" in text and "manny" in text and "dropped a tray" in text
    level = page.locator("[data-testid=level-row][data-location=floor]")
    assert level.get_attribute("data-on-hand") == str(before - 3)


def test_older_moves_page_on_with_a_running_balance_and_filter_by_location(shop: Shop, open_page: Any) -> None:
    opening = on_hand(shop, "D1102")
    for _ in range(55):
        shop.api("/api/v1/stock/adjustments", {"sku": "D1102", "location": "floor", "qty": 1, "reason": "found"})
    shop.api("/api/v1/transfers", {"sku": "D1102", "from": "floor", "to": "backroom", "qty": 5})
    page = open_page("/stock/D1102")
    rows = page.get_by_test_id("move-row")
    rows.nth(49).wait_for()
    assert rows.count() == 50
    page.get_by_test_id("moves-older").click()
    rows.nth(57).wait_for()  # 55 found, 2 of the transfer, the opening stock
    assert page.get_by_test_id("moves-older").is_hidden()
    moves = rows.evaluate_all("rs => rs.map(r => [Number(r.dataset.qty), Number(r.dataset.balance)])")
    assert moves[0][1] == opening + 55 and moves[-1] == [opening, opening]
    for (qty, balance), (_, older) in zip(moves, moves[1:], strict=False):
        assert balance - qty == older  # each balance follows from the one before it, across the page break

    page.get_by_test_id("moves-location").select_option("backroom")
    page.locator("[data-testid=move-row][data-location=backroom]").wait_for()
    wait_in(page, lambda: rows.count() == 1, "only the backroom's move")
    assert (rows.first.get_attribute("data-qty"), rows.first.get_attribute("data-balance")) == ("5", "5")


def test_a_transfer_picked_by_scanning_moves_stock_between_locations(shop: Shop, open_page: Any) -> None:
    before = on_hand(shop, "D1012")
    page = open_page("/stock?view=transfer")
    box = page.get_by_test_id("transfer-item")
    box.press_sequentially("0490000010121", delay=5)  # the item's barcode, then the scanner's Enter
    box.press("Enter")
    page.get_by_test_id("transfer-item-chosen").filter(has_text="D1012").wait_for()
    page.get_by_test_id("transfer-from").select_option("floor")
    page.get_by_test_id("transfer-to").select_option("backroom")
    page.get_by_test_id("transfer-qty").fill("5")
    page.get_by_test_id("transfer-save").click()
    page.get_by_test_id("transfer-result").filter(has_text="Moved 5").wait_for()
    assert (on_hand(shop, "D1012"), on_hand(shop, "D1012", "backroom")) == (before - 5, 5)

    page.get_by_test_id("transfer-to").select_option("floor")  # the same place twice is refused next to "To"
    page.get_by_test_id("transfer-save").click()
    error = page.locator("#transfer-form [data-error-for=to]")
    error.wait_for()
    assert "same location" in error.inner_text()


def test_receiving_part_of_a_purchase_order_updates_what_remains(shop: Shop, open_page: Any) -> None:
    page = open_page("/stock?view=receive")
    page.get_by_test_id("po-new-supplier").fill("Spring Waters Ltd")
    for sku, qty in (("D1090", "10"), ("D1091", "4")):
        box = page.get_by_test_id("po-new-item")
        box.fill(sku)
        box.press("Enter")
        page.get_by_test_id("po-new-qty").fill(qty)
        page.get_by_test_id("po-new-add").click()
        page.locator(f"[data-testid=po-new-line][data-sku={sku}]").wait_for()
    page.get_by_test_id("po-new-save").click()
    page.get_by_test_id("po-new-result").filter(has_text="Created").wait_for()
    po_id = page.get_by_test_id("po-new-form").get_attribute("data-po-id")
    assert po_id and shop.api(f"/api/v1/purchase-orders/{po_id}")["supplier"] == "Spring Waters Ltd"

    page.get_by_test_id("receive-location").select_option("backroom")
    page.locator(f"[data-testid=po-row][data-po-id='{po_id}']").get_by_test_id("po-open").click()
    water = page.locator("[data-testid=po-line][data-sku=D1090]")
    water.wait_for()
    assert water.get_by_test_id("po-line-remaining").inner_text() == "10"
    water.get_by_test_id("po-line-qty").fill("6")
    page.get_by_test_id("po-receive-save").click()
    page.get_by_test_id("po-receive-result").filter(has_text="Received 6").wait_for()
    assert "2 lines still to come" in page.get_by_test_id("po-receive-result").inner_text()
    water = page.locator("[data-testid=po-line][data-sku=D1090]")
    assert water.get_by_test_id("po-line-received").inner_text() == "6"
    assert water.get_by_test_id("po-line-remaining").inner_text() == "4"
    cola = page.locator("[data-testid=po-line][data-sku=D1091]")
    assert cola.get_by_test_id("po-line-remaining").inner_text() == "4"
    assert on_hand(shop, "D1090", "backroom") == 6
    order = shop.api(f"/api/v1/purchase-orders/{po_id}")
    assert order["status"] == "open" and [ln["qty_received"] for ln in order["lines"]] == [6, 0]

    # the rest, with two more than ordered: recorded as they came, and said so
    page.locator("[data-testid=po-line][data-sku=D1090]").get_by_test_id("po-line-qty").fill("6")
    page.locator("[data-testid=po-line][data-sku=D1091]").get_by_test_id("po-line-qty").fill("4")
    page.get_by_test_id("po-receive-save").click()
    page.get_by_test_id("po-receive-result").filter(has_text="complete").wait_for()
    assert "D1090 +2" in page.get_by_test_id("po-receive-result").inner_text()
    assert "(+2 over)" in page.locator("[data-testid=po-line][data-sku=D1090]").get_by_test_id("po-line-remaining").inner_text()
    assert shop.api(f"/api/v1/purchase-orders/{po_id}")["status"] == "received"


def test_a_blind_count_scanned_closed_and_its_variance_approved(shop: Shop, open_page: Any) -> None:
    water, tonic = on_hand(shop, "D1089"), on_hand(shop, "D1099")
    manager = open_page("/stock?view=counts")
    manager.get_by_test_id("count-new-kind").select_option("items")
    for sku in ("D1089", "D1099"):
        box = manager.get_by_test_id("count-new-item")
        box.fill(sku)
        box.press("Enter")
        manager.locator(f"[data-testid=count-new-chosen][data-sku={sku}]").wait_for()
    assert manager.get_by_test_id("count-new-blind").is_checked()  # blind unless the manager says otherwise
    manager.get_by_test_id("count-new-save").click()
    manager.get_by_test_id("count-new-result").filter(has_text="is open").wait_for()
    session_id = manager.get_by_test_id("count-review").get_attribute("data-session-id")
    assert session_id and shop.api(f"/api/v1/counts/{session_id}")["blind"] is True

    counter = open_page(f"/count/{session_id}", CASHIER)
    counter.get_by_test_id("count-status").filter(has_text="Counting").wait_for()
    scan(counter, "10490000010890")  # a case of 12
    counter.get_by_test_id("count-last-count").filter(has_text="12").wait_for()
    scan(counter, "0490000010893")
    scan(counter, "0490000010893")
    counter.get_by_test_id("count-last-count").filter(has_text="14").wait_for()
    assert counter.get_by_test_id("count-last-name").inner_text() == "Sparkling water 1.5 l"
    scan(counter, "D1099")  # a SKU typed in
    counter.get_by_test_id("count-last-name").filter(has_text="Tonic water").wait_for()
    counter.get_by_test_id("count-set-qty").fill(str(tonic - 1))  # corrected: within the limits, so it posts
    counter.get_by_test_id("count-set").click()
    counter.get_by_test_id("count-last-count").filter(has_text=str(tonic - 1)).wait_for()
    counter.get_by_test_id("count-queue").wait_for(state="hidden")

    # the counter never sees what the ledger says: not on screen, not in what the page was sent
    assert counter.get_by_test_id("count-last-expected").is_hidden()
    assert counter.get_by_test_id("count-line-expected").count() == 0
    body = counter.locator("main").inner_text()
    assert "stock says" not in body and str(water) not in body
    seen = counter.evaluate(f"fetch('/api/v1/counts/{session_id}').then(r => r.json())")
    assert all("ledger_qty" not in ln and "on_hand" not in ln for ln in seen["lines"])

    # nor does a manager counting on a blind count, though the hub would tell a manager
    looking = open_page(f"/count/{session_id}")
    looking.locator("[data-testid=count-line][data-sku=D1089]").click()
    looking.get_by_test_id("count-last-count").filter(has_text="14").wait_for()
    assert looking.get_by_test_id("count-last-expected").is_hidden()
    assert looking.get_by_test_id("count-line-expected").count() == 0
    assert str(water) not in looking.locator("main").inner_text()

    manager.goto(f"{shop.url}/stock?view=counts&session={session_id}")
    manager.locator("[data-testid=count-line][data-sku=D1089]").wait_for()
    manager.get_by_test_id("count-close").click()
    waiting = manager.locator("[data-testid=count-line][data-sku=D1089][data-status=needs_approval]")
    waiting.wait_for()
    assert waiting.get_by_test_id("line-counted").inner_text() == "14"
    assert waiting.get_by_test_id("line-expected").inner_text() == str(water)
    assert waiting.get_by_test_id("line-variance").inner_text() == f"−{water - 14}"
    assert waiting.get_by_test_id("line-value").inner_text() == f"−€{(water - 14) * 445 // 100}.{(water - 14) * 445 % 100:02d}"
    assert manager.locator("[data-testid=count-line][data-sku=D1099]").get_attribute("data-status") == "posted"
    assert manager.get_by_test_id("count-review").get_attribute("data-status") == "review"
    assert on_hand(shop, "D1099") == tonic - 1 and on_hand(shop, "D1089") == water

    waiting.get_by_test_id("line-approve").click()
    manager.locator("[data-testid=count-line][data-sku=D1089][data-status=approved]").wait_for()
    manager.get_by_test_id("count-review-result").filter(has_text="Approved").wait_for()
    assert manager.get_by_test_id("count-review").get_attribute("data-status") == "closed"
    assert on_hand(shop, "D1089") == 14


def test_an_open_book_count_shows_the_counter_what_the_stock_says(shop: Shop, open_page: Any) -> None:
    """The other side of the blind test: the page does show it when the count is not blind."""
    expected = on_hand(shop, "D1094")
    session_id = open_count(shop, ["D1094"], blind=False)
    counter = open_page(f"/count/{session_id}", CASHIER)
    counter.locator("[data-testid=count-line][data-sku=D1094]").get_by_test_id("count-line-expected").wait_for()
    scan(counter, "0490000010947")
    counter.get_by_test_id("count-last-expected").filter(has_text=f"the stock says {expected}").wait_for()


def test_a_scan_that_cannot_be_sent_stays_queued_and_is_not_counted_twice(shop: Shop, open_page: Any) -> None:
    session_id = open_count(shop, ["D1096"])
    counter = open_page(f"/count/{session_id}", CASHIER)
    counter.get_by_test_id("count-status").filter(has_text="Counting").wait_for()
    mode = {"now": "down"}
    reached: list[str] = []

    def lines_route(route: Any) -> None:
        if mode["now"] == "down":
            route.abort("internetdisconnected")
        elif mode["now"] == "lose":  # the hub gets it, the answer never comes back
            reached.append(route.request.post_data or "")
            route.fetch()
            route.abort("connectionreset")
        else:
            route.continue_()

    counter.route(f"**/api/v1/counts/{session_id}/lines", lines_route)
    scan(counter, "0490000010961")
    queued = counter.locator("[data-testid=count-queued][data-state=waiting]")
    queued.wait_for()
    assert "0490000010961" in queued.inner_text()
    assert shop.api(f"/api/v1/counts/{session_id}")["lines"][0]["counted"] is None

    mode["now"] = "lose"
    counter.get_by_test_id("count-retry").click()
    wait_in(counter, lambda: shop.api(f"/api/v1/counts/{session_id}")["lines"][0]["counted"] == 1,
            "a send that reaches the hub and loses its answer")
    counter.locator("[data-testid=count-queued][data-state=waiting]").wait_for()

    mode["now"] = "up"
    counter.get_by_test_id("count-retry").click()
    counter.get_by_test_id("count-queue").wait_for(state="hidden")
    assert counter.get_by_test_id("count-last-count").inner_text() == "1"
    assert shop.api(f"/api/v1/counts/{session_id}")["lines"][0]["counted"] == 1  # once, not twice
    scan(counter, "0490000010961")
    counter.get_by_test_id("count-last-count").filter(has_text="2").wait_for()
    sent = json.loads(reached[0])
    assert {k: v for k, v in sent.items() if k != "id"} == {"code": "0490000010961", "qty": 1, "mode": "add"}
    assert len(sent["id"]) == 36  # the scan's own id lets the hub answer a resend without counting twice


def test_the_review_bin_restocks_marks_down_and_writes_off(shop: Shop, open_page: Any) -> None:
    shop.api("/api/v1/transfers", {"sku": "D1105", "from": "floor", "to": "review", "qty": 3})
    floor, cheap = on_hand(shop, "D1105"), on_hand(shop, "D1093")
    page = open_page("/stock?view=review")
    row = page.locator("[data-testid=review-row][data-sku=D1105]")
    row.wait_for()
    assert "3 in the bin" in row.inner_text()
    row.get_by_test_id("review-qty").fill("1")
    row.get_by_test_id("review-restock").click()
    page.get_by_test_id("review-result").filter(has_text="Restock: 1").wait_for()
    row = page.locator("[data-testid=review-row][data-sku=D1105]")
    row.filter(has_text="2 in the bin").wait_for()
    row.get_by_test_id("review-qty").fill("1")
    row.get_by_test_id("review-markdown").click()  # first tap asks which cheaper item it becomes
    box = row.get_by_test_id("review-markdown-item")
    box.fill("D1093")
    box.press("Enter")
    row.get_by_test_id("review-markdown-item-chosen").filter(has_text="D1093").wait_for()
    row.get_by_test_id("review-markdown").click()
    page.get_by_test_id("review-result").filter(has_text="as D1093").wait_for()
    row = page.locator("[data-testid=review-row][data-sku=D1105]")
    row.filter(has_text="1 in the bin").wait_for()
    row.get_by_test_id("review-write-off").click()  # a second tap writes it off: a stray finger should not
    assert "Tap again" in row.get_by_test_id("review-write-off").inner_text()
    assert on_hand(shop, "D1105", "review") == 1
    row.get_by_test_id("review-write-off").click()
    row.wait_for(state="detached")
    assert (on_hand(shop, "D1105"), on_hand(shop, "D1093"), on_hand(shop, "D1105", "review")) == (floor + 1, cheap + 1, 0)


def test_exceptions_list_an_item_below_zero_and_shrink_by_reason(shop: Shop, open_page: Any) -> None:
    stock = on_hand(shop, "D1097")
    shop.api("/api/v1/stock/adjustments", {"sku": "D1097", "location": "floor", "qty": -(stock + 4), "reason": "theft"})
    page = open_page("/stock?view=exceptions")
    row = page.locator("[data-testid=negative-row][data-sku=D1097]")
    row.wait_for()
    assert "Cold brew coffee 250 ml" in row.inner_text() and "-4" in row.inner_text()
    theft = page.locator("[data-testid=shrink-row][data-reason=theft]")
    assert "Theft" in theft.inner_text() and f"{stock + 4} units" in theft.inner_text()
    row.get_by_role("link").click()
    page.wait_for_url("**/stock/D1097")
    page.locator("[data-testid=level-row][data-location=floor][data-on-hand='-4']").wait_for()


@pytest.mark.parametrize("viewport", [TABLET, PHONE], ids=["tablet-768", "phone-390"])
def test_the_pages_fit_the_screen_without_sideways_scrolling(shop: Shop, open_page: Any, viewport: dict[str, int]) -> None:
    session_id = open_count(shop, ["D1098"])
    shop.api(f"/api/v1/counts/{session_id}/lines", {"sku": "D1098", "qty": 30, "mode": "set"})
    shop.api(f"/api/v1/counts/{session_id}/close", {})
    page = open_page(f"/stock?view=counts&session={session_id}", viewport=viewport)
    page.locator("[data-testid=count-line][data-status=needs_approval]").wait_for()
    shots = shop.root / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / f"stock-counts-{viewport['width']}.png"), full_page=True)
    assert overflow(page) <= 0, "counts"
    for view in STOCK_VIEWS:
        page.get_by_test_id(f"nav-{view}").click()
        page.wait_for_function(f"!document.getElementById('view-{view}').hidden")
        page.screenshot(path=str(shots / f"stock-{view}-{viewport['width']}.png"), full_page=True)
        assert overflow(page) <= 0, view
    assert (page.get_by_test_id("nav-counts").bounding_box() or {}).get("height", 0) >= 44  # a finger's target
    page.goto(f"{shop.url}/stock/D1098")
    page.get_by_test_id("move-row").first.wait_for()
    page.screenshot(path=str(shots / f"stock-item-{viewport['width']}.png"), full_page=True)
    assert overflow(page) <= 0, "item"

    counting = open_count(shop, ["D1098", "D1100"])
    counter = open_page(f"/count/{counting}", CASHIER, viewport)
    scan(counter, "10490000010982")
    counter.get_by_test_id("count-last-count").filter(has_text="12").wait_for()
    counter.screenshot(path=str(shots / f"count-{viewport['width']}.png"), full_page=True)
    assert overflow(counter) <= 0, "count page"
    big = counter.get_by_test_id("count-scan").bounding_box()
    assert big and big["height"] >= 56
