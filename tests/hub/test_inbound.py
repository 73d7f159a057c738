"""Inbound changes from the back office, pulled from the real reference sink's feed over HTTP:
pages and cursor, idempotency, order, rate limits, crashes mid-page, the conflict policy."""

import http.server
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from waitress.server import create_server

from hub.domain import catalog as rules
from hub.domain import ownership
from hub.errors import NotFound, ValidationError
from hub.inbound import ChangeFeed, PullError, inbound_log, parse_page
from hub.mosquitto import free_port
from hub.service import HubService, serve
from hub.sink import close_sink, create_sink_app
from hub.sink_changes import post_changes
from hub.sync_protocol import HUB_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, full_jitter
from hub.web import create_app
from tests.conftest import HUB_ID, hub_config
from tests.helpers import T0, Clock

SECRET = "s3cret"


class Sink:
    """The reference sink (`backroom sink`) on a loopback port, with its change feed."""

    def __init__(self, data_dir: Path, **options: Any) -> None:
        self.port = free_port()
        self.app = create_sink_app(data_dir, SECRET, **options)
        self.server = create_server(self.app, host="127.0.0.1", port=self.port)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=serve, args=(self.server, self.stopping), daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def changes_url(self) -> str:
        return f"{self.base}/v1/hubs/{HUB_ID}/changes"

    def add(self, *changes: dict[str, Any]) -> None:
        post_changes(self.base, SECRET, HUB_ID, {"changes": list(changes)})

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        close_sink(self.app)


