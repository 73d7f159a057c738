"""Receiving: purchase orders and the deliveries received against them, or without one.

A receipt line against a PO line adds to its qty_received; a delivery may be short (the line
stays open), complete, or over (more than ordered: recorded as it came, and flagged). A line for
a SKU that is not on the PO is received as unplanned within the same receipt. The PO becomes
'received' once every line has had at least what was ordered. Each receipt is one transaction:
the receipt, its lines, the PO's counts, the moves (kind 'receive') and the stock.received event.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

from hub.clock import iso
from hub.errors import Conflict, NotFound, UnprocessableError, ValidationError
from hub.ledger import Ledger, body_object, text, whole
from hub.store import Store, canonical_hash

PO_STATUSES = ("open", "received", "closed")
MAX_LINES = 500
MAX_COST = 10**10


def _client_id(value: Any) -> str:
    """The register's or page's own id for a delivery (a UUID), so a resend is received once; '' if none."""
    if value is None:
        return ""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValidationError(f"id {value!r} is not a UUID; make one per delivery", field="id") from None


def _lines(body: dict[str, Any], allowed: set[str]) -> list[dict[str, Any]]:
    lines = body.get("lines")
    if not isinstance(lines, list) or not lines or len(lines) > MAX_LINES:
        raise ValidationError(f"lines must be a list of 1-{MAX_LINES} {{{', '.join(sorted(allowed))}}}", field="lines")
    for i, line in enumerate(lines):
        body_object(line, allowed, '{"sku": "A1", "qty": 12}')
        whole(line.get("qty"), f"lines[{i}].qty")
        if line.get("cost_minor") is not None:
            whole(line["cost_minor"], f"lines[{i}].cost_minor", 0, MAX_COST)
    return lines


class Receiving:
    def __init__(self, store: Store, ledger: Ledger) -> None:
        self.store = store
        self.ledger = ledger
        self.db = store.db

    # -- purchase orders ---------------------------------------------------------------------
    def create_order(self, body: Any, actor: str) -> dict[str, Any]:
        """{supplier, note, lines: [{sku, qty, cost_minor}]}: a PO, open until all of it has come."""
        body = body_object(body, {"supplier", "note", "lines"},
                       '{"supplier": "Leafco", "lines": [{"sku": "TEA", "qty": 24, "cost_minor": 120}]}')
        supplier, note = text(body.get("supplier"), "supplier", 100), text(body.get("note"), "note")
        lines = _lines(body, {"sku", "qty", "cost_minor"})
        po_id = uuid.uuid4().hex
        with self.db.write() as conn:
            rows = []
            for i, line in enumerate(lines):
                item = self.ledger.item(conn, line.get("sku"), f"lines[{i}].sku")
                if any(r[1] == item["sku"] for r in rows):
                    raise ValidationError(f"{item['sku']} is on the order twice; put all of it on one line",
                                          field=f"lines[{i}].sku")
                cost = item["cost_minor"] if line.get("cost_minor") is None else line["cost_minor"]
                rows.append((i + 1, item["sku"], line["qty"], cost))
            conn.execute("INSERT INTO purchase_orders (id, supplier, status, note, created_by, created_at) "
                         "VALUES (?, ?, 'open', ?, ?, ?)", (po_id, supplier, note, actor, iso(self.store.clock())))
            conn.executemany("INSERT INTO purchase_order_lines (po_id, line_no, sku, qty_ordered, cost_minor) "
                             "VALUES (?, ?, ?, ?, ?)", [(po_id, *r) for r in rows])
            order = self._order(conn, po_id)
            self.store.append_event(conn, "purchase_order.created", order)
        return order

    def orders(self, status: str = "") -> list[dict[str, Any]]:
        if status and status not in PO_STATUSES:
            raise ValidationError(f"status must be one of {', '.join(PO_STATUSES)} (got {status!r})", field="status")
        rows = self.db.conn.execute(
            "SELECT p.*, count(l.line_no) AS lines, sum(l.qty_ordered) AS qty_ordered, sum(l.qty_received) AS qty_received "
            "FROM purchase_orders p JOIN purchase_order_lines l ON l.po_id = p.id WHERE ? = '' OR p.status = ? "
            "GROUP BY p.id ORDER BY p.created_at DESC, p.id LIMIT 500", (status, status))
        return [dict(r) for r in rows]

    def order(self, po_id: str) -> dict[str, Any]:
        return self._order(self.db.conn, po_id)

    @staticmethod
    def _order(conn: sqlite3.Connection, po_id: str) -> dict[str, Any]:
        po = conn.execute("SELECT * FROM purchase_orders WHERE id = ?", (po_id,)).fetchone()
        if po is None:
            raise NotFound(f"no purchase order {po_id}", field="po_id")
        lines = [{"line_no": r["line_no"], "sku": r["sku"], "name": r["name"], "qty_ordered": r["qty_ordered"],
                  "qty_received": r["qty_received"], "open_qty": max(0, r["qty_ordered"] - r["qty_received"]),
                  "over_qty": max(0, r["qty_received"] - r["qty_ordered"]), "cost_minor": r["cost_minor"]}
                 for r in conn.execute("SELECT l.*, i.name FROM purchase_order_lines l JOIN items i ON i.sku = l.sku "
                                       "WHERE l.po_id = ? ORDER BY l.line_no", (po_id,))]
        receipts = [r[0] for r in conn.execute("SELECT id FROM receipts WHERE po_id = ? ORDER BY created_at, id", (po_id,))]
        return {**dict(po), "lines": lines, "receipts": receipts}

    # -- deliveries --------------------------------------------------------------------------
    def receive(self, body: Any, actor: str, device: str = "") -> dict[str, Any]:
        """{po_id?, supplier?, location, note, lines: [{sku, qty, po_line_no?, cost_minor?}]}."""
        body = body_object(body, {"id", "po_id", "supplier", "location", "note", "lines"},
                           '{"id": "<uuid>", "po_id": "...", "lines": [{"sku": "TEA", "qty": 12}]}')
        note, supplier = text(body.get("note"), "note"), text(body.get("supplier"), "supplier", 100)
        lines = _lines(body, {"sku", "qty", "po_line_no", "cost_minor"})
        receipt_id = _client_id(body.get("id")) or uuid.uuid4().hex
        request_hash = canonical_hash(body)
        with self.db.write() as conn:
            done = conn.execute("SELECT request_hash, response FROM receipts WHERE id = ?", (receipt_id,)).fetchone()
            if done is not None:
                if done["request_hash"] != request_hash:
                    raise Conflict(f"receipt {receipt_id} was already recorded with other lines; make a new id for a "
                                   "new delivery", field="id", code="idempotency_conflict")
                replayed: dict[str, Any] = json.loads(done["response"]) | {"replayed": True}
                return replayed
            where = self.ledger.location(conn, body.get("location", "backroom"))
            po, po_lines = self._open_order(conn, body.get("po_id"))
            before = {no: ln["qty_received"] for no, ln in po_lines.items()}
            received, warnings = [], []
            for i, line in enumerate(lines):
                item = self.ledger.item(conn, line.get("sku"), f"lines[{i}].sku")
                if not po and line.get("po_line_no") is not None:
                    raise ValidationError("po_line_no needs the po_id of its purchase order", field=f"lines[{i}].po_line_no")
                po_line = self._match(po_lines, item["sku"], line.get("po_line_no"), i) if po else None
                if po and po_line is None:
                    warnings.append(f"line {i + 1}: {item['sku']} is not on the purchase order; received as unplanned")
                cost = line.get("cost_minor")
                if cost is None:
                    cost = po_line["cost_minor"] if po_line else item["cost_minor"]
                received.append({"line_no": i + 1, "sku": item["sku"], "qty": line["qty"], "cost_minor": cost,
                                 "po_line_no": po_line["line_no"] if po_line else None, "unplanned": po_line is None})
                if po_line:
                    po_line["qty_received"] += line["qty"]
            conn.execute("INSERT INTO receipts (id, po_id, supplier, location, note, actor, created_at) VALUES "
                         "(?, ?, ?, ?, ?, ?, ?)", (receipt_id, po["id"] if po else None, supplier or (po["supplier"] if po else ""),
                                                   where, note, actor, iso(self.store.clock())))
            for ln in received:
                conn.execute("INSERT INTO receipt_lines (receipt_id, line_no, sku, qty, po_line_no, cost_minor) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (receipt_id, ln["line_no"], ln["sku"], ln["qty"], ln["po_line_no"],
                                                           ln["cost_minor"]))
                ln["move_id"] = self.ledger._move(conn, ln["sku"], where, ln["qty"], "receive", actor,
                                                  "unplanned" if ln["unplanned"] else "receive", "receipt", receipt_id,
                                                  ln["line_no"], note, device)
            summary, status = self._settle(conn, po, po_lines, before)
            answer = {"id": receipt_id, "po_id": po["id"] if po else None, "po_status": status, "location": where,
                      "supplier": supplier or (po["supplier"] if po else ""), "note": note, "by": actor,
                      "lines": received, "po_lines": summary, "warnings": warnings}
            conn.execute("UPDATE receipts SET request_hash = ?, response = ? WHERE id = ?",
                         (request_hash, json.dumps(answer, separators=(",", ":")), receipt_id))
            self.store.append_event(conn, "stock.received", answer)
        return answer | {"replayed": False}

    @staticmethod
    def _open_order(conn: sqlite3.Connection, po_id: Any) -> tuple[sqlite3.Row | None, dict[int, dict[str, Any]]]:
        if po_id is None:
            return None, {}
        po: sqlite3.Row | None = conn.execute("SELECT * FROM purchase_orders WHERE id = ?", (po_id,)).fetchone()
        if po is None:
            raise UnprocessableError(f"no purchase order {po_id}; leave po_id out to receive an unplanned delivery",
                                     field="po_id")
        if po["status"] == "closed":
            raise UnprocessableError(f"purchase order {po_id} is closed; leave po_id out to receive this as unplanned",
                                     field="po_id")
        lines = {r["line_no"]: dict(r) for r in conn.execute(
            "SELECT * FROM purchase_order_lines WHERE po_id = ? ORDER BY line_no", (po_id,))}
        return po, lines

    @staticmethod
    def _match(po_lines: dict[int, dict[str, Any]], sku: str, line_no: Any, i: int) -> dict[str, Any] | None:
        """The PO line a receipt line fills: the one it names, else the PO's line for its SKU, else none."""
        if line_no is None:
            return next((ln for ln in po_lines.values() if ln["sku"] == sku), None)
        whole(line_no, f"lines[{i}].po_line_no")
        found = po_lines.get(line_no)
        if found is None or found["sku"] != sku:
            on_po = f"is for {found['sku']}" if found else "is not on the purchase order"
            raise UnprocessableError(f"lines[{i}]: PO line {line_no} {on_po}, not {sku}; leave po_line_no out to match "
                                     "by SKU", field=f"lines[{i}].po_line_no")
        return found

    @staticmethod
    def _settle(conn: sqlite3.Connection, po: sqlite3.Row | None, po_lines: dict[int, dict[str, Any]],
                before: dict[int, int]) -> tuple[list[dict[str, Any]], str | None]:
        """Write each PO line's new count; per line what was ordered, came before, came now, is left, and over."""
        if po is None:
            return [], None
        summary = []
        for no, ln in po_lines.items():
            conn.execute("UPDATE purchase_order_lines SET qty_received = ? WHERE po_id = ? AND line_no = ?",
                         (ln["qty_received"], po["id"], no))
            summary.append({"line_no": no, "sku": ln["sku"], "ordered": ln["qty_ordered"], "received_before": before[no],
                            "received_now": ln["qty_received"] - before[no],
                            "remaining": max(0, ln["qty_ordered"] - ln["qty_received"]),
                            "over": max(0, ln["qty_received"] - ln["qty_ordered"])})
        status = "received" if all(s["remaining"] == 0 for s in summary) else po["status"]
        if status != po["status"]:
            conn.execute("UPDATE purchase_orders SET status = ? WHERE id = ?", (status, po["id"]))
        return summary, status
