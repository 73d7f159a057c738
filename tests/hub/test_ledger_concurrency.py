"""Four tills sell the same items over real HTTP while a cycle count runs: totals come out exact."""

import json
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from waitress.server import create_server

from hub.mosquitto import free_port
from hub.service import HubService, serve
from hub.web import create_app
from tests.conftest import hub_config

TILLS = 4
SALES_PER_TILL = 20


def call(base: str, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def test_four_tills_and_a_count(tmp_path: Path) -> None:
    svc = HubService(hub_config(tmp_path / "data", counts={"variance_qty": 10_000, "variance_minor": 10**9}))
    port = free_port()
    server = create_server(create_app(svc), host="127.0.0.1", port=port, threads=6)
    stopping = threading.Event()
    thread = threading.Thread(target=serve, args=(server, stopping), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    owner, cashier = svc.auth.create_token("owner"), svc.auth.create_token("cashier")
    try:
        for sku in ("TEA", "JAM"):
            assert call(base, owner, "POST", "/api/v1/items", {"sku": sku, "name": sku, "unit": "each", "price_minor": 100})[0] == 201
            assert call(base, owner, "POST", "/api/v1/receipts",
                        {"location": "floor", "lines": [{"sku": sku, "qty": 500}]})[0] == 201
        status, session = call(base, owner, "POST", "/api/v1/counts", {"location": "floor", "scope_kind": "location"})
        assert status == 201, session
        failures: list[object] = []
        half_sold = threading.Event()
        sold = {"TEA": 0, "JAM": 0}
        lock = threading.Lock()

        def till(n: int) -> None:
            for i in range(SALES_PER_TILL):
                lines = [{"sku": "TEA", "qty": 1 + (n + i) % 3}, {"sku": "JAM", "qty": 1}]
                status, body = call(base, cashier, "POST", "/api/v1/sales", {
                    "id": str(uuid.uuid4()), "register_id": "till-1", "lines": lines,
                    "tenders": [{"kind": "cash", "amount_minor": 10_000}]})
                if status != 201:
                    failures.append(body)
                    return
                with lock:
                    for ln in lines:
                        sold[ln["sku"]] += ln["qty"]
                if i == SALES_PER_TILL // 2:
                    half_sold.set()

        tills = [threading.Thread(target=till, args=(n,)) for n in range(TILLS)]
        for t in tills:
            t.start()
        half_sold.wait(timeout=60)
        # the counter counts TEA in the middle of the rush
        status, line = call(base, cashier, "POST", f"/api/v1/counts/{session['id']}/lines", {"sku": "TEA", "qty": 300, "mode": "set"})
        assert status in (200, 201), line
        for t in tills:
            t.join(timeout=120)
        assert failures == []
        status, closed = call(base, owner, "POST", f"/api/v1/counts/{session['id']}/close", {})
        assert status == 200, closed
        conn = svc.db.conn
        counted = conn.execute("SELECT counted, ledger_qty, ledger_position FROM count_lines WHERE sku = 'TEA'").fetchone()
        sold_after = -conn.execute("SELECT coalesce(sum(qty), 0) FROM stock_moves WHERE sku = 'TEA' AND kind = 'sale' "
                                   "AND id > ?", (counted["ledger_position"],)).fetchone()[0]
        assert counted["ledger_qty"] == 500 - (sold["TEA"] - sold_after)  # what the ledger said when TEA was counted
        on_hand = {r[0]: r[1] for r in conn.execute("SELECT sku, on_hand FROM stock_levels WHERE location = 'floor'")}
        assert on_hand["TEA"] == 300 - sold_after  # sales after the count stay on top of the count
        assert on_hand["JAM"] == 500 - sold["JAM"]
        assert conn.execute("SELECT count(*) FROM sales").fetchone()[0] == TILLS * SALES_PER_TILL
        moves = dict(conn.execute("SELECT sku, sum(qty) FROM stock_moves WHERE location = 'floor' GROUP BY sku").fetchall())
        assert moves == on_hand
        seqs = [r[0] for r in conn.execute("SELECT seq FROM outbox ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1))  # every document's event, gapless
    finally:
        stopping.set()
        thread.join(timeout=10)
        svc.stop()