class Stub:
    """random.Random stand-in: the jitter draw is fixed, so the computed wait is known."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.fixture
def make_sink(tmp_path: Path) -> Iterator[Callable[..., Sink]]:
    sinks: list[Sink] = []

    def make(**options: Any) -> Sink:
        sinks.append(Sink(tmp_path / f"sink{len(sinks)}", **options))
        return sinks[-1]

    yield make
    for s in sinks:
        s.stop()


@pytest.fixture
def sink(make_sink: Callable[..., Sink]) -> Sink:
    return make_sink()


@pytest.fixture
def make_hub(tmp_path: Path, clock: Clock) -> Iterator[Callable[..., HubService]]:
    hubs: list[HubService] = []

    def make(changes_url: str, **cloud: Any) -> HubService:
        svc = HubService(hub_config(tmp_path / "hub", cloud={"changes_url": changes_url, "secret": SECRET, **cloud}),
                         clock=clock)
        hubs.append(svc)
        with svc.db.write() as conn:
            svc.catalog.put_tax_category(conn, "standard", "Standard", 2000, "owner")
        return svc

    yield make
    for svc in hubs:
        svc.stop()


@pytest.fixture
def hub(make_hub: Callable[..., HubService], sink: Sink) -> HubService:
    return make_hub(sink.changes_url)


def feed(svc: HubService) -> ChangeFeed:
    assert svc.change_feed is not None
    return svc.change_feed


def upsert(cid: str, sku: str, **fields: Any) -> dict[str, Any]:
    return {"id": cid, "type": "item.upsert", "sku": sku, "fields": fields}


def price(cid: str, sku: str, minor: int, **extra: Any) -> dict[str, Any]:
    return {"id": cid, "type": "price.set", "sku": sku, "price_minor": minor, **extra}


def tea(cid: str = "chg-1", **fields: Any) -> dict[str, Any]:
    return upsert(cid, "TEA", **{"name": "Green tea", "unit": "each", "price_minor": 249, "tax_category": "standard",
                                 **fields})


def log(svc: HubService) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in svc.db.conn.execute("SELECT change_id, outcome, detail FROM inbound_changes ORDER BY id")]


def events(svc: HubService, type_: str) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in svc.db.conn.execute("SELECT data FROM outbox WHERE type = ? ORDER BY seq", (type_,))]


def cursor(svc: HubService) -> str:
    return str(svc.db.conn.execute("SELECT cursor FROM inbound_state").fetchone()[0])


# -- pages, cursor, idempotency, order ---------------------------------------------------------------
def test_pages_are_pulled_while_has_more_and_the_cursor_is_kept(make_hub: Callable[..., HubService], sink: Sink) -> None:
    svc = make_hub(sink.changes_url, pull_page_size=2)
    sink.add(*(upsert(f"chg-{n}", f"SKU{n}", name=f"Item {n}", unit="each", price_minor=100 + n) for n in range(5)))
    assert feed(svc).pull() == 5
    state = svc.db.conn.execute("SELECT cursor, pages, last_success_at, last_error FROM inbound_state").fetchone()
    assert tuple(state) == ("c5", 3, "2026-11-27T09:00:00.000Z", None)  # 2 + 2 + 1
    assert [svc.catalog.get(f"SKU{n}")["price_minor"] for n in range(5)] == [100, 101, 102, 103, 104]
    assert [(c, o) for c, o, _ in log(svc)] == [(f"chg-{n}", "applied") for n in range(5)]
    assert feed(svc).pull() == 0  # nothing new: the next page after c5 is empty


def test_the_cursor_survives_a_restart(make_hub: Callable[..., HubService], sink: Sink) -> None:
    first = make_hub(sink.changes_url)
    sink.add(tea("chg-1"), price("chg-2", "TEA", 259))
    assert feed(first).pull() == 2
    first.stop()
    sink.add(price("chg-3", "TEA", 269))
    again = make_hub(sink.changes_url)
    assert cursor(again) == "c2"
    assert feed(again).pull() == 1  # only the change after the stored cursor
    assert again.catalog.get("TEA")["price_minor"] == 269
    prices = [c for c in again.catalog.history("TEA") if c["field"] == "price_minor"]
    assert [(c["new"], c["reason"]) for c in prices] == [(269, "back-office change chg-3"), (259, "back-office change chg-2")]


def test_the_same_page_twice_applies_once(hub: HubService, sink: Sink) -> None:
    sink.add(tea("chg-1"), price("chg-2", "TEA", 259))
    page = feed(hub).fetch("")
    assert feed(hub).apply_page("", page) == 2
    assert feed(hub).apply_page("", page) == 0  # the stored cursor has moved on
    # a feed that sends the same change ids again (its own restart) is deduplicated by id
    with hub.db.write() as conn:
        conn.execute("UPDATE inbound_state SET cursor = ''")
    assert feed(hub).pull() == 0
    assert len([c for c in hub.catalog.history("TEA") if c["field"] == "price_minor"]) == 1
    assert len(events(hub, "price.changed")) == 1 and len(events(hub, "item.created")) == 1


def test_a_later_price_change_wins_within_and_across_pages(make_hub: Callable[..., HubService], sink: Sink) -> None:
    svc = make_hub(sink.changes_url, pull_page_size=2)
    sink.add(tea("chg-1"), price("chg-2", "TEA", 300), price("chg-3", "TEA", 350), price("chg-4", "TEA", 320))
    feed(svc).pull()
    assert svc.catalog.get("TEA")["price_minor"] == 320
    assert [e["changes"]["price_minor"]["new"] for e in events(svc, "price.changed")] == [300, 350, 320]


def test_history_names_the_back_office_and_the_change(hub: HubService, sink: Sink) -> None:
    sink.add(tea("chg-1"), upsert("chg-2", "TEA", name="Green tea 20 bags", tax_category="zero"))
    feed(hub).pull()
    history = hub.catalog.history("TEA")
    assert {(c["field"], c["actor"], c["reason"]) for c in history} == {
        ("created", "back-office", "back-office change chg-1"), ("name", "back-office", "back-office change chg-2"),
        ("tax_category", "back-office", "back-office change chg-2")}
    assert events(hub, "item.changed")[-1]["changes"] == {"name": {"old": "Green tea", "new": "Green tea 20 bags"}}
    assert events(hub, "price.changed")[-1]["changes"] == {"tax_category": {"old": "standard", "new": "zero"}}


# -- crashes -------------------------------------------------------------------------------------------
def failing_on(svc: HubService, monkeypatch: pytest.MonkeyPatch, nth: int) -> None:
    real, calls = svc.catalog.apply, []

    def apply(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == nth:
            raise RuntimeError("power cut")
        return real(*args, **kwargs)

    monkeypatch.setattr(svc.catalog, "apply", apply)


def test_a_crash_mid_page_leaves_nothing_half_applied(hub: HubService, sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    sink.add(tea("chg-1"))
    feed(hub).pull()
    sink.add(price("chg-2", "TEA", 300), price("chg-3", "TEA", 350), upsert("chg-4", "TEA", name="Tea"))
    seq = hub.db.conn.execute("SELECT max(seq) FROM outbox").fetchone()[0]
    failing_on(hub, monkeypatch, 2)
    with pytest.raises(RuntimeError):
        feed(hub).pull()
    assert hub.catalog.get("TEA")["price_minor"] == 249  # chg-2 applied before the crash, and was undone
    assert (cursor(hub), [c for c, _, _ in log(hub)]) == ("c1", ["chg-1"])
    assert hub.db.conn.execute("SELECT max(seq) FROM outbox").fetchone()[0] == seq  # no event of the lost page
    monkeypatch.undo()
    assert feed(hub).pull() == 3
    assert (hub.catalog.get("TEA")["price_minor"], hub.catalog.get("TEA")["name"]) == (350, "Tea")
    assert [e["changes"]["price_minor"]["new"] for e in events(hub, "price.changed")] == [300, 350]


def test_a_crash_between_pages_keeps_the_pages_before_it(make_hub: Callable[..., HubService], sink: Sink,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    svc = make_hub(sink.changes_url, pull_page_size=2)
    sink.add(tea("chg-1"), price("chg-2", "TEA", 300), price("chg-3", "TEA", 350), price("chg-4", "TEA", 360))
    failing_on(svc, monkeypatch, 2)  # chg-3, the first change of the second page
    with pytest.raises(RuntimeError):
        feed(svc).pull()
    assert (cursor(svc), svc.catalog.get("TEA")["price_minor"]) == ("c2", 300)
    monkeypatch.undo()
    assert feed(svc).pull() == 2
    assert [c for c, _, _ in log(svc)] == ["chg-1", "chg-2", "chg-3", "chg-4"]
    assert svc.catalog.get("TEA")["price_minor"] == 360


def test_the_thread_pulls_on_demand_and_outlives_a_failure(hub: HubService, sink: Sink,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    f = feed(hub)
    f.base_s = f.cap_s = 0.01
    failing_on(hub, monkeypatch, 1)
    sink.add(tea("chg-1"), price("chg-2", "TEA", 300))
    f.start()
    try:
        deadline = time.monotonic() + 30
        while hub.db.conn.execute("SELECT count(*) FROM inbound_changes").fetchone()[0] < 2:
            assert time.monotonic() < deadline, f"not applied; state {dict(hub.db.conn.execute('SELECT * FROM inbound_state').fetchone())}"
            f.pull_now()
            time.sleep(0.05)
    finally:
        f.stop()
    assert hub.catalog.get("TEA")["price_minor"] == 300
    assert f.attempt == 0  # it recovered after the failed attempt


# -- rate limits and errors ------------------------------------------------------------------------------
def test_429_retry_after_is_honoured(make_hub: Callable[..., HubService], make_sink: Callable[..., Sink]) -> None:
    sink = make_sink(changes_per_minute=0.5, changes_burst=1)  # one request, then 120 s to wait
    svc = make_hub(sink.changes_url, backoff_base_s=1.0, backoff_cap_s=300.0)
    f = feed(svc)
    f.rand = Stub(0.5)  # type: ignore[assignment]
    assert f.step() == f.interval_s == 60.0
    sink.add(tea("chg-1"))
    assert f.step() == 120.0  # Retry-After, not the 0.5 s the jitter drew
    state = svc.db.conn.execute("SELECT cursor, last_error FROM inbound_state").fetchone()
    assert state["cursor"] == "" and "429" in state["last_error"] and "rate_limited" in state["last_error"]
    assert svc.status()["sync"]["inbound"]["last_error"] == state["last_error"]


def test_errors_back_off_with_full_jitter(make_hub: Callable[..., HubService]) -> None:
    svc = make_hub(f"http://127.0.0.1:{free_port()}/v1/hubs/{HUB_ID}/changes", backoff_base_s=2.0, backoff_cap_s=10.0)
    f = feed(svc)
    f.rand = Stub(0.75)  # type: ignore[assignment]
    waits = [f.step() for _ in range(4)]
    assert waits == [full_jitter(n, 2.0, 10.0, 0.75) for n in range(4)] == [1.5, 3.0, 6.0, 7.5]
    assert "cannot reach" in svc.status()["sync"]["inbound"]["last_error"]


def test_a_wrong_secret_is_refused_by_the_sink_and_shown(make_hub: Callable[..., HubService], sink: Sink) -> None:
    svc = make_hub(sink.changes_url)
    feed(svc).secret = "not-the-secret"
    with pytest.raises(PullError, match="401"):
        feed(svc).pull()


Tamper = Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]]


class OnThePath:
    """Someone between the hub and the back office on plain http: passes requests on, may rewrite answers."""

    def __init__(self, sink: Sink, tamper: Tamper) -> None:
        self.tamper = tamper
        relay = self

        class Relay(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                ask = urllib.request.Request(sink.base + self.path, headers={
                    h: self.headers[h] for h in (HUB_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)})
                with urllib.request.urlopen(ask, timeout=10) as resp:
                    signed = {h: resp.headers[h] for h in (TIMESTAMP_HEADER, SIGNATURE_HEADER) if resp.headers[h]}
                    body, headers = relay.tamper(resp.read(), signed)
                self.send_response(200)
                for name, value in {**headers, "Content-Type": "application/json",
                                    "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Relay)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.changes_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/hubs/{HUB_ID}/changes"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.mark.parametrize(("tamper", "why"), [
    (lambda body, headers: (body.replace(b"249", b"1"), headers), "signature does not match"),
    (lambda body, headers: (body.replace(b"249", b"1"), {}), "is not signed"),
    (lambda body, headers: (body, {**headers, TIMESTAMP_HEADER: "1000"}), "replay window"),
])
def test_a_change_feed_answer_rewritten_on_the_way_is_refused(
        make_hub: Callable[..., HubService], sink: Sink, tamper: Tamper, why: str) -> None:
    """Over plain http the back office's answer is signed like a batch; the hub checks it before using it."""
    sink.add(tea("chg-1"))
    path = OnThePath(sink, tamper)
    try:
        svc = make_hub(path.changes_url)
        with pytest.raises(PullError, match=why):
            feed(svc).pull()
        assert cursor(svc) == "" and log(svc) == []
        with pytest.raises(NotFound):
            svc.catalog.get("TEA")
        path.tamper = lambda body, headers: (body, headers)
        assert feed(svc).pull() == 1  # the same relay, honest now: taken
        assert svc.catalog.get("TEA")["price_minor"] == 249
    finally:
        path.stop()


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["changes", "id", "type", "next_cursor", "has_more", "sku"]), inner, max_size=4),
                    max_leaves=12))
