"""Rolling cycle counts: ABC classes, the daily count list, count sessions and their variances.

A line remembers the ledger position (the last stock move id) and the on-hand when it was first
counted; closing posts counted - ledger_qty as a move, so a sale rung up while the count sheet was
out stays on top (hub.domain.counting explains the rule). Every write appends its outbox event in
the same transaction.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
import uuid
from collections.abc import Mapping
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

from hub.clock import iso
from hub.domain import counting
from hub.errors import Conflict, Forbidden, NotFound, UnprocessableError, ValidationError
from hub.files import write_private
from hub.ledger import MAX_QTY, Ledger, body_object, text, whole
from hub.store import Store

SALES_WINDOW_DAYS = 90
PHOTO_MAX_BYTES = 1024 * 1024
SESSION_PAGE = 200
SCOPES = ("location", "aisle", "category", "daily", "items")
STATUSES = ("open", "review", "closed", "cancelled")
ACTIONS = ("approve", "reject", "recount")
_PHOTO_KINDS = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"))
# Who sees what the ledger says (and may close and decide): the counter of a blind count does not.
_MANAGERS = frozenset({"manager", "owner", "integration"})
# A line that still waits for someone; 'counted' only waits in a session that is under review.
_WAITING = "('needs_approval', 'recount', 'counted')"
_COUNTABLE = "i.active = 1 AND i.kit_policy <> 'components' AND i.variant_axes = '[]'"
_EPOCH = date(1970, 1, 1)


def _photo(value: Any) -> tuple[bytes, str]:
    """A base64 JPEG or PNG (a data: URL prefix is fine) of at most PHOTO_MAX_BYTES: (bytes, extension)."""
    if not isinstance(value, str):
        raise ValidationError("photo must be a base64-encoded JPEG or PNG", field="photo")
    if value.startswith("data:"):
        value = value.partition(",")[2]
    if len(value) > (PHOTO_MAX_BYTES + 2) // 3 * 4 + 4:
        raise ValidationError(f"photo is larger than {PHOTO_MAX_BYTES // 1024} KB; take it again at a lower "
                              "resolution", field="photo")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("photo is not valid base64; send the image bytes base64-encoded", field="photo") from None
    if len(data) > PHOTO_MAX_BYTES:
        raise ValidationError(f"photo is {len(data)} bytes, more than {PHOTO_MAX_BYTES}; take it again at a lower "
                              "resolution", field="photo")
    for magic, ext in _PHOTO_KINDS:
        if data.startswith(magic):
            return data, ext
    raise ValidationError("photo must be a JPEG or PNG image", field="photo")


class Counts:
    def __init__(self, store: Store, ledger: Ledger, settings: Mapping[str, Any], data_dir: Path) -> None:
        self.store = store
        self.ledger = ledger
        self.db = store.db
        self.data_dir = data_dir
        self.thresholds = counting.AbcThresholds(settings["abc_a_bp"], settings["abc_b_bp"])
        self.frequency = counting.CountFrequency(settings["a_days"], settings["b_days"], settings["c_days"])
        self.rule = counting.VarianceRule(settings["variance_qty"], settings["variance_minor"])

    # -- ABC classes and the daily list ----------------------------------------------------------
    def recompute_classes(self) -> dict[str, int]:
        """Classify every item by its trailing 90-day sales value (voided sales left out); {A, B, C: n}."""
        now = self.store.clock()
        since = iso(now - timedelta(days=SALES_WINDOW_DAYS))
        with self.db.write() as conn:
            value = {r[0]: r[1] for r in conn.execute(
                "SELECT l.sku, sum(l.total_minor) FROM sale_lines l JOIN sales s ON s.id = l.sale_id "
                "WHERE s.voided_at IS NULL AND s.created_at >= ? GROUP BY l.sku", (since,))}
            classes = counting.classify(value, [r[0] for r in conn.execute("SELECT sku FROM items")], self.thresholds)
            # Only A and B items get a row: C is what an item without one is, and most of a big
            # catalog is C, so a weekly rewrite of every item would wear the SD card for nothing.
            conn.execute("DELETE FROM item_classes")
            conn.executemany("INSERT INTO item_classes (sku, class, value_minor, computed_at) VALUES (?, ?, ?, ?)",
                             [(sku, c, value.get(sku, 0), iso(now)) for sku, c in sorted(classes.items()) if c != "C"])
            conn.execute("INSERT INTO settings (key, value) VALUES ('abc_computed_at', ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (iso(now),))
            tally = dict.fromkeys(counting.CLASSES, 0)
            for c in classes.values():
                tally[c] += 1
            self.store.append_event(conn, "counts.classes_computed", tally)
        return tally

    def ensure_classes(self) -> None:
        """Classify once when nothing is classified yet (a new hub), so the daily list is not all C."""
        if self.db.conn.execute("SELECT 1 FROM settings WHERE key = 'abc_computed_at'").fetchone() is None:
            self.recompute_classes()

    def daily_list(self, day: date | None = None) -> dict[str, Any]:
        """The countable items due on day (default: today by the store clock, UTC), by aisle."""
        day = day or self.store.clock().astimezone(UTC).date()
        rows = {r["sku"]: r for r in self.db.conn.execute(
            "SELECT i.sku, i.name, i.aisle, coalesce(c.class, 'C') AS class FROM items i "
            f"LEFT JOIN item_classes c ON c.sku = i.sku WHERE {_COUNTABLE}")}
        number = (day - _EPOCH).days
        due = counting.due_today({sku: r["class"] for sku, r in rows.items()}, number, self.frequency)
        items = [{"sku": sku, "name": rows[sku]["name"], "aisle": rows[sku]["aisle"], "class": rows[sku]["class"]}
                 for sku in due]
        items.sort(key=lambda i: (i["aisle"], i["sku"]))
        return {"date": day.isoformat(), "day_number": number, "items": items}

    # -- sessions ------------------------------------------------------------------------------
    def open_session(self, body: Any, actor: str) -> dict[str, Any]:
        """{location, scope_kind, scope, blind (default true), note}: a count session, open for counting."""
        body = body_object(body, {"location", "scope_kind", "scope", "blind", "note"},
                       '{"location": "floor", "scope_kind": "aisle", "scope": "3"}')
        kind = body.get("scope_kind")
        if kind not in SCOPES:
            raise ValidationError(f"scope_kind must be one of {', '.join(SCOPES)}", field="scope_kind")
        blind = body.get("blind", True)
        if not isinstance(blind, bool):
            raise ValidationError("blind must be true (counters don't see the ledger) or false", field="blind")
        note = text(body.get("note"), "note")
        with self.db.write() as conn:
            where = Ledger.location(conn, body.get("location", "floor"))
            scope = self._scope(conn, kind, body.get("scope"))
            cur = conn.execute("INSERT INTO count_sessions (location, scope_kind, scope, blind, status, note, created_by, "
                               "created_at) VALUES (?, ?, ?, ?, 'open', ?, ?, ?)",
                               (where, kind, scope, int(blind), note, actor, iso(self.store.clock())))
            session_id = int(cur.lastrowid or 0)
            self.store.append_event(conn, "count.opened", {"id": session_id, "location": where, "scope_kind": kind,
                                                           "scope": _scope_out(kind, scope), "blind": blind, "by": actor})
        return self.session(session_id, "manager")

    def _scope(self, conn: sqlite3.Connection, kind: str, scope: Any) -> str:
        if kind in ("location", "daily"):
            if scope not in (None, ""):
                raise ValidationError(f"a {kind} count takes no scope", field="scope")
            if kind == "location":
                return ""
            # frozen when the session opens: a weekly reclassification must not change the sheet
            due = [i["sku"] for i in self.daily_list()["items"]]
            if not due:
                raise UnprocessableError("nothing is due for counting today", field="scope_kind")
            return json.dumps(due)
        if kind == "items":
            if not isinstance(scope, list) or not 1 <= len(scope) <= 500:
                raise ValidationError("scope must be a list of 1-500 SKUs for an items count", field="scope")
            return json.dumps(list(dict.fromkeys(Ledger.item(conn, sku, "scope")["sku"] for sku in scope)))
        name = text(scope, "scope", 60)
        if not name:
            raise ValidationError(f"scope must name the {kind} to count", field="scope")
        if conn.execute(f"SELECT 1 FROM items i WHERE {_COUNTABLE} AND i.{kind} = ?", (name,)).fetchone() is None:
            raise UnprocessableError(f"no active item has {kind} {name!r}; check the spelling", field="scope")
        return name

    def sessions(self, status: str = "") -> list[dict[str, Any]]:
        """Sessions newest first (at most SESSION_PAGE), optionally of one status."""
        if status and status not in STATUSES:
            raise ValidationError(f"status must be one of {', '.join(STATUSES)}", field="status")
        rows = self.db.conn.execute(
            "SELECT s.*, (SELECT count(*) FROM count_lines c WHERE c.session_id = s.id) AS lines_counted, "
            "(SELECT count(*) FROM count_lines c WHERE c.session_id = s.id AND c.status IN ('needs_approval', 'recount')) "
            "AS lines_waiting FROM count_sessions s WHERE ? = '' OR s.status = ? ORDER BY s.id DESC LIMIT ?",
            (status, status, SESSION_PAGE)).fetchall()
        return [_session_out(r) | {"lines_counted": r["lines_counted"], "lines_waiting": r["lines_waiting"]} for r in rows]

    def session(self, session_id: int, role: str) -> dict[str, Any]:
        """The session and its lines: what to count and what was counted. The ledger's figures only
        for a role that may see them (everyone on an open-book count, managers on a blind one)."""
        conn = self.db.conn
        s = _session_row(conn, session_id)
        sees = not s["blind"] or role in _MANAGERS
        counted = {r["sku"]: r for r in conn.execute(
            "SELECT c.*, i.name, i.aisle, i.unit FROM count_lines c JOIN items i ON i.sku = c.sku "
            "WHERE c.session_id = ? ORDER BY c.sku", (session_id,))}
        scope = self._scope_skus(conn, s)
        items = {r["sku"]: r for r in conn.execute(
            "SELECT i.sku, i.name, i.aisle, coalesce(c.class, 'C') AS class FROM items i "
            "LEFT JOIN item_classes c ON c.sku = i.sku WHERE i.sku IN (SELECT value FROM json_each(?))",
            (json.dumps([sku for sku in scope if sku not in counted]),))}
        on_hand = dict(conn.execute("SELECT sku, on_hand FROM stock_levels WHERE location = ?", (s["location"],))
                       .fetchall()) if sees else {}
        in_scope = set(scope)
        lines = [_line_out(counted.get(sku) or items[sku], sku in counted, sku in in_scope, sees, on_hand.get(sku, 0))
                 for sku in [*scope, *sorted(set(counted) - in_scope)] if sku in counted or sku in items]
        tally = {"to_count": sum(ln["status"] == "to_count" for ln in lines),
                 "counted": len(counted), "waiting": sum(ln["status"] in ("needs_approval", "recount") for ln in lines)}
        return _session_out(s) | {"summary": tally, "lines": lines}

    def _scope_skus(self, conn: sqlite3.Connection, s: sqlite3.Row) -> list[str]:
        if s["scope_kind"] in ("items", "daily"):
            skus: list[str] = json.loads(s["scope"])
            return skus
        if s["scope_kind"] == "location":
            where, arg = "EXISTS (SELECT 1 FROM stock_levels l WHERE l.sku = i.sku AND l.location = ?)", s["location"]
        else:
            where, arg = f"i.{s['scope_kind']} = ?", s["scope"]
        return [r[0] for r in conn.execute(f"SELECT i.sku FROM items i WHERE {_COUNTABLE} AND {where} "
                                           "ORDER BY i.aisle, i.sku", (arg,))]

    # -- counting --------------------------------------------------------------------------------
    def count_line(self, session_id: int, body: Any, actor: str, role: str = "cashier") -> dict[str, Any]:
        """{sku or code, qty, mode: set|add, note, photo}: record (or correct) what is on the shelf."""
        body = body_object(body, {"id", "sku", "code", "qty", "mode", "note", "photo"}, '{"code": "4006381333931", "qty": 3}')
        mode = body.get("mode", "set")
        if mode not in ("set", "add"):
            raise ValidationError("mode must be set (the shelf holds qty) or add (qty more found)", field="mode")
        request_id = _request_id(body.get("id"))
        # a note or a photo alone annotates a counted line and leaves its count as it is
        annotate = "qty" not in body and ("note" in body or "photo" in body)
        sku, qty = self._what_was_counted(body if not annotate else {**body, "qty": 0})
        photo = _photo(body["photo"]) if body.get("photo") is not None else None
        now = iso(self.store.clock())
        with self.db.write() as conn:
            s = _session_row(conn, session_id)
            item = Ledger.item(conn, sku)
            if request_id and conn.execute("SELECT 1 FROM count_requests WHERE id = ?", (request_id,)).fetchone():
                replay = True  # this scan was applied before its answer got lost: answer again, count once
            else:
                replay = False
            line = conn.execute("SELECT * FROM count_lines WHERE session_id = ? AND sku = ? AND location = ?",
                                (session_id, sku, s["location"])).fetchone()
            if annotate and (line is None or line["status"] == "recount"):
                raise UnprocessableError(f"count {sku} before adding a note or photo to it", field="qty")
            if not replay:
                self._write_line(conn, s, item, line, sku, qty, mode, annotate, body, photo, actor, now)
                if request_id:
                    conn.execute("INSERT INTO count_requests (id, session_id, sku, at) VALUES (?, ?, ?, ?)",
                                 (request_id, session_id, sku, now))
        view = self.session(session_id, role)
        return {"session_id": session_id, "line": next(ln for ln in view["lines"] if ln["sku"] == sku),
                "replayed": replay}

    def _write_line(self, conn: sqlite3.Connection, s: sqlite3.Row, item: sqlite3.Row, line: sqlite3.Row | None, sku: str,
                    qty: int, mode: str, annotate: bool, body: dict[str, Any], photo: tuple[bytes, str] | None,
                    actor: str, now: str) -> None:
        session_id = s["id"]
        _check_countable(s, line, sku)
        if annotate and line is not None:
            position, ledger_qty, counted = line["ledger_position"], line["ledger_qty"], line["counted"]
        elif line is None or line["status"] == "recount":
            # A first count, or a recount the manager asked for: a new look at the shelf, so it is
            # measured from where the ledger stands now. The write lock keeps sales out meanwhile.
            position = conn.execute("SELECT coalesce(max(id), 0) FROM stock_moves").fetchone()[0]
            level = conn.execute("SELECT on_hand FROM stock_levels WHERE sku = ? AND location = ?",
                                 (sku, s["location"])).fetchone()
            ledger_qty, counted = (level[0] if level else 0), qty
        else:
            # A correction ('set') or more of the same item found ('add') belongs to the count the
            # counter started: it keeps that position. Moving it would count a sale rung up since
            # the first scan twice: once in the new ledger_qty and again on the shelf figure.
            position, ledger_qty = line["ledger_position"], line["ledger_qty"]
            counted = qty if mode == "set" else line["counted"] + qty
        counted = whole(counted, "qty", 0, MAX_QTY)
        note = text(body.get("note"), "note") if "note" in body else (line["note"] if line else "")
        path = line["photo"] if line else ""
        if photo:
            path = self._save_photo(session_id, sku, photo, path)
        klass = conn.execute("SELECT class FROM item_classes WHERE sku = ?", (sku,)).fetchone()
        conn.execute(
            "INSERT INTO count_lines (session_id, sku, location, counted, ledger_qty, ledger_position, unit_cost_minor, "
            "class, status, note, photo, counted_by, counted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (session_id, sku, location) DO UPDATE SET counted = excluded.counted, "
            "ledger_qty = excluded.ledger_qty, ledger_position = excluded.ledger_position, "
            "unit_cost_minor = excluded.unit_cost_minor, class = excluded.class, status = excluded.status, "
            "note = excluded.note, photo = excluded.photo, counted_by = excluded.counted_by, "
            "counted_at = excluded.counted_at",
            (session_id, sku, s["location"], counted, ledger_qty, position, item["cost_minor"],
             klass[0] if klass else "C", line["status"] if annotate and line is not None else "counted", note, path,
             actor, now))
        self.store.append_event(conn, "count.line_counted", {
            "session_id": session_id, "sku": sku, "location": s["location"], "counted": counted, "mode": mode,
            "ledger_position": position, "by": actor})

    def photo(self, session_id: int, sku: str) -> tuple[bytes, str]:
        """A line's photo and its media type; NotFound when it has none."""
        row = self.db.conn.execute("SELECT photo FROM count_lines WHERE session_id = ? AND sku = ? AND photo <> ''",
                                   (session_id, sku)).fetchone()
        if row is None:
            raise NotFound(f"count {session_id} has no photo for {sku}", field="sku")
        path = self.data_dir / row[0]
        if not path.is_file():
            raise NotFound(f"the photo of {sku} in count {session_id} is missing from the hub's disk", field="sku")
        return path.read_bytes(), "image/png" if path.suffix == ".png" else "image/jpeg"

    def _what_was_counted(self, body: dict[str, Any]) -> tuple[str, int]:
        """(sku, base units): by SKU with qty in base units, or by scan with qty the number of scans."""
        sku, code = body.get("sku"), body.get("code")
        if (sku is None) == (code is None):
            raise ValidationError("send either sku or code (the scanned barcode)", field="sku")
        if sku is not None:
            return sku, whole(body.get("qty"), "qty", 0, MAX_QTY)
        if not isinstance(code, str) or not code.strip() or len(code) > 256:
            raise ValidationError("code must be the scanned text (1-256 characters)", field="code")
        try:
            found = self.store.lookup(code)
        except NotFound as exc:
            raise UnprocessableError(exc.message, field="code") from None
        if found["qty"] is None:  # weighed goods by their plain code: the count is the weight itself
            return found["item"]["sku"], whole(body.get("qty"), "qty", 0, MAX_QTY)
        scans = whole(body.get("qty", 1), "qty", 1, MAX_QTY)
        return found["item"]["sku"], whole(scans * found["qty"], "qty", 0, MAX_QTY)

    def _save_photo(self, session_id: int, sku: str, photo: tuple[bytes, str], old: str) -> str:
        """Write the photo (mode 0600) to photos/count-<id>/<sku>.<ext> in the data dir; the relative path."""
        data, ext = photo
        rel = f"photos/count-{session_id}/{sku}.{ext}"
        path = self.data_dir / rel
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private(path, data)
        if old and old != rel:
            (self.data_dir / old).unlink(missing_ok=True)
        return rel

    # -- closing and deciding ------------------------------------------------------------------
    def close(self, session_id: int, actor: str, role: str) -> dict[str, Any]:
        """Post the counted lines within the rule; lines over it wait for a manager (session 'review')."""
        _manager(role, "close a count")
        with self.db.write() as conn:
            s = _session_row(conn, session_id)
            if s["status"] not in ("open", "review"):
                raise Conflict(f"count {session_id} is already {s['status']}", field="id")
            posted = []
            for row in conn.execute("SELECT c.*, i.unit, i.cost_minor AS cost FROM count_lines c JOIN items i ON i.sku = c.sku "
                                    "WHERE c.session_id = ? AND c.status = 'counted' ORDER BY c.sku", (session_id,)).fetchall():
                line = _counted(row, row["cost"])  # valued at today's cost, which the line keeps
                move, status = None, "needs_approval"
                if not counting.needs_approval(line, self.rule):
                    move, status = self._post(conn, session_id, line, actor, row["note"]), "posted"
                    if move:
                        posted.append({"sku": line.sku, "location": line.location, "qty": counting.variance(line),
                                       "move_id": move})
                conn.execute("UPDATE count_lines SET status = ?, unit_cost_minor = ?, move_id = ? "
                             "WHERE session_id = ? AND sku = ? AND location = ?",
                             (status, row["cost"], move, session_id, line.sku, line.location))
            self._settle(conn, s, actor, posted)
        return self.session(session_id, role)

    def decide(self, session_id: int, sku: str, location: str, action: str, actor: str, role: str) -> dict[str, Any]:
        """approve (post the variance), reject (post nothing) or recount a line waiting for approval."""
        _manager(role, "decide a count variance")
        if action not in ACTIONS:
            raise ValidationError(f"action must be one of {', '.join(ACTIONS)}", field="action")
        with self.db.write() as conn:
            s = _session_row(conn, session_id)
            where = location or s["location"]
            row = conn.execute("SELECT c.*, i.unit FROM count_lines c JOIN items i ON i.sku = c.sku "
                               "WHERE c.session_id = ? AND c.sku = ? AND c.location = ?", (session_id, sku, where)).fetchone()
            if row is None:
                raise NotFound(f"count {session_id} has no line for {sku} at {where}", field="sku")
            if row["status"] != "needs_approval":
                raise Conflict(f"{sku} in count {session_id} is {row['status']}, not waiting for approval", field="sku")
            line = _counted(row, row["unit_cost_minor"])
            move, posted = None, []
            if action == "approve":
                # measured against the line's own ledger position, so sales since the count stay on top
                move = self._post(conn, session_id, line, actor, row["note"])
                posted.append({"sku": sku, "location": where, "qty": counting.variance(line), "move_id": move})
            status = {"approve": "approved", "reject": "rejected", "recount": "recount"}[action]
            conn.execute("UPDATE count_lines SET status = ?, decided_by = ?, decided_at = ?, move_id = ? "
                         "WHERE session_id = ? AND sku = ? AND location = ?",
                         (status, actor, iso(self.store.clock()), move, session_id, sku, where))
            self.store.append_event(conn, "count.line_decided", {"session_id": session_id, "sku": sku, "location": where,
                                                                 "action": action, "by": actor, "move_id": move})
            self._settle(conn, s, actor, posted)
        return self.session(session_id, role)

    def _post(self, conn: sqlite3.Connection, session_id: int, line: counting.CountedLine, actor: str, note: str) -> int | None:
        qty = counting.variance(line)
        if qty == 0:
            return None
        return self.ledger._move(conn, line.sku, line.location, qty, "count_variance", actor, "count", "count",
                                 str(session_id), note=note)

    def _settle(self, conn: sqlite3.Connection, s: sqlite3.Row, actor: str, posted: list[dict[str, Any]]) -> None:
        """Announce what was posted; close the session when no line waits, else keep it under review."""
        if posted:
            self.store.append_event(conn, "count.variances_posted", {"session_id": s["id"], "by": actor, "moves": posted})
        waiting = conn.execute(f"SELECT count(*) FROM count_lines WHERE session_id = ? AND status IN {_WAITING}",
                               (s["id"],)).fetchone()[0]
        if waiting:
            conn.execute("UPDATE count_sessions SET status = 'review' WHERE id = ?", (s["id"],))
            return
        now = iso(self.store.clock())
        conn.execute("UPDATE count_sessions SET status = 'closed', closed_by = ?, closed_at = ? WHERE id = ?",
                     (actor, now, s["id"]))
        self.store.append_event(conn, "count.closed", {
            "id": s["id"], "location": s["location"], "scope_kind": s["scope_kind"], "by": actor, "at": now,
            "accuracy": _accuracy(conn, "c.session_id = ?", (s["id"],))})

    def accuracy_by_class(self, days: int = 90) -> dict[str, Any]:
        """Per class, lines counted and lines that matched the ledger, over sessions closed in the last days."""
        since = iso(self.store.clock() - timedelta(days=days))
        classes = _accuracy(self.db.conn, "c.session_id IN (SELECT id FROM count_sessions WHERE status = 'closed' "
                                          "AND closed_at >= ?)", (since,))
        for figures in classes.values():
            figures["accuracy_bp"] = figures["matched"] * 10000 // figures["counted"] if figures["counted"] else None
        return {"days": days, "classes": classes}


