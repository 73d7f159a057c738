"""Cycle counts through the REST API on a real SQLite file: a count never erases a sale."""

import base64
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from flask.testing import FlaskClient

from hub.clock import iso
from hub.service import HubService
from hub.web import create_app
from tests.conftest import hub_config
from tests.helpers import T0, Clock

LEDGER_FIELDS = {"on_hand", "ledger_qty", "ledger_position", "variance", "variance_minor"}
UNIT_CODE, CASE_CODE = "4006381333931", "14006381333938"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
JPEG = b"\xff\xd8\xff\xe0" + bytes(300)


def add(client: FlaskClient, h: dict, sku: str, price: int = 250, cost: int = 120, **fields: object) -> None:
    resp = client.post("/api/v1/items", json={"sku": sku, "name": f"Item {sku}", "unit": "each", "price_minor": price,
                                              "cost_minor": cost, **fields}, headers=h["owner"])
    assert resp.status_code == 201, resp.json


def receive(client: FlaskClient, h: dict, sku: str, qty: int) -> None:
    resp = client.post("/api/v1/stock/adjustments", json={"sku": sku, "location": "floor", "qty": qty, "reason": "found"},
                       headers=h["manager"])
    assert resp.status_code == 201, resp.json


def sell(client: FlaskClient, h: dict, sku: str, qty: int) -> str:
    sale_id = str(uuid.uuid4())
    resp = client.post("/api/v1/sales", json={"id": sale_id, "register_id": "till-1", "lines": [{"sku": sku, "qty": qty}],
                                              "tenders": [{"kind": "cash", "amount_minor": 10**8}]}, headers=h["cashier"])
    assert resp.status_code == 201, resp.json
    return sale_id


def open_count(client: FlaskClient, h: dict, **body: object) -> int:
    resp = client.post("/api/v1/counts", json={"scope_kind": "items", **body}, headers=h["manager"])
    assert resp.status_code == 201, resp.json
    return int(resp.json["id"])


def count(client: FlaskClient, h: dict, sid: int, role: str = "cashier", **body: object) -> dict:
    resp = client.post(f"/api/v1/counts/{sid}/lines", json=body, headers=h[role])
    assert resp.status_code == 200, resp.json
    return dict(resp.json["line"])


def lines(client: FlaskClient, h: dict, sid: int, role: str = "manager") -> dict[str, dict]:
    return {ln["sku"]: ln for ln in client.get(f"/api/v1/counts/{sid}", headers=h[role]).json["lines"]}


def on_hand(svc: HubService, sku: str) -> int:
    row = svc.db.conn.execute("SELECT on_hand FROM stock_levels WHERE sku = ? AND location = 'floor'", (sku,)).fetchone()
    return int(row[0])


def count_moves(svc: HubService) -> list[dict]:
    return [dict(r) for r in svc.db.conn.execute("SELECT * FROM stock_moves WHERE kind = 'count_variance' ORDER BY id")]


def events(svc: HubService, type_: str) -> list[dict]:
    return [json.loads(r[0]) for r in svc.db.conn.execute("SELECT data FROM outbox WHERE type = ? ORDER BY seq", (type_,))]


def test_a_sale_after_the_count_stays_and_one_before_is_in_the_count(svc: HubService, client: FlaskClient, h: dict,
                                                                      clock: Clock) -> None:
    add(client, h, "TEA")
    receive(client, h, "TEA", 14)
    sell(client, h, "TEA", 2)  # before the count: the ledger says 12 when the counter gets there
    sid = open_count(client, h, scope=["TEA"])
    count(client, h, sid, sku="TEA", qty=10)
    sell(client, h, "TEA", 3)  # rung up while the count sheet is out
    clock.now = T0 + timedelta(hours=1)
    closed = client.post(f"/api/v1/counts/{sid}/close", headers=h["manager"]).json
    line = closed["lines"][0]
    assert (closed["status"], line["status"], line["ledger_qty"], line["variance"]) == ("closed", "posted", 12, -2)
    assert on_hand(svc, "TEA") == 7  # counted 10, minus the 3 sold since; writing 10 in would undo that sale
    [move] = count_moves(svc)
    assert (move["qty"], move["reason"], move["doc_type"], move["doc_id"]) == (-2, "count", "count", str(sid))
    assert move["actor"] == closed["closed_by"] and move["actor"].startswith("token:")
    assert move["at"] == iso(clock.now) == closed["closed_at"]
    assert line["move_id"] == move["id"]
    [closed_event] = events(svc, "count.closed")
    assert closed_event["accuracy"]["C"] == {"counted": 1, "matched": 0}


