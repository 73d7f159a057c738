"""The registers' offline catalog (snapshot and deltas) and offline sales replayed to the hub,
through the REST API on a real SQLite file."""

import json
import sqlite3
import uuid
from datetime import UTC, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from hub import catalog_snapshot
from hub.clock import iso
from hub.domain import sale as sales
from hub.errors import UnprocessableError, ValidationError
from hub.service import HubService
from hub.web import create_app
from tests.helpers import T0, Clock

GTIN = "04006381333931"  # a valid EAN-13 (4006381333931), stored as 14 digits


@pytest.fixture
def shop(client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    assert client.put("/api/v1/tax-categories/standard", json={"name": "Standard", "rate_bp": 2000},
                      headers=h["owner"]).status_code == 200
    for item in ({"sku": "MUG", "name": "Mug", "unit": "each", "price_minor": 350, "barcodes": [GTIN]},
                 {"sku": "CHEESE", "name": "Comte", "unit": "g", "price_minor": 2499}):
        resp = client.post("/api/v1/items", json={**item, "tax_category": "standard"}, headers=h["owner"])
        assert resp.status_code == 201, resp.json
    assert client.post("/api/v1/receipts", json={"location": "floor", "lines": [{"sku": "MUG", "qty": 1}]},
                       headers=h["manager"]).status_code == 201


def snapshot(client: FlaskClient, h: dict) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    resp = client.get("/api/v1/catalog/snapshot", headers=h["cashier"])
    assert resp.status_code == 200
    assert resp.mimetype == "application/x-ndjson"
    header, *rows = [json.loads(line) for line in resp.get_data(as_text=True).splitlines()]
    return header, {r[0]: r for r in rows}


def changes(client: FlaskClient, h: dict, since: int) -> dict[str, Any]:
    resp = client.get(f"/api/v1/catalog/changes?since={since}", headers=h["cashier"])
    assert resp.status_code == 200, resp.json
    return resp.json


@pytest.mark.usefixtures("shop")
def test_the_snapshot_carries_what_a_register_sells_by(client: FlaskClient, h: dict) -> None:
    header, items = snapshot(client, h)
    assert header["format"] == catalog_snapshot.FORMAT and header["count"] == 2
    assert header["taxes"]["standard"] == 2000
    fields = header["fields"]
    assert len(items["MUG"]) == len(fields) - 1  # no price list: the optional last field is left out
    mug = dict(zip(fields, items["MUG"], strict=False))
    assert mug == {"sku": "MUG", "name": "Mug", "unit": "each", "price_minor": 350, "tax": "standard", "active": 1,
                   "variants": 0, "codes": [[GTIN, 1]]}
    assert dict(zip(fields, items["CHEESE"], strict=False))["codes"] == []


def test_a_snapshot_needs_a_signed_in_register(client: FlaskClient) -> None:
    assert client.get("/api/v1/catalog/snapshot").status_code == 401
    assert client.get("/api/v1/catalog/changes?since=0").status_code == 401


@pytest.mark.usefixtures("shop")
def test_a_price_change_is_in_the_delta_and_moves_the_version(client: FlaskClient, h: dict) -> None:
    header, _ = snapshot(client, h)
    assert changes(client, h, header["version"]) == {
        "version": header["version"], "since": header["version"], "more": False, "taxes": header["taxes"],
        "modifier_groups": header["modifier_groups"], "store": header["store"], "fields": header["fields"],
        "upserts": [], "removed": []}
    resp = client.patch("/api/v1/items/MUG", json={"price_minor": 399}, headers=h["owner"])
    assert resp.status_code == 200, resp.json
    delta = changes(client, h, header["version"])
    assert delta["version"] > header["version"]
    assert [(u[0], u[3]) for u in delta["upserts"]] == [("MUG", 399)]
    # asked again from the new version: nothing more
    assert changes(client, h, delta["version"])["upserts"] == []
    assert snapshot(client, h)[0]["version"] == delta["version"]


@pytest.mark.usefixtures("shop")
def test_a_removed_barcode_leaves_the_item_without_it(client: FlaskClient, h: dict) -> None:
    version = snapshot(client, h)[0]["version"]
    assert client.delete(f"/api/v1/items/MUG/barcodes/{GTIN}", headers=h["owner"]).status_code in (200, 204)
    delta = changes(client, h, version)
    assert [(u[0], u[7]) for u in delta["upserts"]] == [("MUG", [])]
    assert delta["removed"] == []


@pytest.mark.usefixtures("shop")
def test_a_tax_rate_change_reaches_the_register(client: FlaskClient, h: dict) -> None:
    version = snapshot(client, h)[0]["version"]
    assert client.put("/api/v1/tax-categories/standard", json={"name": "Standard", "rate_bp": 2100},
                      headers=h["owner"]).status_code == 200
    delta = changes(client, h, version)
    assert delta["version"] > version and delta["taxes"]["standard"] == 2100


def test_every_write_bumps_the_version_in_its_own_transaction(svc: HubService) -> None:
    conn = svc.db.conn
    before = catalog_snapshot.version(conn)
    with pytest.raises(sqlite3.IntegrityError), svc.db.write() as w:
        w.execute("INSERT INTO items (sku, name, unit, price_minor, created_at, updated_at) "
                  "VALUES ('X', 'X', 'each', 1, 'now', 'now')")
        assert catalog_snapshot.version(w) > before
        w.execute("INSERT INTO barcodes (code, sku) VALUES ('1', 'NO-SUCH-ITEM')")  # the FK fails: all rolls back
    assert catalog_snapshot.version(conn) == before
    with svc.db.write() as w:  # a write that touches no field a register sells by leaves the version alone
        w.execute("INSERT INTO items (sku, name, unit, price_minor, created_at, updated_at) "
                  "VALUES ('X', 'X', 'each', 1, 'now', 'now')")
    after_insert = catalog_snapshot.version(conn)
    with svc.db.write() as w:
        w.execute("UPDATE items SET aisle = '7' WHERE sku = 'X'")
    assert catalog_snapshot.version(conn) == after_insert


def test_deltas_come_in_pages_when_a_big_import_lands(svc: HubService) -> None:
    conn = svc.db.conn
    since = catalog_snapshot.version(conn)
    with svc.db.write() as w:
        w.executemany("INSERT INTO items (sku, name, unit, price_minor, created_at, updated_at) "
                      "VALUES (?, ?, 'each', 100, 'now', 'now')", [(f"S{i:03d}", f"Item {i}") for i in range(25)])
    seen: list[str] = []
    pages = 0
    while True:
        page = catalog_snapshot.changes_since(conn, since, svc.config["store"], limit=10)
        pages += 1
        seen += [u[0] for u in page["upserts"]]
        assert page["version"] > since
        since = page["version"]
        if not page["more"]:
            break
    assert pages == 3 and seen == [f"S{i:03d}" for i in range(25)]


def test_a_version_the_hub_never_gave_out_asks_for_a_new_snapshot(client: FlaskClient, h: dict) -> None:
    resp = client.get("/api/v1/catalog/changes?since=999999", headers=h["cashier"])
    assert resp.status_code == 410 and resp.json["error"]["code"] == "snapshot_needed"
    assert client.get("/api/v1/catalog/changes?since=abc", headers=h["cashier"]).json["error"]["field"] == "since"


def test_the_service_worker_is_served_versioned_and_never_stale(client: FlaskClient) -> None:
    resp = client.get("/sw.js")
    assert resp.status_code == 200 and resp.mimetype == "text/javascript"
    assert resp.headers["Cache-Control"] == "no-cache"
    body = resp.get_data(as_text=True)
    assert "__SHELL_VERSION__" not in body and "__SHELL_FILES__" not in body
    assert '"/static/register.js"' in body and '"/static/register-offline.js"' in body


# -- offline sales replayed ---------------------------------------------------------------------

class Till:
    """A tablet paired as till-1 with a person signed in by PIN: with an integration token, the only
    sender of offline sales."""

    def __init__(self, svc: HubService, client: FlaskClient, h: dict) -> None:
        self.svc, self.tab = svc, create_app(svc).test_client()
        code = client.post("/api/v1/pairing/codes", headers=h["owner"]).json["code"]
        assert self.tab.post("/api/v1/pairing", json={"code": code, "register_id": "till-1"}).status_code == 201
        self.csrf = ""

    def sign_in(self, username: str, role: str = "cashier") -> "Till":
        pin = "4321" if role == "cashier" else "864213"  # a manager's PIN is longer
        if not any(p["username"] == username for p in self.svc.people.people()):
            self.svc.people.add_person(username, role, pin, actor="test")
        resp = self.tab.post("/api/v1/tablet/signin", json={"username": username, "pin": pin})
        assert resp.status_code == 200, resp.json
        self.csrf = resp.json["csrf_token"]
        return self

    def post(self, path: str, body: Any) -> Any:
        return self.tab.post(path, json=body, headers={"X-CSRF-Token": self.csrf})


@pytest.fixture
def till(svc: HubService, client: FlaskClient, h: dict, clock: Clock) -> Till:
    """till-1's tablet, its shift opened two hours ago."""
    t = Till(svc, client, h).sign_in("cara")
    assert t.post("/api/v1/registers/till-1/shifts", {"float_minor": 0}).status_code == 201
    clock.now += timedelta(hours=2)
    return t


def offline_sale(clock: Clock, qty: int = 3, **extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "MUG", "qty": qty}],
            "tenders": [{"kind": "cash", "amount_minor": 350 * qty}], "offline": True,
            "recorded_at": iso(clock.now - timedelta(minutes=20)),
            "charged": {"catalog_version": 2, "total_minor": 350 * qty,
                        "lines": [{"unit_price_minor": 350, "total_minor": 350 * qty}]}, **extra}


