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

For a file on disk of WORKER_MIN_BYTES or more, WORKERS worker processes check the rows while
this one reads the CSV and writes (a Pi has cores to spare; SQLite uses one): a worker does
everything about a chunk that needs no database, this process everything that does, chunk by
chunk in file order, so the outcome is the same as checking here. Text in memory (an API
request) is always checked here: the hub starts no process for a request.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import logging
import operator
import os
import pickle
import queue
import sqlite3
import subprocess
import sys
import threading
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any, TextIO

from hub import item_csv
from hub.catalog import Catalog
from hub.clock import iso
from hub.domain import barcodes as codes
from hub.domain import catalog as rules
from hub.errors import BackroomError, UnprocessableError, ValidationError
from hub.item_csv import ItemRow, RowError
from hub.store import normalize_code

log = logging.getLogger(__name__)

CHUNK_ROWS = 1000
EVENT_MAX_BYTES = 400_000  # an items.imported event stays well under the 512 KB a batch may carry
MAX_FIRST_ERRORS = 20
WORKER_MIN_BYTES = 1 << 20  # about 10,000 rows; below this worker processes are not worth starting
# Worker processes for a big file, taking chunks in turn. One keeps pace with the writer on two
# cores (bench/items.py); a second only takes CPU from it there, and may pay on four.
WORKERS = 1
WORKER_AHEAD = 2  # chunks sent to each worker and not yet back: bounds the memory of both sides
WORKER_PIPE_BYTES = 1 << 20  # each way: a chunk fits, so neither side waits for the other to read
WORKER_EXIT_S = 10.0
_IN_BATCH = 900  # parameters per IN (...) query
# Rows per INSERT statement: the per-statement work of SQLite and of the sqlite3 module is then
# paid once per 50 rows, which about halves the cost of writing an item (bench/items.py).
_ROWS_PER_INSERT = 50
_JSON_COLUMNS = frozenset({"variant_axes", "variant_values"})
_COLUMN_VALUES = operator.itemgetter(*rules.COLUMNS)
_AUDIT_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode  # as hub.catalog writes it
_ACTIVE_AT = rules.COLUMNS.index("active")
_JSON_AT = [rules.COLUMNS.index(c) for c in sorted(_JSON_COLUMNS)]
# A worker runs with this process's import path, as multiprocessing's would.
_WORKER_MAIN = "import sys; sys.path[:] = sys.argv[3:]; from hub.item_import import _work; _work()"
_RECORD_KEYS = tuple((k, f'"{k}":') for k in sorted({"sku", "parent_sku", "barcodes", *rules.FIELDS}))

Rejection = tuple[int, str, str, str]  # row number, SKU, column, reason


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


def _json_column(value: Any) -> str:
    """As hub.catalog stores variant_axes and variant_values."""
    return "[]" if value == [] else "{}" if value == {} else json.dumps(value, sort_keys=True)


def _column(exc: BackroomError) -> str:
    return exc.column if isinstance(exc, RowError) else item_csv.column_of(exc.field) if exc.field else ""


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


Rows = list[tuple[int, list[str]]]


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


# -- checks that need no database: run here or in the worker ----------------------------------
# A new plain item ready to write: its rows for items, barcodes, item_prices and
# item_modifier_groups (each SKU first), its barcodes as the file gives them (for messages) and its
# audit record. A plain tuple, as it is pickled for every row the worker reads.
_New = tuple[tuple[Any, ...], list[tuple[str, str, int, str]], list[tuple[str, str, int, int]],
             list[tuple[str, str, int]], list[str], str]

# A row read: number, SKU, the row (None for a plain row checked by a worker), and for a plain
# row the new item or why it cannot be one; or _LATER, when only the writer knows if it is new.
Entry = tuple[int, str, ItemRow | None, Any, tuple[str, str] | None]
_LATER: Any = object()
_Checked = tuple[int, list[Rejection], list[Entry]]  # rows in the chunk, rejections, entries


