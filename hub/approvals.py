"""Manager approval at the till: a manager's PIN on the cashier's tablet buys a single-use token,
valid for a minute, bound to one action and its exact details. The route that does the action
spends it with require_approval, in the same transaction as the action itself.

Contract for the other register parts:
    approver = require_approval(conn_or_svc, token, action, details, actor)
conn_or_svc is the sqlite3.Connection of the caller's write transaction (preferred: the token
is spent only if the action commits) or anything with .db and .clock (the hub service), which
spends it in a transaction of its own. details must equal, key for key, what the register sent
when it asked (compared as canonical JSON). Raises Forbidden (code approval_required or
approval_invalid) otherwise; returns the approving manager's user name.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import uuid
from datetime import datetime, timedelta
from typing import Any

from hub import events
from hub.auth import allows
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.errors import Forbidden, ValidationError
from hub.people import People

TOKEN_TTL_S = 60
ACTIONS = ("discount", "price_override", "post_void", "return_without_receipt", "no_sale", "refund", "paid_out")
_ACTION = re.compile(r"[a-z][a-z0-9_.]{1,39}")


def canonical(details: Any) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Approvals:
    def __init__(self, db: Database, people: People, clock: Clock = system_clock) -> None:
        self.db = db
        self.people = people
        self.clock = clock

    def grant(self, register_id: str, body: Any, requested_by: str, place: str) -> dict[str, Any]:
        """Check the approver's PIN and role; return {token, expires_at, approver, action}."""
        if not isinstance(body, dict) or set(body) - {"action", "approver", "pin", "details"}:
            raise ValidationError("send {action, approver, pin, details}")
        action, approver, details = body.get("action"), body.get("approver"), body.get("details", {})
        if not isinstance(action, str) or not _ACTION.fullmatch(action):
            raise ValidationError(f"action names what is approved, e.g. {', '.join(ACTIONS)}", field="action")
        if not isinstance(approver, str) or not approver:
            raise ValidationError("approver is the user name of the manager who approves", field="approver")
        if not isinstance(details, dict):
            raise ValidationError("details must be an object (amount_minor, sale_id, ...)", field="details")
        role = self.people.check(approver, str(body.get("pin", "")), place, "approval")
        if not allows(role, ("manager",)):
            raise Forbidden(f"{approver} is a {role}; a manager or the owner must approve", code="not_a_manager")
        token = "bra_" + secrets.token_urlsafe(24)
        now = self.clock()
        expires = iso(now + timedelta(seconds=TOKEN_TTL_S))
        with self.db.write() as conn:
            conn.execute("INSERT INTO approvals (id, token_hash, register_id, action, details, approver, requested_by, "
                         "created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (uuid.uuid4().hex, _hash(token), register_id, action, canonical(details), approver,
                          requested_by, iso(now), expires))
            events.append_event(conn, "approval.granted", {"register_id": register_id, "action": action,
                                                            "details": details, "approver": approver,
                                                            "requested_by": requested_by}, iso(now))
        return {"token": token, "expires_at": expires, "approver": approver, "action": action}


def require_approval(conn_or_svc: Any, token: Any, action: str, details: dict[str, Any], actor: str,
                     *, now: datetime | None = None) -> str:
    """Spend an approval token for action with details; return who approved. See the module doc."""
    if isinstance(conn_or_svc, sqlite3.Connection):
        return _spend(conn_or_svc, token, action, details, actor, now or system_clock())
    db: Database = conn_or_svc.db
    clock: Clock = getattr(conn_or_svc, "clock", system_clock)
    with db.write() as conn:
        return _spend(conn, token, action, details, actor, now or clock())


def _spend(conn: sqlite3.Connection, token: Any, action: str, details: dict[str, Any], actor: str,
           now: datetime) -> str:
    if not isinstance(token, str) or not token:
        raise Forbidden(f"{action.replace('_', ' ')} needs a manager's approval: ask a manager for their PIN",
                        field="approval", code="approval_required")
    row = conn.execute("SELECT id, action, details, approver, expires_at, used_at FROM approvals WHERE token_hash = ?",
                       (_hash(token),)).fetchone()
    problem = None
    if row is None:
        problem = "is unknown"
    elif row["used_at"] is not None:
        problem = "was used already"
    elif datetime.fromisoformat(row["expires_at"]) <= now:
        problem = f"expired ({TOKEN_TTL_S} s)"
    elif row["action"] != action:
        problem = f"was given for {row['action']}, not {action}"
    elif row["details"] != canonical(details):
        problem = "was given for other details (amount, sale, ...)"
    if problem or row is None:
        raise Forbidden(f"the manager's approval {problem}; ask the manager to approve again",
                        field="approval", code="approval_invalid")
    conn.execute("UPDATE approvals SET used_at = ?, used_by = ? WHERE id = ?", (iso(now), actor, row["id"]))
    return str(row["approver"])
