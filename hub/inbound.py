"""Item and price changes pulled from the back office (docs/sync-protocol.md section 6).

One thread pulls the feed every cloud.pull_interval_s, and at once on pull_now(): pages of
changes after the stored cursor, signed like outbound batches, honouring 429/503 Retry-After and
backing off with full jitter on errors. Each page is applied in one transaction together with the
new cursor and the change ids it took, so a crash never skips or repeats a change.

Changes go through the item master's own change control (hub.catalog, hub.changes) with the actor
back-office and the change id in the reason, leaving the same history and events as local edits.
hub.domain.ownership decides which fields the back office may set. A change that cannot apply (an
unknown SKU, a bad value, an unknown type) is refused, never skipped in silence: it is kept in the
inbound log with the reason, counted in the sync state, told to the back office as an
item.change_refused event, and pulling goes on. docs/back-office.md has the policy with examples.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.changes import ChangeControl, parse_when
from hub.clock import iso
from hub.db import Database
from hub.domain import catalog as rules
from hub.domain import ownership
from hub.errors import BackroomError, NotFound, UnprocessableError, ValidationError
from hub.forwarder import retry_after_s
from hub.store import normalize_code
from hub.sync_protocol import (
    HUB_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    full_jitter,
    sign_get,
    verify,
)

log = logging.getLogger(__name__)

ACTOR = ownership.BACK_OFFICE
CHANGE_TYPES = ("item.upsert", "item.deactivate", "price.set", "barcode.add", "barcode.remove")
RETRY_AFTER_MAX_S = 3600.0  # a back office may ask for a pause, not for a day's silence
MAX_PAGES_PER_PULL = 1000  # a feed that never ends is a bug on the other side; finish at the next pull


class PullError(Exception):
    """A pull did not get through; retried after backoff (at least retry_after when given)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Page:
    changes: list[dict[str, Any]]
    next_cursor: str
    has_more: bool


def parse_page(body: Any, cursor: str) -> Page:
    """A 200 answer as a Page; PullError when its shape is not the spec's (nothing is applied)."""
    if not isinstance(body, dict) or not isinstance(body.get("changes"), list):
        raise PullError('the back office answered without a "changes" list; see docs/sync-protocol.md section 6')
    for n, ch in enumerate(body["changes"]):
        if not isinstance(ch, dict) or not isinstance(ch.get("id"), str) or not 1 <= len(ch["id"]) <= 200:
            raise PullError(f"change {n} of the page has no id (1-200 characters); the hub needs one to apply "
                            "each change once")
        if not isinstance(ch.get("type"), str):
            raise PullError(f"change {ch['id']} has no type")
    nxt = body.get("next_cursor")
    if nxt is not None and not isinstance(nxt, str):
        raise PullError(f"next_cursor must be text, not {nxt!r}")
    return Page(body["changes"], cursor if nxt is None else nxt, body.get("has_more") is True)