def _request_id(value: Any) -> str:
    """The client's id for one scan (a UUID), so a resent scan is applied once; '' when none."""
    if value is None:
        return ""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValidationError(f"id {value!r} is not a UUID; the page makes one per scan", field="id") from None


def _manager(role: str, what: str) -> None:
    if role not in _MANAGERS:
        raise Forbidden(f"role {role} may not {what}; it needs a manager or owner")


def _session_row(conn: sqlite3.Connection, session_id: int) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM count_sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        raise NotFound(f"no count session {session_id}", field="id")
    return row


def _check_countable(s: sqlite3.Row, line: sqlite3.Row | None, sku: str) -> None:
    if s["status"] not in ("open", "review"):
        raise Conflict(f"count {s['id']} is {s['status']}: nothing more can be counted in it; open a new count",
                       field="id")
    if line is None and s["status"] == "review":
        raise Conflict(f"count {s['id']} waits for a manager's decisions; only lines sent back for a recount can be "
                       "counted now", field="sku")
    if line is not None and line["status"] not in ("counted", "recount"):
        raise Conflict(f"{sku} in count {s['id']} is {line['status']}; ask a manager for a recount", field="sku")


def _counted(row: sqlite3.Row, cost: int) -> counting.CountedLine:
    return counting.CountedLine(row["sku"], row["location"], row["counted"], row["ledger_qty"], row["ledger_position"],
                                cost, row["unit"])