def test_any_answer_is_a_page_or_a_pull_error(body: Any) -> None:
    try:
        page = parse_page(body, "c1")
    except PullError:
        return
    assert all(isinstance(c["id"], str) and isinstance(c["type"], str) for c in page.changes)
    assert isinstance(page.next_cursor, str) and isinstance(page.has_more, bool)


# -- refusals, barcodes, deactivation, scheduling ---------------------------------------------------------
def test_an_unknown_sku_is_refused_visibly_and_pulling_goes_on(hub: HubService, sink: Sink) -> None:
    sink.add(price("chg-1", "NOPE", 100), tea("chg-2"), price("chg-3", "TEA", -5))
    assert feed(hub).pull() == 3
    assert [(c, o) for c, o, _ in log(hub)] == [("chg-1", "refused"), ("chg-2", "applied"), ("chg-3", "refused")]
    assert "no item with SKU NOPE" in log(hub)[0][2]
    inbound = hub.status()["sync"]["inbound"]
    assert (inbound["refused"], inbound["applied"], inbound["last_refused"]["change_id"]) == (2, 1, "chg-3")
    refused = events(hub, "item.change_refused")
    assert [(e["change_id"], e["field"]) for e in refused] == [("chg-1", "sku"), ("chg-3", "price_minor")]
    assert hub.catalog.get("TEA")["price_minor"] == 249