class _Checks:
    """Everything about a chunk of rows that needs no database: reading, the domain rules, the rows to write."""

    def __init__(self, columns: tuple[str, ...], taxes: tuple[str, ...], groups: frozenset[str],
                 rcn: tuple[str, str, bool]) -> None:
        self.columns, self.taxes, self.groups, self.rcn = columns, taxes, groups, rcn
        self.read = item_csv.row_reader(columns)
        self.sku_at = columns.index("sku")
        self.default_rcn = rcn == ("", "", True)

    def __reduce__(self) -> tuple[type[_Checks], tuple[Any, ...]]:  # to the worker: it builds its own
        return _Checks, (self.columns, self.taxes, self.groups, self.rcn)

    def chunk(self, rows: Rows, worker: bool = False) -> _Checked:
        """Here, a plain row is checked as a new item only once it is known to be one. A worker
        checks them all, and leaves their rows out of its (pickled) answer: the writer reads such
        a row again if its SKU turns out to exist."""
        rejected: list[Rejection] = []
        entries: list[Entry] = []
        first_row: dict[str, int] = {}
        for number, cells in rows:
            sku = cells[self.sku_at].strip() if len(cells) > self.sku_at else ""
            if sku and sku in first_row:
                rejected.append((number, sku, "sku", f"SKU {sku} is already on row {first_row[sku]}; give each SKU once"))
                continue
            first_row[sku] = number
            try:
                row = self.read(cells)
            except RowError as exc:
                rejected.append((number, sku, exc.column, exc.message))
                continue
            if row.parent_sku or row.fields.get("components") or row.fields.get("kit_policy"):
                entries.append((number, row.sku, row, None, None))
                continue
            if not worker:
                entries.append((number, row.sku, row, _LATER, None))
                continue
            try:
                entries.append((number, row.sku, None, self.new_item(row), None))
            except BackroomError as exc:
                entries.append((number, row.sku, None, None, (_column(exc), exc.message)))
        return len(rows), rejected, entries

    def new_item(self, row: ItemRow) -> _New:
        """A new plain item's rows and audit record, checked as Catalog.create checks it."""
        written = [b["code"].strip() for b in row.barcodes or ()]
        item = self.check_new(row)
        bs = [self.barcode(b) for b in row.barcodes or ()]
        sku = row.sku
        values = list(_COLUMN_VALUES(item))
        values[_ACTIVE_AT] = int(values[_ACTIVE_AT])
        for i in _JSON_AT:
            values[i] = _json_column(values[i])
        prices = [(sku, t, 1, p) for t, p in item["tiers"].items()]
        prices += [(sku, b["tier"], b["qty"], b["price_minor"]) for b in item["breaks"]]
        return ((sku, *values), [(code, sku, qty, packaging) for code, packaging, qty in bs], prices,
                [(sku, g, i) for i, g in enumerate(item["modifier_groups"])], written, _record_json(sku, item, bs))

    def check_new(self, row: ItemRow) -> dict[str, Any]:
        """A new plain item's whole record, checked as Catalog.create checks it."""
        fields = rules.clean_fields(row.wanted({}), creating=True)
        if "price_minor" not in fields:
            raise RowError("price", "a new item needs a price")
        item = rules.with_defaults(fields)
        for name, problem in rules.item_problems(item):
            raise ValidationError(problem, field=name)
        if item["variant_values"]:
            raise RowError("parent_sku", "variant_values need a parent_sku")
        if item["tax_category"] not in self.taxes:
            raise RowError("tax_category", f"tax category {item['tax_category']!r} does not exist; "
                                           f"the store has: {', '.join(self.taxes)}")
        for group in item["modifier_groups"]:
            if group not in self.groups:
                raise RowError("modifier_groups", f"modifier group {group!r} does not exist; create it first")
        return item

    def barcode(self, b: dict[str, Any]) -> tuple[str, str, int]:
        """A new barcode checked as Catalog.add_barcode checks it: its stored form, packaging and pack size."""
        code = b["code"]
        if not code or len(code) > 64:
            raise RowError("barcodes", f"a barcode is 1-64 characters (got {code!r})")
        packaging, pack_qty = b["packaging"], b["pack_qty"]
        if (packaging, pack_qty) != ("unit", 1):
            packaging, pack_qty = rules.check_packaging(packaging, pack_qty)
        key = _gtin_key(code) if self.default_rcn else None
        if key is not None:
            return key, packaging, pack_qty
        parsed = codes.parse(code, *self.rcn)
        if parsed.kind not in ("gtin", "internal", "unknown") or (parsed.kind == "gtin" and not parsed.valid):
            why = parsed.error or f"it reads as a {parsed.kind} code, which carries a price, weight or batch, not an item"
            raise UnprocessableError(f"{code.strip()} cannot be an item's barcode: {why}", field="code")
        if not self.default_rcn:
            key = normalize_code(code)
        elif parsed.valid and parsed.gtin and parsed.kind != "internal":
            key = parsed.gtin
        else:
            key = code.strip()
        return key, packaging, pack_qty


