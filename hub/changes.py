"""Change control for the item master: who may change what, change requests, scheduled changes.

A manager's price, cost, tax or unit change waits as a request until an owner (not the
requester) approves it; while pulling from the back office is on (back_office), a local edit to a
field the back office owns (hub.domain.ownership) waits as 'sent_to_back_office' until the back
office answers with a change for it (hub.inbound closes it) or the owner withdraws it; a change
with effective_at in the future waits as a scheduled request that apply_due() applies once its
time has come: the scheduler calls it every APPLY_INTERVAL_S and once at start, so a change due
while the hub was off applies at start.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime
from typing import Any

from hub.catalog import Catalog
from hub.clock import iso
from hub.domain import catalog as rules
from hub.domain import ownership
from hub.errors import BackroomError, Conflict, Forbidden, NotFound, ValidationError

log = logging.getLogger(__name__)

APPLY_INTERVAL_S = 30
STATUSES = ("pending", "scheduled", "applied", "rejected", "cancelled", "failed", "sent_to_back_office")


def parse_when(value: Any, now: datetime) -> str | None:
    """effective_at as stored (ISO UTC), or None for now; it must be in the future."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValidationError("effective_at must be an ISO 8601 time such as 2026-12-01T06:00:00Z", field="effective_at")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"effective_at {value!r} is not an ISO 8601 time such as 2026-12-01T06:00:00Z",
                              field="effective_at") from None
    if when.tzinfo is None:
        raise ValidationError(f"effective_at {value!r} needs a time zone, e.g. a trailing Z for UTC", field="effective_at")
    if when <= now:
        return None
    return iso(when.astimezone(UTC))


def _reason(body: dict[str, Any]) -> str:
    reason = body.pop("reason", "")
    if not isinstance(reason, str) or len(reason) > 500:
        raise ValidationError("reason must be text of at most 500 characters", field="reason")
    return reason.strip()


