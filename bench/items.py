"""Item master benchmarks: bulk CSV import and scan lookup on a big catalog, against raw SQLite.

    .venv/bin/python bench/items.py [--items 1000000] [--lookups 20000]

1. Import: N generated items, one barcode each, through import_items into a fresh hub database,
   against sqlite-utils insert_all of the same rows into a bare table in the same run (and, for
   information, plain executemany in one transaction). Peak resident memory during the import:
   this process's VmHWM (reset before the import where the kernel allows; VmRSS also sampled)
   plus the peak of the worker process that checks the rows of a big file (hub.item_import_worker).
2. Lookup: Store.lookup (parse + find) of random existing barcodes on that catalog, against a
   raw SELECT ... WHERE code = ? on the same database.

Not run by CI; no test asserts a time. Absolute numbers on a shared machine mean little, ratios more.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlite_utils  # noqa: E402

from hub.catalog import Catalog  # noqa: E402
from hub.db import Database  # noqa: E402
from hub.domain.barcodes import with_check_digit  # noqa: E402
from hub.item_csv import format_money  # noqa: E402
from hub.item_import import import_items  # noqa: E402
from hub.store import Store  # noqa: E402

DEPARTMENTS = ("Grocery", "Drinks", "Household", "Bakery", "Deli", "Garden")
HEADER = ("sku", "name", "unit", "price", "cost", "tax_category", "department", "category", "supplier",
          "supplier_sku", "case_pack", "active", "barcodes")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def code_of(i: int) -> str:
    return with_check_digit(f"40{i:010d}")  # GTIN-13 under a German prefix: no scale-label ranges


def items(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {"sku": f"B{i:07d}", "name": f"Item {i} {DEPARTMENTS[i % 6].lower()}", "unit": "g" if i % 10 == 0 else "each",
               "price_minor": 99 + i % 5000, "cost_minor": 50 + i % 2500, "tax_category": "std" if i % 3 else "zero",
               "department": DEPARTMENTS[i % 6], "category": f"cat-{i % 40}", "supplier": f"Supplier {i % 25}",
               "supplier_sku": f"S{i}", "case_pack": 1 + i % 12, "active": 1, "barcode": code_of(i)}


def write_csv(path: Path, n: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for it in items(n):
            w.writerow([it["sku"], it["name"], it["unit"], format_money(it["price_minor"]), format_money(it["cost_minor"]),
                        it["tax_category"], it["department"], it["category"], it["supplier"], it["supplier_sku"],
                        it["case_pack"], "true", it["barcode"]])


def proc_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.peak_kb = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.05):
            self.peak_kb = max(self.peak_kb, proc_kb("VmRSS"))


def reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux >= 4.0)
        return True
    except OSError:
        return False


def bench_import(work: Path, csv_path: Path, n: int) -> tuple[float, float, float, float, bool, Store]:
    db = Database(work / "hub.sqlite3").open()
    store = Store(db, "bench-hub", "EUR")
    catalog = Catalog(store)
    with db.write() as conn:
        catalog.put_tax_category(conn, "std", "Standard", 2000, "bench")
    reset = reset_hwm()
    sampler = RssSampler()
    sampler.start()
    t0 = time.perf_counter()
    with csv_path.open(newline="", encoding="utf-8") as f:
        result = import_items(catalog, f, "bench")
    elapsed = time.perf_counter() - t0
    sampler.halt.set()
    sampler.join()
    if not result.applied or result.created != n:
        raise SystemExit(f"the import did not create every item: {result}")
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # 0 when read in-process
    return n / elapsed, proc_kb("VmHWM") / 1024, sampler.peak_kb / 1024, worker_mb, reset, store


def bench_sqlite_utils(work: Path, n: int) -> float:
    db = sqlite_utils.Database(work / "bare-sqlite-utils.sqlite3")
    t0 = time.perf_counter()
    db["items"].insert_all(items(n))
    elapsed = time.perf_counter() - t0
    db.close()
    return n / elapsed


def bench_executemany(work: Path, n: int) -> float:
    conn = sqlite3.connect(work / "bare-executemany.sqlite3", isolation_level=None)
    cols = list(next(items(1)))
    conn.execute(f"CREATE TABLE items ({', '.join(cols)})")
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO items VALUES ({', '.join('?' * len(cols))})", (tuple(it.values()) for it in items(n)))
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return n / elapsed


def bench_lookup(store: Store, n: int, count: int) -> tuple[list[float], list[float]]:
    rng = random.Random(7)
    codes = [code_of(rng.randrange(n)) for _ in range(count)]
    conn = store.db.conn
    raw, ours = [], []
    for code in codes:  # warm both paths the same way
        conn.execute("SELECT i.sku, i.name, i.price_minor FROM barcodes b JOIN items i ON i.sku = b.sku "
                     "WHERE b.code = ?", ("0" + code,)).fetchone()
    for code in codes:
        t0 = time.perf_counter_ns()
        row = conn.execute("SELECT i.sku, i.name, i.price_minor FROM barcodes b JOIN items i ON i.sku = b.sku "
                           "WHERE b.code = ?", ("0" + code,)).fetchone()
        raw.append((time.perf_counter_ns() - t0) / 1e6)
        assert row is not None
    for code in codes:
        t0 = time.perf_counter_ns()
        store.lookup(code)
        ours.append((time.perf_counter_ns() - t0) / 1e6)
    return ours, raw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=1_000_000, help="items to import (default 1,000,000)")
    ap.add_argument("--lookups", type=int, default=20_000, help="barcodes to look up (default 20,000)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="backroom-bench-items-") as tmp:
        work = Path(tmp)
        csv_path = work / "items.csv"
        write_csv(csv_path, args.items)
        size_mb = csv_path.stat().st_size / 2**20
        rate, hwm, sampled, worker_mb, reset, store = bench_import(work, csv_path, args.items)
        utils_rate = bench_sqlite_utils(work, args.items)
        many_rate = bench_executemany(work, args.items)
        ours, raw = bench_lookup(store, args.items, args.lookups)
        store.db.close()

        print(f"\nBackroom item benchmarks ({args.items:,} items, CSV {size_mb:.0f} MB, {os.cpu_count()} cores, "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
        print(f"{'import_items (rows/s)':<44}{rate:>12,.0f}   sqlite-utils insert_all {utils_rate:,.0f}/s"
              f"   ratio {rate / utils_rate:.2f}")
        print(f"{'':<44}{'':>12}   (executemany, one transaction: {many_rate:,.0f}/s, ratio {rate / many_rate:.2f})")
        hwm_note = "VmHWM during the import" if reset else "VmHWM of the whole run (could not reset it)"
        print(f"{'peak resident memory (MB)':<44}{hwm + worker_mb:>12.1f}   {hwm_note} {hwm:.1f} + worker {worker_mb:.1f};"
              f" sampled VmRSS max {sampled:.1f}")
        print(f"{'scan lookup, Store.lookup (ms)':<44}{'p50':>6}{statistics.median(ours):>8.3f}   "
              f"p99 {pct(ours, 99):.3f}   raw SELECT p50 {statistics.median(raw):.3f} / p99 {pct(raw, 99):.3f}"
              f"   ratio (p99) {pct(ours, 99) / pct(raw, 99):.1f}x")
        print("targets: import >= 0.5 of sqlite-utils; peak memory < 200 MB; lookup p99 < 0.5 ms")


if __name__ == "__main__":
    main()