@pytest.mark.usefixtures("shop")
def test_an_offline_sale_is_taken_below_zero_and_flagged(svc: HubService, till: Till, h: dict, client: FlaskClient,
                                                         clock: Clock) -> None:
    svc.store.negative_stock = "block"
    live = {**offline_sale(clock), "id": str(uuid.uuid4())}
    del live["offline"], live["recorded_at"], live["charged"]
    refused = till.post("/api/v1/sales", live)
    assert refused.status_code == 422 and refused.json["error"]["code"] == "out_of_stock"

    body = offline_sale(clock)
    resp = till.post("/api/v1/sales", body)
    assert resp.status_code == 201, resp.json
    assert resp.json["created_at"] == body["recorded_at"]
    assert resp.json["receipt"]["job_id"] is None  # the customer left long ago: nothing prints
    negative = client.get("/api/v1/stock/exceptions", headers=h["manager"]).json["negative_stock"]
    assert [(n["sku"], n["on_hand"]) for n in negative] == [("MUG", -2)]
    row = svc.db.conn.execute("SELECT recorded_at, oversold FROM offline_sales WHERE sale_id = ?", (body["id"],)).fetchone()
    assert row["recorded_at"] == body["recorded_at"] and json.loads(row["oversold"]) == ["MUG"]
    # replayed again (the answer was lost): the first answer, once
    again = till.post("/api/v1/sales", body)
    assert again.status_code == 200 and again.json["number"] == resp.json["number"]
    assert svc.db.conn.execute("SELECT count(*) FROM sales").fetchone()[0] == 1