def _gtin_key(code: str) -> str | None:
    """A GTIN-12, -13 or -14 with a right check digit as its GTIN-14, as codes.parse reads it without
    scale-label rules; None for anything else. Most codes in a file are these, and parse is slow."""
    if 12 <= len(code) <= 14 and code.isdigit() and code.isascii():
        digits = code.zfill(14).encode()
        # GS1 mod 10: weights 3, 1, 3, ... from the right of the 13 digits before the check digit
        total = 3 * sum(digits[0:13:2]) + sum(digits[1:13:2]) - 27 * ord("0")
        if (10 - total % 10) % 10 == digits[13] - ord("0"):
            return digits.decode()
    return None


def _record_json(sku: str, item: dict[str, Any], bs: list[tuple[str, str, int]]) -> str:
    """_AUDIT_JSON of the new item's record, {"sku", "parent_sku": None, **item, "barcodes"}, built
    from the known keys: about half the general encoder's time, and the same text."""
    record = {**item, "sku": sku, "parent_sku": None}
    if len(record) != len(_RECORD_KEYS) - 1:  # not an item with exactly the fields it can have
        return _AUDIT_JSON({**record, "barcodes": [
            {"code": c, "packaging": p, "pack_qty": q, "internal": False} for c, p, q in bs]})
    parts = []
    for key, head in _RECORD_KEYS:
        if key == "barcodes":
            parts.append(head + "[" + ",".join(
                f'{{"code":{encode_basestring_ascii(c)},"internal":false,"pack_qty":{int.__repr__(q)},'
                f'"packaging":{encode_basestring_ascii(p)}}}' for c, p, q in bs) + "]")
            continue
        value = record[key]
        kind = type(value)
        if kind is str:
            parts.append(head + encode_basestring_ascii(value))
        elif kind is int:
            parts.append(head + int.__repr__(value))
        elif kind is bool:
            parts.append(head + ("true" if value else "false"))
        elif value is None:
            parts.append(head + "null")
        elif kind is list and not value:
            parts.append(head + "[]")
        elif kind is dict and not value:
            parts.append(head + "{}")
        else:
            parts.append(head + _AUDIT_JSON(value))
    return "{" + ",".join(parts) + "}"


