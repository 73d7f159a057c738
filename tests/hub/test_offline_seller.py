"""An offline sale is the seller's, whoever's session sends it when the hub is back; approvals a
register could not ask for never refuse a sale the customer has paid for, and are kept for the
owner's review instead (real SQLite file, Flask client, hub.cart settle_offline)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.clock import iso
from hub.service import HubService
from hub.web import create_app
from tests.helpers import Clock

PINS = {"cara": ("cashier", "4321"), "dave": ("cashier", "5432"), "mona": ("manager", "765432")}


class Tablet:
    """till-1's paired tablet, whose offline queue sends with the session of whoever is signed in."""

    def __init__(self, svc: HubService, client: FlaskClient, h: dict) -> None:
        self.tab = create_app(svc).test_client()
        code = client.post("/api/v1/pairing/codes", headers=h["owner"]).json["code"]
        assert self.tab.post("/api/v1/pairing", json={"code": code, "register_id": "till-1"}).status_code == 201
        self.csrf = ""

    def sign_in(self, name: str) -> Tablet:
        signed = self.tab.post("/api/v1/tablet/signin", json={"username": name, "pin": PINS[name][1]})
        assert signed.status_code == 200, signed.json
        self.csrf = signed.json["csrf_token"]
        return self

    def post(self, body: dict[str, Any]) -> Any:
        return self.tab.post("/api/v1/sales", json=body, headers={"X-CSRF-Token": self.csrf})


@pytest.fixture
def tablet(svc: HubService, client: FlaskClient, h: dict, clock: Clock) -> Tablet:
    """Mugs at 10.00, three people with PINs, and till-1's tablet with a shift opened an hour ago."""
    resp = client.post("/api/v1/items", json={"sku": "MUG", "name": "Mug", "unit": "each", "price_minor": 1000},
                       headers=h["owner"])
    assert resp.status_code == 201, resp.json
    for name, (role, pin) in PINS.items():
        svc.people.add_person(name, role, pin, actor="test")
    t = Tablet(svc, client, h).sign_in("cara")
    opened = t.tab.post("/api/v1/registers/till-1/shifts", json={"float_minor": 0}, headers={"X-CSRF-Token": t.csrf})
    assert opened.status_code == 201, opened.json
    clock.now += timedelta(hours=1)
    return t


def offline_body(clock: Clock, discount_bp: int = 0, **extra: Any) -> dict[str, Any]:
    total = 2000 - 2000 * discount_bp // 10_000
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()), "register_id": "till-1", "offline": True,
        "recorded_at": iso(clock.now - timedelta(minutes=5)),
        "lines": [{"sku": "MUG", "qty": 2}], "tenders": [{"kind": "cash", "amount_minor": total}],
        "charged": {"catalog_version": 1, "total_minor": total,
                    "lines": [{"unit_price_minor": 1000, "total_minor": total}]}, **extra}
    if discount_bp:
        body["cart_discount"] = {"percent_bp": discount_bp, "reason": "loyalty"}
    return body


def review(svc: HubService, sale_id: str) -> tuple[str | None, list[dict[str, Any]]]:
    row = svc.db.conn.execute("SELECT sent_by, approvals_missing FROM offline_sales WHERE sale_id = ?",
                              (sale_id,)).fetchone()
    return row["sent_by"], json.loads(row["approvals_missing"])


def test_the_sale_is_the_sellers_whoever_sends_it(svc: HubService, client: FlaskClient, h: dict, clock: Clock,
                                                  tablet: Tablet) -> None:
    sale = tablet.sign_in("dave").post(offline_body(clock, sold_by="cara"))
    assert sale.status_code == 201, sale.json
    actor = svc.db.conn.execute("SELECT actor FROM sales WHERE id = ?", (sale.json["id"],)).fetchone()[0]
    assert actor == "user:cara"
    assert review(svc, sale.json["id"]) == ("user:dave", [])  # nothing to review: no discount, a known seller
    summary = client.get("/api/v1/offline-sales", headers=h["manager"]).json["summary"]
    assert summary["unreviewed"] == 0
    live = client.post("/api/v1/sales", json={**offline_body(clock, sold_by="cara"), "offline": False,
                                              "recorded_at": None, "charged": None}, headers=h["cashier"])
    assert live.status_code == 400  # sold_by goes with offline only


def test_a_cashiers_discount_beyond_her_limit_is_kept_for_review_not_refused(svc: HubService, client: FlaskClient,
                                                                            h: dict, clock: Clock,
                                                                            tablet: Tablet) -> None:
    body = offline_body(clock, discount_bp=5000, sold_by="cara")  # 50% off: above a cashier's 10%
    sale = tablet.post(body)
    assert sale.status_code == 201, sale.json
    assert sale.json["total_minor"] == 1000 and sale.json["discount_approver"] is None
    sent_by, missing = review(svc, sale.json["id"])
    assert sent_by == "user:cara"
    assert [(m["action"], m["reason"], m["details"]["discount_minor"]) for m in missing] == [
        ("discount", "no_approval", 1000)]
    listed = client.get("/api/v1/offline-sales?differences=1", headers=h["manager"]).json
    assert listed["summary"]["unreviewed"] == 1
    assert listed["sales"][0]["approvals_missing"] == missing and listed["sales"][0]["sent_by"] == "user:cara"
    again = tablet.post(body)  # the queue sends it again: one sale
    assert again.status_code == 200 and again.json["id"] == sale.json["id"]


def test_a_managers_discount_is_hers_and_flagged_only_when_a_lower_role_sends_it(svc: HubService, clock: Clock,
                                                                                 tablet: Tablet) -> None:
    own = tablet.sign_in("mona").post(offline_body(clock, discount_bp=5000, sold_by="mona"))
    assert own.status_code == 201, own.json
    assert own.json["discount_approver"] == "mona" and review(svc, own.json["id"]) == ("user:mona", [])
    by_cashier = tablet.sign_in("dave").post(offline_body(clock, discount_bp=5000, sold_by="mona"))
    assert by_cashier.status_code == 201, by_cashier.json
    sent_by, missing = review(svc, by_cashier.json["id"])
    assert sent_by == "user:dave"
    assert missing == [{"action": "seller", "details": {"sold_by": "mona", "role": "manager"},
                        "reason": "seller_unverified"}]  # dave could have typed mona's name


def test_a_seller_who_is_no_person_here_is_kept_as_sent_and_flagged(svc: HubService, clock: Clock,
                                                                    tablet: Tablet) -> None:
    sale = tablet.sign_in("dave").post(offline_body(clock, sold_by="zed"))
    assert sale.status_code == 201, sale.json
    actor = svc.db.conn.execute("SELECT actor FROM sales WHERE id = ?", (sale.json["id"],)).fetchone()[0]
    assert actor == "user:dave"
    assert review(svc, sale.json["id"]) == ("user:dave", [
        {"action": "seller", "details": {"sold_by": "zed"}, "reason": "seller_unknown"}])