@pytest.mark.usefixtures("shop")
def test_a_sale_sent_live_then_replayed_from_the_queue_is_one_sale(svc: HubService, till: Till, clock: Clock) -> None:
    body = offline_sale(clock, qty=1)
    live = {k: v for k, v in body.items() if k not in sales.OFFLINE_FIELDS}
    first = till.post("/api/v1/sales", live)
    assert first.status_code == 201
    replay = till.post("/api/v1/sales", body)  # with what the register charged: still the same sale
    assert replay.status_code == 200 and replay.json["id"] == first.json["id"]
    assert svc.db.conn.execute("SELECT count(*) FROM sales").fetchone()[0] == 1


@pytest.mark.usefixtures("shop")
def test_the_recorded_time_is_bounded(svc: HubService, client: FlaskClient, h: dict, clock: Clock) -> None:
    till = Till(svc, client, h).sign_in("cara")
    assert till.post("/api/v1/registers/till-1/shifts", {"float_minor": 0}).status_code == 201
    clock.now += timedelta(days=9)  # the shift stays open nine days
    ahead = offline_sale(clock, qty=1, recorded_at=iso(clock.now + timedelta(hours=2)))
    resp = till.post("/api/v1/sales", ahead)
    assert resp.status_code == 201 and resp.json["created_at"] == iso(clock.now)  # a fast tablet clock counts as now
    old = offline_sale(clock, qty=1, recorded_at=iso(clock.now - timedelta(days=8)))
    refused = till.post("/api/v1/sales", old)
    assert refused.status_code == 422 and refused.json["error"]["code"] == "offline_too_old"
    assert till.sign_in("mona", "manager").post("/api/v1/sales", old).status_code == 201
    for bad in ("yesterday", "2026-11-27T09:00:00", 5):
        resp = till.post("/api/v1/sales", offline_sale(clock, recorded_at=bad))
        assert resp.status_code == 400 and resp.json["error"]["field"] == "recorded_at"
    live_with_time = {**offline_sale(clock), "offline": False}
    del live_with_time["charged"]
    assert till.post("/api/v1/sales", live_with_time).json["error"]["field"] == "recorded_at"


