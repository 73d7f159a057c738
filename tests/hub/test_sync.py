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
from hub.forwarder import IDLE_WAIT_S, Forwarder, SendError
from hub.mosquitto import free_port
from hub.service import serve
from hub.sink import create_sink_app
from hub.store import Store
from hub.sync_protocol import full_jitter, sign, verify
from tests.helpers import add_item

SECRET = "s3cret"


class Sink:
    """The real reference sink, served by waitress on a loopback port that survives restarts."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.server = None
        self.thread = None

    def start(self) -> None:
        self.app = create_sink_app(self.data_dir, SECRET)
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


def sell(store: Store) -> None:
    sale = price_sale(str(uuid.uuid4()), "till-1", [LineRequest("A", 1)], [Tender("cash", 500)], store.items(["A"]), True)
    store.record_sale(sale, uuid.uuid4().hex, "t", {"job_id": None})


def test_events_arrive_once_in_order_across_a_sink_outage(store: Store, sink: Sink) -> None:
    fwd = Forwarder(store, sink.url, SECRET, batch_size=2, base_s=1.0, cap_s=60.0, rand=random.Random(7))
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
    fwd = Forwarder(store, sink.url, SECRET)
    events = store.pending_events(100)
    assert fwd.send(events) == events[-1]["seq"]
    assert fwd.send(events) == events[-1]["seq"]  # as if the first answer was lost
    assert len(sink.events()) == len(events)


def test_sink_refuses_a_wrong_signature(store: Store, sink: Sink) -> None:
    sell(store)
    fwd = Forwarder(store, sink.url, "not-the-secret")
    delay = fwd.step()
    assert delay >= 0 and "401" in store.sync_summary()["last_error"]
    assert sink.events() == []


def test_forwarder_thread_sends_after_notify(store: Store, sink: Sink) -> None:
    fwd = Forwarder(store, sink.url, SECRET)
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
        fwd = Forwarder(store, f"http://127.0.0.1:{receiver.port}/v1/events", SECRET)
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
        fwd = Forwarder(store, f"http://127.0.0.1:{receiver.port}/v1/events", SECRET)
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
        fwd = Forwarder(store, f"http://127.0.0.1:{receiver.port}/v1/events", SECRET, base_s=1.0, rand=random.Random(1))
        fwd.step()
        fwd.step()
        assert fwd.attempt == 2 and "acknowledged up to seq 1" in store.sync_summary()["last_error"]
    finally:
        receiver.close()


def test_a_reused_seq_with_another_event_is_refused(store: Store, sink: Sink) -> None:
    sell(store)
    fwd = Forwarder(store, sink.url, SECRET)
    events = store.pending_events(100)
    fwd.send(events)
    impostor = [{**events[0], "id": "not-the-same-event"}]
    with pytest.raises(SendError, match="409.*already holds event"):
        fwd.send(impostor)
    assert [e["id"] for e in sink.events()] == [e["id"] for e in events]