def test_barcodes_and_deactivation(hub: HubService, sink: Sink) -> None:
    sink.add(tea("chg-1"), {"id": "chg-2", "type": "barcode.add", "sku": "TEA", "code": "4006381333931"},
             {"id": "chg-3", "type": "barcode.add", "sku": "TEA", "code": "4006381333931"},
             {"id": "chg-4", "type": "barcode.remove", "sku": "TEA", "code": "4006381333931"},
             {"id": "chg-5", "type": "barcode.remove", "sku": "TEA", "code": "4006381333931"},
             {"id": "chg-6", "type": "item.deactivate", "sku": "TEA"},
             {"id": "chg-7", "type": "item.deactivate", "sku": "GONE"})
    feed(hub).pull()
    assert [o for _, o, _ in log(hub)] == ["applied", "applied", "ignored", "applied", "ignored", "applied", "ignored"]
    item = hub.catalog.get("TEA")
    assert (item["barcodes"], item["active"]) == ([], False)
    barcode = [c for c in hub.catalog.history("TEA") if c["field"] == "barcode"]
    assert [(c["actor"], c["reason"]) for c in barcode] == [("back-office", "back-office change chg-4"),
                                                            ("back-office", "back-office change chg-2")]


def test_a_scheduled_price_applies_at_its_time(hub: HubService, sink: Sink, clock: Clock) -> None:
    sink.add(tea("chg-1"), price("chg-2", "TEA", 299, effective_at="2026-11-28T06:00:00Z"),
             price("chg-3", "TEA", 149, tier="member"))
    feed(hub).pull()
    item = hub.catalog.get("TEA")
    assert (item["price_minor"], item["tiers"]) == (249, {"member": 149})
    request = hub.changes.requests(status="scheduled")[0]
    assert (request["requested_by"], request["reason"], request["effective_at"]) == (
        "back-office", "back-office change chg-2", "2026-11-28T06:00:00.000Z")
    clock.now = T0 + timedelta(days=1)
    assert hub.changes.apply_due() == 1
    assert hub.catalog.get("TEA")["price_minor"] == 299
    change = next(c for c in hub.catalog.history("TEA") if c["field"] == "price_minor")
    assert (change["actor"], change["reason"], change["request_id"]) == ("back-office", "back-office change chg-2",
                                                                         request["id"])


