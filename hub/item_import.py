"""Importing the item master from CSV (issue 3 §5, §9); the format is hub.item_csv.

By default an import is one transaction: every row is checked (and written), then the whole
import is rolled back if any row was rejected, so the report is complete and nothing
half-applies. The hub's own writes (sales among them) wait for that transaction, so a big
all-or-nothing import belongs to a closed shop or a quiet hour. With partial=True the good rows
are kept and each chunk commits on its own, so the shop keeps selling while it runs.

The file is read in chunks of CHUNK_ROWS rows and never held whole. New plain items (no
parent_sku, not kits) take a bulk path: validated with the domain rules, checked against the
database with one query per chunk, and written a few dozen rows to a statement, each with its
'created' audit row, and one items.imported event per EVENT_MAX_BYTES of records. New variants
and kits, and every update of an existing item, go through Catalog.create and Catalog.apply
(audited, with their usual item.created / item.changed / price.changed events), after the
chunk's plain items, so a variant or kit may name an item from earlier in the file or the same
chunk.

For a file on disk of WORKER_MIN_BYTES or more, worker processes (hub.item_import_worker) check
the rows while this one reads the CSV and writes (a Pi has cores to spare; SQLite uses one): a
worker does everything about a chunk that needs no database, this process everything that does,
chunk by chunk in file order, so the outcome is the same as checking here. Text in memory (an API
request) is always checked here: the hub starts no process for a request.
"""

from __future__ import annotations

import csv
import logging
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any, TextIO

from hub import item_csv
from hub.catalog import Catalog
from hub.clock import iso
from hub.domain import catalog as rules
from hub.errors import BackroomError, ValidationError
from hub.item_csv import ItemRow, RowError
from hub.item_import_worker import (
    _LATER,
    Rejection,
    Rows,
    _Checked,
    _Checks,
    _column,
    _New,
    _Workers,
)
from hub.store import normalize_code

log = logging.getLogger(__name__)

CHUNK_ROWS = 1000
EVENT_MAX_BYTES = 400_000  # an items.imported event stays well under the 512 KB a batch may carry
MAX_FIRST_ERRORS = 20
WORKER_MIN_BYTES = 1 << 20  # about 10,000 rows; below this worker processes are not worth starting
_IN_BATCH = 900  # parameters per IN (...) query
# Rows per INSERT statement: the per-statement work of SQLite and of the sqlite3 module is then
# paid once per 50 rows, which about halves the cost of writing an item (bench/items.py).
_ROWS_PER_INSERT = 50


@dataclass
class ImportResult:
    """What an import did; when applied is False, what its good rows would have done."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    applied: bool = False
    first_errors: list[str] = field(default_factory=list)
    import_id: str = ""


def _not_csv(line: int, reason: object) -> ValidationError:
    return ValidationError(f"the file cannot be read as CSV at line {line}: {reason}")


class _Discard(Exception):
    """Raised inside the import's transaction to roll it back."""


def import_items(catalog: Catalog, stream: TextIO, actor: str, *, partial: bool = False,
                 report: TextIO | None = None, progress: Callable[[int], None] | None = None) -> ImportResult:
    """Create or update items from CSV; ValidationError when the file itself cannot be read."""
    reader = csv.reader(stream)
    try:
        return _run(catalog, stream, reader, actor, partial, report, progress)
    except UnicodeDecodeError:
        raise ValidationError("the file is not UTF-8 text; save it as 'CSV UTF-8' and import again") from None
    except csv.Error as exc:
        raise _not_csv(reader.line_num, exc) from None


def _run(catalog: Catalog, stream: TextIO, reader: Any, actor: str, partial: bool, report: TextIO | None,
         progress: Callable[[int], None] | None) -> ImportResult:
    header = next(reader, None)
    if not header:
        raise ValidationError("the file is empty: its first row must be the header, e.g. sku,name,unit,price")
    run = _Import(catalog, item_csv.check_header(header), actor, getattr(stream, "name", None), report)
    db = catalog.db
    if partial:  # each chunk commits on its own: sales and edits go on between chunks
        with db.write() as conn:
            run.begin(conn)
        try:
            with _checked_chunks(stream, reader, run.checks) as chunks:
                for rows, checked in chunks:
                    with db.write() as conn:
                        run.chunk(conn, rows, checked)
                    if progress is not None:
                        progress(run.result.rows)
        finally:
            db.conn.execute("DROP TABLE IF EXISTS temp.import_seen")
        run.result.applied = True
        return run.result
    try:
        with db.write() as conn:
            run.begin(conn)
            with _checked_chunks(stream, reader, run.checks) as chunks:
                for rows, checked in chunks:
                    run.chunk(conn, rows, checked)
                    if progress is not None:
                        progress(run.result.rows)
            conn.execute("DROP TABLE temp.import_seen")
            if run.result.rejected:
                raise _Discard
            run.result.applied = True
    except _Discard:
        pass
    return run.result


