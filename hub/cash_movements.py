"""Cash paid into or out of a register's drawer during a shift, outside any sale.

Change brought from the bank is paid in; milk bought for the staff room or notes taken to the
safe are paid out. Each has a reason, is booked into the register's open shift, opens the drawer
(it hangs off the receipt printer) and is sent as `cash.moved`; the shift's Z report counts them
in the expected cash (hub.domain.zreport). A cashier's paid out needs a manager's approval
(`paid_out`, details {amount_minor}); paid in never does. Idempotent by the movement's id: the
register retries with the same one, and the same id with another body is refused.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from hub import events
from hub.approvals import require_approval
from hub.auth import allows
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.errors import Conflict, ValidationError
from hub.print_queue import PrintQueue

KINDS = ("paid_in", "paid_out")
MAX_MINOR = 10_000_000  # 100,000.00: more than any till holds
MAX_REASON = 80
_COLUMNS = "id, shift_id, register_id, kind, amount_minor, reason, actor, approver, created_at"


def parse(body: Any) -> tuple[str, str, int, str]:
    """{id, kind, amount_minor, reason, approval?} -> (id, kind, amount_minor, reason)."""
    if not isinstance(body, dict) or set(body) - {"id", "kind", "amount_minor", "reason", "approval"}:
        raise ValidationError("send {id, kind (paid_in or paid_out), amount_minor, reason, approval?}")
    move_id, kind, amount, reason = body.get("id"), body.get("kind"), body.get("amount_minor"), body.get("reason")
    if not isinstance(move_id, str) or not 8 <= len(move_id) <= 64:
        raise ValidationError("id is the register's own id for this movement (8-64 characters): a retry sends "
                              "the same one", field="id")
    if kind not in KINDS:
        raise ValidationError(f"kind is paid_in or paid_out (got {kind!r})", field="kind")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_MINOR:
        raise ValidationError("amount_minor is the cash moved in minor units (cents), a whole number above 0",
                              field="amount_minor")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise ValidationError(f"reason says what the cash was for (1-{MAX_REASON} characters), e.g. "
                              "'change from the bank' or 'milk for the staff room'", field="reason")
    return move_id, str(kind), amount, reason.strip()


def totals(conn: sqlite3.Connection, shift_id: str) -> tuple[int, int, list[dict[str, Any]]]:
    """(paid in, paid out, the movements in order) of a shift, for its Z report."""
    rows = [dict(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM cash_movements WHERE shift_id = ? "
                                          "ORDER BY created_at, rowid", (shift_id,))]
    paid_in = sum(r["amount_minor"] for r in rows if r["kind"] == "paid_in")
    return paid_in, sum(r["amount_minor"] for r in rows) - paid_in, rows


class CashDrawer:
    def __init__(self, db: Database, print_queue: PrintQueue, clock: Clock = system_clock) -> None:
        self.db = db
        self.print_queue = print_queue
        self.clock = clock

    def move(self, register_id: str, body: Any, actor: str, role: str) -> tuple[dict[str, Any], bool]:
        """Record a paid in or out in the register's open shift; (the movement, whether it is new)."""
        move_id, kind, amount, reason = parse(body)
        now = iso(self.clock())
        with self.db.write() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM cash_movements WHERE id = ?", (move_id,)).fetchone()
            if row is not None:
                if (row["register_id"], row["kind"], row["amount_minor"], row["reason"]) != (
                        register_id, kind, amount, reason):
                    raise Conflict(f"cash movement {move_id} was recorded with other details; a new movement needs "
                                   "a new id", field="id", code="idempotency_conflict")
                return dict(row), False
            shift = conn.execute("SELECT id FROM shifts WHERE register_id = ? AND closed_at IS NULL",
                                 (register_id,)).fetchone()
            if shift is None:
                raise Conflict(f"register {register_id} has no open shift: cash moves in and out of a shift's "
                               "drawer; open one first", field="register_id", code="no_shift")
            approver = None
            if kind == "paid_out" and not allows(role, ("manager",)):
                approver = require_approval(conn, body.get("approval"), "paid_out", {"amount_minor": amount}, actor,
                                            now=self.clock())
            moved = {"id": move_id, "shift_id": shift["id"], "register_id": register_id, "kind": kind,
                     "amount_minor": amount, "reason": reason, "actor": actor, "approver": approver,
                     "created_at": now}
            conn.execute(f"INSERT INTO cash_movements ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         tuple(moved.values()))
            events.append_event(conn, "cash.moved", {k: v for k, v in moved.items() if k != "created_at"}, now)
        printer = self.print_queue.plan_receipt(register_id)["device_id"]
        if printer:  # the cash goes in or out through the drawer, which hangs off the receipt printer
            self.print_queue.submit(printer, "drawer", {"pin": 2}, kind="drawer", register_id=register_id,
                                    actor=actor)
        return moved, True
