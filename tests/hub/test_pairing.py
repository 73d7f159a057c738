"""Pairing tablets as registers through the REST API: single-use, expiring codes, a limit on wrong
guesses, the tablet's HTTP-only cookie (stored only as a hash), and unpairing that revokes at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from hub.pairing import CODE_TTL_S, COOKIE, MAX_WRONG_CODES, pairing_urls
from hub.service import HubService
from hub.web import create_app
from tests.helpers import Clock


def new_code(client: FlaskClient, h: dict) -> str:
    resp = client.post("/api/v1/pairing/codes", headers=h["owner"])
    assert resp.status_code == 201, resp.json
    code: str = resp.json["code"]
    return code


def tablet(svc: HubService) -> FlaskClient:
    """A browser of its own: a fresh test client with its own cookie jar."""
    return create_app(svc).test_client()


def pair(client: FlaskClient, code: str, **which: str):
    return client.post("/api/v1/pairing", json={"code": code, **which}, headers={"User-Agent": "TabletBrowser/1"})


def test_the_owner_gets_a_code_with_a_qr_code_pointing_at_the_pair_page(client: FlaskClient, h: dict) -> None:
    resp = client.post("/api/v1/pairing/codes", headers=h["owner"], base_url="http://shop-hub:8080")
    assert resp.status_code == 201
    body = resp.json
    assert len(body["code"]) == 6 and body["code"].isdigit()
    assert body["url"] == f"http://shop-hub:8080/pair?code={body['code']}"
    assert "<svg" in body["qr_svg"] and "<path" in body["qr_svg"]
    for role in ("manager", "cashier", "integration"):
        assert client.post("/api/v1/pairing/codes", headers=h[role]).status_code == 403


def test_pairing_urls_put_a_reachable_host_first() -> None:
    assert pairing_urls("10.0.0.5:8080", "http", "backroom-ab12.local.", 8080) == [
        "http://10.0.0.5:8080/pair", "http://backroom-ab12.local:8080/pair"]
    assert pairing_urls("127.0.0.1:8080", "http", "backroom-ab12.local.", 8080)[0] == "http://backroom-ab12.local:8080/pair"
    assert pairing_urls("127.0.0.1:8080", "http", None, None) == ["http://127.0.0.1:8080/pair"]


def test_a_code_pairs_one_tablet_once_and_the_cookie_is_stored_only_as_a_hash(
        svc: HubService, client: FlaskClient, h: dict) -> None:
    code = new_code(client, h)
    tab = tablet(svc)
    checked = tab.post("/api/v1/pairing/check", json={"code": code})
    assert checked.status_code == 200 and {"id": "till-1", "name": "till-1", "paired": False} in checked.json["registers"]
    resp = pair(tab, code, register_id="till-1")
    assert resp.status_code == 201, resp.json
    assert resp.json["next"] == "/register/till-1"
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    stored = svc.db.conn.execute("SELECT token_hash, user_agent, paired_by FROM tablets").fetchone()
    assert stored["token_hash"] != token and token not in stored["token_hash"]
    assert stored["user_agent"] == "TabletBrowser/1" and stored["paired_by"].startswith("token:")
    assert tab.get("/api/v1/tablet").json["tablet"]["register_id"] == "till-1"
    # single use: the same code cannot pair another tablet
    again = pair(tablet(svc), code, register_name="Counter 2")
    assert again.status_code == 400 and again.json["error"]["code"] == "bad_code"
    # and the register now has its tablet
    taken = pair(tablet(svc), new_code(client, h), register_id="till-1")
    assert taken.status_code == 409 and taken.json["error"]["code"] == "register_paired"
    assert tab.get("/register").headers["Location"].endswith("/register/till-1")
    assert tab.get("/register/till-1").status_code == 200  # the page, for PIN sign-in, without a password


def test_a_new_register_can_be_named_while_pairing(svc: HubService, client: FlaskClient, h: dict) -> None:
    resp = pair(tablet(svc), new_code(client, h), register_name="Counter 2")
    assert resp.status_code == 201 and resp.json["register_id"] == "counter-2"
    assert svc.store.register_exists("counter-2")
    bad = pair(tablet(svc), new_code(client, h), register_name="   ")
    assert bad.status_code == 400 and bad.json["error"]["field"] == "register_name"


def test_a_code_expires_and_a_newer_code_replaces_it(svc: HubService, client: FlaskClient, h: dict,
                                                     clock: Clock) -> None:
    old = new_code(client, h)
    fresh = new_code(client, h)
    assert pair(tablet(svc), old, register_id="till-1").json["error"]["code"] == "bad_code"
    clock.now += timedelta(seconds=CODE_TTL_S + 1)
    assert pair(tablet(svc), fresh, register_id="till-1").json["error"]["code"] == "bad_code"
    assert pair(tablet(svc), new_code(client, h), register_id="till-1").status_code == 201


def test_wrong_guesses_are_limited_and_cancel_the_open_code(svc: HubService, client: FlaskClient, h: dict,
                                                            clock: Clock) -> None:
    code = new_code(client, h)
    guesser = tablet(svc)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(MAX_WRONG_CODES):
        assert guesser.post("/api/v1/pairing/check", json={"code": wrong}).status_code == 400
    blocked = pair(tablet(svc), code, register_id="till-1")
    assert blocked.status_code == 429 and blocked.json["error"]["code"] == "too_many_tries"
    clock.now += timedelta(minutes=11)  # the window passed, but the code was cancelled by the guessing
    assert pair(tablet(svc), code, register_id="till-1").json["error"]["code"] == "bad_code"
    assert pair(tablet(svc), new_code(client, h), register_id="till-1").status_code == 201


def test_a_guesser_blocks_only_its_own_address_and_a_new_code_lifts_the_block(svc: HubService, client: FlaskClient,
                                                                              h: dict) -> None:
    new_code(client, h)
    guesser = create_app(svc).test_client()
    guesser.environ_base["REMOTE_ADDR"] = "10.0.0.66"
    for _ in range(MAX_WRONG_CODES):
        assert guesser.post("/api/v1/pairing/check", json={"code": "000000"}).status_code == 400
    for _ in range(3):  # refused without looking: nothing more is written
        assert guesser.post("/api/v1/pairing/check", json={"code": "000000"}).status_code == 429
    assert svc.db.conn.execute("SELECT count(*) FROM pairing_failures").fetchone()[0] == MAX_WRONG_CODES
    shop_tablet = tablet(svc)
    shop_tablet.environ_base["REMOTE_ADDR"] = "10.0.0.20"
    assert pair(shop_tablet, new_code(client, h), register_id="till-1").status_code == 201
    # the owner's new code also gave the guesser its tries back
    assert guesser.post("/api/v1/pairing/check", json={"code": new_code(client, h)}).status_code == 200


def test_unpairing_stops_the_token_and_the_pin_session_at_once(svc: HubService, client: FlaskClient, h: dict) -> None:
    svc.people.add_person("cara", "cashier", "2468", actor="test")
    tab = tablet(svc)
    assert pair(tab, new_code(client, h), register_id="till-1").status_code == 201
    signed = tab.post("/api/v1/tablet/signin", json={"username": "cara", "pin": "2468"})
    assert signed.status_code == 200, signed.json
    assert tab.get("/api/v1/session").json["user"] == "cara"
    (listed,) = client.get("/api/v1/tablets", headers=h["manager"]).json["tablets"]
    assert listed["register_id"] == "till-1" and listed["last_seen"]
    assert client.post(f"/api/v1/tablets/{listed['id']}/unpair", headers=h["manager"]).status_code == 403
    assert client.post(f"/api/v1/tablets/{listed['id']}/unpair", headers=h["owner"]).status_code == 200
    gone = tab.get("/api/v1/tablet")
    assert gone.status_code == 401 and gone.json["error"]["code"] == "unpaired"
    assert tab.get("/api/v1/session").status_code == 401
    assert tab.post("/api/v1/tablet/signin", json={"username": "cara", "pin": "2468"}).status_code == 401
    assert client.get("/api/v1/tablets", headers=h["owner"]).json["tablets"] == []
    # a call that failed with 401 sends the page to /login?next=...: a tablet goes on to pair again instead
    assert tab.get("/login?next=/register/till-1").headers["Location"] == "/register"
    assert tab.get("/register").headers["Location"] == "/pair"
    assert client.get("/login?next=/register/till-1").status_code == 200  # a browser that is no tablet
    assert [r[0] for r in svc.db.conn.execute("SELECT type FROM outbox WHERE type LIKE 'tablet.%' ORDER BY seq")] == [
        "tablet.paired", "tablet.unpaired"]


def test_unpairing_or_signing_out_ends_the_register_streams_at_once(svc: HubService, client: FlaskClient,
                                                                    h: dict) -> None:
    svc.people.add_person("cara", "cashier", "2468", actor="test")
    tab = tablet(svc)
    assert pair(tab, new_code(client, h), register_id="till-1").status_code == 201

    def open_stream() -> Iterator[bytes]:
        assert tab.post("/api/v1/tablet/signin", json={"username": "cara", "pin": "2468"}).status_code == 200
        stream = tab.get("/api/v1/registers/till-1/events", buffered=False).response
        assert next(stream) == b": connected\n\n"  # type: ignore[call-overload]
        return stream  # type: ignore[return-value]

    signed_out = open_stream()
    assert tab.post("/api/v1/tablet/signout", json={}).status_code == 200
    assert list(signed_out) == []  # ended without waiting for a heartbeat (HEARTBEAT_S is 15 s)
    unpaired = open_stream()
    svc.channels.publish("register:till-1", "scan", {"code": "4006381333931"})
    assert next(unpaired) == b'event: scan\ndata: {"code":"4006381333931"}\n\n'  # type: ignore[call-overload]
    (listed,) = client.get("/api/v1/tablets", headers=h["owner"]).json["tablets"]
    assert client.post(f"/api/v1/tablets/{listed['id']}/unpair", headers=h["owner"]).status_code == 200
    svc.channels.publish("register:till-1", "scan", {"code": "after"})
    assert list(unpaired) == []


@pytest.mark.parametrize("path", ["/api/v1/tablet", "/api/v1/tablet/signout"])
def test_a_browser_that_never_paired_is_told_so(client: FlaskClient, path: str) -> None:
    resp = client.get(path) if path.endswith("tablet") else client.post(path, json={})
    assert resp.status_code == 401 and resp.json["error"]["code"] == "not_paired"
