"""The hub's store: every domain write and its outbox event in one SQLite transaction."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from hub import events, stored_value
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.domain import barcodes, kits, money, pricing, tax
from hub.domain.sale import CatalogItem, Sale, SaleLine
from hub.errors import Conflict, NotFound, UnprocessableError
from hub.outbox import Outbox

Approve = Callable[[sqlite3.Connection, Sale], tuple[Sale, str | None]]
SpendCredit = Callable[[sqlite3.Connection, Sale, str], None]  # (conn, sale, created_at): hub.returns.spend_credit


def canonical_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def line_dict(ln: SaleLine) -> dict[str, Any]:
    return {"line_no": ln.line_no, "sku": ln.sku, "name": ln.name, "unit": ln.unit, "qty": ln.qty,
            "unit_price_minor": ln.unit_price_minor, "total_minor": ln.total_minor,
            "tax_rate_bp": ln.tax_rate_bp, "tax_minor": ln.tax_minor, "modifiers": list(ln.modifiers),
            "saving_minor": ln.saving_minor, "weight_source": ln.weight_source, "weighing_id": ln.weighing_id or None,
            "discount_minor": ln.discount_minor, "discount_reason": ln.discount_reason,
            "cart_discount_minor": ln.cart_discount_minor,
            "price_override": None if ln.override_from_minor is None else {
                "from_minor": ln.override_from_minor, "to_minor": ln.unit_price_minor, "reason": ln.override_reason,
                "by": ln.override_by, "approver": ln.override_approver or None},
            "price_source": ln.price_source}


def normalize_code(code: str, region: str = "", pattern: str = "", check_price_digit: bool = True) -> str:
    """The form a barcode is stored and looked up in: GTINs as 14 digits, others as given.

    A GS1 string is stored as its AI 01 GTIN; with the store's RCN rules a scale label is
    stored with its variable part zeroed, the form lookup() finds it by.
    """
    parsed = barcodes.parse(code, region, pattern, check_price_digit)
    if parsed.valid and parsed.gtin and parsed.kind != "internal":
        return parsed.gtin
    return code.strip()


_RCN_KINDS = ("rcn_price", "rcn_weight", "rcn_count")
_ITEM_BY_CODE = ("SELECT i.sku, i.name, i.unit, i.price_minor, t.rate_bp AS tax_rate_bp, i.active, i.variant_axes, b.pack_qty "
                 "FROM barcodes b JOIN items i ON i.sku = b.sku JOIN tax_categories t ON t.id = i.tax_category "
                 "WHERE b.code IN ({}) LIMIT 1")
_ITEM_BY_SKU = ("SELECT i.sku, i.name, i.unit, i.price_minor, t.rate_bp AS tax_rate_bp, i.active, i.variant_axes, "
                "1 AS pack_qty "
                "FROM items i JOIN tax_categories t ON t.id = i.tax_category WHERE i.sku = ?")


class Store:
    def __init__(self, db: Database, hub_id: str, currency: str, clock: Clock = system_clock,
                 rcn_region: str = "", rcn_pattern: str = "", rcn_check_price_digit: bool = True,
                 negative_stock: str = "allow") -> None:
        self.db = db
        self.hub_id = hub_id
        self.currency = currency
        self.clock = clock
        # How scale labels are read (config store.rcn_*): see hub.domain.barcodes.parse.
        self.rcn_region = rcn_region
        self.rcn_pattern = rcn_pattern
        self.rcn_check_price_digit = rcn_check_price_digit
        self.negative_stock = negative_stock  # 'allow' (the item lands on the exceptions list) or 'block'

    # -- outbox -----------------------------------------------------------------------------
    def append_event(self, conn: sqlite3.Connection, type_: str, data: dict[str, Any]) -> int:
        """Append an event inside the caller's transaction; seq is assigned at commit order."""
        return self.append_event_json(conn, type_, json.dumps(data, separators=(",", ":")))

    def append_event_json(self, conn: sqlite3.Connection, type_: str, data: str) -> int:
        """The same with data already JSON text; v comes from the catalog (hub.events), which refuses unknown types."""
        return events.append_event_json(conn, type_, data, iso(self.clock()))

    # What follows delegates to hub.outbox, which owns the rest of the outbox's SQL.
    def pending_events(self, limit: int) -> list[dict[str, Any]]:
        return [json.loads(env) for _, env in Outbox(self.db, self.hub_id, self.clock).take(0, None, limit, 1 << 40)]

    def ack_events(self, seq: int) -> None:
        Outbox(self.db, self.hub_id, self.clock).ack_through(seq)

    def sync_summary(self) -> dict[str, Any]:
        return Outbox(self.db, self.hub_id, self.clock).summary()

    # -- catalog ----------------------------------------------------------------------------
    def items(self, skus: Iterable[str]) -> dict[str, CatalogItem]:
        """Sellable items by SKU with everything pricing needs: tiers, breaks, modifiers, kit parts."""
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        conn = self.db.conn
        marks = ",".join("?" * len(wanted))
        rows = conn.execute(
            "SELECT i.sku, i.name, i.unit, i.price_minor, t.rate_bp AS tax_rate_bp, i.active, i.kit_policy, i.variant_axes "
            "FROM items i "
            f"JOIN tax_categories t ON t.id = i.tax_category WHERE i.sku IN ({marks})", wanted).fetchall()
        tiers: dict[str, dict[str, int]] = {}
        breaks: dict[str, dict[str, list[pricing.PriceBreak]]] = {}
        for sku, tier, qty, price in conn.execute(
                f"SELECT sku, tier, qty, price_minor FROM item_prices WHERE sku IN ({marks}) ORDER BY qty", wanted):
            if qty == 1:
                tiers.setdefault(sku, {})[tier] = price
            else:
                breaks.setdefault(sku, {}).setdefault(tier, []).append(pricing.PriceBreak(qty, price))
        groups = self._modifier_groups(wanted)
        parts: dict[str, list[tuple[str, int]]] = {}
        for kit, comp, qty in conn.execute(
                f"SELECT kit_sku, component_sku, qty FROM kit_components WHERE kit_sku IN ({marks}) ORDER BY component_sku", wanted):
            parts.setdefault(kit, []).append((comp, qty))
        out = {}
        for r in rows:
            sku = r["sku"]
            prices = None
            if sku in tiers or sku in breaks:
                prices = pricing.PriceList(r["unit"], r["price_minor"], tiers.get(sku, {}),
                                           {t: tuple(b) for t, b in breaks.get(sku, {}).items()})
            out[sku] = CatalogItem(sku, r["name"], r["unit"], r["price_minor"], r["tax_rate_bp"], bool(r["active"]),
                                   prices, groups.get(sku, ()), r["kit_policy"], tuple(parts.get(sku, ())),
                                   tuple(json.loads(r["variant_axes"])))
        return out

    def _modifier_groups(self, skus: list[str]) -> dict[str, tuple[pricing.ModifierGroup, ...]]:
        rows = self.db.conn.execute(
            "SELECT m.sku, g.id, g.name, g.required, g.max_choices, o.id AS oid, o.name AS oname, o.delta_minor "
            "FROM item_modifier_groups m JOIN modifier_groups g ON g.id = m.group_id "
            "JOIN modifier_options o ON o.group_id = g.id "
            f"WHERE m.sku IN ({','.join('?' * len(skus))}) ORDER BY m.sku, m.position, g.id, o.position, o.id", skus).fetchall()
        found: dict[str, dict[str, tuple[sqlite3.Row, list[pricing.ModifierOption]]]] = {}
        for r in rows:
            group = found.setdefault(r["sku"], {}).setdefault(r["id"], (r, []))
            group[1].append(pricing.ModifierOption(r["oid"], r["id"], r["oname"], r["delta_minor"]))
        return {sku: tuple(pricing.ModifierGroup(g["id"], g["name"], bool(g["required"]), g["max_choices"], tuple(opts))
                           for g, opts in by_group.values()) for sku, by_group in found.items()}

    def lookup(self, code: str) -> dict[str, Any]:
        """Resolve a scan to {item, qty, parsed, unit_price_minor, line_price_minor, embedded_price_minor}.

        UnprocessableError when the code is malformed, NotFound when it is valid but unknown.
        qty is in the item's base unit: grams from a weight label or a GS1 310x weight, the
        count of a count label, 1 for a price label on an 'each' item, None when the register
        must ask the scale.
        """
        parsed = barcodes.parse(code, self.rcn_region, self.rcn_pattern, self.rcn_check_price_digit)
        if not parsed.valid:
            raise UnprocessableError(parsed.error or "the code cannot be read", field="code")
        if parsed.kind == "gs1" and not parsed.gtin:
            raise NotFound(f"the GS1 code {code.strip()!r} names no item: it carries no GTIN (AI 01)", field="code")
        row = self._find_item(code, parsed)
        if row is None:
            raise NotFound(f"no item has the code {code.strip()}; add it to the item master or check the label", field="code")
        item = {k: row[k] for k in ("sku", "name", "unit", "price_minor", "tax_rate_bp")}
        item["active"] = bool(row["active"])
        item["variant_axes"] = json.loads(row["variant_axes"])  # a parent: the register offers its variants
        qty = self._scanned_qty(code, parsed, row)
        if parsed.kind == "rcn_price" and parsed.price_minor is not None:
            line_price: int | None = parsed.price_minor  # the scale priced it; the label is the receipt
        else:
            line_price = money.line_total(row["unit"], qty, row["price_minor"]) if qty is not None else None
        return {"item": item, "qty": qty, "parsed": parsed.to_json(),
                # per each, per kg (unit 'g') or per litre (unit 'ml'), at shelf price
                "unit_price_minor": row["price_minor"],
                # shelf-price amount of this scan; None until the scale gives a weight
                "line_price_minor": line_price,
                "embedded_price_minor": parsed.price_minor}

    def _find_item(self, code: str, parsed: barcodes.ParsedCode) -> sqlite3.Row | None:
        """By barcode (every GTIN reading; a scale label by its zeroed GTIN, then its item reference), then by SKU."""
        conn = self.db.conn
        if parsed.kind == "gtin":
            keys = barcodes.gtin_readings(code)
        elif parsed.kind in _RCN_KINDS:
            keys = [k for k in (parsed.gtin, parsed.item_ref) if k]
        elif parsed.kind == "gs1":
            keys = [parsed.gtin or ""]
        else:
            keys = [parsed.item_ref or ""]
        for key in keys:  # in order: a zeroed GTIN beats an item reference that is also a barcode
            row: sqlite3.Row | None = conn.execute(_ITEM_BY_CODE.format("?"), (key,)).fetchone()
            if row is not None:
                return row
        if parsed.kind == "internal" or (parsed.kind in _RCN_KINDS and parsed.item_ref):
            found: sqlite3.Row | None = conn.execute(_ITEM_BY_SKU, (parsed.item_ref,)).fetchone()
            return found
        return None

    @staticmethod
    def _scanned_qty(code: str, parsed: barcodes.ParsedCode, row: sqlite3.Row) -> int | None:
        unit, pack = row["unit"], row["pack_qty"]
        if parsed.weight_g is not None and (unit == "g" or parsed.kind == "rcn_weight"):
            # A GS1 310x on a fixed-measure item is the pack's net weight: it sells as 'each'.
            if unit != "g":
                raise UnprocessableError(
                    f"{code.strip()} carries a weight of {parsed.weight_g} g but item {row['sku']} is sold "
                    f"by {unit}; fix the item's unit or the scale's PLU", field="code")
            return parsed.weight_g
        if parsed.count is not None:
            return parsed.count * pack
        if parsed.kind == "rcn_price":
            if unit == "each":
                return 1
            # A price label on weighed goods: the quantity it stands for at today's unit price.
            if parsed.price_minor is not None and row["price_minor"] > 0:
                return money.div_half_up(parsed.price_minor * 1000, row["price_minor"])
            return None
        # A weighed item scanned by its plain code carries no weight: the register asks the scale.
        return int(pack) if unit == "each" else None

    def stock(self, sku: str) -> list[dict[str, Any]]:
        if not self.db.conn.execute("SELECT 1 FROM items WHERE sku = ?", (sku,)).fetchone():
            raise NotFound(f"no item with SKU {sku}", field="sku")
        rows = self.db.conn.execute(
            "SELECT location, on_hand, reserved FROM stock_levels WHERE sku = ? ORDER BY location", (sku,)
        ).fetchall()
        return [{"location": r["location"], "on_hand": r["on_hand"], "reserved": r["reserved"],
                 "available": r["on_hand"] - r["reserved"]} for r in rows]

    # -- stock ledger -------------------------------------------------------------------------
    _MOVE_SQL = ("INSERT INTO stock_moves (sku, location, qty, kind, reason, doc_type, doc_id, actor, device, at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")

    def move_stock(self, conn: sqlite3.Connection, sku: str, location: str, qty: int, kind: str,
                   actor: str, doc_type: str = "", doc_id: str = "", reason: str = "", device: str = "") -> int:
        """Append a move in the caller's transaction; the stock_moves_project trigger updates on-hand."""
        cur = conn.execute(self._MOVE_SQL, (sku, location, qty, kind, reason or kind, doc_type, doc_id, actor, device,
                                            iso(self.clock())))
        return int(cur.lastrowid or 0)

    # -- sales ------------------------------------------------------------------------------
    def find_sale_replay(self, sale_id: str, request_hash: str) -> dict[str, Any] | None:
        row = self.db.conn.execute("SELECT request_hash, response FROM sales WHERE id = ?", (sale_id,)).fetchone()
        return self._replay(sale_id, row, request_hash)

    @staticmethod
    def _replay(sale_id: str, row: sqlite3.Row | None, request_hash: str) -> dict[str, Any] | None:
        if row is None:
            return None
        if row["request_hash"] != request_hash:
            raise Conflict(
                f"sale {sale_id} was already recorded with a different body; make a new id for a new sale",
                field="id", code="idempotency_conflict",
            )
        result: dict[str, Any] = json.loads(row["response"])
        return result

    @staticmethod
    def _stock_taken(conn: sqlite3.Connection, sale: Sale) -> list[tuple[str, int]]:
        """(sku, qty) a sale takes from stock: a kit sold by its components takes those (hub.domain.kits)."""
        skus = sorted({ln.sku for ln in sale.lines})
        marks = ",".join("?" * len(skus))
        kits_sold = dict(conn.execute(f"SELECT sku, kit_policy FROM items WHERE sku IN ({marks}) AND kit_policy <> ''",
                                      skus).fetchall())
        parts: dict[str, dict[str, int]] = {}
        if kits_sold:
            for kit, comp, qty in conn.execute(
                    f"SELECT kit_sku, component_sku, qty FROM kit_components WHERE kit_sku IN ({','.join('?' * len(kits_sold))})",
                    sorted(kits_sold)):
                parts.setdefault(kit, {})[comp] = qty
        taken: list[tuple[str, int]] = []
        for ln in sale.lines:
            if ln.sku in kits_sold:
                taken.extend(kits.stock_effect(ln.sku, kits_sold[ln.sku], ln.qty, parts.get(ln.sku, {})))
            else:
                taken.append((ln.sku, ln.qty))
        return taken

    def check_negative(self, conn: sqlite3.Connection, taken: list[tuple[str, int]], location: str) -> None:
        """Refuse to take stock below zero where the item (or else the store) blocks negative stock."""
        wanted: dict[str, int] = {}
        for sku, qty in taken:
            wanted[sku] = wanted.get(sku, 0) + qty
        skus = sorted(wanted)
        # where the store allows it, only items that block it themselves need looking at
        only_blocking = "" if self.negative_stock == "block" else " AND i.negative_stock = 'block'"
        rows = conn.execute(
            "SELECT i.sku, i.name, i.negative_stock, coalesce(l.on_hand, 0) AS on_hand FROM items i "
            "LEFT JOIN stock_levels l ON l.sku = i.sku AND l.location = ? "
            f"WHERE i.sku IN ({','.join('?' * len(skus))}){only_blocking}", (location, *skus)).fetchall()
        for row in rows:
            policy = row["negative_stock"] or self.negative_stock
            if policy == "block" and row["on_hand"] - wanted[row["sku"]] < 0:
                raise UnprocessableError(
                    f"only {max(row['on_hand'], 0)} of {row['name']} ({row['sku']}) are on hand at {location} and this "
                    "shop does not sell below zero; take it off the sale, or receive or count it first",
                    field="lines", code="out_of_stock")

    @staticmethod
    def _offline_shift(conn: sqlite3.Connection, register_id: str, offline: dict[str, Any]) -> str | None:
        """The shift an offline sale belongs to: the register's last shift opened by its recorded time (its
        drawer took the cash), even if closed since. A tablet's sale must fall in one of the register's two
        latest shifts (the one it lost the hub in, and one opened elsewhere meanwhile): no backdating."""
        rows = conn.execute("SELECT id, number, opened_at FROM shifts WHERE register_id = ? ORDER BY number DESC",
                            (register_id,)).fetchall()
        found = next((r for r in rows if r["opened_at"] <= offline["shift_from"]), None)
        if offline["tablet"] and (found is None or found["id"] not in [r["id"] for r in rows[:2]]):
            since = f" (shift #{rows[0]['number']} opened at {rows[0]['opened_at']})" if rows else ""
            raise UnprocessableError(
                f"this offline sale was recorded at {offline['recorded_at']}, before this register's current shift"
                f"{since}; a register replays only sales of the shift it lost the hub in. A manager must enter it "
                "as a new sale", field="recorded_at", code="offline_outside_shift")
        return str(found["id"]) if found is not None else None

    def _record_offline(self, conn: sqlite3.Connection, sale: Sale, offline: dict[str, Any],
                        taken: list[tuple[str, int]], location: str) -> None:
        """An offline sale goes through even where the shop blocks negative stock; the items it
        takes below zero are kept with it (offline_sales) and show on the exceptions list, and the
        lines it charged at other than today's prices are kept there too, for review. It is booked
        into the shift open when it was made, not the one open now."""
        conn.execute("UPDATE sales SET shift_id = ? WHERE id = ?",
                     (self._offline_shift(conn, sale.register_id, offline), sale.id))
        oversold = []
        try:
            self.check_negative(conn, taken, location)
        except UnprocessableError:
            wanted: dict[str, int] = {}
            for sku, qty in taken:
                wanted[sku] = wanted.get(sku, 0) + qty
            for sku, qty in sorted(wanted.items()):
                row = conn.execute("SELECT coalesce(on_hand, 0) FROM stock_levels WHERE sku = ? AND location = ?",
                                   (sku, location)).fetchone()
                if (row[0] if row else 0) - qty < 0:
                    oversold.append(sku)
        conn.execute("INSERT INTO offline_sales (sale_id, recorded_at, received_at, oversold, catalog_version, "
                     "today_total_minor, price_differences, sent_by, approvals_missing) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (sale.id, offline["recorded_at"], iso(self.clock()), json.dumps(oversold),
                      offline["catalog_version"], offline["today_total_minor"], json.dumps(offline["differences"]),
                      offline.get("sent_by"), json.dumps(offline.get("approvals_missing", []))))

    @staticmethod
    def _claim_weighings(conn: sqlite3.Connection, sale: Sale) -> None:
        """A weighing pays for one sale line, ever: claimed in the sale's own transaction (hub.weighing)."""
        for ln in sale.lines:
            if ln.weighing_id and conn.execute(
                    "UPDATE weighings SET sale_id = ?, line_no = ? WHERE id = ? AND sale_id IS NULL AND register_id = ?",
                    (sale.id, ln.line_no, ln.weighing_id, sale.register_id)).rowcount != 1:
                raise Conflict(f"line {ln.line_no}: weighing {ln.weighing_id} already paid for another sale line; weigh "
                               "the item again", field=f"lines[{ln.line_no - 1}].weighing_id", code="weighing_used")

    def register_exists(self, register_id: str) -> bool:
        return self.db.conn.execute("SELECT 1 FROM registers WHERE id = ?", (register_id,)).fetchone() is not None

    def record_sale(self, sale: Sale, request_hash: str, actor: str, receipt: dict[str, Any],
                    location: str = "floor", offline: dict[str, Any] | None = None,
                    approve: Approve | None = None,
                    spend_credit: SpendCredit | None = None) -> tuple[dict[str, Any], bool]:
        """Commit sale, lines, tenders, stock moves, its receipt job and the outbox event at once.

        Returns (response, created). The same id and body again returns the first response.
        offline: an offline sale's {recorded_at (its time on the register), tablet, differences,
        catalog_version, today_total_minor, shift_from} (hub.service); it is never refused for stock.
        approve: spends the sale's manager approvals in this transaction (hub.approvals); it returns the
        sale with its overrides' approvers and the discount's approver (None: none was needed).
        spend_credit: spends the returns' exchange credit its `exchange` tenders name; without it they are refused.
        """
        return self.db.transact(lambda conn: self._record_sale(conn, sale, request_hash, actor, receipt, location,
                                                               offline, approve, spend_credit))

    def _record_sale(self, conn: sqlite3.Connection, sale: Sale, request_hash: str, actor: str,
                     receipt: dict[str, Any], location: str, offline: dict[str, Any] | None = None,
                     approve: Approve | None = None,
                     spend_credit: SpendCredit | None = None) -> tuple[dict[str, Any], bool]:
        row = conn.execute("SELECT request_hash, response FROM sales WHERE id = ?", (sale.id,)).fetchone()
        replay = self._replay(sale.id, row, request_hash)
        if replay is not None:
            return replay, False
        discount_approver = None
        if approve is not None:
            sale, discount_approver = approve(conn, sale)
        number = conn.execute("SELECT coalesce(max(number), 0) + 1 FROM sales").fetchone()[0]
        recorded_at = offline["recorded_at"] if offline else None
        created_at = recorded_at or iso(self.clock())
        response = {
            "id": sale.id, "number": number, "register_id": sale.register_id, "currency": self.currency,
            "lines": [line_dict(line) for line in sale.lines],
            "tenders": [{"kind": t.kind, "amount_minor": t.amount_minor, "reference": t.reference}
                        for t in sale.tenders],
            "total_minor": sale.total_minor, "tax_minor": sale.tax_minor,
            "tendered_minor": sale.tendered_minor, "change_minor": sale.change_minor,
            "created_at": created_at, "receipt_code": f"S{number:08d}",
            "taxes": tax.rates_dicts(sale.taxes),
            "cart_discount": None if sale.cart_discount is None else {
                "reason": sale.cart_discount.reason, "percent_bp": sale.cart_discount.percent_bp or None,
                "amount_minor": sum(ln.cart_discount_minor for ln in sale.lines)},
            "discount_minor": sum(ln.discount_minor + ln.cart_discount_minor for ln in sale.lines),
            "discount_approver": discount_approver,
        }
        response["receipt"] = receipt  # the event carries the receipt plan too: one encoding for both
        text = json.dumps(response, separators=(",", ":"))
        conn.execute(
            "INSERT INTO sales (id, number, register_id, actor, currency, total_minor, tax_minor, tendered_minor, "
            "change_minor, created_at, request_hash, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sale.id, number, sale.register_id, actor, self.currency, sale.total_minor, sale.tax_minor,
             sale.tendered_minor, sale.change_minor, created_at, request_hash, text),
        )
        conn.executemany(
            "INSERT INTO sale_lines (sale_id, line_no, sku, name, unit, qty, unit_price_minor, total_minor, tax_rate_bp, "
            "tax_minor, modifiers, saving_minor, weight_source, weighing_id, discount_minor, discount_reason, "
            "cart_discount_minor, discount_approver, override_from_minor, override_reason, override_by, override_approver, "
            "price_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(sale.id, ln.line_no, ln.sku, ln.name, ln.unit, ln.qty, ln.unit_price_minor, ln.total_minor, ln.tax_rate_bp,
              ln.tax_minor, json.dumps(list(ln.modifiers)), ln.saving_minor, ln.weight_source, ln.weighing_id or None,
              ln.discount_minor, ln.discount_reason, ln.cart_discount_minor,
              discount_approver if ln.discount_minor or ln.cart_discount_minor else None,
              ln.override_from_minor, ln.override_reason, ln.override_by or None, ln.override_approver or None,
              ln.price_source)
             for ln in sale.lines],
        )
        self._claim_weighings(conn, sale)
        conn.executemany(
            "INSERT INTO sale_tenders (sale_id, line_no, kind, amount_minor, reference) VALUES (?, ?, ?, ?, ?)",
            [(sale.id, i, t.kind, t.amount_minor, t.reference) for i, t in enumerate(sale.tenders, start=1)],
        )
        stored_value.redeem_tenders(conn, sale.id, sale.tenders, actor, created_at, self.currency)  # gift cards, credit
        if any(t.kind == "exchange" for t in sale.tenders):  # only a recorded return's unspent credit pays
            if spend_credit is None:
                raise UnprocessableError("exchange credit cannot pay here", field="tenders", code="no_exchange_credit")
            spend_credit(conn, sale, created_at)
        taken = self._stock_taken(conn, sale)
        if offline is None:
            self.check_negative(conn, taken, location)
        else:  # the customer left with the goods: record the sale, flag what it oversold
            self._record_offline(conn, sale, offline, taken, location)
        conn.executemany(self._MOVE_SQL, [(sku, location, -qty, "sale", "sale", "sale", sale.id, actor, sale.register_id,
                                           created_at) for sku, qty in taken])
        if receipt.get("job_id"):
            conn.execute("INSERT INTO print_jobs (job_id, sale_id, device_id, register_id, status, created_at) "
                         "VALUES (?, ?, ?, ?, 'queued', ?)",
                         (receipt["job_id"], sale.id, receipt["device_id"], sale.register_id, created_at))
        self.append_event_json(conn, "sale.completed", text)
        return response, True
