"""The item master through its REST API: roles, change requests, history, variants, kits, barcodes."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from hub.domain.barcodes import check_digit, parse
from hub.service import HubService
from hub.web import create_app
from tests.conftest import hub_config
from tests.helpers import T0, Clock


@pytest.fixture
def tea(client: FlaskClient, h: dict[str, dict[str, str]]) -> dict:
    assert client.put("/api/v1/tax-categories/standard", json={"name": "Standard", "rate_bp": 2000},
                      headers=h["owner"]).status_code == 200
    resp = client.post("/api/v1/items", json={
        "sku": "TEA", "name": "Green tea 20 bags", "unit": "each", "price_minor": 249, "tax_category": "standard",
        "cost_minor": 120, "department": "Pantry", "supplier": "Leafco", "supplier_sku": "LC-9", "case_pack": 12,
        "net_content": 40, "net_unit": "g",
        "barcodes": ["4006381333931", {"code": "14006381333938", "packaging": "case", "pack_qty": 12}]},
        headers=h["owner"])
    assert resp.status_code == 201, resp.json
    return resp.json


def events(svc: HubService, type_: str) -> list[dict]:
    return [json.loads(r[0]) for r in svc.db.conn.execute("SELECT data FROM outbox WHERE type = ? ORDER BY seq", (type_,))]


def test_an_item_is_created_whole_and_found_by_every_code(client: FlaskClient, h: dict, tea: dict) -> None:
    assert (tea["tax_rate_bp"], tea["case_pack"], tea["supplier_sku"]) == (2000, 12, "LC-9")
    assert {b["code"]: b["pack_qty"] for b in tea["barcodes"]} == {"04006381333931": 1, "14006381333938": 12}
    case = client.get("/api/v1/lookup?code=14006381333938", headers=h["cashier"]).json
    assert (case["item"]["sku"], case["qty"], case["line_price_minor"]) == ("TEA", 12, 12 * 249)
    assert client.get("/api/v1/items/TEA", headers=h["cashier"]).json["name"] == "Green tea 20 bags"


def test_a_barcode_held_by_another_item_is_refused_naming_it(client: FlaskClient, h: dict, tea: dict) -> None:
    resp = client.post("/api/v1/items", json={"sku": "COPY", "name": "Copy", "unit": "each", "price_minor": 1,
                                              "barcodes": ["4006381333931"]}, headers=h["owner"])
    assert resp.status_code == 409 and "already belongs to item TEA (Green tea 20 bags)" in resp.json["error"]["message"]
    assert client.get("/api/v1/items/COPY", headers=h["owner"]).status_code == 404  # nothing half-made
    again = client.post("/api/v1/items/TEA/barcodes", json={"code": "4006381333931"}, headers=h["manager"])
    assert again.status_code == 409 and "TEA" in again.json["error"]["message"]
    dup = client.post("/api/v1/items", json={"sku": "TEA", "name": "x", "unit": "each", "price_minor": 1}, headers=h["owner"])
    assert dup.status_code == 409


@pytest.mark.parametrize(("body", "field"), [
    ({"sku": "X 1", "name": "n", "unit": "each", "price_minor": 1}, "sku"),
    ({"sku": "X1", "name": "", "unit": "each", "price_minor": 1}, "name"),
    ({"sku": "X1", "name": "n", "unit": "kg", "price_minor": 1}, "unit"),
    ({"sku": "X1", "name": "n", "unit": "each", "price_minor": 2.5}, "price_minor"),
    ({"sku": "X1", "name": "n", "unit": "each", "price_minor": 1, "tax_category": "nope"}, "tax_category"),
    ({"sku": "X1", "name": "n", "unit": "each", "price_minor": 1, "colour": "red"}, "colour"),
    ({"sku": "X1", "name": "n", "unit": "g", "price_minor": 1, "breaks": [{"tier": "retail", "qty": 3, "price_minor": 1}]}, "breaks"),
    ({"sku": "X1", "name": "n", "unit": "each", "price_minor": 1, "barcodes": ["4006381333932"]}, "code"),
])
def test_bad_items_are_refused_naming_the_field(client: FlaskClient, h: dict, body: dict, field: str) -> None:
    resp = client.post("/api/v1/items", json=body, headers=h["owner"])
    assert 400 <= resp.status_code < 500 and resp.json["error"]["field"] == field, resp.json


def test_cashiers_edit_nothing_and_do_not_see_costs(client: FlaskClient, h: dict, tea: dict) -> None:
    assert "cost_minor" not in client.get("/api/v1/items/TEA", headers=h["cashier"]).json
    assert client.get("/api/v1/items/TEA", headers=h["manager"]).json["cost_minor"] == 120
    assert client.patch("/api/v1/items/TEA", json={"name": "x"}, headers=h["cashier"]).status_code == 403
    assert client.post("/api/v1/items", json={"sku": "N", "name": "n", "unit": "each", "price_minor": 1},
                       headers=h["cashier"]).status_code == 403


def test_a_managers_price_change_waits_for_an_owner(svc: HubService, client: FlaskClient, h: dict, tea: dict) -> None:
    resp = client.patch("/api/v1/items/TEA", json={"name": "Green tea, 20 bags", "price_minor": 279,
                                                   "reason": "supplier price rise"}, headers=h["manager"])
    assert resp.status_code == 200  # the name applied at once, the price waits
    assert resp.json["applied"] == {"name": {"old": "Green tea 20 bags", "new": "Green tea, 20 bags"}}
    request = resp.json["request"]
    assert (request["status"], request["changes"]) == ("pending", {"price_minor": {"old": 249, "new": 279}})
    assert client.get("/api/v1/items/TEA", headers=h["cashier"]).json["price_minor"] == 249
    only_price = client.patch("/api/v1/items/TEA", json={"cost_minor": 130}, headers=h["manager"])
    assert only_price.status_code == 202 and only_price.json["applied"] == {}
    # the manager cannot approve it; a manager token is someone else but not an owner
    assert client.post(f"/api/v1/change-requests/{request['id']}/approve", headers=h["manager"]).status_code == 403
    approved = client.post(f"/api/v1/change-requests/{request['id']}/approve", json={"note": "ok"}, headers=h["owner"])
    assert approved.status_code == 200 and approved.json["status"] == "applied"
    assert client.get("/api/v1/items/TEA", headers=h["cashier"]).json["price_minor"] == 279
    assert client.post(f"/api/v1/change-requests/{request['id']}/approve", headers=h["owner"]).status_code == 409
    history = client.get("/api/v1/items/TEA/history", headers=h["manager"]).json["changes"]
    price = next(c for c in history if c["field"] == "price_minor")
    assert (price["old"], price["new"], price["reason"], price["request_id"]) == (249, 279, "supplier price rise", request["id"])
    assert "approved by token:" in price["actor"]
    assert events(svc, "price.changed")[-1]["changes"] == {"price_minor": {"old": 249, "new": 279}}
    assert [lbl["sku"] for lbl in client.get("/api/v1/labels/queue", headers=h["manager"]).json["labels"]] == ["TEA"]


def test_a_rejected_request_changes_nothing_and_a_stale_one_is_refused(client: FlaskClient, h: dict, tea: dict) -> None:
    first = client.patch("/api/v1/items/TEA", json={"price_minor": 199}, headers=h["manager"]).json["request"]
    second = client.patch("/api/v1/items/TEA", json={"price_minor": 299}, headers=h["manager"]).json["request"]
    rejected = client.post(f"/api/v1/change-requests/{first['id']}/reject", json={"note": "too cheap"}, headers=h["owner"])
    assert rejected.json["status"] == "rejected"
    assert client.patch("/api/v1/items/TEA", json={"price_minor": 259}, headers=h["owner"]).status_code == 200
    stale = client.post(f"/api/v1/change-requests/{second['id']}/approve", headers=h["owner"])
    assert stale.status_code == 409 and "changed since" in stale.json["error"]["message"]
    assert client.get("/api/v1/items/TEA", headers=h["owner"]).json["price_minor"] == 259


def test_an_owners_own_change_applies_at_once_and_is_recorded(svc: HubService, client: FlaskClient, h: dict, tea: dict) -> None:
    resp = client.patch("/api/v1/items/TEA", json={"price_minor": 229, "tax_category": "zero", "reason": "promo"},
                        headers=h["owner"])
    assert resp.status_code == 200 and resp.json["request"] is None
    history = client.get("/api/v1/items/TEA/history", headers=h["owner"]).json["changes"]
    assert {c["field"] for c in history} >= {"price_minor", "tax_category", "created"}
    assert all(c["actor"].startswith("token:") and c["at"] for c in history)
    unchanged = client.patch("/api/v1/items/TEA", json={"price_minor": 229}, headers=h["owner"])
    assert unchanged.json["applied"] == {}  # same value: no audit row, no event
    assert len(client.get("/api/v1/items/TEA/history", headers=h["owner"]).json["changes"]) == len(history)


def test_scheduled_price_change_applies_when_due(svc: HubService, clock: Clock, client: FlaskClient, h: dict, tea: dict) -> None:
    when = (T0 + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    resp = client.patch("/api/v1/items/TEA", json={"price_minor": 199, "effective_at": when}, headers=h["owner"])
    assert resp.status_code == 202 and resp.json["request"]["status"] == "scheduled"
    assert svc.changes.apply_due() == 0
    clock.now = T0 + timedelta(hours=2, seconds=1)
    assert svc.changes.apply_due() == 1
    assert client.get("/api/v1/items/TEA", headers=h["cashier"]).json["price_minor"] == 199
    assert svc.changes.apply_due() == 0
    bad = client.patch("/api/v1/items/TEA", json={"price_minor": 1, "effective_at": "tomorrow"}, headers=h["owner"])
    assert bad.status_code == 400 and bad.json["error"]["field"] == "effective_at"


def test_variants_follow_their_parent_until_priced_themselves(client: FlaskClient, h: dict) -> None:
    parent = {"sku": "TSHIRT", "name": "T-shirt", "unit": "each", "price_minor": 1500, "variant_axes": ["size", "colour"]}
    assert client.post("/api/v1/items", json=parent, headers=h["owner"]).status_code == 201
    for sku, size in (("TS-S", "S"), ("TS-M", "M")):
        r = client.post("/api/v1/items", json={"sku": sku, "parent_sku": "TSHIRT",
                                               "variant_values": {"size": size, "colour": "red"}}, headers=h["owner"])
        assert r.status_code == 201, r.json
        assert (r.json["price_minor"], r.json["name"]) == (1500, f"T-shirt {size} red")
    twin = client.post("/api/v1/items", json={"sku": "TS-M2", "parent_sku": "TSHIRT",
                                              "variant_values": {"size": "M", "colour": "red"}}, headers=h["owner"])
    assert twin.status_code == 409 and "TS-M" in twin.json["error"]["message"]
    partial = client.post("/api/v1/items", json={"sku": "TS-X", "parent_sku": "TSHIRT", "variant_values": {"size": "L"}},
                          headers=h["owner"])
    assert partial.status_code == 422 and partial.json["error"]["field"] == "variant_values"
    client.patch("/api/v1/items/TS-M", json={"price_minor": 1700}, headers=h["owner"])
    client.patch("/api/v1/items/TSHIRT", json={"price_minor": 1600}, headers=h["owner"])
    prices = {v["sku"]: v["price_minor"] for v in client.get("/api/v1/items/TSHIRT", headers=h["owner"]).json["variants"]}
    assert prices == {"TS-S": 1600, "TS-M": 1700}
    follow = client.get("/api/v1/items/TS-S/history", headers=h["owner"]).json["changes"][0]
    assert "follows the price of its parent TSHIRT" in follow["reason"]
    # a parent's code tells the register to offer its variants; a variant's does not
    axes = {code: client.get(f"/api/v1/lookup?code={code}", headers=h["cashier"]).json["item"]["variant_axes"]
            for code in ("TSHIRT", "TS-S")}
    assert axes == {"TSHIRT": ["size", "colour"], "TS-S": []}


def test_kits_availability_and_cycles(svc: HubService, client: FlaskClient, h: dict) -> None:
    for sku in ("MUG", "TEA1"):
        client.post("/api/v1/items", json={"sku": sku, "name": sku, "unit": "each", "price_minor": 300}, headers=h["owner"])
    with svc.db.write() as conn:
        svc.store.move_stock(conn, "MUG", "floor", 5, "receive", "t")
        svc.store.move_stock(conn, "TEA1", "floor", 7, "receive", "t")
    kit = {"sku": "GIFT", "name": "Gift set", "unit": "each", "price_minor": 800, "kit_policy": "components",
           "components": [{"sku": "MUG", "qty": 1}, {"sku": "TEA1", "qty": 2}]}
    assert client.post("/api/v1/items", json=kit, headers=h["owner"]).status_code == 201
    assert client.get("/api/v1/items/GIFT", headers=h["cashier"]).json["available"] == 3  # 7 tea // 2
    loop = client.patch("/api/v1/items/MUG", json={"kit_policy": "components", "components": [{"sku": "GIFT", "qty": 1}]},
                        headers=h["owner"])
    assert loop.status_code == 422 and "GIFT" in loop.json["error"]["message"]
    missing = client.post("/api/v1/items", json={**kit, "sku": "GIFT2", "components": [{"sku": "NOPE", "qty": 1}]},
                          headers=h["owner"])
    assert missing.status_code == 422 and "NOPE" in missing.json["error"]["message"]


def test_modifier_groups_and_tax_categories_are_the_owners(client: FlaskClient, h: dict, tea: dict) -> None:
    group = {"name": "Gift wrap", "required": False, "max_choices": 1,
             "options": [{"id": "wrap", "name": "Gift wrap", "delta_minor": 200}]}
    assert client.put("/api/v1/modifier-groups/wrap", json=group, headers=h["manager"]).status_code == 403
    assert client.put("/api/v1/modifier-groups/wrap", json=group, headers=h["owner"]).status_code == 200
    assert client.patch("/api/v1/items/TEA", json={"modifier_groups": ["wrap"]}, headers=h["manager"]).status_code == 200
    assert client.get("/api/v1/items/TEA", headers=h["cashier"]).json["modifier_groups"] == ["wrap"]
    unknown = client.patch("/api/v1/items/TEA", json={"modifier_groups": ["nope"]}, headers=h["owner"])
    assert unknown.status_code == 422
    assert client.put("/api/v1/tax-categories/standard", json={"name": "Standard", "rate_bp": 2100},
                      headers=h["manager"]).status_code == 403
    assert client.put("/api/v1/tax-categories/standard", json={"name": "Standard", "rate_bp": 20000},
                      headers=h["owner"]).status_code == 400


def test_internal_barcodes_are_in_store_codes_that_never_collide(svc: HubService, client: FlaskClient, h: dict) -> None:
    client.post("/api/v1/items", json={"sku": "JAM", "name": "Jam", "unit": "each", "price_minor": 350}, headers=h["owner"])
    client.post("/api/v1/items", json={"sku": "HONEY", "name": "Honey", "unit": "each", "price_minor": 450}, headers=h["owner"])
    first_candidate = "04" + "1".zfill(10)
    first_candidate += str(check_digit(first_candidate))
    assert client.post("/api/v1/items/HONEY/barcodes", json={"code": first_candidate}, headers=h["owner"]).status_code == 201
    made = client.post("/api/v1/items/JAM/barcodes", json={"generate": True}, headers=h["manager"])
    assert made.status_code == 201 and made.json["internal"] is True
    code = made.json["code"].lstrip("0").zfill(13)
    assert code.startswith("04") and code != first_candidate and parse(code).valid
    again = client.post("/api/v1/items/JAM/barcodes", json={"generate": True}, headers=h["manager"]).json["code"]
    assert again != made.json["code"]
    assert client.get(f"/api/v1/lookup?code={code}", headers=h["cashier"]).json["item"]["sku"] == "JAM"


def test_search_by_name_code_and_pages(client: FlaskClient, h: dict, tea: dict) -> None:
    for i in range(7):
        client.post("/api/v1/items", json={"sku": f"TEA{i}", "name": f"Black tea {i}", "unit": "each", "price_minor": 100},
                    headers=h["owner"])
    by_code = client.get("/api/v1/items?q=4006381333931", headers=h["cashier"]).json["items"]
    assert [i["sku"] for i in by_code] == ["TEA"]
    seen, cursor = [], ""
    while True:
        page = client.get(f"/api/v1/items?q=black%20tea&limit=3&cursor={cursor}", headers=h["cashier"]).json
        seen += [i["sku"] for i in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert seen == [f"TEA{i}" for i in range(7)]
    assert client.get("/api/v1/items?q=100%25", headers=h["cashier"]).json["items"] == []  # % is literal
    assert client.get("/api/v1/items?limit=0", headers=h["cashier"]).status_code == 400


def test_shelf_label_and_reprint_queue(client: FlaskClient, h: dict, tea: dict) -> None:
    label = client.get("/api/v1/items/TEA/label?format=zpl", headers=h["manager"])
    assert label.status_code == 200 and b"Green tea 20 bags" in label.data and b"2.49" in label.data
    assert b"62.25" in label.data  # 2.49 for 40 g is 62.25 per kg
    client.patch("/api/v1/items/TEA", json={"price_minor": 259}, headers=h["owner"])
    queue = client.get("/api/v1/labels/queue", headers=h["manager"]).json["labels"]
    assert [q["reason"] for q in queue] == ["price change"]
    job = client.post("/api/v1/labels/queue/render", json={"format": "tspl"}, headers=h["manager"])
    assert job.status_code == 200 and b"2.59" in job.data
    assert client.get("/api/v1/labels/queue", headers=h["manager"]).json["labels"] == []
    assert client.get("/api/v1/items/TEA/label?format=pdf", headers=h["manager"]).status_code == 400


def test_a_weighed_goods_label_carries_its_price_in_the_barcode(tmp_path: Path, clock: Clock) -> None:
    svc = HubService(hub_config(tmp_path / "gb", store={"rcn_region": "GB", "currency": "GBP"}), clock=clock)
    try:
        client = create_app(svc).test_client()
        owner = {"Authorization": f"Bearer {svc.auth.create_token('owner')}"}
        # the cheese's label code in the GB layout: 20, item 12345, price check digit and price zeroed
        zeroed = "201234500000" + str(check_digit("201234500000"))
        body = {"sku": "CHEDDAR", "name": "Cheddar", "unit": "g", "price_minor": 1890, "barcodes": [zeroed]}
        assert client.post("/api/v1/items", json=body, headers=owner).status_code == 201
        label = client.get("/api/v1/items/CHEDDAR/label?kind=weighed&weight_g=512&format=zpl", headers=owner)
        assert label.status_code == 200, label.json
        digits = next(tok for tok in label.data.decode().split("^FD") if tok[:2] == "20").split("^FS")[0]
        assert len(digits) == 12  # ^BE takes 12 digits; the printer adds the check digit
        code = digits + str(check_digit(digits))
        parsed = parse(code, "GB")
        assert (parsed.kind, parsed.item_ref, parsed.price_minor) == ("rcn_price", "12345", 968)  # 0.512 kg at 18.90
        scanned = client.get(f"/api/v1/lookup?code={code}", headers=owner).json
        assert (scanned["item"]["sku"], scanned["line_price_minor"]) == ("CHEDDAR", 968)
        each = client.get("/api/v1/items/CHEDDAR/label?kind=weighed", headers=owner)
        assert each.status_code == 400 and each.json["error"]["field"] == "weight_g"
        as128 = client.get("/api/v1/items/CHEDDAR/label?symbology=code128&format=tspl", headers=owner)
        assert as128.status_code == 200 and b'"128"' in as128.data
    finally:
        svc.stop()


def test_csv_import_and_export_over_http(svc: HubService, client: FlaskClient, h: dict, tea: dict) -> None:
    good = "sku,name,unit,price,tax_category,barcodes\nJAM,Jam,each,3.50,standard,4000000000037\n"
    bad = good + "HONEY,Honey,each,4.5.0,standard,\n"
    refused = client.post("/api/v1/items/import", data=bad, content_type="text/csv", headers=h["owner"])
    assert refused.status_code == 422 and refused.json["applied"] is False
    assert refused.json["rejections"] == [{"row": "2", "sku": "HONEY", "column": "price",
                                          "reason": refused.json["rejections"][0]["reason"]}]
    assert "4.5.0" in refused.json["rejections"][0]["reason"]
    assert client.get("/api/v1/items/JAM", headers=h["owner"]).status_code == 404  # nothing applied
    partial = client.post("/api/v1/items/import?partial=1", data=bad, content_type="text/csv", headers=h["owner"])
    assert partial.status_code == 200 and (partial.json["created"], partial.json["rejected"]) == (1, 1)
    assert client.post("/api/v1/items/import", data=good, content_type="text/csv",
                       headers=h["manager"]).status_code == 403
    exported = client.get("/api/v1/items/export", headers=h["manager"])
    assert exported.mimetype == "text/csv" and "JAM,Jam,each,3.50" in exported.get_data(as_text=True)
    again = client.post("/api/v1/items/import", data=exported.get_data(), content_type="text/csv", headers=h["owner"])
    assert again.status_code == 200 and again.json["created"] == again.json["updated"] == 0
    assert client.post("/api/v1/items/import", json={"x": 1}, headers=h["owner"]).status_code == 400
