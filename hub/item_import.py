"""Importing the item master from CSV and exporting it (issue 3 §5, §9); the format is hub.item_csv.

By default an import is one transaction: every row is checked (and written), then the whole
import is rolled back if any row was rejected, so the report is complete and nothing
half-applies. The hub's own writes (sales among them) wait for that transaction, so a big
all-or-nothing import belongs to a closed shop or a quiet hour. With partial=True the good rows
are kept and each chunk commits on its own, so the shop keeps selling while it runs.

The file is read in chunks of CHUNK_ROWS rows and never held whole. New plain items (no
parent_sku, not kits) take a bulk path: validated with the domain rules, checked against the
database with one query per chunk, and written with executemany, each with its 'created' audit
row, and one items.imported event per EVENT_MAX_BYTES of records. New variants and kits, and
every update of an existing item, go through Catalog.create and Catalog.apply (audited, with
their usual item.created / item.changed / price.changed events), after the chunk's plain
items, so a variant or kit may name an item from earlier in the file or the same chunk.
"""

from __future__ import annotations

import csv
import json
import operator
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
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

CHUNK_ROWS = 1000
EVENT_MAX_BYTES = 400_000  # an items.imported event stays well under the 512 KB a batch may carry
MAX_FIRST_ERRORS = 20
_IN_BATCH = 900  # parameters per IN (...) query
_ITEM_SQL = (f"INSERT INTO items (sku, parent_sku, own_price, created_at, updated_at, {', '.join(rules.COLUMNS)}) "
             f"VALUES (?, NULL, 1, ?, ?, {', '.join('?' * len(rules.COLUMNS))})")
_JSON_COLUMNS = frozenset({"variant_axes", "variant_values"})
_COLUMN_VALUES = operator.itemgetter(*rules.COLUMNS)
_AUDIT_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode  # as hub.catalog writes it
_ACTIVE_AT = rules.COLUMNS.index("active")
_JSON_AT = [rules.COLUMNS.index(c) for c in sorted(_JSON_COLUMNS)]


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


class _Discard(Exception):
    """Raised inside the import's transaction to roll it back."""


def import_items(catalog: Catalog, stream: TextIO, actor: str, *, partial: bool = False,
                 report: TextIO | None = None, progress: Callable[[int], None] | None = None) -> ImportResult:
    """Create or update items from CSV; ValidationError when the file itself cannot be read."""
    reader = csv.reader(stream)
    try:
        return _run(catalog, reader, actor, partial, report, progress, getattr(stream, "name", None))
    except UnicodeDecodeError:
        raise ValidationError("the file is not UTF-8 text; save it as 'CSV UTF-8' and import again") from None
    except csv.Error as exc:
        raise ValidationError(f"the file cannot be read as CSV at line {reader.line_num}: {exc}") from None


def _run(catalog: Catalog, reader: Iterator[list[str]], actor: str, partial: bool, report: TextIO | None,
         progress: Callable[[int], None] | None, source: Any) -> ImportResult:
    header = next(reader, None)
    if not header:
        raise ValidationError("the file is empty: its first row must be the header, e.g. sku,name,unit,price")
    run = _Import(catalog, item_csv.check_header(header), actor, source, report)
    db = catalog.db
    if partial:  # each chunk commits on its own: sales and edits go on between chunks
        with db.write() as conn:
            run.begin(conn)
        try:
            for chunk in _chunks(reader, CHUNK_ROWS):
                with db.write() as conn:
                    run.chunk(conn, chunk)
                if progress is not None:
                    progress(run.result.rows)
        finally:
            db.conn.execute("DROP TABLE IF EXISTS temp.import_seen")
        run.result.applied = True
        return run.result
    try:
        with db.write() as conn:
            run.begin(conn)
            for chunk in _chunks(reader, CHUNK_ROWS):
                run.chunk(conn, chunk)
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


