"""Stock ledger benchmarks: sales committed through the domain layer, and ledger reads at scale, against raw SQLite.

    .venv/bin/python bench/ledger.py [--sales 2000] [--rounds 10] [--threads 4]
                                     [--items 1000000] [--moves 10000000] [--db PATH] [--queries 2000] [--dir DIR]

1. Sale throughput: 5-line sales built with Store.items + price_sale and committed with
   Store.record_sale (sale, lines, tender, 5 stock moves, the projection by trigger, the outbox
   event; one transaction, synchronous=FULL), on one thread and on --threads (group commit).
   Baseline: raw sqlite3 on a second file made by the same migrations, with the same pragmas,
   writing the same rows with plain INSERTs (the projection upserts as statements of their own)
   from rows prepared before the clock starts. The two paths take turns, --rounds times.
2. Bytes per sale from /proc/self/io: write_bytes (dirtied for the disk), cancelled_write_bytes
   (dirtied but deleted before writeback: temporary files), and wchar (passed to write()). Every
   turn starts from an empty WAL; WAL resets (checkpoints that let the WAL restart) are counted.
   write_bytes counts whole page-cache folios: on a kernel with large folios a 4 KB write into a
   big cached file can count 60 KB. The sale files here are small and fresh, where it matches wchar.
3. Reads on a big ledger (--items, --moves; kept at --db to reuse between runs): Store.stock and
   Ledger.history (the first page and a page from the middle of the item's history, over all
   locations and at the floor only), against a raw SELECT ... FROM stock_levels WHERE sku = ?.
   Moves are skewed as in a shop (the busiest item has about 1% of them), so items are sampled
   uniformly and by activity (the item of a random move), and the busiest item on its own.

Not run by CI; no test asserts a time. Absolute numbers on a shared machine mean little, ratios more.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.db import Database, migrate  # noqa: E402
from hub.domain.sale import LineRequest, Tender, price_sale  # noqa: E402
from hub.ledger import Ledger  # noqa: E402
from hub.store import Store, canonical_hash  # noqa: E402

HUB_ID = "bench-hub"
SALE_CATALOG = 5_000  # items the sale benchmark sells from
LINES = 5
WARMUP_SALES = 200
RECEIPT = {"job_id": None, "status": "no_printer", "device_id": None}
NOW = "2026-01-01T00:00:00.000Z"
BUILD_CHUNK = 500_000  # moves per transaction while building the big ledger
SKEW = 3  # item index = items * random() ** SKEW: the busiest item gets items ** (-1 / SKEW) of the moves


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def proc_io() -> dict[str, int]:
    pairs = (line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return {k: int(v) for k, v in pairs}


def wal_resets(db_path: Path) -> int:
    """The WAL header's checkpoint sequence number: it goes up each time a checkpoint lets the WAL restart."""
    try:
        with open(f"{db_path}-wal", "rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        return 0
    return int.from_bytes(head[12:16], "big") if len(head) == 16 else 0


def sku(i: int) -> str:
    return f"L{i:07d}"


def add_items(conn: sqlite3.Connection, n: int) -> None:
    conn.execute("INSERT OR IGNORE INTO tax_categories (id, name, rate_bp) VALUES ('std', 'Standard', 2000)")
    conn.executemany(
        "INSERT INTO items (sku, name, unit, price_minor, tax_category, cost_minor, department, active, created_at, updated_at) "
        "VALUES (?, ?, 'each', ?, 'std', ?, 'Grocery', 1, ?, ?)",
        ((sku(i), f"Bench item {i}", 99 + i % 5000, 50 + i % 2500, NOW, NOW) for i in range(n)))


# -- 1 and 2: sales ----------------------------------------------------------------------------
class CountingDatabase(Database):
    """hub.db.Database that counts its group commits, to say how many sales shared an fsync."""

    commits = 0

    def _commit_group(self) -> None:
        self.commits += 1
        super()._commit_group()


def sale_requests(n: int, seed: int) -> list[tuple[str, list[tuple[str, int]]]]:
    rng = random.Random(seed)
    return [(str(uuid.UUID(int=rng.getrandbits(128), version=4)),
             [(sku(i), rng.randint(1, 3)) for i in rng.sample(range(SALE_CATALOG), LINES)]) for _ in range(n)]


def domain_sale(store: Store, sale_id: str, lines: list[tuple[str, int]]) -> None:
    """As hub.service.complete_sale does it, less parsing the HTTP body and planning the receipt."""
    sale = price_sale(sale_id, "till-1", [LineRequest(s, q) for s, q in lines], [Tender("cash", 10**8)],
                      store.items(s for s, _ in lines), True, "EUR")
    _, created = store.record_sale(sale, canonical_hash(lines), "bench", RECEIPT)
    if not created:
        raise SystemExit(f"sale {sale_id} was a replay: the benchmark must make a new id per sale")


def open_domain(path: Path) -> tuple[CountingDatabase, Store]:
    db = CountingDatabase(path)
    db.open()
    with db.write() as conn:
        add_items(conn, SALE_CATALOG)
        conn.execute("INSERT INTO registers (id, name) VALUES ('till-1', 'Till 1')")
    return db, Store(db, HUB_ID, "EUR")


RAW_SALE = ("INSERT INTO sales (id, number, register_id, actor, currency, total_minor, tax_minor, tendered_minor, "
            "change_minor, created_at, request_hash, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
RAW_LINE = ("INSERT INTO sale_lines (sale_id, line_no, sku, name, unit, qty, unit_price_minor, total_minor, tax_rate_bp, "
            "tax_minor, modifiers, saving_minor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
RAW_TENDER = "INSERT INTO sale_tenders (sale_id, line_no, kind, amount_minor, reference) VALUES (?, ?, ?, ?, ?)"
RAW_MOVE = ("INSERT INTO stock_moves (sku, location, qty, kind, reason, doc_type, doc_id, actor, device, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
RAW_LEVEL = ("INSERT INTO stock_levels (sku, location, on_hand, last_move_id) VALUES (?, 'floor', ?, 0) "
             "ON CONFLICT (sku, location) DO UPDATE SET on_hand = on_hand + excluded.on_hand")
RAW_EVENT = "INSERT INTO outbox (id, type, occurred_at, v, data) VALUES (?, 'sale.completed', ?, 1, ?)"


def raw_rows(number: int, sale_id: str, lines: list[tuple[str, int]]) -> tuple[Any, ...]:
    """The rows one sale writes, shaped like the domain's (same columns, a response JSON of the same shape)."""
    priced = [(no, s, f"Bench item {int(s[1:])}", q, 99 + int(s[1:]) % 5000) for no, (s, q) in enumerate(lines, 1)]
    line_rows = [(sale_id, no, s, name, "each", q, price, q * price, 2000, q * price // 6, "[]", 0)
                 for no, s, name, q, price in priced]
    total = sum(r[7] for r in line_rows)
    response = {"id": sale_id, "number": number, "register_id": "till-1", "currency": "EUR",
                "lines": [{"line_no": r[1], "sku": r[2], "name": r[3], "unit": "each", "qty": r[5], "unit_price_minor": r[6],
                           "total_minor": r[7], "tax_rate_bp": 2000, "tax_minor": r[9], "modifiers": [], "saving_minor": 0}
                          for r in line_rows],
                "tenders": [{"kind": "cash", "amount_minor": 10**8, "reference": ""}], "total_minor": total,
                "tax_minor": sum(r[9] for r in line_rows), "tendered_minor": 10**8, "change_minor": 10**8 - total,
                "created_at": NOW, "receipt_code": f"S{number:08d}", "receipt": RECEIPT}
    text = json.dumps(response, separators=(",", ":"))
    sale = (sale_id, number, "till-1", "bench", "EUR", total, response["tax_minor"], 10**8, 10**8 - total, NOW,
            hashlib.sha256(sale_id.encode()).hexdigest(), text)
    moves = [(s, "floor", -q, "sale", "sale", "sale", sale_id, "bench", "till-1", NOW) for _, s, _, q, _ in priced]
    levels = [(s, -q) for _, s, _, q, _ in priced]
    return sale, line_rows, (sale_id, 1, "cash", 10**8, ""), moves, levels, (uuid.uuid4().hex, NOW, text)


def open_raw(path: Path) -> None:
    """The hub's schema on a second file, less the projection trigger: the baseline writes the upserts itself."""
    migrate(path)
    conn = raw_connect(path)
    conn.execute("DROP TRIGGER stock_moves_project")
    conn.execute("BEGIN")
    add_items(conn, SALE_CATALOG)
    conn.execute("INSERT INTO registers (id, name) VALUES ('till-1', 'Till 1')")
    conn.execute("COMMIT")
    conn.close()


def raw_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode = WAL", "busy_timeout = 5000", "foreign_keys = ON", "synchronous = FULL"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def raw_sale(conn: sqlite3.Connection, rows: tuple[Any, ...]) -> None:
    sale, lines, tender, moves, levels, event = rows
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(RAW_SALE, sale)
    conn.executemany(RAW_LINE, lines)
    conn.execute(RAW_TENDER, tender)
    conn.executemany(RAW_MOVE, moves)
    conn.executemany(RAW_LEVEL, levels)
    conn.execute(RAW_EVENT, event)
    conn.execute("COMMIT")


class Tally:
    """Timed batches of sales on one path: time, what this process wrote, WAL resets, group commits."""

    def __init__(self) -> None:
        self.sales = 0
        self.seconds = 0.0
        self.io = {"write_bytes": 0, "cancelled_write_bytes": 0, "wchar": 0}
        self.resets = 0
        self.commits = 0
        self.rates: list[float] = []

    @property
    def rate(self) -> float:
        return self.sales / self.seconds

    def per_sale(self, key: str) -> float:
        return self.io[key] / self.sales

    @property
    def disk(self) -> float:
        """write_bytes less cancelled_write_bytes: a temporary file deleted before writeback never reaches the disk."""
        return self.per_sale("write_bytes") - self.per_sale("cancelled_write_bytes")


def timed(tally: Tally, db_path: Path, work: list[Callable[[], None]], threads: int,
          count_commits: Callable[[], int] | None = None) -> None:
    """Run the calls (split over threads) from an empty WAL; add the time and this process's I/O to tally.

    count_commits reads a counter of commits; without it each call is one commit.
    """
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    resets0, commits0 = wal_resets(db_path), count_commits() if count_commits else 0
    errors: list[BaseException] = []

    def worker(calls: list[Callable[[], None]]) -> None:
        try:
            for call in calls:
                call()
        except BaseException as exc:  # noqa: BLE001 - raised below, after the other threads finish
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(work[i::threads],)) for i in range(threads)]
    io0 = proc_io()
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    io1 = proc_io()
    if errors:
        raise errors[0]
    tally.sales += len(work)
    tally.seconds += elapsed
    tally.rates.append(len(work) / elapsed)
    for key in tally.io:
        tally.io[key] += io1[key] - io0[key]
    tally.resets += wal_resets(db_path) - resets0
    tally.commits += count_commits() - commits0 if count_commits else len(work)


def bench_sales(work_dir: Path, n: int, threads: int, rounds: int) -> dict[str, Tally]:
    """Raw and domain batches taking turns, so a noisy neighbour or a slow fsync spell hits both alike."""
    os.sync()  # dirty pages of earlier work (a ledger just built, a copied file) would slow our fsyncs
    db, store = open_domain(work_dir / "domain.sqlite3")
    raw_path = work_dir / "raw.sqlite3"
    open_raw(raw_path)
    raw_lock = threading.Lock()
    raw_local = threading.local()

    def raw_conn() -> sqlite3.Connection:
        if not hasattr(raw_local, "conn"):
            raw_local.conn = raw_connect(raw_path)
        return raw_local.conn  # type: ignore[no-any-return]

    def raw_call(rows: tuple[Any, ...]) -> Callable[[], None]:
        def call() -> None:
            with raw_lock:  # one writer at a time, as hub.db does, so SQLite's busy handler never sleeps
                raw_sale(raw_conn(), rows)
        return call

    number = 0

    def raw_batch(batch: list[tuple[str, list[tuple[str, int]]]]) -> list[Callable[[], None]]:
        nonlocal number
        calls = []
        for sale_id, lines in batch:
            number += 1
            calls.append(raw_call(raw_rows(number, sale_id, lines)))
        return calls

    def domain_batch(batch: list[tuple[str, list[tuple[str, int]]]]) -> list[Callable[[], None]]:
        return [functools.partial(domain_sale, store, s, ln) for s, ln in batch]

    per_round = max(1, n // rounds)
    requests = iter(sale_requests(WARMUP_SALES + 2 * per_round * rounds, seed=1))
    warm = [next(requests) for _ in range(WARMUP_SALES)]
    for call in domain_batch(warm) + raw_batch(warm):
        call()
    out = {key: Tally() for key in ("raw_1", "domain_1", "raw_n", "domain_n")}
    for t, suffix in ((1, "1"), (threads, "n")):
        for r in range(rounds):
            batch = [next(requests) for _ in range(per_round)]
            runs = [(out[f"raw_{suffix}"], raw_path, raw_batch(batch), None),
                    (out[f"domain_{suffix}"], db.path, domain_batch(batch), lambda: db.commits)]
            for tally, path, calls, commits in runs[::-1] if r % 2 else runs:
                timed(tally, path, calls, t, commits)
    db.close()
    return out


# -- 3: reads on a big ledger ------------------------------------------------------------------
def moves(n_items: int, n_moves: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """Sales at the floor, deliveries to the backroom, transfers between them: over three years, oldest first."""
    rng = random.Random(seed)
    start = time.mktime((2023, 1, 1, 0, 0, 0, 0, 0, 0))
    step = 3 * 365 * 86400 / max(n_moves, 1)
    at = ""
    for i in range(n_moves):
        if i % 1000 == 0:
            at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(start + i * step))
        item = sku(int(n_items * rng.random() ** SKEW))
        roll = rng.random()
        doc = uuid.UUID(int=rng.getrandbits(128)).hex
        if roll < 0.85:
            yield item, "floor", -rng.randint(1, 3), "sale", "sale", "sale", doc, "bench", "till-1", at
        elif roll < 0.95:
            yield item, "backroom", rng.randint(12, 48), "receive", "receive", "receipt", doc, "bench", "", at
        else:
            where, qty = ("floor", 12) if roll < 0.975 else ("backroom", -12)
            yield item, where, qty, "transfer", "transfer", "transfer", doc, "bench", "", at


def build_ledger(path: Path, n_items: int, n_moves: int) -> None:
    """Items and moves straight into the hub's schema; the stock_moves_project trigger keeps stock_levels."""
    Database(path).open().close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")  # the build only; the benchmark reads through hub.db's pragmas
    conn.execute("PRAGMA cache_size = -1000000")
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    add_items(conn, n_items)
    conn.execute("COMMIT")
    rows = moves(n_items, n_moves, seed=3)
    done = 0
    while done < n_moves:
        take = min(BUILD_CHUNK, n_moves - done)
        conn.execute("BEGIN")
        conn.executemany(RAW_MOVE, (next(rows) for _ in range(take)))
        conn.execute("COMMIT")
        done += take
        print(f"  built {done:,} of {n_moves:,} moves ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    conn.execute("INSERT INTO settings (key, value) VALUES ('bench.ledger', ?)",
                 (json.dumps({"items": n_items, "moves": n_moves}),))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def ledger_db(path: Path, n_items: int, n_moves: int) -> tuple[float, bool]:
    """Build the big ledger at path unless a finished one of that size is there; (build seconds, reused)."""
    if path.exists():
        conn = sqlite3.connect(path)
        try:
            row = conn.execute("SELECT value FROM settings WHERE key = 'bench.ledger'").fetchone()
        except sqlite3.Error:
            row = None
        conn.close()
        if row and json.loads(row[0]) == {"items": n_items, "moves": n_moves}:
            return 0.0, True
        raise SystemExit(f"{path} is not a finished bench ledger of {n_items:,} items and {n_moves:,} moves; "
                         "delete it or give another --db")
    t0 = time.perf_counter()
    build_ledger(path, n_items, n_moves)
    return time.perf_counter() - t0, False


def middle_move(conn: sqlite3.Connection, item: str) -> int:
    """A move id halfway through the item's history in time (each step one indexed lookup)."""
    ends = [conn.execute("SELECT min(id), max(id) FROM stock_moves WHERE sku = ? AND location = ?", (item, loc)).fetchone()
            for loc in ("floor", "backroom")]
    ids = [i for pair in ends for i in pair if i is not None]
    if not ids:
        return 0
    mid = (min(ids) + max(ids)) // 2
    found = [conn.execute("SELECT max(id) FROM stock_moves WHERE sku = ? AND location = ? AND id <= ?",
                          (item, loc, mid)).fetchone()[0] for loc in ("floor", "backroom")]
    return int(max(i for i in found if i is not None))


def time_each(call: Callable[[Any], object], args: list[Any]) -> list[float]:
    for a in args:  # warm the same pages the timed pass reads
        call(a)
    out = []
    for a in args:
        t0 = time.perf_counter_ns()
        call(a)
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def bench_reads(path: Path, n_items: int, n_moves: int, count: int) -> dict[str, dict[str, list[float]]]:
    db = Database(path).open()
    store = Store(db, HUB_ID, "EUR")
    ledger = Ledger(store)
    conn = db.conn
    rng = random.Random(11)
    samples = {
        "uniform": [sku(rng.randrange(n_items)) for _ in range(count)],
        "by activity": [conn.execute("SELECT sku FROM stock_moves WHERE id = ?", (rng.randint(1, n_moves),)).fetchone()[0]
                        for _ in range(count)],
        "busiest item": [sku(0)] * min(count, 50),
    }
    out: dict[str, dict[str, list[float]]] = {}
    for name, skus in samples.items():
        deep = [(s, middle_move(conn, s)) for s in skus]
        # the page after the first, as the history page asks for it: cursor and balance handed on
        nxt = [(s, h["next_before"], h["next_balance"]) for s in skus
               if (h := ledger.history(s, limit=100))["next_before"]]
        out[name] = {
            "raw": time_each(lambda s: conn.execute("SELECT location, on_hand, reserved FROM stock_levels WHERE sku = ?",
                                                    (s,)).fetchall(), skus),
            "stock": time_each(store.stock, skus),
            "history": time_each(ledger.history, skus),
            "history deep": time_each(lambda sb: ledger.history(sb[0], before=sb[1]), deep),
            "floor": time_each(lambda s: ledger.history(s, "floor"), skus),
            "floor deep": time_each(lambda sb: ledger.history(sb[0], "floor", before=sb[1]), deep),
            "next page": time_each(lambda nb: ledger.history(nb[0], before=nb[1], balance=nb[2]), nxt) if nxt else [0.0],
            "moves": [float(conn.execute("SELECT count(*) FROM stock_moves WHERE sku = ?", (s,)).fetchone()[0])
                      for s in skus],
        }
    db.close()
    return out


# -- report ------------------------------------------------------------------------------------
def paired(ours: Tally, base: Tally) -> float:
    """Median over turns of ours / base, each pair run back to back: steadier than the totals on a busy machine."""
    return statistics.median(o / b for o, b in zip(ours.rates, base.rates, strict=True))


def report_sales(sales: dict[str, Tally], n: int, threads: int, rounds: int) -> None:
    r1, d1, rn, dn = sales["raw_1"], sales["domain_1"], sales["raw_n"], sales["domain_n"]
    print(f"\nSales of {LINES} lines, synchronous=FULL: {n:,} per path and thread count, in {rounds} turns "
          "each from an empty WAL (bytes per sale)")
    print(f"{'':<34}{'sales/s':>9}{'turns':>14}{'write_bytes':>13}{'cancelled':>11}{'on disk':>10}{'wchar':>10}"
          f"{'WAL resets':>12}{'sales/commit':>14}")
    for label, r in (("raw sqlite3, 1 thread", r1), ("domain, 1 thread", d1),
                     (f"raw sqlite3, {threads} threads (locked)", rn), (f"domain, {threads} threads", dn)):
        spread = f"{min(r.rates):,.0f}-{max(r.rates):,.0f}"
        print(f"{label:<34}{r.rate:>9,.0f}{spread:>14}{r.per_sale('write_bytes'):>13,.0f}"
              f"{r.per_sale('cancelled_write_bytes'):>11,.0f}{r.disk:>10,.0f}{r.per_sale('wchar'):>10,.0f}"
              f"{r.resets:>12}{r.sales / r.commits:>14.1f}")
    print(f"1 thread: domain {d1.rate / r1.rate:.2f} of raw sales/s (turn by turn, median {paired(d1, r1):.2f}); write_bytes {d1.per_sale('write_bytes') / r1.per_sale('write_bytes'):.2f}x, "
          f"on disk {d1.disk / r1.disk:.2f}x, wchar {d1.per_sale('wchar') / r1.per_sale('wchar'):.2f}x raw")
    print(f"{threads} threads: domain {dn.rate / rn.rate:.2f} of raw {threads} threads (turn by turn, median {paired(dn, rn):.2f}) and {dn.rate / r1.rate:.2f} of raw 1 thread; "
          f"write_bytes {dn.per_sale('write_bytes') / rn.per_sale('write_bytes'):.2f}x, on disk {dn.disk / rn.disk:.2f}x raw")
    print("targets: domain >= 0.5 of raw sales/s; bytes written per sale <= 1.5x raw")


READ_LABELS = {"raw": "raw stock_levels", "stock": "Store.stock", "history": "Ledger.history",
               "history deep": "  before=middle (balance summed)", "floor": "history at floor",
               "floor deep": "  before=middle (balance summed)", "next page": "history, next page (balance carried)"}


def report_reads(reads: dict[str, dict[str, list[float]]], n_items: int, n_moves: int, size_mb: float, how: str) -> None:
    print(f"\nReads on {n_items:,} items and {n_moves:,} moves ({size_mb:,.0f} MB, {how}; warm cache)")
    print(f"{'sample':<16}{'query (ms)':<38}{'p50':>9}{'p99':>9}{'max':>9}   p99 / raw p99")
    for name, found in reads.items():
        counts = found["moves"]
        print(f"{name:<16}({len(counts):,} items; moves per item p50 {statistics.median(counts):,.0f}, "
              f"p99 {pct(counts, 99):,.0f}, max {max(counts):,.0f})")
        raw99 = pct(found["raw"], 99)
        for query, label in READ_LABELS.items():
            t = found[query]
            print(f"{'':<16}{label:<38}{statistics.median(t):>9.3f}{pct(t, 99):>9.3f}{max(t):>9.3f}"
                  f"   {pct(t, 99) / raw99:.1f}x")
    print("target: each under 5 ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sales", type=int, default=2000, help="sales per path and thread count (default 2,000)")
    ap.add_argument("--rounds", type=int, default=10, help="turns the raw and domain paths take (default 10)")
    ap.add_argument("--threads", type=int, default=4, help="threads for the concurrent batches (default 4)")
    ap.add_argument("--items", type=int, default=1_000_000, help="items in the big ledger (default 1,000,000)")
    ap.add_argument("--moves", type=int, default=10_000_000, help="stock moves in the big ledger (default 10,000,000)")
    ap.add_argument("--db", type=Path, help="where to keep the big ledger, to reuse it between runs "
                                            "(default: a temporary file, deleted after the run)")
    ap.add_argument("--queries", type=int, default=2000, help="items sampled for the read timings (default 2,000)")
    ap.add_argument("--dir", type=Path, help="directory for the temporary files (default: the system's temp directory)")
    ap.add_argument("--skip-sales", action="store_true", help="only the reads")
    ap.add_argument("--skip-reads", action="store_true", help="only the sales")
    args = ap.parse_args()
    sales = reads = None
    with tempfile.TemporaryDirectory(prefix="backroom-bench-ledger-", dir=args.dir) as tmp:
        work = Path(tmp)
        if not args.skip_sales:
            sales = bench_sales(work, args.sales, args.threads, args.rounds)
        if not args.skip_reads:
            path = args.db or work / "ledger.sqlite3"
            build_s, reused = ledger_db(path, args.items, args.moves)
            reads = bench_reads(path, args.items, args.moves, args.queries)
            size_mb = path.stat().st_size / 2**20
            how = f"reused {path}" if reused else f"built in {build_s:.0f} s, projection kept by the trigger"

    print(f"\nBackroom ledger benchmarks ({os.cpu_count()} cores, SQLite {sqlite3.sqlite_version}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    if sales:
        report_sales(sales, args.sales, args.threads, args.rounds)
    if reads:
        report_reads(reads, args.items, args.moves, size_mb, how)


if __name__ == "__main__":
    main()
