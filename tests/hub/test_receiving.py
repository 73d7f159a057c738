"""Purchase orders and receiving through the REST API, on a real SQLite file."""

import json
import uuid
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from hub.service import HubService
from tests.hub.test_returns_api import assert_ledger_holds


@pytest.fixture(autouse=True)
def ledger_holds(svc: HubService) -> Iterator[None]:
    """After every test: on-hand equals the sum of moves, and every move says why, who and when."""
    yield
    assert_ledger_holds(svc.db.conn)


@pytest.fixture
def order(client: FlaskClient, h: dict) -> dict:
    for sku, cost in (("TEA", 120), ("MUG", 200), ("JAM", 90)):
        assert client.post("/api/v1/items", json={"sku": sku, "name": sku.title(), "unit": "each", "price_minor": 300,
                                                  "cost_minor": cost}, headers=h["owner"]).status_code == 201
    resp = client.post("/api/v1/purchase-orders", json={"supplier": "Leafco", "note": "weekly", "lines": [
        {"sku": "TEA", "qty": 24, "cost_minor": 110}, {"sku": "MUG", "qty": 10}]}, headers=h["manager"])
    assert resp.status_code == 201, resp.json
    return resp.json


def on_hand(svc: HubService, sku: str, location: str = "backroom") -> int:
    row = svc.db.conn.execute("SELECT on_hand FROM stock_levels WHERE sku = ? AND location = ?", (sku, location)).fetchone()
    return row[0] if row else 0


def receive(client: FlaskClient, h: dict, body: dict) -> dict:
    resp = client.post("/api/v1/receipts", json=body, headers=h["manager"])
    assert resp.status_code == 201, resp.json
    return resp.json


def by_sku(summary: list[dict]) -> dict[str, tuple[int, int, int, int, int]]:
    return {s["sku"]: (s["ordered"], s["received_before"], s["received_now"], s["remaining"], s["over"]) for s in summary}


def test_a_purchase_order_is_received_in_part_then_the_rest_then_over(svc: HubService, client: FlaskClient, h: dict,
                                                                      order: dict) -> None:
    assert [(ln["sku"], ln["qty_ordered"], ln["cost_minor"]) for ln in order["lines"]] == [("TEA", 24, 110), ("MUG", 10, 200)]
    part = receive(client, h, {"po_id": order["id"], "lines": [{"sku": "TEA", "qty": 10}]})
    assert by_sku(part["po_lines"]) == {"TEA": (24, 0, 10, 14, 0), "MUG": (10, 0, 0, 10, 0)}
    assert part["po_status"] == "open" and part["lines"][0]["cost_minor"] == 110
    po = client.get(f"/api/v1/purchase-orders/{order['id']}", headers=h["manager"]).json
    assert [(ln["qty_received"], ln["open_qty"]) for ln in po["lines"]] == [(10, 14), (0, 10)]
    assert [p["id"] for p in client.get("/api/v1/purchase-orders?status=open", headers=h["manager"]).json["purchase_orders"]] \
        == [order["id"]]
    rest = receive(client, h, {"po_id": order["id"], "lines": [{"sku": "TEA", "qty": 14, "po_line_no": 1},
                                                               {"sku": "MUG", "qty": 10}]})
    assert by_sku(rest["po_lines"]) == {"TEA": (24, 10, 14, 0, 0), "MUG": (10, 0, 10, 0, 0)}
    assert rest["po_status"] == "received"
    assert client.get("/api/v1/purchase-orders?status=open", headers=h["manager"]).json["purchase_orders"] == []
    over = receive(client, h, {"po_id": order["id"], "lines": [{"sku": "TEA", "qty": 3}]})
    assert by_sku(over["po_lines"])["TEA"] == (24, 24, 3, 0, 3) and over["po_status"] == "received"
    po = client.get(f"/api/v1/purchase-orders/{order['id']}", headers=h["manager"]).json
    assert (po["lines"][0]["qty_received"], po["lines"][0]["over_qty"], len(po["receipts"])) == (27, 3, 3)
    assert (on_hand(svc, "TEA"), on_hand(svc, "MUG")) == (27, 10)
    moves = svc.db.conn.execute("SELECT DISTINCT kind, reason, doc_type FROM stock_moves").fetchall()
    assert [tuple(m) for m in moves] == [("receive", "receive", "receipt")]
    sent = [json.loads(r[0]) for r in svc.db.conn.execute("SELECT data FROM outbox WHERE type = 'stock.received' ORDER BY seq")]
    assert [e["id"] for e in sent] == [part["id"], rest["id"], over["id"]]


