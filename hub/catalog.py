"""The item master in SQLite: items, their side tables and barcodes, each write audited with its event.

Reading and the rules live in hub.domain.catalog; change requests and scheduling in
hub.changes; this module reads an item whole and applies a set of field values to it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from hub.clock import iso
from hub.domain import barcodes as codes
from hub.domain import catalog as rules
from hub.domain import kits, pricing
from hub.domain.barcodes import encode
from hub.errors import BackroomError, Conflict, NotFound, UnprocessableError, ValidationError
from hub.store import Store, normalize_code

# Fields whose change is a price fact for the back office (event price.changed); others item.changed.
PRICE_FIELDS = frozenset({"price_minor", "tiers", "breaks", "cost_minor", "tax_category"})
SHELF_FIELDS = frozenset({"price_minor", "tiers", "breaks", "name", "net_content", "net_unit"})
_JSON_COLUMNS = ("variant_axes", "variant_values")


def _column_value(field: str, value: Any) -> Any:
    if field in _JSON_COLUMNS:
        return json.dumps(value, sort_keys=True)
    if field == "active":
        return int(value)
    return value


def display_code(code: str) -> str:
    """A stored GTIN-14 as printed under its bars: 13 digits for an EAN-13 or a UPC-A (0 + 12)."""
    return code[1:] if len(code) == 14 and code.isdigit() and code[0] == "0" else code


def _audit_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


class Catalog:
    """Items as whole records; every write is audited and evented in the caller's transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # -- reading ---------------------------------------------------------------------------------
    def read(self, conn: sqlite3.Connection, sku: str) -> dict[str, Any] | None:
        """The item's editable fields, plus sku, parent_sku and own_price; None when there is none."""
        row = conn.execute("SELECT * FROM items WHERE sku = ?", (sku,)).fetchone()
        if row is None:
            return None
        item: dict[str, Any] = {"sku": row["sku"], "parent_sku": row["parent_sku"], "own_price": bool(row["own_price"])}
        for col in rules.COLUMNS:
            value = row[col]
            item[col] = json.loads(value) if col in _JSON_COLUMNS else bool(value) if col == "active" else value
        item["tiers"] = {r[0]: r[1] for r in conn.execute(
            "SELECT tier, price_minor FROM item_prices WHERE sku = ? AND qty = 1 ORDER BY tier", (sku,))}
        item["breaks"] = sorted(
            ({"tier": r[0], "qty": r[1], "price_minor": r[2]} for r in conn.execute(
                "SELECT tier, qty, price_minor FROM item_prices WHERE sku = ? AND qty > 1", (sku,))),
            key=lambda b: (rules.BREAK_TIERS.index(b["tier"]), b["qty"]))
        item["components"] = [{"sku": r[0], "qty": r[1]} for r in conn.execute(
            "SELECT component_sku, qty FROM kit_components WHERE kit_sku = ? ORDER BY component_sku", (sku,))]
        item["modifier_groups"] = [r[0] for r in conn.execute(
            "SELECT group_id FROM item_modifier_groups WHERE sku = ? ORDER BY position, group_id", (sku,))]
        return item

    def get(self, sku: str) -> dict[str, Any]:
        """The whole item for the API: fields, tax rate, barcodes, variants, kit availability, stock."""
        conn = self.db.conn
        item = self.read(conn, sku)
        if item is None:
            raise NotFound(f"no item with SKU {sku}", field="sku")
        item["tax_rate_bp"] = conn.execute("SELECT rate_bp FROM tax_categories WHERE id = ?",
                                           (item["tax_category"],)).fetchone()[0]
        item["barcodes"] = [dict(r) for r in conn.execute(
            "SELECT code, packaging, pack_qty, internal FROM barcodes WHERE sku = ? ORDER BY packaging DESC, code", (sku,))]
        for b in item["barcodes"]:
            b["internal"] = bool(b["internal"])
            b["display"] = display_code(b["code"])
        item["variants"] = [dict(r) | {"variant_values": json.loads(r["variant_values"])} for r in conn.execute(
            "SELECT sku, name, price_minor, active, variant_values FROM items WHERE parent_sku = ? ORDER BY sku", (sku,))]
        available = self.available([sku] + [c["sku"] for c in item["components"]] + [v["sku"] for v in item["variants"]])
        item["available"] = available.get(sku, 0)
        if item["kit_policy"] == "components":
            item["available"] = kits.kit_available({c["sku"]: c["qty"] for c in item["components"]}, available)
        if item["variants"]:  # a parent's stock is its variants' (reports roll up to the parent)
            item["available"] = sum(available.get(v["sku"], 0) for v in item["variants"])
        item["pending_requests"] = [r[0] for r in conn.execute(
            "SELECT id FROM change_requests WHERE sku = ? AND status IN ('pending', 'scheduled', 'sent_to_back_office') "
            "ORDER BY id", (sku,))]
        return item

    def search(self, q: str = "", cursor: str = "", limit: int = 50, department: str = "",
               include_inactive: bool = False, parent_sku: str = "") -> dict[str, Any]:
        """Items by scanned code, SKU prefix or name words, ordered by SKU; keyset cursor pagination."""
        where, args = ["i.sku > ?"], [cursor]
        q = q.strip()
        if q:
            found = self._by_code(q)
            if found:  # a scanned barcode finds its item, whatever its name says
                where.append(f"i.sku IN ({','.join('?' * len(found))})")
                args.extend(found)
            else:
                esc = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                where.append("(i.sku LIKE ? ESCAPE '\\' OR i.name LIKE ? ESCAPE '\\')")
                args.extend([esc + "%", "%" + esc + "%"])
        if department:
            where.append("i.department = ?")
            args.append(department)
        if parent_sku:
            where.append("i.parent_sku = ?")
            args.append(parent_sku)
        if not include_inactive:
            where.append("i.active = 1")
        rows = self.db.conn.execute(
            "SELECT i.sku, i.name, i.unit, i.price_minor, i.active, i.department, i.category, i.parent_sku, i.kit_policy, "
            "(SELECT code FROM barcodes b WHERE b.sku = i.sku ORDER BY b.packaging DESC LIMIT 1) AS barcode "
            f"FROM items i WHERE {' AND '.join(where)} ORDER BY i.sku LIMIT ?", (*args, limit + 1)).fetchall()
        items = [dict(r) | {"active": bool(r["active"]), "barcode_display": display_code(r["barcode"] or "")}
                 for r in rows[:limit]]
        return {"items": items, "next_cursor": items[-1]["sku"] if len(rows) > limit else None}

    def _by_code(self, q: str) -> list[str]:
        if not any(c.isdigit() for c in q):
            return []
        try:
            found = self.store.lookup(q)
        except BackroomError:
            return []
        return [found["item"]["sku"]]

    def available(self, skus: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        rows = self.db.conn.execute(
            f"SELECT sku, sum(on_hand - reserved) FROM stock_levels WHERE sku IN ({','.join('?' * len(wanted))}) GROUP BY sku",
            wanted).fetchall()
        return {r[0]: r[1] for r in rows}

    # -- checks that need the database ----------------------------------------------------------
    def _check(self, conn: sqlite3.Connection, sku: str, item: Mapping[str, Any]) -> None:
        for field, problem in rules.item_problems(item):
            raise UnprocessableError(f"item {sku}: {problem}", field=field)
        if not conn.execute("SELECT 1 FROM tax_categories WHERE id = ?", (item["tax_category"],)).fetchone():
            known = ", ".join(r[0] for r in conn.execute("SELECT id FROM tax_categories ORDER BY id"))
            raise UnprocessableError(f"tax category {item['tax_category']!r} does not exist; the store has: {known}",
                                     field="tax_category")
        prices = pricing.PriceList(item["unit"], item["price_minor"], item["tiers"], {
            tier: tuple(pricing.PriceBreak(b["qty"], b["price_minor"]) for b in item["breaks"] if b["tier"] == tier)
            for tier in {b["tier"] for b in item["breaks"]}})
        for problem in pricing.price_list_problems(prices):
            raise UnprocessableError(f"item {sku}: {problem}", field="breaks" if item["breaks"] else "tiers")
        for group in item["modifier_groups"]:
            if not conn.execute("SELECT 1 FROM modifier_groups WHERE id = ?", (group,)).fetchone():
                raise UnprocessableError(f"modifier group {group!r} does not exist; create it first", field="modifier_groups")
        if item["kit_policy"]:
            self._check_kit(conn, sku, item)

    def _check_kit(self, conn: sqlite3.Connection, sku: str, item: Mapping[str, Any]) -> None:
        comps = {c["sku"]: c["qty"] for c in item["components"]}
        for comp in comps:
            row = conn.execute("SELECT unit FROM items WHERE sku = ?", (comp,)).fetchone()
            if row is None:
                raise UnprocessableError(f"kit {sku}: component {comp} is not in the item master", field="components")
        others: dict[str, dict[str, int]] = {}
        for kit, comp, qty in conn.execute("SELECT kit_sku, component_sku, qty FROM kit_components WHERE kit_sku <> ?", (sku,)):
            others.setdefault(kit, {})[comp] = qty
        for problem in kits.kit_problems(sku, item["kit_policy"], comps, others):
            raise UnprocessableError(f"kit {sku}: {problem}", field="components")

    def _check_variant(self, conn: sqlite3.Connection, sku: str, parent_sku: str, item: dict[str, Any]) -> None:
        parent = self.read(conn, parent_sku)
        if parent is None:
            raise UnprocessableError(f"parent item {parent_sku} does not exist", field="parent_sku")
        if parent["parent_sku"] or not parent["variant_axes"]:
            raise UnprocessableError(f"item {parent_sku} is not a variant parent: give it variant_axes first",
                                     field="parent_sku")
        if sorted(item["variant_values"]) != sorted(parent["variant_axes"]):
            raise UnprocessableError(f"variant {sku} must give a value for each of {parent_sku}'s axes "
                                     f"{parent['variant_axes']} (got {sorted(item['variant_values'])})", field="variant_values")
        if item["unit"] != parent["unit"]:
            raise UnprocessableError(f"variant {sku} must be sold by {parent['unit']} like its parent", field="unit")
        values = json.dumps(item["variant_values"], sort_keys=True)
        twin = conn.execute("SELECT sku FROM items WHERE parent_sku = ? AND variant_values = ? AND sku <> ?",
                            (parent_sku, values, sku)).fetchone()
        if twin:
            raise Conflict(f"variant {twin[0]} of {parent_sku} already has {item['variant_values']}", field="variant_values")

    # -- writing ---------------------------------------------------------------------------------
    def create(self, conn: sqlite3.Connection, sku: str, fields: Mapping[str, Any], actor: str, reason: str = "",
               parent_sku: str | None = None, barcodes: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
        """Insert a new item (fields already cleaned) with its barcodes; one 'created' audit row."""
        rules.check_sku(sku)
        if conn.execute("SELECT 1 FROM items WHERE sku = ?", (sku,)).fetchone():
            raise Conflict(f"an item with SKU {sku} already exists; edit it instead", field="sku")
        item = rules.with_defaults(fields)
        own_price = True
        if parent_sku:
            parent = self.read(conn, parent_sku)
            if parent is not None:
                item.setdefault("price_minor", parent["price_minor"])
                own_price = "price_minor" in fields
                if "tax_category" not in fields:
                    item["tax_category"] = parent["tax_category"]
            self._check_variant(conn, sku, parent_sku, item)
        elif item["variant_values"]:
            raise UnprocessableError("variant_values need a parent_sku", field="parent_sku")
        if "price_minor" not in item:
            raise ValidationError("a new item needs price_minor", field="price_minor")
        self._check(conn, sku, item)
        now = iso(self.store.clock())
        conn.execute(
            f"INSERT INTO items (sku, parent_sku, own_price, created_at, updated_at, {', '.join(rules.COLUMNS)}) "
            f"VALUES (?, ?, ?, ?, ?, {', '.join('?' * len(rules.COLUMNS))})",
            (sku, parent_sku, int(own_price), now, now, *(_column_value(c, item[c]) for c in rules.COLUMNS)))
        self._write_related(conn, sku, item, rules.RELATED)
        added = [self.add_barcode(conn, sku, b.get("code", ""), actor, b.get("packaging", "unit"), b.get("pack_qty", 1),
                                  audit=False) for b in barcodes]
        record = {"sku": sku, "parent_sku": parent_sku, **item, "barcodes": added}
        conn.execute("INSERT INTO item_changes (sku, field, old, new, actor, at, reason) VALUES (?, 'created', NULL, ?, ?, ?, ?)",
                     (sku, _audit_text(record), actor, now, reason))
        self.store.append_event(conn, "item.created", record)
        return record

    def apply(self, conn: sqlite3.Connection, sku: str, wanted: Mapping[str, Any], actor: str, reason: str = "",
              request_id: int | None = None) -> dict[str, dict[str, Any]]:
        """Apply cleaned field values to an item; returns the changes actually made (old, new)."""
        current = self.read(conn, sku)
        if current is None:
            raise NotFound(f"no item with SKU {sku}", field="sku")
        changes = rules.diff(current, wanted)
        if not changes:
            return {}
        if "unit" in changes and conn.execute("SELECT 1 FROM stock_moves WHERE sku = ? LIMIT 1", (sku,)).fetchone():
            raise UnprocessableError(f"item {sku} has stock history in {current['unit']}; its unit cannot change. "
                                     "Make a new item and stop this one", field="unit")
        if "variant_values" in changes and current["parent_sku"]:
            self._check_variant(conn, sku, current["parent_sku"], {**current, **wanted})
        merged = {**current, **wanted}
        self._check(conn, sku, merged)
        now = iso(self.store.clock())
        cols = [f for f in changes if f in rules.COLUMNS]
        own_price = ", own_price = 1" if "price_minor" in changes and current["parent_sku"] else ""
        if cols or own_price:
            conn.execute(f"UPDATE items SET {''.join(f'{c} = ?, ' for c in cols)}updated_at = ?{own_price} WHERE sku = ?",
                         (*(_column_value(c, changes[c]['new']) for c in cols), now, sku))
        self._write_related(conn, sku, merged, [f for f in changes if f in rules.RELATED])
        conn.executemany("INSERT INTO item_changes (sku, field, old, new, actor, at, reason, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         [(sku, f, _audit_text(c["old"]), _audit_text(c["new"]), actor, now, reason, request_id)
                          for f, c in changes.items()])
        self._emit(conn, sku, changes, actor, reason, request_id)
        if "price_minor" in changes:
            self._follow_parent_price(conn, sku, changes["price_minor"]["new"], actor)
        return changes

    def _emit(self, conn: sqlite3.Connection, sku: str, changes: Mapping[str, Any], actor: str, reason: str,
              request_id: int | None) -> None:
        for kind, part in (("price.changed", {f: c for f, c in changes.items() if f in PRICE_FIELDS}),
                           ("item.changed", {f: c for f, c in changes.items() if f not in PRICE_FIELDS})):
            if part:
                self.store.append_event(conn, kind, {"sku": sku, "changes": part, "actor": actor, "reason": reason,
                                                     "request_id": request_id})
        if SHELF_FIELDS & set(changes):
            conn.execute("INSERT INTO label_queue (sku, kind, reason, queued_at) VALUES (?, 'shelf', ?, ?) "
                         "ON CONFLICT DO NOTHING", (sku, "price change" if PRICE_FIELDS & set(changes) else "label text change",
                                                    iso(self.store.clock())))

    def _follow_parent_price(self, conn: sqlite3.Connection, parent_sku: str, price: int, actor: str) -> None:
        for (child,) in conn.execute("SELECT sku FROM items WHERE parent_sku = ? AND own_price = 0", (parent_sku,)).fetchall():
            old = conn.execute("SELECT price_minor FROM items WHERE sku = ?", (child,)).fetchone()[0]
            if old == price:
                continue
            now = iso(self.store.clock())
            conn.execute("UPDATE items SET price_minor = ?, updated_at = ? WHERE sku = ?", (price, now, child))
            change = {"price_minor": {"old": old, "new": price}}
            reason = f"follows the price of its parent {parent_sku}"
            conn.execute("INSERT INTO item_changes (sku, field, old, new, actor, at, reason) VALUES (?, 'price_minor', ?, ?, ?, ?, ?)",
                         (child, _audit_text(old), _audit_text(price), actor, now, reason))
            self._emit(conn, child, change, actor, reason, None)

    @staticmethod
    def _write_related(conn: sqlite3.Connection, sku: str, item: Mapping[str, Any], fields: Iterable[str]) -> None:
        for field in fields:
            if field in ("tiers", "breaks"):
                conn.execute(f"DELETE FROM item_prices WHERE sku = ? AND qty {'= 1' if field == 'tiers' else '> 1'}", (sku,))
                rows = ([(t, 1, p) for t, p in item["tiers"].items()] if field == "tiers"
                        else [(b["tier"], b["qty"], b["price_minor"]) for b in item["breaks"]])
                conn.executemany("INSERT INTO item_prices (sku, tier, qty, price_minor) VALUES (?, ?, ?, ?)",
                                 [(sku, *r) for r in rows])
            elif field == "components":
                conn.execute("DELETE FROM kit_components WHERE kit_sku = ?", (sku,))
                conn.executemany("INSERT INTO kit_components (kit_sku, component_sku, qty) VALUES (?, ?, ?)",
                                 [(sku, c["sku"], c["qty"]) for c in item["components"]])
            elif field == "modifier_groups":
                conn.execute("DELETE FROM item_modifier_groups WHERE sku = ?", (sku,))
                conn.executemany("INSERT INTO item_modifier_groups (sku, group_id, position) VALUES (?, ?, ?)",
                                 [(sku, g, i) for i, g in enumerate(item["modifier_groups"])])

    # -- barcodes --------------------------------------------------------------------------------
    def add_barcode(self, conn: sqlite3.Connection, sku: str, code: Any, actor: str, packaging: Any = "unit",
                    pack_qty: Any = 1, internal: bool = False, audit: bool = True, reason: str = "") -> dict[str, Any]:
        """Give an item a barcode; Conflict naming the item that already holds it."""
        if not isinstance(code, str) or not code.strip() or len(code) > 64:
            raise ValidationError(f"barcode must be the code's text, 1-64 characters (got {code!r})", field="code")
        packaging, pack_qty = rules.check_packaging(packaging, pack_qty)
        store = self.store
        parsed = codes.parse(code, store.rcn_region, store.rcn_pattern, store.rcn_check_price_digit)
        if not parsed.valid and parsed.kind != "internal":
            raise UnprocessableError(f"{code.strip()} cannot be an item's barcode: {parsed.error}", field="code")
        if parsed.kind == "gs1" and not parsed.gtin:
            raise UnprocessableError(f"{code.strip()} is a GS1 string without a GTIN (AI 01); give the item's GTIN",
                                     field="code")
        # a scale label is kept with its variable part zeroed: the form lookup() finds it by
        key = normalize_code(code, store.rcn_region, store.rcn_pattern, store.rcn_check_price_digit)
        holder = conn.execute("SELECT b.sku, i.name FROM barcodes b JOIN items i ON i.sku = b.sku WHERE b.code = ?",
                              (key,)).fetchone()
        if holder:
            raise Conflict(f"barcode {code.strip()} already belongs to item {holder[0]} ({holder[1]}); "
                           "remove it there first", field="code")
        conn.execute("INSERT INTO barcodes (code, sku, pack_qty, packaging, internal) VALUES (?, ?, ?, ?, ?)",
                     (key, sku, pack_qty, packaging, int(internal)))
        record = {"code": key, "packaging": packaging, "pack_qty": pack_qty, "internal": internal}
        if audit:
            self._barcode_change(conn, sku, None, record, actor, reason)
        return record

    def generate_barcode(self, conn: sqlite3.Connection, sku: str, actor: str, prefix: str,
                         packaging: Any = "unit", pack_qty: Any = 1) -> dict[str, Any]:
        """A new in-store EAN-13 in the store's GS1 internal range, free in this store, for an item without one."""
        problem = encode.internal_prefix_problem(prefix, self.store.rcn_region, self.store.rcn_pattern)
        if problem:
            raise UnprocessableError(f"store.internal_prefix: {problem}", field="internal_prefix")
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (f"internal_barcode_next:{prefix}",)).fetchone()
        start = int(row[0]) if row else 1

        def taken(code: str) -> bool:
            return conn.execute("SELECT 1 FROM barcodes WHERE code = ?", (normalize_code(code),)).fetchone() is not None

        try:
            code, number = encode.next_internal_code(prefix, start, taken)
        except ValueError as exc:
            raise UnprocessableError(f"no internal barcode is free: {exc}; choose another store.internal_prefix",
                                     field="internal_prefix") from None
        conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                     (f"internal_barcode_next:{prefix}", str(number + 1)))
        return self.add_barcode(conn, sku, code, actor, packaging, pack_qty, internal=True)

    def remove_barcode(self, conn: sqlite3.Connection, sku: str, code: str, actor: str, reason: str = "") -> None:
        store = self.store
        key = normalize_code(code, store.rcn_region, store.rcn_pattern, store.rcn_check_price_digit)
        row = conn.execute("SELECT code, packaging, pack_qty, internal FROM barcodes WHERE code = ? AND sku = ?",
                           (key, sku)).fetchone()
        if row is None:
            raise NotFound(f"item {sku} has no barcode {code}", field="code")
        conn.execute("DELETE FROM barcodes WHERE code = ?", (key,))
        self._barcode_change(conn, sku, dict(row) | {"internal": bool(row["internal"])}, None, actor, reason)

    def _barcode_change(self, conn: sqlite3.Connection, sku: str, old: Any, new: Any, actor: str, reason: str = "") -> None:
        now = iso(self.store.clock())
        conn.execute("INSERT INTO item_changes (sku, field, old, new, actor, at, reason) VALUES (?, 'barcode', ?, ?, ?, ?, ?)",
                     (sku, _audit_text(old), _audit_text(new), actor, now, reason))
        self.store.append_event(conn, "item.changed", {"sku": sku, "changes": {"barcode": {"old": old, "new": new}},
                                                       "actor": actor, "reason": reason, "request_id": None})

    # -- store-wide settings: tax categories and modifier groups (owner only; audited) ------------
    def put_tax_category(self, conn: sqlite3.Connection, id_: str, name: str, rate_bp: int, actor: str,
                         reason: str = "") -> dict[str, Any]:
        id_ = rules.CHECKS["tax_category"]("id", id_)
        new = {"id": id_, "name": rules.CHECKS["name"]("name", name), "rate_bp": rules.check_rate(rate_bp)}
        row = conn.execute("SELECT id, name, rate_bp FROM tax_categories WHERE id = ?", (id_,)).fetchone()
        old = dict(row) if row else None
        if old == new:
            return new
        conn.execute("INSERT INTO tax_categories (id, name, rate_bp) VALUES (?, ?, ?) "
                     "ON CONFLICT (id) DO UPDATE SET name = excluded.name, rate_bp = excluded.rate_bp",
                     (id_, new["name"], new["rate_bp"]))
        self._setting_change(conn, f"tax_category:{id_}", old, new, actor, reason)
        return new

    def tax_categories(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.conn.execute("SELECT id, name, rate_bp FROM tax_categories ORDER BY id")]

    def put_modifier_group(self, conn: sqlite3.Connection, body: Any, actor: str) -> dict[str, Any]:
        """Create or replace a modifier group with its options: {id, name, required, max_choices, options}."""
        group = rules.check_modifier_group(body)
        old = self.modifier_group(conn, group["id"])
        if old == group:
            return group
        conn.execute("INSERT INTO modifier_groups (id, name, required, max_choices) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT (id) DO UPDATE SET name = excluded.name, required = excluded.required, "
                     "max_choices = excluded.max_choices",
                     (group["id"], group["name"], int(group["required"]), group["max_choices"]))
        kept = [o["id"] for o in group["options"]]
        conn.execute(f"DELETE FROM modifier_options WHERE group_id = ? AND id NOT IN ({','.join('?' * len(kept))})",
                     (group["id"], *kept))
        for pos, opt in enumerate(group["options"]):
            holder = conn.execute("SELECT group_id FROM modifier_options WHERE id = ?", (opt["id"],)).fetchone()
            if holder and holder[0] != group["id"]:
                raise Conflict(f"option id {opt['id']} already belongs to group {holder[0]}", field="options")
            conn.execute("INSERT INTO modifier_options (id, group_id, name, delta_minor, position) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (id) DO UPDATE SET name = excluded.name, delta_minor = excluded.delta_minor, "
                         "position = excluded.position", (opt["id"], group["id"], opt["name"], opt["delta_minor"], pos))
        self._setting_change(conn, f"modifier_group:{group['id']}", old, group, actor, "")
        return group

    def modifier_group(self, conn: sqlite3.Connection, group_id: str) -> dict[str, Any] | None:
        row = conn.execute("SELECT id, name, required, max_choices FROM modifier_groups WHERE id = ?", (group_id,)).fetchone()
        if row is None:
            return None
        options = [dict(r) for r in conn.execute(
            "SELECT id, name, delta_minor FROM modifier_options WHERE group_id = ? ORDER BY position, id", (group_id,))]
        return {"id": row["id"], "name": row["name"], "required": bool(row["required"]),
                "max_choices": row["max_choices"], "options": options}

    def modifier_groups(self) -> list[dict[str, Any]]:
        conn = self.db.conn
        return [g for (gid,) in conn.execute("SELECT id FROM modifier_groups ORDER BY id").fetchall()
                if (g := self.modifier_group(conn, gid)) is not None]

    def _setting_change(self, conn: sqlite3.Connection, subject: str, old: Any, new: Any, actor: str, reason: str) -> None:
        conn.execute("INSERT INTO catalog_changes (subject, old, new, actor, at, reason) VALUES (?, ?, ?, ?, ?, ?)",
                     (subject, _audit_text(old), _audit_text(new), actor, iso(self.store.clock()), reason))
        self.store.append_event(conn, "catalog.setting_changed", {"subject": subject, "old": old, "new": new,
                                                                 "actor": actor, "reason": reason})

    # -- history ---------------------------------------------------------------------------------
    def history(self, sku: str, limit: int = 200) -> list[dict[str, Any]]:
        if not self.db.conn.execute("SELECT 1 FROM items WHERE sku = ?", (sku,)).fetchone():
            raise NotFound(f"no item with SKU {sku}", field="sku")
        rows = self.db.conn.execute(
            "SELECT id, field, old, new, actor, at, reason, request_id FROM item_changes WHERE sku = ? "
            "ORDER BY id DESC LIMIT ?", (sku, limit)).fetchall()
        return [dict(r) | {"old": json.loads(r["old"]) if r["old"] is not None else None,
                           "new": json.loads(r["new"]) if r["new"] is not None else None} for r in rows]