# -- the worker processes ------------------------------------------------------------------------
class _Workers:
    """Processes that check chunks (_Checks.chunk) while this one writes; chunk n goes to worker
    n % WORKERS, and its answer is taken in the same order.

    Each has two pipes of pickles: chunks down, answers up. A worker drains its pipe down in a
    thread, so this process never waits on a write while the worker waits on its own; at most
    WORKER_AHEAD chunks per worker are out at a time. Workers have their own process group, so
    Ctrl-C reaches only this process, which then ends them; so does any error on either side.
    """

    def __init__(self, checks: _Checks) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.pipes: list[tuple[io.BufferedWriter, io.BufferedReader]] = []
        try:
            for _ in range(WORKERS):
                self.start(checks)
        except BaseException:
            self.close(abort=True)
            raise

    def start(self, checks: _Checks) -> None:
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        try:
            self.procs.append(subprocess.Popen(
                [sys.executable, "-c", _WORKER_MAIN, str(down_r), str(up_w), *sys.path],
                pass_fds=(down_r, up_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, process_group=0))
        except BaseException:
            os.close(down_w)
            os.close(up_r)
            raise
        finally:
            os.close(down_r)
            os.close(up_w)
        for fd in (down_w, up_r):
            with suppress(OSError):  # the Linux default of 64 KB works too, only slower
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, WORKER_PIPE_BYTES)
        self.pipes.append((open(down_w, "wb"), open(up_r, "rb")))  # noqa: SIM115 (closed in close())
        self.send(len(self.pipes) - 1, checks)

    def send(self, worker: int, message: Any) -> None:
        down = self.pipes[worker][0]
        try:
            pickle.dump(message, down, protocol=pickle.HIGHEST_PROTOCOL)
            down.flush()
        except BrokenPipeError:
            raise self.gone(worker) from None

    def check(self, chunks: Iterator[Rows]) -> Iterator[tuple[Rows, _Checked]]:
        """(rows, checked) for each chunk. The file is read ahead of the answers, so an error in
        it waits until the chunks before it are back: the same rows are imported as here."""
        out: deque[tuple[int, Rows]] = deque()
        sent, more, unreadable = 0, True, None
        while True:
            while more and len(out) < WORKER_AHEAD * len(self.pipes):
                try:
                    rows = next(chunks)
                except StopIteration:
                    more = False
                    break
                except (csv.Error, UnicodeDecodeError) as exc:
                    more, unreadable = False, exc
                    break
                self.send(sent % len(self.pipes), rows)
                out.append((sent % len(self.pipes), rows))
                sent += 1
            if not out:
                if unreadable is not None:
                    raise unreadable
                return
            worker, rows = out.popleft()
            yield rows, self.answer(worker)

    def answer(self, worker: int) -> _Checked:
        try:
            failed, payload = pickle.load(self.pipes[worker][1])
        except (EOFError, OSError, pickle.UnpicklingError):
            raise self.gone(worker) from None
        if failed:  # a bug: a row that cannot be imported is a rejection, not this
            raise RuntimeError(f"an import worker process failed:\n{payload}")
        return payload  # type: ignore[no-any-return]

    def gone(self, worker: int) -> BackroomError:
        return BackroomError(f"an import worker process ended unexpectedly (exit status {self.exit_status(worker)}); "
                             "nothing more was imported. Import the file again")

    def exit_status(self, worker: int) -> int | None:
        try:
            return self.procs[worker].wait(WORKER_EXIT_S)
        except subprocess.TimeoutExpired:
            return None

    def close(self, abort: bool) -> None:
        """End the workers (abort: at once), wait for them, close the pipes."""
        try:
            for worker, proc in enumerate(self.procs):
                if abort:  # before the pipes close, so that a worker does not see them close and complain
                    proc.terminate()
                else:
                    with suppress(BackroomError):  # it has ended already: the wait below says how
                        self.send(worker, None)
            for worker, proc in enumerate(self.procs):
                if self.exit_status(worker) is None:
                    proc.kill()
                    proc.wait()
        finally:
            for down, up in self.pipes:
                with suppress(BrokenPipeError):
                    down.close()
                up.close()


def _work() -> None:
    """A worker process's main (see _Workers): argv holds the fds of its two pipes."""
    down, up = open(int(sys.argv[1]), "rb"), open(int(sys.argv[2]), "wb")  # noqa: SIM115
    try:
        checks: _Checks = pickle.load(down)
        chunks: queue.SimpleQueue[Rows | None] = queue.SimpleQueue()
        threading.Thread(target=_pull, args=(down, chunks), name="import-pull", daemon=True).start()
        while (rows := chunks.get()) is not None:
            try:
                answer: tuple[bool, Any] = (False, checks.chunk(rows, worker=True))
            except Exception:  # noqa: BLE001 - it goes to the importing process, which raises it
                answer = (True, traceback.format_exc())
            pickle.dump(answer, up, protocol=pickle.HIGHEST_PROTOCOL)
            up.flush()
    except (BrokenPipeError, EOFError):
        raise SystemExit(1) from None  # the importing process is gone


def _pull(down: io.BufferedReader, chunks: queue.SimpleQueue[Rows | None]) -> None:
    while True:
        try:
            rows = pickle.load(down)
        except (EOFError, OSError):
            rows = None  # the importing process is gone
        chunks.put(rows)
        if rows is None:
            return