# -- the conflict policy ---------------------------------------------------------------------------------
def test_the_policy_covers_every_item_field_once() -> None:
    assert set(rules.FIELDS) | {"barcode"} == ownership.BACK_OFFICE_FIELDS | ownership.SHOP_FIELDS
    assert not ownership.BACK_OFFICE_FIELDS & ownership.SHOP_FIELDS
    assert [ownership.decide("price_minor", s) for s in ("back-office", "shop")] == ["apply", "request"]
    assert [ownership.decide("aisle", s) for s in ("back-office", "shop")] == ["ignore", "apply"]
    with pytest.raises(ValueError, match="not an item field"):
        ownership.owner("colour")


def test_a_back_office_change_to_a_shop_field_is_ignored_and_logged(hub: HubService, sink: Sink) -> None:
    sink.add(tea("chg-1"))
    feed(hub).pull()
    with hub.db.write() as conn:
        hub.catalog.apply(conn, "TEA", {"aisle": "3B"}, "owner")
    sink.add(upsert("chg-2", "TEA", aisle="9Z", name="Green tea loose", flavour="mint"),
             upsert("chg-3", "TEA", negative_stock="block"))
    feed(hub).pull()
    item = hub.catalog.get("TEA")
    assert (item["aisle"], item["name"], item["negative_stock"]) == ("3B", "Green tea loose", "")
    assert log(hub)[1:] == [("chg-2", "applied", "changed name; ignored shop-owned aisle; ignored unknown flavour"),
                            ("chg-3", "ignored", "ignored shop-owned negative_stock")]


@pytest.fixture
def api(hub: HubService) -> tuple[FlaskClient, dict[str, dict[str, str]]]:
    tokens = {role: {"Authorization": f"Bearer {hub.auth.create_token(role)}"} for role in ("owner", "manager")}
    return create_app(hub).test_client(), tokens


