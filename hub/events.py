"""The event catalog: every event type the hub writes to its outbox, one per domain fact.

One source of truth for the schema version `v` of each type, whether it is telemetry (the only
events a hub may drop, under disk pressure), what it means and its payload fields. The outbox
takes `v` from here and refuses a type that is not here; `python -m hub.events > docs/events.md`
writes the reference page the sync protocol (docs/sync-protocol.md) points at.

Raising a type's `v` is for a change that breaks readers (a field removed, renamed or retyped);
adding a field is not one, since receivers ignore fields they do not know.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "boolean": (bool,), "object": (dict,), "array": (list,), "any": (object,),
}


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # a JSON type: string, integer, boolean, object, array or any
    meaning: str
    required: bool = True  # present in every event of the type
    nullable: bool = False  # may be null


@dataclass(frozen=True)
class EventType:
    type: str  # <subject>.<verb in the past>
    meaning: str
    fields: tuple[Field, ...]
    v: int = 1
    telemetry: bool = False  # droppable under disk pressure; never money or stock
    more: str = ""  # non-empty: the payload also carries the fields this names (documented elsewhere)


def _f(name: str, type_: str, meaning: str, *, required: bool = True, nullable: bool = False) -> Field:
    return Field(name, type_, meaning, required, nullable)


BY = _f("by", "string", "who did it: a user name, `token:<id>` or `device:<id>`")
ACTOR = _f("actor", "string", "who did it (for a scheduled change: who asked and who approved)")
SKU = _f("sku", "string", "the item's SKU")
CHANGES = _f("changes", "object", "field name -> {old, new}, only the fields that changed")
MOVE_IDS = _f("move_ids", "array", "the stock-ledger move ids this wrote")
ITEM_CHANGE = (SKU, CHANGES, ACTOR, _f("reason", "string", "why, as given ('' when none)"),
               _f("request_id", "integer", "the change request this applies", nullable=True))

CATALOG: tuple[EventType, ...] = (
    # -- money -------------------------------------------------------------------------------------
    EventType("sale.completed", "a sale was paid and committed; the register's answer is the same document", (
        _f("id", "string", "the sale id (a UUID the register made)"),
        _f("number", "integer", "the hub's running sale number"),
        _f("receipt_code", "string", "the code printed on the receipt, `S` + 8 digits"),
        _f("register_id", "string", "the register that sold"),
        _f("currency", "string", "ISO 4217 currency of every amount"),
        _f("lines", "array", "{line_no, sku, name, unit, qty, unit_price_minor, total_minor, tax_rate_bp, "
                             "tax_minor, modifiers, saving_minor, weight_source, weighing_id, discount_minor, "
                             "discount_reason, cart_discount_minor, price_override: null or {from_minor, to_minor, "
                             "reason, by, approver}, price_source: null or label (an each item sold at the "
                             "price its scale label carries)}"),
        _f("tenders", "array", "{kind, amount_minor, reference}: kind cash, card (reference: the terminal's), "
                               "gift_card or store_credit (reference: the account code), exchange (reference: "
                               "the return id)"),
        _f("total_minor", "integer", "what the customer owes"),
        _f("tax_minor", "integer", "tax included in the total"),
        _f("tendered_minor", "integer", "what the customer handed over"),
        _f("change_minor", "integer", "change given back"),
        _f("created_at", "string", "when it was committed (RFC 3339 UTC)"),
        _f("receipt", "object", "the receipt print plan: job id and printer, or why none"),
        _f("taxes", "array", "the tax summary: {rate_bp, net_minor, tax_minor, gross_minor} per rate", required=False),
        _f("discount_minor", "integer", "every line and cart discount together", required=False),
        _f("cart_discount", "object", "{reason, percent_bp, amount_minor} of a cart discount", required=False,
           nullable=True),
        _f("discount_approver", "string", "the manager who approved (or gave) the discounts", required=False,
           nullable=True))),
    EventType("cart.voided", "a cashier voided a whole cart before payment: kept for loss prevention", (
        _f("id", "string", "the void's id (a UUID the register made)"), _f("register_id", "string", "the register"),
        _f("lines", "array", "{sku, name, unit, qty, total_minor}: what was in the cart"),
        _f("total_minor", "integer", "the cart's total as last priced, or null", nullable=True),
        _f("reason", "string", "why, as the cashier gave it ('' when none)"), BY,
        _f("voided_at", "string", "when (RFC 3339 UTC)"))),
    EventType("sale.voided", "a committed sale was voided: its stock came back and its tenders were reversed", (
        _f("id", "string", "the sale id"), _f("number", "integer", "the sale number"),
        _f("reason", "string", "why, as the manager gave it"), BY,
        _f("tenders_reversed", "array", "{line_no, kind, amount_minor, reference} paid back"), MOVE_IDS)),
    EventType("sale.exchanged", "a sale was paid with a return's exchange credit, in the sale's transaction", (
        _f("id", "string", "the replacement sale id"), _f("return_id", "string", "the return"),
        _f("return_number", "integer", "the return's number"),
        _f("original_sale_id", "string", "the sale the goods came from", nullable=True),
        _f("credit_minor", "integer", "how much of the return's credit this sale spent"),
        _f("refunds", "array", "{kind, amount_minor, reference}: the credit this sale did not use, refunded now",
           required=False))),
    EventType("return.credit_refunded", "an exchange was called off: a return's unspent exchange credit was refunded", (
        _f("id", "string", "the return id"), _f("number", "integer", "the return's number"),
        _f("sale_id", "string", "the original sale; null without a receipt", nullable=True),
        _f("refunds", "array", "{kind, amount_minor, reference}: paid back by the usual rules"), BY)),
    EventType("return.recorded", "goods came back, with or without a receipt, and were refunded", (
        _f("id", "string", "the return id (a UUID the register made)"), _f("number", "integer", "running return number"),
        _f("receipt_code", "string", "`R` + 8 digits"),
        _f("sale_id", "string", "the original sale; null without a receipt", nullable=True),
        _f("register_id", "string", "the register"),
        _f("lines", "array", "{line_no, sale_line_no, sku, qty, amount_minor, tax_minor, reason, condition, "
                             "location, note}"),
        _f("refunds", "array", "{kind, amount_minor, reference}; kind `exchange_credit` is held for the "
                               "replacement sale (sale.exchanged)"),
        _f("total_minor", "integer", "refunded in all"), _f("tax_minor", "integer", "tax in the refund"),
        _f("approved_by", "string", "the manager who approved it, when one had to", nullable=True),
        _f("exchange_sale_id", "string", "always null: sale.exchanged names the replacement sale", nullable=True),
        _f("created_at", "string", "when it was committed"))),
    EventType("stored_value.moved", "a gift card or store credit was issued, topped up, redeemed or refunded to", (
        _f("code", "string", "the account's code, as printed on the card or credit slip"),
        _f("account_kind", "string", "`gift_card` or `store_credit`"),
        _f("movement", "string", "`issue`, `top_up`, `redeem` (a sale tender), `refund` (a return) or `void`"),
        _f("amount_minor", "integer", "signed: + credit, - debit"),
        _f("balance_minor", "integer", "the balance after it, never below zero"), ACTOR,
        _f("sale_id", "string", "the sale it paid or the voided sale", nullable=True),
        _f("return_id", "string", "the return it refunds", nullable=True),
        _f("note", "string", "free text ('' when none)"))),
    # -- stock -------------------------------------------------------------------------------------
    EventType("stock.adjusted", "on-hand was corrected with a reason (damage, theft, found, ...)", (
        _f("id", "string", "the document id"), SKU, _f("location", "string", "where"),
        _f("qty", "integer", "signed change, in the item's base unit"), _f("reason", "string", "reason code"),
        _f("note", "string", "free text"), BY, _f("move_id", "integer", "the ledger move"))),
    EventType("stock.transferred", "stock moved between two locations of the shop", (
        _f("id", "string", "the document id"), SKU, _f("from", "string", "source location"),
        _f("to", "string", "target location"), _f("qty", "integer", "how much moved"),
        _f("reason", "string", "reason code"), BY, MOVE_IDS)),
    EventType("stock.disposed", "a review-bin item's fate: restocked, refurbished, marked down or written off", (
        _f("id", "string", "the document id"), SKU, _f("from", "string", "the location it left"),
        _f("qty", "integer", "how much"), _f("action", "string", "restock, refurbish, markdown or write_off"),
        _f("markdown_sku", "string", "the markdown item, for a markdown", nullable=True), BY, MOVE_IDS)),
    EventType("stock.received", "a delivery was received into stock, against a purchase order or not", (
        _f("id", "string", "the receipt id"), _f("po_id", "string", "the purchase order", nullable=True),
        _f("po_status", "string", "the order's status after this delivery", nullable=True),
        _f("location", "string", "where it went"), _f("supplier", "string", "the supplier"),
        _f("note", "string", "free text"), BY,
        _f("lines", "array", "what was received, per line with its move"),
        _f("po_lines", "array", "the order's lines after this delivery (open and over quantities)"),
        _f("warnings", "array", "what the receiver was told (over-delivery, unordered items)"))),
    EventType("stock.reserved", "stock was held for a customer (an order to collect)", (
        _f("id", "string", "the reservation"), SKU, _f("location", "string", "where it is held"),
        _f("qty", "integer", "how much"), _f("ref", "string", "the customer's reference"), BY)),
    EventType("stock.reservation_released", "a reservation ended: collected, cancelled or expired", (
        _f("id", "string", "the reservation"), _f("outcome", "string", "collected, cancelled or expired"), BY)),
    EventType("stock.opening_loaded", "the demo catalog's opening stock was loaded", (
        _f("items", "integer", "how many items"), _f("location", "string", "where"))),
    EventType("purchase_order.created", "an order to a supplier was made", (
        _f("id", "string", "the order id"), _f("supplier", "string", "the supplier"),
        _f("status", "string", "open"), _f("note", "string", "free text"),
        _f("created_by", "string", "who made it"), _f("created_at", "string", "when"),
        _f("lines", "array", "{line_no, sku, name, qty_ordered, qty_received, open_qty, over_qty, cost_minor}"),
        _f("receipts", "array", "receipt ids against it (none yet)"))),
    # -- counting ----------------------------------------------------------------------------------
    EventType("count.opened", "a stock count was opened", (
        _f("id", "integer", "the count session"), _f("location", "string", "where"),
        _f("scope_kind", "string", "location, aisle, category, daily or items"),
        _f("scope", "any", "what it covers: an aisle, a category or a list of SKUs", nullable=True),
        _f("blind", "boolean", "counters do not see the expected quantity"), BY)),
    EventType("count.line_counted", "an item was counted in a session", (
        _f("session_id", "integer", "the count session"), SKU, _f("location", "string", "where"),
        _f("counted", "integer", "the quantity counted (total after this scan or entry)"),
        _f("mode", "string", "set (the shelf holds counted) or add (more were found)"),
        _f("ledger_position", "integer", "the last ledger move when counted: later sales are not overwritten"),
        BY)),
    EventType("count.line_decided", "a manager approved, rejected or asked to recount a counted line", (
        _f("session_id", "integer", "the count session"), SKU, _f("location", "string", "where"),
        _f("action", "string", "approve, reject or recount"), BY,
        _f("move_id", "integer", "the variance move posted, if any", nullable=True))),
    EventType("count.variances_posted", "count variances were posted to the stock ledger", (
        _f("session_id", "integer", "the count session"), BY,
        _f("moves", "array", "{sku, location, qty, move_id}"))),
    EventType("count.closed", "a count session closed: every line was decided", (
        _f("id", "integer", "the count session"), _f("location", "string", "where"),
        _f("scope_kind", "string", "its kind"), BY, _f("at", "string", "when it closed"),
        _f("accuracy", "object", "per ABC class: lines counted and lines that matched the ledger"))),
    EventType("counts.classes_computed", "items were reclassified A/B/C for cycle counting", (
        _f("A", "integer", "items in class A"), _f("B", "integer", "items in class B"),
        _f("C", "integer", "items in class C"))),
    # -- the item master ---------------------------------------------------------------------------
    EventType("item.created", "an item was added to the item master", (
        SKU, _f("parent_sku", "string", "the variant parent", nullable=True), _f("name", "string", "its name"),
        _f("unit", "string", "each, g or ml"), _f("price_minor", "integer", "retail price per unit (per kg for g)"),
        _f("tax_category", "string", "tax category id"),
        _f("barcodes", "array", "{code, packaging, pack_qty, internal}")),
        more="every other field of the item master, as in [items.md](items.md)"),
    EventType("item.changed", "item fields other than prices changed (barcodes included)", ITEM_CHANGE),
    EventType("price.changed", "an item's price fields changed (price, tiers, breaks, cost, tax category)", ITEM_CHANGE),
    EventType("item.change_requested", "a change was asked for that waits for approval or for its time", (
        _f("id", "integer", "the change request"), SKU, CHANGES,
        _f("status", "string", "pending, scheduled, or sent_to_back_office (a back-office field: the back office "
                               "answers with a change, or not)"),
        _f("effective_at", "string", "when a scheduled change applies", nullable=True), BY)),
    EventType("item.change_decided", "a change request was decided: approved, rejected, withdrawn, answered by the back office, or failed when due", (
        _f("id", "integer", "the change request"), SKU,
        _f("status", "string", "scheduled (approved; applied at once when due), applied, rejected, cancelled or failed"), BY, _f("note", "string", "why"))),
    EventType("item.change_refused", "a change pulled from the back office could not apply; pulling went on", (
        _f("change_id", "string", "the back office's change id"), _f("type", "string", "its change type"),
        _f("sku", "any", "the SKU it named, as sent", nullable=True), _f("code", "string", "error code"),
        _f("message", "string", "why, for a person"), _f("field", "string", "the field at fault", nullable=True))),
    EventType("items.imported", "items were created by a CSV import (one event per up to 400 KB of items)", (
        _f("import_id", "string", "the import run"),
        _f("items", "array", "the new items, each as in item.created"))),
    EventType("catalog.setting_changed", "a store-wide setting changed: tax category, modifier group, "
              "reason code or location", (
        _f("subject", "string", "`tax_category:<id>`, `modifier_group:<id>`, `<kind>_code:<code>` or `location:<id>`"),
        _f("old", "any", "before (null when new)", nullable=True), _f("new", "any", "after", nullable=True),
        ACTOR, _f("reason", "string", "why ('' when none)"))),
    # -- devices, weighings and people --------------------------------------------------------------
    EventType("weighing.taken", "a register took a stable scale reading to sell by (legal-for-trade record)", (
        _f("id", "string", "the weighing (a UUID the register made)"), _f("register_id", "string", "the register"),
        _f("device_id", "string", "the scale"), _f("grams", "integer", "net weight"),
        _f("tare_g", "integer", "tare the scale reported", nullable=True), BY)),
    EventType("device.state_changed", "a device went online or offline, or its reported state changed", (
        _f("device_id", "string", "stable device id"), _f("kind", "string", "scanner, scale, receipt_printer, ..."),
        _f("online", "boolean", "online now"), _f("state", "object", "what it reports of itself, e.g. printer status")),
        telemetry=True),
    EventType("device.error", "a device reported an error (at most one per device a minute; the ones between are counted in the next)", (
        _f("device_id", "string", "stable device id"), _f("source", "string", "where it came from"),
        _f("message", "string", "what the device or the hub said")), telemetry=True),
    EventType("device.changed", "the owner renamed a device, bound it to a register or set its input role", (
        _f("device_id", "string", "stable device id"), CHANGES, BY)),
    EventType("device.forgotten", "the owner removed a device from the hub", (
        _f("device_id", "string", "stable device id"), _f("name", "string", "the name it had"), BY)),
    EventType("device.credentials_issued", "a device was given its own MQTT user and password (never in the event)", (
        _f("device_id", "string", "the device, which is also its MQTT user name"), BY)),
    EventType("device.credentials_revoked", "a device's MQTT user was removed: it can no longer connect", (
        _f("device_id", "string", "the device"), BY)),
    EventType("token.created", "an API token was made (the secret is never in the event)", (
        _f("id", "string", "the token id, as in `token:<id>` actors"), _f("role", "string", "its role"),
        _f("name", "string", "what it is for"))),
    EventType("user.changed", "a person was added, or their role, password or PIN changed (never the secret itself)", (
        _f("username", "string", "who"), _f("changes", "array", "{field, old, new}; a password or PIN shows as `changed` or `set`"),
        BY)),
    # -- registers, people and shifts (hub.pairing, hub.approvals, hub.shifts; docs/registers.md) -------------
    EventType("tablet.paired", "a tablet became a register with a pairing code", (
        _f("tablet_id", "string", "the tablet's id"), _f("register_id", "string", "the register it is"),
        _f("by", "string", "who made the pairing code"))),
    EventType("tablet.unpaired", "the owner unpaired a tablet; its token stopped working", (
        _f("tablet_id", "string", "the tablet's id"), _f("register_id", "string", "the register it was"), BY)),
    EventType("approval.granted", "a manager approved an action with their PIN on a register", (
        _f("register_id", "string", "where"), _f("action", "string", "what, e.g. discount, post_void"),
        _f("details", "object", "what exactly (amount, sale id, ...)"), _f("approver", "string", "the manager"),
        _f("requested_by", "string", "the cashier's session that asked"))),
    EventType("shift.opened", "a register's shift began with a float counted into the drawer", (
        _f("id", "string", "the shift id"), _f("number", "integer", "the hub's running shift number"),
        _f("register_id", "string", "the register"), _f("float_minor", "integer", "the float"), BY)),
    EventType("offline_sale.reviewed", "an owner reviewed a sale a register made without the hub, charged at other "
              "prices than the hub's (or below zero stock); recorded once", (
        _f("sale_id", "string", "the sale"), _f("number", "integer", "its sale number"),
        _f("register_id", "string", "the register that sold it"),
        _f("price_differences", "integer", "how many of its lines were charged at other than the hub's price"),
        _f("charged_total_minor", "integer", "what the customer paid"),
        _f("today_total_minor", "integer", "the sale at the hub's prices when it arrived", nullable=True),
        _f("note", "string", "the owner's note ('' when none)"), BY)),
    EventType("cash.moved", "cash paid into or out of a register's drawer during a shift, outside any sale", (
        _f("id", "string", "the register's id for the movement"), _f("shift_id", "string", "the shift it is in"),
        _f("register_id", "string", "the register"), _f("kind", "string", "paid_in or paid_out"),
        _f("amount_minor", "integer", "the cash moved"), _f("reason", "string", "what it was for"),
        _f("actor", "string", "who moved it"),
        _f("approver", "string", "the manager who approved a cashier's paid out", nullable=True))),
    EventType("shift.closed", "a shift closed with a cash count: its Z report, as kept and printed", (
        _f("kind", "string", "`Z`"), _f("shift", "object", "{id, number, register_id, opened_at/by, closed_at/by}"),
        _f("currency", "string", "the store's currency")),
        more="the Z report's totals: sales, tenders, taxes, returns, voids, discounts_minor, cash (expected, "
             "counted, over/short), as in [registers.md](registers.md)"),
)

BY_TYPE: dict[str, EventType] = {e.type: e for e in CATALOG}
TELEMETRY_TYPES = frozenset(e.type for e in CATALOG if e.telemetry)


class UnknownEventType(LookupError):
    """A writer used a type that is not in the catalog: a programming error, caught by tests."""


def version(type_: str) -> int:
    try:
        return BY_TYPE[type_].v
    except KeyError:
        raise UnknownEventType(f"event type {type_!r} is not in the catalog; add it to hub/events.py "
                               "and regenerate docs/events.md") from None


def check(type_: str, data: Any) -> list[str]:
    """What is wrong with data as the payload of type_: missing, mistyped or undocumented fields."""
    spec = BY_TYPE.get(type_)
    if spec is None:
        return [f"event type {type_!r} is not in the catalog"]
    if not isinstance(data, dict):
        return [f"{type_}: data must be a JSON object, not {type(data).__name__}"]
    problems = []
    for f in spec.fields:
        if f.name not in data:
            if f.required:
                problems.append(f"{type_}: {f.name} is missing")
            continue
        value = data[f.name]
        if value is None:
            if not f.nullable:
                problems.append(f"{type_}: {f.name} is null")
        elif not isinstance(value, _JSON_TYPES[f.type]) or (f.type == "integer" and isinstance(value, bool)):
            problems.append(f"{type_}: {f.name} should be {f.type}, got {type(value).__name__} {value!r:.40}")
    if not spec.more:
        known = {f.name for f in spec.fields}
        problems += [f"{type_}: {k} is not in the catalog" for k in data if k not in known]
    return problems


def append_event_json(conn: sqlite3.Connection, type_: str, data: str, occurred_at: str) -> int:
    """Append an event whose data is JSON text, in the caller's transaction; returns its seq."""
    cur = conn.execute("INSERT INTO outbox (id, type, occurred_at, v, data) VALUES (?, ?, ?, ?, ?)",
                       (uuid.uuid4().hex, type_, occurred_at, version(type_), data))
    return int(cur.lastrowid or 0)


