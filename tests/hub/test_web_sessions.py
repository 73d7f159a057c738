"""Password sign-ins are kept on the hub: signing out ends every copy of the cookie and its open
streams, and a new password ends the sign-ins made with the old one (real SQLite file, Flask client)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from hub.service import HubService
from hub.web import create_app
from tests.conftest import hub_config
from tests.helpers import T0, Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def svc(tmp_path: Path, clock: Clock) -> Iterator[HubService]:
    s = HubService(hub_config(tmp_path / "data"), clock=clock)
    s.auth.set_user("olive", "correct horse", "owner")
    yield s
    s.stop()


def signed_in(svc: HubService) -> FlaskClient:
    client = create_app(svc).test_client()
    assert client.post("/login", json={"username": "olive", "password": "correct horse"}).status_code == 200
    return client


def copy_of(client: FlaskClient, svc: HubService) -> FlaskClient:
    """Another browser holding the same cookie (a second window, or a stolen cookie)."""
    other = create_app(svc).test_client()
    cookie = client.get_cookie("backroom_session")
    assert cookie is not None
    other.set_cookie("backroom_session", cookie.value)
    return other


def test_signing_out_ends_every_copy_of_the_sign_in(svc: HubService) -> None:
    first = signed_in(svc)
    copy = copy_of(first, svc)
    second = signed_in(svc)  # the same person on another machine: a sign-in of its own
    assert copy.get("/api/v1/status").status_code == 200
    assert first.post("/logout").status_code == 200
    refused = copy.get("/api/v1/status")
    assert refused.status_code == 401 and "sign in again" in refused.json["error"]["message"]
    assert copy.get("/status").status_code == 302  # the page sends it to the sign-in
    assert second.get("/api/v1/status").status_code == 200  # only that sign-in ended


def test_an_open_status_stream_ends_when_its_sign_in_is_signed_out(svc: HubService,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hub.web.HEARTBEAT_S", 0.05)
    monkeypatch.setattr("hub.web.STATUS_PUSH_S", 0.05)
    page = signed_in(svc)
    stream = copy_of(page, svc).get("/api/v1/status/stream", buffered=False).response
    assert next(stream).startswith(b"event: status")  # type: ignore[call-overload]
    page.post("/logout")
    assert len(list(stream)) <= 1  # type: ignore[call-overload]  # at most one push more, then the end


def test_a_new_password_ends_the_sign_ins_made_with_the_old_one(svc: HubService) -> None:
    old = signed_in(svc)
    svc.auth.set_user("olive", "a new long password", "owner", actor="test")
    assert old.get("/api/v1/status").status_code == 401
    fresh = create_app(svc).test_client()
    assert fresh.post("/login", json={"username": "olive", "password": "a new long password"}).status_code == 200
    assert fresh.get("/api/v1/status").status_code == 200
    svc.auth.set_user("olive", "a new long password", "owner", actor="test")  # only a role check: nothing ends
    assert fresh.get("/api/v1/status").status_code == 200


def test_a_cookie_from_before_sign_ins_were_kept_must_sign_in_again(svc: HubService) -> None:
    client = signed_in(svc)
    with client.session_transaction() as sess:
        del sess["sid"]  # as a cookie signed by an older hub carries no sign-in id
    assert client.get("/api/v1/status").status_code == 401


def test_sign_ins_older_than_the_cookie_are_pruned_at_the_next_sign_in(svc: HubService, clock: Clock) -> None:
    signed_in(svc)
    for _ in range(5):
        assert signed_in(svc).get("/api/v1/status").status_code == 200
    assert svc.db.conn.execute("SELECT count(*) FROM web_sessions").fetchone()[0] == 6
    clock.now = T0 + timedelta(hours=13)  # past the cookie's 12 hours
    signed_in(svc)
    assert svc.db.conn.execute("SELECT count(*) FROM web_sessions").fetchone()[0] == 1
