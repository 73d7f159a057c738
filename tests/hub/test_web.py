import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from hub.demo_catalog import load_demo_catalog
from hub.domain.barcodes import check_digit
from hub.service import HubService
from hub.web import create_app
from tests.conftest import hub_config

PLACEHOLDERS = {"<register_id>": "till-1", "<sku>": "D1001", "<int:request_id>": "1",
                "<any(approve, reject):decision>": "approve"}
OPEN = {"/healthz", "/login", "/logout", "/", "/status", "/register/<register_id>", "/static/<name>",
        "/items", "/items/<sku>", "/stock", "/stock/<sku>", "/count/<int:session_id>",
        "/pair", "/register", "/api/v1/pairing", "/api/v1/pairing/check",  # a tablet pairing has no token yet
        "/sw.js"}  # the register's service worker: public code, like /static


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[HubService]:
    s = HubService(hub_config(tmp_path / "data"))
    load_demo_catalog(s.store)
    s.auth.set_user("olive", "correct horse", "owner")
    s.auth.set_user("carl", "cashier pass", "cashier")
    yield s
    s.stop()


@pytest.fixture
def client(svc: HubService) -> FlaskClient:
    return create_app(svc).test_client()


def bearer(svc: HubService, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {svc.auth.create_token(role)}"}


def sale_body(**kw: object) -> dict[str, object]:
    b: dict[str, object] = {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "D1001", "qty": 1}],
                            "tenders": [{"kind": "cash", "amount_minor": 1000}]}
    b.update(kw)
    return b


