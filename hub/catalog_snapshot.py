"""The registers' offline catalog: a compact snapshot streamed in constant memory, and deltas.

A register keeps a copy of what it needs to sell without the hub, priced exactly as the hub
prices (hub.domain.sale.price_lines): codes, names, units, retail prices, tax rates, the active
flag, and each item's tier prices, quantity breaks and modifier groups, in the tablet's IndexedDB.
It loads the snapshot once, in the background, then asks for the changes since the snapshot's
version. The version is the newest row of catalog_versions, which triggers (migrations 0013 and
0017) append to in the same transaction as every write to items, barcodes, tax categories, price
rows and modifiers.

Snapshot wire format (NDJSON, one JSON value per line): first a header object
{format, version, count, taxes: {category: rate_bp}, modifier_groups, store, fields}, then one
array per item in the order of fields: [sku, name, unit, price_minor, tax, active, variants, codes]
where codes is [[code, pack_qty], ...] and variants is 1 for a parent that sells only through its
variants. An item with tier prices, breaks or modifier groups has a ninth element, prices:
{tiers: {tier: unit price}, breaks: {tier: [[qty, price], ...]}, groups: [group id, ...]}; every
other item costs no byte more. modifier_groups is {id: {name, required, max_choices, options:
[[id, name, delta_minor], ...]}} (groups with options, as hub.store.Store.items loads them); store
is the store's pricing settings (pricing_settings). Deltas carry taxes, modifier_groups and store
whole on every page.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hub.db import Database
from hub.errors import BackroomError, ValidationError
from hub.live import Channels

log = logging.getLogger(__name__)

FORMAT = "backroom.catalog.v2"  # v2: price lists, modifier groups and the store's pricing settings
FIELDS = ["sku", "name", "unit", "price_minor", "tax", "active", "variants", "codes", "prices"]  # prices: optional
CHUNK_BYTES = 64 * 1024  # one write to the socket per this much NDJSON
CHANGES_PAGE = 2000  # catalog_versions rows per delta page: a big import arrives in several pages
WATCH_S = 0.25  # how often the hub looks for a new catalog version to announce to the registers

# One item as a JSON array, built by SQLite itself: a million rows never become Python objects.
# The price list is looked for with two index probes and built only for the items that have one.
_PRICES = (
    "CASE WHEN EXISTS (SELECT 1 FROM item_prices p WHERE p.sku = i.sku) "
    "OR EXISTS (SELECT 1 FROM item_modifier_groups m WHERE m.sku = i.sku) THEN json_object("
    "'tiers', json((SELECT json_group_object(p.tier, p.price_minor) FROM item_prices p "
    "WHERE p.sku = i.sku AND p.qty = 1)), "
    "'breaks', json((SELECT json_group_object(t.tier, json((SELECT json_group_array(json_array(q.qty, q.price_minor)) "
    "FROM item_prices q WHERE q.sku = i.sku AND q.tier = t.tier AND q.qty > 1))) "
    "FROM (SELECT DISTINCT p.tier FROM item_prices p WHERE p.sku = i.sku AND p.qty > 1) t)), "
    "'groups', json((SELECT json_group_array(g.group_id) FROM (SELECT m.group_id FROM item_modifier_groups m "
    "WHERE m.sku = i.sku ORDER BY m.position, m.group_id) g))) END"
)


def _item_json(where: str = "") -> str:
    return ("SELECT CASE WHEN prices IS NULL THEN base ELSE json_insert(base, '$[#]', json(prices)) END FROM ("
            "SELECT json_array(i.sku, i.name, i.unit, i.price_minor, i.tax_category, i.active, i.variant_axes <> '[]', "
            "json((SELECT json_group_array(json_array(b.code, b.pack_qty)) FROM barcodes b WHERE b.sku = i.sku))) AS base, "
            f"{_PRICES} AS prices FROM items i {where})")


class SnapshotNeeded(BackroomError):
    """The register's version is not one this hub gave out (a restored or replaced database)."""

    code = "snapshot_needed"
    status = 410


def version(conn: sqlite3.Connection) -> int:
    """The catalog's current version: the newest catalog_versions row."""
    return int(conn.execute("SELECT coalesce(max(version), 0) FROM catalog_versions").fetchone()[0])


def taxes(conn: sqlite3.Connection) -> dict[str, int]:
    return {str(k): int(v) for k, v in conn.execute("SELECT id, rate_bp FROM tax_categories ORDER BY id")}