class ChangeFeed:
    """Pulls the back office's changes and applies them, one page per transaction."""

    def __init__(self, changes: ChangeControl, url: str, secret: str, hub_id: str, *, interval_s: float = 60.0,
                 page_size: int = 200, base_s: float = 1.0, cap_s: float = 300.0, timeout_s: float = 10.0,
                 rand: random.Random | None = None, wall: Callable[[], float] = time.time,
                 on_events: Callable[[], None] | None = None) -> None:
        self.changes = changes
        self.catalog = changes.catalog
        self.store = changes.store
        self.db: Database = changes.db
        self.url, self.secret, self.hub_id = url, secret, hub_id
        self.interval_s, self.page_size = interval_s, page_size
        self.base_s, self.cap_s, self.timeout_s = base_s, cap_s, timeout_s
        self.rand = rand or random.Random()
        self.wall = wall
        self.on_events = on_events
        self.attempt = 0
        self.last_wait: float | None = None
        self.next_pull_at: float | None = None
        parts = urllib.parse.urlsplit(url)
        self._https, self._netloc = parts.scheme == "https", parts.netloc
        self._path, self._query = parts.path or "/", parts.query
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="change-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=self.timeout_s + 5)

    def pull_now(self) -> None:
        """Pull at once (unless the back office asked us to wait)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.step()
            except Exception as exc:  # noqa: BLE001 - the thread must outlive any one failure
                log.exception("pulling back-office changes failed; backing off")
                delay = self._back_off(PullError(f"internal error: {exc}"))
            self.next_pull_at = time.monotonic() + delay
            self._wake.wait(delay)
            self._wake.clear()
            while not self._stop.is_set() and self.attempt and time.monotonic() < self.next_pull_at:
                self._wake.wait(self.next_pull_at - time.monotonic())  # asked to wait: a wake doesn't skip it
                self._wake.clear()

    def step(self) -> float:
        """Pull to the end of the feed; how long to wait before the next pull."""
        try:
            self.pull()
        except PullError as exc:
            return self._back_off(exc)
        self.attempt = 0
        return self.interval_s

    def _back_off(self, exc: PullError) -> float:
        delay = full_jitter(self.attempt, self.base_s, self.cap_s, self.rand.random())
        if exc.retry_after is not None:  # raises the wait, never lowers it
            delay = max(delay, min(exc.retry_after, RETRY_AFTER_MAX_S))
        self.attempt += 1
        self.last_wait = delay
        now = iso(self.store.clock())
        with self.db.write() as conn:
            conn.execute("UPDATE inbound_state SET last_pull_at = ?, last_error = ?, last_error_at = ? WHERE id = 1",
                         (now, str(exc)[:500], now))
        log.warning("pulling back-office changes failed (%s); retry %d in %.1f s", exc, self.attempt, delay)
        return delay

    # -- pulling ---------------------------------------------------------------------------------
    def pull(self) -> int:
        """Fetch and apply pages while has_more; returns how many changes were taken."""
        taken = 0
        for _ in range(MAX_PAGES_PER_PULL):
            cursor = self.db.conn.execute("SELECT cursor FROM inbound_state WHERE id = 1").fetchone()[0]
            page = self.fetch(cursor)
            taken += self.apply_page(cursor, page)
            if not page.has_more or self._stop.is_set() or (page.next_cursor == cursor and not page.changes):
                break
        with self.db.write() as conn:
            conn.execute("UPDATE inbound_state SET last_success_at = ?, last_error = NULL WHERE id = 1",
                         (iso(self.store.clock()),))
        return taken

    def target(self, cursor: str) -> str:
        """Path and query of the GET, exactly as sent and signed."""
        query = urllib.parse.urlencode({"cursor": cursor, "limit": self.page_size})
        return f"{self._path}?{self._query + '&' if self._query else ''}{query}"

    def fetch(self, cursor: str) -> Page:
        target, ts = self.target(cursor), str(int(self.wall()))
        headers = {HUB_HEADER: self.hub_id, TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign_get(self.secret, ts, target),
                   "Accept": "application/json"}
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._netloc, timeout=self.timeout_s)
        try:
            conn.request("GET", target, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise PullError(f"cannot reach {self.url}: {exc or type(exc).__name__}") from None
        finally:
            conn.close()
        if resp.status != 200:
            wait = retry_after_s(resp.getheader("Retry-After"), self.wall()) if resp.status in (429, 503) else None
            raise PullError(f"back office answered {resp.status}: {data[:300].decode('utf-8', 'replace')}", wait)
        # the answer is signed too: over plain http anyone on the path could otherwise push prices
        signature = resp.getheader(SIGNATURE_HEADER) or ""
        if not signature:
            raise PullError(f"the back office's answer from {self.url} is not signed ({SIGNATURE_HEADER} missing); "
                            "it was refused: the back office must sign change-feed answers (sync-protocol.md section 6)")
        problem = verify(self.secret, resp.getheader(TIMESTAMP_HEADER) or "", data, signature, self.wall())
        if problem:
            raise PullError(f"the back office's answer from {self.url} was refused: {problem}")
        try:
            body = json.loads(data)
        except ValueError:
            raise PullError(f"back office's answer is not JSON: {data[:200]!r}") from None
        return parse_page(body, cursor)

    # -- applying --------------------------------------------------------------------------------
    def apply_page(self, cursor: str, page: Page) -> int:
        """Apply a page with its cursor and change ids in one transaction; returns changes taken."""
        taken = 0
        with self.db.write() as conn:
            if conn.execute("SELECT cursor FROM inbound_state WHERE id = 1").fetchone()[0] != cursor:
                return 0  # applied meanwhile (the page was fetched twice): the stored cursor moved on
            events = conn.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
            for ch in page.changes:
                if conn.execute("SELECT 1 FROM inbound_changes WHERE change_id = ?", (ch["id"],)).fetchone():
                    continue  # taken before: a feed may repeat a change after its own restart
                outcome, detail = self._take(conn, ch)
                conn.execute("INSERT INTO inbound_changes (change_id, type, sku, outcome, detail, cursor, at) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", (ch["id"], ch["type"], str(ch.get("sku", ""))[:64], outcome,
                                                              detail[:1000], cursor, iso(self.store.clock())))
                taken += 1
            conn.execute("UPDATE inbound_state SET cursor = ?, pages = pages + 1, last_pull_at = ? WHERE id = 1",
                         (page.next_cursor, iso(self.store.clock())))
            wrote = conn.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0] != events
        if wrote and self.on_events:
            self.on_events()
        return taken

    def _take(self, conn: sqlite3.Connection, ch: dict[str, Any]) -> tuple[str, str]:
        """One change in its own savepoint: (outcome, detail); a refusal undoes only this change."""
        conn.execute("SAVEPOINT inbound_change")
        try:
            outcome, detail = self._apply(conn, ch)
        except BackroomError as exc:
            conn.execute("ROLLBACK TO inbound_change")
            outcome, detail = "refused", exc.message
            log.warning("back-office change %s (%s) refused: %s", ch["id"], ch["type"], exc.message)
            self.store.append_event(conn, "item.change_refused", {
                "change_id": ch["id"], "type": ch["type"], "sku": ch.get("sku"), "code": exc.code,
                "message": exc.message, "field": exc.field})
        conn.execute("RELEASE inbound_change")
        return outcome, detail

    def _apply(self, conn: sqlite3.Connection, ch: dict[str, Any]) -> tuple[str, str]:
        kind, change_id = ch["type"], ch["id"]
        if kind not in CHANGE_TYPES:
            raise UnprocessableError(f"unknown change type {kind!r}; this hub applies {', '.join(CHANGE_TYPES)}",
                                     field="type")
        sku = rules.check_sku(ch.get("sku"))
        reason = f"back-office change {change_id}"
        current = self.catalog.read(conn, sku)
        if kind.startswith("barcode."):
            return self._barcode(conn, sku, current, ch, reason)
        notes: list[str] = []
        if kind == "item.upsert":
            fields = ch.get("fields")
            if not isinstance(fields, dict):
                raise ValidationError("item.upsert needs fields, an object of item fields", field="fields")
            unknown = sorted(set(fields) - set(rules.FIELDS))
            verdict = ownership.split(sorted(set(fields) - set(unknown)), ownership.BACK_OFFICE)
            notes += [f"ignored shop-owned {', '.join(verdict['ignore'])}"] if verdict["ignore"] else []
            notes += [f"ignored unknown {', '.join(unknown)}"] if unknown else []
            wanted = rules.clean_fields({f: fields[f] for f in verdict["apply"]}, creating=current is None)
            if current is None:
                self.catalog.create(conn, sku, wanted, ACTOR, reason)
                return "applied", "; ".join(["created", *notes])
        elif kind == "item.deactivate":
            if current is None:
                return "ignored", f"no item with SKU {sku}: nothing to deactivate"
            wanted = {"active": False}
        else:
            if current is None:
                raise NotFound(f"no item with SKU {sku}; the back office sends item.upsert for a new item first",
                               field="sku")
            wanted = self._price(current, ch)
        if current is None:
            raise NotFound(f"no item with SKU {sku}", field="sku")
        if not wanted:
            return "ignored", "; ".join(notes) or "no fields"
        when = parse_when(ch.get("effective_at"), self.store.clock())
        if when is not None:
            request = self.changes.schedule(conn, sku, wanted, ACTOR, reason, when)
            outcome, detail = "scheduled", f"change request {request['id']} applies {', '.join(wanted)} at {when}"
        else:
            made = self.catalog.apply(conn, sku, wanted, ACTOR, reason)
            outcome, detail = "applied", f"changed {', '.join(made)}" if made else "no change: the item had these values"
        closed = self._answer_requests(conn, sku, set(wanted), change_id)
        notes += [f"answers change request(s) {', '.join(map(str, closed))}"] if closed else []
        return outcome, "; ".join([detail, *notes])

    @staticmethod
    def _price(current: dict[str, Any], ch: dict[str, Any]) -> dict[str, Any]:
        tier, price = ch.get("tier") or "retail", ch.get("price_minor")
        if tier == "retail":
            return rules.clean_fields({"price_minor": price}, creating=False)
        if tier not in rules.PRICE_TIERS:
            raise ValidationError(f"tier must be retail or one of {', '.join(rules.PRICE_TIERS)} (got {tier!r})",
                                  field="tier")
        return rules.clean_fields({"tiers": {**current["tiers"], tier: price}}, creating=False)

    def _barcode(self, conn: sqlite3.Connection, sku: str, current: dict[str, Any] | None, ch: dict[str, Any],
                 reason: str) -> tuple[str, str]:
        if current is None:
            raise NotFound(f"no item with SKU {sku} for barcode {ch.get('code')!r}", field="sku")
        code, st = ch.get("code"), self.store
        if not isinstance(code, str) or not code.strip():
            raise ValidationError(f"{ch['type']} needs code, the barcode's text", field="code")
        if ch["type"] == "barcode.add":
            key = normalize_code(code, st.rcn_region, st.rcn_pattern, st.rcn_check_price_digit)
            if conn.execute("SELECT 1 FROM barcodes WHERE code = ? AND sku = ?", (key, sku)).fetchone():
                return "ignored", f"{sku} already has barcode {code.strip()}"
            record = self.catalog.add_barcode(conn, sku, code, ACTOR, ch.get("packaging") or "unit",
                                              ch.get("pack_qty", 1), reason=reason)
            return "applied", f"added barcode {record['code']}"
        try:
            self.catalog.remove_barcode(conn, sku, code, ACTOR, reason=reason)
        except NotFound:
            return "ignored", f"{sku} has no barcode {code}: nothing to remove"
        return "applied", f"removed barcode {code}"

    def _answer_requests(self, conn: sqlite3.Connection, sku: str, fields: set[str], change_id: str) -> list[int]:
        """Close the shop's requests for these fields of sku: the back office has answered them."""
        current = self.catalog.read(conn, sku) or {}
        now, closed = iso(self.store.clock()), []
        for rid, raw in conn.execute("SELECT id, changes FROM change_requests WHERE sku = ? AND "
                                     "status = 'sent_to_back_office' ORDER BY id", (sku,)).fetchall():
            asked = json.loads(raw)
            if not fields & set(asked):
                continue
            granted = all(current.get(f) == c["new"] for f, c in asked.items())
            note = f"answered by back-office change {change_id}" + ("" if granted else " with other values")
            conn.execute("UPDATE change_requests SET status = 'applied', decided_by = ?, decided_at = ?, applied_at = ?, "
                         "note = ? WHERE id = ?", (ACTOR, now, now, note, rid))
            self.store.append_event(conn, "item.change_decided", {"id": rid, "sku": sku, "status": "applied",
                                                                  "by": ACTOR, "note": note})
            closed.append(rid)
        return closed