def test_a_local_edit_to_a_back_office_field_becomes_a_request(hub: HubService, sink: Sink, api: Any) -> None:
    client, h = api
    sink.add(tea("chg-1"))
    feed(hub).pull()
    resp = client.patch("/api/v1/items/TEA", json={"price_minor": 279, "aisle": "4A", "reason": "shelf price war"},
                        headers=h["owner"])
    assert resp.status_code == 200, resp.json  # the aisle applied; the price went to the back office
    assert resp.json["applied"] == {"aisle": {"old": "", "new": "4A"}} and resp.json["request"] is None
    sent = resp.json["back_office_request"]
    assert (sent["status"], sent["changes"]) == ("sent_to_back_office", {"price_minor": {"old": 249, "new": 279}})
    assert (resp.json["item"]["price_minor"], resp.json["item"]["pending_requests"]) == (249, [sent["id"]])
    asked = events(hub, "item.change_requested")[-1]
    assert (asked["id"], asked["status"], asked["changes"]) == (sent["id"], "sent_to_back_office", sent["changes"])
    only_price = client.patch("/api/v1/items/TEA", json={"cost_minor": 100}, headers=h["manager"])
    assert only_price.status_code == 202 and only_price.json["back_office_request"]["status"] == "sent_to_back_office"
    approve = client.post(f"/api/v1/change-requests/{sent['id']}/approve", headers=h["owner"])
    assert approve.status_code == 409  # only the back office grants it
    # the back office answers with the price it chose: the request closes, naming that change
    sink.add(price("chg-2", "TEA", 279))
    feed(hub).pull()
    closed = hub.changes.requests(sku="TEA")
    assert [(r["id"], r["status"], r["note"]) for r in closed] == [
        (only_price.json["back_office_request"]["id"], "sent_to_back_office", ""),
        (sent["id"], "applied", "answered by back-office change chg-2")]
    assert hub.catalog.get("TEA")["price_minor"] == 279
    assert "answers change request(s)" in log(hub)[-1][2]
    # the owner withdraws the other one
    withdrawn = client.post(f"/api/v1/change-requests/{only_price.json['back_office_request']['id']}/reject",
                            headers=h["owner"])
    assert withdrawn.status_code == 200 and withdrawn.json["status"] == "cancelled"
    assert hub.status()["sync"]["inbound"]["back_office_requests"] == 0


def test_with_pulling_off_edits_apply_as_before(make_hub: Callable[..., HubService]) -> None:
    svc = make_hub("")
    assert svc.change_feed is None and svc.changes.back_office is False
    client = create_app(svc).test_client()
    h = {role: {"Authorization": f"Bearer {svc.auth.create_token(role)}"} for role in ("owner", "manager")}
    body = {"sku": "TEA", "name": "Green tea", "unit": "each", "price_minor": 249}
    assert client.post("/api/v1/items", json=body, headers=h["owner"]).status_code == 201
    owner = client.patch("/api/v1/items/TEA", json={"price_minor": 279}, headers=h["owner"])
    assert owner.status_code == 200 and owner.json["applied"] == {"price_minor": {"old": 249, "new": 279}}
    manager = client.patch("/api/v1/items/TEA", json={"price_minor": 299}, headers=h["manager"])
    assert manager.status_code == 202 and manager.json["request"]["status"] == "pending"
    assert manager.json["back_office_request"] is None
    inbound = svc.status()["sync"]["inbound"]
    assert (inbound["enabled"], inbound["cursor"], inbound["back_office_requests"]) == (False, "", 0)


def test_the_inbound_log_lists_newest_first_by_outcome(hub: HubService, sink: Sink) -> None:
    sink.add(tea("chg-1"), price("chg-2", "NOPE", 1), upsert("chg-3", "TEA", aisle="1A"))
    feed(hub).pull()
    assert [r["change_id"] for r in inbound_log(hub.db)] == ["chg-3", "chg-2", "chg-1"]
    assert [(r["change_id"], r["sku"]) for r in inbound_log(hub.db, "refused")] == [("chg-2", "NOPE")]
    with pytest.raises(ValidationError, match="outcome must be"):
        inbound_log(hub.db, "lost")
