"""Parked carts survive a hub restart and are resumed once; a voided cart leaves a cart.voided event."""

import json
import uuid
from pathlib import Path

from flask.testing import FlaskClient

from hub.service import HubService
from hub.web import create_app
from tests.conftest import hub_config
from tests.helpers import Clock

CART = {"lines": [{"key": "k1", "sku": "MUG", "name": "Mug", "unit": "each", "qty": 2,
                   "discount": {"percent_bp": 1000, "reason": "loyalty"}}], "tier": "member"}


def test_a_parked_cart_survives_a_restart_and_is_resumed_once(tmp_path: Path, clock: Clock) -> None:
    svc = HubService(hub_config(tmp_path / "data"), clock=clock)
    try:
        client = create_app(svc).test_client()
        h = {"Authorization": f"Bearer {svc.auth.create_token('cashier')}"}
        cart_id = str(uuid.uuid4())
        first = client.post("/api/v1/registers/till-1/parked", json={"id": cart_id, "cart": CART, "label": "blue coat"},
                            headers=h)
        assert first.status_code == 201, first.json
        assert first.json["label"] == "blue coat" and first.json["line_count"] == 1 and first.json["parked_by"]
        again = client.post("/api/v1/registers/till-1/parked", json={"id": cart_id, "cart": CART}, headers=h)
        assert again.status_code == 200 and again.json["parked_at"] == first.json["parked_at"]
        other = client.post("/api/v1/registers/till-1/parked",
                            json={"id": cart_id, "cart": {"lines": [{"sku": "TEA", "qty": 1}]}}, headers=h)
        assert other.status_code == 409
    finally:
        svc.stop()

    svc = HubService(hub_config(tmp_path / "data"), clock=clock)  # the hub restarts
    try:
        client = create_app(svc).test_client()
        h = {"Authorization": f"Bearer {svc.auth.create_token('cashier')}"}
        [waiting] = client.get("/api/v1/registers/till-1/parked", headers=h).json["parked"]
        assert waiting["id"] == cart_id and waiting["register_id"] == "till-1"
        resumed = client.post(f"/api/v1/registers/till-1/parked/{cart_id}/resume", headers=h)
        assert resumed.status_code == 200 and resumed.json["cart"] == CART
        assert client.get("/api/v1/registers/till-1/parked", headers=h).json["parked"] == []
        twice = client.post(f"/api/v1/registers/till-1/parked/{cart_id}/resume", headers=h)
        assert twice.status_code == 409 and twice.json["error"]["code"] == "already_resumed"
        assert client.post(f"/api/v1/registers/till-1/parked/{uuid.uuid4()}/resume", headers=h).status_code == 404
    finally:
        svc.stop()


def test_parking_checks_what_it_keeps(client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    url = "/api/v1/registers/till-1/parked"
    bad = client.post(url, json={"id": "not-a-uuid", "cart": CART}, headers=h["cashier"])
    assert bad.status_code == 400 and bad.json["error"]["field"] == "id"
    empty = client.post(url, json={"id": str(uuid.uuid4()), "cart": {"lines": []}}, headers=h["cashier"])
    assert empty.status_code == 400 and empty.json["error"]["field"] == "cart"
    nowhere = client.post("/api/v1/registers/nowhere/parked", json={"id": str(uuid.uuid4()), "cart": CART},
                          headers=h["cashier"])
    assert nowhere.status_code == 404
    assert client.get(url).status_code == 401


def test_a_voided_cart_is_an_event_for_loss_prevention_and_counts_once(svc: HubService, client: FlaskClient,
                                                                       h: dict[str, dict[str, str]]) -> None:
    body = {"id": str(uuid.uuid4()), "lines": [{"sku": "MUG", "name": "Mug", "unit": "each", "qty": 2,
                                                "total_minor": 700, "key": "dropped"}],
            "total_minor": 700, "reason": "customer left"}
    first = client.post("/api/v1/registers/till-1/cart-voids", json=body, headers=h["cashier"])
    assert first.status_code == 201, first.json
    assert client.post("/api/v1/registers/till-1/cart-voids", json=body, headers=h["cashier"]).json == first.json
    rows = svc.db.conn.execute("SELECT data FROM outbox WHERE type = 'cart.voided'").fetchall()
    assert len(rows) == 1
    event = json.loads(rows[0][0])
    assert event["lines"] == [{"sku": "MUG", "name": "Mug", "unit": "each", "qty": 2, "total_minor": 700}]
    assert event["total_minor"] == 700 and event["reason"] == "customer left" and event["register_id"] == "till-1"
    refused = client.post("/api/v1/registers/till-1/cart-voids", json={"id": str(uuid.uuid4()), "lines": []},
                          headers=h["cashier"])
    assert refused.status_code == 400 and refused.json["error"]["field"] == "lines"


def test_a_cashier_post_voids_a_sale_only_with_a_managers_approval(svc: HubService, client: FlaskClient,
                                                                   h: dict[str, dict[str, str]]) -> None:
    assert client.post("/api/v1/items", json={"sku": "MUG", "name": "Mug", "unit": "each", "price_minor": 350},
                       headers=h["owner"]).status_code == 201
    sale = client.post("/api/v1/sales", json={"id": str(uuid.uuid4()), "register_id": "till-1",
                                              "lines": [{"sku": "MUG", "qty": 1}],
                                              "tenders": [{"kind": "cash", "amount_minor": 500}]}, headers=h["cashier"]).json
    url = f"/api/v1/sales/{sale['id']}/void"
    refused = client.post(url, json={"reason": "rang twice"}, headers=h["cashier"])
    assert refused.status_code == 403 and refused.json["error"]["code"] == "approval_required"
    svc.auth.set_user("mia", "long enough password", "manager", actor="owner")
    svc.people.set_pin("mia", "739152", "owner")
    other = svc.approvals.grant("till-1", {"action": "post_void", "approver": "mia", "pin": "739152",
                                           "details": {"sale_id": str(uuid.uuid4())}}, "cashier", "register:till-1")
    wrong = client.post(url, json={"reason": "rang twice", "approval": other["token"]}, headers=h["cashier"])
    assert wrong.status_code == 403 and wrong.json["error"]["code"] == "approval_invalid"
    token = svc.approvals.grant("till-1", {"action": "post_void", "approver": "mia", "pin": "739152",
                                           "details": {"sale_id": sale["id"]}}, "cashier", "register:till-1")["token"]
    voided = client.post(url, json={"reason": "rang twice", "approval": token}, headers=h["cashier"])
    assert voided.status_code == 200, voided.json
    assert svc.db.conn.execute("SELECT voided_at IS NOT NULL FROM sales").fetchone()[0] == 1