def summary(db: Database, enabled: bool, feed: ChangeFeed | None = None) -> dict[str, Any]:
    """The inbound half of the sync state, for GET /api/v1/status and the status page."""
    conn = db.conn
    row = conn.execute("SELECT * FROM inbound_state WHERE id = 1").fetchone()
    counts = dict(conn.execute("SELECT outcome, count(*) FROM inbound_changes GROUP BY outcome").fetchall())
    refused = conn.execute("SELECT change_id, type, sku, detail, at FROM inbound_changes WHERE outcome = 'refused' "
                           "ORDER BY id DESC LIMIT 1").fetchone()
    waiting = conn.execute("SELECT count(*) FROM change_requests WHERE status = 'sent_to_back_office'").fetchone()[0]
    next_in = None
    if feed is not None and feed.next_pull_at is not None:
        next_in = round(max(0.0, feed.next_pull_at - time.monotonic()), 1)
    return {
        "enabled": enabled, "cursor": row["cursor"], "pages": row["pages"], "last_pull_at": row["last_pull_at"],
        "last_success_at": row["last_success_at"], "last_error": row["last_error"], "last_error_at": row["last_error_at"],
        "next_pull_in_s": next_in,
        **{outcome: counts.get(outcome, 0) for outcome in ("applied", "scheduled", "ignored", "refused")},
        "last_refused": dict(refused) if refused else None,
        "back_office_requests": waiting,
    }


def inbound_log(db: Database, outcome: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The newest changes taken from the back office, optionally of one outcome (e.g. refused)."""
    if outcome is not None and outcome not in ("applied", "scheduled", "ignored", "refused"):
        raise ValidationError(f"outcome must be applied, scheduled, ignored or refused (got {outcome!r})",
                              field="outcome")
    rows = db.conn.execute("SELECT change_id, type, sku, outcome, detail, at FROM inbound_changes "
                           "WHERE ? IS NULL OR outcome = ? ORDER BY id DESC LIMIT ?", (outcome, outcome, limit))
    return [dict(r) for r in rows]
