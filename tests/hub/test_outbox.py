"""The outbox's bookkeeping on a real SQLite file: lanes, acknowledgements, set-aside, pruning, quota."""

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub import outbox as outbox_mod
from hub.db import Database
from hub.errors import NotFound
from hub.outbox import Batch, Outbox, merge_ranges, parse_ranges, subtract_ranges
from hub.service import HubService
from hub.store import Store
from tests.helpers import T0, Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    db = Database(tmp_path / "hub.sqlite3").open()
    yield Store(db, "h1", "EUR", clock)
    db.close()


@pytest.fixture
def ob(store: Store, clock: Clock) -> Outbox:
    return Outbox(store.db, "h1", clock, quota_mb=1, retention_days=7)


def append(store: Store, n: int, type_: str = "sale.completed", size: int = 10) -> list[int]:
    with store.db.write() as conn:
        return [store.append_event(conn, type_, {"n": i, "pad": "x" * size}) for i in range(n)]


def seqs(ob: Outbox, lo: int = 0, hi: int | None = None, limit: int = 1000) -> list[int]:
    return [s for s, _ in ob.take(lo, hi, limit, 1 << 30)]


ranges_st = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)).map(sorted).map(tuple), max_size=8)


def covered(ranges: list[tuple[int, int]]) -> set[int]:
    return {s for lo, hi in ranges for s in range(lo, hi + 1)}