def append_event(conn: sqlite3.Connection, type_: str, data: dict[str, Any], occurred_at: str) -> int:
    return append_event_json(conn, type_, json.dumps(data, separators=(",", ":")), occurred_at)


def render_markdown() -> str:
    out = ["# Events", "",
           "Every fact the hub records is one event in its outbox, sent to the back office as described in",
           "[sync-protocol.md](sync-protocol.md). This page is generated from `hub/events.py`",
           "(`python -m hub.events > docs/events.md`); do not edit it by hand.", "",
           "Each type has a schema version `v`. Receivers must ignore fields they do not know: adding a",
           "field keeps `v`; removing, renaming or retyping one raises it. *Telemetry* types are the only",
           "ones a hub may drop (oldest first, when its outbox is over its disk quota); events about money",
           "and stock never are. Money is in minor units of the store currency, quantities in the item's",
           "base unit (pieces, grams, millilitres); times are RFC 3339 UTC.", "",
           "| type | v | telemetry | meaning |", "|---|---|---|---|"]
    out += [f"| [`{e.type}`](#{e.type.replace('.', '')}) | {e.v} | {'yes' if e.telemetry else 'no'} | {e.meaning} |"
            for e in CATALOG]
    for e in CATALOG:
        out += ["", f"## {e.type}", "", f"{e.meaning[0].upper()}{e.meaning[1:]}. Version {e.v}"
                + (", telemetry." if e.telemetry else "."), "",
                "| field | type | required | meaning |", "|---|---|---|---|"]
        out += [f"| `{f.name}` | {f.type}{' or null' if f.nullable else ''} | {'yes' if f.required else 'no'} | "
                f"{f.meaning} |" for f in e.fields]
        if e.more:
            out += ["", f"The payload also carries {e.more}."]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
