"""The registers' offline catalog carries what the hub prices by: tier prices, quantity breaks,
modifier groups and the store's pricing settings; only items that have a price list pay bytes for
it, and a change to any of it reaches the tablet as a delta."""

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub import catalog_snapshot
from hub.service import HubService
from tests.hub.test_register_pricing_js import hub_catalog


@pytest.fixture
def priced(client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    owner = h["owner"]
    assert client.put("/api/v1/tax-categories/std", json={"name": "Standard", "rate_bp": 2000},
                      headers=owner).status_code == 200
    for gid, name, options in (("zsize", "Size", [("s", 0), ("l", 50)]), ("amilk", "Milk", [("oat", 30), ("soy", 20)])):
        resp = client.put(f"/api/v1/modifier-groups/{gid}", json={"name": name, "required": gid == "zsize", "options": [
            {"id": oid, "name": oid.upper(), "delta_minor": d} for oid, d in options]}, headers=owner)
        assert resp.status_code == 200, resp.json
    for body in (
        {"sku": "SOAP", "name": "Soap", "unit": "each", "price_minor": 200, "tiers": {"member": 180, "wholesale": 150},
         "breaks": [{"tier": "retail", "qty": 6, "price_minor": 1000}, {"tier": "retail", "qty": 3, "price_minor": 550},
                    {"tier": "member", "qty": 2, "price_minor": 340}]},
        # positions say Size before Milk, though 'amilk' sorts first: the till lists them as the owner ordered
        {"sku": "LATTE", "name": "Latte", "unit": "each", "price_minor": 320, "modifier_groups": ["zsize", "amilk"]},
        {"sku": "MUG", "name": "Mug", "unit": "each", "price_minor": 600},
    ):
        resp = client.post("/api/v1/items", json={**body, "tax_category": "std"}, headers=owner)
        assert resp.status_code == 201, resp.json


def snapshot(svc: HubService) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    header, *rows = [json.loads(line) for line in
                     b"".join(catalog_snapshot.stream_snapshot(svc.db.path, svc.config["store"])).splitlines()]
    return header, {r[0]: r for r in rows}


def changes(client: FlaskClient, h: dict, since: int) -> dict[str, Any]:
    resp = client.get(f"/api/v1/catalog/changes?since={since}", headers=h["cashier"])
    assert resp.status_code == 200, resp.json
    return resp.json


@pytest.mark.usefixtures("priced")
def test_only_items_with_a_price_list_carry_one(svc: HubService) -> None:
    header, rows = snapshot(svc)
    assert header["format"] == "backroom.catalog.v2" and header["fields"][-1] == "prices"
    assert len(rows["MUG"]) == 8  # a plain item: not one byte more than before
    assert rows["SOAP"][8] == {"tiers": {"member": 180, "wholesale": 150},
                               "breaks": {"member": [[2, 340]], "retail": [[3, 550], [6, 1000]]}, "groups": []}
    assert rows["LATTE"][8] == {"tiers": {}, "breaks": {}, "groups": ["zsize", "amilk"]}
    assert header["modifier_groups"]["zsize"] == {"name": "Size", "required": True, "max_choices": 1,
                                                  "options": [["s", "S", 0], ["l", "L", 50]]}
    store = svc.config["store"]
    assert header["store"] == {"currency": store["currency"], "prices_include_tax": store["prices_include_tax"],
                               "tax_rounding": store["tax_rounding"],
                               "discount_approval_bp": store["discount_approval_bp"],
                               "discount_approval_minor": store["discount_approval_minor"],
                               "discount_reasons": list(store["discount_reasons"])}


@pytest.mark.usefixtures("priced")
def test_the_snapshot_rebuilds_the_items_the_hub_prices_with(svc: HubService) -> None:
    header, rows = snapshot(svc)
    from_snapshot = hub_catalog(header, list(rows.values()))
    hub = svc.store.items(rows)
    for sku, item in hub.items():
        mine = from_snapshot[sku]
        assert (mine.name, mine.unit, mine.price_minor, mine.tax_rate_bp, mine.active) == \
            (item.name, item.unit, item.price_minor, item.tax_rate_bp, item.active)
        assert mine.modifier_groups == item.modifier_groups, sku  # options and groups in the hub's order
        if item.prices is not None:
            assert mine.prices == item.prices, sku


@pytest.mark.usefixtures("priced")
def test_a_tier_break_or_modifier_change_reaches_the_tablet_as_a_delta(svc: HubService, client: FlaskClient,
                                                                       h: dict) -> None:
    version = snapshot(svc)[0]["version"]
    steps: list[tuple[str, dict[str, Any], Any]] = [
        ("SOAP", {"tiers": {"member": 175}}, lambda p: p["tiers"] == {"member": 175}),
        ("SOAP", {"breaks": [{"tier": "retail", "qty": 4, "price_minor": 700}]},
         lambda p: p["breaks"] == {"retail": [[4, 700]]}),
        ("LATTE", {"modifier_groups": ["amilk"]}, lambda p: p["groups"] == ["amilk"]),
        ("MUG", {"tiers": {"wholesale": 500}}, lambda p: p["tiers"] == {"wholesale": 500}),
    ]
    for sku, patch, seen in steps:
        resp = client.patch(f"/api/v1/items/{sku}", json=patch, headers=h["owner"])
        assert resp.status_code == 200, resp.json
        delta = changes(client, h, version)
        assert delta["version"] > version, patch
        (row,) = [u for u in delta["upserts"] if u[0] == sku]
        assert seen(row[8]), (patch, row)
        version = delta["version"]
    # all of SOAP's tiers and breaks gone: back to a plain row
    assert client.patch("/api/v1/items/SOAP", json={"tiers": {}, "breaks": []}, headers=h["owner"]).status_code == 200
    delta = changes(client, h, version)
    assert [len(u) for u in delta["upserts"]] == [8]
    version = delta["version"]
    # an option's price changes for every item that offers it: a store-wide bump, the groups come whole
    resp = client.put("/api/v1/modifier-groups/amilk", json={"name": "Milk", "options": [
        {"id": "oat", "name": "OAT", "delta_minor": 40}, {"id": "soy", "name": "SOY", "delta_minor": 20}]}, headers=h["owner"])
    assert resp.status_code == 200, resp.json
    delta = changes(client, h, version)
    assert delta["version"] > version and delta["upserts"] == []
    assert delta["modifier_groups"]["amilk"]["options"][0] == ["oat", "OAT", 40]