def test_every_api_route_but_healthz_needs_a_token(svc: HubService, client: FlaskClient) -> None:
    rules = [r for r in create_app(svc).url_map.iter_rules() if r.endpoint != "static_file" and r.rule not in OPEN]
    assert len(rules) >= 8
    for rule in rules:
        path = re.sub(r"<[^>]+>", lambda m: PLACEHOLDERS.get(m.group(0), "x"), rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            resp = client.open(path, method=method, json={})
            assert resp.status_code == 401, f"{method} {path} answered {resp.status_code} without a token"
            assert set(resp.json["error"]) == {"code", "message", "field"}
    assert client.get("/healthz").status_code == 200


def test_error_envelope_is_the_same_everywhere(svc: HubService, client: FlaskClient) -> None:
    h = bearer(svc, "owner")
    for resp in (
        client.get("/api/v1/nope", headers=h),
        client.post("/api/v1/sales", data="{not json", headers={**h, "Content-Type": "application/json"}),
        client.post("/api/v1/sales", json=sale_body(lines=[]), headers=h),
        client.delete("/api/v1/sales", headers=h),
        client.get("/api/v1/lookup?code=4006381333932", headers=h),
        client.get("/api/v1/lookup?code=4006381333931", headers=h),
        client.get("/api/v1/status", headers={"Authorization": "Bearer brt_wrong"}),
    ):
        assert 400 <= resp.status_code < 500
        assert set(resp.json) == {"error"} and set(resp.json["error"]) == {"code", "message", "field"}
        assert resp.json["error"]["message"]


def test_lookup_statuses(svc: HubService, client: FlaskClient) -> None:
    h = bearer(svc, "cashier")
    assert client.get("/api/v1/lookup?code=0490000010015", headers=h).json["item"]["sku"] == "D1001"
    assert client.get("/api/v1/lookup?code=0490000010016", headers=h).status_code == 422
    unknown = "049000009999" + str(check_digit("049000009999"))
    assert client.get(f"/api/v1/lookup?code={unknown}", headers=h).status_code == 404


def test_roles_are_enforced(svc: HubService, client: FlaskClient) -> None:
    assert client.get("/api/v1/status", headers=bearer(svc, "cashier")).status_code == 403
    assert client.get("/api/v1/status", headers=bearer(svc, "owner")).status_code == 200
    assert client.post("/api/v1/sales", json=sale_body(), headers=bearer(svc, "device")).status_code == 403


def test_sale_is_idempotent_over_http(svc: HubService, client: FlaskClient) -> None:
    h = bearer(svc, "cashier")
    body = sale_body()
    first = client.post("/api/v1/sales", json=body, headers=h)
    again = client.post("/api/v1/sales", json=body, headers=h)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    clash = client.post("/api/v1/sales", json={**body, "lines": [{"sku": "D1001", "qty": 2}]}, headers=h)
    assert clash.status_code == 409 and clash.json["error"]["code"] == "idempotency_conflict"
    assert svc.db.conn.execute("SELECT count(*) FROM sales").fetchone()[0] == 1
    assert first.json["receipt"]["status"] == "no_printer"


def test_session_login_needs_csrf_for_writes(client: FlaskClient) -> None:
    assert client.get("/status").status_code == 302
    assert client.post("/login", json={"username": "carl", "password": "wrong"}).status_code == 401
    assert client.post("/login", json={"username": "carl", "password": "cashier pass"}).json["role"] == "cashier"
    assert client.get("/register/till-1").status_code == 200
    me = client.get("/api/v1/session").json
    assert me["store"] == {"name": "Test Shop", "currency": "EUR", "prices_include_tax": True,
                           "rcn_region": "", "rcn_pattern": "", "rcn_check_price_digit": True}
    csrf = me["csrf_token"]
    assert client.post("/api/v1/sales", json=sale_body()).status_code == 403
    assert client.post("/api/v1/sales", json=sale_body(), headers={"X-CSRF-Token": csrf}).status_code == 201
    assert client.get("/api/v1/status").status_code == 403  # a cashier doesn't see the owner's page data


def test_every_api_route_is_in_the_openapi_document(svc: HubService, client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json", headers=bearer(svc, "integration")).json
    for rule in create_app(svc).url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        assert path in doc["paths"], f"{rule.rule} is not in the OpenAPI document"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in doc["paths"][path], f"{method} {path} is not documented"


def test_openapi_lists_the_core_operations(svc: HubService, client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json", headers=bearer(svc, "integration")).json
    assert {"/api/v1/sales", "/api/v1/lookup", "/api/v1/status", "/api/v1/registers/{register_id}/events"} <= set(doc["paths"])


def test_quote_prices_like_the_sale_and_records_nothing(svc: HubService, client: FlaskClient) -> None:
    h = bearer(svc, "cashier")
    lines = [{"sku": "D1001", "qty": 2}, {"sku": "P4011", "qty": 532}]
    quote = client.post("/api/v1/sales/quote", json={"lines": lines}, headers=h).json
    sale = client.post("/api/v1/sales", json=sale_body(lines=lines, tenders=[{"kind": "cash", "amount_minor": quote["total_minor"]}]),
                       headers=h).json
    assert (quote["total_minor"], quote["tax_minor"], quote["lines"]) == (sale["total_minor"], sale["tax_minor"], sale["lines"])
    assert sale["change_minor"] == 0
    before = svc.db.conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    client.post("/api/v1/sales/quote", json={"lines": lines}, headers=h)
    assert svc.db.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == before
    assert client.post("/api/v1/sales/quote", json={"lines": [{"sku": "NOPE", "qty": 1}]}, headers=h).status_code == 422


def test_a_disabled_or_demoted_person_loses_access_at_once(svc: HubService, client: FlaskClient) -> None:
    assert client.post("/login", json={"username": "olive", "password": "correct horse"}).status_code == 200
    assert client.get("/api/v1/status").status_code == 200
    svc.auth.set_user("olive", "correct horse", "cashier", actor="test")
    assert client.get("/api/v1/status").status_code == 403
    with svc.db.write() as conn:
        conn.execute("UPDATE users SET disabled_at = 'now' WHERE username = 'olive'")
    assert client.get("/api/v1/session").status_code == 401
    assert client.get("/status").status_code == 302
    changes = svc.db.conn.execute("SELECT field, old, new, actor FROM user_changes WHERE username = 'olive' ORDER BY id").fetchall()
    assert [tuple(c) for c in changes] == [("created", None, "owner", "cli"), ("role", "owner", "cashier", "test")]


def test_an_open_stream_ends_once_its_person_is_disabled(svc: HubService, client: FlaskClient,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hub.web.HEARTBEAT_S", 0.05)
    monkeypatch.setattr("hub.web.STATUS_PUSH_S", 0.05)
    assert client.post("/login", json={"username": "olive", "password": "correct horse"}).status_code == 200
    register = client.get("/api/v1/registers/till-1/events", buffered=False).response
    status = client.get("/api/v1/status/stream", buffered=False).response
    assert next(register) == b": connected\n\n" and next(status).startswith(b"event: status")  # type: ignore[call-overload]
    with svc.db.write() as conn:
        conn.execute("UPDATE users SET disabled_at = 'now' WHERE username = 'olive'")
    # checked again at the next heartbeat: at most a ping or a status more, then the end
    assert set(register) <= {b"event: ping\ndata: {}\n\n"}  # type: ignore[call-overload]
    assert len(list(status)) <= 1  # type: ignore[call-overload]


def test_sign_in_returns_to_the_page_and_view_asked_for(client: FlaskClient) -> None:
    resp = client.get("/items?view=requests")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/login?next=/items%3Fview%3Drequests")
    assert client.get("/items").headers["Location"].endswith("/login?next=/items")
