import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from waitress.server import create_server

from hub.db import Database
from hub.domain.sale import CatalogItem, LineRequest, Tender, price_sale
from hub.forwarder import IDLE_WAIT_S, Forwarder
from hub.mosquitto import free_port
from hub.outbox import Batch, Outbox
from hub.service import serve
from hub.sink import Rejects, create_sink_app
from hub.store import Store
from hub.sync_protocol import full_jitter, sign, verify
from tests.helpers import add_item

SECRET = "s3cret"


class Sink:
    """The real reference sink, served by waitress on a loopback port that survives restarts."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.rejects = Rejects()
        self.port = free_port()
        self.server = None
        self.thread = None

    def start(self) -> None:
        self.app = create_sink_app(self.data_dir, SECRET, rejects=self.rejects)
        self.server = create_server(self.app, host="127.0.0.1", port=self.port)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=serve, args=(self.server, self.stopping), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.app.extensions["sink_store"].conn.close()
        self.app.extensions["sink_store"].conn.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/events"

    def events(self, hub_id: str = "h1") -> list[dict]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/hubs/{hub_id}/events") as r:
            return json.loads(r.read())["events"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = Database(tmp_path / "hub.sqlite3").open()
    s = Store(db, "h1", "EUR")
    with db.write() as conn:
        add_item(s, conn, CatalogItem("A", "Apple juice", "each", 249, 2000), [("4006381333931", 1)], actor="t")
        conn.execute("INSERT INTO registers (id, name) VALUES ('till-1', 'Till 1')")
    yield s
    db.close()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sink]:
    s = Sink(tmp_path / "sink")
    s.start()
    yield s
    if s.thread and s.thread.is_alive():
        s.stop()


_made: list[Forwarder] = []


@pytest.fixture(autouse=True)
def _close_forwarders() -> Iterator[None]:
    yield
    while _made:
        _made.pop().close()


def forwarder(store: Store, url: str, secret: str = SECRET, **kw: object) -> Forwarder:
    kw.setdefault("batch_age_s", 0)
    fwd = Forwarder(Outbox(store.db, store.hub_id, store.clock), url, secret, **kw)  # type: ignore[arg-type]
    _made.append(fwd)
    return fwd


def sell(store: Store) -> None:
    sale = price_sale(str(uuid.uuid4()), "till-1", [LineRequest("A", 1)], [Tender("cash", 500)], store.items(["A"]), True)
    store.record_sale(sale, uuid.uuid4().hex, "t", {"job_id": None})


def test_events_arrive_once_in_order_across_a_sink_outage(store: Store, sink: Sink) -> None:
    fwd = forwarder(store, sink.url, batch_events=2, base_s=1.0, cap_s=60.0, rand=random.Random(7))
    sell(store)
    assert fwd.step() == IDLE_WAIT_S
    assert store.sync_summary()["backlog"] == 0
    sink.stop()
    for _ in range(3):
        sell(store)
    delay = fwd.step()
    assert 0 <= delay <= 1.0 and fwd.attempt == 1
    summary = store.sync_summary()
    assert summary["backlog"] == 3 and "cannot reach" in summary["last_error"]
    assert 0 <= fwd.step() <= 2.0 and fwd.attempt == 2  # the ceiling doubles
    sink.start()
    assert fwd.step() == IDLE_WAIT_S and fwd.attempt == 0
    events = sink.events()
    assert [e["seq"] for e in events] == list(range(1, store.sync_summary()["last_seq"] + 1))
    assert sum(e["type"] == "sale.completed" for e in events) == 4
    assert store.sync_summary()["backlog"] == 0


def test_a_resent_batch_is_not_doubled(store: Store, sink: Sink) -> None:
    sell(store)
    fwd = forwarder(store, sink.url)
    batch = Batch(fwd.outbox.take(0, None, 100, 1 << 20))
    first = fwd._post(batch)
    again = fwd._post(batch)  # as if the first answer was lost
    assert first.status == again.status == 200
    assert first.body["acked_seq"] == again.body["acked_seq"] == batch.seqs[-1]
    assert len(sink.events()) == len(batch.events)


def test_sink_refuses_a_wrong_signature(store: Store, sink: Sink) -> None:
    sell(store)
    fwd = forwarder(store, sink.url, "not-the-secret")
    delay = fwd.step()
    summary = store.sync_summary()
    assert delay >= 0 and "401" in summary["last_error"]
    assert summary["state"] == "degraded" and "secret" in summary["reason"]
    assert sink.events() == []


def test_forwarder_thread_sends_after_notify(store: Store, sink: Sink) -> None:
    fwd = forwarder(store, sink.url)
    fwd.start()
    try:
        sell(store)
        fwd.notify()
        deadline = time.monotonic() + 10
        while store.sync_summary()["backlog"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.sync_summary()["backlog"] == 0
    finally:
        fwd.stop()


def test_signature_checks() -> None:
    body = b'{"x":1}'
    now = 1_800_000_000
    sig = sign(SECRET, str(now), body)
    assert verify(SECRET, str(now), body, sig, now) is None
    assert "replay window" in (verify(SECRET, str(now), body, sig, now + 301) or "")
    assert "does not match" in (verify(SECRET, str(now), body + b" ", sig, now) or "")
    assert "Unix seconds" in (verify(SECRET, "yesterday", body, sig, now) or "")


def test_sink_rejects_malformed_batches(sink: Sink) -> None:
    body = json.dumps({"hub_id": "h1", "events": [{"seq": "one"}]}).encode()
    ts = str(int(time.time()))
    req = urllib.request.Request(sink.url, data=body, method="POST", headers={
        "X-Backroom-Hub": "h1", "X-Backroom-Timestamp": ts, "X-Backroom-Signature": sign(SECRET, ts, body)})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req)
    with exc.value as answer:
        assert answer.code == 400
        assert "events[0].seq" in json.loads(answer.read())["error"]["message"]


@given(st.integers(0, 100), st.floats(0, 0.999999))
def test_full_jitter_stays_under_the_capped_ceiling(attempt: int, r: float) -> None:
    d = full_jitter(attempt, 1.0, 300.0, r)
    assert 0 <= d <= min(300.0, 2.0**attempt)


class RawReceiver:
    """A loopback TCP server that answers every request with fixed bytes (a broken or foreign receiver)."""

    def __init__(self, answer: bytes) -> None:
        import socket

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(self.answer)

    def close(self) -> None:
        import socket

        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


def test_a_garbage_answer_is_a_retry_not_a_dead_thread(store: Store) -> None:
    sell(store)
    receiver = RawReceiver(b"garbage that is not HTTP\r\n\r\n")
    try:
        fwd = forwarder(store, f"http://127.0.0.1:{receiver.port}/v1/events")
        assert fwd.step() >= 0 and fwd.attempt == 1
        assert store.sync_summary()["backlog"] > 0 and store.sync_summary()["last_error"]
    finally:
        receiver.close()


def test_an_ack_beyond_what_was_sent_is_not_believed(store: Store) -> None:
    sell(store)
    body = json.dumps({"acked_seq": 10**6}).encode()
    receiver = RawReceiver(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                           + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    try:
        fwd = forwarder(store, f"http://127.0.0.1:{receiver.port}/v1/events")
        fwd.step()
        assert store.sync_summary()["acked_seq"] == store.sync_summary()["last_seq"]  # not 10**6
        sell(store)
        assert store.sync_summary()["backlog"] == 1  # the new sale still goes out
    finally:
        receiver.close()


def test_a_partial_ack_backs_off_instead_of_flooding(store: Store) -> None:
    for _ in range(3):
        sell(store)
    body = json.dumps({"acked_seq": 1}).encode()
    receiver = RawReceiver(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                           + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    try:
        fwd = forwarder(store, f"http://127.0.0.1:{receiver.port}/v1/events", base_s=1.0, rand=random.Random(1))
        fwd.step()
        fwd.step()
        assert fwd.attempt == 2 and "acknowledged up to seq 1" in store.sync_summary()["last_error"]
    finally:
        receiver.close()


def test_a_reused_seq_with_another_event_is_refused(store: Store, sink: Sink) -> None:
    sell(store)
    fwd = forwarder(store, sink.url)
    assert fwd.step() == IDLE_WAIT_S
    sent = sink.events()
    store.db.conn.execute("UPDATE outbox SET id = 'not-the-same-event' WHERE seq = 1")  # a hub restored from a backup
    store.db.conn.execute("UPDATE sync_state SET acked_seq = 0")
    assert fwd.step() >= 60.0  # stopped: it waits out the backoff cap, not a jittered retry
    summary = store.sync_summary()
    assert summary["state"] == "degraded" and "409" in summary["reason"] and "already holds event" in summary["reason"]
    assert [e["id"] for e in sink.events()] == [e["id"] for e in sent]


def test_dead_letters_api_lists_and_replays_for_the_owner(tmp_path: Path) -> None:
    from hub.service import HubService
    from hub.web import create_app
    from tests.conftest import hub_config

    svc = HubService(hub_config(tmp_path / "data"))
    try:
        client = create_app(svc).test_client()
        h = {r: {"Authorization": f"Bearer {svc.auth.create_token(r)}"} for r in ("owner", "manager", "cashier")}
        with svc.db.write() as conn:
            seqs = [svc.store.append_event(conn, "sale.completed", {"n": i}) for i in range(3)]
        svc.outbox.set_aside([seqs[1]], "422 lines[0].sku unknown", '{"error": {"message": "unknown sku"}}')
        assert client.get("/api/v1/sync/dead-letters", headers=h["cashier"]).status_code == 403
        dead = client.get("/api/v1/sync/dead-letters", headers=h["manager"]).get_json()["dead_letters"]
        assert [(d["seq"], d["detail"], d["replay"]) for d in dead] == [(seqs[1], "422 lines[0].sku unknown", False)]
        assert "unknown sku" in dead[0]["answer"]
        url = "/api/v1/sync/dead-letters/replay"
        assert client.post(url, json={"all": True}, headers=h["manager"]).status_code == 403
        bad = client.post(url, json={"seqs": [seqs[0]]}, headers=h["owner"])
        assert bad.status_code == 404 and "not on the dead-letter list" in bad.get_json()["error"]["message"]
        assert client.post(url, json={}, headers=h["owner"]).status_code == 400
        assert client.post(url, json={"seqs": [seqs[1]]}, headers=h["owner"]).get_json() == {"replayed": 1}
        assert client.get("/api/v1/sync/dead-letters", headers=h["owner"]).get_json()["dead_letters"][0]["replay"]
        sync = client.get("/api/v1/status", headers=h["owner"]).get_json()["sync"]
        assert {"state", "offline_since", "reason", "backlog", "oldest_unsent_age_s", "acked_seq", "throughput_eps",
                "dead_letters", "dropped", "quota", "enabled"} <= set(sync)
        assert sync["dead_letters"] == 1 and sync["enabled"] is False
    finally:
        svc.stop()


def test_the_old_batch_size_key_still_sets_the_batch(tmp_path: Path) -> None:
    from tests.conftest import hub_config

    assert hub_config(tmp_path / "a", cloud={"batch_size": 50})["cloud"]["batch_events"] == 50
    assert hub_config(tmp_path / "b")["cloud"]["batch_events"] == 500


def test_a_poison_event_is_set_aside_at_the_real_sink_and_the_rest_arrives(store: Store, sink: Sink) -> None:
    for _ in range(6):
        sell(store)
    last = store.sync_summary()["last_seq"]
    poison = last - 3
    sink.rejects.seqs.add(poison)
    fwd = forwarder(store, sink.url, batch_events=4)
    assert fwd.step() == IDLE_WAIT_S
    summary = store.sync_summary()
    assert summary["backlog"] == 0 and summary["acked_seq"] == last and summary["dead_letters"] == 1
    (dead,) = fwd.outbox.dead_letters()
    assert dead["seq"] == poison and "--reject-seq" in dead["detail"]
    got = sink.events()
    assert [e["seq"] for e in got] == list(range(1, last + 1))  # the gap explained, not silent
    assert [e["seq"] for e in got if "set_aside" in e] == [poison]
    assert got[poison - 1]["set_aside"]["reason"] == "rejected"
    sink.rejects.seqs.clear()  # the back office fixed its side: the owner replays
    fwd.outbox.replay(None, "user:owner")
    assert fwd.step() == IDLE_WAIT_S
    got = sink.events()
    assert [e["seq"] for e in got] == list(range(1, last + 1)) and not any("set_aside" in e for e in got)
    assert fwd.outbox.dead_letters() == []


def test_fresh_events_overtake_a_backlog_at_the_real_sink(store: Store, sink: Sink) -> None:
    for _ in range(4):
        sell(store)
    backlog = store.sync_summary()["last_seq"]
    fwd = forwarder(store, sink.url, batch_events=2)
    fwd.fresh_from = backlog + 1  # as after an outage
    sell(store)
    fresh = list(range(backlog + 1, store.sync_summary()["last_seq"] + 1))
    batch = Batch(fwd.outbox.take(fwd.fresh_from, None, 10, 1 << 20), lane="fresh")
    assert batch.seqs == fresh
    answer = fwd._post(batch)
    fwd._acked(batch, answer)
    assert store.sync_summary()["backlog"] == backlog  # the sink reported them received: not sent again
    assert fwd.step() == IDLE_WAIT_S
    assert [e["seq"] for e in sink.events()] == list(range(1, fresh[-1] + 1))
