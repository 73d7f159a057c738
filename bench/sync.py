"""Store-and-forward benchmark (issue 6 section 7): drain a big backlog into the reference sink.

    .venv/bin/python bench/sync.py [--events 1000000] [--compress]

1. A hub database with an outage's backlog (events an hour old, sale-sized payloads).
2. Baseline, same run, same sink process: a bare client POSTs the same batches, encoded
   beforehand and kept on disk, signed at send time, over one kept-alive connection, under
   another hub id so the sink stores every event again; once before the hub's drain and once
   after it (the sink's database grows), and the ratio is to the mean of the two.
3. The hub's forwarder (hub.forwarder, with the config defaults) drains the backlog in its own
   process, as in the hub; its peak resident memory is its own (ru_maxrss).
4. During the drain a sale is recorded in the hub database; timed until the sink holds it.

Not run by CI; no test asserts a time. The ratio to the baseline means more than the rate.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.clock import iso, system_clock  # noqa: E402
from hub.db import Database  # noqa: E402
from hub.mosquitto import free_port  # noqa: E402
from hub.outbox import Outbox  # noqa: E402
from hub.sync_protocol import (  # noqa: E402
    HUB_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)

SECRET = "bench-secret"
HUB = "bench-hub"
BARE_RUNS = ("bench-bare-1", "bench-bare-2")
SALE = ('{"sale_id":"%s","register_id":"till-1","currency":"EUR","lines":[{"line_no":1,"sku":"D1001",'
        '"qty":1,"unit_price_minor":249,"total_minor":249,"tax_rate_bp":700,"tax_minor":16}],'
        '"tenders":[{"kind":"cash","amount_minor":500}],"total_minor":249,"tax_minor":16,"change_minor":251}')


def fill(path: Path, n: int) -> None:
    Database(path).open().close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # setting the scene, not part of the measurement
    start = system_clock() - timedelta(hours=1)
    chunk = 50_000
    for base in range(0, n, chunk):
        at = iso(start + timedelta(milliseconds=base * 3))
        rows = [(uuid.uuid4().hex, "sale.completed", at, 1, SALE % uuid.uuid4()) for _ in range(min(chunk, n - base))]
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO outbox (id, type, occurred_at, v, data) VALUES (?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    conn.close()


def encode_bare(path: Path, out: Path, batch: int, hub_id: str) -> int:
    """The same batches the forwarder sends, under the bare client's hub id, written to a file."""
    db = Database(path)
    ob = Outbox(db, hub_id)
    from hub.outbox import Batch

    count, lo = 0, 1
    with out.open("wb") as fh:
        while True:
            events = ob.take(lo, None, batch, 1_000_000)
            if not events:
                break
            batch_id, body = ob.body(Batch(events))
            head = batch_id.encode()
            fh.write(struct.pack("<II", len(head), len(body)) + head + body)
            count += len(events)
            lo = events[-1][0] + 1
    db.close()
    return count


def bare_client(url: str, batches: Path, hub_id: str) -> float:
    parts = urllib.request.urlparse(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=30)
    t0 = time.perf_counter()
    with batches.open("rb") as fh:
        while head := fh.read(8):
            nid, nbody = struct.unpack("<II", head)
            batch_id, body = fh.read(nid).decode(), fh.read(nbody)
            ts = str(int(time.time()))
            conn.request("POST", parts.path, body=body, headers={
                "Content-Type": "application/json", IDEMPOTENCY_HEADER: batch_id, HUB_HEADER: hub_id,
                TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(SECRET, ts, body)})
            resp = conn.getresponse()
            answer = resp.read()
            if resp.status != 200:
                raise SystemExit(f"sink answered {resp.status}: {answer[:300]!r}")
    conn.close()
    return time.perf_counter() - t0


