"""Post-voids, returns and exchanges through the REST API, on a real SQLite file."""

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from hub.errors import UnprocessableError
from hub.service import HubService

# MUG: 3.50 each, 20% tax included; CHEESE: 24.99 per kg, sold by the gram.
ITEMS = [{"sku": "MUG", "name": "Mug", "unit": "each", "price_minor": 350},
         {"sku": "CHEESE", "name": "Comte", "unit": "g", "price_minor": 2499}]


@pytest.fixture(autouse=True)
def ledger_holds(svc: HubService) -> Iterator[None]:
    """After every test: on-hand equals the sum of moves, and every move says why, who and when."""
    yield
    assert_ledger_holds(svc.db.conn)


def assert_ledger_holds(conn: sqlite3.Connection) -> None:
    moved = {(r[0], r[1]): r[2] for r in conn.execute("SELECT sku, location, sum(qty) FROM stock_moves GROUP BY sku, location")}
    levels = {(r[0], r[1]): r[2] for r in conn.execute("SELECT sku, location, on_hand FROM stock_levels")}
    assert {k: v for k, v in levels.items() if v or k in moved} == moved
    assert conn.execute("SELECT count(*) FROM stock_moves WHERE reason = '' OR actor = '' OR at = ''").fetchone()[0] == 0


