"""Gift cards and store credit: stored-value accounts with append-only movements (issue 7 §3).

An account is named by the code printed on the card or credit slip (e.g. GC-7K3M9Q2X). Its
balance is the sum of its movements; each movement names who made it and, for a sale or a
return, which one, and is written in the same transaction as that sale or return together with
its `stored_value.moved` event, so a redeemed card and its sale commit or fail together. A
manager issues and tops up; a cashier redeems (a sale tender of kind gift_card or store_credit
whose reference is the code) and refunds to it (a return refunding such a tender); a post-void
puts back what a sale redeemed. The balance never goes below zero (hub.domain.tenders).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterable
from typing import Any

from hub import events
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.domain.tenders import ACCOUNT_CODE, MAX_AMOUNT, STORED_VALUE_KINDS, Tender, check_movement
from hub.errors import BackroomError, Conflict, NotFound, ValidationError

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed without mistakes
PREFIX = {"gift_card": "GC", "store_credit": "SC"}
RECENT = 20


def new_code(kind: str) -> str:
    return f"{PREFIX[kind]}-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def _code(value: Any, field: str = "code") -> str:
    if not isinstance(value, str) or not ACCOUNT_CODE.fullmatch(value.strip().upper()):
        raise ValidationError(f"{field} must be the code on the card: 4-32 letters, digits or dashes (got {value!r})",
                              field=field)
    return value.strip().upper()


def _amount(value: Any, field: str = "amount_minor") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_AMOUNT:
        raise ValidationError(f"{field} must be a whole number of minor units from 1 to {MAX_AMOUNT}, got {value!r}",
                              field=field)
    return value


def _note(body: dict[str, Any]) -> str:
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > 200:
        raise ValidationError("note must be text of at most 200 characters", field="note")
    return note.strip()


def balance_of(conn: sqlite3.Connection, code: str) -> int:
    return int(conn.execute("SELECT coalesce(sum(amount_minor), 0) FROM stored_value_movements WHERE code = ?",
                            (code,)).fetchone()[0])


def move(conn: sqlite3.Connection, code: str, movement: str, amount_minor: int, actor: str, at: str, *,
         kind: str | None = None, sale_id: str | None = None, return_id: str | None = None, note: str = "",
         request_id: str | None = None, field: str = "code", currency: str = "") -> int:
    """Append one movement and its event in the caller's transaction; the balance after it."""
    row = conn.execute("SELECT kind FROM stored_value_accounts WHERE code = ?", (code,)).fetchone()
    if row is None:
        raise NotFound(f"no gift card or store credit has the code {code}; check the code on the card", field=field)
    if kind is not None and row["kind"] != kind:
        raise ValidationError(f"{code} is a {row['kind'].replace('_', ' ')}, not a {kind.replace('_', ' ')}; "
                              "pick the matching tender", field=field)
    try:
        after = check_movement(balance_of(conn, code), amount_minor, actor, code, currency)
    except BackroomError as exc:
        if exc.field == "amount_minor" and field.endswith(".reference"):  # a sale tender: name its amount
            exc.field = field.removesuffix(".reference") + ".amount_minor"
        raise
    conn.execute("INSERT INTO stored_value_movements (code, kind, amount_minor, balance_minor, actor, sale_id, "
                 "return_id, request_id, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (code, movement, amount_minor, after, actor, sale_id, return_id, request_id, note, at))
    events.append_event(conn, "stored_value.moved", {
        "code": code, "account_kind": row["kind"], "movement": movement, "amount_minor": amount_minor,
        "balance_minor": after, "actor": actor, "sale_id": sale_id, "return_id": return_id, "note": note}, at)
    return after


def redeem_tenders(conn: sqlite3.Connection, sale_id: str, tenders: Iterable[Tender], actor: str, at: str,
                   currency: str = "") -> None:
    """Debit every gift card and store credit tender of a sale, in the sale's transaction."""
    for i, t in enumerate(tenders):
        if t.kind in STORED_VALUE_KINDS:
            move(conn, t.reference, "redeem", -t.amount_minor, actor, at, kind=t.kind, sale_id=sale_id,
                 field=f"tenders[{i}].reference", currency=currency)


def credit_back(conn: sqlite3.Connection, refunds: Iterable[dict[str, Any]], actor: str, at: str, *,
                return_id: str | None = None, sale_id: str | None = None) -> None:
    """Credit the accounts a return or a post-void pays back to (refunds of kind gift_card/store_credit)."""
    for f in refunds:
        if f["kind"] in STORED_VALUE_KINDS and f["amount_minor"] > 0:
            move(conn, f["reference"], "refund" if return_id else "void", f["amount_minor"], actor, at,
                 kind=f["kind"], sale_id=sale_id, return_id=return_id)


class StoredValue:
    def __init__(self, db: Database, clock: Clock = system_clock, currency: str = "") -> None:
        self.db = db
        self.clock = clock
        self.currency = currency

    def account(self, code: str) -> dict[str, Any]:
        code = _code(code)
        conn = self.db.conn
        row = conn.execute("SELECT * FROM stored_value_accounts WHERE code = ?", (code,)).fetchone()
        if row is None:
            raise NotFound(f"no gift card or store credit has the code {code}; check the code on the card",
                           field="code")
        moves = [dict(r) for r in conn.execute(
            "SELECT id, kind, amount_minor, balance_minor, actor, sale_id, return_id, note, created_at "
            "FROM stored_value_movements WHERE code = ? ORDER BY id DESC LIMIT ?", (code, RECENT))]
        return {"code": code, "kind": row["kind"], "balance_minor": balance_of(conn, code), "currency": self.currency,
                "created_at": row["created_at"], "created_by": row["created_by"], "note": row["note"],
                "movements": moves}

    def issue(self, body: Any, actor: str) -> dict[str, Any]:
        """A new gift card or store credit with its first amount: {kind, amount_minor, code?, note?}."""
        if not isinstance(body, dict) or set(body) - {"kind", "amount_minor", "code", "note"}:
            raise ValidationError("send {kind: gift_card or store_credit, amount_minor, code (optional), note}")
        kind = body.get("kind")
        if kind not in STORED_VALUE_KINDS:
            raise ValidationError(f"kind must be one of {', '.join(STORED_VALUE_KINDS)}, got {kind!r}", field="kind")
        amount, note = _amount(body.get("amount_minor")), _note(body)
        code = _code(body["code"]) if "code" in body else new_code(kind)
        at = iso(self.clock())
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM stored_value_accounts WHERE code = ?", (code,)).fetchone():
                raise Conflict(f"{code} is already issued; top it up instead", field="code", code="already_issued")
            conn.execute("INSERT INTO stored_value_accounts (code, kind, created_by, created_at, note) "
                         "VALUES (?, ?, ?, ?, ?)", (code, kind, actor, at, note))
            move(conn, code, "issue", amount, actor, at, note=note, currency=self.currency)
        return self.account(code)

    def top_up(self, code: str, body: Any, actor: str) -> dict[str, Any]:
        """Add to an account: {id (the client's UUID, so a retry counts once), amount_minor, note?}."""
        code = _code(code)
        if not isinstance(body, dict) or set(body) - {"id", "amount_minor", "note"}:
            raise ValidationError("send {id, amount_minor, note}")
        request_id = body.get("id")
        if not isinstance(request_id, str) or not 8 <= len(request_id) <= 64:
            raise ValidationError("id must be the top-up's client-made id (a UUID): a retry then counts once",
                                  field="id")
        amount, note = _amount(body.get("amount_minor")), _note(body)
        with self.db.write() as conn:
            seen = conn.execute("SELECT code, amount_minor FROM stored_value_movements WHERE request_id = ?",
                                (request_id,)).fetchone()
            if seen is not None and (seen["code"], seen["amount_minor"]) != (code, amount):
                raise Conflict(f"top-up {request_id} was already made with other details; make a new id",
                               field="id", code="idempotency_conflict")
            if seen is None:
                move(conn, code, "top_up", amount, actor, iso(self.clock()), note=note, request_id=request_id,
                     currency=self.currency)
        return self.account(code)

