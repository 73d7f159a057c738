"""The owner's review of offline sales through the REST API (hub.offline_review): sales a register
queued without the hub, replayed with the prices it charged; the list with its filters and pages,
roles, and "mark reviewed", recorded once and sent as offline_sale.reviewed; `backroom status`
shows the count still to review."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub import events
from hub.clock import iso
from hub.service import HubService
from hub.web import create_app
from tests.helpers import Clock

# MUG 3.50 today; the register's snapshot still had 3.00. JAM is never received: sold below zero.
ITEMS = [("MUG", 350, ""), ("TEA", 250, ""), ("JAM", 400, "block")]


@pytest.fixture
def shop(client: FlaskClient, h: dict) -> None:
    assert client.put("/api/v1/tax-categories/standard", json={"name": "Standard", "rate_bp": 2000},
                      headers=h["owner"]).status_code == 200
    for sku, price, negative in ITEMS:
        resp = client.post("/api/v1/items", json={"sku": sku, "name": sku.title(), "unit": "each", "price_minor": price,
                                                  "tax_category": "standard", "negative_stock": negative},
                           headers=h["owner"])
        assert resp.status_code == 201, resp.json
    assert client.post("/api/v1/receipts", json={"location": "floor", "lines": [
        {"sku": "MUG", "qty": 100}, {"sku": "TEA", "qty": 100}]}, headers=h["manager"]).status_code == 201


def offline_sale(client: FlaskClient, h: dict, clock: Clock, lines: list[tuple[str, int, int]],
                 register: str = "till-1", minutes_ago: int = 10) -> dict[str, Any]:
    """Replay a sale a register made offline: lines (sku, qty, unit price it charged), paid in cash."""
    charged = [{"unit_price_minor": price, "total_minor": price * qty} for _, qty, price in lines]
    total = sum(c["total_minor"] for c in charged)
    body = {"id": str(uuid.uuid4()), "register_id": register, "offline": True,
            "recorded_at": iso(clock.now - timedelta(minutes=minutes_ago)),
            "lines": [{"sku": sku, "qty": qty} for sku, qty, _ in lines],
            "tenders": [{"kind": "cash", "amount_minor": total}],
            "charged": {"catalog_version": 1, "total_minor": total, "lines": charged}}
    resp = client.post("/api/v1/sales", json=body, headers=h["integration"])
    assert resp.status_code == 201, resp.json
    sale: dict[str, Any] = resp.json
    return sale


def listing(client: FlaskClient, h: dict, query: str = "", who: str = "manager") -> dict[str, Any]:
    resp = client.get(f"/api/v1/offline-sales{query}", headers=h[who])
    assert resp.status_code == 200, resp.json
    page: dict[str, Any] = resp.json
    return page


@pytest.mark.usefixtures("shop")
def test_a_price_difference_is_listed_with_both_prices(svc: HubService, client: FlaskClient, h: dict,
                                                       clock: Clock) -> None:
    assert listing(client, h) == {"sales": [], "next_cursor": None, "summary": {
        "offline_sales": 0, "with_differences": 0, "unreviewed": 0, "oversold": 0}}
    sale = offline_sale(client, h, clock, [("MUG", 2, 300), ("TEA", 1, 250)], minutes_ago=30)
    clock.now += timedelta(minutes=1)
    offline_sale(client, h, clock, [("TEA", 1, 250)])  # charged as the hub prices it: nothing to review
    clock.now += timedelta(minutes=1)
    oversold = offline_sale(client, h, clock, [("JAM", 1, 400)])  # none on hand, and JAM blocks negative stock

    page = listing(client, h)
    assert page["summary"] == {"offline_sales": 3, "with_differences": 1, "unreviewed": 1, "oversold": 1}
    assert [s["sale_id"] for s in page["sales"]][0] == oversold["id"]  # newest arrival first
    (found,) = [s for s in page["sales"] if s["sale_id"] == sale["id"]]
    assert found["charged_total_minor"] == 850 and found["today_total_minor"] == 950
    assert found["difference_minor"] == -100 and found["catalog_version"] == 1 and found["register_id"] == "till-1"
    assert found["recorded_at"] == iso(clock.now - timedelta(minutes=32)) and found["received_at"] < iso(clock.now)
    assert found["receipt_code"] == f"S{sale['number']:08d}" and found["reviewed"] is None
    assert found["price_differences"] == [{
        "line_no": 1, "sku": "MUG", "name": "Mug", "qty": 2, "unit": "each", "charged_unit_price_minor": 300,
        "charged_total_minor": 600, "today_unit_price_minor": 350, "today_total_minor": 700}]
    (jam,) = [s for s in page["sales"] if s["sale_id"] == oversold["id"]]
    assert jam["oversold"] == [{"sku": "JAM", "name": "Jam"}] and jam["price_differences"] == []
    assert client.get(f"/api/v1/offline-sales/{sale['id']}", headers=h["integration"]).json == found
    assert client.get("/api/v1/offline-sales/no-such-sale", headers=h["manager"]).status_code == 404


@pytest.mark.usefixtures("shop")
def test_filters_and_pages(svc: HubService, client: FlaskClient, h: dict, clock: Clock) -> None:
    svc.db.conn.execute("INSERT INTO registers (id, name) VALUES ('till-2', 'Till 2')")
    arrived = []
    for i in range(5):
        clock.now += timedelta(minutes=10)
        differs = i % 2 == 0
        sale = offline_sale(client, h, clock, [("MUG", 1, 300 if differs else 350)],
                            register="till-2" if i == 4 else "till-1", minutes_ago=5)
        arrived.append((sale["id"], iso(clock.now), differs))
    newest_first = [a[0] for a in reversed(arrived)]

    assert [s["sale_id"] for s in listing(client, h, "?differences=1")["sales"]] == [
        a[0] for a in reversed(arrived) if a[2]]
    assert [s["sale_id"] for s in listing(client, h, "?register=till-2")["sales"]] == [arrived[4][0]]
    since, until = arrived[1][1], arrived[3][1]  # arrival times: since inclusive, until exclusive
    assert [s["sale_id"] for s in listing(client, h, f"?since={since}&until={until}")["sales"]] == [
        arrived[2][0], arrived[1][0]]
    seen, cursor = [], ""
    while True:  # two at a time, each sale exactly once
        page = listing(client, h, f"?limit=2&cursor={cursor}")
        seen += [s["sale_id"] for s in page["sales"]]
        assert len(page["sales"]) <= 2
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first
    for bad, field in (("?since=yesterday", "since"), ("?limit=0", "limit"), ("?limit=201", "limit"),
                       ("?differences=maybe", "differences"), ("?cursor=nonsense", "cursor")):
        resp = client.get(f"/api/v1/offline-sales{bad}", headers=h["manager"])
        assert resp.status_code == 400 and resp.json["error"]["field"] == field, bad


@pytest.mark.usefixtures("shop")
def test_only_managers_and_owners_see_it_and_only_an_owner_marks_it_reviewed(svc: HubService, client: FlaskClient,
                                                                           h: dict, clock: Clock) -> None:
    sale = offline_sale(client, h, clock, [("MUG", 1, 300)])
    assert client.get("/api/v1/offline-sales", headers=h["cashier"]).status_code == 403
    assert client.get("/api/v1/offline-sales").status_code == 401
    assert client.post(f"/api/v1/offline-sales/{sale['id']}/review", json={}, headers=h["manager"]).status_code == 403
    assert client.post(f"/api/v1/offline-sales/{sale['id']}/review", json={},
                       headers=h["integration"]).status_code == 403
    assert listing(client, h)["summary"]["unreviewed"] == 1
    # a signed-in owner's page needs its CSRF token, like every other change
    svc.auth.set_user("olive", "owner-password-1", "owner", actor="test")
    page = create_app(svc).test_client()
    assert page.post("/login", json={"username": "olive", "password": "owner-password-1"}).status_code == 200
    refused = page.post(f"/api/v1/offline-sales/{sale['id']}/review", json={})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "csrf"
    csrf = page.get("/api/v1/session").json["csrf_token"]
    done = page.post(f"/api/v1/offline-sales/{sale['id']}/review", json={}, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200 and done.json["reviewed"]["by"] == "user:olive"


@pytest.mark.usefixtures("shop")
def test_mark_reviewed_is_audited_once_and_the_count_goes_back_to_zero(svc: HubService, client: FlaskClient, h: dict,
                                                                        clock: Clock) -> None:
    sale = offline_sale(client, h, clock, [("MUG", 2, 300)])
    other = offline_sale(client, h, clock, [("MUG", 1, 320)])
    assert listing(client, h)["summary"]["unreviewed"] == 2
    for bad in ({"note": 5}, {"note": "x" * 201}, {"reviewed": True}, []):
        resp = client.post(f"/api/v1/offline-sales/{sale['id']}/review", json=bad, headers=h["owner"])
        assert resp.status_code == 400 and resp.json["error"]["field"] == "note", bad
    assert client.post("/api/v1/offline-sales/nope/review", json={}, headers=h["owner"]).status_code == 404

    clock.now += timedelta(minutes=3)
    first = client.post(f"/api/v1/offline-sales/{sale['id']}/review", json={"note": "old shelf label, fixed"},
                        headers=h["owner"])
    assert first.status_code == 200, first.json
    assert first.json["reviewed"] == {"at": iso(clock.now), "by": first.json["reviewed"]["by"],
                                      "note": "old shelf label, fixed"}
    assert first.json["reviewed"]["by"].startswith("token:")
    clock.now += timedelta(minutes=3)
    again = client.post(f"/api/v1/offline-sales/{sale['id']}/review", headers=h["owner"])  # no body at all
    assert again.status_code == 200 and again.json == first.json  # the first review stands
    rows = svc.db.conn.execute("SELECT data FROM outbox WHERE type = 'offline_sale.reviewed'").fetchall()
    assert len(rows) == 1
    data = json.loads(rows[0][0])
    assert events.check("offline_sale.reviewed", data) == []
    assert data == {"sale_id": sale["id"], "number": sale["number"], "register_id": "till-1", "price_differences": 1,
                    "charged_total_minor": 600, "today_total_minor": 700, "note": "old shelf label, fixed",
                    "by": first.json["reviewed"]["by"]}
    assert listing(client, h)["summary"]["unreviewed"] == 1
    assert [s["sale_id"] for s in listing(client, h, "?differences=1&reviewed=0")["sales"]] == [other["id"]]
    assert [s["sale_id"] for s in listing(client, h, "?reviewed=1")["sales"]] == [sale["id"]]
    client.post(f"/api/v1/offline-sales/{other['id']}/review", json={}, headers=h["owner"])
    assert listing(client, h)["summary"]["unreviewed"] == 0


@pytest.mark.usefixtures("shop")
def test_backroom_status_counts_what_is_left_to_review(svc: HubService, client: FlaskClient, h: dict,
                                                       clock: Clock) -> None:
    offline_sale(client, h, clock, [("MUG", 1, 300)])
    offline_sale(client, h, clock, [("JAM", 1, 400)])
    config = svc.data_dir / "backroom.toml"  # written by tests.conftest.hub_config

    def status(*extra: str) -> str:
        out = subprocess.run([sys.executable, "-m", "hub.cli", "status", "--config", str(config), *extra],
                             capture_output=True, text=True, timeout=60)
        assert "Traceback" not in out.stderr, out.stderr
        return out.stdout

    line = next(ln for ln in status().splitlines() if ln.startswith("offline sales:"))
    assert "2 replayed" in line and "1 charged at other prices" in line and "1 sold below zero" in line
    assert json.loads(status("--json"))["offline_sales"] == {"offline_sales": 2, "with_differences": 1,
                                                              "unreviewed": 1, "oversold": 1}


@pytest.mark.usefixtures("shop")
def test_the_shift_history_keeps_late_offline_sales_and_cash_voids(client: FlaskClient, h: dict, clock: Clock) -> None:
    def shift_call(path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = client.post(path, json=body, headers=h["cashier"])
        assert resp.status_code in (200, 201), resp.json
        answer: dict[str, Any] = resp.json
        return answer

    first = shift_call("/api/v1/registers/till-1/shifts", {"float_minor": 0})
    mug = client.post("/api/v1/sales", json={"id": str(uuid.uuid4()), "register_id": "till-1",
                                             "lines": [{"sku": "MUG", "qty": 1}],
                                             "tenders": [{"kind": "cash", "amount_minor": 350}]}, headers=h["cashier"]).json
    clock.now += timedelta(minutes=10)  # the tablet sells a tea offline now, in shift #1; it arrives late
    sold_at = clock.now
    shift_call(f"/api/v1/shifts/{first['id']}/close", {"counted_minor": 600})
    clock.now += timedelta(minutes=10)
    second = shift_call("/api/v1/registers/till-1/shifts", {"float_minor": 1000})
    offline_sale(client, h, clock, [("TEA", 1, 250)], minutes_ago=int((clock.now - sold_at).total_seconds() // 60))
    assert client.post(f"/api/v1/sales/{mug['id']}/void", json={"reason": "rang twice"},
                       headers=h["manager"]).status_code == 200
    shift_call(f"/api/v1/shifts/{second['id']}/close", {"counted_minor": 650})

    resp = client.get("/api/v1/registers/till-1/shifts", headers=h["cashier"])
    assert resp.status_code == 200, resp.json
    newest, oldest = resp.json["reports"]
    assert (newest["shift"]["number"], oldest["shift"]["number"]) == (second["number"], first["number"])
    assert newest["cash"]["voids_minor"] == 350 and newest["cash"]["expected_minor"] == 650
    assert newest["late_offline_sales"]["count"] == 1 and newest["late_offline_sales"]["sales"][0]["cash_minor"] == 250
    assert oldest["late_offline_sales"]["count"] == 0 and oldest["cash"]["over_short_minor"] == 250  # kept as closed
    assert len(client.get("/api/v1/registers/till-1/shifts?limit=1", headers=h["integration"]).json["reports"]) == 1
    assert client.get("/api/v1/registers/till-1/shifts?limit=0", headers=h["cashier"]).json["error"]["field"] == "limit"
