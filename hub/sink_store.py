"""The reference sink's storage: events deduped by (hub_id, seq), set-aside markers, held ranges.

One SQLite file. `events` holds one row per (hub_id, seq): the event itself, or a set-aside
marker (data NULL, reason set) until the real event replaces it. `ranges` holds the seqs held per
hub as merged inclusive runs, so the contiguous prefix (acked_seq), the received ranges and the
missing gaps come from a handful of rows, never from a scan of the events.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.errors import Conflict

Ranges = list[tuple[int, int]]

MAX_RANGES_ANSWERED = 1000  # received/missing lists are capped; the hub resends what it can't see

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    hub_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
    occurred_at TEXT, v INTEGER, data TEXT, reason TEXT, detail TEXT, received_at TEXT NOT NULL,
    PRIMARY KEY (hub_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ranges (
    hub_id TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL, PRIMARY KEY (hub_id, lo)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hubs (
    hub_id TEXT PRIMARY KEY, events INTEGER NOT NULL DEFAULT 0, markers INTEGER NOT NULL DEFAULT 0,
    acked_seq INTEGER NOT NULL DEFAULT 0, last_received_at TEXT
);
"""


class SeqClash(Conflict):
    """A (hub_id, seq) already holds another event: a restored backup or a reused hub id."""

    code = "seq_clash"

    def __init__(self, hub_id: str, seq: int, held: str, sent: str) -> None:
        super().__init__(
            f"hub {hub_id} seq {seq} already holds event {held}, not {sent}: this hub id was reused or its "
            "data restored from an old backup; give the hub a new id or contact support",
            field="seq",
        )


def add_runs(ranges: Ranges, seqs: Iterable[int]) -> Ranges:
    """`ranges` (sorted, disjoint) with `seqs` added, merged into sorted non-adjacent runs."""
    runs: Ranges = []
    for s in sorted(seqs):
        if runs and s <= runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], max(runs[-1][1], s))
        else:
            runs.append((s, s))
    out: Ranges = []
    for lo, hi in sorted(ranges + runs):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def summarize(ranges: Ranges) -> tuple[int, Ranges, Ranges]:
    """(acked_seq, received, missing) from all held ranges of a hub (seqs start at 1)."""
    if ranges and ranges[0][0] <= 1:
        acked, received = ranges[0][1], list(ranges[1:])
    else:
        acked, received = 0, list(ranges)
    missing: Ranges = []
    after = acked
    for lo, hi in received:
        missing.append((after + 1, lo - 1))
        after = hi
    return acked, received, missing