def _accuracy(conn: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> dict[str, dict[str, Any]]:
    lines: dict[str, list[counting.CountedLine]] = {c: [] for c in counting.CLASSES}
    for r in conn.execute(f"SELECT c.*, i.unit FROM count_lines c JOIN items i ON i.sku = c.sku WHERE {where}", args):
        lines[r["class"]].append(_counted(r, r["unit_cost_minor"]))
    out: dict[str, dict[str, Any]] = {}
    for klass, group in lines.items():
        matched, counted = counting.accuracy(group)
        out[klass] = {"counted": counted, "matched": matched}
    return out


def _scope_out(kind: str, scope: str) -> Any:
    return json.loads(scope) if kind in ("items", "daily") else scope


def _session_out(s: sqlite3.Row) -> dict[str, Any]:
    return {"id": s["id"], "location": s["location"], "scope_kind": s["scope_kind"],
            "scope": _scope_out(s["scope_kind"], s["scope"]), "blind": bool(s["blind"]), "status": s["status"],
            "note": s["note"], "created_by": s["created_by"], "created_at": s["created_at"],
            "closed_by": s["closed_by"], "closed_at": s["closed_at"]}


def _line_out(r: sqlite3.Row, counted: bool, in_scope: bool, sees: bool, on_hand: int) -> dict[str, Any]:
    """One line of a session view (r: a count_lines row when counted, else the item); ledger figures
    only when sees, never to a blind counter."""
    out: dict[str, Any] = {"sku": r["sku"], "name": r["name"], "aisle": r["aisle"], "class": r["class"],
                           "in_scope": in_scope, "status": r["status"] if counted else "to_count",
                           "counted": r["counted"] if counted else None}
    if counted:
        out |= {k: r[k] for k in ("counted_by", "counted_at", "note", "photo")}
    if sees:
        out["on_hand"] = on_hand
        if counted:
            line = _counted(r, r["unit_cost_minor"])
            out |= {"ledger_qty": r["ledger_qty"], "ledger_position": r["ledger_position"],
                    "variance": counting.variance(line), "variance_minor": counting.variance_value(line),
                    "move_id": r["move_id"], "decided_by": r["decided_by"], "decided_at": r["decided_at"]}
    return out