def test_corrections_keep_the_first_position_so_a_sale_between_is_not_lost(svc: HubService, client: FlaskClient,
                                                                            h: dict) -> None:
    add(client, h, "TEA")
    receive(client, h, "TEA", 12)
    sid = open_count(client, h, scope=["TEA"])
    count(client, h, sid, sku="TEA", qty=6, mode="add")  # the front of the shelf
    first = lines(client, h, sid)["TEA"]
    sell(client, h, "TEA", 3)
    count(client, h, sid, sku="TEA", qty=4, mode="add")  # the back of the shelf: 10 in all
    after_add = lines(client, h, sid)["TEA"]
    assert (after_add["counted"], after_add["ledger_qty"], after_add["ledger_position"]) == (
        10, 12, first["ledger_position"])
    assert after_add["on_hand"] == 9  # what the ledger says now, for the manager
    count(client, h, sid, sku="TEA", qty=10, mode="set", note="counted again")
    assert lines(client, h, sid)["TEA"]["ledger_position"] == first["ledger_position"]
    assert client.post(f"/api/v1/counts/{sid}/close", headers=h["manager"]).json["status"] == "closed"
    assert on_hand(svc, "TEA") == 7
    assert [m["qty"] for m in count_moves(svc)] == [-2]


def test_a_blind_count_hides_the_ledger_from_the_counter_only(svc: HubService, client: FlaskClient, h: dict) -> None:
    add(client, h, "TEA")
    receive(client, h, "TEA", 12)
    sid = open_count(client, h, scope=["TEA"])  # blind unless said otherwise
    before = lines(client, h, sid, "cashier")["TEA"]
    assert before["status"] == "to_count" and not LEDGER_FIELDS & set(before)
    answer = count(client, h, sid, sku="TEA", qty=10)
    assert answer["counted"] == 10 and not LEDGER_FIELDS & set(answer)
    assert not LEDGER_FIELDS & set(lines(client, h, sid, "cashier")["TEA"])
    seen = lines(client, h, sid, "manager")["TEA"]
    assert (seen["ledger_qty"], seen["variance"], seen["variance_minor"], seen["on_hand"]) == (12, -2, -240, 12)
    assert not LEDGER_FIELDS & set(client.get("/api/v1/counts", headers=h["cashier"]).json["sessions"][0])
    open_book = open_count(client, h, scope=["TEA"], blind=False)
    assert lines(client, h, open_book, "cashier")["TEA"]["on_hand"] == 12
    # a cashier counts; a manager opens, closes and decides
    assert client.post("/api/v1/counts", json={"scope_kind": "items", "scope": ["TEA"]},
                       headers=h["cashier"]).status_code == 403
    assert client.post(f"/api/v1/counts/{sid}/close", headers=h["cashier"]).status_code == 403
    assert client.post(f"/api/v1/counts/{sid}/lines/TEA/approve", headers=h["cashier"]).status_code == 403


