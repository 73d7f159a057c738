"""The owner's review of sales registers made while the hub was out of reach: when the cashier sold
it and when it reached the hub, at which register and tablet, the total charged against the sale
priced at the hub's prices on arrival, each line whose price differed, and the items it took below
zero (hub.store records all of it in offline_sales). An owner marks a sale reviewed once, recorded
with who and when and sent as offline_sale.reviewed; the sales with differences not yet reviewed
are the count the status page and `backroom status` show."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from hub import events
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.errors import NotFound, ValidationError

MAX_PAGE = 200
MAX_NOTE = 200
_DIFFERS = "(o.price_differences <> '[]' OR o.approvals_missing <> '[]')"  # a price, or an approval not asked
_COLUMNS = ("s.id, s.number, s.register_id, r.name AS register_name, s.actor, s.currency, s.total_minor, "
            "s.voided_at, o.recorded_at, o.received_at, o.catalog_version, o.today_total_minor, o.price_differences, "
            "o.oversold, o.reviewed_at, o.reviewed_by, o.review_note, o.sent_by, o.approvals_missing")


def summary(conn: sqlite3.Connection) -> dict[str, int]:
    """{offline_sales, with_differences, unreviewed (with differences, not yet reviewed), oversold}."""
    row = conn.execute(
        f"SELECT count(*), coalesce(sum({_DIFFERS}), 0), coalesce(sum({_DIFFERS} AND o.reviewed_at IS NULL), 0), "
        "coalesce(sum(o.oversold <> '[]'), 0) FROM offline_sales o").fetchone()
    return {"offline_sales": row[0], "with_differences": row[1], "unreviewed": row[2], "oversold": row[3]}


def _time(raw: str, field: str) -> str:
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ValidationError(f"{field} must be an RFC 3339 time with a zone, e.g. 2026-11-27T13:45:00Z (got {raw!r})",
                              field=field)
    return iso(when)


def _cursor(raw: str) -> tuple[str, str] | None:
    if not raw:
        return None
    received, _, sale_id = raw.partition("|")
    if not received or not sale_id:
        raise ValidationError("cursor must be the next_cursor of an earlier page, as it was given", field="cursor")
    return received, sale_id


class OfflineReview:
    def __init__(self, db: Database, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    def list(self, *, differences: bool = False, reviewed: bool | None = None, since: str = "", until: str = "",
             register: str = "", cursor: str = "", limit: int = 50) -> dict[str, Any]:
        """Offline sales newest first by arrival at the hub; since/until bound that arrival (RFC 3339);
        keyset pagination by next_cursor. summary counts them all, whatever the filters."""
        where, args = ["1"], []
        if differences:
            where.append(_DIFFERS)
        if reviewed is not None:
            where.append("o.reviewed_at IS NOT NULL" if reviewed else "o.reviewed_at IS NULL")
        if since:
            where.append("o.received_at >= ?")
            args.append(_time(since, "since"))
        if until:
            where.append("o.received_at < ?")
            args.append(_time(until, "until"))
        if register:
            where.append("s.register_id = ?")
            args.append(register)
        after = _cursor(cursor)
        if after:
            where.append("(o.received_at, s.id) < (?, ?)")
            args.extend(after)
        conn = self.db.conn
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM offline_sales o JOIN sales s ON s.id = o.sale_id "
            f"LEFT JOIN registers r ON r.id = s.register_id WHERE {' AND '.join(where)} "
            "ORDER BY o.received_at DESC, s.id DESC LIMIT ?", (*args, limit + 1)).fetchall()
        sales = [self._sale(conn, r) for r in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit else None
        return {"sales": sales, "next_cursor": f"{last['received_at']}|{last['id']}" if last else None,
                "summary": summary(conn)}

    def sale(self, sale_id: str) -> dict[str, Any]:
        conn = self.db.conn
        row = conn.execute(f"SELECT {_COLUMNS} FROM offline_sales o JOIN sales s ON s.id = o.sale_id "
                           "LEFT JOIN registers r ON r.id = s.register_id WHERE o.sale_id = ?", (sale_id,)).fetchone()
        if row is None:
            raise NotFound(f"no offline sale {sale_id!r}: only sales a register queued without the hub are reviewed "
                           "here", field="sale_id")
        return self._sale(conn, row)

    def mark_reviewed(self, sale_id: str, body: Any, actor: str) -> dict[str, Any]:
        """Record that an owner looked at the sale; again later, the first review stands and nothing
        new is recorded."""
        if body is None:
            body = {}
        if not isinstance(body, dict) or set(body) - {"note"}:
            raise ValidationError("send {} or {note}: what was done about the difference", field="note")
        note = body.get("note", "")
        if not isinstance(note, str) or len(note.strip()) > MAX_NOTE:
            raise ValidationError(f"note is text of at most {MAX_NOTE} characters", field="note")
        now = iso(self.clock())
        with self.db.write() as conn:
            row = conn.execute("SELECT s.number, s.register_id, s.total_minor, o.today_total_minor, "
                               "o.price_differences, o.reviewed_at FROM offline_sales o JOIN sales s "
                               "ON s.id = o.sale_id WHERE o.sale_id = ?", (sale_id,)).fetchone()
            if row is None:
                self.sale(sale_id)  # NotFound, with the reason
            if row["reviewed_at"] is None:
                conn.execute("UPDATE offline_sales SET reviewed_at = ?, reviewed_by = ?, review_note = ? "
                             "WHERE sale_id = ?", (now, actor, note.strip() or None, sale_id))
                events.append_event(conn, "offline_sale.reviewed", {
                    "sale_id": sale_id, "number": row["number"], "register_id": row["register_id"],
                    "price_differences": len(json.loads(row["price_differences"])),
                    "charged_total_minor": row["total_minor"], "today_total_minor": row["today_total_minor"],
                    "note": note.strip(), "by": actor}, now)
        return self.sale(sale_id)

    @staticmethod
    def _sale(conn: sqlite3.Connection, r: sqlite3.Row) -> dict[str, Any]:
        lines = {ln["line_no"]: ln for ln in conn.execute(
            "SELECT line_no, name, qty, unit FROM sale_lines WHERE sale_id = ?", (r["id"],))}
        differences = [{**d, "name": lines[d["line_no"]]["name"] if d["line_no"] in lines else d["sku"],
                        "qty": lines[d["line_no"]]["qty"] if d["line_no"] in lines else None,
                        "unit": lines[d["line_no"]]["unit"] if d["line_no"] in lines else None}
                       for d in json.loads(r["price_differences"])]
        skus = json.loads(r["oversold"])
        names = dict(conn.execute(f"SELECT sku, name FROM items WHERE sku IN ({','.join('?' * len(skus))})",
                                  skus).fetchall()) if skus else {}
        # the tablet that was the register when the sale reached the hub (its queue sent it)
        tablet = conn.execute("SELECT id, user_agent FROM tablets WHERE register_id = ? AND paired_at <= ? AND "
                              "(unpaired_at IS NULL OR unpaired_at > ?) ORDER BY paired_at DESC LIMIT 1",
                              (r["register_id"], r["received_at"], r["received_at"])).fetchone()
        today = r["today_total_minor"]
        return {
            "sale_id": r["id"], "number": r["number"], "receipt_code": f"S{r['number']:08d}",
            "register_id": r["register_id"], "register_name": r["register_name"],
            "tablet": dict(tablet) if tablet else None, "cashier": r["actor"], "currency": r["currency"],
            "recorded_at": r["recorded_at"], "received_at": r["received_at"], "catalog_version": r["catalog_version"],
            "charged_total_minor": r["total_minor"], "today_total_minor": today,
            "difference_minor": None if today is None else r["total_minor"] - today,
            "price_differences": differences, "oversold": [{"sku": s, "name": names.get(s, s)} for s in skus],
            "voided": r["voided_at"] is not None,
            "sent_by": r["sent_by"], "approvals_missing": json.loads(r["approvals_missing"]),
            "reviewed": None if r["reviewed_at"] is None else {"at": r["reviewed_at"], "by": r["reviewed_by"],
                                                               "note": r["review_note"] or ""},
        }
