"""The stock ledger's own documents: adjustments, transfers, review-bin dispositions and
reservations; and what managers read: move history with running balance, and exceptions.

Every change is an appended move (hub.store.Store.move_stock; the projection is kept by a
trigger in the same transaction) with a reason, a user and a time, and every document appends
its outbox event in that same transaction.
"""

from __future__ import annotations

import heapq
import itertools
import json
import re
import sqlite3
import uuid
from typing import Any

from hub.clock import iso
from hub.errors import Conflict, NotFound, UnprocessableError, ValidationError
from hub.store import Store

MAX_QTY = 10_000_000
DISPOSITIONS = ("restock", "refurbish", "markdown", "write_off")
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")
HISTORY_PAGE = 100


def whole(value: Any, field: str, low: int = 1, high: int = MAX_QTY) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{field} must be a whole number from {low} to {high} (got {value!r})", field=field)
    return value


def text(value: Any, field: str, max_len: int = 500) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_len:
        raise ValidationError(f"{field} must be text of at most {max_len} characters", field=field)
    return value.strip()


def body_object(body: Any, allowed: set[str], example: str) -> dict[str, Any]:
    """A request body as an object with only the allowed fields; ValidationError naming the first stray one."""
    if not isinstance(body, dict):
        raise ValidationError(f"the body must be a JSON object like {example}")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}", field=unknown[0])
    return body