@pytest.fixture
def shop(client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    assert client.put("/api/v1/tax-categories/standard", json={"name": "Standard", "rate_bp": 2000},
                      headers=h["owner"]).status_code == 200
    for item in ITEMS:
        assert client.post("/api/v1/items", json={**item, "tax_category": "standard"}, headers=h["owner"]).status_code == 201
    stocked = client.post("/api/v1/receipts", json={"location": "floor", "lines": [
        {"sku": "MUG", "qty": 20}, {"sku": "CHEESE", "qty": 10_000}]}, headers=h["manager"])
    assert stocked.status_code == 201, stocked.json


def sell(client: FlaskClient, h: dict, lines: list[dict], tenders: list[dict] | None = None) -> dict:
    if tenders is None:
        total = client.post("/api/v1/sales/quote", json={"lines": lines}, headers=h["cashier"]).json["total_minor"]
        tenders = [{"kind": "cash", "amount_minor": total}]
    resp = client.post("/api/v1/sales", json={"id": str(uuid.uuid4()), "register_id": "till-1", "lines": lines,
                                              "tenders": tenders}, headers=h["cashier"])
    assert resp.status_code == 201, resp.json
    return resp.json


def give_back(client: FlaskClient, headers: dict, sale: dict | None, lines: list[dict], **extra: object):
    body: dict[str, object] = {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": lines, **extra}
    if sale is not None:
        body["sale_id"] = sale["id"]
    return client.post("/api/v1/returns", json=body, headers=headers)


def back(no: int, qty: int, condition: str = "resellable", reason: str = "changed_mind") -> dict:
    return {"sale_line_no": no, "qty": qty, "reason": reason, "condition": condition}


def on_hand(svc: HubService, sku: str, location: str = "floor") -> int:
    row = svc.db.conn.execute("SELECT on_hand FROM stock_levels WHERE sku = ? AND location = ?", (sku, location)).fetchone()
    return row[0] if row else 0


def events(svc: HubService, type_: str) -> list[dict]:
    return [json.loads(r[0]) for r in svc.db.conn.execute("SELECT data FROM outbox WHERE type = ? ORDER BY seq", (type_,))]


# -- post-void -------------------------------------------------------------------------------------

@pytest.mark.usefixtures("shop")
def test_a_void_restores_exactly_what_the_sale_took_and_happens_once(svc: HubService, client: FlaskClient, h: dict) -> None:
    sale = sell(client, h, [{"sku": "MUG", "qty": 2}, {"sku": "CHEESE", "qty": 1234}],
                [{"kind": "cash", "amount_minor": 5000}])
    assert (on_hand(svc, "MUG"), on_hand(svc, "CHEESE")) == (18, 10_000 - 1234)
    assert client.post(f"/api/v1/sales/{sale['id']}/void", json={"reason": "rang twice"},
                       headers=h["cashier"]).status_code == 403
    voided = client.post(f"/api/v1/sales/{sale['id']}/void", json={"reason": "rang twice"}, headers=h["manager"])
    assert voided.status_code == 200, voided.json
    assert (on_hand(svc, "MUG"), on_hand(svc, "CHEESE")) == (20, 10_000)
    assert voided.json["voided"]["reason"] == "rang twice" and voided.json["voided"]["by"].startswith("token:")
    assert [ln["returnable_qty"] for ln in voided.json["lines"]] == [0, 0]
    moves = svc.db.conn.execute("SELECT sku, location, qty, kind, reason, doc_id FROM stock_moves WHERE doc_type = 'void' "
                                "ORDER BY sku").fetchall()
    assert [tuple(m) for m in moves] == [("CHEESE", "floor", 1234, "void", "void", sale["id"]),
                                         ("MUG", "floor", 2, "void", "void", sale["id"])]
    (event,) = events(svc, "sale.voided")
    assert event["tenders_reversed"] == [{"line_no": 1, "kind": "cash", "amount_minor": sale["total_minor"], "reference": ""}]
    again = client.post(f"/api/v1/sales/{sale['id']}/void", json={"reason": "again"}, headers=h["manager"])
    assert again.status_code == 409 and on_hand(svc, "MUG") == 20
    assert client.post(f"/api/v1/sales/{uuid.uuid4()}/void", json={"reason": "x"}, headers=h["manager"]).status_code == 404
    assert client.post(f"/api/v1/sales/{sale['id']}/void", json={}, headers=h["manager"]).json["error"]["field"] == "reason"


@pytest.mark.usefixtures("shop")
def test_a_sale_with_a_return_cannot_be_voided_and_a_voided_sale_cannot_be_returned(svc: HubService, client: FlaskClient,
                                                                                     h: dict) -> None:
    returned = sell(client, h, [{"sku": "MUG", "qty": 2}])
    assert give_back(client, h["cashier"], returned, [back(1, 1)]).status_code == 201
    refused = client.post(f"/api/v1/sales/{returned['id']}/void", json={"reason": "x"}, headers=h["manager"])
    assert refused.status_code == 422
    assert refused.json["error"]["message"] == "part of this sale was returned; return the rest instead"
    voided = sell(client, h, [{"sku": "MUG", "qty": 1}])
    assert client.post(f"/api/v1/sales/{voided['id']}/void", json={"reason": "x"}, headers=h["manager"]).status_code == 200
    late = give_back(client, h["manager"], voided, [back(1, 1)])
    assert late.status_code == 422 and "voided" in late.json["error"]["message"]


# -- returns with a receipt ------------------------------------------------------------------------

@pytest.mark.usefixtures("shop")
def test_partial_returns_then_the_rest_refund_exactly_the_line_totals(svc: HubService, client: FlaskClient, h: dict) -> None:
    sale = sell(client, h, [{"sku": "MUG", "qty": 3}, {"sku": "CHEESE", "qty": 1234}])
    mugs, cheese = sale["lines"]
    first = give_back(client, h["cashier"], sale, [back(1, 1)])
    assert first.status_code == 201, first.json
    assert (first.json["total_minor"], first.json["tax_minor"]) == (350, 58)  # 175 tax over 3 mugs
    second = give_back(client, h["cashier"], None, [back(1, 1), back(2, 500)], receipt_code=sale["receipt_code"])
    assert second.status_code == 201, second.json
    view = client.get(f"/api/v1/sales/by-receipt/{sale['receipt_code']}", headers=h["cashier"]).json
    assert [(ln["returned_qty"], ln["returnable_qty"]) for ln in view["lines"]] == [(2, 1), (500, 734)]
    last = give_back(client, h["cashier"], sale, [back(2, 734), back(1, 1)])
    assert last.status_code == 201, last.json
    rows = svc.db.conn.execute("SELECT sale_line_no, sum(amount_minor), sum(tax_minor), sum(qty) FROM return_lines "
                               "GROUP BY sale_line_no ORDER BY sale_line_no").fetchall()
    assert [tuple(r) for r in rows] == [(1, mugs["total_minor"], mugs["tax_minor"], 3),
                                        (2, cheese["total_minor"], cheese["tax_minor"], 1234)]
    refunded = sum(r["total_minor"] for r in (first.json, second.json, last.json))
    assert refunded == sale["total_minor"] == sum(f["amount_minor"] for r in (first, second, last) for f in r.json["refunds"])
    view = client.get(f"/api/v1/sales/{sale['id']}", headers=h["cashier"]).json
    assert [ln["returnable_qty"] for ln in view["lines"]] == [0, 0] and len(view["returns"]) == 3
    assert (on_hand(svc, "MUG"), on_hand(svc, "CHEESE")) == (20, 10_000)


@pytest.mark.usefixtures("shop")
def test_returning_more_than_was_sold_is_refused_naming_the_line(svc: HubService, client: FlaskClient, h: dict) -> None:
    sale = sell(client, h, [{"sku": "CHEESE", "qty": 200}, {"sku": "MUG", "qty": 3}])
    assert give_back(client, h["cashier"], sale, [back(2, 2)]).status_code == 201
    over = give_back(client, h["cashier"], sale, [back(1, 100), back(2, 2)])
    assert over.status_code == 422 and over.json["error"]["field"] == "lines[1].qty"
    assert "line 2 (SKU MUG): 3 were sold and 2 already returned; at most 1 can be returned" in over.json["error"]["message"]
    assert svc.db.conn.execute("SELECT count(*) FROM returns").fetchone()[0] == 1  # nothing of the refused one stayed
    assert on_hand(svc, "CHEESE") == 10_000 - 200
    assert give_back(client, h["cashier"], sale, [back(3, 1)]).json["error"]["field"] == "lines[0].sale_line_no"


@pytest.mark.usefixtures("shop")
def test_two_tills_cannot_return_the_same_units_at_once(svc: HubService, client: FlaskClient, h: dict) -> None:
    sale = sell(client, h, [{"sku": "MUG", "qty": 3}])
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def till() -> None:
        body = {"id": str(uuid.uuid4()), "register_id": "till-1", "sale_id": sale["id"], "lines": [back(1, 3)]}
        start.wait()
        try:
            svc.returns.record(body, "user:carl", "cashier")
            outcomes.append("recorded")
        except UnprocessableError as exc:
            outcomes.append(exc.message)

    tills = [threading.Thread(target=till) for _ in range(4)]
    for t in tills:
        t.start()
    for t in tills:
        t.join()
    refused = "line 1 (SKU MUG): 3 were sold and 3 already returned; nothing more can be returned"
    assert sorted(outcomes) == sorted(["recorded", refused, refused, refused])
    assert svc.db.conn.execute("SELECT sum(qty) FROM return_lines").fetchone()[0] == 3


@pytest.mark.usefixtures("shop")
def test_a_refund_goes_back_to_the_tenders_in_the_proportions_they_paid(svc: HubService, client: FlaskClient,
                                                                          h: dict) -> None:
    # The till takes only cash so far (hub.domain.sale.TENDER_KINDS): two cash tenders stand for a split payment.
    sale = sell(client, h, [{"sku": "MUG", "qty": 9}], [{"kind": "cash", "amount_minor": 2000, "reference": "A"},
                                                        {"kind": "cash", "amount_minor": 1500, "reference": "B"}])
    assert (sale["total_minor"], sale["change_minor"]) == (3150, 350)  # B paid 1150 once change is back
    one = give_back(client, h["cashier"], sale, [back(1, 1)]).json
    assert one["refunds"] == [{"kind": "cash", "amount_minor": 222, "reference": "A"},
                              {"kind": "cash", "amount_minor": 128, "reference": "B"}]  # 350 x 2000/3150, 350 x 1150/3150
    for _ in range(7):
        assert give_back(client, h["cashier"], sale, [back(1, 1)]).status_code == 201
    rest = give_back(client, h["cashier"], sale, [back(1, 1)])
    assert rest.status_code == 201, rest.json
    paid = dict(svc.db.conn.execute("SELECT reference, sum(amount_minor) FROM return_refunds GROUP BY reference").fetchall())
    assert paid == {"A": 2000, "B": 1150}


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(("condition", "location"), [("resellable", "floor"), ("open_box", "review"), ("damaged", "damaged")])
def test_the_condition_decides_where_the_stock_goes(svc: HubService, client: FlaskClient, h: dict, condition: str,
                                                    location: str) -> None:
    sale = sell(client, h, [{"sku": "CHEESE", "qty": 300}, {"sku": "MUG", "qty": 2}])
    before = {loc: on_hand(svc, "MUG", loc) for loc in ("floor", "review", "damaged")}
    resp = give_back(client, h["cashier"], sale, [back(2, 2, condition, "defective")])
    assert resp.status_code == 201, resp.json
    assert resp.json["lines"][0]["location"] == location
    after = {loc: on_hand(svc, "MUG", loc) for loc in ("floor", "review", "damaged")}
    assert {loc: after[loc] - before[loc] for loc in after if after[loc] != before[loc]} == {location: 2}
    move = svc.db.conn.execute("SELECT kind, reason, doc_type, doc_id, doc_line, location, qty FROM stock_moves "
                               "WHERE doc_type = 'return'").fetchone()
    assert tuple(move) == ("return", "defective", "return", resp.json["id"], 1, location, 2)


# -- approval --------------------------------------------------------------------------------------

@pytest.mark.usefixtures("shop")
def test_a_return_without_a_receipt_needs_a_manager(svc: HubService, client: FlaskClient, h: dict) -> None:
    line = {"sku": "MUG", "qty": 2, "amount_minor": 600, "reason": "wrong_item", "condition": "open_box"}
    refused = give_back(client, h["cashier"], None, [line])
    assert refused.status_code == 403 and "a manager must approve" in refused.json["error"]["message"]
    assert on_hand(svc, "MUG", "review") == 0
    made = give_back(client, h["manager"], None, [line])
    assert made.status_code == 201, made.json
    actor = svc.db.conn.execute("SELECT actor FROM returns").fetchone()[0]
    assert made.json["approved_by"] == actor and made.json["sale_id"] is None
    assert (made.json["total_minor"], made.json["tax_minor"]) == (600, 100)
    assert made.json["refunds"] == [{"kind": "cash", "amount_minor": 600, "reference": ""}]
    assert on_hand(svc, "MUG", "review") == 2


@pytest.mark.usefixtures("shop")
def test_a_refund_above_the_threshold_needs_a_manager(svc: HubService, client: FlaskClient, h: dict) -> None:
    sale = sell(client, h, [{"sku": "CHEESE", "qty": 2500}, {"sku": "MUG", "qty": 1}])  # 62.48 > 50.00
    small = give_back(client, h["cashier"], sale, [back(2, 1)])
    assert small.status_code == 201 and small.json["approved_by"] is None
    big = give_back(client, h["cashier"], sale, [back(1, 2500)])
    assert big.status_code == 403 and "62.48" in big.json["error"]["message"]
    approved = give_back(client, h["owner"], sale, [back(1, 2500)])
    assert approved.status_code == 201 and approved.json["approved_by"].startswith("token:")


# -- exchanges -------------------------------------------------------------------------------------

def exchange_tender(return_id: str, amount: int) -> dict:
    return {"kind": "exchange", "amount_minor": amount, "reference": return_id}


def post_sale(client: FlaskClient, h: dict, lines: list[dict], tenders: list[dict], register: str = "till-1"):
    return client.post("/api/v1/sales", json={"id": str(uuid.uuid4()), "register_id": register, "lines": lines,
                                              "tenders": tenders}, headers=h["cashier"])


@pytest.mark.usefixtures("shop")
def test_an_exchange_tender_without_a_recorded_return_is_refused(svc: HubService, client: FlaskClient, h: dict) -> None:
    # the reviewer's case: five mugs "paid" with the credit of a return that never happened
    fake = post_sale(client, h, [{"sku": "MUG", "qty": 5}], [exchange_tender(str(uuid.uuid4()), 1750)])
    assert fake.status_code == 422 and fake.json["error"]["code"] == "no_exchange_credit"
    assert fake.json["error"]["field"] == "tenders[0].reference"
    assert on_hand(svc, "MUG") == 20 and svc.db.conn.execute("SELECT count(*) FROM sales").fetchone()[0] == 0
    # a return refunded as usual holds no credit either
    refunded = give_back(client, h["cashier"], sell(client, h, [{"sku": "MUG", "qty": 1}]), [back(1, 1)])
    again = post_sale(client, h, [{"sku": "MUG", "qty": 1}], [exchange_tender(refunded.json["id"], 350)])
    assert again.status_code == 422 and again.json["error"]["code"] == "no_exchange_credit"


@pytest.mark.usefixtures("shop")
def test_an_exchange_return_holds_its_credit_and_one_replacement_sale_spends_it(svc: HubService, client: FlaskClient,
                                                                               h: dict) -> None:
    original = sell(client, h, [{"sku": "MUG", "qty": 2}], [{"kind": "card", "amount_minor": 700, "reference": "T-1"}])
    ret = give_back(client, h["cashier"], original, [back(1, 2, reason="wrong_item")], exchange=True)
    assert ret.status_code == 201, ret.json
    credit = {"kind": "exchange_credit", "amount_minor": 700, "reference": ret.json["id"]}
    assert ret.json["refunds"] == [credit] and ret.json["exchange_sale_id"] is None  # nothing paid out yet
    assert events(svc, "return.recorded")[0]["refunds"] == [credit]
    cheese = [{"sku": "CHEESE", "qty": 100}]  # 2.50: less than the two mugs' 7.00
    too_much = post_sale(client, h, [{"sku": "CHEESE", "qty": 400}], [exchange_tender(ret.json["id"], 800),
                                                                       {"kind": "cash", "amount_minor": 200}])
    assert too_much.status_code == 422 and too_much.json["error"]["code"] == "insufficient_balance"
    svc._ensure_register("till-2")
    elsewhere = post_sale(client, h, cheese, [exchange_tender(ret.json["id"], 250)], register="till-2")
    assert elsewhere.status_code == 422
    replacement = post_sale(client, h, cheese, [exchange_tender(ret.json["id"], 250)])
    assert replacement.status_code == 201, replacement.json
    # what the replacement did not use goes back to the card it came from, in the sale's transaction
    (linked,) = events(svc, "sale.exchanged")
    assert linked == {"id": replacement.json["id"], "return_id": ret.json["id"], "return_number": ret.json["number"],
                      "original_sale_id": original["id"], "credit_minor": 250,
                      "refunds": [{"kind": "card", "amount_minor": 450, "reference": "T-1"}]}
    refunds = svc.db.conn.execute("SELECT kind, amount_minor FROM return_refunds WHERE return_id = ? ORDER BY line_no",
                                  (ret.json["id"],)).fetchall()
    assert [tuple(r) for r in refunds] == [("exchange_credit", 700), ("card", 450)]
    view = client.get(f"/api/v1/sales/{replacement.json['id']}", headers=h["cashier"]).json
    assert view["exchange_for_return"] == ret.json["id"]
    twice = post_sale(client, h, cheese, [exchange_tender(ret.json["id"], 250)])  # spent once, never again
    assert twice.status_code == 422 and twice.json["error"]["code"] == "no_exchange_credit"
    assert client.post(f"/api/v1/sales/{replacement.json['id']}/void", json={"reason": "x"},
                       headers=h["manager"]).status_code == 422
    legacy = give_back(client, h["cashier"], original, [back(1, 1)], exchange_sale_id=replacement.json["id"])
    assert legacy.status_code == 400 and legacy.json["error"]["field"] == "exchange_sale_id"


@pytest.mark.usefixtures("shop")
def test_an_exchange_called_off_refunds_the_credit_once_and_it_pays_nothing_after(svc: HubService, client: FlaskClient,
                                                                                 h: dict) -> None:
    original = sell(client, h, [{"sku": "MUG", "qty": 2}])
    ret = give_back(client, h["cashier"], original, [back(1, 1)], exchange=True).json
    called_off = client.post(f"/api/v1/returns/{ret['id']}/refund-credit", json={}, headers=h["cashier"])
    assert called_off.status_code == 200, called_off.json
    assert called_off.json["refunds"] == [{"kind": "cash", "amount_minor": 350, "reference": ""}]
    (event,) = events(svc, "return.credit_refunded")
    assert event["id"] == ret["id"] and event["refunds"] == called_off.json["refunds"]
    again = client.post(f"/api/v1/returns/{ret['id']}/refund-credit", json={}, headers=h["cashier"])
    assert again.status_code == 422 and again.json["error"]["code"] == "no_exchange_credit"
    spend = post_sale(client, h, [{"sku": "MUG", "qty": 1}], [exchange_tender(ret["id"], 350)])
    assert spend.status_code == 422 and spend.json["error"]["code"] == "no_exchange_credit"
    # the other mug: the sale's cash has 3.50 left to give back, not 7.00
    rest = give_back(client, h["cashier"], original, [back(1, 1)])
    assert rest.json["refunds"] == [{"kind": "cash", "amount_minor": 350, "reference": ""}]


@pytest.mark.usefixtures("shop")
def test_returning_what_exchange_credit_paid_for_opens_a_store_credit_not_cash(svc: HubService, client: FlaskClient,
                                                                             h: dict) -> None:
    first = sell(client, h, [{"sku": "MUG", "qty": 1}])
    ret = give_back(client, h["cashier"], first, [back(1, 1)], exchange=True)
    mug = post_sale(client, h, [{"sku": "MUG", "qty": 1}], [exchange_tender(ret.json["id"], 350)]).json
    again = give_back(client, h["cashier"], mug, [back(1, 1)])
    assert again.status_code == 201, again.json
    (refund,) = again.json["refunds"]
    assert refund["kind"] == "store_credit" and refund["amount_minor"] == 350 and refund["reference"].startswith("SC-")
    account = client.get(f"/api/v1/stored-value/{refund['reference']}", headers=h["cashier"]).json
    assert account["balance_minor"] == 350 and account["kind"] == "store_credit"
    cash_out = svc.db.conn.execute("SELECT coalesce(sum(amount_minor), 0) FROM return_refunds WHERE kind = 'cash'")
    assert cash_out.fetchone()[0] == 0


@pytest.mark.usefixtures("shop")
def test_a_void_that_fails_leaves_the_managers_approval_unspent(svc: HubService, client: FlaskClient, h: dict) -> None:
    svc.auth.set_user("mia", "long enough password", "manager", actor="owner")
    svc.people.set_pin("mia", "739152", "owner")
    sale = sell(client, h, [{"sku": "MUG", "qty": 2}])
    assert give_back(client, h["cashier"], sale, [back(1, 1)]).status_code == 201
    token = svc.approvals.grant("till-1", {"action": "post_void", "approver": "mia", "pin": "739152",
                                           "details": {"sale_id": sale["id"]}}, "cashier", "register:till-1")["token"]
    failed = client.post(f"/api/v1/sales/{sale['id']}/void", json={"reason": "rang twice", "approval": token},
                         headers=h["cashier"])
    assert failed.status_code == 422, failed.json
    assert svc.db.conn.execute("SELECT used_at FROM approvals").fetchone()[0] is None


# -- idempotency -----------------------------------------------------------------------------------

@pytest.mark.usefixtures("shop")
def test_the_same_return_again_answers_the_first_and_a_different_body_is_409(svc: HubService, client: FlaskClient,
                                                                            h: dict) -> None:
    sale = sell(client, h, [{"sku": "MUG", "qty": 3}])
    body = {"id": str(uuid.uuid4()), "register_id": "till-1", "sale_id": sale["id"], "lines": [back(1, 1)]}
    first = client.post("/api/v1/returns", json=body, headers=h["cashier"])
    again = client.post("/api/v1/returns", json=body, headers=h["cashier"])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert again.json == first.json and on_hand(svc, "MUG") == 18
    clash = client.post("/api/v1/returns", json={**body, "lines": [back(1, 2)]}, headers=h["cashier"])
    assert clash.status_code == 409 and clash.json["error"]["code"] == "idempotency_conflict"
    assert svc.db.conn.execute("SELECT count(*) FROM returns").fetchone()[0] == 1
    assert len(events(svc, "return.recorded")) == 1


def test_a_sale_is_found_by_its_receipt_code_or_not_at_all(client: FlaskClient, h: dict) -> None:
    assert client.get("/api/v1/sales/by-receipt/X12", headers=h["cashier"]).status_code == 400
    assert client.get("/api/v1/sales/by-receipt/S00000099", headers=h["cashier"]).status_code == 404
    assert client.get(f"/api/v1/sales/{uuid.uuid4()}", headers=h["cashier"]).status_code == 404