@given(ranges_st, ranges_st)
def test_range_arithmetic_matches_sets(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    merged = merge_ranges(a)
    assert covered(merged) == covered(a)
    assert all(x[1] + 1 < y[0] for x, y in zip(merged, merged[1:], strict=False))  # compact: no overlap, no touch
    assert covered(subtract_ranges(a, b)) == covered(a) - covered(b)


@given(st.from_type(object) | st.lists(st.lists(st.integers() | st.text() | st.booleans(), max_size=3)))
def test_a_malformed_received_list_is_ignored_not_believed(value: object) -> None:
    for lo, hi in parse_ranges(value):
        assert type(lo) is int and type(hi) is int and lo <= hi


def test_envelopes_are_spliced_from_the_stored_json(store: Store, ob: Outbox) -> None:
    with store.db.write() as conn:
        store.append_event(conn, "sale.completed", {"name": "Crème brûlée \"fine\"", "lines": [1, 2], "x": None})
    row = store.db.conn.execute("SELECT * FROM outbox").fetchone()
    (seq, env), = ob.take(0, None, 10, 1 << 20)
    assert json.loads(env) == {"id": row["id"], "hub_id": "h1", "seq": seq, "type": "sale.completed",
                               "occurred_at": row["occurred_at"], "v": 1, "data": json.loads(row["data"])}
    batch_id, body = ob.body(Batch([(seq, env)]))
    assert batch_id == f"h1:{seq}-{seq}"
    assert json.loads(body) == {"hub_id": "h1", "batch_id": batch_id, "events": [json.loads(env)]}


def test_a_batch_is_cut_by_count_and_bytes_but_holds_at_least_one(store: Store, ob: Outbox) -> None:
    append(store, 10, size=100)
    assert len(ob.take(0, None, 4, 1 << 20)) == 4
    one = len(ob.take(0, None, 1, 1 << 20)[0][1])
    assert len(ob.take(0, None, 10, 3 * one + 3)) == 3
    assert len(ob.take(0, None, 10, 1)) == 1


def test_received_ranges_are_skipped_and_missing_ones_resent(store: Store, ob: Outbox) -> None:
    append(store, 10)
    batch = Batch(ob.take(7, None, 10, 1 << 20), lane="fresh")
    assert batch.seqs == [7, 8, 9, 10]
    assert ob.acknowledge(batch, 0, [(7, 10)], [], sent_high=10) == 4
    assert seqs(ob) == [1, 2, 3, 4, 5, 6] and ob.backlog() == 6
    assert ob.acknowledge(Batch(ob.take(0, None, 3, 1 << 20)), 3, [(7, 10)], [(4, 6)], sent_high=10) == 3
    assert seqs(ob) == [4, 5, 6] and ob.received() == [(7, 10)]
    # the receiver lost 8 (restored from its own backup): it is sent again
    ob.acknowledge(Batch(ob.take(0, None, 3, 1 << 20)), 6, [(7, 7), (9, 10)], [(8, 8)], sent_high=10)
    assert seqs(ob) == [8] and ob.backlog() == 1


def test_an_ack_is_never_believed_beyond_what_was_sent(store: Store, ob: Outbox) -> None:
    append(store, 5)
    batch = Batch(ob.take(0, None, 2, 1 << 20))
    ob.acknowledge(batch, 5, [(4, 100)], [], sent_high=2)
    assert ob.state()["acked_seq"] == 2 and ob.received() == []
    assert seqs(ob) == [3, 4, 5]


def test_set_aside_events_are_announced_once_and_not_sent(store: Store, ob: Outbox) -> None:
    append(store, 4)
    assert ob.set_aside([2], "422 lines[0].sku unknown", '{"error": {}}') == 1
    assert seqs(ob) == [1, 3, 4] and ob.backlog() == 3
    markers = ob.markers()
    assert markers == [{"seq": 2, "id": markers[0]["id"], "type": "sale.completed", "reason": "rejected",
                        "detail": "422 lines[0].sku unknown"}]
    ob.acknowledge(Batch(ob.take(0, None, 10, 1 << 20), markers), 4, [], [], sent_high=4)
    assert ob.markers() == [] and ob.backlog() == 0
    (dead,) = ob.dead_letters()
    assert dead["seq"] == 2 and dead["detail"].startswith("422") and dead["answer"] == '{"error": {}}'


def test_replay_puts_a_dead_letter_back_with_its_seq_and_id(store: Store, ob: Outbox) -> None:
    append(store, 3)
    ob.set_aside([2], "422 bad", "")
    event_id = store.db.conn.execute("SELECT id FROM outbox WHERE seq = 2").fetchone()[0]
    with pytest.raises(NotFound, match="seq 3 is not on the dead-letter list"):
        ob.replay([3], "user:owner")
    assert ob.replay(None, "user:owner") == 1
    (seq, env), = ob.replays(10, 1 << 20)
    assert seq == 2 and json.loads(env)["id"] == event_id
    assert ob.markers() == []  # not announced as set aside while it is on its way again
    ob.acknowledge(Batch([(seq, env)], lane="replay"), 3, [], [], sent_high=3)
    assert ob.dead_letters() == [] and ob.replays(10, 1 << 20) == []


def test_pruning_keeps_what_is_unsent_or_dead_and_seq_never_restarts(
        store: Store, ob: Outbox, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox_mod, "PRUNE_CHUNK", 3)
    append(store, 10)
    ob.set_aside([4], "422 bad", "")
    ob.acknowledge(Batch(ob.take(0, None, 8, 1 << 20)), 8, [], [], sent_high=8)
    assert ob.prune() == 0  # within the retention
    clock.now = T0 + timedelta(days=8)
    assert ob.prune() == 7  # 1-8 but the dead letter 4, in chunks of 3
    left = [r[0] for r in store.db.conn.execute("SELECT seq FROM outbox ORDER BY seq")]
    assert left == [4, 9, 10]
    ob.acknowledge(Batch(ob.take(0, None, 8, 1 << 20)), 10, [], [], sent_high=10)
    store.db.conn.execute("DELETE FROM outbox_set_aside")
    assert ob.prune() == 3
    assert store.db.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    assert append(store, 1) == [11]  # AUTOINCREMENT: a pruned seq is never handed out again
    assert ob.last_seq() == 11 and ob.backlog() == 1


def test_quota_warns_once_per_crossing(store: Store, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    ob = Outbox(store.db, "h1", clock, quota_mb=0.1)  # 104,857 bytes
    caplog.set_level(logging.INFO, "hub.outbox")
    append(store, 1, size=60_000)
    assert ob.check_quota()["level"] == 0
    append(store, 1, size=15_000)
    assert ob.check_quota()["level"] == 70
    assert ob.check_quota()["level"] == 70
    append(store, 1, size=20_000)
    q = ob.check_quota()
    assert q["level"] == 90 and q["percent"] >= 90
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "70%" in warnings[0] and "90%" in warnings[1]
    assert ob.summary()["quota"]["level"] == 90


def test_over_quota_drops_only_telemetry_oldest_first_and_counts_it(store: Store, clock: Clock) -> None:
    ob = Outbox(store.db, "h1", clock, quota_mb=0.05)  # 52,428 bytes
    tele = append(store, 3, "device.state_changed", size=10_000)
    money = append(store, 3, "sale.completed", size=10_000)
    more_tele = append(store, 2, "device.state_changed", size=10_000)
    money += append(store, 3, "stock.adjusted", size=10_000)
    q = ob.check_quota()
    remaining = {r[0]: r[1] for r in store.db.conn.execute("SELECT seq, type FROM outbox")}
    assert set(money) <= set(remaining)  # never dropped, although still over quota
    assert q["level"] == 100 and ob.summary()["dropped"] == 5
    assert not set(tele + more_tele) & set(remaining)
    markers = ob.markers()
    assert [m["seq"] for m in markers] == tele + more_tele
    assert {m["reason"] for m in markers} == {"dropped"}
    assert ob.backlog() == len(money)


def test_over_quota_prunes_what_is_delivered_before_dropping_anything(store: Store, clock: Clock) -> None:
    ob = Outbox(store.db, "h1", clock, quota_mb=0.05)
    delivered = append(store, 4, "sale.completed", size=10_000)
    ob.acknowledge(Batch(ob.take(0, None, 4, 1 << 30)), 4, [], [], sent_high=4)
    tele = append(store, 3, "device.state_changed", size=10_000)
    ob.check_quota()
    left = {r[0] for r in store.db.conn.execute("SELECT seq FROM outbox")}
    assert not set(delivered) & left and set(tele) <= left and ob.summary()["dropped"] == 0


def test_summary_shape(store: Store, ob: Outbox, clock: Clock) -> None:
    append(store, 3)
    clock.now = T0 + timedelta(seconds=90)
    ob.set_state("offline", "cannot reach https://cloud: refused")
    s = ob.summary()
    assert s["state"] == "offline" and s["offline_since"] == "2026-11-27T09:01:30.000Z"
    assert s["backlog"] == 3 and s["oldest_unsent_age_s"] == 90.0 and s["last_seq"] == 3
    clock.now += timedelta(seconds=30)
    ob.set_state("degraded", "401 bad signature")  # still not online: since stays
    assert ob.summary()["offline_since"] == "2026-11-27T09:01:30.000Z"
    ob.set_state("online", None)
    assert ob.summary()["offline_since"] is None
    assert set(s) >= {"acked_seq", "throughput_eps", "dead_letters", "dropped", "quota", "reason"}


def test_a_hub_without_a_cloud_link_prunes_by_age_alone(store: Store, clock: Clock,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Nothing is ever acknowledged without a receiver: events older than the retention go anyway."""
    ob = Outbox(store.db, "h1", clock, quota_mb=0.1, retention_days=7, receiver=False)
    caplog.set_level(logging.INFO, "hub.outbox")
    old = append(store, 5, size=15_000)
    dropped = append(store, 1, "device.state_changed", size=10)
    assert ob.prune() == 0
    assert ob.check_quota()["level"] == 70  # only warned: over the quota, undelivered is not "delivered"
    assert store.db.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 6
    assert "no cloud link" in caplog.records[-1].getMessage() and "cloud link is down" not in caplog.text
    clock.now = T0 + timedelta(days=8)
    new = append(store, 2)
    assert ob.prune() == 6
    assert [r[0] for r in store.db.conn.execute("SELECT seq FROM outbox ORDER BY seq")] == new
    assert old[0] < dropped[0] < new[0]


def test_the_service_prunes_by_age_only_without_a_cloud_link(svc: HubService) -> None:
    assert svc.outbox.receiver is False and svc.forwarder is None


def test_over_quota_without_a_cloud_link_keeps_money_events(store: Store, clock: Clock) -> None:
    ob = Outbox(store.db, "h1", clock, quota_mb=0.05, receiver=False)
    money = append(store, 6, "sale.completed", size=10_000)
    tele = append(store, 2, "device.state_changed", size=10_000)
    assert ob.check_quota()["level"] == 100
    left = {r[0] for r in store.db.conn.execute("SELECT seq FROM outbox")}
    assert set(money) <= left and not set(tele) & left
