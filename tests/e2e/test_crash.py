"""A hub killed (kill -9) in the middle of taking sales loses none it acknowledged and leaves no
half-written sale: every sale has its lines, tenders, stock moves and outbox event, or is absent."""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path

from hub import config as cfg
from hub.auth import Auth
from hub.demo import wait_http
from hub.demo_catalog import load_demo_catalog
from hub.mosquitto import Broker, free_port
from hub.service import DB_FILE, open_database
from hub.store import Store
from tests.conftest import HUB_ID, USERS
from tests.helpers import wait_until

LINES = [{"sku": "D1001", "qty": 1}, {"sku": "P4011", "qty": 750}]


def test_kill_9_mid_sales_leaves_only_whole_sales(tmp_path: Path, broker: Broker) -> None:
    port = free_port()
    conf = tmp_path / "backroom.toml"
    conf.write_text(cfg.render_toml({
        "hub": {"id": HUB_ID, "data_dir": str(tmp_path / "data"), "http_host": "127.0.0.1", "http_port": port,
                "secret_key": "k"},
        "mqtt": {"port": broker.port, "password": USERS["hub"]},
    }))
    db = open_database(tmp_path / "data")
    load_demo_catalog(Store(db, HUB_ID, "EUR"))
    token = Auth(db).create_token("cashier")
    db.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKROOM_")}
    hub = subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "--config", str(conf)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def register() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            sell_until_stopped(conn)
        finally:
            conn.close()

    def sell_until_stopped(conn: http.client.HTTPConnection) -> None:
        while not stop.is_set():
            sale_id = str(uuid.uuid4())
            body = json.dumps({"id": sale_id, "register_id": "till-1", "lines": LINES,
                               "tenders": [{"kind": "cash", "amount_minor": 5000}]})
            try:
                conn.request("POST", "/api/v1/sales", body, {"Content-Type": "application/json",
                                                             "Authorization": f"Bearer {token}"})
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                return  # the hub died under us, maybe mid-answer: that sale was not acknowledged
            if resp.status == 201:
                with lock:
                    acknowledged.append(sale_id)

    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", hub, "hub")
        threads = [threading.Thread(target=register) for _ in range(4)]
        for t in threads:
            t.start()
        wait_until(lambda: len(acknowledged) >= 50, "50 acknowledged sales")
        hub.send_signal(signal.SIGKILL)
        hub.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=15)
    finally:
        stop.set()
        if hub.poll() is None:
            hub.kill()
            hub.wait()

    conn = sqlite3.connect(tmp_path / "data" / DB_FILE)
    try:
        sales = {r[0] for r in conn.execute("SELECT id FROM sales")}
        assert set(acknowledged) <= sales, "an acknowledged sale was lost"
        for table, want in (("sale_lines", len(LINES)), ("sale_tenders", 1)):
            counts = dict(conn.execute(f"SELECT sale_id, count(*) FROM {table} GROUP BY sale_id").fetchall())
            assert set(counts) == sales and set(counts.values()) == {want}, f"half-written {table}"
        moves = dict(conn.execute("SELECT doc_id, count(*) FROM stock_moves WHERE kind = 'sale' GROUP BY doc_id").fetchall())
        assert set(moves) == sales and set(moves.values()) == {len(LINES)}
        events = [json.loads(r[0])["id"] for r in conn.execute("SELECT data FROM outbox WHERE type = 'sale.completed'")]
        assert sorted(events) == sorted(sales), "each sale has exactly one outbox event"
        seqs = [r[0] for r in conn.execute("SELECT seq FROM outbox ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1)), "outbox seq has a gap"
        on_hand = dict(conn.execute("SELECT sku || '@' || location, on_hand FROM stock_levels").fetchall())
        summed = dict(conn.execute("SELECT sku || '@' || location, sum(qty) FROM stock_moves GROUP BY sku, location").fetchall())
        assert on_hand == summed
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
