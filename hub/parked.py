"""Parked carts and voided carts at the till.

A cashier parks a cart (the customer went back for something) and anyone resumes it later, at
this register or another; a parked cart lives in SQLite, so it survives a hub restart, and it is
given back once: resuming removes it from the list. A cart voided before payment is recorded as a
`cart.voided` event for loss prevention; it moves no stock and no money.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from hub import events
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.errors import Conflict, NotFound, ValidationError

MAX_CART_BYTES = 256 * 1024
MAX_LABEL = 60
_COLUMNS = "id, register_id, label, line_count, parked_by, parked_at, resumed_at, resumed_by, resumed_on"


def _uuid(value: Any, field: str) -> str:
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else ""
    except ValueError:
        pass
    raise ValidationError(f"{field} must be a UUID the register makes (got {value!r})", field=field)


def _cart(value: Any) -> tuple[str, int]:
    if not isinstance(value, dict) or not isinstance(value.get("lines"), list) or not value["lines"]:
        raise ValidationError("cart must be an object with a non-empty lines list: there is nothing to park", field="cart")
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    if len(text) > MAX_CART_BYTES:
        raise ValidationError(f"the cart is larger than {MAX_CART_BYTES // 1024} KiB; sell part of it first", field="cart")
    return text, len(value["lines"])


def _who(actor: str) -> str:
    return actor.removeprefix("user:")


class ParkedCarts:
    def __init__(self, db: Database, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    def park(self, register_id: str, body: Any, actor: str) -> tuple[dict[str, Any], bool]:
        """Keep {id, cart, label}; the same id again answers as the first time (created False)."""
        if not isinstance(body, dict) or set(body) - {"id", "cart", "label"}:
            raise ValidationError("send {id, cart, label}: the cart as the register holds it", field="cart")
        cart_id = _uuid(body.get("id"), "id")
        text, count = _cart(body.get("cart"))
        label = body.get("label", "")
        if not isinstance(label, str) or len(label) > MAX_LABEL:
            raise ValidationError(f"label must be text of at most {MAX_LABEL} characters", field="label")
        with self.db.write() as conn:
            row = conn.execute("SELECT cart FROM parked_carts WHERE id = ?", (cart_id,)).fetchone()
            if row is not None:
                if row["cart"] != text:
                    raise Conflict(f"a cart with id {cart_id} was parked already with other lines; park this one "
                                   "under a new id", field="id", code="idempotency_conflict")
                created = False
            else:
                conn.execute("INSERT INTO parked_carts (id, register_id, cart, label, line_count, parked_by, parked_at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (cart_id, register_id, text, label.strip(), count, _who(actor), iso(self.clock())))
                created = True
        return self.get(cart_id), created

    def get(self, cart_id: str) -> dict[str, Any]:
        row = self.db.conn.execute(f"SELECT {_COLUMNS} FROM parked_carts WHERE id = ?", (cart_id,)).fetchone()
        if row is None:
            raise NotFound(f"no parked cart {cart_id!r}; it may have been resumed at another register", field="id")
        return dict(row)

    def waiting(self) -> list[dict[str, Any]]:
        """Every cart parked and not yet resumed, at any register, oldest first."""
        return [dict(r) for r in self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM parked_carts WHERE resumed_at IS NULL ORDER BY parked_at, id")]

    def resume(self, cart_id: str, register_id: str, actor: str) -> dict[str, Any]:
        """Give the cart back once, and take it off the list."""
        with self.db.write() as conn:
            row = conn.execute("SELECT cart, resumed_at, resumed_by, resumed_on FROM parked_carts WHERE id = ?",
                               (cart_id,)).fetchone()
            if row is None:
                raise NotFound(f"no parked cart {cart_id!r}", field="id")
            if row["resumed_at"] is not None:
                raise Conflict(f"this cart was resumed already by {row['resumed_by']} at register {row['resumed_on']} "
                               f"({row['resumed_at']}); it is open there", code="already_resumed")
            conn.execute("UPDATE parked_carts SET resumed_at = ?, resumed_by = ?, resumed_on = ? WHERE id = ?",
                         (iso(self.clock()), _who(actor), register_id, cart_id))
        return {**self.get(cart_id), "cart": json.loads(row["cart"])}

    def void(self, register_id: str, body: Any, actor: str) -> dict[str, Any]:
        """Record a cart voided before payment as a cart.voided event; the same id again is one void."""
        if not isinstance(body, dict) or set(body) - {"id", "lines", "total_minor", "reason"}:
            raise ValidationError("send {id, lines, total_minor, reason}", field="lines")
        void_id = _uuid(body.get("id"), "id")
        lines = body.get("lines")
        if not isinstance(lines, list) or not lines or not all(isinstance(ln, dict) for ln in lines):
            raise ValidationError("lines must list what was in the cart: [{sku, name, unit, qty, total_minor}]",
                                  field="lines")
        keep = ("sku", "name", "unit", "qty", "total_minor")
        kept = [{k: ln.get(k) for k in keep} for ln in lines]
        if not all(isinstance(ln["sku"], str) and isinstance(ln["qty"], int) for ln in kept):
            raise ValidationError("each voided line needs its sku and qty", field="lines")
        total = body.get("total_minor")
        if total is not None and (not isinstance(total, int) or isinstance(total, bool)):
            raise ValidationError("total_minor must be a whole number or null", field="total_minor")
        reason = body.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 120:
            raise ValidationError("reason must be text of at most 120 characters", field="reason")
        data = {"id": void_id, "register_id": register_id, "lines": kept, "total_minor": total, "reason": reason,
                "by": _who(actor), "voided_at": iso(self.clock())}
        with self.db.write() as conn:
            seen = conn.execute("SELECT data FROM cart_voids WHERE id = ?", (void_id,)).fetchone()
            if seen is not None:
                return dict(json.loads(seen["data"]))
            conn.execute("INSERT INTO cart_voids (id, register_id, voided_by, voided_at, data) VALUES (?, ?, ?, ?, ?)",
                         (void_id, register_id, data["by"], data["voided_at"], json.dumps(data, separators=(",", ":"))))
            events.append_event(conn, "cart.voided", data, data["voided_at"])
        return data