@pytest.mark.usefixtures("shop")
def test_an_offline_sale_keeps_the_prices_the_register_charged(svc: HubService, till: Till, client: FlaskClient,
                                                               h: dict, clock: Clock) -> None:
    raised, dropped = offline_sale(clock, qty=2), offline_sale(clock, qty=2)  # 2 mugs at 3.50, 7.00 cash
    assert client.patch("/api/v1/items/MUG", json={"price_minor": 400}, headers=h["owner"]).status_code == 200
    resp = till.post("/api/v1/sales", raised)
    assert resp.status_code == 201, resp.json  # never "tendered 7.00 is less than 8.00": the customer has left
    assert (resp.json["total_minor"], resp.json["change_minor"], resp.json["tax_minor"]) == (700, 0, 117)
    (line,) = resp.json["lines"]
    assert (line["unit_price_minor"], line["total_minor"], line["tax_minor"]) == (350, 700, 117)
    assert client.patch("/api/v1/items/MUG", json={"price_minor": 300}, headers=h["owner"]).status_code == 200
    resp = till.post("/api/v1/sales", dropped)
    assert (resp.json["total_minor"], resp.json["change_minor"]) == (700, 0)  # no change was handed over
    rows = svc.db.conn.execute("SELECT sale_id, catalog_version, today_total_minor, price_differences "
                               "FROM offline_sales ORDER BY received_at, sale_id").fetchall()
    review = {r["sale_id"]: (r["catalog_version"], r["today_total_minor"], json.loads(r["price_differences"]))
              for r in rows}
    assert review[raised["id"]] == (2, 800, [{"line_no": 1, "sku": "MUG", "charged_unit_price_minor": 350,
                                              "charged_total_minor": 700, "today_unit_price_minor": 400,
                                              "today_total_minor": 800}])
    assert review[dropped["id"]][1:] == (600, [{"line_no": 1, "sku": "MUG", "charged_unit_price_minor": 350,
                                                "charged_total_minor": 700, "today_unit_price_minor": 300,
                                                "today_total_minor": 600}])
    same = offline_sale(clock, qty=1)
    assert client.patch("/api/v1/items/MUG", json={"price_minor": 350}, headers=h["owner"]).status_code == 200
    assert till.post("/api/v1/sales", same).status_code == 201
    assert svc.db.conn.execute("SELECT price_differences FROM offline_sales WHERE sale_id = ?",
                               (same["id"],)).fetchone()[0] == "[]"


