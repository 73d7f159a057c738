"""hub.domain.discounts: line and cart discounts, spread so lines add up and tax stays right per rate."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain import discounts
from hub.domain.discounts import Discount
from hub.domain.sale import CatalogItem, LineRequest, Tender, adjustments, parse_lines, price_sale
from hub.errors import ValidationError

REASONS = ("loyalty", "damaged")
AMOUNTS = st.lists(st.integers(0, 10**6), min_size=1, max_size=25)


@given(AMOUNTS, st.data())
def test_a_spread_adds_up_and_each_share_is_within_one_unit_of_its_proportion(amounts: list[int], data: st.DataObject) -> None:
    whole = sum(amounts)
    off = data.draw(st.integers(0, whole))
    shares = discounts.spread(off, amounts)
    assert sum(shares) == off
    for a, s in zip(amounts, shares, strict=True):
        assert 0 <= s <= a
        if whole:
            assert abs(s * whole - a * off) < whole  # |share - exact| < 1


@given(AMOUNTS, st.integers(1, 10000), st.integers(1, 10**6))
def test_discounts_never_take_more_than_a_line_is_worth(amounts: list[int], bp: int, minor: int) -> None:
    for cart in (Discount("loyalty", percent_bp=bp), Discount("loyalty", amount_minor=minor)):
        offs = discounts.apply(amounts, [Discount("damaged", amount_minor=minor)] + [None] * (len(amounts) - 1), cart)
        for a, (own, share) in zip(amounts, offs, strict=True):
            assert 0 <= own + share <= a


def test_percent_rounds_half_up_and_amount_is_capped() -> None:
    assert Discount("loyalty", percent_bp=1000).off(105) == 11  # 10.5 -> 11
    assert Discount("loyalty", amount_minor=500).off(300) == 300


def test_a_cart_discount_is_spread_over_lines_and_each_rate_is_taxed_on_what_is_left() -> None:
    catalog = {"A": CatalogItem("A", "Apple juice", "each", 1000, 2000), "B": CatalogItem("B", "Bread", "each", 300, 500)}
    sale = price_sale("s", "r", [LineRequest("A", 1), LineRequest("B", 1)], [Tender("cash", 10**6)], catalog, True,
                      cart_discount=Discount("loyalty", percent_bp=1000))
    assert [ln.cart_discount_minor for ln in sale.lines] == [100, 30]
    assert [ln.total_minor for ln in sale.lines] == [900, 270]
    assert [ln.tax_minor for ln in sale.lines] == [150, 13]  # 900*20/120, 270*5/105 = 12.86
    adj = adjustments(list(sale.lines), True)
    assert (adj.discount_minor, adj.before_minor) == (130, 1300)


def test_line_discount_then_override_are_recorded_on_the_line() -> None:
    catalog = {"A": CatalogItem("A", "Apple juice", "each", 1000, 2000)}
    [line] = parse_lines([{"sku": "A", "qty": 2, "discount": {"amount_minor": 150, "reason": "damaged"},
                           "price_override": {"unit_price_minor": 800, "reason": "loyalty"}}], REASONS)
    sale = price_sale("s", "r", [line], [Tender("cash", 10**6)], catalog, False)
    [ln] = sale.lines
    assert (ln.unit_price_minor, ln.override_from_minor, ln.override_reason) == (800, 1000, "loyalty")
    assert (ln.discount_minor, ln.discount_reason) == (150, "damaged")
    assert ln.total_minor == 1450 + 290  # net 1600 - 150, tax 20% added
    assert adjustments([ln], False).overrides == ({"line_no": 1, "unit_price_minor": 800},)


@pytest.mark.parametrize(("raw", "field"), [
    ({"percent_bp": 1000}, "lines[0].discount.reason"),
    ({"percent_bp": 1000, "reason": "because"}, "lines[0].discount.reason"),
    ({"percent_bp": 0, "reason": "loyalty"}, "lines[0].discount.percent_bp"),
    ({"percent_bp": 10001, "reason": "loyalty"}, "lines[0].discount.percent_bp"),
    ({"percent_bp": 10, "amount_minor": 5, "reason": "loyalty"}, "lines[0].discount"),
    ({"amount_minor": True, "reason": "loyalty"}, "lines[0].discount.amount_minor"),
])
def test_bad_discounts_name_the_field(raw: dict, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_lines([{"sku": "A", "qty": 1, "discount": raw}], REASONS)
    assert exc.value.field == field


def test_approval_limits() -> None:
    assert not discounts.needs_approval(100, 1000, 1000, 0)  # 10% of 10.00: at the limit
    assert discounts.needs_approval(101, 1000, 1000, 0)
    assert discounts.needs_approval(2001, 10**6, 1000, 2000)  # small share, but above the amount
    assert not discounts.needs_approval(0, 0, 0, 0)


# -- through the API: limits, approvals and rights, recorded on the sale --------------------------
import json  # noqa: E402
import uuid  # noqa: E402
from typing import Any  # noqa: E402

from flask.testing import FlaskClient  # noqa: E402

from hub.service import HubService  # noqa: E402


@pytest.fixture
def shop(svc: HubService, client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    assert client.put("/api/v1/tax-categories/standard", json={"name": "Standard", "rate_bp": 2000},
                      headers=h["owner"]).status_code == 200
    assert client.post("/api/v1/items", json={"sku": "MUG", "name": "Mug", "unit": "each", "price_minor": 1000,
                                              "tax_category": "standard"}, headers=h["owner"]).status_code == 201
    svc.auth.set_user("mia", "long enough password", "manager", actor="owner")
    svc.people.set_pin("mia", "739152", "owner")


def approve(svc: HubService, action: str, details: dict[str, Any]) -> str:
    return str(svc.approvals.grant("till-1", {"action": action, "approver": "mia", "pin": "739152", "details": details},
                                   "cashier", "register:till-1")["token"])


def sale_body(lines: list[dict[str, Any]], total: int, **extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": lines,
            "tenders": [{"kind": "cash", "amount_minor": total}], **extra}


@pytest.mark.usefixtures("shop")
def test_a_discount_above_the_limit_needs_a_manager_and_is_recorded_with_its_approver(
        svc: HubService, client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    lines = [{"sku": "MUG", "qty": 2, "discount": {"percent_bp": 2500, "reason": "damaged"}}]
    quote = client.post("/api/v1/sales/quote", json={"lines": lines}, headers=h["cashier"]).json
    assert quote["total_minor"] == 1500 and quote["discount_minor"] == 500
    assert quote["taxes"] == [{"rate_bp": 2000, "net_minor": 1250, "tax_minor": 250, "gross_minor": 1500}]
    [need] = quote["approvals_needed"]
    assert need == {"action": "discount", "details": {"discount_minor": 500, "before_minor": 2000}}
    refused = client.post("/api/v1/sales", json=sale_body(lines, 1500), headers=h["cashier"])
    assert refused.status_code == 403 and refused.json["error"]["code"] == "approval_required"
    assert svc.db.conn.execute("SELECT count(*) FROM sales").fetchone()[0] == 0
    wrong = approve(svc, "discount", {"discount_minor": 400, "before_minor": 2000})
    refused = client.post("/api/v1/sales", json=sale_body(lines, 1500, approvals={"discount": wrong}), headers=h["cashier"])
    assert refused.status_code == 403 and refused.json["error"]["code"] == "approval_invalid"
    token = approve(svc, "discount", need["details"])
    sold = client.post("/api/v1/sales", json=sale_body(lines, 1500, approvals={"discount": token}), headers=h["cashier"])
    assert sold.status_code == 201, sold.json
    assert sold.json["discount_approver"] == "mia" and sold.json["lines"][0]["discount_reason"] == "damaged"
    row = svc.db.conn.execute("SELECT discount_minor, discount_reason, discount_approver FROM sale_lines").fetchone()
    assert tuple(row) == (500, "damaged", "mia")
    event = json.loads(svc.db.conn.execute("SELECT data FROM outbox WHERE type = 'sale.completed'").fetchone()[0])
    assert event["discount_minor"] == 500 and event["lines"][0]["discount_minor"] == 500
    # the token was spent with the sale: it buys nothing twice
    again = client.post("/api/v1/sales", json=sale_body(lines, 1500, approvals={"discount": token}), headers=h["cashier"])
    assert again.status_code == 403 and again.json["error"]["code"] == "approval_invalid"


@pytest.mark.usefixtures("shop")
def test_a_small_discount_or_a_managers_own_needs_no_approval(client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    small = [{"sku": "MUG", "qty": 1}]
    body = sale_body(small, 900, cart_discount={"amount_minor": 100, "reason": "loyalty"})
    sold = client.post("/api/v1/sales", json=body, headers=h["cashier"])
    assert sold.status_code == 201, sold.json
    assert sold.json["cart_discount"] == {"reason": "loyalty", "percent_bp": None, "amount_minor": 100}
    assert sold.json["discount_approver"] is None
    big = sale_body(small, 500, cart_discount={"percent_bp": 5000, "reason": "staff"})
    assert client.post("/api/v1/sales/quote", json={"lines": small, "cart_discount": big["cart_discount"]},
                       headers=h["manager"]).json["approvals_needed"] == []
    sold = client.post("/api/v1/sales", json=big, headers=h["manager"])
    assert sold.status_code == 201, sold.json
    assert sold.json["total_minor"] == 500


@pytest.mark.usefixtures("shop")
def test_a_price_override_needs_the_right_and_is_always_recorded(
        svc: HubService, client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    lines = [{"sku": "MUG", "qty": 1, "price_override": {"unit_price_minor": 700, "reason": "price_match"}}]
    refused = client.post("/api/v1/sales", json=sale_body(lines, 700), headers=h["cashier"])
    assert refused.status_code == 403 and refused.json["error"]["code"] == "approval_required"
    details = {"overrides": [{"line_no": 1, "unit_price_minor": 700}]}
    token = approve(svc, "price_override", details)
    sold = client.post("/api/v1/sales", json=sale_body(lines, 700, approvals={"price_override": token}),
                       headers=h["cashier"])
    assert sold.status_code == 201, sold.json
    assert sold.json["lines"][0]["price_override"] == {"from_minor": 1000, "to_minor": 700, "reason": "price_match",
                                                       "by": sold.json["lines"][0]["price_override"]["by"],
                                                       "approver": "mia"}
    by_manager = client.post("/api/v1/sales", json=sale_body(lines, 700), headers=h["manager"])
    assert by_manager.status_code == 201 and by_manager.json["lines"][0]["price_override"]["approver"] is None
    rows = svc.db.conn.execute("SELECT override_from_minor, unit_price_minor, override_reason, override_approver "
                               "FROM sale_lines ORDER BY rowid").fetchall()
    assert [tuple(r) for r in rows] == [(1000, 700, "price_match", "mia"), (1000, 700, "price_match", None)]


@pytest.mark.usefixtures("shop")
def test_a_discount_reason_must_be_one_of_the_stores(client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    lines = [{"sku": "MUG", "qty": 1, "discount": {"percent_bp": 500, "reason": "because"}}]
    resp = client.post("/api/v1/sales/quote", json={"lines": lines}, headers=h["cashier"])
    assert resp.status_code == 400 and resp.json["error"]["field"] == "lines[0].discount.reason"
    assert "loyalty" in resp.json["error"]["message"]


@pytest.mark.usefixtures("shop")
def test_the_receipt_shows_discounts_with_reasons_a_changed_price_and_tax_per_rate(
        svc: HubService, client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    from hub.receipts import ReceiptSettings, receipt_job

    lines = [{"sku": "MUG", "qty": 1, "discount": {"amount_minor": 100, "reason": "damaged"}},
             {"sku": "MUG", "qty": 1, "price_override": {"unit_price_minor": 800, "reason": "price_match"}}]
    body = sale_body(lines, 1615, cart_discount={"percent_bp": 500, "reason": "loyalty"})
    sale = client.post("/api/v1/sales", json=body, headers=h["manager"]).json
    assert sale["total_minor"] == 1615  # 900 + 800 = 1700, less 5% = 85
    job = receipt_job("j1", sale, ReceiptSettings.from_config(svc.config))
    text = [(ln.text, ln.amount) for ln in job.lines]
    assert ("  Discount (damaged)", "-1.00") in text
    assert ("  Price changed from 10.00 (price match)", "") in text
    assert ("Discount 5% (loyalty)", "-0.85") in text
    amounts = [int(a.replace(".", "")) for _, a in text if a]
    assert sum(amounts) == sale["total_minor"]  # the printed lines add up to the total
    summary = [ln.text for ln in job.totals]
    assert any("20.00%" in t for t in summary)
