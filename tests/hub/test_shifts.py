"""Shifts and Z reports through the REST API: open with a float, close with a count; the Z report's
totals by tender and by tax rate equal the sums over the shift's own sales (Hypothesis over random
shifts), over/short is counted minus expected, and the kept report never changes."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import events
from hub.clock import iso
from hub.service import HubService
from hub.web import create_app
from tests.helpers import Clock

# MUG 3.50 at 20 %, BREAD 2.15 at 5.5 %, PAPER 1.99 at 0 %, CHEESE 24.99/kg at 5.5 % sold by the gram
ITEMS = [("MUG", "each", 350, "standard"), ("BREAD", "each", 215, "food"), ("PAPER", "each", 199, "zero"),
         ("CHEESE", "g", 2499, "food")]
RATES = {"standard": 2000, "food": 550, "zero": 0}


@pytest.fixture
def shop(client: FlaskClient, h: dict) -> None:
    for cat, rate in RATES.items():
        assert client.put(f"/api/v1/tax-categories/{cat}", json={"name": cat, "rate_bp": rate},
                          headers=h["owner"]).status_code == 200
    for sku, unit, price, cat in ITEMS:
        assert client.post("/api/v1/items", json={"sku": sku, "name": sku.title(), "unit": unit, "price_minor": price,
                                                  "tax_category": cat}, headers=h["owner"]).status_code == 201
    assert client.post("/api/v1/receipts", json={"location": "floor", "lines": [
        {"sku": sku, "qty": 10**7} for sku, *_ in ITEMS]}, headers=h["manager"]).status_code == 201


def sell(client: FlaskClient, h: dict, lines: list[dict], extra_minor: int = 0) -> dict[str, Any]:
    total = client.post("/api/v1/sales/quote", json={"lines": lines}, headers=h["cashier"]).json["total_minor"]
    resp = client.post("/api/v1/sales", json={"id": str(uuid.uuid4()), "register_id": "till-1", "lines": lines,
                                              "tenders": [{"kind": "cash", "amount_minor": total + extra_minor}]},
                       headers=h["cashier"])
    assert resp.status_code == 201, resp.json
    sale: dict[str, Any] = resp.json
    return sale


def open_shift(client: FlaskClient, h: dict, float_minor: int) -> dict[str, Any]:
    resp = client.post("/api/v1/registers/till-1/shifts", json={"float_minor": float_minor}, headers=h["cashier"])
    assert resp.status_code == 201, resp.json
    shift: dict[str, Any] = resp.json
    return shift


@pytest.mark.usefixtures("shop")
def test_a_shift_closes_with_a_z_report_that_is_kept_and_sent(svc: HubService, client: FlaskClient, h: dict) -> None:
    before = sell(client, h, [{"sku": "MUG", "qty": 1}])  # no shift open: not in any report
    shift = open_shift(client, h, 10_000)
    again = client.post("/api/v1/registers/till-1/shifts", json={"float_minor": 0}, headers=h["cashier"])
    assert again.status_code == 409 and again.json["error"]["code"] == "shift_open"
    mugs = sell(client, h, [{"sku": "MUG", "qty": 2}], extra_minor=300)  # 7.00, paid 10.00
    cheese = sell(client, h, [{"sku": "CHEESE", "qty": 500}, {"sku": "PAPER", "qty": 1}])
    voided = sell(client, h, [{"sku": "BREAD", "qty": 3}])
    assert client.post(f"/api/v1/sales/{voided['id']}/void", json={"reason": "rang twice"},
                       headers=h["manager"]).status_code == 200
    back = client.post("/api/v1/returns", json={"id": str(uuid.uuid4()), "register_id": "till-1", "sale_id": mugs["id"],
                                                "lines": [{"sale_line_no": 1, "qty": 1, "reason": "changed_mind",
                                                           "condition": "resellable"}]}, headers=h["cashier"])
    assert back.status_code == 201, back.json
    current = client.get("/api/v1/registers/till-1/shift", headers=h["cashier"]).json
    assert current["shift"]["id"] == shift["id"] and current["report"]["kind"] == "X"
    expected = 10_000 + mugs["total_minor"] + cheese["total_minor"] - 350
    closed = client.post(f"/api/v1/shifts/{shift['id']}/close", json={"counted_minor": expected - 50},
                         headers=h["cashier"])
    assert closed.status_code == 200, closed.json
    z = closed.json
    assert z["kind"] == "Z" and z["sales"]["count"] == 2
    assert z["sales"]["total_minor"] == mugs["total_minor"] + cheese["total_minor"]
    assert z["tenders"] == [{"kind": "cash", "amount_minor": mugs["total_minor"] + cheese["total_minor"], "count": 2}]
    assert [t["rate_bp"] for t in z["taxes"]] == [0, 550, 2000]
    assert z["voids"] == {"count": 1, "total_minor": voided["total_minor"], "earlier_shifts_count": 0,
                          "earlier_shifts_cash_minor": 0}
    assert z["returns"]["count"] == 1 and z["returns"]["refunds"] == [{"kind": "cash", "amount_minor": 350}]
    assert z["cash"]["expected_minor"] == expected and z["cash"]["over_short_minor"] == -50
    assert z["print_job"] is None  # no receipt printer on this register
    assert client.get(f"/api/v1/shifts/{shift['id']}/report", headers=h["integration"]).json == {
        k: v for k, v in z.items() if k != "print_job"}
    assert client.get("/api/v1/registers/till-1/shift", headers=h["cashier"]).json == {"shift": None, "report": None}
    late = client.post(f"/api/v1/shifts/{shift['id']}/close", json={"counted_minor": 0}, headers=h["cashier"])
    assert late.status_code == 409 and late.json["error"]["code"] == "shift_closed"
    with pytest.raises(sqlite3.IntegrityError, match="kept as it was closed"):
        svc.db.conn.execute("UPDATE z_reports SET report = '{}'")
    (row,) = svc.db.conn.execute("SELECT data FROM outbox WHERE type = 'shift.closed'").fetchall()
    assert events.check("shift.closed", json.loads(row[0])) == [] and json.loads(row[0])["cash"]["over_short_minor"] == -50
    assert svc.db.conn.execute("SELECT shift_id FROM sales WHERE id = ?", (before["id"],)).fetchone()[0] is None


@pytest.mark.usefixtures("shop")
def test_a_count_by_denomination_must_add_up(client: FlaskClient, h: dict) -> None:
    shift = open_shift(client, h, 5000)
    wrong = client.post(f"/api/v1/shifts/{shift['id']}/close", headers=h["cashier"], json={
        "counted_minor": 5000, "denominations": [{"value_minor": 2000, "count": 2}]})
    assert wrong.status_code == 400 and wrong.json["error"]["field"] == "denominations"
    assert client.get("/api/v1/registers/till-1/shift", headers=h["cashier"]).json["shift"]["id"] == shift["id"]
    assert client.post("/api/v1/registers/till-1/shifts", json={"float_minor": -1},
                       headers=h["cashier"]).json["error"]["field"] == "float_minor"
    counted = [{"value_minor": 2000, "count": 2}, {"value_minor": 500, "count": 2}]
    z = client.post(f"/api/v1/shifts/{shift['id']}/close", json={"counted_minor": 5000, "denominations": counted},
                    headers=h["cashier"]).json
    assert z["cash"]["denominations"] == counted and z["cash"]["over_short_minor"] == 0


def test_the_z_report_prints_on_the_registers_receipt_printer(svc: HubService, client: FlaskClient, h: dict) -> None:
    with svc.db.write() as conn:
        conn.execute("INSERT INTO devices (id, kind, name, register_id, first_seen, last_seen) VALUES "
                     "('printer-1', 'receipt_printer', 'Counter printer', 'till-1', 'x', 'x')")
    shift = open_shift(client, h, 2000)
    z = client.post(f"/api/v1/shifts/{shift['id']}/close", json={"counted_minor": 2100}, headers=h["cashier"]).json
    job = svc.print_queue.job(z["print_job"]["job_id"])
    assert job is not None and job["device_id"] == "printer-1" and job["status"] == "queued"  # printer offline: waits
    payload = json.loads(svc.db.conn.execute("SELECT payload FROM print_jobs WHERE job_id = ?",
                                             (job["job_id"],)).fetchone()[0])
    assert payload["header"][0] == "Z REPORT - SHIFT CLOSED"
    assert {"text": "Over", "amount": "1.00 EUR"} in payload["totals"]
    again = client.post(f"/api/v1/shifts/{shift['id']}/print", headers=h["cashier"])
    assert again.status_code == 202 and again.json["job_id"] != job["job_id"]


LINE = st.one_of(st.tuples(st.sampled_from(["MUG", "BREAD", "PAPER"]), st.integers(1, 5)),
                 st.tuples(st.just("CHEESE"), st.integers(1, 2500)))
SALE = st.tuples(st.lists(LINE, min_size=1, max_size=4), st.integers(0, 2000), st.booleans())


@pytest.mark.usefixtures("shop")
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sales=st.lists(SALE, max_size=6), float_minor=st.integers(0, 50_000), counted=st.integers(0, 200_000))
def test_z_report_totals_are_the_sums_over_the_shifts_sales(svc: HubService, h: dict, sales: list[Any],
                                                             float_minor: int, counted: int) -> None:
    client = create_app(svc).test_client()
    shift = open_shift(client, h, float_minor)
    kept: list[dict[str, Any]] = []
    for lines, extra, void in sales:
        sale = sell(client, h, [{"sku": sku, "qty": qty} for sku, qty in lines], extra)
        if void:
            assert client.post(f"/api/v1/sales/{sale['id']}/void", json={"reason": "test"},
                               headers=h["manager"]).status_code == 200
        else:
            kept.append(sale)
    z = client.post(f"/api/v1/shifts/{shift['id']}/close", json={"counted_minor": counted}, headers=h["cashier"]).json
    sell(client, h, [{"sku": "MUG", "qty": 1}])  # after the close: in no report
    by_rate: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for sale in kept:
        for ln in sale["lines"]:
            by_rate[ln["tax_rate_bp"]][0] += ln["total_minor"]
            by_rate[ln["tax_rate_bp"]][1] += ln["tax_minor"]
    assert z["taxes"] == [{"rate_bp": r, "total_minor": v[0], "tax_minor": v[1]} for r, v in sorted(by_rate.items())]
    cash = sum(t["amount_minor"] for s in kept for t in s["tenders"]) - sum(s["change_minor"] for s in kept)
    assert z["tenders"] == ([{"kind": "cash", "amount_minor": cash, "count": len(kept)}] if kept else [])
    assert z["sales"] == {"count": len(kept), "total_minor": sum(s["total_minor"] for s in kept),
                          "tax_minor": sum(s["tax_minor"] for s in kept)}
    assert z["voids"]["count"] == len(sales) - len(kept)
    assert z["cash"]["expected_minor"] == float_minor + cash
    assert z["cash"]["over_short_minor"] == counted - float_minor - cash


@pytest.mark.usefixtures("shop")
def test_a_paired_tablets_cashier_sells_only_in_an_open_shift(svc: HubService, client: FlaskClient, h: dict) -> None:
    svc.people.add_person("cara", "cashier", "4321", actor="test")
    code = client.post("/api/v1/pairing/codes", headers=h["owner"]).json["code"]
    tab = create_app(svc).test_client()
    assert tab.post("/api/v1/pairing", json={"code": code, "register_id": "till-1"}).status_code == 201
    token = tab.post("/api/v1/tablet/signin", json={"username": "cara", "pin": "4321"}).json["csrf_token"]
    body = {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "MUG", "qty": 1}],
            "tenders": [{"kind": "cash", "amount_minor": 350}]}
    refused = tab.post("/api/v1/sales", json=body, headers={"X-CSRF-Token": token})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "no_shift"
    shift = tab.post("/api/v1/registers/till-1/shifts", json={"float_minor": 0}, headers={"X-CSRF-Token": token}).json
    sold = tab.post("/api/v1/sales", json=body, headers={"X-CSRF-Token": token})
    assert sold.status_code == 201 and sold.json["id"] == body["id"]
    elsewhere = tab.post("/api/v1/sales", json={**body, "id": str(uuid.uuid4()), "register_id": "other"},
                         headers={"X-CSRF-Token": token})
    assert elsewhere.status_code == 403
    z = tab.post(f"/api/v1/shifts/{shift['id']}/close", json={"counted_minor": 350}, headers={"X-CSRF-Token": token}).json
    assert z["sales"]["count"] == 1 and z["shift"]["opened_by"] == "user:cara" and z["cash"]["over_short_minor"] == 0
    replay = tab.post("/api/v1/sales", json=body, headers={"X-CSRF-Token": token})  # an answer lost on the way
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"


def close_shift(client: FlaskClient, h: dict, shift_id: str, counted_minor: int) -> dict[str, Any]:
    resp = client.post(f"/api/v1/shifts/{shift_id}/close", json={"counted_minor": counted_minor}, headers=h["cashier"])
    assert resp.status_code == 200, resp.json
    z: dict[str, Any] = resp.json
    return z


@pytest.mark.usefixtures("shop")
def test_a_void_in_a_later_shift_is_paid_from_that_shifts_drawer(svc: HubService, client: FlaskClient, h: dict) -> None:
    first = open_shift(client, h, 0)
    sale = sell(client, h, [{"sku": "MUG", "qty": 1}])
    assert close_shift(client, h, first["id"], 350)["cash"]["over_short_minor"] == 0
    second = open_shift(client, h, 1000)
    assert client.post(f"/api/v1/sales/{sale['id']}/void", json={"reason": "rang up twice"},
                       headers=h["manager"]).status_code == 200
    z = close_shift(client, h, second["id"], 650)  # 3.50 went back to the customer from this drawer
    assert z["cash"]["expected_minor"] == 650 and z["cash"]["over_short_minor"] == 0 and z["cash"]["voids_minor"] == 350
    assert z["voids"] == {"count": 1, "total_minor": 350, "earlier_shifts_count": 1, "earlier_shifts_cash_minor": 350}
    assert z["sales"]["count"] == 0
    kept = client.get(f"/api/v1/shifts/{first['id']}/report", headers=h["cashier"]).json
    assert kept["sales"]["count"] == 1 and kept["voids"]["count"] == 0  # closed as it was


@pytest.mark.usefixtures("shop")
def test_a_return_in_a_later_shift_is_paid_from_that_shifts_drawer(svc: HubService, client: FlaskClient,
                                                                     h: dict) -> None:
    first = open_shift(client, h, 0)
    sale = sell(client, h, [{"sku": "MUG", "qty": 2}])
    close_shift(client, h, first["id"], 700)
    second = open_shift(client, h, 1000)
    back = client.post("/api/v1/returns", json={"id": str(uuid.uuid4()), "register_id": "till-1", "sale_id": sale["id"],
                                                "lines": [{"sale_line_no": 1, "qty": 1, "reason": "changed_mind",
                                                           "condition": "resellable"}]}, headers=h["cashier"])
    assert back.status_code == 201, back.json
    assert svc.db.conn.execute("SELECT shift_id FROM returns WHERE id = ?", (back.json["id"],)).fetchone()[0] == second["id"]
    z = close_shift(client, h, second["id"], 650)
    assert z["returns"]["count"] == 1 and z["cash"]["refunds_minor"] == 350 and z["cash"]["over_short_minor"] == 0


@pytest.mark.usefixtures("shop")
def test_an_offline_sale_is_booked_into_the_shift_it_was_made_in(svc: HubService, client: FlaskClient, h: dict,
                                                                 clock: Clock) -> None:
    svc.people.add_person("cara", "cashier", "4321", actor="test")
    code = client.post("/api/v1/pairing/codes", headers=h["owner"]).json["code"]
    tab = create_app(svc).test_client()
    assert tab.post("/api/v1/pairing", json={"code": code, "register_id": "till-1"}).status_code == 201
    csrf = {"X-CSRF-Token": tab.post("/api/v1/tablet/signin", json={"username": "cara", "pin": "4321"}).json["csrf_token"]}
    first = tab.post("/api/v1/registers/till-1/shifts", json={"float_minor": 0}, headers=csrf).json
    clock.now += timedelta(hours=1)

    def offline(minutes_ago: int) -> dict[str, Any]:  # a mug sold while the hub was out of reach
        return {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "MUG", "qty": 1}],
                "tenders": [{"kind": "cash", "amount_minor": 500}], "offline": True,
                "recorded_at": iso(clock.now - timedelta(minutes=minutes_ago)),
                "charged": {"catalog_version": 1, "total_minor": 350,
                            "lines": [{"unit_price_minor": 350, "total_minor": 350}]}}

    early, later = offline(30), offline(20)
    close_shift(client, h, first["id"], 700)  # closed at the back office while the tablet was offline
    clock.now += timedelta(minutes=5)
    sent = tab.post("/api/v1/sales", json=early, headers=csrf)  # no shift open: still taken
    assert sent.status_code == 201, sent.json
    clock.now += timedelta(minutes=5)
    second = tab.post("/api/v1/registers/till-1/shifts", json={"float_minor": 1000}, headers=csrf).json
    sent = tab.post("/api/v1/sales", json=later, headers=csrf)  # a new shift open: not booked into it
    assert sent.status_code == 201, sent.json
    booked = dict(svc.db.conn.execute("SELECT id, shift_id FROM sales").fetchall())
    assert booked == {early["id"]: first["id"], later["id"]: first["id"]}
    x = client.get(f"/api/v1/shifts/{second['id']}/report", headers=h["cashier"]).json
    assert x["sales"]["count"] == 0 and x["cash"]["expected_minor"] == 1000
    late = x["late_offline_sales"]
    assert late["count"] == 2 and late["total_minor"] == 700
    assert [(s["id"], s["shift_number"], s["cash_minor"]) for s in late["sales"]] == [
        (early["id"], first["number"], 350), (later["id"], first["number"], 350)]
    z = close_shift(client, h, second["id"], 1000)
    assert z["late_offline_sales"]["count"] == 2
    assert client.get(f"/api/v1/shifts/{first['id']}/report", headers=h["cashier"]).json["sales"]["count"] == 0  # kept
    third = open_shift(client, h, 0)
    assert client.get(f"/api/v1/shifts/{third['id']}/report", headers=h["cashier"]).json["late_offline_sales"]["count"] == 0
