"""Quality of use at the till, in Chromium at both tablet layouts (issue 7 §6).

Feedback that never waits for the hub: each test holds the hub's answer (Playwright's route, not
fulfilled until after the check) and sees the feedback already on screen while it is held: a typed
scan's "looking up" line, "Saving sale…" on Complete sale, "Checking…" on a gift card's balance,
"Checking…" on a PIN, "Parking…" on Park. Then the answer is let through and the action finishes.

Keyboard shortcuts: F9 pays, the pay sheet's F keys pick tenders and the receipt, digits go to the
cash box wherever the focus is, Enter completes; no shortcut fires inside another text field, and a
wedge scanner's burst typed while the pay sheet is open still lands in the cart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import MANAGER, Shop, page_opener, staffed_shop
from tests.e2e.test_register_pairing import VIEWPORTS, new_tablet, pin_sign_in
from tests.e2e.test_register_pay_return import add, till

BREAD = ("0490000010015", "Sourdough loaf")  # 1.86
WATER = ("0490000010893", "Sparkling water 1.5 l")  # 7.42
BUSY = re.compile(r"\bbusy\b")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    with staffed_shop(tmp_path_factory.mktemp("feedback")) as s:
        yield s


@pytest.fixture
def open_page(shop: Shop, browser: Any) -> Iterator[Any]:
    with page_opener(shop, browser, MANAGER, service_workers="block") as open_:
        yield open_



class Held:
    """The hub's answers to matching requests, held until let_through(): the page waits meanwhile."""

    def __init__(self, page: Any, matches: Callable[[Any], bool]) -> None:
        self.page = page
        self.routes: list[Any] = []
        self.holding = True

        def hold(route: Any) -> None:
            if self.holding and matches(route.request):
                self.routes.append(route)
            else:
                route.fallback()

        page.route("**/api/v1/**", hold)

    def wait(self) -> None:
        """Until the page's request is held (events reach the handler only while Playwright is called)."""
        for _ in range(1500):
            if self.routes:
                return
            self.page.wait_for_timeout(10)
        raise AssertionError("the page never asked the hub")

    def let_through(self) -> None:
        self.holding = False
        for route in self.routes:
            route.fallback()


def posts_to(suffix: str) -> Callable[[Any], bool]:
    return lambda request: request.method == "POST" and request.url.split("?")[0].endswith(suffix)


def busy(button: Any, text: str) -> None:
    expect(button).to_have_text(text)
    expect(button).to_have_class(BUSY)
    expect(button).to_have_attribute("aria-busy", "true")


