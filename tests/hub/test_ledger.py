"""The ledger's own documents through the API: adjustments, transfers, dispositions, reservations,
history with running balance, exceptions, negative-stock policy, codes and locations."""

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from hub.service import HubService
from hub.web import create_app
from tests.conftest import hub_config
from tests.helpers import T0, Clock


def make(tmp_path: Path, **store: object) -> tuple[HubService, FlaskClient, dict[str, dict[str, str]]]:
    svc = HubService(hub_config(tmp_path / "data", store=store), clock=Clock(T0))
    client = create_app(svc).test_client()
    h = {r: {"Authorization": f"Bearer {svc.auth.create_token(r)}"} for r in ("owner", "manager", "cashier")}
    for body in ({"sku": "TEA", "name": "Tea", "unit": "each", "price_minor": 250, "cost_minor": 100},
                 {"sku": "TEA-MD", "name": "Tea (dented)", "unit": "each", "price_minor": 150},
                 {"sku": "HAM", "name": "Ham", "unit": "g", "price_minor": 2000, "cost_minor": 1200}):
        assert client.post("/api/v1/items", json=body, headers=h["owner"]).status_code == 201
    return svc, client, h


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[HubService, FlaskClient, dict[str, dict[str, str]]]]:
    svc, client, h = make(tmp_path)
    yield svc, client, h
    svc.stop()


def levels(client: FlaskClient, h: dict, sku: str) -> dict[str, int]:
    return {r["location"]: r["on_hand"] for r in client.get(f"/api/v1/stock/{sku}", headers=h["cashier"]).json["locations"]}


