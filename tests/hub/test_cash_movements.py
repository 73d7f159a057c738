"""Cash paid into and out of a register's drawer during a shift (hub.cash_movements): a cashier's
paid out needs a manager's approval, each movement is idempotent by its id, opens the drawer, is
sent as cash.moved, and the Z report's expected cash counts it (real SQLite file, Flask client)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.domain import zreport
from hub.service import HubService
from hub.web import create_app

PINS = {"cara": ("cashier", "4321"), "mona": ("manager", "765432")}


class Till:
    """till-1's paired tablet with cara signed in by PIN and a shift opened with a 100.00 float."""

    def __init__(self, svc: HubService, client: FlaskClient, h: dict) -> None:
        for name, (role, pin) in PINS.items():
            svc.people.add_person(name, role, pin, actor="test")
        self.tab = create_app(svc).test_client()
        code = client.post("/api/v1/pairing/codes", headers=h["owner"]).json["code"]
        assert self.tab.post("/api/v1/pairing", json={"code": code, "register_id": "till-1"}).status_code == 201
        signed = self.tab.post("/api/v1/tablet/signin", json={"username": "cara", "pin": PINS["cara"][1]})
        self.csrf = {"X-CSRF-Token": signed.json["csrf_token"]}
        opened = self.post("/api/v1/registers/till-1/shifts", {"float_minor": 10_000})
        assert opened.status_code == 201, opened.json
        self.shift_id = opened.json["id"]

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.tab.post(path, json=body, headers=self.csrf)

    def move(self, kind: str, amount: int, reason: str = "milk for the staff room", **extra: Any) -> Any:
        return self.post("/api/v1/registers/till-1/cash-movements",
                         {"id": str(uuid.uuid4()), "kind": kind, "amount_minor": amount, "reason": reason, **extra})

    def approval(self, amount: int) -> str:
        granted = self.post("/api/v1/registers/till-1/approvals", {
            "action": "paid_out", "approver": "mona", "pin": PINS["mona"][1], "details": {"amount_minor": amount}})
        assert granted.status_code == 201, granted.json
        return str(granted.json["token"])

    def x_report(self) -> dict[str, Any]:
        report: dict[str, Any] = self.tab.get(f"/api/v1/shifts/{self.shift_id}/report").json
        return report


@pytest.fixture
def till(svc: HubService, client: FlaskClient, h: dict) -> Till:
    return Till(svc, client, h)


def test_paid_in_and_a_approved_paid_out_change_the_expected_cash(svc: HubService, till: Till) -> None:
    paid_in = till.move("paid_in", 2_000, "change from the bank")
    assert paid_in.status_code == 201, paid_in.json
    refused = till.move("paid_out", 350)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "approval_required"
    paid_out = till.move("paid_out", 350, approval=till.approval(350))
    assert paid_out.status_code == 201 and paid_out.json["approver"] == "mona"
    cash = till.x_report()["cash"]
    assert (cash["paid_in_minor"], cash["paid_out_minor"], cash["expected_minor"]) == (2_000, 350, 11_650)
    assert [(m["kind"], m["reason"]) for m in cash["movements"]] == [
        ("paid_in", "change from the bank"), ("paid_out", "milk for the staff room")]
    closed = till.post(f"/api/v1/shifts/{till.shift_id}/close", {"counted_minor": 11_600})
    assert closed.status_code == 200, closed.json
    assert closed.json["cash"]["over_short_minor"] == -50
    printed = zreport.print_lines(closed.json, lambda m: f"{m / 100:.2f}")
    assert {"text": "Paid out", "amount": "-3.50"} in printed["totals"]
    assert any("milk for the staff room (cara, approved by mona)" in line for line in printed["footer"])
    sent = [json.loads(r[0]) for r in svc.db.conn.execute("SELECT data FROM outbox WHERE type = 'cash.moved'")]
    assert [(e["kind"], e["amount_minor"], e["approver"]) for e in sent] == [("paid_in", 2_000, None),
                                                                         ("paid_out", 350, "mona")]
    drawer = svc.db.conn.execute("SELECT count(*) FROM print_jobs WHERE kind = 'drawer'").fetchone()[0]
    assert drawer == 0  # no receipt printer is bound to till-1 in this hub: nothing to open, nothing queued
    assert till.move("paid_in", 100).json["error"]["code"] == "no_shift"  # the shift closed


def test_a_retry_is_one_movement_and_another_body_under_its_id_is_refused(till: Till) -> None:
    body = {"id": str(uuid.uuid4()), "kind": "paid_in", "amount_minor": 500, "reason": "float top-up"}
    first = till.post("/api/v1/registers/till-1/cash-movements", body)
    again = till.post("/api/v1/registers/till-1/cash-movements", body)
    assert (first.status_code, again.status_code) == (201, 200) and again.json == first.json
    clash = till.post("/api/v1/registers/till-1/cash-movements", {**body, "amount_minor": 5_000})
    assert clash.status_code == 409 and clash.json["error"]["code"] == "idempotency_conflict"
    assert till.x_report()["cash"]["paid_in_minor"] == 500


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "paid_sideways"}, "kind"), ({"amount_minor": 0}, "amount_minor"), ({"amount_minor": "5"}, "amount_minor"),
    ({"reason": " "}, "reason"), ({"id": "x"}, "id")])
def test_a_bad_body_names_its_field(till: Till, body: dict[str, Any], field: str) -> None:
    full = {"id": str(uuid.uuid4()), "kind": "paid_in", "amount_minor": 500, "reason": "float top-up", **body}
    refused = till.post("/api/v1/registers/till-1/cash-movements", full)
    assert refused.status_code == 400 and refused.json["error"]["field"] == field


def test_a_tablet_moves_cash_only_at_its_own_register(till: Till) -> None:
    other = till.post("/api/v1/registers/till-2/cash-movements",
                      {"id": str(uuid.uuid4()), "kind": "paid_in", "amount_minor": 500, "reason": "float top-up"})
    assert other.status_code == 403 and other.json["error"]["code"] == "other_register"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["paid_in", "paid_out"]), st.integers(1, 50_000)), max_size=6))
def test_expected_cash_is_float_plus_in_minus_out(client: FlaskClient, h: dict, moves: list[tuple[str, int]]) -> None:
    opened = client.post("/api/v1/registers/till-1/shifts", json={"float_minor": 5_000}, headers=h["manager"])
    shift_id = opened.json["id"] if opened.status_code == 201 else client.get(
        "/api/v1/registers/till-1/shift", headers=h["manager"]).json["shift"]["id"]
    before = client.get(f"/api/v1/shifts/{shift_id}/report", headers=h["manager"]).json["cash"]["expected_minor"]
    for kind, amount in moves:  # a manager's paid out needs no approval
        moved = client.post("/api/v1/registers/till-1/cash-movements", headers=h["manager"], json={
            "id": str(uuid.uuid4()), "kind": kind, "amount_minor": amount, "reason": "test"})
        assert moved.status_code == 201, moved.json
    after = client.get(f"/api/v1/shifts/{shift_id}/report", headers=h["manager"]).json["cash"]["expected_minor"]
    assert after - before == sum(a if k == "paid_in" else -a for k, a in moves)
