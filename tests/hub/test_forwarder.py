"""The forwarder against a receiver that follows docs/sync-protocol.md, with scripted faults: the
answer table, narrowing to a poison event, fresh-first, pacing, and a state machine over it all."""

import gzip
import json
import random
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from hub.db import Database
from hub.forwarder import IDLE_WAIT_S, Answer, Forwarder, retry_after_s
from hub.outbox import Batch, Outbox
from hub.store import Store
from hub.sync_protocol import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.helpers import T0, Clock

SECRET = "s3cret"
NOW = T0.timestamp()


class ModelReceiver:
    """The protocol's receiver in a few lines: one copy per seq, markers, acked_seq and ranges."""

    def __init__(self) -> None:
        self.events: dict[int, dict[str, Any]] = {}
        self.markers: dict[int, dict[str, Any]] = {}
        self.batches: list[dict[str, Any]] = []
        self.script: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self.poison: set[int] = set()
        self.name_rejected = False
        self.report_received = True
        self.on_batch: Callable[[int], None] | None = None
        self.lock = threading.Lock()

    def answer(self, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            problem = verify(SECRET, headers.get(TIMESTAMP_HEADER, ""), raw, headers.get(SIGNATURE_HEADER, ""), NOW)
            if problem:
                return 401, {"error": {"code": "bad_signature", "message": problem}}, {}
            body = json.loads(gzip.decompress(raw) if headers.get("Content-Encoding") == "gzip" else raw)
            self.batches.append(body)
            if self.on_batch:
                self.on_batch(len(self.batches))
            if self.script:
                return self.script.pop(0)
            bad = [e["seq"] for e in body["events"] if e["seq"] in self.poison]
            if bad:
                err: dict[str, Any] = {"error": {"code": "invalid", "message": f"event {bad[0]} is poison"}}
                if self.name_rejected:
                    err["rejected"] = [{"seq": s, "code": "poison", "message": "unknown sku"} for s in bad]
                return 422, err, {}
            return 200, self.store(body), {}

    def store(self, body: dict[str, Any]) -> dict[str, Any]:
        for e in body["events"]:
            held = self.events.setdefault(e["seq"], e)
            assert held["id"] == e["id"], f"seq {e['seq']} sent with two ids"
            self.markers.pop(e["seq"], None)
        for m in body.get("set_aside", []):
            if m["seq"] not in self.events:
                self.markers[m["seq"]] = m
        have = set(self.events) | set(self.markers)
        acked = 0
        while acked + 1 in have:
            acked += 1
        above = sorted(s for s in have if s > acked)
        ranges: list[list[int]] = []
        for s in above:
            if ranges and ranges[-1][1] == s - 1:
                ranges[-1][1] = s
            else:
                ranges.append([s, s])
        return {"acked_seq": acked, **({"received": ranges} if self.report_received else {})}


class Receiver(ModelReceiver):
    """ModelReceiver on a real loopback HTTP port."""

    def __init__(self) -> None:
        super().__init__()
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                status, body, extra = model.answer(dict(self.headers), raw)
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", "Content-Length": str(len(data)), **extra}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/events"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class Rand(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    db = Database(tmp_path / "hub.sqlite3").open()
    yield Store(db, "h1", "EUR", clock)
    db.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def make(store: Store, clock: Clock, receiver: Receiver) -> Iterator[Callable[..., Forwarder]]:
    made: list[Forwarder] = []

    def build(**kw: Any) -> Forwarder:
        kw = {"batch_age_s": 0, "rand": Rand(0.5), "wall": lambda: NOW, **kw}
        fwd = Forwarder(Outbox(store.db, "h1", clock), kw.pop("url", receiver.url), SECRET, **kw)
        made.append(fwd)
        return fwd

    yield build
    for f in made:
        f.close()


def append(store: Store, n: int, type_: str = "sale.completed") -> list[int]:
    with store.db.write() as conn:
        return [store.append_event(conn, type_, {"n": i}) for i in range(n)]


def sent_seqs(receiver: ModelReceiver) -> list[list[int]]:
    return [[e["seq"] for e in b["events"]] for b in receiver.batches]


def test_5xx_backs_off_with_full_jitter_then_recovers(store: Store, receiver: Receiver, make: Any) -> None:
    append(store, 3)
    fwd = make(base_s=2.0, rand=Rand(0.25))
    receiver.script = [(500, {"error": {"message": "database is locked"}}, {})] * 2
    assert fwd.step() == 0.25 * 2.0
    s = fwd.outbox.summary()
    assert s["state"] == "offline" and s["offline_since"] and "database is locked" in s["reason"]
    assert fwd.step() == 0.25 * 4.0  # the ceiling doubles
    assert fwd.step() == IDLE_WAIT_S and fwd.attempt == 0
    assert fwd.outbox.summary()["state"] == "online" and sorted(receiver.events) == [1, 2, 3]


def test_a_connection_refused_is_offline(store: Store, make: Any) -> None:
    append(store, 1)
    fwd = make(url="http://127.0.0.1:1/v1/events")
    assert 0 < fwd.step() <= 1.0
    assert fwd.outbox.summary()["state"] == "offline" and "cannot reach" in fwd.outbox.summary()["reason"]


@pytest.mark.parametrize(("header", "wait"), [("7", 7.0), (formatdate(NOW + 120, usegmt=True), 120.0)])
def test_429_waits_retry_after_seconds_or_date(store: Store, receiver: Receiver, make: Any, header: str,
                                               wait: float) -> None:
    append(store, 1)
    fwd = make(rand=Rand(0.0))
    receiver.script = [(429, {"error": {"message": "slow down"}}, {"Retry-After": header})]
    assert fwd.step() == wait == fwd.last_wait
    assert fwd.outbox.summary()["state"] == "offline"


def test_retry_after_raises_the_wait_never_lowers_it(store: Store, receiver: Receiver, make: Any) -> None:
    append(store, 1)
    fwd = make(rand=Rand(0.5), base_s=100.0)
    receiver.script = [(503, {}, {"Retry-After": "1"})]
    assert fwd.step() == 50.0


def test_retry_after_parsing() -> None:
    assert retry_after_s("120", NOW) == 120.0
    assert retry_after_s(formatdate(NOW - 50, usegmt=True), NOW) == 0.0
    assert retry_after_s("soon", NOW) is None and retry_after_s(None, NOW) is None


@pytest.mark.parametrize("status", [401, 403, 404])
def test_refusals_of_the_hub_itself_retry_and_show_degraded(store: Store, receiver: Receiver, make: Any,
                                                            status: int) -> None:
    append(store, 2)
    fwd = make()
    receiver.script = [(status, {"error": {"code": "x", "message": "unknown hub h1; register it"}}, {})]
    assert fwd.step() > 0 and fwd.attempt == 1
    s = fwd.outbox.summary()
    assert s["state"] == "degraded" and "unknown hub h1; register it" in s["reason"] and s["dead_letters"] == 0
    assert fwd.step() == IDLE_WAIT_S and sorted(receiver.events) == [1, 2]


def test_413_halves_the_batch(store: Store, receiver: Receiver, make: Any) -> None:
    append(store, 8)
    fwd = make(batch_events=8)
    receiver.script = [(413, {"error": {"message": "too large"}}, {})]
    assert fwd.step() == IDLE_WAIT_S
    assert sent_seqs(receiver) == [list(range(1, 9)), [1, 2, 3, 4], [5, 6, 7, 8]]
    assert fwd.batch_events == 4


@pytest.mark.parametrize("named", [True, False])
def test_a_poison_event_is_set_aside_and_everything_after_arrives(store: Store, receiver: Receiver, make: Any,
                                                                   named: bool) -> None:
    append(store, 20)
    receiver.poison, receiver.name_rejected = {13}, named
    fwd = make(batch_events=16)
    assert fwd.step() == IDLE_WAIT_S
    assert sorted(receiver.events) == [s for s in range(1, 21) if s != 13]
    assert receiver.markers[13]["reason"] == "rejected" and "poison" in receiver.markers[13]["detail"]
    (dead,) = fwd.outbox.dead_letters()
    assert dead["seq"] == 13 and "poison" in dead["answer"]
    s = fwd.outbox.summary()
    assert s["backlog"] == 0 and s["acked_seq"] == 20 and s["dead_letters"] == 1 and s["state"] == "online"
    if named:  # the receiver's list spares the bisection
        assert len(receiver.batches) == 3
    # the owner fixes the cause and replays: the event goes with its own seq and id
    receiver.poison = set()
    fwd.outbox.replay([13], "user:owner")
    assert fwd.step() == IDLE_WAIT_S
    assert 13 in receiver.events and 13 not in receiver.markers and fwd.outbox.dead_letters() == []
    assert receiver.events[13]["id"] == store.db.conn.execute("SELECT id FROM outbox WHERE seq = 13").fetchone()[0]


def test_a_receiver_refusing_everything_sets_nothing_aside(store: Store, receiver: Receiver, make: Any) -> None:
    append(store, 6)
    receiver.poison = set(range(1, 7))
    fwd = make()
    assert fwd.step() > 0
    s = fwd.outbox.summary()
    assert s["state"] == "degraded" and "not in the events" in s["reason"] and s["dead_letters"] == 0


def test_after_an_outage_fresh_events_go_ahead_of_the_backlog(store: Store, receiver: Receiver, make: Any) -> None:
    backlog = append(store, 30)
    fwd = make(batch_events=5)
    receiver.script = [(503, {}, {})]
    assert fwd.step() > 0  # the outage
    fresh: list[int] = []
    receiver.on_batch = lambda n: fresh.extend(append(store, 1)) if n == 3 else None  # a sale made mid-drain
    assert fwd.step() == IDLE_WAIT_S
    order = sent_seqs(receiver)
    where = next(i for i, b in enumerate(order) if fresh[0] in b)
    assert where == 3 and order[where] == fresh  # the very next request, in its own lane
    assert max(s for b in order[where + 1:] for s in b) == backlog[-1]  # the backlog came after it
    assert sum(b.count(fresh[0]) for b in order) == 1  # received: not sent again
    assert sorted(receiver.events) == list(range(1, 32)) and fwd.outbox.backlog() == 0


def test_an_old_backlog_opens_the_fresh_lane_too(store: Store, receiver: Receiver, make: Any, clock: Clock) -> None:
    clock.now = T0 - timedelta(hours=2)
    append(store, 12)
    clock.now = T0
    fwd = make(batch_events=5, fresh_after_s=60)
    receiver.on_batch = lambda n: append(store, 1) if n == 1 else None
    assert fwd.step() == IDLE_WAIT_S
    assert sent_seqs(receiver)[1] == [13]


def test_without_received_ranges_fresh_first_turns_itself_off(store: Store, receiver: Receiver, make: Any) -> None:
    append(store, 10)
    receiver.report_received = False
    fwd = make(batch_events=5)
    receiver.script = [(503, {}, {})]
    fwd.step()
    receiver.on_batch = lambda n: append(store, 1) if n == 2 else None
    assert fwd.step() == IDLE_WAIT_S
    assert sorted(receiver.events) == list(range(1, 12)) and fwd.outbox.backlog() == 0


def test_a_small_batch_waits_for_company_up_to_its_age(store: Store, receiver: Receiver, make: Any) -> None:
    append(store, 2)
    fwd = make(batch_events=3, batch_age_s=5.0)
    assert 4.5 < fwd.step() <= 5.0 and receiver.batches == []
    append(store, 1)
    assert fwd.step() == IDLE_WAIT_S and sent_seqs(receiver) == [[1, 2, 3]]


def test_the_bandwidth_cap_spaces_requests(store: Store, receiver: Receiver, make: Any) -> None:
    append(store, 40)
    fwd = make(batch_events=10, max_kbit_s=8)  # 1000 bytes/s
    wait = fwd.step()
    (batch,) = receiver.batches
    size = len(json.dumps(batch, separators=(",", ":")))
    assert (size - 1000) / 1000 - 0.1 < wait <= size / 1000


def test_gzip_bodies_are_signed_as_sent(store: Store, receiver: Receiver, make: Any) -> None:
    append(store, 5)
    fwd = make(compress=True)
    assert fwd.step() == IDLE_WAIT_S and sorted(receiver.events) == [1, 2, 3, 4, 5]


class InProcess(Forwarder):
    """The forwarder's logic with the HTTP hop replaced by a call into the model receiver."""

    receiver: ModelReceiver
    fault: str = ""

    def _post(self, batch: Batch) -> Answer:
        batch_id, raw = self.outbox.body(batch)
        self.sent_high = max([self.sent_high, *batch.seqs, *(m["seq"] for m in batch.markers)])
        from hub.forwarder import SendError
        from hub.sync_protocol import sign

        if self.fault == "down":
            raise SendError("cannot reach the receiver")
        status, body, _ = self.receiver.answer({TIMESTAMP_HEADER: str(int(NOW)),
                                                SIGNATURE_HEADER: sign(SECRET, str(int(NOW)), raw)}, raw)
        if self.fault == "lost" and status == 200:
            raise SendError("the answer was lost after the receiver committed")
        return Answer(status, body, None, json.dumps(body))


@settings(max_examples=30, stateful_step_count=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
class SyncMachine(RuleBasedStateMachine):
    """Every seq is delivered exactly once in effect, or set aside with a reason."""

    @initialize()
    def setup(self) -> None:
        import tempfile

        self.tmp = tempfile.TemporaryDirectory()
        self.clock = Clock(T0)
        self.db = Database(Path(self.tmp.name) / "hub.sqlite3").open()
        self.store = Store(self.db, "h1", "EUR", self.clock)
        self.receiver = ModelReceiver()
        self.fwd = InProcess(Outbox(self.db, "h1", self.clock, quota_mb=0.002), "http://x/", SECRET,
                             batch_events=4, batch_age_s=0, rand=Rand(0.0), wall=lambda: NOW)
        self.fwd.receiver = self.receiver

    def teardown(self) -> None:
        if hasattr(self, "db"):
            self.db.close()
            self.tmp.cleanup()

    @rule(n=st.integers(1, 6), telemetry=st.booleans())
    def record(self, n: int, telemetry: bool) -> None:
        append(self.store, n, "device.state_changed" if telemetry else "sale.completed")

    @rule(fault=st.sampled_from(["", "", "down", "lost"]), report=st.booleans())
    def send(self, fault: str, report: bool) -> None:
        self.fwd.fault, self.receiver.report_received = fault, report
        self.fwd.step()
        self.fwd.attempt = 0  # the step's own backoff is a wait; the machine decides when to go on

    @rule(data=st.data())
    def poison(self, data: st.DataObject) -> None:
        last = self.fwd.outbox.last_seq()
        if last:
            self.receiver.poison.add(data.draw(st.integers(1, last)))
            self.receiver.name_rejected = data.draw(st.booleans())

    @rule()
    def heal_and_replay(self) -> None:
        self.receiver.poison.clear()
        if self.fwd.outbox.dead_letters():
            self.fwd.outbox.replay(None, "user:owner")

    @rule(days=st.integers(0, 10))
    def prune(self, days: int) -> None:
        self.clock.now += timedelta(days=days)
        self.fwd.outbox.prune()

    @rule()
    def quota(self) -> None:
        self.fwd.outbox.check_quota()

    @invariant()
    def believed_delivered_is_held(self) -> None:
        if not hasattr(self, "fwd"):
            return
        ob = self.fwd.outbox
        acked = ob.state()["acked_seq"]
        held = set(self.receiver.events) | set(self.receiver.markers)
        assert set(range(1, acked + 1)) <= held
        assert {s for lo, hi in ob.received() for s in range(lo, hi + 1)} <= held
        present = {r[0] for r in self.db.conn.execute("SELECT seq FROM outbox")}
        dropped = {r[0] for r in self.db.conn.execute("SELECT seq FROM outbox_set_aside WHERE reason = 'dropped'")}
        gone = set(range(1, ob.last_seq() + 1)) - present
        assert gone <= set(self.receiver.events) | dropped | set(self.receiver.markers)  # pruned only once held

    def finish(self) -> None:
        """Heal the link, drain, and check the end state (poison left in place, named by the receiver)."""
        self.fwd.fault, self.receiver.report_received, self.receiver.name_rejected = "", True, True
        for _ in range(50):
            if self.fwd.step() == IDLE_WAIT_S:
                break
            self.fwd.attempt = 0
        ob = self.fwd.outbox
        last = ob.last_seq()
        dead = {d["seq"] for d in ob.dead_letters()}
        assert ob.backlog() == 0
        for seq in range(1, last + 1):
            if seq in self.receiver.events:
                continue
            marker = self.receiver.markers.get(seq)
            assert marker is not None, f"seq {seq} neither delivered nor set aside"
            assert marker["reason"] == "dropped" or seq in dead
            assert marker["reason"] != "dropped" or marker["type"] == "device.state_changed"


def test_state_machine_every_seq_delivered_once_or_set_aside() -> None:
    class Checked(SyncMachine):
        def teardown(self) -> None:
            if hasattr(self, "fwd"):
                self.finish()
            super().teardown()

    Checked.TestCase.settings = SyncMachine.TestCase.settings
    Checked.TestCase().runTest()