class Ledger:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # -- lookups that every document needs ------------------------------------------------------
    @staticmethod
    def item(conn: sqlite3.Connection, sku: Any, field: str = "sku") -> sqlite3.Row:
        if not isinstance(sku, str) or not sku:
            raise ValidationError(f"{field} must be an item's SKU", field=field)
        row: sqlite3.Row | None = conn.execute("SELECT sku, name, unit, cost_minor, kit_policy, variant_axes FROM items "
                                               "WHERE sku = ?", (sku,)).fetchone()
        if row is None:
            raise UnprocessableError(f"no item has SKU {sku}", field=field)
        if row["kit_policy"] == "components":
            raise UnprocessableError(f"{sku} is a kit sold from its components: move the components instead", field=field)
        if row["variant_axes"] != "[]":
            raise UnprocessableError(f"{sku} is a parent of variants: move a variant instead", field=field)
        return row

    @staticmethod
    def location(conn: sqlite3.Connection, location: Any, field: str = "location") -> str:
        row = conn.execute("SELECT id FROM locations WHERE id = ? AND active = 1", (location,)).fetchone()
        if row is None:
            known = ", ".join(r[0] for r in conn.execute("SELECT id FROM locations WHERE active = 1 ORDER BY id"))
            raise UnprocessableError(f"{field} {location!r} is not one of the store's locations: {known}", field=field)
        return str(row[0])

    @staticmethod
    def reason(conn: sqlite3.Connection, kind: str, code: Any, note: str, field: str = "reason") -> sqlite3.Row:
        row: sqlite3.Row | None = conn.execute("SELECT code, label, location, needs_note FROM reason_codes "
                                               "WHERE kind = ? AND code = ?", (kind, code)).fetchone()
        if row is None:
            known = ", ".join(r[0] for r in conn.execute("SELECT code FROM reason_codes WHERE kind = ? ORDER BY code", (kind,)))
            raise ValidationError(f"{field} {code!r} is not a {kind} code; use one of {known}", field=field)
        if row["needs_note"] and not note:
            raise ValidationError(f"{field} {code!r} needs a note saying why", field="note")
        return row

    # -- documents ---------------------------------------------------------------------------------
    def adjust(self, body: Any, actor: str, device: str = "") -> dict[str, Any]:
        """{sku, location, qty (signed), reason, note}: an adjustment with a reason code."""
        body = body_object(body, {"sku", "location", "qty", "reason", "note"},
                       '{"sku": "A1", "location": "floor", "qty": -2, "reason": "damaged"}')
        qty = body.get("qty")
        if isinstance(qty, bool) or not isinstance(qty, int) or qty == 0 or abs(qty) > MAX_QTY:
            raise ValidationError("qty must be a whole number of base units, not 0: negative takes stock out", field="qty")
        note = text(body.get("note"), "note")
        doc = uuid.uuid4().hex
        with self.db.write() as conn:
            item = self.item(conn, body.get("sku"))
            where = self.location(conn, body.get("location", "floor"))
            reason = self.reason(conn, "adjustment", body.get("reason"), note)
            move = self._move(conn, item["sku"], where, qty, "adjustment", actor, reason["code"], "adjustment", doc,
                              note=note, device=device)
            self.store.append_event(conn, "stock.adjusted", {"id": doc, "sku": item["sku"], "location": where, "qty": qty,
                                                             "reason": reason["code"], "note": note, "by": actor,
                                                             "move_id": move})
        return {"id": doc, "move_id": move, "sku": item["sku"], "location": where, "qty": qty, "reason": reason["code"],
                "levels": self.store.stock(item["sku"])}

    def transfer(self, body: Any, actor: str, device: str = "") -> dict[str, Any]:
        """{sku, from, to, qty, note}: two moves with one document id."""
        body = body_object(body, {"sku", "from", "to", "qty", "note", "reason"},
                       '{"sku": "A1", "from": "backroom", "to": "floor", "qty": 12}')
        qty = whole(body.get("qty"), "qty")
        note = text(body.get("note"), "note")
        reason = text(body.get("reason"), "reason", 40) or "transfer"
        doc = uuid.uuid4().hex
        with self.db.write() as conn:
            item = self.item(conn, body.get("sku"))
            source = self.location(conn, body.get("from"), "from")
            target = self.location(conn, body.get("to"), "to")
            if source == target:
                raise ValidationError("from and to are the same location", field="to")
            self.store.check_negative(conn, [(item["sku"], qty)], source)
            out_id = self._move(conn, item["sku"], source, -qty, "transfer", actor, reason, "transfer", doc, 1, note, device)
            in_id = self._move(conn, item["sku"], target, qty, "transfer", actor, reason, "transfer", doc, 2, note, device)
            self.store.append_event(conn, "stock.transferred", {"id": doc, "sku": item["sku"], "from": source, "to": target,
                                                                "qty": qty, "reason": reason, "by": actor,
                                                                "move_ids": [out_id, in_id]})
        return {"id": doc, "sku": item["sku"], "from": source, "to": target, "qty": qty,
                "levels": self.store.stock(item["sku"])}

    def dispose(self, body: Any, actor: str) -> dict[str, Any]:
        """A review-bin item's fate: restock (to the floor), refurbish (to the backroom), markdown
        (into a markdown SKU on the floor), or write_off; each a move with its reason."""
        body = body_object(body, {"sku", "qty", "action", "markdown_sku", "note", "from"},
                       '{"sku": "A1", "qty": 1, "action": "restock"}')
        action = body.get("action")
        if action not in DISPOSITIONS:
            raise ValidationError(f"action must be one of {', '.join(DISPOSITIONS)}", field="action")
        qty = whole(body.get("qty"), "qty")
        note = text(body.get("note"), "note")
        doc = uuid.uuid4().hex
        with self.db.write() as conn:
            item = self.item(conn, body.get("sku"))
            source = self.location(conn, body.get("from", "review"), "from")
            self.store.check_negative(conn, [(item["sku"], qty)], source)
            moves = [self._move(conn, item["sku"], source, -qty, "disposition", actor, action, "disposition", doc, 1, note)]
            if action == "restock":
                moves.append(self._move(conn, item["sku"], "floor", qty, "disposition", actor, action, "disposition", doc, 2, note))
            elif action == "refurbish":
                moves.append(self._move(conn, item["sku"], "backroom", qty, "disposition", actor, action, "disposition", doc, 2,
                                        note))
            elif action == "markdown":
                target = self.item(conn, body.get("markdown_sku"), "markdown_sku")
                if target["sku"] == item["sku"] or target["unit"] != item["unit"]:
                    raise UnprocessableError("markdown_sku must be another item sold by the same unit, at its lower price",
                                             field="markdown_sku")
                moves.append(self._move(conn, target["sku"], "floor", qty, "disposition", actor, action, "disposition", doc,
                                        2, note))
            self.store.append_event(conn, "stock.disposed", {"id": doc, "sku": item["sku"], "from": source, "qty": qty,
                                                             "action": action, "markdown_sku": body.get("markdown_sku"),
                                                             "by": actor, "move_ids": moves})
        return {"id": doc, "action": action, "move_ids": moves, "levels": self.store.stock(item["sku"])}

    def _move(self, conn: sqlite3.Connection, sku: str, location: str, qty: int, kind: str, actor: str, reason: str,
              doc_type: str, doc_id: str, doc_line: int = 1, note: str = "", device: str = "") -> int:
        cur = conn.execute(
            "INSERT INTO stock_moves (sku, location, qty, kind, reason, doc_type, doc_id, doc_line, note, actor, device, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sku, location, qty, kind, reason, doc_type, doc_id, doc_line, note, actor, device, iso(self.store.clock())))
        return int(cur.lastrowid or 0)

    # -- reservations (click-and-collect) ---------------------------------------------------------
    def reserve(self, body: Any, actor: str) -> dict[str, Any]:
        body = body_object(body, {"sku", "location", "qty", "ref"}, '{"sku": "A1", "qty": 2, "ref": "web order 1042"}')
        qty = whole(body.get("qty"), "qty")
        ref = text(body.get("ref"), "ref", 100)
        res_id = uuid.uuid4().hex
        with self.db.write() as conn:
            item = self.item(conn, body.get("sku"))
            where = self.location(conn, body.get("location", "floor"))
            level = conn.execute("SELECT on_hand - reserved FROM stock_levels WHERE sku = ? AND location = ?",
                                 (item["sku"], where)).fetchone()
            available = level[0] if level else 0
            if available < qty:
                raise UnprocessableError(f"only {max(available, 0)} of {item['name']} are available at {where}", field="qty",
                                         code="not_available")
            conn.execute("INSERT INTO reservations (id, sku, location, qty, ref, created_by, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (res_id, item["sku"], where, qty, ref, actor, iso(self.store.clock())))
            self.store.append_event(conn, "stock.reserved", {"id": res_id, "sku": item["sku"], "location": where,
                                                             "qty": qty, "ref": ref, "by": actor})
        return {"id": res_id, "sku": item["sku"], "location": where, "qty": qty, "ref": ref,
                "levels": self.store.stock(item["sku"])}

    def release(self, res_id: str, outcome: Any, actor: str) -> dict[str, Any]:
        if outcome not in ("collected", "cancelled", "expired"):
            raise ValidationError("outcome must be collected, cancelled or expired", field="outcome")
        with self.db.write() as conn:
            row = conn.execute("SELECT sku, released_at FROM reservations WHERE id = ?", (res_id,)).fetchone()
            if row is None:
                raise NotFound(f"no reservation {res_id}", field="id")
            if row["released_at"]:
                raise Conflict(f"reservation {res_id} was already released", field="id")
            conn.execute("UPDATE reservations SET released_at = ?, released_by = ?, outcome = ? WHERE id = ?",
                         (iso(self.store.clock()), actor, outcome, res_id))
            self.store.append_event(conn, "stock.reservation_released", {"id": res_id, "outcome": outcome, "by": actor})
        return {"id": res_id, "outcome": outcome, "levels": self.store.stock(row["sku"])}

    # -- reading ---------------------------------------------------------------------------------
    def history(self, sku: str, location: str = "", before: int = 0, limit: int = HISTORY_PAGE,
                balance: int | None = None) -> dict[str, Any]:
        """Moves newest first with the balance after each (per location when one is given).

        Each location's moves are walked on the (sku, location, id) index and merged, so a page
        reads about `limit` rows however long the history. The balance starts from today's
        on-hand; a later page continues from the balance the previous page handed out
        (next_balance), or else sums the moves after its cursor.
        """
        conn = self.db.conn
        if not conn.execute("SELECT 1 FROM items WHERE sku = ?", (sku,)).fetchone():
            raise NotFound(f"no item with SKU {sku}", field="sku")
        levels = conn.execute("SELECT location, on_hand FROM stock_levels WHERE sku = ?" + (" AND location = ?" if location
                              else ""), (sku, location) if location else (sku,)).fetchall()
        on_hand = sum(r["on_hand"] for r in levels)
        walks = []
        for level in levels:
            walks.append(conn.execute(
                "SELECT id, location, qty, kind, reason, doc_type, doc_id, note, actor, device, at FROM stock_moves "
                "WHERE sku = ? AND location = ?" + (" AND id < ?" if before else "") + " ORDER BY id DESC LIMIT ?",
                (sku, level["location"], before, limit + 1) if before else (sku, level["location"], limit + 1)).fetchall())
        rows = list(itertools.islice(heapq.merge(*walks, key=lambda r: r["id"], reverse=True), limit + 1))
        if balance is None:
            balance = on_hand
            if before:
                for level in levels:
                    balance -= conn.execute("SELECT coalesce(sum(qty), 0) FROM stock_moves WHERE sku = ? AND location = ? "
                                            "AND id >= ?", (sku, level["location"], before)).fetchone()[0]
        moves = []
        for r in rows[:limit]:
            moves.append(dict(r) | {"balance": balance})
            balance -= r["qty"]
        more = len(rows) > limit
        return {"sku": sku, "location": location or None, "on_hand": on_hand, "moves": moves,
                "next_before": moves[-1]["id"] if more else None, "next_balance": balance if more else None}

    def levels_at(self, location: str) -> dict[str, Any]:
        """Every item with stock (or a reservation) at one location, e.g. the review bin's contents."""
        conn = self.db.conn
        self.location(conn, location)
        rows = conn.execute(
            "SELECT l.sku, i.name, i.unit, l.on_hand, l.reserved, l.on_hand - l.reserved AS available FROM stock_levels l "
            "JOIN items i ON i.sku = l.sku WHERE l.location = ? AND (l.on_hand <> 0 OR l.reserved <> 0) "
            "ORDER BY l.sku LIMIT 2000", (location,)).fetchall()
        return {"location": location, "levels": [dict(r) for r in rows]}

    def exceptions(self, days: int = 30) -> dict[str, Any]:
        """What a manager should look at: negative stock, variances waiting, shrink by reason."""
        conn = self.db.conn
        negative = [dict(r) for r in conn.execute(
            "SELECT l.sku, i.name, l.location, l.on_hand FROM stock_levels l JOIN items i ON i.sku = l.sku "
            "WHERE l.on_hand < 0 ORDER BY l.on_hand, l.sku LIMIT 500")]
        variances = [dict(r) for r in conn.execute(
            "SELECT c.session_id, c.sku, i.name, c.location, c.counted, c.ledger_qty, c.counted - c.ledger_qty AS variance, "
            "(c.counted - c.ledger_qty) * c.unit_cost_minor AS variance_minor, c.status FROM count_lines c "
            "JOIN items i ON i.sku = c.sku WHERE c.status IN ('needs_approval', 'recount') ORDER BY c.session_id, c.sku")]
        since = conn.execute("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?, ?)", (iso(self.store.clock()), f"-{days} days")).fetchone()[0]
        shrink = [dict(r) for r in conn.execute(
            "SELECT m.reason, count(*) AS moves, -sum(m.qty) AS qty, -sum(m.qty * i.cost_minor) AS cost_minor "
            "FROM stock_moves m JOIN items i ON i.sku = m.sku "
            "WHERE m.kind IN ('adjustment', 'count_variance', 'disposition') AND m.qty < 0 AND m.at >= ? "
            "AND m.reason NOT IN ('restock', 'refurbish', 'markdown') "
            "GROUP BY m.reason ORDER BY cost_minor DESC", (since,))]
        return {"negative_stock": negative, "variances": variances, "shrink": {"days": days, "by_reason": shrink}}

    # -- the store's codes and locations ---------------------------------------------------------
    def codes(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {"return": [], "condition": [], "adjustment": []}
        for r in self.db.conn.execute("SELECT kind, code, label, location, needs_note, builtin FROM reason_codes "
                                      "ORDER BY kind, builtin DESC, code"):
            out[r["kind"]].append({"code": r["code"], "label": r["label"], "location": r["location"],
                                   "needs_note": bool(r["needs_note"]), "builtin": bool(r["builtin"])})
        return out

    def put_code(self, kind: str, code: str, body: Any, actor: str) -> dict[str, Any]:
        """An owner adds or relabels a code; a condition also says where its stock goes."""
        if kind not in ("return", "condition", "adjustment"):
            raise NotFound(f"no code kind {kind!r}: return, condition or adjustment", field="kind")
        if not CODE_RE.match(code):
            raise ValidationError("a code is 1-40 lower-case letters, digits or '_'", field="code")
        body = body_object(body, {"label", "location", "needs_note"}, '{"label": "Water damage", "location": "damaged"}')
        label = text(body.get("label"), "label", 60)
        if not label:
            raise ValidationError("label must say what the code means", field="label")
        needs_note = body.get("needs_note", False)
        if not isinstance(needs_note, bool):
            raise ValidationError("needs_note must be true or false", field="needs_note")
        with self.db.write() as conn:
            where = self.location(conn, body.get("location")) if kind == "condition" else None
            conn.execute("INSERT INTO reason_codes (kind, code, label, location, needs_note) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (kind, code) DO UPDATE SET label = excluded.label, location = excluded.location, "
                         "needs_note = excluded.needs_note", (kind, code, label, where, int(needs_note)))
            conn.execute("INSERT INTO catalog_changes (subject, old, new, actor, at) VALUES (?, NULL, ?, ?, ?)",
                         (f"{kind}_code:{code}", json.dumps({"label": label, "location": where}), actor,
                          iso(self.store.clock())))
            self.store.append_event(conn, "catalog.setting_changed", {"subject": f"{kind}_code:{code}", "old": None,
                                                                      "new": {"label": label, "location": where},
                                                                      "actor": actor, "reason": ""})
        return {"kind": kind, "code": code, "label": label, "location": where, "needs_note": needs_note}

    def locations(self) -> list[dict[str, Any]]:
        return [dict(r) | {"active": bool(r["active"])} for r in
                self.db.conn.execute("SELECT id, name, kind, active FROM locations ORDER BY id")]

    def put_location(self, loc_id: str, body: Any, actor: str) -> dict[str, Any]:
        if not CODE_RE.match(loc_id):
            raise ValidationError("a location id is 1-40 lower-case letters, digits or '_'", field="id")
        body = body_object(body, {"name", "active"}, '{"name": "Cold room"}')
        name = text(body.get("name"), "name", 60)
        if not name:
            raise ValidationError("name must say where it is", field="name")
        active = body.get("active", True)
        if not isinstance(active, bool):
            raise ValidationError("active must be true or false", field="active")
        with self.db.write() as conn:
            row = conn.execute("SELECT kind FROM locations WHERE id = ?", (loc_id,)).fetchone()
            if row is not None and row[0] != "custom" and not active:
                raise UnprocessableError(f"{loc_id} is one of the store's built-in locations and stays active", field="active")
            if not active and conn.execute("SELECT 1 FROM stock_levels WHERE location = ? AND on_hand <> 0",
                                           (loc_id,)).fetchone():
                raise UnprocessableError(f"{loc_id} still holds stock: transfer it out first", field="active")
            conn.execute("INSERT INTO locations (id, name, kind, active) VALUES (?, ?, 'custom', ?) "
                         "ON CONFLICT (id) DO UPDATE SET name = excluded.name, active = excluded.active",
                         (loc_id, name, int(active)))
            self.store.append_event(conn, "catalog.setting_changed", {"subject": f"location:{loc_id}", "old": None,
                                                                      "new": {"name": name, "active": active},
                                                                      "actor": actor, "reason": ""})
        return {"id": loc_id, "name": name, "active": active}
