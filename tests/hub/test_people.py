"""PINs at the till and manager approvals: hashed, never stored or logged in clear, locked after
repeated failures, rate-limited per tablet, audited; approval tokens single-use and bound to
their action and details."""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from hub.approvals import TOKEN_TTL_S, require_approval
from hub.clock import iso
from hub.errors import Forbidden
from hub.people import LOCK_S, MAX_FAILURES, MAX_LOCK_S, PLACE_FAILURES, lock_seconds
from hub.service import HubService
from hub.web import create_app
from tests.helpers import Clock

PINS = {"cara": ("cashier", "482913"), "mona": ("manager", "735146"), "otto": ("owner", "90817263")}


@pytest.fixture
def people(svc: HubService) -> None:
    for name, (role, pin) in PINS.items():
        svc.people.add_person(name, role, pin, actor="test")


@pytest.fixture
def tab(svc: HubService, client: FlaskClient, h: dict) -> FlaskClient:
    """A paired tablet (till-1), nobody signed in yet."""
    code = client.post("/api/v1/pairing/codes", headers=h["owner"]).json["code"]
    t = create_app(svc).test_client()
    assert t.post("/api/v1/pairing", json={"code": code, "register_id": "till-1"}).status_code == 201
    return t


def sign_in(tab: FlaskClient, name: str, pin: str | None = None):
    return tab.post("/api/v1/tablet/signin", json={"username": name, "pin": pin or PINS[name][1]})


def csrf(tab: FlaskClient) -> dict[str, str]:
    return {"X-CSRF-Token": tab.get("/api/v1/session").json["csrf_token"]}


