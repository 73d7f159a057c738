"""Issue 6 section 6: whatever the link does, the sink ends with every event exactly once, in order.

The hub's real Forwarder sends through tests/hub/chaos.py (a TCP proxy that drops, loses answers
after the commit, answers 500 and 429, delays and resets) to the real sink served by waitress; a
hub process is killed with SIGKILL mid-send and restarted; a poison event is set aside, shown as a
dead letter, and arrives with its seq once the owner replays it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from waitress.server import create_server

from hub import config as cfg
from hub import events as catalog
from hub.db import Database
from hub.forwarder import Forwarder
from hub.mosquitto import Broker, free_port
from hub.outbox import Outbox
from hub.service import DB_FILE, open_database, serve
from hub.sink import Rejects, close_sink, create_sink_app
from tests.conftest import HUB_ID, USERS
from tests.helpers import wait_until
from tests.hub.chaos import ChaosProxy

SECRET = "chaos-secret"
DATA = '{"sale_id":"%d","lines":[{"sku":"D1001","qty":1,"price_minor":249}],"total_minor":249}'


class RunningSink:
    """The reference sink in this process, on a real port; its rejects can be changed while it runs."""

    def __init__(self, data_dir: Path, rejects: Rejects | None = None) -> None:
        self.app: Flask = create_sink_app(data_dir, SECRET, rejects=rejects, durable=False)
        self.port = free_port()
        self.server = create_server(self.app, host="127.0.0.1", port=self.port, threads=4)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=serve, args=(self.server, self.stopping), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/events"

    def ordered(self, hub_id: str) -> tuple[list[dict[str, Any]], int]:
        """Every event the ordered consumer API hands out, page by page, and the final acked_seq."""
        out: list[dict[str, Any]] = []
        after, acked = 0, 0
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/hubs/{hub_id}/events"
                                        f"?after={after}&limit=10000", timeout=30) as r:
                page = json.loads(r.read())
            out += page["events"]
            after, acked = page["next_after"], page["acked_seq"]
            if not page["has_more"]:
                return out, acked

    def hub(self, hub_id: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/hubs", timeout=10) as r:
            return next(h for h in json.loads(r.read())["hubs"] if h["hub_id"] == hub_id)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        close_sink(self.app)


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[RunningSink]:
    s = RunningSink(tmp_path / "sink")
    yield s
    s.stop()


def fill(db: Database, n: int, type_: str = "sale.completed", start: int = 0) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    with db.write() as conn:
        for i in range(start, start + n):
            catalog.append_event_json(conn, type_, DATA % i, stamp)


def outbox_ids(db_path: Path) -> list[str]:
    db = Database(db_path).open()
    try:
        return [r[0] for r in db.conn.execute("SELECT id FROM outbox ORDER BY seq")]
    finally:
        db.close()


def assert_exactly_once_in_order(sink: RunningSink, hub_id: str, ids: list[str]) -> None:
    events, acked = sink.ordered(hub_id)
    assert acked == len(ids)
    assert [e["seq"] for e in events] == list(range(1, len(ids) + 1))
    assert [e["id"] for e in events] == ids  # each seq is the hub's own event, none doubled or swapped
    assert not any("set_aside" in e for e in events)
    assert sink.hub(hub_id)["events"] == len(ids)


def test_100k_events_through_a_chaos_proxy_arrive_exactly_once_in_order(tmp_path: Path, sink: RunningSink) -> None:
    db = Database(tmp_path / "hub.sqlite3").open()
    proxy = ChaosProxy(sink.port, seed=6, weights={
        "pass": 0.50, "drop_request": 0.08, "drop_response": 0.10, "error_500": 0.08, "slow_down_429": 0.04,
        "latency": 0.12, "reset": 0.08}).start()
    fwd = Forwarder(Outbox(db, HUB_ID), f"http://127.0.0.1:{proxy.port}/v1/events", SECRET, batch_events=1000,
                    batch_bytes=4_000_000, batch_age_s=0, base_s=0.01, cap_s=0.05, timeout_s=10,
                    fresh_after_s=3600, rand=random.Random(6))
    try:
        fill(db, 100_000)
        fwd.start()
        for round_ in range(10):  # sales keep coming during the drain: fresh-first lanes and gaps
            fill(db, 100, start=100_000 + round_ * 100)
            fwd.notify()
            time.sleep(0.05)
        wait_until(lambda: Outbox(db, HUB_ID).backlog() == 0, "the backlog drained through chaos", timeout=100)
    finally:
        fwd.stop()
        proxy.stop()
    ids = [r[0] for r in db.conn.execute("SELECT id FROM outbox ORDER BY seq")]
    db.close()
    assert len(ids) == 101_000
    assert_exactly_once_in_order(sink, HUB_ID, ids)
    assert all(proxy.counts[f] > 0 for f in ("drop_request", "drop_response", "error_500", "slow_down_429",
                                             "reset")), proxy.counts


def test_gzip_batches_through_resets_arrive_exactly_once(tmp_path: Path, sink: RunningSink) -> None:
    db = Database(tmp_path / "hub.sqlite3").open()
    proxy = ChaosProxy(sink.port, seed=3, weights={"pass": 0.6, "drop_response": 0.2, "reset": 0.2}).start()
    fwd = Forwarder(Outbox(db, HUB_ID), f"http://127.0.0.1:{proxy.port}/v1/events", SECRET, batch_events=250,
                    batch_age_s=0, compress=True, base_s=0.01, cap_s=0.02, rand=random.Random(3))
    try:
        fill(db, 5000)
        while Outbox(db, HUB_ID).backlog():
            fwd.step()
    finally:
        fwd.close()
        proxy.stop()
    ids = [r[0] for r in db.conn.execute("SELECT id FROM outbox ORDER BY seq")]
    db.close()
    assert_exactly_once_in_order(sink, HUB_ID, ids)
    assert proxy.counts["drop_response"] > 0


def test_a_poison_event_is_set_aside_visible_and_replayed_with_its_seq(tmp_path: Path) -> None:
    sink = RunningSink(tmp_path / "sink", Rejects(types={"stock.adjusted"}))
    db = Database(tmp_path / "hub.sqlite3").open()
    outbox = Outbox(db, HUB_ID)
    fwd = Forwarder(outbox, sink.url, SECRET, batch_events=50, batch_age_s=0, base_s=0.01, cap_s=0.05)
    try:
        fill(db, 120)
        fill(db, 1, "stock.adjusted", start=120)  # seq 121: the receiver refuses it
        fill(db, 79, start=121)
        poison = db.conn.execute("SELECT id FROM outbox WHERE seq = 121").fetchone()[0]
        while outbox.backlog():
            fwd.step()
        fwd.step()  # the marker goes out with the next batch, or alone
        dead = outbox.dead_letters()
        assert [d["seq"] for d in dead] == [121] and "refuses events of type stock.adjusted" in dead[0]["detail"]
        events, acked = sink.ordered(HUB_ID)
        assert acked == 200  # everything after it arrived; the marker explains the gap
        assert events[120] == {"hub_id": HUB_ID, "seq": 121, "id": poison, "type": "stock.adjusted",
                               "set_aside": {"reason": "rejected", "detail": dead[0]["detail"]}}
        assert sink.hub(HUB_ID)["set_aside"] == 1

        sink.app.extensions["sink_rejects"].types.clear()  # the owner fixed the cause
        assert outbox.replay([121], "owner") == 1
        fwd.step()
        assert outbox.dead_letters() == []
        events, acked = sink.ordered(HUB_ID)
        assert acked == 200 and events[120]["id"] == poison and events[120]["type"] == "stock.adjusted"
        assert "set_aside" not in events[120] and sink.hub(HUB_ID)["set_aside"] == 0
    finally:
        fwd.close()
        db.close()
        sink.stop()


def test_sigkill_mid_send_then_restart_delivers_everything_once_in_order(tmp_path: Path, broker: Broker,
                                                                         sink: RunningSink) -> None:
    data = tmp_path / "data"
    db = open_database(data)
    fill(db, 60_000)
    db.close()
    proxy = ChaosProxy(sink.port, seed=9, weights={"pass": 0.7, "latency": 0.3}, latency_s=0.05).start()
    conf = tmp_path / "backroom.toml"
    conf.write_text(cfg.render_toml({
        "hub": {"id": HUB_ID, "data_dir": str(data), "http_host": "127.0.0.1", "http_port": free_port(),
                "secret_key": "k"},
        "mqtt": {"port": broker.port, "password": USERS["hub"]},
        "cloud": {"url": f"http://127.0.0.1:{proxy.port}/v1/events", "secret": SECRET, "batch_events": 500,
                  "batch_age_s": 0.0, "backoff_base_s": 0.05, "backoff_cap_s": 0.2},
    }))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKROOM_")}
    argv = [sys.executable, "-m", "hub.cli", "run", "--config", str(conf)]
    hub = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = threading.Event()

    def kill_mid_send(answers: int) -> None:
        # the sink has committed the 20th batch; the hub dies before its answer reaches it
        if answers == 20:
            hub.send_signal(signal.SIGKILL)
            killed.set()

    proxy.before_answer = kill_mid_send
    try:
        wait_until(killed.is_set, "the hub's 20th batch at the sink", timeout=60)
        hub.wait(10)
        proxy.before_answer = None
        held = sink.hub(HUB_ID)["events"]
        assert 10_000 <= held < 60_000  # batch 20 is in, the hub never heard so, and the rest is not
        assert hub_acked_seq(data / DB_FILE) < held  # so the restarted hub resends it: the sink must dedupe
        hub = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: sink.hub(HUB_ID)["acked_seq"] >= 60_000, "the rest after the restart", timeout=90)
    finally:
        if hub.poll() is None:
            hub.send_signal(signal.SIGTERM)
            try:
                hub.wait(15)
            except subprocess.TimeoutExpired:
                hub.kill()
                hub.wait()
        proxy.stop()
    ids = outbox_ids(data / DB_FILE)  # the backlog, and whatever the hub itself recorded since
    events, acked = sink.ordered(HUB_ID)
    assert acked >= 60_000 and len(events) == acked == sink.hub(HUB_ID)["events"]
    assert [e["seq"] for e in events] == list(range(1, acked + 1))
    assert [e["id"] for e in events] == ids[:acked]


def hub_acked_seq(db_path: Path) -> int:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT acked_seq FROM sync_state WHERE id = 1").fetchone()[0])
    finally:
        conn.close()