def drain(path: Path, url: str, compress: bool) -> None:
    """The child process: the hub's forwarder with the default settings, until the backlog is gone."""
    from hub.config import load
    from hub.forwarder import IDLE_WAIT_S, Forwarder

    cloud = load(env={})["cloud"]
    db = Database(path)
    ob = Outbox(db, HUB)
    fwd = Forwarder(ob, url, SECRET, batch_events=cloud["batch_events"], batch_bytes=cloud["batch_bytes"],
                    batch_age_s=cloud["batch_age_s"], compress=compress, fresh_after_s=cloud["fresh_after_s"])
    db.conn.execute("PRAGMA synchronous = NORMAL")  # as the forwarder's own thread does
    t0 = time.perf_counter()
    while (wait := fwd.step()) != IDLE_WAIT_S:
        if fwd.attempt:
            raise SystemExit(f"the forwarder failed: {ob.summary()['last_error']}")
        time.sleep(wait)
    elapsed = time.perf_counter() - t0
    fwd.close()
    summary = ob.summary()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": elapsed, "acked_seq": summary["acked_seq"], "backlog": summary["backlog"],
                      "maxrss_mb": peak_rss_mb(), "cpu_s": usage.ru_utime + usage.ru_stime}))


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM, not ru_maxrss, which Linux carries over from
    the parent across fork and exec (the parent here holds the bench's own data)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sink_has(sink_db: Path, hub: str, seq: int) -> bool:
    try:
        conn = sqlite3.connect(f"file:{sink_db}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT 1 FROM events WHERE hub_id = ? AND seq = ?", (hub, seq)).fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def sink_count(port: int, hub: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/hubs") as r:
        return next((h["events"] for h in json.loads(r.read())["hubs"] if h["hub_id"] == hub), 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--compress", action="store_true", help="gzip the forwarder's batches (the sink must accept it)")
    ap.add_argument("--no-sale", action="store_true", help="no sale during the drain (the drain alone)")
    ap.add_argument("--drain", nargs=2, metavar=("DB", "URL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.drain:
        drain(Path(args.drain[0]), args.drain[1], args.compress)
        return 0
    with tempfile.TemporaryDirectory(prefix="backroom-bench-sync-") as tmp:
        work = Path(tmp)
        hub_db = work / "hub.sqlite3"
        t = time.perf_counter()
        fill(hub_db, args.events)
        print(f"backlog: {args.events} events in the hub's outbox ({time.perf_counter() - t:.1f} s to write)")
        for hub_id in BARE_RUNS:
            encode_bare(hub_db, work / f"{hub_id}.batches", 500, hub_id)
        port = free_port()
        env = {**os.environ, "BACKROOM_SINK_SECRET": SECRET}
        sink = subprocess.Popen([sys.executable, "-m", "hub.cli", "sink", "--port", str(port), "--data-dir",
                                 str(work / "sink")], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/v1/events"
        try:
            for _ in range(200):
                try:
                    sink_count(port, HUB)
                    break
                except OSError:
                    time.sleep(0.05)
            bare = [bare_client(url, work / f"{BARE_RUNS[0]}.batches", BARE_RUNS[0])]
            print(f"bare client, before: {args.events} events in {bare[0]:.1f} s = {args.events / bare[0]:,.0f} events/s")

            child = subprocess.Popen([sys.executable, __file__, "--drain", str(hub_db), url]
                                     + (["--compress"] if args.compress else []), stdout=subprocess.PIPE, text=True)
            sink_db = work / "sink" / "sink.sqlite3"
            while not args.no_sale and not sink_has(sink_db, HUB, min(50_000, args.events // 4)) and child.poll() is None:
                time.sleep(0.1)  # a look by primary key: the drain must not pay for our watching
            sale, sale_s = 0, 0.0
            if not args.no_sale:
                sale = _record_sale(hub_db)
                t0 = time.perf_counter()
                while not sink_has(sink_db, HUB, sale) and time.perf_counter() - t0 < 60:
                    time.sleep(0.005)
                sale_s = time.perf_counter() - t0
            out, _ = child.communicate()
            result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
            # the sink's database grows with every run: a second bare run after the hub's brackets it
            bare.append(bare_client(url, work / f"{BARE_RUNS[1]}.batches", BARE_RUNS[1]))
            print(f"bare client, after: {args.events} events in {bare[1]:.1f} s = {args.events / bare[1]:,.0f} events/s")
        finally:
            sink.terminate()
            sink.wait(10)
        sent = args.events + (0 if args.no_sale else 1)
        rate = sent / result["seconds"]
        bare_rate = 2 * args.events / sum(bare)
        print(f"hub forwarder: {sent} events in {result['seconds']:.1f} s = {rate:,.0f} events/s; "
              f"backlog left {result['backlog']}, acked_seq {result['acked_seq']}")
        print(f"ratio to the bare client (mean of both runs, {bare_rate:,.0f} events/s): {rate / bare_rate:.2f} "
              "(target >= 0.5); rate target >= 20,000 events/s: "
              f"{'met' if rate >= 20_000 else 'NOT met'}")
        print(f"forwarder process peak RSS: {result['maxrss_mb']:.0f} MB (target < 150 MB); its CPU time "
              f"{result['cpu_s']:.1f} s ({result['cpu_s'] / result['seconds']:.0%} of the drain)")
        if sale:
            print(f"a sale recorded during the drain (seq {sale}) reached the sink in {sale_s * 1000:.0f} ms "
                  "(target < 2 s)")
    return 0


def _record_sale(path: Path) -> int:
    """A sale as the hub's store writes it: its event appended in its own transaction, now."""
    from hub.store import Store

    db = Database(path)
    store = Store(db, HUB, "EUR")
    with db.write() as conn:
        seq = store.append_event_json(conn, "sale.completed", SALE % uuid.uuid4())
    db.close()
    return seq


if __name__ == "__main__":
    raise SystemExit(main())