@dataclass
class IngestResult:
    acked_seq: int
    received: Ranges
    missing: Ranges
    accepted: int
    duplicates: int

    def to_dict(self) -> dict[str, Any]:
        return {"acked_seq": self.acked_seq, "received": self.received[:MAX_RANGES_ANSWERED],
                "missing": self.missing[:MAX_RANGES_ANSWERED], "accepted": self.accepted,
                "duplicates": self.duplicates}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class SinkStore:
    """Events and markers per hub; one writer at a time, readers on their own connection."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = self._connect(path)
        self.conn.executescript(SCHEMA)
        # FULL: an acknowledged batch survives a power cut, which is what the 200 promises.
        self.conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        self.reader = self._connect(path)
        self.lock = threading.Lock()
        self.read_lock = threading.Lock()

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    def close(self) -> None:
        with self.lock, self.read_lock:
            self.conn.close()
            self.reader.close()

    def ingest(self, hub_id: str, events: list[dict[str, Any]], markers: list[dict[str, Any]]) -> IngestResult:
        """Store a checked batch atomically; SeqClash (nothing stored) if a seq holds another event.

        One transaction: one SELECT for the seqs already held, two executemany, a few range rows.
        (Copying `data` out of the body text with json_each instead of json.dumps measured no faster.)
        """
        by_seq = {e["seq"]: e for e in events}
        marks = {m["seq"]: m for m in markers if m["seq"] not in by_seq}
        seqs = json.dumps([*by_seq, *marks])
        now = _now()
        with self.lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                held = {seq: (id_, is_marker) for seq, id_, is_marker in conn.execute(
                    "SELECT seq, id, data IS NULL FROM events WHERE hub_id = ? AND seq IN "
                    "(SELECT value FROM json_each(?))", (hub_id, seqs))}
                for seq, (held_id, _) in held.items():
                    sent = by_seq.get(seq) or marks[seq]
                    if sent["id"] != held_id:
                        raise SeqClash(hub_id, seq, held_id, sent["id"])
                new_events = [e for s, e in by_seq.items() if s not in held]
                replacing = [e for s, e in by_seq.items() if s in held and held[s][1]]
                new_marks = [m for s, m in marks.items() if s not in held]
                conn.executemany(
                    "INSERT OR REPLACE INTO events (hub_id, seq, id, type, occurred_at, v, data, received_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(hub_id, e["seq"], e["id"], e["type"], e["occurred_at"], e["v"],
                      json.dumps(e["data"], separators=(",", ":"), ensure_ascii=False), now)
                     for e in (*new_events, *replacing)])
                conn.executemany(
                    "INSERT INTO events (hub_id, seq, id, type, reason, detail, received_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(hub_id, m["seq"], m["id"], m.get("type") or "", m["reason"], m.get("detail") or "",
                      now) for m in new_marks])
                added = [e["seq"] for e in new_events] + [m["seq"] for m in new_marks]
                ranges = self._merge_ranges(hub_id, added)
                acked, received, missing = summarize(ranges)
                conn.execute(
                    "INSERT INTO hubs (hub_id, events, markers, acked_seq, last_received_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (hub_id) DO UPDATE SET events = events + excluded.events, "
                    "markers = markers + excluded.markers, acked_seq = excluded.acked_seq, "
                    "last_received_at = excluded.last_received_at",
                    (hub_id, len(new_events) + len(replacing), len(new_marks) - len(replacing), acked, now))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        accepted = len(new_events) + len(replacing) + len(new_marks)
        return IngestResult(acked, received, missing, accepted, len(by_seq) + len(marks) - accepted)

    def _merge_ranges(self, hub_id: str, added: list[int]) -> Ranges:
        """Fold the newly held seqs into the ranges table; return all of the hub's ranges."""
        conn = self.conn
        if added:
            lo, hi = min(added), max(added)
            touched: Ranges = conn.execute(
                "SELECT lo, hi FROM ranges WHERE hub_id = ? AND hi >= ? AND lo <= ?", (hub_id, lo - 1, hi + 1)
            ).fetchall()
            conn.executemany("DELETE FROM ranges WHERE hub_id = ? AND lo = ?", [(hub_id, r[0]) for r in touched])
            conn.executemany("INSERT INTO ranges (hub_id, lo, hi) VALUES (?, ?, ?)",
                             [(hub_id, a, b) for a, b in add_runs(touched, added)])
        return conn.execute("SELECT lo, hi FROM ranges WHERE hub_id = ? ORDER BY lo LIMIT ?",
                            (hub_id, MAX_RANGES_ANSWERED + 1)).fetchall()

    # -- reading -------------------------------------------------------------------------------
    def state(self, hub_id: str) -> IngestResult:
        with self.read_lock:
            ranges = self.reader.execute("SELECT lo, hi FROM ranges WHERE hub_id = ? ORDER BY lo LIMIT ?",
                                         (hub_id, MAX_RANGES_ANSWERED + 1)).fetchall()
        acked, received, missing = summarize(ranges)
        return IngestResult(acked, received, missing, 0, 0)

    def hubs(self) -> list[dict[str, Any]]:
        with self.read_lock:
            rows = self.reader.execute(
                "SELECT hub_id, events, markers, acked_seq, last_received_at FROM hubs ORDER BY hub_id").fetchall()
        out = []
        for hub_id, n, markers, acked, last in rows:
            state = self.state(hub_id)
            out.append({"hub_id": hub_id, "events": n, "set_aside": markers, "acked_seq": acked,
                        "received": state.received, "missing": state.missing, "last_received_at": last})
        return out

    def markers(self, hub_id: str, limit: int = 100) -> list[dict[str, Any]]:
        with self.read_lock:
            rows = self.reader.execute(
                "SELECT seq, id, type, reason, detail FROM events WHERE hub_id = ? AND data IS NULL "
                "ORDER BY seq LIMIT ?", (hub_id, limit)).fetchall()
        return [{"seq": r[0], "id": r[1], "type": r[2], "reason": r[3], "detail": r[4]} for r in rows]

    def ordered_json(self, hub_id: str, after: int, limit: int) -> tuple[str, int, int]:
        """The events after `after` up to acked_seq, in seq order, as one JSON array of envelopes.

        Returns (json text, acked_seq, last seq in the page). Stored `data` is spliced, not parsed.
        A set-aside marker appears as {"seq", "id", "type", "set_aside": {"reason", "detail"}}.
        """
        with self.read_lock:
            row = self.reader.execute("SELECT acked_seq FROM hubs WHERE hub_id = ?", (hub_id,)).fetchone()
            acked = row[0] if row else 0
            rows = self.reader.execute(
                "SELECT seq, CASE WHEN data IS NULL THEN "
                "json_object('hub_id', hub_id, 'seq', seq, 'id', id, 'type', type, "
                "'set_aside', json_object('reason', reason, 'detail', detail)) ELSE "
                "'{\"id\":' || json_quote(id) || ',\"hub_id\":' || json_quote(hub_id) || ',\"seq\":' || seq || "
                "',\"type\":' || json_quote(type) || ',\"occurred_at\":' || json_quote(occurred_at) || "
                "',\"v\":' || v || ',\"data\":' || data || '}' END "
                "FROM events WHERE hub_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                (hub_id, after, acked, limit)).fetchall()
        last = rows[-1][0] if rows else after
        return "[" + ",".join(r[1] for r in rows) + "]", acked, last
