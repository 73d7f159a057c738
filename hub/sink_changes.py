"""The reference sink's inbound change feed (docs/sync-protocol.md section 6) and its rate limit.

Changes a back office (or a developer, with `backroom sink change`) puts in for a hub are kept in
order; hubs page through them with an opaque cursor. The cursor is the position of the last
change returned, so a page is always "the changes after it", whatever was added meanwhile.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.errors import ValidationError

CHANGE_TYPES = ("item.upsert", "item.deactivate", "price.set", "barcode.add", "barcode.remove")
MAX_PAGE = 1000

SCHEMA = """
CREATE TABLE IF NOT EXISTS changes (
    pos INTEGER PRIMARY KEY AUTOINCREMENT, hub_id TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
    UNIQUE (hub_id, id)
);
"""


def check_change(change: Any, where: str = "change") -> dict[str, Any]:
    """The change, with its id and time filled in, or ValidationError naming the field at fault."""
    if not isinstance(change, dict):
        raise ValidationError(f"{where} must be a JSON object", field=where)
    kind = change.get("type")
    if kind not in CHANGE_TYPES:
        raise ValidationError(f"{where}.type {kind!r} is not one of {', '.join(CHANGE_TYPES)}", field=f"{where}.type")
    if not isinstance(change.get("sku"), str) or not change["sku"]:
        raise ValidationError(f"{where}.sku must be the item's SKU (a non-empty string)", field=f"{where}.sku")
    needs: dict[str, tuple[str, type]] = {
        "item.upsert": ("fields", dict), "price.set": ("price_minor", int), "barcode.add": ("code", str),
        "barcode.remove": ("code", str),
    }
    if kind in needs:
        key, typ = needs[kind]
        if not isinstance(change.get(key), typ) or isinstance(change.get(key), bool):
            raise ValidationError(f"{where}.{key} is required for {kind} and must be a {typ.__name__}",
                                  field=f"{where}.{key}")
    if kind == "price.set":
        change.setdefault("tier", "retail")
    if "id" in change and not isinstance(change["id"], str):
        raise ValidationError(f"{where}.id must be a string", field=f"{where}.id")
    change.setdefault("id", "chg-" + uuid.uuid4().hex[:12])
    change.setdefault("effective_at", None)
    change.setdefault("at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return change


def parse_cursor(cursor: str) -> int:
    if not cursor:
        return 0
    if cursor.startswith("c") and cursor[1:].isdigit():
        return int(cursor[1:])
    raise ValidationError(f"cursor {cursor[:40]!r} is not one this receiver gave out; start again with an empty "
                          "cursor", field="cursor")


class ChangeFeed:
    """Ordered changes per hub in the sink's SQLite file."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA busy_timeout = 10000")
        self.conn.executescript(SCHEMA)
        self.lock = threading.Lock()

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def add(self, hub_id: str, changes: list[dict[str, Any]]) -> int:
        """Append checked changes; a change id the hub already has is skipped. Returns how many were added."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                before = self.conn.total_changes
                self.conn.executemany("INSERT OR IGNORE INTO changes (hub_id, id, body) VALUES (?, ?, ?)",
                                      [(hub_id, c["id"], json.dumps(c)) for c in changes])
                added = self.conn.total_changes - before
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return added

    def page(self, hub_id: str, cursor: str, limit: int) -> dict[str, Any]:
        after = parse_cursor(cursor)
        with self.lock:
            rows = self.conn.execute("SELECT pos, body FROM changes WHERE hub_id = ? AND pos > ? ORDER BY pos LIMIT ?",
                                     (hub_id, after, limit + 1)).fetchall()
        page = rows[:limit]
        return {"changes": [json.loads(body) for _, body in page],
                "next_cursor": f"c{page[-1][0]}" if page else cursor, "has_more": len(rows) > limit}


class RateLimit:
    """A token bucket per hub: `per_minute` requests, bursts of up to `burst`; 0 turns it off."""

    def __init__(self, per_minute: float, burst: int = 5, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def retry_after(self, key: str) -> float:
        """0 when the request may go ahead (and takes a token), else seconds until it may."""
        if self.rate <= 0:
            return 0.0
        with self.lock:
            now = self.clock()
            tokens, at = self.buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens >= 1:
                self.buckets[key] = (tokens - 1, now)
                return 0.0
            self.buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


def parse_fields(pairs: list[str]) -> dict[str, Any]:
    """`name=value` pairs as a fields object; a value that reads as JSON (249, true, null) is taken as such."""
    fields: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ValidationError(f"--field {pair!r} must be name=value, e.g. price_minor=249", field="field")
        try:
            fields[name] = json.loads(text)
        except ValueError:
            fields[name] = text
    return fields


def post_changes(base_url: str, secret: str, hub_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST changes for a hub to a running sink, signed as a hub signs its batches."""
    import urllib.error
    import urllib.request

    from hub.sync_protocol import HUB_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

    data = json.dumps(body).encode()
    ts = str(int(time.time()))
    url = f"{base_url.rstrip('/')}/v1/hubs/{hub_id}/changes"
    req = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json", HUB_HEADER: hub_id, TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: sign(secret, ts, data)})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer: dict[str, Any] = json.loads(resp.read())
            return answer
    except urllib.error.HTTPError as exc:
        with exc:
            detail = exc.read()[:500].decode("utf-8", "replace")
        raise ValidationError(f"the sink at {url} answered {exc.code}: {detail}") from None
    except OSError as exc:
        raise ValidationError(f"cannot reach the sink at {url}: {exc}; is `backroom sink` running there?") from None
