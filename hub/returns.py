"""The till's way back: a sale as a register sees it later, post-voids and returns.

A post-void undoes a whole sale that nothing was returned from: its moves restore exactly what
the sale took, and the sale keeps its row with who voided it and why.

A return with a receipt is priced by hub.domain.returns from the sale's lines and refunds the
sale's tenders in the proportions they paid, net of change. Without a receipt, or above
store.return_approval_minor, a manager or owner must make it and is recorded as approved_by.
Returned stock goes to the location of its condition code. The check against what was already
returned and the write happen in one write transaction, so two tills cannot return the same
units twice.

An exchange is two documents, the return first: a return recorded with exchange: true holds its
whole refund as unspent exchange credit (a refund of kind 'exchange_credit', reference the return's
id) and pays nothing out. The replacement sale then pays with a tender of kind 'exchange' naming
that return: in the sale's own transaction (spend_credit) the return must exist, be this register's,
and hold unspent credit covering the tender; one sale spends it, whatever that sale does not use is
refunded at once by the usual rules, and a sale.exchanged event names both. A later return of a
sale paid with exchange credit never pays that share out as cash: it goes to a new store credit.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any

from hub import stored_value
from hub.approvals import require_approval
from hub.clock import iso
from hub.domain import kits
from hub.domain.money import format_minor, tax_included
from hub.domain.returns import (
    ReturnRequestLine,
    SoldLine,
    needs_manager,
    refund_lines,
    split_refund,
)
from hub.errors import Conflict, Forbidden, NotFound, UnprocessableError, ValidationError
from hub.ledger import Ledger, text, whole
from hub.store import Store, canonical_hash

RECEIPT_CODE = re.compile(r"^S(\d{1,12})$", re.IGNORECASE)
APPROVERS = ("manager", "owner")
MAX_LINES = 500
MAX_MINOR = 10**10
_TOP = {"id", "register_id", "sale_id", "receipt_code", "lines", "exchange", "exchange_sale_id", "approval"}
_WITH_RECEIPT = {"sale_line_no", "qty", "reason", "condition", "note"}
_WITHOUT_RECEIPT = {"sku", "qty", "amount_minor", "reason", "condition", "note"}
EXCHANGE_LINE = 0  # return_refunds.line_no of an exchange credit; a tender refund uses its sale tender's line_no
CREDIT = "exchange_credit"  # the refund kind a return holds for its replacement sale


def receipt_number(code: str) -> int:
    """'S00000012' as printed on a receipt -> sale number 12."""
    found = RECEIPT_CODE.match(code.strip())
    if not found:
        raise ValidationError(f"{code!r} is not a receipt code; it reads like S00000012", field="receipt_code")
    return int(found.group(1))


def net_tenders(tenders: list[sqlite3.Row], change_minor: int) -> list[dict[str, Any]]:
    """What each tender paid once change is given back: change comes out of the last cash tenders."""
    out = [{"line_no": t["line_no"], "kind": t["kind"], "amount_minor": t["amount_minor"],
            "reference": t["reference"]} for t in tenders]
    for tender in reversed(out):
        if tender["kind"] == "cash" and change_minor:
            back = min(change_minor, tender["amount_minor"])
            tender["amount_minor"] -= back
            change_minor -= back
    return out


def _str(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise ValidationError(f"{field} must be text of 1-64 characters, got {value!r}", field=field)
    return value.strip()


def _uuid(value: Any, field: str) -> str:
    try:
        return str(uuid.UUID(_str(value, field)))
    except ValueError:
        raise ValidationError(f"{field} {value!r} is not a UUID; the register makes one per return",
                              field=field) from None


class ReturnsDesk:
    def __init__(self, store: Store, ledger: Ledger, approval_minor: int) -> None:
        self.store = store
        self.ledger = ledger
        self.db = store.db
        self.approval_minor = approval_minor

    # -- reading -----------------------------------------------------------------------------
    def sale(self, sale_id: str) -> dict[str, Any]:
        return self._view(self.db.conn, self._sale_row(self.db.conn, sale_id, None, NotFound))

    def sale_by_receipt(self, code: str) -> dict[str, Any]:
        return self._view(self.db.conn, self._sale_row(self.db.conn, None, code, NotFound))

    @staticmethod
    def _sale_row(conn: sqlite3.Connection, sale_id: Any, code: Any,
                  missing: type[NotFound] | type[UnprocessableError] = UnprocessableError) -> sqlite3.Row:
        if code is not None:
            field, row = "receipt_code", conn.execute("SELECT * FROM sales WHERE number = ?",
                                                      (receipt_number(_str(code, "receipt_code")),)).fetchone()
        else:
            field, row = "sale_id", conn.execute("SELECT * FROM sales WHERE id = ?", (sale_id,)).fetchone()
        if row is None:
            raise missing(f"no sale has {field} {code if code is not None else sale_id}; check the receipt", field=field)
        result: sqlite3.Row = row
        return result

    def _view(self, conn: sqlite3.Connection, sale: sqlite3.Row) -> dict[str, Any]:
        voided = sale["voided_at"] is not None
        lines = [{"line_no": r["line_no"], "sku": r["sku"], "name": r["name"], "unit": r["unit"], "qty": r["qty"],
                  "unit_price_minor": r["unit_price_minor"], "total_minor": r["total_minor"], "tax_minor": r["tax_minor"],
                  "returned_qty": r["returned"], "refunded_minor": r["refunded"],
                  "returnable_qty": 0 if voided else r["qty"] - r["returned"]}
                 for r in conn.execute(
                     "SELECT l.*, coalesce(sum(r.qty), 0) AS returned, coalesce(sum(r.amount_minor), 0) AS refunded "
                     "FROM sale_lines l LEFT JOIN return_lines r ON r.sale_id = l.sale_id AND r.sale_line_no = l.line_no "
                     "WHERE l.sale_id = ? GROUP BY l.line_no ORDER BY l.line_no", (sale["id"],))]
        tenders = conn.execute("SELECT * FROM sale_tenders WHERE sale_id = ? ORDER BY line_no", (sale["id"],)).fetchall()
        returns = [dict(r) for r in conn.execute(
            "SELECT id, number, total_minor, exchange_sale_id, created_at FROM returns WHERE sale_id = ? ORDER BY number",
            (sale["id"],))]
        exchange_for = conn.execute("SELECT id FROM returns WHERE exchange_sale_id = ?", (sale["id"],)).fetchone()
        # what this sale left of its exchange credit, refunded when it was made
        rest = [dict(r) for r in conn.execute(
            "SELECT f.kind, f.amount_minor, f.reference FROM return_refunds f JOIN returns r ON r.id = f.return_id "
            "WHERE r.exchange_sale_id = ? AND f.kind <> ? ORDER BY r.number, f.line_no", (sale["id"], CREDIT))]
        return {"id": sale["id"], "number": sale["number"], "receipt_code": f"S{sale['number']:08d}",
                "register_id": sale["register_id"], "actor": sale["actor"], "currency": sale["currency"],
                "created_at": sale["created_at"], "total_minor": sale["total_minor"], "tax_minor": sale["tax_minor"],
                "tendered_minor": sale["tendered_minor"], "change_minor": sale["change_minor"], "lines": lines,
                "tenders": [{"kind": t["kind"], "amount_minor": t["amount_minor"], "reference": t["reference"]}
                            for t in tenders],
                "voided": {"at": sale["voided_at"], "by": sale["voided_by"], "reason": sale["void_reason"]} if voided else None,
                "returns": returns, "exchange_for_return": exchange_for[0] if exchange_for else None,
                "exchange_refunds": rest}

    # -- post-void ---------------------------------------------------------------------------
    def void(self, sale_id: str, body: Any, actor: str,
             approve: Callable[[sqlite3.Connection], None] | None = None) -> dict[str, Any]:
        """Undo a whole sale: restore what its moves took, keep the sale marked voided.

        approve: spends a cashier's manager approval in the void's transaction, so a failed void keeps it."""
        if not isinstance(body, dict) or set(body) - {"reason"}:
            raise ValidationError('send {"reason": "why the sale is voided"}', field="reason")
        reason = text(body.get("reason"), "reason")
        if not reason:
            raise ValidationError("a void needs a reason saying why", field="reason")
        with self.db.write() as conn:
            if approve is not None:
                approve(conn)
            sale = self._sale_row(conn, sale_id, None, NotFound)
            if sale["voided_at"] is not None:
                raise Conflict(f"sale {sale['number']} was already voided by {sale['voided_by']} at {sale['voided_at']}",
                               field="id", code="already_voided")
            if conn.execute("SELECT 1 FROM returns WHERE sale_id = ?", (sale_id,)).fetchone():
                raise UnprocessableError("part of this sale was returned; return the rest instead", field="id")
            exchange = conn.execute("SELECT number FROM returns WHERE exchange_sale_id = ?", (sale_id,)).fetchone()
            if exchange:
                raise UnprocessableError(f"this sale is the exchange for return {exchange[0]}; return its items instead",
                                         field="id")
            taken = conn.execute("SELECT sku, location, qty FROM stock_moves WHERE doc_type = 'sale' AND doc_id = ? "
                                 "ORDER BY id", (sale_id,)).fetchall()
            moves = [self.ledger._move(conn, m["sku"], m["location"], -m["qty"], "void", actor, "void", "void", sale_id,
                                       i, reason) for i, m in enumerate(taken, start=1)]
            # the void's cash leaves the drawer of the shift open now: its Z report counts it (hub.shifts)
            conn.execute("UPDATE sales SET voided_at = ?, voided_by = ?, void_reason = ?, voided_shift_id = ("
                         "SELECT id FROM shifts WHERE register_id = ? AND closed_at IS NULL) WHERE id = ?",
                         (iso(self.store.clock()), actor, reason, sale["register_id"], sale_id))
            tenders = net_tenders(conn.execute("SELECT * FROM sale_tenders WHERE sale_id = ? ORDER BY line_no",
                                               (sale_id,)).fetchall(), sale["change_minor"])
            stored_value.credit_back(conn, tenders, actor, iso(self.store.clock()), sale_id=sale_id)
            self.store.append_event(conn, "sale.voided", {"id": sale_id, "number": sale["number"], "reason": reason,
                                                          "by": actor, "tenders_reversed": tenders, "move_ids": moves})
            return {**self._view(conn, self._sale_row(conn, sale_id, None)), "tenders_reversed": tenders}

    # -- returns -----------------------------------------------------------------------------
    def record(self, body: Any, actor: str, role: str) -> tuple[dict[str, Any], bool]:
        """Record a return; (answer, created). The same id and body again answers the first return."""
        if not isinstance(body, dict):
            raise ValidationError("the body must be a JSON object {id, register_id, sale_id or receipt_code, lines}")
        unknown = sorted(set(body) - _TOP)
        if unknown:
            raise ValidationError(f"unknown field {unknown[0]!r}; allowed: {', '.join(sorted(_TOP))}", field=unknown[0])
        return_id = _uuid(body.get("id"), "id")
        if "sale_id" in body and "receipt_code" in body:
            raise ValidationError("give sale_id or receipt_code, not both", field="receipt_code")
        lines = body.get("lines")
        if not isinstance(lines, list) or not lines or len(lines) > MAX_LINES:
            raise ValidationError(f"lines must be a list of 1-{MAX_LINES} items coming back", field="lines")
        allowed = _WITH_RECEIPT if "sale_id" in body or "receipt_code" in body else _WITHOUT_RECEIPT
        for i, line in enumerate(lines):
            if not isinstance(line, dict) or set(line) - allowed:
                raise ValidationError(f"lines[{i}] must be an object with {', '.join(sorted(allowed))}", field=f"lines[{i}]")
        if "exchange_sale_id" in body:
            raise ValidationError("record the return first with exchange: true, then the replacement sale pays with an "
                                  "exchange tender naming the return's id", field="exchange_sale_id")
        if not isinstance(body.get("exchange", False), bool):
            raise ValidationError("exchange must be true (the refund pays the replacement sale) or false",
                                  field="exchange")
        request_hash = canonical_hash(body)
        return self.db.transact(lambda conn: self._record(conn, return_id, body, request_hash, actor, role))

    def _record(self, conn: sqlite3.Connection, return_id: str, body: dict[str, Any], request_hash: str, actor: str,
                role: str) -> tuple[dict[str, Any], bool]:
        row = conn.execute("SELECT request_hash, response FROM returns WHERE id = ?", (return_id,)).fetchone()
        if row is not None:
            if row["request_hash"] != request_hash:
                raise Conflict(f"return {return_id} was already recorded with a different body; make a new id for a "
                               "new return", field="id", code="idempotency_conflict")
            return json.loads(row["response"]), False
        register_id = _str(body.get("register_id"), "register_id")
        if not conn.execute("SELECT 1 FROM registers WHERE id = ?", (register_id,)).fetchone():
            raise UnprocessableError(f"register {register_id!r} does not exist", field="register_id")
        sale = None
        if "sale_id" in body or "receipt_code" in body:
            sale = self._sale_row(conn, body.get("sale_id"), body.get("receipt_code"))
            if sale["voided_at"] is not None:
                raise UnprocessableError(f"sale {sale['number']} was voided; nothing on it can be returned", field="sale_id")
            lines = self._priced_from_sale(conn, sale, body["lines"])
        else:
            lines = self._priced_without_receipt(conn, body["lines"])
        total, tax = sum(ln["amount_minor"] for ln in lines), sum(ln["tax_minor"] for ln in lines)
        approved_by = self._approval(sale is not None, total, actor, role, conn, body.get("approval"), return_id)
        exchange = body.get("exchange") is True
        refunds = ([{"line_no": EXCHANGE_LINE, "kind": CREDIT, "amount_minor": total, "reference": return_id}]
                   if exchange else self._refunds(conn, sale, total))
        number = conn.execute("SELECT coalesce(max(number), 0) + 1 FROM returns").fetchone()[0]
        created_at = iso(self.store.clock())
        answer = {"id": return_id, "number": number, "receipt_code": f"R{number:08d}",
                  "sale_id": sale["id"] if sale else None, "register_id": register_id, "lines": lines,
                  "refunds": [{k: f[k] for k in ("kind", "amount_minor", "reference")} for f in refunds],
                  "total_minor": total, "tax_minor": tax, "approved_by": approved_by,
                  "exchange_sale_id": None, "created_at": created_at}
        response = json.dumps(answer, separators=(",", ":"))
        conn.execute("INSERT INTO returns (id, number, sale_id, register_id, actor, approved_by, exchange_sale_id, "
                     "total_minor, tax_minor, created_at, request_hash, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (return_id, number, answer["sale_id"], register_id, actor, approved_by, answer["exchange_sale_id"],
                      total, tax, created_at, request_hash, response))
        for ln in lines:
            conn.execute("INSERT INTO return_lines (return_id, line_no, sale_id, sale_line_no, sku, qty, amount_minor, "
                         "tax_minor, reason, condition, location, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (return_id, ln["line_no"], answer["sale_id"], ln["sale_line_no"], ln["sku"], ln["qty"],
                          ln["amount_minor"], ln["tax_minor"], ln["reason"], ln["condition"], ln["location"], ln["note"]))
            for sku, qty in self._stock_back(conn, ln["sku"], ln["qty"]):
                self.ledger._move(conn, sku, ln["location"], qty, "return", actor, ln["reason"], "return", return_id,
                                  ln["line_no"], ln["note"], register_id)
        self._pay_out(conn, return_id, answer["sale_id"], refunds, actor, created_at)
        self.store.append_event_json(conn, "return.recorded", response)
        return answer, True

    def _pay_out(self, conn: sqlite3.Connection, return_id: str, sale_id: str | None, refunds: list[dict[str, Any]],
                 actor: str, at: str) -> None:
        """Write a return's refunds: a new store credit opened for each that needs one, accounts credited."""
        for f in refunds:
            if f.pop("new_account", False):
                conn.execute("INSERT INTO stored_value_accounts (code, kind, created_by, created_at, note) "
                             "VALUES (?, 'store_credit', ?, ?, ?)",
                             (f["reference"], actor, at, f"exchange credit refunded by return {return_id}"))
        conn.executemany("INSERT INTO return_refunds (return_id, line_no, kind, amount_minor, reference) "
                         "VALUES (?, ?, ?, ?, ?)",
                         [(return_id, f["line_no"], f["kind"], f["amount_minor"], f["reference"]) for f in refunds])
        stored_value.credit_back(conn, refunds, actor, at, return_id=return_id, sale_id=sale_id)

    # -- exchange credit ---------------------------------------------------------------------
    def refund_credit(self, return_id: str, actor: str) -> dict[str, Any]:
        """The exchange did not happen: refund a return's unspent credit by the usual rules, once."""
        with self.db.write() as conn:
            ret = conn.execute("SELECT * FROM returns WHERE id = ?", (return_id,)).fetchone()
            if ret is None:
                raise NotFound(f"no return has the id {return_id}", field="id")
            credit = self._unspent(conn, ret, "id")
            at = iso(self.store.clock())
            refunds = self._refunds(conn, self._sale_row(conn, ret["sale_id"], None) if ret["sale_id"] else None, credit)
            self._pay_out(conn, return_id, ret["sale_id"], refunds, actor, at)
            refunds = [{k: f[k] for k in ("kind", "amount_minor", "reference")} for f in refunds]
            self.store.append_event(conn, "return.credit_refunded", {
                "id": return_id, "number": ret["number"], "sale_id": ret["sale_id"], "refunds": refunds, "by": actor})
            return {"id": return_id, "number": ret["number"], "refunds": refunds}

    @staticmethod
    def _unspent(conn: sqlite3.Connection, ret: sqlite3.Row, field: str) -> int:
        """The exchange credit a return still holds: all of it, or 422 when it holds none, or it was spent or refunded."""
        credit = int(conn.execute("SELECT coalesce(sum(amount_minor), 0) FROM return_refunds WHERE return_id = ? "
                                  "AND kind = ?", (ret["id"], CREDIT)).fetchone()[0])
        if not credit:
            raise UnprocessableError(f"return {ret['number']} was refunded, not kept as exchange credit",
                                     field=field, code="no_exchange_credit")
        # where the credit went, named: a register's queued exchange refused for it is settled from this
        if ret["exchange_sale_id"] is not None:
            number = conn.execute("SELECT number FROM sales WHERE id = ?", (ret["exchange_sale_id"],)).fetchone()[0]
            raise UnprocessableError(f"the exchange credit of return {ret['number']} was already spent by sale "
                                     f"S{number:08d}", field=field, code="no_exchange_credit")
        paid = conn.execute("SELECT kind, amount_minor FROM return_refunds WHERE return_id = ? AND kind <> ? "
                            "ORDER BY line_no", (ret["id"], CREDIT)).fetchall()
        if paid:
            how = ", ".join(f"{r[0].replace('_', ' ')} {format_minor(r[1], '').strip()}" for r in paid)
            raise UnprocessableError(f"the exchange credit of return {ret['number']} was refunded already ({how})",
                                     field=field, code="no_exchange_credit")
        return credit

    def spend_credit(self, conn: sqlite3.Connection, sale_id: str, register_id: str, tenders: list[Any], actor: str,
                     at: str) -> None:
        """In a sale's transaction: its `exchange` tenders spend the unspent credit of the returns they name.

        A return's credit pays one sale, of the register that recorded the return; the part that sale
        does not use is refunded now by the usual rules (its tenders, or cash without a receipt).
        """
        spent: dict[str, int] = {}
        for i, t in enumerate(tenders):
            if t.kind == "exchange":
                spent[t.reference] = spent.get(t.reference, 0) + t.amount_minor
                at_field = f"tenders[{i}].reference"
                ret = conn.execute("SELECT * FROM returns WHERE id = ?", (t.reference,)).fetchone()
                if ret is None:
                    raise UnprocessableError(f"no return {t.reference} was recorded: record the return with exchange: "
                                             "true first, then pay with its credit", field=at_field,
                                             code="no_exchange_credit")
                if ret["register_id"] != register_id:
                    raise UnprocessableError(f"return {ret['number']} was recorded at register {ret['register_id']}; "
                                             "its exchange credit pays a sale there", field=at_field,
                                             code="no_exchange_credit")
                credit = self._unspent(conn, ret, at_field)
                if spent[t.reference] > credit:
                    raise UnprocessableError(
                        f"return {ret['number']} holds {format_minor(credit, '').strip()} of exchange credit, less than "
                        f"the {format_minor(spent[t.reference], '').strip()} asked; take the rest with another tender",
                        field=f"tenders[{i}].amount_minor", code="insufficient_balance")
        for return_id, amount in spent.items():
            ret = conn.execute("SELECT * FROM returns WHERE id = ?", (return_id,)).fetchone()
            conn.execute("UPDATE returns SET exchange_sale_id = ? WHERE id = ?", (sale_id, return_id))
            credit = conn.execute("SELECT sum(amount_minor) FROM return_refunds WHERE return_id = ? AND kind = ?",
                                  (return_id, CREDIT)).fetchone()[0]
            original = self._sale_row(conn, ret["sale_id"], None) if ret["sale_id"] else None
            rest = self._refunds(conn, original, credit - amount) if credit > amount else []
            self._pay_out(conn, return_id, ret["sale_id"], rest, actor, at)
            self.store.append_event(conn, "sale.exchanged", {
                "id": sale_id, "return_id": return_id, "return_number": ret["number"],
                "original_sale_id": ret["sale_id"], "credit_minor": amount,
                "refunds": [{k: f[k] for k in ("kind", "amount_minor", "reference")} for f in rest]})

    def _codes(self, conn: sqlite3.Connection, kind: str) -> list[str]:
        return [r[0] for r in conn.execute("SELECT code FROM reason_codes WHERE kind = ? ORDER BY code", (kind,))]

    def _placed(self, conn: sqlite3.Connection, i: int, reason: Any, condition: Any, note: str) -> str:
        """Check the store's codes (a code may need a note); the location the condition sends stock to."""
        self.ledger.reason(conn, "return", reason, note, f"lines[{i}].reason")
        where = self.ledger.reason(conn, "condition", condition, note, f"lines[{i}].condition")["location"]
        return self.ledger.location(conn, where, f"lines[{i}].condition")

    def _priced_from_sale(self, conn: sqlite3.Connection, sale: sqlite3.Row, raw: list[Any]) -> list[dict[str, Any]]:
        sold = [SoldLine(r["line_no"], r["sku"], r["qty"], r["total_minor"], r["tax_minor"], r["returned"])
                for r in conn.execute("SELECT l.line_no, l.sku, l.qty, l.total_minor, l.tax_minor, coalesce(("
                                      "SELECT sum(qty) FROM return_lines r WHERE r.sale_id = l.sale_id AND "
                                      "r.sale_line_no = l.line_no), 0) AS returned FROM sale_lines l WHERE l.sale_id = ? "
                                      "ORDER BY l.line_no", (sale["id"],))]
        wanted = [ReturnRequestLine(whole(ln.get("sale_line_no"), f"lines[{i}].sale_line_no"), ln.get("qty"),
                                    ln.get("reason"), ln.get("condition"), text(ln.get("note"), f"lines[{i}].note"))
                  for i, ln in enumerate(raw)]
        priced = refund_lines(sold, wanted, self._codes(conn, "return"), self._codes(conn, "condition"))
        names = dict(conn.execute("SELECT line_no, name FROM sale_lines WHERE sale_id = ?", (sale["id"],)).fetchall())
        return [{"line_no": i, "sale_line_no": p.sale_line_no, "sku": p.sku, "name": names[p.sale_line_no], "qty": p.qty,
                 "amount_minor": p.amount_minor, "tax_minor": p.tax_minor, "reason": p.reason, "condition": p.condition,
                 "location": self._placed(conn, i - 1, p.reason, p.condition, p.note), "note": p.note}
                for i, p in enumerate(priced, start=1)]

    def _priced_without_receipt(self, conn: sqlite3.Connection, raw: list[Any]) -> list[dict[str, Any]]:
        lines = []
        for i, ln in enumerate(raw):
            item = self.ledger.item(conn, ln.get("sku"), f"lines[{i}].sku")
            qty = whole(ln.get("qty"), f"lines[{i}].qty")
            amount = whole(ln.get("amount_minor"), f"lines[{i}].amount_minor", 0, MAX_MINOR)
            note = text(ln.get("note"), f"lines[{i}].note")
            where = self._placed(conn, i, ln.get("reason"), ln.get("condition"), note)
            rate = conn.execute("SELECT t.rate_bp FROM items i JOIN tax_categories t ON t.id = i.tax_category "
                                "WHERE i.sku = ?", (item["sku"],)).fetchone()[0]
            lines.append({"line_no": i + 1, "sale_line_no": None, "sku": item["sku"], "name": item["name"], "qty": qty,
                          "amount_minor": amount, "tax_minor": tax_included(amount, rate), "reason": ln["reason"],
                          "condition": ln["condition"], "location": where, "note": note})
        return lines

    def _approval(self, has_receipt: bool, total: int, actor: str, role: str, conn: sqlite3.Connection | None = None,
                  token: Any = None, return_id: str = "") -> str | None:
        """Who approved: the manager making it, or the one whose approval token (hub.approvals) a cashier sends,
        given for action return_without_receipt (or refund) with details {return_id, total_minor}."""
        if not needs_manager(has_receipt, total, self.approval_minor):
            return None
        if role not in APPROVERS and token is not None and conn is not None:
            return require_approval(conn, token, "refund" if has_receipt else "return_without_receipt",
                                    {"return_id": return_id, "total_minor": total}, actor, now=self.store.clock())
        if role not in APPROVERS:
            why = ("it has no receipt" if not has_receipt else
                   f"it refunds {format_minor(total, '').strip()}, above the "
                   f"{format_minor(self.approval_minor, '').strip()} a cashier may refund")
            raise Forbidden(f"a manager must approve this return: {why}; ask a manager to make it", code="needs_manager")
        return actor

    def _refunds(self, conn: sqlite3.Connection, sale: sqlite3.Row | None, total: int) -> list[dict[str, Any]]:
        """A refund of total to the sale's tenders (cash without a receipt), over what each has left to give back."""
        if sale is None:
            return [{"line_no": 1, "kind": "cash", "amount_minor": total, "reference": ""}] if total else []
        before = dict(conn.execute(
            "SELECT f.line_no, sum(f.amount_minor) FROM return_refunds f JOIN returns r ON r.id = f.return_id "
            "WHERE r.sale_id = ? AND f.kind NOT IN ('exchange', ?) GROUP BY f.line_no", (sale["id"], CREDIT)).fetchall())
        tenders = net_tenders(conn.execute("SELECT * FROM sale_tenders WHERE sale_id = ? ORDER BY line_no",
                                           (sale["id"],)).fetchall(), sale["change_minor"])
        # Split what each tender has left to give back, so no tender ever refunds more than it paid.
        left = [(t["kind"], t["amount_minor"] - before.get(t["line_no"], 0)) for t in tenders]
        parts = split_refund(total, left)
        # An exchange tender's part was a return's refund already: it goes to a new store credit, never out as cash.
        return [{**t, "amount_minor": part, **({"kind": "store_credit", "reference": stored_value.new_code("store_credit"),
                                                "new_account": True} if t["kind"] == "exchange" else {})}
                for t, (_, part) in zip(tenders, parts, strict=True) if part]

    @staticmethod
    def _stock_back(conn: sqlite3.Connection, sku: str, qty: int) -> list[tuple[str, int]]:
        """What a returned line puts back: a kit sold from its components returns its components."""
        row = conn.execute("SELECT kit_policy FROM items WHERE sku = ?", (sku,)).fetchone()
        if row is None or not row[0]:
            return [(sku, qty)]
        parts = dict(conn.execute("SELECT component_sku, qty FROM kit_components WHERE kit_sku = ?", (sku,)).fetchall())
        return kits.stock_effect(sku, row[0], qty, parts)