def modifier_groups(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Every modifier group with options, its options in the order a line lists them (hub.store)."""
    groups: dict[str, dict[str, Any]] = {}
    for gid, name, required, max_choices, oid, oname, delta in conn.execute(
            "SELECT g.id, g.name, g.required, g.max_choices, o.id, o.name, o.delta_minor FROM modifier_groups g "
            "JOIN modifier_options o ON o.group_id = g.id ORDER BY g.id, o.position, o.id"):
        group = groups.setdefault(gid, {"name": name, "required": bool(required), "max_choices": max_choices,
                                        "options": []})
        group["options"].append([oid, oname, delta])
    return groups


def pricing_settings(store: Mapping[str, Any]) -> dict[str, Any]:
    """What a register needs of the store's settings ([store] in the config) to price a cart as the hub."""
    return {"currency": store["currency"], "prices_include_tax": bool(store["prices_include_tax"]),
            "tax_rounding": store["tax_rounding"], "discount_approval_bp": int(store["discount_approval_bp"]),
            "discount_approval_minor": int(store["discount_approval_minor"]),
            "discount_reasons": list(store["discount_reasons"])}


def _whole(conn: sqlite3.Connection, store: Mapping[str, Any]) -> dict[str, Any]:
    """The store-wide part of a snapshot or delta: small, so it always comes whole."""
    return {"taxes": taxes(conn), "modifier_groups": modifier_groups(conn), "store": pricing_settings(store)}


def _reader(path: Path | str) -> sqlite3.Connection:
    """A connection of its own: the snapshot's read transaction must not hold a request thread's."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only = 1")
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def stream_snapshot(path: Path | str, store: Mapping[str, Any], chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The whole snapshot as NDJSON chunks, read in one transaction so the version matches the rows.

    store: the config's [store] section (its pricing settings go in the header)."""
    conn = _reader(path)
    try:
        conn.execute("BEGIN")  # WAL: writers go on; this reader sees one consistent catalog
        header = {"format": FORMAT, "version": version(conn),
                  "count": conn.execute("SELECT count(*) FROM items").fetchone()[0],
                  **_whole(conn, store), "fields": FIELDS}
        buf = [json.dumps(header, separators=(",", ":")), "\n"]
        size = 0
        cur = conn.execute(_item_json())
        while rows := cur.fetchmany(1000):
            for (line,) in rows:
                buf.append(line)
                buf.append("\n")
                size += len(line) + 1
            if size >= chunk_bytes:
                yield "".join(buf).encode()
                buf, size = [], 0
        if buf:
            yield "".join(buf).encode()
        conn.execute("COMMIT")
    finally:
        conn.close()


def parse_since(raw: str | None) -> int:
    if raw is None or not re.fullmatch(r"[0-9]{1,18}", raw):  # ASCII only: '¹' is a digit to str.isdigit
        raise ValidationError("give the version of the register's snapshot as ?since=N (a whole number)", field="since")
    return int(raw)


def changes_since(conn: sqlite3.Connection, since: int, store: Mapping[str, Any],
                  limit: int = CHANGES_PAGE) -> dict[str, Any]:
    """Items changed after version since: {version, more, taxes, modifier_groups, store, fields, upserts, removed}.

    upserts hold each changed item as it is now (with all its codes: the register replaces the
    item's codes, so a removed barcode disappears); removed names SKUs that no longer exist.
    more: true when the page stopped at limit rows; ask again with since=version.
    """
    conn.execute("BEGIN")
    try:
        head = version(conn)
        if since > head:
            raise SnapshotNeeded(f"version {since} is newer than this hub's catalog ({head}); the hub's database was "
                                 "restored or replaced: load the snapshot again", field="since")
        rows = conn.execute("SELECT version, sku FROM catalog_versions WHERE version > ? ORDER BY version LIMIT ?",
                            (since, limit)).fetchall()
        more = len(rows) == limit
        upto = rows[-1][0] if more else head
        skus = sorted({r[1] for r in rows if r[1] is not None})
        upserts: list[Any] = []
        for start in range(0, len(skus), 500):  # SQLite's host-parameter limit, with room to spare
            part = skus[start:start + 500]
            upserts.extend(json.loads(line) for (line,) in conn.execute(
                _item_json(f"WHERE i.sku IN ({','.join('?' * len(part))})"), part))
        found = {u[0] for u in upserts}
        answer = {"version": upto, "since": since, "more": more, **_whole(conn, store), "fields": FIELDS,
                  "upserts": upserts, "removed": [s for s in skus if s not in found]}
    finally:
        conn.execute("COMMIT")
    return answer


class CatalogWatch:
    """Announces a new catalog version on every register's event stream ('catalog' {version}), so a
    tablet fetches the delta at once instead of polling; whoever wrote the change (API, import,
    back-office feed, scheduler), the version in SQLite is what moved."""

    def __init__(self, db: Database, channels: Channels, interval_s: float = WATCH_S) -> None:
        self.db = db
        self.channels = channels
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="catalog-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        conn = self.db.conn
        last = version(conn)
        while not self._stop.wait(self.interval_s):
            try:
                now = version(conn)
                if now != last:
                    last = now
                    for (register_id,) in conn.execute("SELECT id FROM registers").fetchall():
                        self.channels.publish(f"register:{register_id}", "catalog", {"version": now})
            except sqlite3.Error as exc:  # a locked or closing database: the next tick tries again
                log.warning("catalog watch could not read the catalog version: %s", exc)
