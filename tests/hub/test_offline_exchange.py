"""Exchanges and card payments a register queued while the hub was out of reach, replayed to the hub:
the exchange credit is spent once and the return names its replacement sale; a credit refunded or
spent meanwhile refuses the replay with a reason that names where it went (the tablet keeps the
sale); a card's terminal reference is kept, and a card number is refused even in an offline sale."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.clock import iso
from hub.service import HubService
from hub.web import create_app
from tests.helpers import Clock

MUG = {"sku": "MUG", "name": "Mug", "unit": "each", "price_minor": 350}  # 3.50, 20% tax included


class Till:
    """till-1's paired tablet with a cashier signed in by PIN: the sender of a register's offline queue."""

    def __init__(self, svc: HubService, client: FlaskClient, h: dict) -> None:
        self.tab = create_app(svc).test_client()
        code = client.post("/api/v1/pairing/codes", headers=h["owner"]).json["code"]
        assert self.tab.post("/api/v1/pairing", json={"code": code, "register_id": "till-1"}).status_code == 201
        svc.people.add_person("cara", "cashier", "4321", actor="test")
        signed = self.tab.post("/api/v1/tablet/signin", json={"username": "cara", "pin": "4321"})
        assert signed.status_code == 200, signed.json
        self.csrf = signed.json["csrf_token"]

    def post(self, path: str, body: Any) -> Any:
        return self.tab.post(path, json=body, headers={"X-CSRF-Token": self.csrf})


@pytest.fixture
def till(svc: HubService, client: FlaskClient, h: dict, clock: Clock) -> Till:
    """The shop's mugs in stock, and till-1's tablet with its shift opened an hour ago."""
    assert client.put("/api/v1/tax-categories/standard", json={"name": "Standard", "rate_bp": 2000},
                      headers=h["owner"]).status_code == 200
    assert client.post("/api/v1/items", json={**MUG, "tax_category": "standard"}, headers=h["owner"]).status_code == 201
    assert client.post("/api/v1/receipts", json={"location": "floor", "lines": [{"sku": "MUG", "qty": 20}]},
                       headers=h["manager"]).status_code == 201
    t = Till(svc, client, h)
    assert t.post("/api/v1/registers/till-1/shifts", {"float_minor": 0}).status_code == 201
    clock.now += timedelta(hours=1)
    return t


def live_sale(till: Till, qty: int) -> dict[str, Any]:
    resp = till.post("/api/v1/sales", {"id": str(uuid.uuid4()), "register_id": "till-1",
                                       "lines": [{"sku": "MUG", "qty": qty}],
                                       "tenders": [{"kind": "cash", "amount_minor": 350 * qty}]})
    assert resp.status_code == 201, resp.json
    return dict(resp.json)


def exchange_return(till: Till, sale: dict[str, Any], qty: int) -> dict[str, Any]:
    """The return recorded at the hub with its refund held as exchange credit, as the register does."""
    resp = till.post("/api/v1/returns", {"id": str(uuid.uuid4()), "register_id": "till-1", "sale_id": sale["id"],
                                         "exchange": True, "lines": [{"sale_line_no": 1, "qty": qty,
                                                                      "reason": "changed_mind",
                                                                      "condition": "resellable"}]})
    assert resp.status_code == 201, resp.json
    return dict(resp.json)


def queued(clock: Clock, qty: int, tenders: list[dict[str, Any]]) -> dict[str, Any]:
    """A sale as the tablet's queue replays it: offline, its time on the tablet, what it charged."""
    return {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "MUG", "qty": qty}],
            "tenders": tenders, "offline": True, "recorded_at": iso(clock.now - timedelta(minutes=10)),
            "charged": {"catalog_version": 2, "total_minor": 350 * qty,
                        "lines": [{"unit_price_minor": 350, "total_minor": 350 * qty}]}}


def outbox(svc: HubService, type_: str) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in svc.db.conn.execute("SELECT data FROM outbox WHERE type = ? ORDER BY seq",
                                                          (type_,))]


def test_a_queued_exchange_spends_the_held_credit_once_and_links_the_return(svc: HubService, till: Till,
                                                                            clock: Clock) -> None:
    ret = exchange_return(till, live_sale(till, 2), 1)  # one mug back: 3.50 of credit held
    body = queued(clock, 3, [{"kind": "exchange", "amount_minor": 350, "reference": ret["id"]},
                             {"kind": "cash", "amount_minor": 1000}])  # 10.50 of mugs: 3.50 credit, 7.00 cash
    first = till.post("/api/v1/sales", body)
    assert first.status_code == 201, first.json
    assert first.json["change_minor"] == 300 and first.json["receipt"]["status"] == "offline"
    again = till.post("/api/v1/sales", body)  # the answer was lost: the queue sends it once more
    assert again.status_code == 200 and again.json == first.json
    row = svc.db.conn.execute("SELECT exchange_sale_id FROM returns WHERE id = ?", (ret["id"],)).fetchone()
    assert row[0] == body["id"]
    assert [e["id"] for e in outbox(svc, "sale.exchanged")] == [body["id"]]  # the credit spent exactly once
    assert svc.db.conn.execute("SELECT count(*) FROM offline_sales WHERE sale_id = ?", (body["id"],)).fetchone()[0] == 1
    view = svc.returns.sale(body["id"])
    assert view["exchange_for_return"] == ret["id"] and view["exchange_refunds"] == []
    assert view["created_at"] == body["recorded_at"]