@pytest.mark.usefixtures("people")
def test_a_pin_is_hashed_and_never_written_or_logged_in_clear(svc: HubService, client: FlaskClient, h: dict,
                                                             tab: FlaskClient, caplog: pytest.LogCaptureFixture,
                                                             tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    assert client.post("/api/v1/people/cara/pin", json={"pin": "55501234"}, headers=h["owner"]).status_code == 200
    assert sign_in(tab, "cara", "11112222").status_code == 401
    assert sign_in(tab, "cara", "55501234").status_code == 200
    assert svc.db.conn.execute("SELECT pin_hash FROM person_pins WHERE username = 'cara'").fetchone()[0].startswith("scrypt$")
    dump = "\n".join(svc.db.conn.iterdump())
    for pin in ("55501234", "11112222", *(p for _, p in PINS.values())):
        assert pin not in dump and pin not in caplog.text
    assert client.post("/api/v1/people/cara/pin", json={"pin": "5550"}, headers=h["manager"]).status_code == 403
    changes = svc.db.conn.execute("SELECT field, new FROM user_changes WHERE username = 'cara' ORDER BY id").fetchall()
    assert [tuple(c) for c in changes] == [("created", "cashier"), ("pin", "set"), ("pin", "set")]


@pytest.mark.parametrize("pin", ["123", "123456789", "12a4", "", 1234, None])
def test_a_pin_is_four_to_eight_digits(client: FlaskClient, h: dict, pin: object) -> None:
    resp = client.post("/api/v1/people", json={"username": "pat", "role": "cashier", "pin": pin}, headers=h["owner"])
    assert resp.status_code == 400 and resp.json["error"]["field"] == "pin"


@pytest.mark.usefixtures("people")
def test_a_manager_or_owner_pin_has_six_digits_or_more(svc: HubService, client: FlaskClient, h: dict,
                                                       tab: FlaskClient) -> None:
    for role in ("manager", "owner"):
        short = client.post("/api/v1/people", json={"username": "pat", "role": role, "pin": "24680"}, headers=h["owner"])
        assert short.status_code == 400 and short.json["error"]["field"] == "pin" and "6 to 8" in short.json["error"]["message"]
    assert client.post("/api/v1/people/mona/pin", json={"pin": "2468"}, headers=h["owner"]).status_code == 400
    assert client.post("/api/v1/people/cara/pin", json={"pin": "2468"}, headers=h["owner"]).status_code == 200
    # a cashier promoted with a short PIN must get a longer one before it opens anything
    svc.auth.set_user("cara", "a good password", "manager", actor="test")
    promoted = sign_in(tab, "cara", "2468")
    assert promoted.status_code == 403 and promoted.json["error"]["code"] == "pin_too_short"
    assert tab.get("/api/v1/tablet").json["person"] is None


@pytest.mark.usefixtures("people")
def test_a_pin_session_does_register_work_only_and_at_most_as_a_manager(svc: HubService, tab: FlaskClient) -> None:
    assert sign_in(tab, "otto").status_code == 200
    assert tab.get("/api/v1/session").json["role"] == "manager"  # the owner's PIN is not the owner's password
    for method, path in (("post", "/api/v1/pairing/codes"), ("get", "/api/v1/people"), ("get", "/api/v1/status"),
                         ("post", "/api/v1/people/cara/unlock"), ("get", "/api/v1/devices/credentials")):
        refused = getattr(tab, method)(path, headers=csrf(tab))
        assert refused.status_code == 403 and refused.json["error"]["code"] == "password_required", path
        assert "password" in refused.json["error"]["message"]
    for page in ("/status", "/items", "/stock"):
        assert tab.get(page).headers["Location"].startswith("/login?next=")
    assert tab.get("/register/till-1").status_code == 200
    # register work goes on: a shift, and a manager's approval by PIN
    assert tab.post("/api/v1/registers/till-1/shifts", json={"float_minor": 0}, headers=csrf(tab)).status_code == 201
    granted = tab.post("/api/v1/registers/till-1/approvals", headers=csrf(tab), json={
        "action": "discount", "approver": "mona", "pin": PINS["mona"][1], "details": {"amount_minor": 1}})
    assert granted.status_code == 201


@pytest.mark.usefixtures("people")
def test_a_pin_session_is_bound_to_its_register_and_roles_still_decide(svc: HubService, tab: FlaskClient) -> None:
    assert tab.get("/api/v1/tablet").json["person"] is None
    signed = sign_in(tab, "cara")
    assert signed.status_code == 200 and signed.json["register_id"] == "till-1"
    me = tab.get("/api/v1/tablet").json
    assert me["person"] == {"user": "cara", "role": "cashier"} and {"username": "mona", "role": "manager",
                                                                   "locked": False} in me["people"]
    assert tab.get("/api/v1/status").status_code == 403  # a cashier is a cashier, PIN or password
    svc.store.db.conn.execute("INSERT INTO registers (id, name) VALUES ('till-2', 'Till 2')")
    other = tab.post("/api/v1/registers/till-2/shifts", json={"float_minor": 0}, headers=csrf(tab))
    assert other.status_code == 403 and other.json["error"]["code"] == "other_register"
    assert tab.post("/api/v1/registers/till-1/shifts", json={"float_minor": 0}).status_code == 403  # no CSRF token
    assert tab.post("/api/v1/registers/till-1/shifts", json={"float_minor": 0}, headers=csrf(tab)).status_code == 201
    # switch cashier: sign out, the tablet stays paired
    signed_in = tab.get_cookie("backroom_session")
    assert signed_in is not None
    assert tab.post("/api/v1/tablet/signout", json={}).status_code == 200
    assert tab.get("/api/v1/session").status_code == 401
    # the answer to a request still under way at sign-out can set the old cookie again: it is void
    tab.set_cookie("backroom_session", signed_in.value)
    assert tab.get("/api/v1/session").status_code == 401
    assert tab.get("/api/v1/tablet").json["person"] is None
    assert sign_in(tab, "mona").status_code == 200 and tab.get("/api/v1/session").json["role"] == "manager"
    assert tab.get("/api/v1/status").json["error"]["code"] == "password_required"  # back office: the password


@pytest.mark.usefixtures("people")
def test_repeated_wrong_pins_lock_the_person_until_a_manager_unlocks(svc: HubService, client: FlaskClient, h: dict,
                                                                    tab: FlaskClient, clock: Clock) -> None:
    for _ in range(MAX_FAILURES):
        wrong = sign_in(tab, "cara", "000000")
        assert wrong.status_code == 401 and wrong.json["error"]["code"] == "wrong_pin"
    locked = sign_in(tab, "cara")
    assert locked.status_code == 403 and locked.json["error"]["code"] == "locked"
    (cara,) = [p for p in client.get("/api/v1/people", headers=h["manager"]).json["people"] if p["username"] == "cara"]
    assert cara["locked_until"]
    audit = client.get("/api/v1/pin-attempts", headers=h["manager"]).json["attempts"]
    # a try refused before any PIN is checked is counted, not written (a flood must not fill the disk)
    assert [a["reason"] for a in audit if not a["ok"]] == ["wrong pin"] * MAX_FAILURES
    assert client.get("/api/v1/pin-attempts", headers=h["manager"]).json["refused"] == [
        {"place": audit[0]["place"], "reason": "locked", "count": 1}]
    assert client.post("/api/v1/people/cara/unlock", headers=h["cashier"]).status_code == 403
    assert client.post("/api/v1/people/cara/unlock", headers=h["manager"]).status_code == 200
    assert sign_in(tab, "cara").status_code == 200
    # a lock also passes by itself (a later window, so the tablet's own limit is not what stops mona)
    clock.now += timedelta(minutes=6)
    for _ in range(MAX_FAILURES):
        sign_in(tab, "mona", "0000")
    assert sign_in(tab, "mona").status_code == 403
    clock.now += timedelta(seconds=LOCK_S + 1)
    assert sign_in(tab, "mona").status_code == 200


@pytest.mark.usefixtures("people")
def test_each_lock_after_the_first_lasts_twice_as_long(svc: HubService, client: FlaskClient, h: dict,
                                                        tab: FlaskClient, clock: Clock) -> None:
    assert [lock_seconds(MAX_FAILURES + n) for n in range(3)] == [LOCK_S, 2 * LOCK_S, 4 * LOCK_S]
    assert lock_seconds(MAX_FAILURES + 40) == MAX_LOCK_S == 24 * 3600
    for _ in range(MAX_FAILURES):
        sign_in(tab, "cara", "000000")
    for n in range(1, 4):  # the lock passes; one more wrong PIN locks again, for twice as long
        clock.now += timedelta(seconds=lock_seconds(MAX_FAILURES + n - 1) + 1)
        assert sign_in(tab, "cara", "000000").status_code == 401
        (cara,) = [p for p in svc.people.people() if p["username"] == "cara"]
        assert cara["failures"] == MAX_FAILURES + n
        assert cara["locked_until"] == iso(clock.now + timedelta(seconds=LOCK_S * 2 ** n))
        assert sign_in(tab, "cara").json["error"]["code"] == "locked"
    assert client.post("/api/v1/people/cara/unlock", headers=h["manager"]).status_code == 200  # starts it over
    assert sign_in(tab, "cara", "000000").status_code == 401
    assert sign_in(tab, "cara").status_code == 200


@pytest.mark.usefixtures("people")
def test_wrong_pins_for_an_approval_count_against_the_approver(tab: FlaskClient) -> None:
    assert sign_in(tab, "cara").status_code == 200
    for _ in range(MAX_FAILURES):
        wrong = tab.post("/api/v1/registers/till-1/approvals", headers=csrf(tab), json={
            "action": "discount", "approver": "mona", "pin": "000000", "details": {"amount_minor": 1}})
        assert wrong.status_code == 401
    locked = tab.post("/api/v1/registers/till-1/approvals", headers=csrf(tab), json={
        "action": "discount", "approver": "mona", "pin": PINS["mona"][1], "details": {"amount_minor": 1}})
    assert locked.status_code == 403 and locked.json["error"]["code"] == "locked"


@pytest.mark.usefixtures("people")
def test_one_tablet_guessing_many_names_must_wait(svc: HubService, tab: FlaskClient, clock: Clock) -> None:
    for i in range(PLACE_FAILURES):
        assert sign_in(tab, f"nobody{i}", "1234").status_code == 401  # unknown names fail the same way
    for _ in range(3):
        waited = sign_in(tab, "cara")
        assert waited.status_code == 429 and waited.json["error"]["code"] == "too_many_tries"
    assert svc.db.conn.execute("SELECT count(*) FROM pin_attempts").fetchone()[0] == PLACE_FAILURES
    assert sum(n for (_, reason), n in svc.people.refused.items() if reason == "place rate-limited") == 3
    clock.now += timedelta(minutes=6)
    assert sign_in(tab, "cara").status_code == 200


@pytest.mark.usefixtures("people")
def test_an_approval_token_is_single_use_short_lived_and_bound(svc: HubService, tab: FlaskClient,
                                                              clock: Clock) -> None:
    assert sign_in(tab, "cara").status_code == 200
    details = {"amount_minor": 500, "sale_id": str(uuid.uuid4())}

    def ask(approver: str, pin: str, action: str = "discount"):
        return tab.post("/api/v1/registers/till-1/approvals", headers=csrf(tab),
                        json={"action": action, "approver": approver, "pin": pin, "details": details})

    not_manager = ask("cara", PINS["cara"][1])
    assert not_manager.status_code == 403 and not_manager.json["error"]["code"] == "not_a_manager"
    assert ask("mona", "0000").status_code == 401
    granted = ask("mona", PINS["mona"][1])
    assert granted.status_code == 201 and granted.json["approver"] == "mona"
    token = granted.json["token"]
    for action, given in (("price_override", details), ("discount", {**details, "amount_minor": 5000})):
        with pytest.raises(Forbidden) as refused:
            require_approval(svc, token, action, given, "user:cara")
        assert refused.value.code == "approval_invalid"
    assert require_approval(svc, token, "discount", dict(reversed(details.items())), "user:cara") == "mona"
    with pytest.raises(Forbidden, match="used already"):
        require_approval(svc, token, "discount", details, "user:cara")
    with pytest.raises(Forbidden) as missing:
        require_approval(svc, None, "discount", details, "user:cara")
    assert missing.value.code == "approval_required"
    late = ask("otto", PINS["otto"][1]).json["token"]
    clock.now += timedelta(seconds=TOKEN_TTL_S + 1)
    with svc.db.write() as conn, pytest.raises(Forbidden, match="expired"):
        require_approval(conn, late, "discount", details, "user:cara", now=clock())
    row = svc.db.conn.execute("SELECT approver, requested_by, used_by FROM approvals WHERE used_at IS NOT NULL").fetchone()
    assert tuple(row) == ("mona", "user:cara", "user:cara")
    assert svc.db.conn.execute("SELECT count(*) FROM outbox WHERE type = 'approval.granted'").fetchone()[0] == 2


def test_the_cli_sets_a_pin_from_standard_input(svc: HubService, tmp_path: Path) -> None:
    svc.auth.set_user("ann", "a good password", "manager")
    config = svc.data_dir / "backroom.toml"  # written by tests.conftest.hub_config
    done = subprocess.run([sys.executable, "-m", "hub.cli", "user", "set-pin", "ann", "--pin-stdin", "--config",
                           str(config)], input="864213\n", text=True, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "864213" not in done.stdout + done.stderr
    assert svc.people.check("ann", "864213", "test", "signin") == "manager"
    bad = subprocess.run([sys.executable, "-m", "hub.cli", "user", "set-pin", "ann", "--pin-stdin", "--config",
                          str(config)], input="86\n", text=True, capture_output=True, timeout=60)
    assert bad.returncode != 0 and "manager's PIN is 6 to 8 digits" in bad.stderr
