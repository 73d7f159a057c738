"""Shifts at a register: opened with a counted float, closed with a cash count; the Z report is
made at close from the shift's own sales and returns, kept unchanged in z_reports, sent to the
cloud as shift.closed, and printed on the register's receipt printer."""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from typing import Any

from hub import cash_movements, events
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.domain import zreport
from hub.domain.money import format_minor
from hub.errors import BackroomError, Conflict, Forbidden, NotFound, ValidationError
from hub.print_queue import PrintQueue

log = logging.getLogger(__name__)

MAX_CASH_MINOR = 10**9
_SHIFT_COLUMNS = ("id, number, register_id, opened_at, opened_by, float_minor, closed_at, closed_by, counted_minor, "
                  "counted_detail")


def _amount(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_CASH_MINOR:
        raise ValidationError(f"{field} is the counted cash in minor units (cents), a whole number from 0",
                              field=field)
    return value


def _denominations(raw: Any) -> list[dict[str, int]] | None:
    """[{value_minor, count}] as counted; the total must then agree with counted_minor."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(d, dict) for d in raw):
        raise ValidationError("denominations is a list of {value_minor, count}", field="denominations")
    out = []
    for i, d in enumerate(raw):
        value, count = d.get("value_minor"), d.get("count")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (value, count)) or not value:
            raise ValidationError(f"denominations[{i}] needs value_minor > 0 and count >= 0",
                                  field=f"denominations[{i}]")
        out.append({"value_minor": value, "count": count})
    return out


class Shifts:
    def __init__(self, db: Database, print_queue: PrintQueue, currency: str, clock: Clock = system_clock) -> None:
        self.db = db
        self.print_queue = print_queue
        self.currency = currency
        self.clock = clock

    def open(self, register_id: str, body: Any, actor: str) -> dict[str, Any]:
        if not isinstance(body, dict) or set(body) - {"float_minor"}:
            raise ValidationError("send {float_minor}: the cash counted into the drawer", field="float_minor")
        float_minor = _amount(body.get("float_minor"), "float_minor")
        now = iso(self.clock())
        shift_id = str(uuid.uuid4())
        with self.db.write() as conn:
            if not conn.execute("SELECT 1 FROM registers WHERE id = ?", (register_id,)).fetchone():
                raise NotFound(f"register {register_id!r} does not exist", field="register_id")
            if conn.execute("SELECT 1 FROM shifts WHERE register_id = ? AND closed_at IS NULL",
                            (register_id,)).fetchone():
                raise Conflict(f"register {register_id} already has an open shift; close it first",
                               code="shift_open")
            number = conn.execute("SELECT coalesce(max(number), 0) + 1 FROM shifts").fetchone()[0]
            conn.execute("INSERT INTO shifts (id, number, register_id, opened_at, opened_by, float_minor) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (shift_id, number, register_id, now, actor, float_minor))
            events.append_event(conn, "shift.opened", {"id": shift_id, "number": number, "register_id": register_id,
                                                       "float_minor": float_minor, "by": actor}, now)
        return self.shift(shift_id)

    def shift(self, shift_id: str) -> dict[str, Any]:
        row = self.db.conn.execute(f"SELECT {_SHIFT_COLUMNS} FROM shifts WHERE id = ?", (shift_id,)).fetchone()
        if row is None:
            raise NotFound(f"no shift {shift_id!r}", field="shift_id")
        return _shift(row)

    def current(self, register_id: str) -> dict[str, Any] | None:
        row = self.db.conn.execute(f"SELECT {_SHIFT_COLUMNS} FROM shifts WHERE register_id = ? AND closed_at IS NULL",
                                   (register_id,)).fetchone()
        return _shift(row) if row else None

    def history(self, register_id: str, limit: int = 10) -> list[dict[str, Any]]:
        """The register's latest closed shifts, newest first, each with its kept Z report."""
        rows = self.db.conn.execute(
            "SELECT z.report FROM shifts h JOIN z_reports z ON z.shift_id = h.id WHERE h.register_id = ? "
            "ORDER BY h.number DESC LIMIT ?", (register_id, limit)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def require_open(self, register_id: Any) -> None:
        """A register's tablet sells only in an open shift."""
        if isinstance(register_id, str) and self.current(register_id) is None:
            raise Conflict(f"register {register_id} has no open shift; open one with the float counted into the "
                           "drawer", field="register_id", code="no_shift")

    def check_tablet_sale(self, body: Any, register_id: str) -> None:
        """A tablet's cashier sells at the tablet's own register, in an open shift; a replay of a
        sale already committed passes (its shift was settled when it was made), and so does an offline
        sale (booked into the shift open when it was made, hub.store, even if that shift closed since)."""
        if not isinstance(body, dict):
            return  # the sale's own parser says what is wrong
        if body.get("register_id") != register_id:
            raise Forbidden(f"this tablet is register {register_id}; sell there, not at {body.get('register_id')!r}",
                            field="register_id", code="other_register")
        sale_id = body.get("id")
        if isinstance(sale_id, str) and self.db.conn.execute("SELECT 1 FROM sales WHERE id = ?", (sale_id,)).fetchone():
            return
        if body.get("offline") is True:
            return
        self.require_open(register_id)

    def close(self, shift_id: str, body: Any, actor: str) -> dict[str, Any]:
        """Close with the cash count {counted_minor, denominations?}; returns the Z report."""
        if not isinstance(body, dict) or set(body) - {"counted_minor", "denominations"}:
            raise ValidationError("send {counted_minor, denominations?}", field="counted_minor")
        counted = _amount(body.get("counted_minor"), "counted_minor")
        detail = _denominations(body.get("denominations"))
        if detail is not None and sum(d["value_minor"] * d["count"] for d in detail) != counted:
            raise ValidationError("the denominations do not add up to counted_minor; count again",
                                  field="denominations")
        now = iso(self.clock())
        with self.db.write() as conn:
            cur = conn.execute("UPDATE shifts SET closed_at = ?, closed_by = ?, counted_minor = ?, counted_detail = ? "
                               "WHERE id = ? AND closed_at IS NULL",
                               (now, actor, counted, json.dumps(detail) if detail else None, shift_id))
            if cur.rowcount != 1:
                self.shift(shift_id)  # NotFound when there is no such shift
                raise Conflict(f"shift {shift_id} is closed already; its Z report is kept", code="shift_closed")
            row = conn.execute(f"SELECT {_SHIFT_COLUMNS} FROM shifts WHERE id = ?", (shift_id,)).fetchone()
            report = self._report(conn, _shift(row), counted)
            report["cash"]["denominations"] = detail
            text = json.dumps(report, separators=(",", ":"))
            conn.execute("INSERT INTO z_reports (shift_id, report, created_at) VALUES (?, ?, ?)", (shift_id, text, now))
            events.append_event_json(conn, "shift.closed", text, now)
        report["print_job"] = self._print(report, actor)
        return report

    def report(self, shift_id: str) -> dict[str, Any]:
        """The kept Z report of a closed shift, or an X report (figures so far) of an open one."""
        row = self.db.conn.execute("SELECT report FROM z_reports WHERE shift_id = ?", (shift_id,)).fetchone()
        if row is not None:
            kept: dict[str, Any] = json.loads(row[0])
            return kept
        return self._report(self.db.conn, self.shift(shift_id), None)

    def print_report(self, shift_id: str, actor: str) -> dict[str, Any]:
        job = self._print(self.report(shift_id), actor, fail=True)
        assert job is not None
        return job

    def _report(self, conn: sqlite3.Connection, shift: dict[str, Any], counted: int | None) -> dict[str, Any]:
        sid = shift["id"]
        tenders: dict[str, list[tuple[str, int]]] = {}
        for r in conn.execute("SELECT t.sale_id, t.kind, t.amount_minor FROM sale_tenders t JOIN sales s "
                              "ON s.id = t.sale_id WHERE s.shift_id = ? ORDER BY t.sale_id, t.line_no", (sid,)):
            tenders.setdefault(r[0], []).append((r[1], r[2]))
        lines: dict[str, list[tuple[int, int, int, int]]] = {}
        for r in conn.execute("SELECT l.sale_id, l.tax_rate_bp, l.total_minor, l.tax_minor, "
                              # breaks, line and cart discounts: every way a line sold below its price
                              "l.saving_minor + l.discount_minor + l.cart_discount_minor AS saving_minor "
                              "FROM sale_lines l JOIN sales s ON s.id = l.sale_id WHERE s.shift_id = ? "
                              "ORDER BY l.sale_id, l.line_no", (sid,)):
            lines.setdefault(r[0], []).append((r[1], r[2], r[3], r[4] or 0))
        # a sale is voided in this report when the void was in this shift (or, from before voids were
        # booked into shifts, in its own); voided later, it stays sold here and shows in the later report
        sales = [zreport.SaleFacts(r["total_minor"], r["tax_minor"], r["change_minor"],
                                   r["voided_at"] is not None and (r["voided_shift_id"] or sid) == sid,
                                   tuple(tenders.get(r["id"], ())), tuple(lines.get(r["id"], ())))
                 for r in conn.execute("SELECT id, total_minor, tax_minor, change_minor, voided_at, voided_shift_id "
                                       "FROM sales WHERE shift_id = ?", (sid,))]
        earlier = [zreport.SaleFacts(r["total_minor"], r["tax_minor"], r["change_minor"], True,
                                     tuple((t["kind"], t["amount_minor"]) for t in conn.execute(
                                         "SELECT kind, amount_minor FROM sale_tenders WHERE sale_id = ? ORDER BY line_no",
                                         (r["id"],))), ())
                   for r in conn.execute("SELECT id, total_minor, tax_minor, change_minor FROM sales "
                                         "WHERE voided_shift_id = ? AND shift_id IS NOT ?", (sid, sid))]
        refunds: dict[str, list[tuple[str, int]]] = {}
        for r in conn.execute("SELECT f.return_id, f.kind, f.amount_minor FROM return_refunds f JOIN returns r "
                              "ON r.id = f.return_id WHERE r.shift_id = ?", (sid,)):
            refunds.setdefault(r[0], []).append((r[1], r[2]))
        returns = [zreport.ReturnFacts(r["total_minor"], r["tax_minor"], tuple(refunds.get(r["id"], ())))
                   for r in conn.execute("SELECT id, total_minor, tax_minor FROM returns WHERE shift_id = ?", (sid,))]
        paid_in, paid_out, moved = cash_movements.totals(conn, sid)
        report = zreport.build(shift, sales, returns, counted, paid_in, paid_out, earlier_voids=earlier,
                               late_offline=self._late_offline(conn, shift))
        report["cash"]["movements"] = [{k: m[k] for k in ("kind", "amount_minor", "reason", "actor", "approver",
                                                          "created_at")} for m in moved]
        report["currency"] = self.currency
        return report

    @staticmethod
    def _late_offline(conn: sqlite3.Connection, shift: dict[str, Any]) -> list[dict[str, Any]]:
        """Offline sales that reached the hub after their own shift's Z report was closed, while this
        shift was the register's next: that report is kept unchanged, so this one notes them."""
        before = conn.execute("SELECT max(closed_at) FROM shifts WHERE register_id = ? AND number < ?",
                              (shift["register_id"], shift["number"])).fetchone()[0]
        rows = conn.execute(
            "SELECT s.id, s.number, s.total_minor, s.change_minor, o.recorded_at, h.number AS shift_number "
            "FROM offline_sales o JOIN sales s ON s.id = o.sale_id JOIN shifts h ON h.id = s.shift_id "
            "WHERE h.register_id = ? AND h.id <> ? AND h.closed_at <= o.received_at AND o.received_at > ? "
            "AND (? IS NULL OR o.received_at <= ?) ORDER BY s.number",
            (shift["register_id"], shift["id"], before or "", shift["closed_at"], shift["closed_at"])).fetchall()
        out = []
        for r in rows:
            tenders = tuple((t[0], t[1]) for t in conn.execute(
                "SELECT kind, amount_minor FROM sale_tenders WHERE sale_id = ? ORDER BY line_no", (r["id"],)))
            cash = sum(a for k, a in zreport.net_tenders(tenders, r["change_minor"]) if k == "cash")
            out.append({"id": r["id"], "number": r["number"], "shift_number": r["shift_number"],
                        "recorded_at": r["recorded_at"], "total_minor": r["total_minor"], "cash_minor": cash})
        return out

    def _print(self, report: dict[str, Any], actor: str, fail: bool = False) -> dict[str, Any] | None:
        register_id = report["shift"]["register_id"]
        device_id = self.print_queue.plan_receipt(register_id)["device_id"]
        if device_id is None:
            if fail:
                raise Conflict(f"register {register_id} has no receipt printer; bind one on the status page",
                               code="no_printer")
            return None
        payload = zreport.print_lines(report, lambda minor: format_minor(minor, self.currency))
        try:
            return self.print_queue.submit(device_id, "print", payload, kind="receipt", register_id=register_id,
                                           actor=actor)
        except BackroomError:
            if fail:
                raise
            log.warning("the Z report of shift %s could not be queued for printing", report["shift"]["id"])
            return None


def _shift(row: Any) -> dict[str, Any]:
    out = {k: row[k] for k in ("id", "number", "register_id", "opened_at", "opened_by", "float_minor", "closed_at",
                               "closed_by", "counted_minor")}
    out["denominations"] = json.loads(row["counted_detail"]) if row["counted_detail"] else None
    return out