def _select_in(conn: sqlite3.Connection, sql: str, keys: Sequence[str]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for i in range(0, len(keys), _IN_BATCH):
        part = keys[i:i + _IN_BATCH]
        out += [tuple(r) for r in conn.execute(sql.format(",".join("?" * len(part))), part)]
    return out


class _Import:
    def __init__(self, catalog: Catalog, columns: list[str], actor: str, source: Any, report: TextIO | None) -> None:
        self.catalog, self.store, self.columns, self.actor = catalog, catalog.store, tuple(columns), actor
        self.result = ImportResult(import_id=uuid.uuid4().hex)
        self.reason = f"import {Path(source).name if isinstance(source, str) else self.result.import_id}"
        self.report = csv.writer(report) if report is not None else None
        if self.report is not None:
            self.report.writerow(["row", "sku", "column", "reason"])
        s = self.store
        self.default_rcn = (s.rcn_region, s.rcn_pattern, s.rcn_check_price_digit) == ("", "", True)
        self.sku_at = columns.index("sku")
        self.rejections: list[tuple[int, str, str, str]] = []

    def begin(self, conn: sqlite3.Connection) -> None:
        # Items this import creates get rowids above this, so a SKU found there is a duplicate row;
        # SKUs of existing items it touched, and of rejected rows, go to a temp table.
        self.first_new = conn.execute("SELECT coalesce(max(rowid), 0) FROM items").fetchone()[0]
        conn.execute("CREATE TEMP TABLE import_seen (sku TEXT PRIMARY KEY) WITHOUT ROWID")
        self.seen_any = False
        self.taxes = sorted(r[0] for r in conn.execute("SELECT id FROM tax_categories"))
        self.groups = {r[0] for r in conn.execute("SELECT id FROM modifier_groups")}

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

    def chunk(self, conn: sqlite3.Connection, rows: list[tuple[int, list[str]]]) -> None:
        parsed: list[tuple[int, ItemRow]] = []
        first_row: dict[str, int] = {}
        for number, cells in rows:
            self.result.rows += 1
            sku = cells[self.sku_at].strip() if len(cells) > self.sku_at else ""
            if sku and sku in first_row:
                self.reject(number, sku, "sku", f"SKU {sku} is already on row {first_row[sku]}; give each SKU once")
                continue
            first_row[sku] = number
            try:
                parsed.append((number, item_csv.parse_cells(self.columns, cells)))
            except RowError as exc:
                self.reject(number, sku, exc.column, exc.message)
        skus = [row.sku for _, row in parsed]
        known = dict(_select_in(conn, "SELECT sku, rowid FROM items WHERE sku IN ({})", skus))
        seen = {r[0] for r in _select_in(conn, "SELECT sku FROM temp.import_seen WHERE sku IN ({})", skus)} \
            if self.seen_any else set()
        plain: list[tuple[int, ItemRow]] = []
        later: list[tuple[int, ItemRow, bool]] = []
        for number, row in parsed:
            rowid = known.get(row.sku)
            if row.sku in seen or (rowid is not None and rowid > self.first_new):
                self.reject(number, row.sku, "sku", f"SKU {row.sku} is on an earlier row of this file; give each SKU once")
            elif rowid is not None or row.parent_sku or row.fields.get("components") or row.fields.get("kit_policy"):
                later.append((number, row, rowid is not None))
            else:
                plain.append((number, row))
        self.create_plain(conn, plain)
        touched = []
        for number, row, exists in later:
            self.one(conn, number, row, exists)
            if exists:
                touched.append(row.sku)
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
    def create_plain(self, conn: sqlite3.Connection, rows: list[tuple[int, ItemRow]]) -> None:
        ready = []
        for number, row in rows:
            try:
                written = [b["code"].strip() for b in row.barcodes or ()]
                ready.append((number, row.sku, self.check_new(row), [self.barcode(b) for b in row.barcodes or ()], written))
            except BackroomError as exc:
                self.reject(number, row.sku, _column(exc), exc.message)
        keys = [b["code"] for *_, bs, _ in ready for b in bs]
        holders = dict(_select_in(conn, "SELECT code, sku FROM barcodes WHERE code IN ({})", keys))
        now = iso(self.store.clock())
        items, barcodes, prices, groups, audits, records = [], [], [], [], [], []
        for number, sku, item, bs, written in ready:
            clash = self.clash(bs, written, holders)
            if clash:
                self.reject(number, sku, "barcodes", clash)
                continue
            holders.update((b["code"], sku) for b in bs)
            values = list(_COLUMN_VALUES(item))
            values[_ACTIVE_AT] = int(values[_ACTIVE_AT])
            for i in _JSON_AT:
                values[i] = _json_column(values[i])
            items.append((sku, now, now, *values))
            barcodes += [(b["code"], sku, b["pack_qty"], b["packaging"]) for b in bs]
            prices += [(sku, t, 1, p) for t, p in item["tiers"].items()]
            prices += [(sku, b["tier"], b["qty"], b["price_minor"]) for b in item["breaks"]]
            groups += [(sku, g, i) for i, g in enumerate(item["modifier_groups"])]
            record = {"sku": sku, "parent_sku": None, **item, "barcodes": bs}
            text = _AUDIT_JSON(record)
            audits.append((sku, text, self.actor, now, self.reason))
            records.append(text)
        conn.executemany(_ITEM_SQL, items)
        conn.executemany("INSERT INTO barcodes (code, sku, pack_qty, packaging) VALUES (?, ?, ?, ?)", barcodes)
        conn.executemany("INSERT INTO item_prices (sku, tier, qty, price_minor) VALUES (?, ?, ?, ?)", prices)
        conn.executemany("INSERT INTO item_modifier_groups (sku, group_id, position) VALUES (?, ?, ?)", groups)
        conn.executemany("INSERT INTO item_changes (sku, field, old, new, actor, at, reason) "
                         "VALUES (?, 'created', NULL, ?, ?, ?, ?)", audits)
        self.announce(conn, records)
        self.result.created += len(items)

    @staticmethod
    def clash(bs: list[dict[str, Any]], written_codes: list[str], holders: dict[str, str]) -> str:
        """Why the new item's barcodes cannot be its own, or ''."""
        mine: set[str] = set()
        for b, written in zip(bs, written_codes, strict=True):
            if b["code"] in holders:
                return f"barcode {written} already belongs to item {holders[b['code']]}; remove it there first"
            if b["code"] in mine:
                return f"barcode {written} is listed twice; give it once"
            mine.add(b["code"])
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

    def barcode(self, b: dict[str, Any]) -> dict[str, Any]:
        """A new barcode checked as Catalog.add_barcode checks it, with its stored form."""
        code = b["code"]
        if not code or len(code) > 64:
            raise RowError("barcodes", f"a barcode is 1-64 characters (got {code!r})")
        packaging, pack_qty = b["packaging"], b["pack_qty"]
        if (packaging, pack_qty) != ("unit", 1):
            packaging, pack_qty = rules.check_packaging(packaging, pack_qty)
        s = self.store
        parsed = codes.parse(code, s.rcn_region, s.rcn_pattern, s.rcn_check_price_digit)
        if parsed.kind not in ("gtin", "internal", "unknown") or (parsed.kind == "gtin" and not parsed.valid):
            why = parsed.error or f"it reads as a {parsed.kind} code, which carries a price, weight or batch, not an item"
            raise UnprocessableError(f"{code.strip()} cannot be an item's barcode: {why}", field="code")
        if not self.default_rcn:
            key = normalize_code(code)
        elif parsed.valid and parsed.gtin and parsed.kind != "internal":
            key = parsed.gtin
        else:
            key = code.strip()
        return {"code": key, "packaging": packaging, "pack_qty": pack_qty, "internal": False}