def test_a_queued_exchange_smaller_than_its_credit_refunds_the_rest_at_replay(svc: HubService, till: Till,
                                                                               clock: Clock) -> None:
    ret = exchange_return(till, live_sale(till, 2), 2)  # 7.00 of credit for one 3.50 mug
    body = queued(clock, 1, [{"kind": "exchange", "amount_minor": 350, "reference": ret["id"]}])
    assert till.post("/api/v1/sales", body).status_code == 201
    assert svc.returns.sale(body["id"])["exchange_refunds"] == [{"kind": "cash", "amount_minor": 350, "reference": ""}]


def test_a_queued_exchange_whose_credit_was_refunded_meanwhile_is_refused_and_says_so(
        svc: HubService, till: Till, client: FlaskClient, h: dict, clock: Clock) -> None:
    ret = exchange_return(till, live_sale(till, 1), 1)
    body = queued(clock, 1, [{"kind": "exchange", "amount_minor": 350, "reference": ret["id"]}])
    # while the tablet was cut off, someone called the exchange off: the customer had the 3.50 in cash
    assert client.post(f"/api/v1/returns/{ret['id']}/refund-credit", json={}, headers=h["manager"]).status_code == 200
    for _ in range(2):  # "Send again" gets the same answer: never taken, never lost in silence
        refused = till.post("/api/v1/sales", body)
        assert refused.status_code == 422 and refused.json["error"]["code"] == "no_exchange_credit"
        message = refused.json["error"]["message"]
        assert f"return {ret['number']}" in message and "refunded" in message and "(cash 3.50)" in message
    assert svc.db.conn.execute("SELECT count(*) FROM sales WHERE id = ?", (body["id"],)).fetchone()[0] == 0
    # what a manager settles it with stays at the hub: the return, its credit and where the credit went
    kept = svc.db.conn.execute("SELECT kind, amount_minor FROM return_refunds WHERE return_id = ? ORDER BY kind",
                               (ret["id"],)).fetchall()
    assert [tuple(r) for r in kept] == [("cash", 350), ("exchange_credit", 350)]
    assert [e["id"] for e in outbox(svc, "return.credit_refunded")] == [ret["id"]]


def test_a_queued_exchange_whose_credit_another_sale_spent_names_that_sale(svc: HubService, till: Till,
                                                                          clock: Clock) -> None:
    ret = exchange_return(till, live_sale(till, 1), 1)
    spender = {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "MUG", "qty": 1}],
               "tenders": [{"kind": "exchange", "amount_minor": 350, "reference": ret["id"]}]}
    spent = till.post("/api/v1/sales", spender)
    assert spent.status_code == 201, spent.json
    refused = till.post("/api/v1/sales", queued(clock, 1, [{"kind": "exchange", "amount_minor": 350,
                                                             "reference": ret["id"]}]))
    assert refused.status_code == 422 and refused.json["error"]["code"] == "no_exchange_credit"
    assert f"spent by sale {spent.json['receipt_code']}" in refused.json["error"]["message"]


def test_a_queued_card_sale_keeps_its_terminal_reference_and_never_a_card_number(svc: HubService, till: Till,
                                                                                 clock: Clock) -> None:
    body = queued(clock, 2, [{"kind": "card", "amount_minor": 500, "reference": "TID7-004512"},
                             {"kind": "cash", "amount_minor": 200}])
    resp = till.post("/api/v1/sales", body)
    assert resp.status_code == 201, resp.json
    rows = svc.db.conn.execute("SELECT kind, amount_minor, reference FROM sale_tenders WHERE sale_id = ? "
                               "ORDER BY line_no", (body["id"],)).fetchall()
    assert [tuple(r) for r in rows] == [("card", 500, "TID7-004512"), ("cash", 200, "")]
    pan = queued(clock, 1, [{"kind": "card", "amount_minor": 350, "reference": "4111 1111 1111 1111"}])
    refused = till.post("/api/v1/sales", pan)
    assert refused.status_code == 422 and refused.json["error"]["code"] == "card_number"
    assert svc.db.conn.execute("SELECT count(*) FROM sales WHERE id = ?", (pan["id"],)).fetchone()[0] == 0
    more = queued(clock, 1, [{"kind": "card", "amount_minor": 500, "reference": "TID7-1"}])  # a card pays no change
    assert till.post("/api/v1/sales", more).status_code == 422