def _chunks(reader: Iterable[list[str]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    """(row number, cells) in lists of size; row 1 is the first row under the header. Blank rows skip."""
    chunk: list[tuple[int, list[str]]] = []
    for number, cells in enumerate(reader, start=1):
        if "".join(cells).strip():
            chunk.append((number, cells))
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


@contextmanager
def _checked_chunks(stream: TextIO, reader: Iterable[list[str]],
                    checks: _Checks) -> Iterator[Iterator[tuple[Rows, _Checked]]]:
    """The rows under the header in chunks, each with its checks: made here, or by workers for a big file on disk."""
    chunks = _chunks(reader, CHUNK_ROWS)
    try:
        big = os.fstat(stream.fileno()).st_size >= WORKER_MIN_BYTES
    except (AttributeError, OSError):  # io.StringIO: an API request's body
        big = False
    workers = None
    if big:
        try:
            workers = _Workers(checks)
        except OSError as exc:  # e.g. out of processes or file descriptors: slower, but it works
            log.warning("could not start an import worker process (%s); checking the rows in this one", exc)
    if workers is None:
        yield ((rows, checks.chunk(rows)) for rows in chunks)
        return
    try:
        yield workers.check(chunks)
    except BaseException:
        workers.close(abort=True)
        raise
    workers.close(abort=False)


# -- the database side ---------------------------------------------------------------------------
def _select_in(conn: sqlite3.Connection, sql: str, keys: Sequence[str]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for i in range(0, len(keys), _IN_BATCH):
        part = keys[i:i + _IN_BATCH]
        out += [tuple(r) for r in conn.execute(sql.format(",".join("?" * len(part))), part)]
    return out


@lru_cache(maxsize=32)
def _insert_sql(head: str, row: str, width: int, consts: int, count: int) -> str:
    """head VALUES and count copies of row, whose {0}..{width-1} are its own parameters (after consts)."""
    return head + " VALUES " + ",".join(
        row.format(*(f"?{consts + r * width + i + 1}" for i in range(width))) for r in range(count))


def _insert(conn: sqlite3.Connection, head: str, row: str, width: int, rows: list[tuple[Any, ...]],
            consts: tuple[Any, ...] = ()) -> None:
    """rows inserted _ROWS_PER_INSERT to a statement; ?1.. in row are consts, the same for every row."""
    whole = len(rows) - len(rows) % _ROWS_PER_INSERT
    if whole:
        conn.executemany(_insert_sql(head, row, width, len(consts), _ROWS_PER_INSERT),
                         [(*consts, *chain.from_iterable(rows[i:i + _ROWS_PER_INSERT]))
                          for i in range(0, whole, _ROWS_PER_INSERT)])
    if whole < len(rows):
        conn.execute(_insert_sql(head, row, width, len(consts), len(rows) - whole),
                     (*consts, *chain.from_iterable(rows[whole:])))


_ITEMS = (f"INSERT INTO items (sku, parent_sku, own_price, created_at, updated_at, {', '.join(rules.COLUMNS)})",
          "({0}, NULL, 1, ?1, ?1, " + ", ".join(f"{{{i + 1}}}" for i in range(len(rules.COLUMNS))) + ")",
          1 + len(rules.COLUMNS))
_BARCODES = ("INSERT INTO barcodes (code, sku, pack_qty, packaging)", "({0}, {1}, {2}, {3})", 4)
_PRICES = ("INSERT INTO item_prices (sku, tier, qty, price_minor)", "({0}, {1}, {2}, {3})", 4)
_GROUPS = ("INSERT INTO item_modifier_groups (sku, group_id, position)", "({0}, {1}, {2})", 3)
_CREATED = ("INSERT INTO item_changes (sku, field, old, new, actor, at, reason)",
            "({0}, 'created', NULL, {1}, ?1, ?2, ?3)", 2)


class _Import:
    def __init__(self, catalog: Catalog, columns: list[str], actor: str, source: Any, report: TextIO | None) -> None:
        self.catalog, self.store, self.columns, self.actor = catalog, catalog.store, tuple(columns), actor
        self.result = ImportResult(import_id=uuid.uuid4().hex)
        self.reason = f"import {Path(source).name if isinstance(source, str) else self.result.import_id}"
        self.report = csv.writer(report) if report is not None else None
        if self.report is not None:
            self.report.writerow(["row", "sku", "column", "reason"])
        self.rejections: list[Rejection] = []

    def begin(self, conn: sqlite3.Connection) -> None:
        # Items this import creates get rowids above this, so a SKU found there is a duplicate row;
        # SKUs of existing items it touched, and of rejected rows, go to a temp table.
        self.first_new = conn.execute("SELECT coalesce(max(rowid), 0) FROM items").fetchone()[0]
        conn.execute("CREATE TEMP TABLE import_seen (sku TEXT PRIMARY KEY) WITHOUT ROWID")
        self.seen_any = False
        s = self.store
        taxes = tuple(sorted(r[0] for r in conn.execute("SELECT id FROM tax_categories")))
        groups = frozenset(r[0] for r in conn.execute("SELECT id FROM modifier_groups"))
        self.checks = _Checks(self.columns, taxes, groups, (s.rcn_region, s.rcn_pattern, s.rcn_check_price_digit))

    def reject(self, number: int, sku: str, column: str, reason: str) -> None:
        self.rejections.append((number, sku, column, reason))

    def flush(self) -> list[str]:
        """Report this chunk's rejections in row order; their SKUs."""
        for number, sku, column, reason in sorted(self.rejections):
            self.result.rejected += 1
            if len(self.result.first_errors) < MAX_FIRST_ERRORS:
                self.result.first_errors.append(f"row {number}" + (f", column {column}" if column else "") + f": {reason}")
            if self.report is not None:
                self.report.writerow([number, sku, column, reason])
        skus = [r[1] for r in self.rejections if r[1]]
        self.rejections = []
        return skus

    def chunk(self, conn: sqlite3.Connection, rows: Rows, checked: _Checked) -> None:
        count, rejected, entries = checked
        self.result.rows += count
        self.rejections += rejected
        skus = [e[1] for e in entries]
        known = dict(_select_in(conn, "SELECT sku, rowid FROM items WHERE sku IN ({})", skus))
        seen = {r[0] for r in _select_in(conn, "SELECT sku FROM temp.import_seen WHERE sku IN ({})", skus)} \
            if self.seen_any else set()
        new: list[tuple[int, str, _New]] = []
        later: list[tuple[int, ItemRow, bool]] = []
        cells: dict[int, list[str]] = {}
        for number, sku, row, item, problem in entries:
            rowid = known.get(sku)
            if sku in seen or (rowid is not None and rowid > self.first_new):
                self.reject(number, sku, "sku", f"SKU {sku} is on an earlier row of this file; give each SKU once")
            elif rowid is not None or (item is None and problem is None):  # an update, a variant or a kit
                if row is None:  # checked by a worker, which kept only the outcome; it reads the same here
                    cells = cells or dict(rows)
                    row = self.checks.read(cells[number])
                later.append((number, row, rowid is not None))
            else:
                if item is _LATER:
                    assert row is not None
                    try:
                        item = self.checks.new_item(row)
                    except BackroomError as exc:
                        problem = (_column(exc), exc.message)
                if problem is not None:
                    self.reject(number, sku, *problem)
                else:
                    new.append((number, sku, item))
        self.create_plain(conn, new)
        touched = []
        for number, item_row, exists in later:
            self.one(conn, number, item_row, exists)
            if exists:
                touched.append(item_row.sku)
        touched += self.flush()
        if touched:
            conn.executemany("INSERT OR IGNORE INTO temp.import_seen (sku) VALUES (?)", ((s,) for s in touched))
            self.seen_any = True

    # -- existing items, variants and kits: one at a time, through the catalog --------------------
    def one(self, conn: sqlite3.Connection, number: int, row: ItemRow, exists: bool) -> None:
        conn.execute("SAVEPOINT import_row")
        try:
            try:
                outcome = self.update(conn, row) if exists else self.create(conn, row)
            except sqlite3.IntegrityError as exc:
                raise BackroomError(f"the database refused the row: {exc}") from None
        except BackroomError as exc:
            conn.execute("ROLLBACK TO import_row")
            conn.execute("RELEASE import_row")
            self.reject(number, row.sku, _column(exc), exc.message)
            return
        conn.execute("RELEASE import_row")
        setattr(self.result, outcome, getattr(self.result, outcome) + 1)

    def update(self, conn: sqlite3.Connection, row: ItemRow) -> str:
        current = self.catalog.read(conn, row.sku)
        assert current is not None  # found by this chunk's query, inside this transaction
        if row.has_parent and row.parent_sku != current["parent_sku"]:
            now = f"a variant of {current['parent_sku']}" if current["parent_sku"] else "not a variant"
            raise RowError("parent_sku", f"item {row.sku} is {now}; an import cannot change that. "
                                         "Make a new item and stop this one")
        wanted = rules.clean_fields(row.wanted(current["tiers"]), creating=False)
        changed = bool(rules.diff(current, wanted)) and bool(
            self.catalog.apply(conn, row.sku, wanted, self.actor, self.reason))
        if row.barcodes is not None:
            changed = self.set_barcodes(conn, row.sku, row.barcodes) or changed
        return "updated" if changed else "unchanged"

    def set_barcodes(self, conn: sqlite3.Connection, sku: str, wanted: list[dict[str, Any]]) -> bool:
        have = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT code, packaging, pack_qty FROM barcodes WHERE sku = ?",
                                                         (sku,))}
        want = {normalize_code(b["code"]): b for b in wanted}
        gone = [c for c, pack in have.items() if c not in want or pack != (want[c]["packaging"], want[c]["pack_qty"])]
        new = [b for c, b in want.items() if c in gone or c not in have]
        for code in gone:
            self.catalog.remove_barcode(conn, sku, code, self.actor)
        for b in new:
            self.catalog.add_barcode(conn, sku, b["code"], self.actor, b["packaging"], b["pack_qty"])
        return bool(gone or new)

    def create(self, conn: sqlite3.Connection, row: ItemRow) -> str:
        raw = row.wanted({})
        if row.parent_sku:  # as the API does: a variant is sold like its parent, named after it
            parent = self.catalog.read(conn, row.parent_sku)
            raw.setdefault("unit", parent["unit"] if parent else "each")
            values = " ".join(str(v) for v in raw.get("variant_values", {}).values())
            raw.setdefault("name", f"{parent['name'] if parent else row.sku} {values}".strip())
        fields = rules.clean_fields(raw, creating=not row.parent_sku)
        if not row.parent_sku and "price_minor" not in fields:
            raise RowError("price", "a new item needs a price")
        self.catalog.create(conn, row.sku, fields, self.actor, self.reason, row.parent_sku, row.barcodes or ())
        return "created"

    # -- new plain items: the bulk path -----------------------------------------------------------
    def create_plain(self, conn: sqlite3.Connection, rows: list[tuple[int, str, _New]]) -> None:
        keys = [b[0] for *_, new in rows for b in new[1]]
        holders = dict(_select_in(conn, "SELECT code, sku FROM barcodes WHERE code IN ({})", keys))
        now = iso(self.store.clock())
        items, barcodes, prices, groups, audits, records = [], [], [], [], [], []
        for number, sku, (item, bs, item_prices, item_groups, written, record) in rows:
            if bs:
                clash = self.clash(bs, written, holders)
                if clash:
                    self.reject(number, sku, "barcodes", clash)
                    continue
                for b in bs:
                    holders[b[0]] = sku
                barcodes += bs
            items.append(item)
            if item_prices:
                prices += item_prices
            if item_groups:
                groups += item_groups
            audits.append((sku, record))
            records.append(record)
        _insert(conn, *_ITEMS, items, (now,))
        _insert(conn, *_BARCODES, barcodes)
        _insert(conn, *_PRICES, prices)
        _insert(conn, *_GROUPS, groups)
        _insert(conn, *_CREATED, audits, (self.actor, now, self.reason))
        self.announce(conn, records)
        self.result.created += len(items)

    @staticmethod
    def clash(bs: list[tuple[str, str, int, str]], written_codes: list[str], holders: dict[str, str]) -> str:
        """Why the new item's barcodes cannot be its own, or ''."""
        mine: set[str] = set()
        for (code, *_), written in zip(bs, written_codes, strict=True):
            if code in holders:
                return f"barcode {written} already belongs to item {holders[code]}; remove it there first"
            if code in mine:
                return f"barcode {written} is listed twice; give it once"
            mine.add(code)
        return ""

    def announce(self, conn: sqlite3.Connection, records: list[str]) -> None:
        """items.imported events carrying the new items' records, each under EVENT_MAX_BYTES."""
        start, size = 0, 0
        for i, text in enumerate(records):
            if i > start and size + len(text) > EVENT_MAX_BYTES:
                self.event(conn, records[start:i])
                start, size = i, 0
            size += len(text) + 1
        if records[start:]:
            self.event(conn, records[start:])

    def event(self, conn: sqlite3.Connection, records: list[str]) -> None:
        # The records are already JSON (the audit rows' text): splice them rather than encode twice.
        data = f'{{"import_id":"{self.result.import_id}","items":[{",".join(records)}]}}'
        self.store.append_event_json(conn, "items.imported", data)