# -- feedback while the hub's answer is held ------------------------------------------------------


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_a_typed_scan_shows_its_line_being_looked_up_before_the_hub_answers(
    open_page: Any, layout: str
) -> None:
    page = till(open_page, layout)
    held = Held(page, lambda r: "/api/v1/lookup" in r.url)
    page.get_by_test_id("code-input").fill(WATER[0])
    page.get_by_test_id("code-input").press("Enter")
    held.wait()
    pending = page.get_by_test_id("scan-pending")
    expect(pending).to_be_visible()
    expect(pending).to_contain_text(f"Looking up {WATER[0]}")
    expect(page.get_by_test_id("cart-line")).to_have_count(0)  # the answer is still held
    held.let_through()
    page.get_by_test_id("cart-line").filter(has_text=WATER[1]).wait_for()
    expect(pending).to_have_count(0)


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_pay_opens_at_once_and_complete_says_saving_before_the_hub_answers(
    open_page: Any, layout: str
) -> None:
    page = till(open_page, layout)
    add(page, BREAD[0], BREAD[1])
    held = Held(page, posts_to("/api/v1/sales"))
    page.get_by_test_id("pay-cash").click()
    expect(page.locator("#pay-sheet")).to_be_visible()  # nothing asked of the hub to open it
    page.get_by_test_id("pay-total").filter(has_text="1.86").wait_for()
    page.locator("#quick button").first.click()
    page.get_by_test_id("complete-sale").click()
    held.wait()
    busy(page.get_by_test_id("complete-sale"), "Saving sale…")
    expect(page.get_by_test_id("sale-number")).to_be_hidden()
    held.let_through()
    page.get_by_test_id("sale-number").wait_for()
    expect(page.get_by_test_id("change-due")).to_contain_text("0.00")


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_a_tender_button_answers_at_once_and_a_balance_check_says_checking(
    open_page: Any, layout: str
) -> None:
    page = till(open_page, layout)
    add(page, BREAD[0], BREAD[1])
    page.get_by_test_id("pay-cash").click()
    page.get_by_test_id("tender-gift_card").click()
    expect(page.get_by_test_id("tender-ref")).to_be_focused()  # the tender's form, without the hub
    held = Held(page, lambda r: "/api/v1/stored-value/" in r.url)
    page.get_by_test_id("tender-ref").fill("GC-NOSUCH42")
    page.get_by_test_id("tender-add").click()
    held.wait()
    busy(page.get_by_test_id("tender-add"), "Checking…")
    held.let_through()
    page.get_by_test_id("tender-message").filter(has_text="GC-NOSUCH42").wait_for()
    expect(page.get_by_test_id("tender-add")).to_have_text("Check balance")
    expect(page.get_by_test_id("tender-add")).not_to_have_attribute("aria-busy", "true")


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_a_gift_card_checked_before_the_total_is_known_is_filled_in_once_it_is(
    shop: Shop, open_page: Any, layout: str
) -> None:
    card = shop.api("/api/v1/stored-value", {"kind": "gift_card", "amount_minor": 500})
    page = till(open_page, layout)
    add(page, BREAD[0], BREAD[1])
    held = Held(page, posts_to("/api/v1/sales/quote"))  # the hub is slow to price the next line
    add(page, WATER[0], WATER[1])
    page.get_by_test_id("pay-cash").click()
    held.wait()
    expect(page.get_by_test_id("pay-total")).to_have_text("…")
    page.get_by_test_id("tender-gift_card").click()
    page.get_by_test_id("tender-ref").fill(card["code"])
    page.get_by_test_id("tender-add").click()
    page.get_by_test_id("tender-balance").filter(has_text="5.00").wait_for()
    expect(page.get_by_test_id("tender-amount")).to_have_value("")  # not 0.00: nothing is known to be due
    held.let_through()
    page.get_by_test_id("pay-total").filter(has_text="9.28").wait_for()
    expect(page.get_by_test_id("tender-amount")).to_have_value("5.00")  # the card's balance, less than due
    page.get_by_test_id("tender-add").click()
    page.get_by_test_id("tender-list").filter(has_text=card["code"]).wait_for()
    expect(page.locator("#quick button").first).to_contain_text("4.28")  # the rest, in cash


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_a_pin_says_checking_before_the_hub_answers(shop: Shop, browser: Any, layout: str) -> None:
    shop.api("/api/v1/people", {"username": f"fe-{layout}", "role": "cashier", "pin": "735194"})
    code = shop.api("/api/v1/pairing/codes", {})["code"]
    context, page = new_tablet(browser, VIEWPORTS[layout], service_workers="block")
    try:
        page.goto(f"{shop.url}/pair?code={code}")
        page.get_by_test_id("register-name").fill(f"Feedback {layout}")
        page.get_by_test_id("pair-new").click()
        page.wait_for_url(f"**/register/feedback-{layout}")
        held = Held(page, posts_to("/api/v1/tablet/signin"))
        pin_sign_in(page, f"fe-{layout}", "735194")
        held.wait()
        expect(page.get_by_test_id("pin-dots")).to_have_text("Checking…")
        expect(page.get_by_test_id("pin-ok")).to_have_class(BUSY)
        held.let_through()
        page.get_by_test_id("float-input").wait_for()  # signed in: the shift asks for its float
    finally:
        context.close()


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_park_says_parking_before_the_hub_answers(open_page: Any, layout: str) -> None:
    page = till(open_page, layout)
    add(page, BREAD[0], BREAD[1])
    held = Held(page, posts_to("/parked"))
    page.get_by_test_id("park").click()
    page.get_by_test_id("park-label").fill(f"feedback {layout}")
    page.get_by_test_id("park-confirm").click()
    held.wait()
    busy(page.get_by_test_id("park-confirm"), "Parking…")
    expect(page.get_by_test_id("cart-line")).to_have_count(
        1
    )  # still on screen until the hub has it
    held.let_through()
    expect(page.get_by_test_id("park-sheet")).to_have_count(0)
    expect(page.get_by_test_id("cart-line")).to_have_count(0)
    expect(page.locator("#scan-info")).to_contain_text("Cart parked")


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_any_button_stays_busy_while_the_hub_answers_what_its_tap_asked(
    open_page: Any, layout: str
) -> None:
    page = till(open_page, layout)  # here the returns sheet's Find, which marks nothing itself
    page.get_by_test_id("returns-open").click()
    held = Held(page, lambda r: "/api/v1/sales/by-receipt/" in r.url)
    page.get_by_test_id("return-code").fill("S09999999")
    page.get_by_test_id("return-find").click()
    held.wait()
    expect(page.get_by_test_id("return-find")).to_have_attribute("data-waiting", "1")
    held.let_through()
    expect(page.get_by_test_id("return-message")).to_be_visible()  # no such sale
    expect(page.get_by_test_id("return-find")).not_to_have_attribute(
        "data-waiting", re.compile(".*")
    )