class ChangeControl:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.store = catalog.store
        self.db = catalog.db
        self.back_office = False  # pulling changes from the back office is on (cloud.changes_url)

    # -- creating and editing ------------------------------------------------------------------
    def create(self, body: Any, actor: str, role: str) -> dict[str, Any]:
        if role not in (*rules.DIRECT_ROLES, *rules.REQUEST_ROLES):
            raise Forbidden(f"role {role} may not add items; ask a manager or the owner")
        if not isinstance(body, dict):
            raise ValidationError("the body must be a JSON object with sku, name, unit and price_minor")
        body = dict(body)
        reason = _reason(body)
        sku = rules.check_sku(body.pop("sku", None))
        parent_sku = body.pop("parent_sku", None)
        if parent_sku is not None:
            parent_sku = rules.check_sku(parent_sku)
        raw_codes = body.pop("barcodes", [])
        if not isinstance(raw_codes, list) or not all(isinstance(b, (dict, str)) for b in raw_codes):
            raise ValidationError('barcodes must be a list of codes or {"code", "packaging", "pack_qty"}', field="barcodes")
        codes = [b if isinstance(b, dict) else {"code": b} for b in raw_codes]
        fields = rules.clean_fields(body, creating=parent_sku is None)
        if parent_sku is not None:
            parent = self.catalog.read(self.db.conn, parent_sku)
            fields.setdefault("unit", parent["unit"] if parent else "each")
            values = fields.get("variant_values", {})
            axes = parent["variant_axes"] if parent else sorted(values)
            # "T-shirt M red": the parent's name and the values in the order of the parent's axes
            fields.setdefault("name", " ".join([parent["name"] if parent else sku, *(values[a] for a in axes if a in values)]))
        with self.db.write() as conn:
            self.catalog.create(conn, sku, fields, actor, reason, parent_sku, codes)
        return self.catalog.get(sku)

    def edit(self, sku: str, body: Any, actor: str, role: str) -> dict[str, Any]:
        """Apply what the role may, request the rest; {item, applied, request}."""
        if not isinstance(body, dict):
            raise ValidationError("the body must be a JSON object of the fields to change")
        body = dict(body)
        reason = _reason(body)
        when = parse_when(body.pop("effective_at", None), self.store.clock())
        fields = rules.clean_fields(body, creating=False)
        if not fields:
            raise ValidationError(f"give at least one field to change: {', '.join(rules.FIELDS)}")
        decision = rules.decide(role, fields)
        routed = set(ownership.split(fields, ownership.SHOP)["request"]) if self.back_office else set()
        applied: dict[str, Any] = {}
        request = sent = None
        with self.db.write() as conn:
            current = self.catalog.read(conn, sku)
            if current is None:
                raise NotFound(f"no item with SKU {sku}", field="sku")
            changes = rules.diff(current, fields)
            to_back_office = {f: c for f, c in changes.items() if f in routed}
            changes = {f: c for f, c in changes.items() if f not in routed}
            if to_back_office:
                sent = self._request(conn, sku, to_back_office, reason, when, "sent_to_back_office", actor)
            if when is not None:  # the whole edit waits for its time; approval first where needed
                status = "pending" if decision.request & set(changes) else "scheduled"
                request = self._request(conn, sku, changes, reason, when, status, actor) if changes else None
            else:
                direct = {f: fields[f] for f in decision.apply - routed}
                applied = self.catalog.apply(conn, sku, direct, actor, reason) if direct else {}
                asked = {f: c for f, c in changes.items() if f in decision.request}
                request = self._request(conn, sku, asked, reason, None, "pending", actor) if asked else None
        return {"item": self.catalog.get(sku), "applied": applied, "request": request, "back_office_request": sent}

    def schedule(self, conn: sqlite3.Connection, sku: str, wanted: dict[str, Any], actor: str, reason: str,
                 when: str) -> dict[str, Any]:
        """A change from the back office that waits for its time; no approval (it owns those fields)."""
        current = self.catalog.read(conn, sku)
        if current is None:
            raise NotFound(f"no item with SKU {sku}", field="sku")
        # kept even where the value is today's: a change in between must not outlive this one
        changes = {f: {"old": current.get(f), "new": v} for f, v in wanted.items()}
        return self._request(conn, sku, changes, reason, when, "scheduled", actor)

    def _request(self, conn: sqlite3.Connection, sku: str, changes: dict[str, Any], reason: str, when: str | None,
                 status: str, actor: str) -> dict[str, Any]:
        now = iso(self.store.clock())
        cur = conn.execute(
            "INSERT INTO change_requests (sku, changes, reason, effective_at, status, requested_by, requested_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (sku, json.dumps(changes, sort_keys=True), reason, when, status, actor, now))
        request_id = int(cur.lastrowid or 0)
        self.store.append_event(conn, "item.change_requested", {"id": request_id, "sku": sku, "changes": changes,
                                                                "status": status, "effective_at": when, "by": actor})
        return self._row(conn, request_id)

    # -- requests ------------------------------------------------------------------------------
    @staticmethod
    def _row(conn: sqlite3.Connection, request_id: int) -> dict[str, Any]:
        row = conn.execute("SELECT r.*, i.name FROM change_requests r JOIN items i ON i.sku = r.sku WHERE r.id = ?",
                           (request_id,)).fetchone()
        if row is None:
            raise NotFound(f"no change request {request_id}", field="id")
        return dict(row) | {"changes": json.loads(row["changes"])}

    def requests(self, status: str | None = None, sku: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise ValidationError(f"status must be one of {', '.join(STATUSES)}", field="status")
        conn = self.db.conn
        ids = conn.execute(
            "SELECT id FROM change_requests WHERE (? IS NULL OR status = ?) AND (? IS NULL OR sku = ?) ORDER BY id DESC LIMIT ?",
            (status, status, sku, sku, limit)).fetchall()
        return [self._row(conn, r[0]) for r in ids]

    def decide(self, request_id: int, approve: bool, actor: str, role: str, note: str = "") -> dict[str, Any]:
        """An owner approves (applies now, or schedules) or rejects a pending request; requester may cancel."""
        with self.db.write() as conn:
            req = self._row(conn, request_id)
            if req["status"] not in ("pending", "scheduled", "sent_to_back_office"):
                raise Conflict(f"change request {request_id} is already {req['status']}", field="id")
            own = req["requested_by"] == actor
            if req["status"] == "sent_to_back_office" and approve:
                raise Conflict(f"change request {request_id} waits for the back office, which owns these fields: "
                               "it closes when the back office sends the change; here it can only be withdrawn",
                               field="id")
            if not approve and (own or req["status"] == "sent_to_back_office" and role in rules.DIRECT_ROLES):
                status = "cancelled"  # the owner withdraws a request sent to the back office
            elif role not in rules.DIRECT_ROLES:
                raise Forbidden("only an owner approves or rejects price, cost and tax changes")
            elif own and approve:
                raise Forbidden("a change request is approved by someone other than the person who made it")
            else:
                status = "rejected" if not approve else "scheduled"
            now = iso(self.store.clock())
            conn.execute("UPDATE change_requests SET status = ?, decided_by = ?, decided_at = ?, note = ? WHERE id = ?",
                         (status, actor, now, note[:500], request_id))
            self.store.append_event(conn, "item.change_decided", {"id": request_id, "sku": req["sku"], "status": status,
                                                                  "by": actor, "note": note[:500]})
            if status == "scheduled" and (req["effective_at"] is None or req["effective_at"] <= now):
                current = self.catalog.read(conn, req["sku"]) or {}
                stale = {f: c for f, c in req["changes"].items() if current.get(f) != c["old"]}
                if stale:
                    field = next(iter(stale))
                    raise Conflict(f"{field} of {req['sku']} changed since this request was made (was {stale[field]['old']}, "
                                   f"now {current.get(field)}); reject it and ask again", field=field)
                self._apply_request(conn, self._row(conn, request_id))
            return self._row(conn, request_id)

    def _apply_request(self, conn: sqlite3.Connection, req: dict[str, Any]) -> None:
        wanted = rules.clean_fields({f: c["new"] for f, c in req["changes"].items()}, creating=False)
        reason = req["reason"] or f"change request {req['id']}"
        by = f"{req['requested_by']}, approved by {req['decided_by']}" if req["decided_by"] else req["requested_by"]
        self.catalog.apply(conn, req["sku"], wanted, by, reason, req["id"])
        conn.execute("UPDATE change_requests SET status = 'applied', applied_at = ? WHERE id = ?",
                     (iso(self.store.clock()), req["id"]))

    def apply_due(self) -> int:
        """Apply every scheduled request whose time has come, oldest first; returns how many applied."""
        now = iso(self.store.clock())
        due = self.db.conn.execute("SELECT id FROM change_requests WHERE status = 'scheduled' AND effective_at <= ? "
                                   "ORDER BY effective_at, id", (now,)).fetchall()
        applied = 0
        for (request_id,) in due:
            try:
                with self.db.write() as conn:
                    req = self._row(conn, request_id)
                    if req["status"] == "scheduled":
                        self._apply_request(conn, req)
                        applied += 1
            except BackroomError as exc:  # e.g. the item became a kit since: say so, keep the rest going
                log.warning("scheduled change request %s could not apply: %s", request_id, exc.message)
                with self.db.write() as conn:
                    conn.execute("UPDATE change_requests SET status = 'failed', note = ? WHERE id = ?",
                                 (exc.message[:500], request_id))
                    sku = conn.execute("SELECT sku FROM change_requests WHERE id = ?", (request_id,)).fetchone()[0]
                    self.store.append_event(conn, "item.change_decided", {"id": request_id, "sku": sku, "status": "failed",
                                                                          "by": "scheduler", "note": exc.message[:500]})
        return applied
