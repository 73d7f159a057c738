"""Gift cards and store credit through the API, paid and refunded at the till, on a real SQLite file."""

import sqlite3
import uuid

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import stored_value
from hub.clock import iso
from hub.errors import BackroomError
from hub.service import HubService

from .test_returns_api import give_back, sell, shop  # noqa: F401  (the shop fixture: MUG 3.50, CHEESE 24.99/kg)


def issue(client: FlaskClient, h: dict, kind: str = "gift_card", amount: int = 1000, **extra: object) -> dict:
    resp = client.post("/api/v1/stored-value", json={"kind": kind, "amount_minor": amount, **extra}, headers=h["manager"])
    assert resp.status_code == 201, resp.json
    return resp.json


def balance(client: FlaskClient, h: dict, code: str) -> int:
    return int(client.get(f"/api/v1/stored-value/{code}", headers=h["cashier"]).json["balance_minor"])


def assert_accounts_hold(conn: sqlite3.Connection) -> None:
    """Every movement has an actor, its balance_minor is the running sum, and no balance is below zero."""
    running: dict[str, int] = {}
    for row in conn.execute("SELECT code, amount_minor, balance_minor, actor FROM stored_value_movements ORDER BY id"):
        running[row["code"]] = running.get(row["code"], 0) + row["amount_minor"]
        assert row["actor"] and row["balance_minor"] == running[row["code"]] >= 0


def test_issue_top_up_and_read(client: FlaskClient, h: dict, svc: HubService) -> None:
    card = issue(client, h, amount=2500, note="raffle prize")
    assert card["code"].startswith("GC-") and card["balance_minor"] == 2500 and card["created_by"].startswith("token:")
    top = {"id": str(uuid.uuid4()), "amount_minor": 500}
    for _ in range(2):  # a retry counts once
        resp = client.post(f"/api/v1/stored-value/{card['code']}/top-ups", json=top, headers=h["manager"])
        assert resp.status_code == 201 and resp.json["balance_minor"] == 3000
    resp = client.post(f"/api/v1/stored-value/{card['code']}/top-ups", json={**top, "amount_minor": 600},
                       headers=h["manager"])
    assert resp.status_code == 409
    assert client.post("/api/v1/stored-value", json={"kind": "gift_card", "amount_minor": 5},
                       headers=h["cashier"]).status_code == 403  # a cashier redeems; a manager issues
    assert issue(client, h, "store_credit", 100, code="sc-shop-1")["code"] == "SC-SHOP-1"
    assert client.post("/api/v1/stored-value", json={"kind": "store_credit", "amount_minor": 5, "code": "SC-SHOP-1"},
                       headers=h["manager"]).json["error"]["code"] == "already_issued"
    assert client.get("/api/v1/stored-value/GC-NOPE", headers=h["cashier"]).status_code == 404
    kinds = [r[0] for r in svc.db.conn.execute("SELECT json_extract(data, '$.movement') FROM outbox "
                                               "WHERE type = 'stored_value.moved' ORDER BY seq")]
    assert kinds == ["issue", "top_up", "issue"]


@pytest.mark.usefixtures("shop")
def test_split_tender_gift_card_card_and_cash(client: FlaskClient, h: dict, svc: HubService) -> None:
    card = issue(client, h, amount=300)
    sale = sell(client, h, [{"sku": "MUG", "qty": 3}], [  # 10.50
        {"kind": "gift_card", "amount_minor": 300, "reference": card["code"]},
        {"kind": "card", "amount_minor": 500, "reference": "TID42-000317"},
        {"kind": "cash", "amount_minor": 500}])
    assert (sale["tendered_minor"], sale["change_minor"]) == (1300, 250)
    assert balance(client, h, card["code"]) == 0
    row = svc.db.conn.execute("SELECT sale_id, kind, amount_minor FROM stored_value_movements WHERE kind = 'redeem'").fetchone()
    assert tuple(row) == (sale["id"], "redeem", -300)
    assert_accounts_hold(svc.db.conn)


@pytest.mark.usefixtures("shop")
def test_a_card_short_of_funds_refuses_the_whole_sale(client: FlaskClient, h: dict, svc: HubService) -> None:
    card = issue(client, h, amount=200)
    body = {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "MUG", "qty": 1}],
            "tenders": [{"kind": "gift_card", "amount_minor": 350, "reference": card["code"]}]}
    resp = client.post("/api/v1/sales", json=body, headers=h["cashier"])
    assert resp.status_code == 422 and resp.json["error"]["code"] == "insufficient_balance"
    assert resp.json["error"]["field"] == "tenders[0].amount_minor" and "2.00" in resp.json["error"]["message"]
    assert svc.db.conn.execute("SELECT count(*) FROM sales").fetchone()[0] == 0
    body["tenders"][0] = {"kind": "store_credit", "amount_minor": 350, "reference": card["code"]}
    assert client.post("/api/v1/sales", json=body, headers=h["cashier"]).json["error"]["field"] == "tenders[0].reference"
    assert balance(client, h, card["code"]) == 200