@pytest.mark.usefixtures("shop")
def test_a_malformed_charged_is_refused(till: Till, clock: Clock) -> None:
    charged = offline_sale(clock)["charged"]
    for bad, field in (({**charged, "total_minor": 1}, "charged.total_minor"),
                       ({**charged, "lines": []}, "charged.lines"),
                       ({**charged, "lines": [{"unit_price_minor": -1, "total_minor": 1050}]},
                        "charged.lines[0].unit_price_minor"),
                       ({"total_minor": 1050}, "charged")):
        resp = till.post("/api/v1/sales", offline_sale(clock, charged=bad))
        assert resp.status_code == 400 and resp.json["error"]["field"] == field, resp.json
    short = offline_sale(clock, tenders=[{"kind": "cash", "amount_minor": 1000}])
    assert till.post("/api/v1/sales", short).json["error"]["field"] == "tenders"
    live = {**offline_sale(clock), "offline": False}
    del live["recorded_at"]
    assert till.post("/api/v1/sales", live).json["error"]["field"] == "charged"


@pytest.mark.usefixtures("shop")
def test_only_a_paired_register_or_an_integration_sends_offline_sales(svc: HubService, client: FlaskClient, h: dict,
                                                                      till: Till, clock: Clock) -> None:
    for role in ("cashier", "manager"):  # a signed-in person at any browser: no skipping blocks, receipts, the time
        resp = client.post("/api/v1/sales", json=offline_sale(clock), headers=h[role])
        assert resp.status_code == 403 and resp.json["error"]["code"] == "offline_not_allowed"
    assert client.post("/api/v1/sales", json=offline_sale(clock), headers=h["integration"]).status_code == 201
    # the tablet may not backdate past the shift it lost the hub in
    z = till.post(f"/api/v1/shifts/{svc.shifts.current('till-1')['id']}/close", {"counted_minor": 1050})
    assert z.status_code == 200, z.json
    for _ in range(2):
        clock.now += timedelta(hours=1)
        shift = till.post("/api/v1/registers/till-1/shifts", {"float_minor": 0}).json
        if svc.shifts.current("till-1")["number"] < 3:
            assert till.post(f"/api/v1/shifts/{shift['id']}/close", {"counted_minor": 0}).status_code == 200
    old = offline_sale(clock, recorded_at=iso(clock.now - timedelta(hours=2, minutes=30)))  # in the first shift
    refused = till.post("/api/v1/sales", old)
    assert refused.status_code == 422 and refused.json["error"]["code"] == "offline_outside_shift"
    before_any = offline_sale(clock, recorded_at=iso(clock.now - timedelta(days=1)))
    assert till.post("/api/v1/sales", before_any).json["error"]["code"] == "offline_outside_shift"


@given(st.one_of(st.none(), st.text(max_size=30)))
def test_since_is_a_whole_number_or_a_clear_refusal(raw: str | None) -> None:
    try:
        since = catalog_snapshot.parse_since(raw)
    except ValidationError as exc:
        assert exc.field == "since"
    else:
        assert raw is not None and since == int(raw) >= 0


@given(st.one_of(st.text(max_size=40), st.datetimes(timezones=st.just(UTC)).map(iso), st.integers()), st.booleans())
def test_a_recorded_time_is_never_after_now_and_never_crashes(raw: object, manager: bool) -> None:
    try:
        when = sales.offline_recorded_at({"offline": True, "recorded_at": raw}, T0, manager)
    except (ValidationError, UnprocessableError) as exc:
        assert exc.field == "recorded_at"
    else:
        assert when is not None and when <= T0
        assert manager or when >= T0 - sales.OFFLINE_MAX_AGE