def projection_matches_moves(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    try:
        moves = dict(((s, loc), q) for s, loc, q in conn.execute("SELECT sku, location, sum(qty) FROM stock_moves GROUP BY 1, 2"))
        levels = dict(((s, loc), q) for s, loc, q in conn.execute("SELECT sku, location, on_hand FROM stock_levels"))
        assert {k: v for k, v in levels.items() if v or k in moves} == moves
    finally:
        conn.close()


def test_adjustments_need_a_known_reason_and_leave_a_trail(shop: tuple) -> None:
    svc, client, h = shop
    ok = client.post("/api/v1/stock/adjustments", json={"sku": "TEA", "location": "backroom", "qty": 24, "reason": "found"},
                     headers=h["manager"])
    assert ok.status_code == 201 and levels(client, h, "TEA") == {"backroom": 24}
    for body, field in (({"sku": "TEA", "qty": -1, "reason": "lost"}, "reason"),
                        ({"sku": "TEA", "qty": 0, "reason": "theft"}, "qty"),
                        ({"sku": "TEA", "qty": -1, "reason": "correction"}, "note"),
                        ({"sku": "NOPE", "qty": 1, "reason": "found"}, "sku"),
                        ({"sku": "TEA", "qty": 1, "reason": "found", "location": "roof"}, "location")):
        bad = client.post("/api/v1/stock/adjustments", json=body, headers=h["manager"])
        assert 400 <= bad.status_code < 500 and bad.json["error"]["field"] == field, (body, bad.json)
    assert client.post("/api/v1/stock/adjustments", json={"sku": "TEA", "qty": 1, "reason": "found"},
                       headers=h["cashier"]).status_code == 403
    move = svc.db.conn.execute("SELECT reason, actor, at, kind FROM stock_moves ORDER BY id DESC LIMIT 1").fetchone()
    assert move["reason"] == "found" and move["actor"].startswith("token:") and move["at"] and move["kind"] == "adjustment"
    projection_matches_moves(svc.db.path)


def test_a_move_without_reason_or_user_is_refused_by_the_database(shop: tuple) -> None:
    svc, _, _ = shop
    with pytest.raises(sqlite3.IntegrityError, match="needs a reason and a user"), svc.db.write() as conn:
        conn.execute("INSERT INTO stock_moves (sku, location, qty, kind, reason, actor, at) "
                     "VALUES ('TEA', 'floor', 1, 'adjustment', '', 'x', '2026-01-01')")


def test_transfers_dispositions_and_history_with_running_balance(shop: tuple) -> None:
    svc, client, h = shop
    client.post("/api/v1/stock/adjustments", json={"sku": "TEA", "location": "backroom", "qty": 20, "reason": "found"},
                headers=h["manager"])
    moved = client.post("/api/v1/transfers", json={"sku": "TEA", "from": "backroom", "to": "floor", "qty": 12},
                        headers=h["manager"])
    assert moved.status_code == 201 and levels(client, h, "TEA") == {"backroom": 8, "floor": 12}
    client.post("/api/v1/transfers", json={"sku": "TEA", "from": "floor", "to": "review", "qty": 3}, headers=h["manager"])
    for action, extra in (("restock", {}), ("markdown", {"markdown_sku": "TEA-MD"}), ("write_off", {})):
        r = client.post("/api/v1/stock/dispositions", json={"sku": "TEA", "qty": 1, "action": action, **extra},
                        headers=h["manager"])
        assert r.status_code == 201, r.json
    assert levels(client, h, "TEA") == {"backroom": 8, "floor": 10, "review": 0}
    assert levels(client, h, "TEA-MD") == {"floor": 1}
    same = client.post("/api/v1/transfers", json={"sku": "TEA", "from": "floor", "to": "floor", "qty": 1}, headers=h["manager"])
    assert same.status_code == 400
    history = client.get("/api/v1/stock/TEA/moves?limit=3", headers=h["manager"]).json
    assert history["on_hand"] == 18 and history["moves"][0]["balance"] == 18
    older = client.get(f"/api/v1/stock/TEA/moves?before={history['next_before']}", headers=h["manager"]).json
    carried = client.get(f"/api/v1/stock/TEA/moves?before={history['next_before']}&balance={history['next_balance']}",
                         headers=h["manager"]).json
    assert carried["moves"] == older["moves"]  # the balance handed on equals the one summed from the moves
    every = history["moves"] + older["moves"]
    for newer, older_move in zip(every, every[1:], strict=False):  # each balance is the one before plus the move
        assert newer["balance"] == older_move["balance"] + newer["qty"]
    assert every[-1]["balance"] == every[-1]["qty"] == 20
    floor_only = client.get("/api/v1/stock/TEA/moves?location=floor", headers=h["manager"]).json
    assert floor_only["on_hand"] == 10 and floor_only["moves"][0]["balance"] == 10
    projection_matches_moves(svc.db.path)


def sell(client: FlaskClient, h: dict, sku: str, qty: int) -> object:
    return client.post("/api/v1/sales", json={"id": str(uuid.uuid4()), "register_id": "till-1",
                                              "lines": [{"sku": sku, "qty": qty}],
                                              "tenders": [{"kind": "cash", "amount_minor": 10**6}]}, headers=h["cashier"])


def test_negative_stock_allowed_lands_on_the_exceptions_list(shop: tuple) -> None:
    svc, client, h = shop
    assert sell(client, h, "TEA", 2).status_code == 201
    exceptions = client.get("/api/v1/stock/exceptions", headers=h["manager"]).json
    assert [(n["sku"], n["on_hand"]) for n in exceptions["negative_stock"]] == [("TEA", -2)]


def test_negative_stock_blocked_by_the_store_or_the_item(tmp_path: Path) -> None:
    svc, client, h = make(tmp_path, negative_stock="block")
    try:
        client.post("/api/v1/stock/adjustments", json={"sku": "TEA", "qty": 1, "reason": "found"}, headers=h["manager"])
        refused = sell(client, h, "TEA", 2)
        assert refused.status_code == 422 and refused.json["error"]["code"] == "out_of_stock"
        assert "only 1 of Tea" in refused.json["error"]["message"]
        assert sell(client, h, "TEA", 1).status_code == 201
        with svc.db.write() as conn:  # the item overrides the store
            conn.execute("UPDATE items SET negative_stock = 'allow' WHERE sku = 'TEA'")
        assert sell(client, h, "TEA", 1).status_code == 201
        assert levels(client, h, "TEA") == {"floor": -1}
    finally:
        svc.stop()


def test_reservations_hold_stock_until_released(shop: tuple) -> None:
    svc, client, h = shop
    client.post("/api/v1/stock/adjustments", json={"sku": "TEA", "qty": 5, "reason": "found"}, headers=h["manager"])
    held = client.post("/api/v1/reservations", json={"sku": "TEA", "qty": 3, "ref": "web order 7"}, headers=h["cashier"])
    assert held.status_code == 201
    floor = next(r for r in held.json["levels"] if r["location"] == "floor")
    assert (floor["on_hand"], floor["reserved"], floor["available"]) == (5, 3, 2)
    too_many = client.post("/api/v1/reservations", json={"sku": "TEA", "qty": 3}, headers=h["cashier"])
    assert too_many.status_code == 422 and "only 2" in too_many.json["error"]["message"]
    res_id = held.json["id"]
    assert client.post(f"/api/v1/reservations/{res_id}/release", json={"outcome": "cancelled"},
                       headers=h["cashier"]).json["levels"][0]["reserved"] == 0
    assert client.post(f"/api/v1/reservations/{res_id}/release", json={"outcome": "cancelled"},
                       headers=h["cashier"]).status_code == 409


def test_owners_extend_codes_and_locations(shop: tuple) -> None:
    svc, client, h = shop
    assert client.put("/api/v1/locations/cold_room", json={"name": "Cold room"}, headers=h["manager"]).status_code == 403
    assert client.put("/api/v1/locations/cold_room", json={"name": "Cold room"}, headers=h["owner"]).status_code == 200
    water = client.put("/api/v1/reason-codes/condition/water_damage", json={"label": "Water damage", "location": "damaged"},
                       headers=h["owner"])
    assert water.status_code == 200
    codes = client.get("/api/v1/reason-codes", headers=h["cashier"]).json
    assert {"water_damage", "resellable"} <= {c["code"] for c in codes["condition"]}
    assert {c["code"] for c in codes["adjustment"]} >= {"shrink", "theft", "damaged", "expired", "found", "correction"}
    no_place = client.put("/api/v1/reason-codes/condition/odd", json={"label": "Odd", "location": "moon"}, headers=h["owner"])
    assert no_place.status_code == 422
    client.post("/api/v1/stock/adjustments", json={"sku": "TEA", "location": "cold_room", "qty": 2, "reason": "found"},
                headers=h["manager"])
    busy = client.put("/api/v1/locations/cold_room", json={"name": "Cold room", "active": False}, headers=h["owner"])
    assert busy.status_code == 422 and "still holds stock" in busy.json["error"]["message"]
    assert client.put("/api/v1/locations/floor", json={"name": "Floor", "active": False},
                      headers=h["owner"]).status_code == 422


def test_shrink_by_reason_in_the_exceptions(shop: tuple) -> None:
    svc, client, h = shop
    for qty, reason in ((10, "found"), (-2, "theft"), (-1, "theft"), (-3, "expired")):
        client.post("/api/v1/stock/adjustments", json={"sku": "TEA", "qty": qty, "reason": reason}, headers=h["manager"])
    shrink = {r["reason"]: (r["qty"], r["cost_minor"]) for r in
              client.get("/api/v1/stock/exceptions", headers=h["manager"]).json["shrink"]["by_reason"]}
    assert shrink == {"theft": (3, 300), "expired": (3, 300)}


def test_what_one_location_holds(shop: tuple) -> None:
    svc, client, h = shop
    client.post("/api/v1/stock/adjustments", json={"sku": "TEA", "qty": 4, "reason": "found"}, headers=h["manager"])
    client.post("/api/v1/transfers", json={"sku": "TEA", "from": "floor", "to": "review", "qty": 1}, headers=h["manager"])
    review = client.get("/api/v1/stock?location=review", headers=h["manager"]).json
    assert [(r["sku"], r["on_hand"]) for r in review["levels"]] == [("TEA", 1)]
    assert client.get("/api/v1/stock?location=moon", headers=h["manager"]).status_code == 422
    assert client.get("/api/v1/stock?location=review", headers=h["cashier"]).status_code == 403