# -- keyboard shortcuts ---------------------------------------------------------------------------


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_pay_by_keyboard_alone(shop: Shop, open_page: Any, layout: str) -> None:
    page = till(open_page, layout)
    add(page, BREAD[0], BREAD[1])
    pay = page.get_by_test_id("pay-cash")
    expect(pay).to_have_attribute("data-key", "F9")
    assert "F9" in (pay.get_attribute("title") or "")
    hint = pay.evaluate(
        "(b) => { const s = getComputedStyle(b, '::after'); return [s.position, s.fontSize]; }"
    )
    assert hint == ["absolute", "14px"]  # in the corner, readable, out of the label's way

    page.keyboard.press("F9")  # from the code box, which has the focus
    expect(page.locator("#pay-sheet")).to_be_visible()
    page.get_by_test_id("pay-total").filter(has_text="1.86").wait_for()
    for testid, key in (
        ("tender-card", "F2"),
        ("tender-gift_card", "F3"),
        ("tender-store_credit", "F4"),
        ("receipt-none", "F8"),
        ("complete-sale", "F9"),
    ):
        expect(page.get_by_test_id(testid)).to_have_attribute("aria-keyshortcuts", key)
    expect(page.locator("#quick button").first).to_have_attribute("data-key", "F7")

    page.keyboard.press("F8")  # no receipt
    expect(page.get_by_test_id("receipt-none")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("F4")  # store credit here, not the cart's "void the last line"
    expect(page.get_by_test_id("tender-ref")).to_be_focused()
    page.keyboard.press("Escape")  # cancels the tender, the sheet stays
    expect(page.get_by_test_id("tender-store_credit")).to_be_visible()
    expect(page.locator("#pay-sheet")).to_be_visible()
    expect(page.get_by_test_id("cart-line")).to_have_count(1)

    page.evaluate(
        "document.activeElement.blur()"
    )  # the focus anywhere: digits still go to the cash box
    page.keyboard.type("10")
    expect(page.get_by_test_id("tendered-input")).to_have_value("10")
    expect(page.locator("#change-preview")).to_contain_text("8.14")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("Enter")  # completes
    page.get_by_test_id("sale-number").wait_for()
    expect(page.get_by_test_id("change-due")).to_contain_text("8.14")
    expect(page.get_by_test_id("receipt-status")).to_contain_text("No receipt")


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_shortcuts_stay_out_of_other_text_fields(open_page: Any, layout: str) -> None:
    page = till(open_page, layout)
    add(page, BREAD[0], BREAD[1])
    page.keyboard.press("F9")
    page.get_by_test_id("pay-total").filter(has_text="1.86").wait_for()
    page.keyboard.press("F2")  # card: its reference box takes the focus
    ref = page.get_by_test_id("tender-ref")
    expect(ref).to_be_focused()
    assert page.locator(".tender-form").get_attribute("data-kind") == "card"
    for key in ("F3", "F7", "F9", "7"):
        page.keyboard.press(key)  # typed into the reference; none of them is a shortcut here
    assert page.locator(".tender-form").get_attribute("data-kind") == "card"
    expect(ref).to_have_value("7")
    expect(page.get_by_test_id("tendered-input")).to_have_value("")  # F7 (exact cash) did not fire
    page.keyboard.press(
        "Enter"
    )  # adds the card payment (reference 7, the rest of the total), no more
    page.get_by_test_id("tender-list").filter(has_text="1.86").wait_for()
    expect(page.get_by_test_id("sale-number")).to_be_hidden()
    expect(page.locator("#pay-sheet")).to_be_visible()
    page.keyboard.press("Escape")  # back to the sale
    expect(page.locator("#pay-sheet")).to_be_hidden()
    expect(page.get_by_test_id("cart-line")).to_have_count(1)


@pytest.mark.parametrize("layout", VIEWPORTS)
def test_a_scanner_typing_while_the_pay_sheet_is_open_adds_to_the_cart(
    open_page: Any, layout: str
) -> None:
    page = till(open_page, layout)
    add(page, BREAD[0], BREAD[1])
    page.keyboard.press("F9")
    page.get_by_test_id("pay-total").filter(has_text="1.86").wait_for()
    page.locator("#quick button").first.click()  # a tap: the focus is on that button now
    expect(page.get_by_test_id("tendered-input")).to_have_value("1.86")
    # a shared CI machine can be slower than a scanner: widen what counts as one burst, as test_register_cart does
    page.evaluate(
        "import('/static/register-search.js').then((m) => { m.SEARCH.burstGapMs = 200; })"
    )
    page.keyboard.type(WATER[0])
    page.keyboard.press("Enter")
    page.get_by_test_id("cart-line").filter(has_text=WATER[1]).wait_for()
    expect(page.locator("#pay-sheet")).to_be_visible()  # not completed by the scanner's Enter
    expect(page.get_by_test_id("tendered-input")).to_have_value("")  # the code did not stay as cash
    page.get_by_test_id("pay-total").filter(has_text="9.28").wait_for()  # 1.86 + 7.42
    expect(page.get_by_test_id("sale-number")).to_be_hidden()