def test_a_big_variance_waits_for_approval_and_a_recount_measures_anew(svc: HubService, client: FlaskClient, h: dict,
                                                                        clock: Clock) -> None:
    for sku in ("TEA", "JAM", "OIL"):
        add(client, h, sku)
        receive(client, h, sku, 12)
    sell(client, h, "TEA", 1)  # TEA has all the sales: an A item; the others are C
    receive(client, h, "TEA", 1)
    assert client.post("/api/v1/counts/classes", headers=h["manager"]).json["classes"] == {"A": 1, "B": 0, "C": 2}
    sid = open_count(client, h, scope=["TEA", "JAM", "OIL"])
    count(client, h, sid, sku="TEA", qty=2)   # -10: over the 5-unit limit
    count(client, h, sid, sku="JAM", qty=4)   # -8
    count(client, h, sid, sku="OIL", qty=12)  # matches
    review = client.post(f"/api/v1/counts/{sid}/close", headers=h["manager"]).json
    assert review["status"] == "review" and review["closed_at"] is None
    assert {s: ln["status"] for s, ln in lines(client, h, sid).items()} == {
        "TEA": "needs_approval", "JAM": "needs_approval", "OIL": "posted"}
    assert (on_hand(svc, "TEA"), count_moves(svc)) == (12, [])  # nothing posted yet, not even OIL's zero
    assert client.get("/api/v1/counts?status=review", headers=h["manager"]).json["sessions"][0]["lines_waiting"] == 2
    assert client.post(f"/api/v1/counts/{sid}/lines", json={"sku": "JAM", "qty": 5},
                       headers=h["cashier"]).status_code == 409  # waiting for a manager
    assert client.post(f"/api/v1/counts/{sid}/lines", json={"sku": "OIL", "qty": 5},
                       headers=h["cashier"]).status_code == 409  # already posted

    sell(client, h, "TEA", 1)
    approved = client.post(f"/api/v1/counts/{sid}/lines/TEA/approve?location=floor", headers=h["manager"])
    assert approved.status_code == 200 and approved.json["status"] == "review"  # JAM still waits
    assert on_hand(svc, "TEA") == 1  # counted 2, less the one sold after the count

    old_position = lines(client, h, sid)["JAM"]["ledger_position"]
    assert client.post(f"/api/v1/counts/{sid}/lines/JAM/recount", json={"location": "floor"},
                       headers=h["manager"]).status_code == 200
    sell(client, h, "JAM", 2)  # the ledger now says 10
    count(client, h, sid, sku="JAM", qty=9)
    jam = lines(client, h, sid)["JAM"]
    assert (jam["status"], jam["ledger_qty"], jam["variance"]) == ("counted", 10, -1)
    assert jam["ledger_position"] > old_position
    assert client.post(f"/api/v1/counts/{sid}/lines/JAM/approve", headers=h["manager"]).status_code == 409
    clock.now = T0 + timedelta(days=1)
    closed = client.post(f"/api/v1/counts/{sid}/close", headers=h["manager"]).json
    assert closed["status"] == "closed" and on_hand(svc, "JAM") == 9
    assert [(m["sku"], m["qty"]) for m in count_moves(svc)] == [("TEA", -10), ("JAM", -1)]
    assert all(m["reason"] == "count" and m["actor"].startswith("token:") and m["at"] for m in count_moves(svc))
    accuracy = {"A": {"counted": 1, "matched": 0}, "B": {"counted": 0, "matched": 0}, "C": {"counted": 2, "matched": 1}}
    assert events(svc, "count.closed")[0]["accuracy"] == accuracy
    kpi = client.get("/api/v1/counts/accuracy", headers=h["manager"]).json["classes"]
    assert kpi == {c: {**v, "accuracy_bp": v["matched"] * 10000 // v["counted"] if v["counted"] else None}
                   for c, v in accuracy.items()}
    assert kpi["C"]["accuracy_bp"] == 5000
    assert client.post(f"/api/v1/counts/{sid}/lines", json={"sku": "TEA", "qty": 1},
                       headers=h["cashier"]).status_code == 409  # the count is closed
    assert client.post(f"/api/v1/counts/{sid}/close", headers=h["manager"]).status_code == 409
    clock.now = T0 + timedelta(days=100)
    assert client.get("/api/v1/counts/accuracy?days=90", headers=h["manager"]).json["classes"]["C"]["counted"] == 0


def test_a_rejected_variance_posts_nothing_and_the_session_closes_when_none_waits(svc: HubService, client: FlaskClient,
                                                                                   h: dict) -> None:
    add(client, h, "GOLD", price=5000, cost=1000)
    add(client, h, "PIN", price=50, cost=10)
    receive(client, h, "GOLD", 5)
    receive(client, h, "PIN", 50)
    sid = open_count(client, h, scope=["GOLD", "PIN"])
    count(client, h, sid, sku="GOLD", qty=2)  # 3 units is within the qty limit but 3000 at cost is over 2000
    count(client, h, sid, sku="PIN", qty=40)  # 10 units over the qty limit, 100 in value
    client.post(f"/api/v1/counts/{sid}/close", headers=h["manager"])
    assert {s: ln["status"] for s, ln in lines(client, h, sid).items()} == {"GOLD": "needs_approval",
                                                                            "PIN": "needs_approval"}
    rejected = client.post(f"/api/v1/counts/{sid}/lines/GOLD/reject", headers=h["manager"]).json
    assert rejected["status"] == "review"
    done = client.post(f"/api/v1/counts/{sid}/lines/PIN/reject", headers=h["owner"]).json
    assert done["status"] == "closed" and done["closed_by"]
    assert {ln["sku"]: (ln["status"], ln["move_id"]) for ln in done["lines"]} == {
        "GOLD": ("rejected", None), "PIN": ("rejected", None)}
    assert (on_hand(svc, "GOLD"), on_hand(svc, "PIN"), count_moves(svc)) == (5, 50, [])
    assert [e["action"] for e in events(svc, "count.line_decided")] == ["reject", "reject"]
    assert client.post(f"/api/v1/counts/{sid}/lines/NOPE/approve", headers=h["manager"]).status_code == 404
    assert client.post(f"/api/v1/counts/{sid}/lines/GOLD/shrug", headers=h["manager"]).status_code == 400
    assert client.get("/api/v1/counts/999", headers=h["manager"]).status_code == 404


def test_abc_classes_come_from_90_days_of_sales_value_without_voids(svc: HubService, client: FlaskClient, h: dict,
                                                                    clock: Clock) -> None:
    for sku, price in (("X", 800), ("Y", 150), ("Z", 50), ("W", 10), ("OLD", 1000), ("IDLE", 5)):
        add(client, h, sku, price=price)
    clock.now = T0 - timedelta(days=91)
    sell(client, h, "OLD", 1)  # outside the trailing 90 days
    clock.now = T0
    for sku in ("X", "Y", "Z"):
        sell(client, h, sku, 1)
    voided = sell(client, h, "W", 100)  # 1000 of sales, then post-voided (the void desk's marking)
    with svc.db.write() as conn:
        conn.execute("UPDATE sales SET voided_at = ?, voided_by = 'test', void_reason = 'mistake' WHERE id = ?",
                     (iso(T0), voided))
    assert client.post("/api/v1/counts/classes", headers=h["cashier"]).status_code == 403
    resp = client.post("/api/v1/counts/classes", headers=h["manager"])
    assert resp.status_code == 200 and resp.json["classes"] == {"A": 1, "B": 1, "C": 4}
    rows = dict(svc.db.conn.execute("SELECT sku, class FROM item_classes").fetchall())
    assert rows == {"X": "A", "Y": "B"}  # C is the default: only A and B items are written
    assert svc.db.conn.execute("SELECT value_minor FROM item_classes WHERE sku = 'X'").fetchone()[0] == 800
    assert events(svc, "counts.classes_computed") == [{"A": 1, "B": 1, "C": 4}]


def test_classes_are_computed_once_for_a_new_hub(svc: HubService, client: FlaskClient, h: dict) -> None:
    add(client, h, "TEA")
    svc.counts.ensure_classes()
    svc.counts.ensure_classes()
    assert len(events(svc, "counts.classes_computed")) == 1
    assert events(svc, "counts.classes_computed")[0] == {"A": 0, "B": 0, "C": 1}
    assert svc.db.conn.execute("SELECT count(*) FROM item_classes").fetchone()[0] == 0  # C needs no row


def test_the_daily_list_covers_every_countable_item_once_per_period(tmp_path: Path, clock: Clock) -> None:
    svc = HubService(hub_config(tmp_path / "data", counts={"a_days": 2, "b_days": 3, "c_days": 5}), clock=clock)
    try:
        client = create_app(svc).test_client()
        h = {r: {"Authorization": f"Bearer {svc.auth.create_token(r)}"} for r in ("owner", "manager", "cashier")}
        skus = [f"S{i:02d}" for i in range(15)]
        for i, sku in enumerate(skus):
            add(client, h, sku, price=10 * (15 - i) ** 2)
            sell(client, h, sku, 1)
        add(client, h, "GONE", active=False)
        add(client, h, "SHIRT", variant_axes=["size"])
        assert client.post("/api/v1/items", json={"sku": "SHIRT-M", "parent_sku": "SHIRT", "variant_values": {"size": "M"}},
                           headers=h["owner"]).status_code == 201
        add(client, h, "GIFT", kit_policy="components", components=[{"sku": "S00", "qty": 1}])
        client.post("/api/v1/counts/classes", headers=h["manager"])
        classes = {sku: "C" for sku in [*skus, "SHIRT-M"]}  # C unless the table says otherwise
        classes.update(svc.db.conn.execute("SELECT sku, class FROM item_classes").fetchall())
        assert {classes[s] for s in skus} == {"A", "B", "C"}
        period = {"A": 2, "B": 3, "C": 5}
        start = date(2026, 11, 27)
        seen: dict[str, list[int]] = {}
        for offset in range(30):  # lcm of the periods
            day = (start + timedelta(days=offset)).isoformat()
            listed = client.get(f"/api/v1/counts/daily?date={day}", headers=h["cashier"]).json["items"]
            for item in listed:
                seen.setdefault(item["sku"], []).append(offset)
        assert set(seen) == {*skus, "SHIRT-M"}  # not the inactive item, the variant parent or the kit
        for sku, days in seen.items():
            p = period[classes[sku]]
            assert len(days) == 30 // p and all(b - a == p for a, b in zip(days, days[1:], strict=False)), sku
        # "today" is the clock's UTC date, whatever zone the clock speaks in
        clock.now = datetime(2026, 11, 27, 20, 30, tzinfo=timezone(timedelta(hours=-5)))
        today = client.get("/api/v1/counts/daily", headers=h["cashier"]).json
        assert (today["date"], today["day_number"]) == ("2026-11-28", (date(2026, 11, 28) - date(1970, 1, 1)).days)
        assert [i["sku"] for i in today["items"]] == sorted(s for s, d in seen.items() if 1 in d)
        sid = open_count(client, h, scope_kind="daily")
        assert client.get(f"/api/v1/counts/{sid}", headers=h["cashier"]).json["scope"] == [i["sku"] for i in today["items"]]
        assert client.get("/api/v1/counts/daily?date=tomorrow", headers=h["cashier"]).status_code == 400
    finally:
        svc.stop()


def test_aisle_and_category_sessions_list_what_to_count(svc: HubService, client: FlaskClient, h: dict) -> None:
    add(client, h, "TEA", category="Drinks")
    add(client, h, "JAM", category="Spreads")
    add(client, h, "HONEY", category="Spreads")
    with svc.db.write() as conn:  # the aisle is a field the shop sets on the item
        conn.execute("UPDATE items SET aisle = '3' WHERE sku IN ('JAM', 'TEA')")
    aisle = open_count(client, h, scope_kind="aisle", scope="3")
    assert set(lines(client, h, aisle, "cashier")) == {"JAM", "TEA"}
    count(client, h, aisle, sku="HONEY", qty=1)  # found in the wrong aisle: counted all the same
    assert lines(client, h, aisle)["HONEY"]["in_scope"] is False
    category = open_count(client, h, scope_kind="category", scope="Spreads")
    assert set(lines(client, h, category, "cashier")) == {"JAM", "HONEY"}
    bad = client.post("/api/v1/counts", json={"scope_kind": "aisle", "scope": "99"}, headers=h["manager"])
    assert bad.status_code == 422 and bad.json["error"]["field"] == "scope"
    bad = client.post("/api/v1/counts", json={"scope_kind": "shelf"}, headers=h["manager"])
    assert bad.status_code == 400 and bad.json["error"]["field"] == "scope_kind"
    bad = client.post("/api/v1/counts", json={"scope_kind": "items", "scope": ["TEA"], "location": "attic"},
                      headers=h["manager"])
    assert bad.status_code == 422 and bad.json["error"]["field"] == "location"
    [opened, *_] = events(svc, "count.opened")
    assert (opened["id"], opened["scope_kind"], opened["scope"], opened["blind"]) == (aisle, "aisle", "3", True)


def test_counting_by_scan_counts_cases_in_units(svc: HubService, client: FlaskClient, h: dict) -> None:
    add(client, h, "TEA", barcodes=[UNIT_CODE, {"code": CASE_CODE, "packaging": "case", "pack_qty": 12}])
    add(client, h, "MUG")
    add(client, h, "GIFT", kit_policy="components", components=[{"sku": "MUG", "qty": 1}])
    sid = open_count(client, h, scope=["TEA"])
    assert count(client, h, sid, code=UNIT_CODE)["counted"] == 1
    assert count(client, h, sid, code=CASE_CODE, mode="add")["counted"] == 13
    assert count(client, h, sid, code=CASE_CODE, qty=2, mode="add")["counted"] == 37
    assert count(client, h, sid, code=UNIT_CODE, qty=5)["counted"] == 5  # set: five scans of one piece
    for body, status, field in (({"code": "4006381333948"}, 422, "code"),   # a valid GTIN nobody sells
                                ({"code": "4006381333932"}, 422, "code"),   # a wrong check digit
                                ({"sku": "NOPE", "qty": 1}, 422, "sku"),
                                ({"sku": "GIFT", "qty": 1}, 422, "sku"),    # a kit sold from its parts
                                ({"sku": "TEA", "code": UNIT_CODE}, 400, "sku"),
                                ({"sku": "TEA", "qty": -1}, 400, "qty"),
                                ({"sku": "TEA", "qty": 1, "mode": "guess"}, 400, "mode")):
        resp = client.post(f"/api/v1/counts/{sid}/lines", json=body, headers=h["cashier"])
        assert (resp.status_code, resp.json["error"]["field"]) == (status, field), body
    assert lines(client, h, sid)["TEA"]["counted"] == 5
    assert [e["counted"] for e in events(svc, "count.line_counted")] == [1, 13, 37, 5]


def test_a_photo_is_kept_private_and_a_bad_one_refused(svc: HubService, client: FlaskClient, h: dict) -> None:
    add(client, h, "TEA")
    sid = open_count(client, h, scope=["TEA"])
    line = count(client, h, sid, sku="TEA", qty=3, note="torn box", photo=base64.b64encode(PNG).decode())
    assert line["photo"] == f"photos/count-{sid}/TEA.png"
    saved = svc.data_dir / line["photo"]
    assert saved.read_bytes() == PNG and saved.stat().st_mode & 0o777 == 0o600
    for photo in (base64.b64encode(JPEG + bytes(1024 * 1024)).decode(),   # over 1 MB
                  "not base64 at all!",
                  base64.b64encode(b"GIF89a" + bytes(50)).decode()):
        resp = client.post(f"/api/v1/counts/{sid}/lines", json={"sku": "TEA", "qty": 9, "photo": photo},
                           headers=h["cashier"])
        assert (resp.status_code, resp.json["error"]["field"]) == (400, "photo")
    kept = lines(client, h, sid)["TEA"]
    assert (kept["counted"], kept["note"], kept["photo"]) == (3, "torn box", f"photos/count-{sid}/TEA.png")
    again = count(client, h, sid, sku="TEA", qty=4, photo="data:image/jpeg;base64," + base64.b64encode(JPEG).decode())
    assert again["photo"] == f"photos/count-{sid}/TEA.jpg" and again["note"] == "torn box"
    assert (svc.data_dir / again["photo"]).read_bytes() == JPEG and not saved.exists()


def test_a_blind_count_is_not_given_away_by_the_stock_lookup(tmp_path: Path) -> None:
    from hub.service import HubService
    from hub.web import create_app
    from tests.conftest import hub_config

    svc = HubService(hub_config(tmp_path / "blind"))
    try:
        client = create_app(svc).test_client()
        h = {r: {"Authorization": f"Bearer {svc.auth.create_token(r)}"} for r in ("owner", "cashier")}
        client.post("/api/v1/items", json={"sku": "TEA", "name": "Tea", "unit": "each", "price_minor": 100}, headers=h["owner"])
        client.post("/api/v1/stock/adjustments", json={"sku": "TEA", "qty": 9, "reason": "found"}, headers=h["owner"])
        assert client.get("/api/v1/stock/TEA", headers=h["cashier"]).json["locations"][0]["on_hand"] == 9
        session = client.post("/api/v1/counts", json={"location": "floor", "scope_kind": "location"}, headers=h["owner"]).json
        hidden = client.get("/api/v1/stock/TEA", headers=h["cashier"]).json["locations"][0]
        assert hidden["on_hand"] is None and hidden["available"] is None and "blind count" in hidden["hidden"]
        assert client.get("/api/v1/stock/TEA", headers=h["owner"]).json["locations"][0]["on_hand"] == 9
        client.post(f"/api/v1/counts/{session['id']}/lines", json={"sku": "TEA", "qty": 9}, headers=h["cashier"])
        client.post(f"/api/v1/counts/{session['id']}/close", headers=h["owner"])
        assert client.get("/api/v1/stock/TEA", headers=h["cashier"]).json["locations"][0]["on_hand"] == 9
    finally:
        svc.stop()


def test_a_resent_scan_counts_once_and_a_note_alone_keeps_the_count(svc: HubService, client: FlaskClient, h: dict) -> None:
    add(client, h, "TEA")
    sid = open_count(client, h, scope=["TEA"])
    scan = {"id": str(uuid.uuid4()), "sku": "TEA", "qty": 1, "mode": "add"}
    first = client.post(f"/api/v1/counts/{sid}/lines", json=scan, headers=h["cashier"]).json
    again = client.post(f"/api/v1/counts/{sid}/lines", json=scan, headers=h["cashier"]).json
    assert (first["line"]["counted"], first["replayed"]) == (1, False)
    assert (again["line"]["counted"], again["replayed"]) == (1, True)
    count(client, h, sid, sku="TEA", qty=1, mode="add", id=str(uuid.uuid4()))
    noted = count(client, h, sid, sku="TEA", note="shelf label missing", photo=base64.b64encode(PNG).decode())
    assert (noted["counted"], noted["note"]) == (2, "shelf label missing")
    photo = client.get(f"/api/v1/counts/{sid}/lines/TEA/photo", headers=h["manager"])
    assert photo.status_code == 200 and photo.mimetype == "image/png" and photo.data == PNG
    assert client.get(f"/api/v1/counts/{sid}/lines/TEA/photo", headers=h["cashier"]).status_code == 403
    add(client, h, "JAM")
    early = client.post(f"/api/v1/counts/{sid}/lines", json={"sku": "JAM", "note": "x"}, headers=h["cashier"])
    assert early.status_code == 422 and early.json["error"]["field"] == "qty"
    bad_id = client.post(f"/api/v1/counts/{sid}/lines", json={**scan, "id": "nope"}, headers=h["cashier"])
    assert bad_id.status_code == 400 and bad_id.json["error"]["field"] == "id"
