"""Tenders: kinds and their references, split tenders, and change only from cash."""

import uuid

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.tenders import Tender, check_movement, parse_tenders, settle
from hub.errors import UnprocessableError, ValidationError
from hub.service import HubService

from .test_returns_api import shop  # noqa: F401  (the shop fixture: MUG 3.50, CHEESE 24.99/kg)


def test_each_kind_takes_its_own_reference() -> None:
    rid = str(uuid.uuid4())
    tenders = parse_tenders([
        {"kind": "cash", "amount_minor": 500},
        {"kind": "card", "amount_minor": 700, "reference": "AUTH-83F2/0041"},
        {"kind": "gift_card", "amount_minor": 300, "reference": "gc-7k3m9q2x"},
        {"kind": "store_credit", "amount_minor": 200, "reference": "SC-22AB"},
        {"kind": "exchange", "amount_minor": 100, "reference": rid},
    ])
    assert tenders == [Tender("cash", 500), Tender("card", 700, "AUTH-83F2/0041"), Tender("gift_card", 300, "GC-7K3M9Q2X"),
                       Tender("store_credit", 200, "SC-22AB"), Tender("exchange", 100, rid)]


@pytest.mark.parametrize("raw,field", [
    ({"kind": "card", "amount_minor": 5}, "tenders[0].reference"),  # a card payment needs the terminal's reference
    ({"kind": "card", "amount_minor": 5, "reference": "has spaces"}, "tenders[0].reference"),
    ({"kind": "gift_card", "amount_minor": 5, "reference": ""}, "tenders[0].reference"),
    ({"kind": "exchange", "amount_minor": 5, "reference": "R00000001"}, "tenders[0].reference"),
    ({"kind": "cheque", "amount_minor": 5}, "tenders[0].kind"),
    ({"kind": "cash", "amount_minor": 0}, "tenders[0].amount_minor"),
    ({"kind": "cash", "amount_minor": True}, "tenders[0].amount_minor"),
    ({"kind": "card", "amount_minor": 5, "reference": "X", "last4": "1111"}, "tenders[0].last4"),
])
def test_bad_tenders_name_the_field(raw: dict, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_tenders([raw])
    assert exc.value.field == field


def test_a_card_number_as_reference_is_refused_with_the_guard_message() -> None:
    with pytest.raises(UnprocessableError, match="looks like a card number") as exc:
        parse_tenders([{"kind": "card", "amount_minor": 5, "reference": "4111-1111-1111-1111"}])
    assert exc.value.code == "card_number" and exc.value.field == "tenders[0].reference"


def test_split_tender_pays_and_change_comes_from_cash_only() -> None:
    assert settle(1000, [Tender("card", 600, "A1"), Tender("cash", 500)]) == (1100, 100)
    assert settle(1000, [Tender("card", 400, "A1"), Tender("gift_card", 600, "GC-1234")]) == (1000, 0)
    with pytest.raises(UnprocessableError, match="change is given only from cash"):
        settle(1000, [Tender("card", 1100, "A1")])
    with pytest.raises(UnprocessableError, match=r"take another tender for the 1.00 EUR still due"):
        settle(1000, [Tender("card", 900, "A1")], "EUR")


kinds = st.sampled_from(["cash", "card", "gift_card", "store_credit", "exchange"])


@given(st.integers(1, 10**6), st.lists(st.tuples(kinds, st.integers(1, 10**6)), min_size=1, max_size=6))
def test_settle_either_pays_exactly_with_cash_change_or_refuses(total: int, raw: list[tuple[str, int]]) -> None:
    tenders = [Tender(k, a, "R") for k, a in raw]
    cash = sum(a for k, a in raw if k == "cash")
    try:
        tendered, change = settle(total, tenders)
    except UnprocessableError:
        assert sum(a for _, a in raw) < total or sum(a for _, a in raw) - total > cash
        return
    assert tendered == sum(a for _, a in raw) and tendered - change == total and 0 <= change <= cash


@given(st.lists(st.integers(-10**5, 10**5).filter(bool), max_size=40))
def test_a_stored_value_balance_never_goes_below_zero(amounts: list[int]) -> None:
    balance = 0
    for amount in amounts:
        try:
            after = check_movement(balance, amount, "user:ann", "GC-1")
        except UnprocessableError as exc:
            assert balance + amount < 0 and exc.code == "insufficient_balance"
            continue
        assert after == balance + amount >= 0
        balance = after


def test_every_movement_names_someone() -> None:
    with pytest.raises(ValidationError, match="names who made it"):
        check_movement(100, 10, "", "GC-1")


# -- through the API -----------------------------------------------------------------------------------

@pytest.mark.usefixtures("shop")
def test_a_split_sale_is_recorded_with_every_tender_and_its_receipt_choice(client: FlaskClient, h: dict,
                                                                           svc: HubService) -> None:
    body = {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "MUG", "qty": 2}], "receipt": "none",
            "tenders": [{"kind": "card", "amount_minor": 500, "reference": "TID-1/77"},
                        {"kind": "cash", "amount_minor": 500}]}
    resp = client.post("/api/v1/sales", json=body, headers=h["cashier"])
    assert resp.status_code == 201, resp.json
    assert resp.json["receipt"]["status"] == "none" and resp.json["change_minor"] == 300
    rows = svc.db.conn.execute("SELECT kind, amount_minor, reference FROM sale_tenders WHERE sale_id = ? ORDER BY line_no",
                               (body["id"],)).fetchall()
    assert [tuple(r) for r in rows] == [("card", 500, "TID-1/77"), ("cash", 500, "")]
    assert svc.db.conn.execute("SELECT count(*) FROM print_jobs WHERE sale_id = ?", (body["id"],)).fetchone()[0] == 0
    too_much = {**body, "id": str(uuid.uuid4()), "tenders": [{"kind": "card", "amount_minor": 800, "reference": "T"}]}
    refused = client.post("/api/v1/sales", json=too_much, headers=h["cashier"])
    assert refused.status_code == 422 and "only from cash" in refused.json["error"]["message"]
    odd = client.post("/api/v1/sales", json={**body, "id": str(uuid.uuid4()), "receipt": "email"}, headers=h["cashier"])
    assert odd.status_code == 400 and odd.json["error"]["field"] == "receipt"
