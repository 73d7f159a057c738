"""The event catalog (hub.events): every writer of the hub, driven through the API on a real SQLite
file, leaves events the catalog describes, gapless and in the same transaction as its change."""

from __future__ import annotations

import ast
import contextlib
import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from devices import bus
from devices.link import close_client
from hub import events
from hub.device_credentials import DeviceCredentials
from hub.inbound import ChangeFeed, Page
from hub.mosquitto import Broker
from hub.service import HubService
from hub.web import create_app
from tests.conftest import HUB_ID, USERS, bus_hub
from tests.helpers import T0, Clock, wait_until

ROOT = Path(__file__).resolve().parents[2]
RFC3339_UTC_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
WRITERS = ("append_event", "append_event_json")
# Written only through a paired tablet (pairing, a manager's PIN on it): tests/hub/test_people.py and
# test_pairing.py drive them and check their events.
NOT_IN_THE_SERVICE_YET = {"tablet.paired", "tablet.unpaired", "approval.granted"}


def outbox(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT seq, id, type, occurred_at, v, data FROM outbox ORDER BY seq").fetchall()


def assert_catalogued(rows: list[sqlite3.Row]) -> set[str]:
    """Every row: a catalog type, its v, a payload that passes check, RFC 3339 UTC; seq 1..N."""
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1)), "seq has a gap"
    problems = []
    for r in rows:
        assert r["type"] in events.BY_TYPE, f"seq {r['seq']}: {r['type']} is not in the catalog"
        assert r["v"] == events.BY_TYPE[r["type"]].v, f"seq {r['seq']}: {r['type']} written with v {r['v']}"
        assert RFC3339_UTC_MS.match(r["occurred_at"]), r["occurred_at"]
        assert re.fullmatch(r"[0-9a-f]{32}", r["id"])
        problems += [f"seq {r['seq']}: {p}" for p in events.check(r["type"], json.loads(r["data"]))]
    assert problems == []
    return {r["type"] for r in rows}


def ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.json
    return resp.json


# -- the scenario: every writer reachable without devices ------------------------------------------

