"""The item master's prices reach the till: tiers, quantity breaks, modifiers and kits in a sale,
and a scheduled price change that falls due while the hub is off applies when it starts."""

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from hub.mosquitto import Broker
from hub.service import HubService
from hub.web import create_app
from tests.conftest import hub_config
from tests.helpers import T0, Clock


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[HubService]:
    s = HubService(hub_config(tmp_path / "data", store={"prices_include_tax": True}))
    yield s
    s.stop()


@pytest.fixture
def client(svc: HubService) -> FlaskClient:
    app = create_app(svc).test_client()
    owner = {"Authorization": f"Bearer {svc.auth.create_token('owner')}"}
    app.put("/api/v1/modifier-groups/wrap", json={"name": "Gift wrap", "options": [
        {"id": "wrap", "name": "Gift wrap", "delta_minor": 200}]}, headers=owner)
    app.put("/api/v1/modifier-groups/size", json={"name": "Size", "required": True, "options": [
        {"id": "s", "name": "Small", "delta_minor": 0}, {"id": "l", "name": "Large", "delta_minor": 50}]}, headers=owner)
    for body in (
        {"sku": "SOAP", "name": "Soap", "unit": "each", "price_minor": 200, "tiers": {"member": 180},
         "breaks": [{"tier": "retail", "qty": 3, "price_minor": 500}], "modifier_groups": ["wrap"]},
        {"sku": "COFFEE", "name": "Coffee", "unit": "each", "price_minor": 300, "modifier_groups": ["size"]},
        {"sku": "MUG", "name": "Mug", "unit": "each", "price_minor": 600},
        {"sku": "TEE", "name": "T-shirt", "unit": "each", "price_minor": 1500, "variant_axes": ["size"]},
        {"sku": "TEE-M", "parent_sku": "TEE", "variant_values": {"size": "M"}},
        {"sku": "SET", "name": "Mug and soap", "unit": "each", "price_minor": 700, "kit_policy": "components",
         "components": [{"sku": "MUG", "qty": 1}, {"sku": "SOAP", "qty": 2}]},
    ):
        assert app.post("/api/v1/items", json=body, headers=owner).status_code == 201, body
    app.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {svc.auth.create_token('cashier')}"
    return app


def quote(client: FlaskClient, lines: list[dict], tier: str = "retail") -> dict:
    resp = client.post("/api/v1/sales/quote", json={"lines": lines, "tier": tier})
    assert resp.status_code == 200, resp.json
    return resp.json


def test_breaks_and_tiers_price_the_line(client: FlaskClient) -> None:
    line = quote(client, [{"sku": "SOAP", "qty": 7}])["lines"][0]
    assert (line["total_minor"], line["saving_minor"]) == (2 * 500 + 200, 7 * 200 - 1200)
    member = quote(client, [{"sku": "SOAP", "qty": 2}], "member")["lines"][0]
    assert (member["unit_price_minor"], member["total_minor"]) == (180, 360)
    assert client.post("/api/v1/sales/quote", json={"lines": [{"sku": "SOAP", "qty": 1}], "tier": "vip"}).status_code == 400


def test_modifiers_add_their_delta_and_required_groups_are_enforced(client: FlaskClient) -> None:
    wrapped = quote(client, [{"sku": "SOAP", "qty": 2, "modifiers": ["wrap"]}])["lines"][0]
    assert (wrapped["total_minor"], wrapped["modifiers"]) == (2 * 200 + 2 * 200, ["wrap"])
    large = quote(client, [{"sku": "COFFEE", "qty": 1, "modifiers": ["l"]}])["lines"][0]
    assert large["total_minor"] == 350
    missing = client.post("/api/v1/sales/quote", json={"lines": [{"sku": "COFFEE", "qty": 1}]})
    assert missing.status_code == 422 and "Size" in missing.json["error"]["message"]
    foreign = client.post("/api/v1/sales/quote", json={"lines": [{"sku": "MUG", "qty": 1, "modifiers": ["wrap"]}]})
    assert foreign.status_code == 422 and foreign.json["error"]["field"] == "lines[0].modifiers"


def test_a_variant_parent_is_not_sold_itself(client: FlaskClient) -> None:
    resp = client.post("/api/v1/sales/quote", json={"lines": [{"sku": "TEE", "qty": 1}]})
    assert resp.status_code == 422 and "pick the variant" in resp.json["error"]["message"]
    assert quote(client, [{"sku": "TEE-M", "qty": 1}])["lines"][0]["total_minor"] == 1500


def test_a_kit_sold_by_its_components_takes_their_stock(svc: HubService, client: FlaskClient) -> None:
    with svc.db.write() as conn:
        svc.store.move_stock(conn, "MUG", "floor", 10, "receive", "t")
        svc.store.move_stock(conn, "SOAP", "floor", 10, "receive", "t")
    body = {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "SET", "qty": 2}],
            "tenders": [{"kind": "cash", "amount_minor": 2000}]}
    sale = client.post("/api/v1/sales", json=body)
    assert sale.status_code == 201 and sale.json["total_minor"] == 1400
    on_hand = {r[0]: r[1] for r in svc.db.conn.execute("SELECT sku, sum(on_hand) FROM stock_levels GROUP BY sku")}
    assert on_hand == {"MUG": 8, "SOAP": 6}  # the set itself holds no stock
    line = svc.db.conn.execute("SELECT modifiers, saving_minor FROM sale_lines WHERE sale_id = ?", (body["id"],)).fetchone()
    assert (json.loads(line[0]), line[1]) == ([], 0)


def test_a_price_change_due_while_the_hub_was_off_applies_at_start(tmp_path: Path, broker: Broker) -> None:
    clock = Clock(T0)
    first = HubService(hub_config(tmp_path / "data", broker), clock=clock)
    try:
        owner = {"Authorization": f"Bearer {first.auth.create_token('owner')}"}
        app = create_app(first).test_client()
        app.post("/api/v1/items", json={"sku": "JAM", "name": "Jam", "unit": "each", "price_minor": 350}, headers=owner)
        when = (T0 + timedelta(hours=8)).isoformat()
        assert app.patch("/api/v1/items/JAM", json={"price_minor": 299, "effective_at": when, "reason": "Monday promo"},
                         headers=owner).status_code == 202
    finally:
        first.stop()
    clock.now = T0 + timedelta(days=1)  # the hub was off when the change fell due
    second = HubService(hub_config(tmp_path / "data", broker), clock=clock)
    try:
        assert second.catalog.get("JAM")["price_minor"] == 350
        second.start()
        item = second.catalog.get("JAM")
        assert item["price_minor"] == 299
        change = second.catalog.history("JAM")[0]
        assert (change["field"], change["reason"], change["at"]) == ("price_minor", "Monday promo", "2026-11-28T09:00:00.000Z")
        assert second.changes.requests(sku="JAM")[0]["status"] == "applied"
    finally:
        second.stop()