def test_a_sku_not_on_the_order_is_received_as_unplanned(svc: HubService, client: FlaskClient, h: dict,
                                                         order: dict) -> None:
    got = receive(client, h, {"po_id": order["id"], "location": "floor", "lines": [
        {"sku": "MUG", "qty": 4}, {"sku": "JAM", "qty": 6, "cost_minor": 95}]})
    assert [(ln["sku"], ln["po_line_no"], ln["unplanned"], ln["cost_minor"]) for ln in got["lines"]] == [
        ("MUG", 2, False, 200), ("JAM", None, True, 95)]
    assert got["warnings"] == ["line 2: JAM is not on the purchase order; received as unplanned"]
    assert (on_hand(svc, "JAM", "floor"), on_hand(svc, "MUG", "floor")) == (6, 4)
    reasons = dict(svc.db.conn.execute("SELECT sku, reason FROM stock_moves").fetchall())
    assert reasons == {"MUG": "receive", "JAM": "unplanned"}


def test_a_delivery_without_an_order_is_unplanned(svc: HubService, client: FlaskClient, h: dict, order: dict) -> None:
    got = receive(client, h, {"supplier": "Market", "lines": [{"sku": "JAM", "qty": 5}]})
    assert (got["po_id"], got["po_status"], got["po_lines"], got["supplier"]) == (None, None, [], "Market")
    assert got["lines"] == [{"line_no": 1, "sku": "JAM", "qty": 5, "cost_minor": 90, "po_line_no": None, "unplanned": True,
                             "move_id": got["lines"][0]["move_id"]}]
    assert svc.db.conn.execute("SELECT reason, doc_id, doc_line FROM stock_moves").fetchone()[:] == ("unplanned", got["id"], 1)


def test_bad_receipts_are_refused_and_leave_nothing(svc: HubService, client: FlaskClient, h: dict, order: dict) -> None:
    wrong_line = client.post("/api/v1/receipts", json={"po_id": order["id"], "lines": [
        {"sku": "TEA", "qty": 2}, {"sku": "MUG", "qty": 1, "po_line_no": 1}]}, headers=h["manager"])
    assert wrong_line.status_code == 422 and wrong_line.json["error"]["field"] == "lines[1].po_line_no"
    assert "PO line 1 is for TEA, not MUG" in wrong_line.json["error"]["message"]
    no_qty = client.post("/api/v1/receipts", json={"lines": [{"sku": "TEA", "qty": 0}]}, headers=h["manager"])
    assert no_qty.status_code == 400 and no_qty.json["error"]["field"] == "lines[0].qty"
    nowhere = client.post("/api/v1/receipts", json={"location": "attic", "lines": [{"sku": "TEA", "qty": 1}]},
                          headers=h["manager"])
    assert nowhere.status_code == 422 and nowhere.json["error"]["field"] == "location"
    assert client.post("/api/v1/receipts", json={"po_id": "nope", "lines": [{"sku": "TEA", "qty": 1}]},
                       headers=h["manager"]).status_code == 422
    assert svc.db.conn.execute("SELECT (SELECT count(*) FROM receipts) + (SELECT count(*) FROM stock_moves)").fetchone()[0] == 0
    po = client.get(f"/api/v1/purchase-orders/{order['id']}", headers=h["manager"]).json
    assert [ln["qty_received"] for ln in po["lines"]] == [0, 0]


def test_only_managers_order_and_receive(client: FlaskClient, h: dict, order: dict) -> None:
    assert client.post("/api/v1/receipts", json={"lines": [{"sku": "TEA", "qty": 1}]}, headers=h["cashier"]).status_code == 403
    assert client.post("/api/v1/purchase-orders", json={"lines": [{"sku": "TEA", "qty": 1}]},
                       headers=h["cashier"]).status_code == 403
    assert client.get("/api/v1/purchase-orders", headers=h["cashier"]).status_code == 403
    twice = client.post("/api/v1/purchase-orders", json={"lines": [{"sku": "TEA", "qty": 1}, {"sku": "TEA", "qty": 2}]},
                        headers=h["manager"])
    assert twice.status_code == 400 and twice.json["error"]["field"] == "lines[1].sku"
    assert client.get("/api/v1/purchase-orders?status=maybe", headers=h["manager"]).status_code == 400
    assert client.get("/api/v1/purchase-orders/nope", headers=h["manager"]).status_code == 404


def test_a_delivery_sent_twice_is_received_once(svc: HubService, client: FlaskClient, h: dict, order: dict) -> None:
    delivery = {"id": str(uuid.uuid4()), "location": "backroom", "lines": [{"sku": "TEA", "qty": 6}]}
    first = client.post("/api/v1/receipts", json=delivery, headers=h["manager"])
    again = client.post("/api/v1/receipts", json=delivery, headers=h["manager"])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json
    assert svc.db.conn.execute("SELECT sum(qty) FROM stock_moves WHERE sku = 'TEA' AND kind = 'receive'").fetchone()[0] == 6
    other = client.post("/api/v1/receipts", json={**delivery, "lines": [{"sku": "TEA", "qty": 7}]}, headers=h["manager"])
    assert other.status_code == 409 and other.json["error"]["code"] == "idempotency_conflict"
    bad = client.post("/api/v1/receipts", json={**delivery, "id": "twice"}, headers=h["manager"])
    assert bad.status_code == 400 and bad.json["error"]["field"] == "id"