def test_every_writer_leaves_catalogued_gapless_events(svc: HubService, client: FlaskClient, h: dict,
                                                       clock: Clock, tmp_path: Path) -> None:
    owner, manager, cashier = h["owner"], h["manager"], h["cashier"]
    ok(client.put("/api/v1/tax-categories/standard", json={"name": "Standard", "rate_bp": 2000}, headers=owner))
    ok(client.put("/api/v1/modifier-groups/wrap", json={"name": "Gift wrap", "required": False, "max_choices": 1,
                                                         "options": [{"id": "wrap", "name": "Wrap", "delta_minor": 200}]},
                  headers=owner))
    ok(client.put("/api/v1/reason-codes/adjustment/spilt", json={"label": "Spilt"}, headers=owner))
    ok(client.put("/api/v1/locations/cold_room", json={"name": "Cold room"}, headers=owner))
    for sku, unit, price in (("TEA", "each", 249), ("JAM", "each", 350), ("CHEESE", "g", 2499)):
        ok(client.post("/api/v1/items", json={"sku": sku, "name": sku.title(), "unit": unit, "price_minor": price,
                                              "tax_category": "standard"}, headers=owner), 201)
    ok(client.post("/api/v1/items/TEA/barcodes", json={"code": "4006381333931"}, headers=manager), 201)
    # item edits: a direct one, a price change, a manager's request approved, a scheduled one applied
    ok(client.patch("/api/v1/items/TEA", json={"name": "Green tea"}, headers=owner))
    ok(client.patch("/api/v1/items/TEA", json={"price_minor": 259, "reason": "supplier"}, headers=owner))
    request = ok(client.patch("/api/v1/items/JAM", json={"price_minor": 379}, headers=manager), 202)["request"]
    ok(client.post(f"/api/v1/change-requests/{request['id']}/approve", json={"note": "ok"}, headers=owner))
    when = (T0 + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    ok(client.patch("/api/v1/items/JAM", json={"price_minor": 399, "effective_at": when}, headers=owner), 202)
    clock.now = T0 + timedelta(hours=1, seconds=1)
    assert svc.changes.apply_due() == 1
    csv = "sku,name,unit,price,tax_category\nHONEY,Honey,each,4.50,standard\n"
    ok(client.post("/api/v1/items/import", data=csv, content_type="text/csv", headers=owner))
    # stock in: an order and its delivery, an unplanned delivery
    po = ok(client.post("/api/v1/purchase-orders", json={"supplier": "Leafco", "lines": [{"sku": "TEA", "qty": 24}]},
                        headers=manager), 201)
    ok(client.post("/api/v1/receipts", json={"id": str(uuid.uuid4()), "po_id": po["id"], "location": "floor",
                                             "lines": [{"sku": "TEA", "qty": 24}]}, headers=manager), 201)
    ok(client.post("/api/v1/receipts", json={"location": "floor", "lines": [{"sku": "JAM", "qty": 10},
                                                                           {"sku": "CHEESE", "qty": 5000}]},
                   headers=manager), 201)
    # money: a sale, a void, a return, an exchange
    def sell(lines: list[dict[str, Any]]) -> dict[str, Any]:
        total = ok(client.post("/api/v1/sales/quote", json={"lines": lines}, headers=cashier))["total_minor"]
        return ok(client.post("/api/v1/sales", json={"id": str(uuid.uuid4()), "register_id": "till-1", "lines": lines,
                                                     "tenders": [{"kind": "cash", "amount_minor": total}]},
                              headers=cashier), 201)

    sold = sell([{"sku": "TEA", "qty": 2}, {"sku": "CHEESE", "qty": 250}])
    voided = sell([{"sku": "JAM", "qty": 1}])
    ok(client.post("/api/v1/registers/till-1/cart-voids", json={"id": str(uuid.uuid4()), "reason": "customer left",
                                                                "lines": [{"sku": "JAM", "qty": 1}]}, headers=cashier), 201)
    ok(client.post(f"/api/v1/sales/{voided['id']}/void", json={"reason": "rang twice"}, headers=manager))
    back = {"sale_line_no": 1, "qty": 1, "reason": "changed_mind", "condition": "resellable"}
    ok(client.post("/api/v1/returns", json={"id": str(uuid.uuid4()), "register_id": "till-1", "sale_id": sold["id"],
                                            "lines": [back]}, headers=cashier), 201)
    credit = ok(client.post("/api/v1/returns", json={"id": str(uuid.uuid4()), "register_id": "till-1",
                                                     "sale_id": sold["id"], "lines": [back], "exchange": True},
                            headers=cashier), 201)  # the return first; the replacement sale spends its credit
    swap = [{"sku": "CHEESE", "qty": 50}]
    price = ok(client.post("/api/v1/sales/quote", json={"lines": swap}, headers=cashier))["total_minor"]
    ok(client.post("/api/v1/sales", json={"id": str(uuid.uuid4()), "register_id": "till-1", "lines": swap, "tenders": [
        {"kind": "exchange", "amount_minor": price, "reference": credit["id"]}]}, headers=cashier), 201)
    called_off = ok(client.post("/api/v1/returns", json={
        "id": str(uuid.uuid4()), "register_id": "till-1", "sale_id": sold["id"], "exchange": True,
        "lines": [{**back, "sale_line_no": 2, "qty": 50}]}, headers=cashier), 201)
    ok(client.post(f"/api/v1/returns/{called_off['id']}/refund-credit", json={}, headers=cashier))
    # stored value: a gift card issued, then redeemed at the till (hub.stored_value)
    card = ok(client.post("/api/v1/stored-value", json={"kind": "gift_card", "amount_minor": 5000}, headers=manager), 201)
    ok(client.post("/api/v1/sales", json={"id": str(uuid.uuid4()), "register_id": "till-1",
                                          "lines": [{"sku": "TEA", "qty": 1}],
                                          "tenders": [{"kind": "gift_card", "amount_minor": 259, "reference": card["code"]}]},
                   headers=cashier), 201)
    # an offline sale replayed at the price the register charged, which the owner reviews (hub.offline_review)
    offline = ok(client.post("/api/v1/sales", json={
        "id": str(uuid.uuid4()), "register_id": "till-1", "offline": True, "recorded_at": when,
        "lines": [{"sku": "TEA", "qty": 1}], "tenders": [{"kind": "cash", "amount_minor": 249}],
        "charged": {"catalog_version": 1, "total_minor": 249, "lines": [{"unit_price_minor": 249, "total_minor": 249}]}},
        headers=h["integration"]), 201)
    ok(client.post(f"/api/v1/offline-sales/{offline['id']}/review", json={}, headers=owner))
    # the ledger's own documents
    ok(client.post("/api/v1/stock/adjustments", json={"sku": "JAM", "location": "floor", "qty": -1, "reason": "spilt"},
                   headers=manager), 201)
    ok(client.post("/api/v1/transfers", json={"sku": "TEA", "from": "floor", "to": "review", "qty": 2},
                   headers=manager), 201)
    ok(client.post("/api/v1/stock/dispositions", json={"sku": "TEA", "qty": 1, "action": "write_off"},
                   headers=manager), 201)
    held = ok(client.post("/api/v1/reservations", json={"sku": "TEA", "qty": 3, "ref": "web order 7"},
                          headers=cashier), 201)
    ok(client.post(f"/api/v1/reservations/{held['id']}/release", json={"outcome": "collected"}, headers=cashier))
    # counting: classes, a session with a variance approved, closing it
    ok(client.post("/api/v1/counts/classes", headers=manager))
    sid = ok(client.post("/api/v1/counts", json={"scope_kind": "items", "scope": ["JAM"]}, headers=manager), 201)["id"]
    ok(client.post(f"/api/v1/counts/{sid}/lines", json={"sku": "JAM", "qty": 3}, headers=cashier))
    if ok(client.post(f"/api/v1/counts/{sid}/close", headers=manager))["status"] != "closed":
        ok(client.post(f"/api/v1/counts/{sid}/lines/JAM/approve", headers=manager))
    # a back-office change that cannot apply (hub.inbound) is refused with an event
    feed = ChangeFeed(svc.changes, "http://127.0.0.1:9/v1/changes", "secret", "test-hub")
    assert feed.apply_page("", Page([{"id": "chg-1", "type": "item.explode", "sku": "TEA"}], "c-1", False)) == 1
    # people, tokens and device credentials
    (tmp_path / "passwd").write_text("")
    creds = DeviceCredentials(svc.db, HUB_ID, {**svc.config["mqtt"], "password_file": str(tmp_path / "passwd"),
                                               "broker_pid_file": ""}, clock)
    issued = creds.issue("esp-scale-1", "owner")
    creds.revoke("esp-scale-1", "owner")
    svc.auth.set_user("ann", "correct horse", "manager", actor="owner")
    svc.auth.set_user("ann", "correct horse 2", "owner", actor="owner")
    # a shift with cash paid out of its drawer, closed with its Z report (hub.shifts, hub.cash_movements)
    shift = ok(client.post("/api/v1/registers/till-1/shifts", json={"float_minor": 5000}, headers=manager), 201)
    ok(client.post("/api/v1/registers/till-1/cash-movements", json={
        "id": str(uuid.uuid4()), "kind": "paid_out", "amount_minor": 300, "reason": "milk"}, headers=manager), 201)
    ok(client.post(f"/api/v1/shifts/{shift['id']}/close", json={"counted_minor": 4700}, headers=manager))

    rows = outbox(svc.db.conn)
    seen = assert_catalogued(rows)
    device_side = {"device.state_changed", "device.error", "device.changed", "device.forgotten", "weighing.taken",
                   "stock.opening_loaded"}  # test_device_writers_leave_catalogued_events
    assert seen == {e.type for e in events.CATALOG} - device_side - NOT_IN_THE_SERVICE_YET
    secrets = [r["data"] for r in rows if r["type"] in ("user.changed", "token.created", "device.credentials_issued")]
    told = ["correct horse", issued["password"], *(v["Authorization"].split()[1] for v in h.values())]
    assert len(secrets) == 7 and not any(secret in d for secret in told for d in secrets)


# -- devices and weighings, against a real mosquitto -------------------------------------------------

@pytest.fixture
def hub(tmp_path: Path, broker: Broker) -> Iterator[HubService]:
    svc = bus_hub(tmp_path / "data", broker, Clock(T0))
    yield svc
    svc.stop()


@pytest.fixture
def scale(broker: Broker) -> Iterator[mqtt.Client]:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-scale")
    c.username_pw_set("devices", USERS["devices"])
    c.connect(broker.host, broker.port)
    c.loop_start()
    yield c
    close_client(c)


def test_device_writers_leave_catalogued_events(hub: HubService, scale: mqtt.Client) -> None:
    client = create_app(hub).test_client()
    owner = {"Authorization": f"Bearer {hub.auth.create_token('owner')}"}
    till = {"Authorization": f"Bearer {hub.auth.create_token('cashier')}"}
    sub = hub.channels.subscribe("register:till-1")

    def publish(topic: str, payload: bytes | str, retain: bool = False) -> None:
        scale.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def typed(type_: str) -> list[dict[str, Any]]:
        return [json.loads(r["data"]) for r in outbox(hub.db.conn) if r["type"] == type_]

    try:
        cfg = bus.DeviceConfig(kind="scale", name="Counter scale", model="8217", capabilities=["tare", "zero"])
        publish(bus.config_topic(HUB_ID, "scale-1"), bus.dumps(cfg), retain=True)
        publish(bus.availability_topic(HUB_ID, "scale-1"), "online", retain=True)
        wait_until(lambda: typed("device.state_changed"), "the scale's online event")
        publish(bus.availability_topic(HUB_ID, "scale-1"), "online", retain=True)  # a repeat: no event
        for grams, status in ((0, "at_zero"), (532, "ok")):
            publish(bus.event_topic(HUB_ID, "scale-1", "weight"), bus.dumps(bus.Weight(grams, True, status)))
            while not (lambda e: e[0] == "weight" and json.loads(e[1])["grams"] == grams)(sub.queue.get(timeout=10)):
                pass
        weighing = ok(client.post("/api/v1/registers/till-1/weighings", json={"id": str(uuid.uuid4())}, headers=till), 201)
        publish(bus.event_topic(HUB_ID, "scale-1", "error"), json.dumps({"message": "load cell fault"}))
        wait_until(lambda: typed("device.error"), "the scale's error event")
        ok(client.patch("/api/v1/devices/scale-1", json={"name": "Deli scale"}, headers=owner))
        publish(bus.availability_topic(HUB_ID, "scale-1"), "offline", retain=True)
        wait_until(lambda: len(typed("device.state_changed")) == 2, "the scale's offline event")
        ok(client.delete("/api/v1/devices/scale-1", headers=owner))
    finally:
        sub.close()
    assert_catalogued(outbox(hub.db.conn))
    assert [(e["device_id"], e["online"]) for e in typed("device.state_changed")] == [("scale-1", True), ("scale-1", False)]
    (taken,) = typed("weighing.taken")
    assert (taken["id"], taken["grams"], taken["device_id"]) == (weighing["id"], 532, "scale-1")
    assert typed("device.changed")[0]["changes"] == {"name": {"old": None, "new": "Deli scale"}}
    assert typed("device.forgotten")[0]["name"] == "Deli scale"
    assert typed("stock.opening_loaded")[0]["items"] > 0
    assert {"device.state_changed", "device.error"} <= events.TELEMETRY_TYPES


# -- one transaction: a write that fails after its event leaves neither -------------------------------

@pytest.fixture
def failing_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """The event is written, then the transaction fails (a full disk, a crash in the next statement)."""
    real = events.append_event_json

    def write_then_fail(*args: Any) -> int:
        real(*args)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(events, "append_event_json", write_then_fail)


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = ("outbox", "sales", "sale_lines", "stock_moves", "items", "item_changes", "tokens", "count_sessions")
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # noqa: S608 - fixed names


def test_a_failed_write_leaves_neither_the_change_nor_its_event(svc: HubService, client: FlaskClient, h: dict,
                                                                 request: pytest.FixtureRequest) -> None:
    ok(client.post("/api/v1/items", json={"sku": "TEA", "name": "Tea", "unit": "each", "price_minor": 249},
                   headers=h["owner"]), 201)
    ok(client.post("/api/v1/stock/adjustments", json={"sku": "TEA", "location": "floor", "qty": 5, "reason": "found"},
                   headers=h["manager"]), 201)
    before = _counts(svc.db.conn)
    request.getfixturevalue("failing_outbox")
    writes = [
        lambda: client.post("/api/v1/sales", json={"id": str(uuid.uuid4()), "register_id": "till-1",
                                                   "lines": [{"sku": "TEA", "qty": 1}],
                                                   "tenders": [{"kind": "cash", "amount_minor": 249}]}, headers=h["cashier"]),
        lambda: client.post("/api/v1/stock/adjustments", json={"sku": "TEA", "location": "floor", "qty": -1,
                                                               "reason": "found"}, headers=h["manager"]),
        lambda: client.post("/api/v1/items", json={"sku": "JAM", "name": "Jam", "unit": "each", "price_minor": 1},
                            headers=h["owner"]),
        lambda: client.post("/api/v1/counts", json={"scope_kind": "items", "scope": ["TEA"]}, headers=h["manager"]),
        lambda: svc.auth.create_token("cashier"),
    ]
    for write in writes:
        with contextlib.suppress(RuntimeError):  # raised through the test client, or answered 500
            assert write().status_code == 500
        assert _counts(svc.db.conn) == before


# -- the catalog against the code and the docs -------------------------------------------------------

def _written_types() -> dict[str, list[str]]:
    """Event types each hub module passes to an append_event* call: literal arguments, or, where
    the type is a variable, the event-type literals of the enclosing function."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "hub").glob("*.py")):
        tree = ast.parse(path.read_text())
        for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            for call in [n for n in ast.walk(func) if isinstance(n, ast.Call)]:
                name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
                if name not in WRITERS or func.name in WRITERS or len(call.args) < 2:
                    continue
                arg = call.args[1]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    literals = [arg.value]
                else:
                    literals = [n.value for n in ast.walk(func) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                                and re.fullmatch(r"[a-z_]+\.[a-z_]+", n.value)]
                    assert literals, f"{path.name}:{call.lineno}: the event type is neither a literal nor one named nearby"
                found.setdefault(path.name, []).extend(literals)
    return found


def test_every_type_written_is_catalogued_and_every_catalogued_type_is_written() -> None:
    written = _written_types()
    types = {t for ts in written.values() for t in ts}
    assert types - set(events.BY_TYPE) == set(), written
    assert set(events.BY_TYPE) - types == set(), "catalogued but written nowhere"


def test_an_unknown_type_is_refused_before_anything_is_written(svc: HubService) -> None:
    with pytest.raises(events.UnknownEventType, match="sale.lost"), svc.db.write() as conn:
        conn.execute("INSERT INTO registers (id, name) VALUES ('till-9', 'Till 9')")
        svc.store.append_event(conn, "sale.lost", {})
    assert svc.db.conn.execute("SELECT count(*) FROM registers WHERE id = 'till-9'").fetchone()[0] == 0


def test_events_reference_is_current() -> None:
    doc = (ROOT / "docs" / "events.md").read_text()
    assert doc == events.render_markdown(), "regenerate: python -m hub.events > docs/events.md"
    assert "(events.md)" in (ROOT / "docs" / "sync-protocol.md").read_text()


def test_each_type_is_catalogued_once() -> None:
    assert len(events.BY_TYPE) == len(events.CATALOG), "a type is in hub/events.py twice"
    assert all(re.fullmatch(r"[a-z_]+\.[a-z_]+", e.type) and e.v >= 1 for e in events.CATALOG)


def test_money_and_stock_are_never_telemetry() -> None:
    for e in events.CATALOG:
        if e.type.split(".")[0] in ("sale", "return", "stock", "count", "purchase_order", "price", "weighing", "shift"):
            assert not e.telemetry, e.type


# -- check, as a parser of payloads --------------------------------------------------------------------

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                           max_leaves=10)


field_names = st.sampled_from(sorted({f.name for e in events.CATALOG for f in e.fields})) | st.text(max_size=12)


@given(st.sampled_from(events.CATALOG), st.dictionaries(field_names, json_values, max_size=8))
def test_check_names_every_missing_mistyped_or_unknown_field(spec: events.EventType, data: dict) -> None:
    problems = events.check(spec.type, data)
    for f in spec.fields:
        if f.required and f.name not in data:
            assert f"{spec.type}: {f.name} is missing" in problems
    good = {f.name: _sample(f) for f in spec.fields}
    assert events.check(spec.type, good) == []
    fields = {f.name: f for f in spec.fields}
    wrong = [k for k, v in data.items() if (k not in fields and not spec.more) or (k in fields and not _fits(fields[k], v))]
    merged = events.check(spec.type, {**good, **data})
    assert len(merged) == len(wrong) and all(any(f": {k} " in p for p in merged) for k in wrong)


def _fits(f: events.Field, v: Any) -> bool:
    if v is None:
        return f.nullable
    kinds = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list, "any": object}
    return isinstance(v, kinds[f.type]) and not (f.type == "integer" and isinstance(v, bool))


def _sample(f: events.Field) -> Any:
    return {"string": "x", "integer": 1, "boolean": True, "object": {}, "array": [], "any": None if f.nullable else 1}[f.type]


@given(json_values)
def test_check_refuses_a_payload_that_is_not_an_object(data: Any) -> None:
    if not isinstance(data, dict):
        assert events.check("sale.completed", data) == [f"sale.completed: data must be a JSON object, not {type(data).__name__}"]
    assert events.check("no.such", data) == ["event type 'no.such' is not in the catalog"]