@pytest.mark.usefixtures("shop")
def test_a_return_refunds_the_gift_card_part_to_the_card_and_a_void_puts_it_all_back(
        client: FlaskClient, h: dict, svc: HubService) -> None:
    card = issue(client, h, amount=1000)
    sale = sell(client, h, [{"sku": "MUG", "qty": 2}], [  # 7.00: half from the gift card
        {"kind": "gift_card", "amount_minor": 350, "reference": card["code"]},
        {"kind": "card", "amount_minor": 350, "reference": "T-1"}])
    back = give_back(client, h["cashier"], sale, [{"sale_line_no": 1, "qty": 1, "reason": "changed_mind",
                                                   "condition": "resellable"}])
    assert back.status_code == 201, back.json
    assert back.json["refunds"] == [{"kind": "gift_card", "amount_minor": 175, "reference": card["code"]},
                                    {"kind": "card", "amount_minor": 175, "reference": "T-1"}]
    assert balance(client, h, card["code"]) == 650 + 175
    other = sell(client, h, [{"sku": "MUG", "qty": 1}], [{"kind": "gift_card", "amount_minor": 350,
                                                          "reference": card["code"]}])
    assert balance(client, h, card["code"]) == 475
    assert client.post(f"/api/v1/sales/{other['id']}/void", json={"reason": "rang twice"},
                       headers=h["manager"]).status_code == 200
    assert balance(client, h, card["code"]) == 825
    assert_accounts_hold(svc.db.conn)


@pytest.mark.usefixtures("shop")
def test_an_exchange_tender_pays_the_replacement_and_the_difference_is_paid(client: FlaskClient, h: dict,
                                                                             svc: HubService) -> None:
    sale = sell(client, h, [{"sku": "MUG", "qty": 2}], [{"kind": "card", "amount_minor": 700, "reference": "T-9"}])
    # the return first: the mug's 3.50 is held as exchange credit, nothing goes back on the card
    back = give_back(client, h["cashier"], sale, [{"sale_line_no": 1, "qty": 1, "reason": "wrong_item",
                                                   "condition": "resellable"}], exchange=True)
    assert back.status_code == 201, back.json
    assert back.json["refunds"] == [{"kind": "exchange_credit", "amount_minor": 350, "reference": back.json["id"]}]
    # then 300 g of cheese (7.50): 3.50 of credit, the rest in cash
    new = sell(client, h, [{"sku": "CHEESE", "qty": 300}], [{"kind": "exchange", "amount_minor": 350,
                                                            "reference": back.json["id"]},
                                                           {"kind": "cash", "amount_minor": 500}])
    assert new["change_minor"] == 350 + 500 - new["total_minor"]
    (linked,) = [r for r in svc.db.conn.execute("SELECT data FROM outbox WHERE type = 'sale.exchanged'")]
    assert '"credit_minor":350' in linked[0] and '"refunds":[]' in linked[0]


movements = st.lists(st.tuples(st.sampled_from(["GC-AAAA", "SC-BBBB"]), st.integers(-3000, 3000).filter(bool),
                               st.sampled_from(["user:ann", "token:1234abcd", ""])), max_size=30)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(movements)
def test_the_ledger_holds_whatever_is_tried(svc: HubService, moves: list[tuple[str, int, str]]) -> None:
    at = iso(svc.clock())
    with svc.db.write() as conn:
        conn.execute("DELETE FROM stored_value_accounts WHERE code NOT IN (SELECT code FROM stored_value_movements)")
        for code, kind in (("GC-AAAA", "gift_card"), ("SC-BBBB", "store_credit")):
            conn.execute("INSERT OR IGNORE INTO stored_value_accounts (code, kind, created_by, created_at) "
                         "VALUES (?, ?, 'owner', ?)", (code, kind, at))
        stored_value.move(conn, "GC-AAAA", "issue", 1, "owner", at)  # one row at least, for the append-only check
    for code, amount, actor in moves:
        try:
            with svc.db.write() as conn:
                stored_value.move(conn, code, "top_up" if amount > 0 else "redeem", amount, actor, at)
        except BackroomError:
            pass  # refused: below zero, or nobody named; the check below holds either way
    assert_accounts_hold(svc.db.conn)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), svc.db.write() as conn:
        conn.execute("UPDATE stored_value_movements SET amount_minor = 1")


@pytest.mark.usefixtures("shop")
def test_a_return_without_receipt_by_a_cashier_needs_a_managers_approval_token(client: FlaskClient, h: dict,
                                                                                 svc: HubService) -> None:
    svc.auth.set_user("mia", "correct horse battery", "manager", actor="owner")
    svc.people.set_pin("mia", "482613", "owner")
    return_id = str(uuid.uuid4())
    body = {"id": return_id, "register_id": "till-1",
            "lines": [{"sku": "MUG", "qty": 1, "amount_minor": 350, "reason": "changed_mind", "condition": "resellable"}]}
    refused = client.post("/api/v1/returns", json=body, headers=h["cashier"])
    assert refused.status_code == 403 and refused.json["error"]["code"] == "needs_manager"
    other = svc.approvals.grant("till-1", {"action": "return_without_receipt", "approver": "mia", "pin": "482613",
                                           "details": {"return_id": return_id, "total_minor": 999}},
                                "token:cashier", "register:till-1")["token"]
    wrong = client.post("/api/v1/returns", json={**body, "approval": other}, headers=h["cashier"])
    assert wrong.status_code == 403 and wrong.json["error"]["code"] == "approval_invalid"
    token = svc.approvals.grant("till-1", {"action": "return_without_receipt", "approver": "mia", "pin": "482613",
                                           "details": {"return_id": return_id, "total_minor": 350}},
                                "token:cashier", "register:till-1")["token"]
    ok = client.post("/api/v1/returns", json={**body, "approval": token}, headers=h["cashier"])
    assert ok.status_code == 201, ok.json
    assert ok.json["approved_by"] == "mia" and ok.json["refunds"] == [{"kind": "cash", "amount_minor": 350, "reference": ""}]
    again = client.post("/api/v1/returns", json={**body, "approval": token}, headers=h["cashier"])
    assert again.status_code == 200 and again.json == ok.json  # the replay answers; the spent token is not asked again
