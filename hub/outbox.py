"""The outbox's bookkeeping for store-and-forward (docs/sync-protocol.md).

Writers append events with Store.append_event in their own transaction; everything after that is
here: pending events by lane, what the receiver acknowledged (a contiguous acked_seq plus a few
received ranges), the set-aside list (dead letters and dropped telemetry), pruning, the disk
quota and the summary the status page shows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.errors import NotFound, ValidationError
from hub.events import TELEMETRY_TYPES  # the only types ever dropped, under disk pressure

log = logging.getLogger(__name__)

PRUNE_CHUNK = 2000  # rows per write transaction, so a sale never waits long behind a prune
QUOTA_WARNINGS = (70, 90, 100)  # percent of cloud.outbox_quota_mb; 100 starts dropping telemetry
THROUGHPUT_WINDOW_S = 60.0
# An estimate of one row's disk use: data, type, the id and timestamp, and b-tree overhead.
_ROW_BYTES = "(length(data) + length(type) + 72)"
# The event envelope, spliced in SQL from the stored JSON text: no json.loads per event.
_ENVELOPE = ("'{\"id\":\"' || id || '\",\"hub_id\":' || :hub || ',\"seq\":' || seq || ',\"type\":' || "
             "json_quote(type) || ',\"occurred_at\":' || json_quote(occurred_at) || ',\"v\":' || v || "
             "',\"data\":' || data || '}'")

Ranges = list[tuple[int, int]]


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sorted, non-overlapping, non-adjacent inclusive ranges covering the same seqs."""
    out: Ranges = []
    for lo, hi in sorted(r for r in ranges if r[0] <= r[1]):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def subtract_ranges(ranges: Ranges, minus: Iterable[tuple[int, int]]) -> Ranges:
    out = merge_ranges(ranges)
    for mlo, mhi in merge_ranges(minus):
        nxt: Ranges = []
        for lo, hi in out:
            if hi < mlo or lo > mhi:
                nxt.append((lo, hi))
                continue
            if lo < mlo:
                nxt.append((lo, mlo - 1))
            if hi > mhi:
                nxt.append((mhi + 1, hi))
        out = nxt
    return out


def parse_ranges(value: Any) -> Ranges:
    """The receiver's [[lo, hi], ...]; anything malformed is ignored (we then resend, never skip)."""
    if not isinstance(value, list):
        return []
    return [(r[0], r[1]) for r in value
            if isinstance(r, list) and len(r) == 2 and all(type(x) is int for x in r) and r[0] <= r[1]]


@dataclass
class Batch:
    """What one request carries: envelopes as JSON text (seq, text) and set-aside markers."""

    events: list[tuple[int, str]] = field(default_factory=list)
    markers: list[dict[str, Any]] = field(default_factory=list)
    lane: str = "backlog"
    nbytes: int = 0

    @property
    def seqs(self) -> list[int]:
        return [s for s, _ in self.events]


class Outbox:
    def __init__(self, db: Database, hub_id: str, clock: Clock = system_clock, quota_mb: float = 0,
                 retention_days: float = 7, telemetry: frozenset[str] = TELEMETRY_TYPES,
                 receiver: bool = True) -> None:
        self.db = db
        self.receiver = receiver  # False: no cloud.url and no bridge, so nothing is ever acknowledged
        self.hub_id = hub_id
        self.clock = clock
        self.quota_bytes = int(quota_mb * 1024 * 1024)
        self.retention = timedelta(days=retention_days)
        self.telemetry = telemetry
        self._hub_json = json.dumps(hub_id)
        self._delivered: deque[tuple[float, int]] = deque()

    # -- reading what to send ------------------------------------------------------------------
    def state(self) -> sqlite3.Row:
        row: sqlite3.Row = self.db.conn.execute("SELECT * FROM sync_state WHERE id = 1").fetchone()
        return row

    def last_seq(self) -> int:
        row = self.db.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return int(row[0]) if row else 0

    def received(self) -> Ranges:
        return [(r[0], r[1]) for r in self.db.conn.execute("SELECT lo, hi FROM outbox_received ORDER BY lo")]

    def _held_back(self, above: int) -> set[int]:
        """Seqs set aside and not queued for replay (their events are not sent)."""
        return {r[0] for r in self.db.conn.execute(
            "SELECT seq FROM outbox_set_aside WHERE seq > ? AND replay = 0", (above,))}

    def take(self, lo: int, hi: int | None, limit: int, max_bytes: int) -> list[tuple[int, str]]:
        """Pending envelopes with lo <= seq < hi, ascending, up to limit events and max_bytes
        (at least one). Pending: above acked_seq, not in a received range, not set aside."""
        conn = self.db.conn
        acked = self.state()["acked_seq"]
        lo = max(lo, acked + 1)
        top = hi - 1 if hi is not None else 1 << 62
        windows = subtract_ranges([(lo, top)], self.received()) if lo <= top else []
        held = self._held_back(lo - 1)
        out: list[tuple[int, str]] = []
        size = 0
        for wlo, whi in windows:
            rows = conn.execute(f"SELECT seq, {_ENVELOPE} FROM outbox WHERE seq BETWEEN :lo AND :hi "
                                "ORDER BY seq LIMIT :n",
                                {"hub": self._hub_json, "lo": wlo, "hi": whi, "n": limit - len(out)}).fetchall()
            for seq, env in rows:
                if seq in held:
                    continue
                if out and size + len(env) + 1 > max_bytes:
                    return out
                out.append((seq, env))
                size += len(env) + 1
            if len(out) >= limit:
                break
        return out

    def replays(self, limit: int, max_bytes: int) -> list[tuple[int, str]]:
        """Dead letters the owner sent back: they go out first, with their own seq and id."""
        rows = self.db.conn.execute(
            f"SELECT seq, {_ENVELOPE} FROM outbox WHERE seq IN "
            "(SELECT seq FROM outbox_set_aside WHERE replay = 1) ORDER BY seq LIMIT :n",
            {"hub": self._hub_json, "n": limit}).fetchall()
        out, size = [], 0
        for seq, env in rows:
            if out and size + len(env) > max_bytes:
                break
            out.append((seq, env))
            size += len(env)
        return out

    def markers(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Set-aside markers the receiver has not acknowledged yet."""
        return [{"seq": r[0], "id": r[1], "type": r[2], "reason": r[3], "detail": r[4]}
                for r in self.db.conn.execute(
                    "SELECT seq, id, type, reason, detail FROM outbox_set_aside WHERE announced = 0 AND replay = 0 "
                    "ORDER BY seq LIMIT ?", (limit,))]

    def oldest_pending(self, below: int | None = None) -> str | None:
        """occurred_at of the oldest event still to send (below seq `below`, if given)."""
        got = self.take(0, below, 1, 1 << 30)
        if not got:
            return None
        row = self.db.conn.execute("SELECT occurred_at FROM outbox WHERE seq = ?", (got[0][0],)).fetchone()
        return str(row[0]) if row else None

    def body(self, batch: Batch) -> tuple[str, bytes]:
        """The batch id and the request body, spliced from the stored JSON text."""
        seqs = batch.seqs + [m["seq"] for m in batch.markers]
        first, last = min(seqs), max(seqs)
        events = ",".join(env for _, env in batch.events)
        batch_id = f"{self.hub_id}:{first}-{last}"
        if len(batch.events) != last - first + 1 or batch.markers:
            # not one plain run: name the content too, so a receiver's idempotency cache can
            # never answer it with what it said to another batch over the same seqs
            tag = hashlib.blake2b((events + json.dumps(batch.markers)).encode(), digest_size=4).hexdigest()
            batch_id += f"~{tag}"
        head = '{"hub_id":' + self._hub_json + ',"batch_id":' + json.dumps(batch_id) + ',"events":['
        tail = "]" + (',"set_aside":' + json.dumps(batch.markers, separators=(",", ":")) if batch.markers else "") + "}"
        return batch_id, (head + events + tail).encode()

    # -- what the receiver answered ------------------------------------------------------------
    def acknowledge(self, batch: Batch, acked_seq: int, received: Ranges, missing: Ranges, sent_high: int) -> int:
        """Record a 200 answer; return how many of the batch's events are now delivered.

        Never trust an ack beyond what was sent: acked_seq and received are cut at sent_high."""
        now = iso(self.clock())
        acked_in = min(acked_seq, sent_high)
        with self.db.write() as conn:
            old = conn.execute("SELECT acked_seq FROM sync_state WHERE id = 1").fetchone()[0]
            acked = max(old, acked_in)
            ranges = [(r[0], r[1]) for r in conn.execute("SELECT lo, hi FROM outbox_received")]
            ranges = merge_ranges(ranges + [(lo, min(hi, sent_high)) for lo, hi in received])
            ranges = subtract_ranges(ranges, missing + [(0, acked)])
            conn.execute("DELETE FROM outbox_received")
            conn.executemany("INSERT INTO outbox_received (lo, hi) VALUES (?, ?)", ranges)
            conn.execute("UPDATE sync_state SET acked_seq = ?, last_success_at = ?, last_error = NULL WHERE id = 1",
                         (acked, now))
            if batch.markers:
                conn.executemany("UPDATE outbox_set_aside SET announced = 1 WHERE seq = ? AND replay = 0",
                                 [(m["seq"],) for m in batch.markers])
            delivered = [s for s in batch.seqs if s <= acked or any(lo <= s <= hi for lo, hi in ranges)]
            if batch.lane == "replay" and delivered:
                conn.executemany("DELETE FROM outbox_set_aside WHERE seq = ? AND replay = 1",
                                 [(s,) for s in delivered])
        self._delivered.append((time.monotonic(), len(delivered)))
        return len(delivered)

    def ack_through(self, seq: int) -> None:
        """Everything up to seq is delivered (a receiver's word, or a restore's)."""
        with self.db.write() as conn:
            conn.execute("UPDATE sync_state SET acked_seq = max(acked_seq, ?), last_success_at = ?, last_error = NULL "
                         "WHERE id = 1", (seq, iso(self.clock())))
            conn.execute("DELETE FROM outbox_received WHERE hi <= ?", (seq,))

    def set_aside(self, seqs: Iterable[int], detail: str, answer: str) -> int:
        """Put refused events on the dead-letter list; announced in the next batch."""
        now = iso(self.clock())
        with self.db.write() as conn:
            n = 0
            for seq in seqs:
                n += conn.execute(
                    "INSERT OR REPLACE INTO outbox_set_aside (seq, id, type, reason, detail, answer, at) "
                    "SELECT seq, id, type, 'rejected', ?, ?, ? FROM outbox WHERE seq = ?",
                    (detail[:500], answer[:2000], now, seq)).rowcount
        return n

    def set_state(self, state: str, reason: str | None) -> None:
        """online, offline or degraded; since is kept across offline <-> degraded."""
        row = self.state()
        if row["state"] == state and row["state_reason"] == reason:
            return
        since = row["state_since"] if (row["state"] != "online") == (state != "online") and row["state_since"] else None
        with self.db.write() as conn:
            conn.execute("UPDATE sync_state SET state = ?, state_reason = ?, state_since = ? WHERE id = 1",
                         (state, reason and reason[:500], since or iso(self.clock())))

    def record_error(self, message: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE sync_state SET last_error = ?, last_error_at = ? WHERE id = 1",
                         (message[:500], iso(self.clock())))

    def throughput(self) -> float:
        """Events delivered per second over the last minute (this process only)."""
        cut = time.monotonic() - THROUGHPUT_WINDOW_S
        while self._delivered and self._delivered[0][0] < cut:
            self._delivered.popleft()
        return round(sum(n for _, n in self._delivered) / THROUGHPUT_WINDOW_S, 1)

    # -- dead letters ----------------------------------------------------------------------------
    def dead_letters(self) -> list[dict[str, Any]]:
        return [dict(r) | {"replay": bool(r["replay"])} for r in self.db.conn.execute(
            "SELECT seq, id, type, detail, answer, at, replay, replay_by, replay_at FROM outbox_set_aside "
            "WHERE reason = 'rejected' ORDER BY seq")]

    def replay(self, seqs: list[int] | None, actor: str) -> int:
        """Send dead letters again (all when seqs is None); each keeps its seq and id."""
        if seqs is not None and (not seqs or not all(type(s) is int for s in seqs)):
            raise ValidationError("send {\"seqs\": [1017, ...]} or {\"all\": true}", field="seqs")
        with self.db.write() as conn:
            if seqs is not None:
                known = {r[0] for r in conn.execute(
                    f"SELECT seq FROM outbox_set_aside WHERE reason = 'rejected' AND seq IN ({','.join('?' * len(seqs))})",
                    seqs)}
                unknown = sorted(set(seqs) - known)
                if unknown:
                    raise NotFound(f"seq {unknown[0]} is not on the dead-letter list; GET /api/v1/sync/dead-letters "
                                   "lists them", field="seqs")
            where = "reason = 'rejected' AND replay = 0" + (
                f" AND seq IN ({','.join('?' * len(seqs))})" if seqs is not None else "")
            n = conn.execute(f"UPDATE outbox_set_aside SET replay = 1, replay_by = ?, replay_at = ? WHERE {where}",
                             [actor, iso(self.clock()), *(seqs or [])]).rowcount
        log.info("%s sent %d dead letter(s) back to the cloud queue", actor, n)
        return int(n)

    # -- bounded disk ------------------------------------------------------------------------------
    def upkeep(self) -> None:
        """The scheduler's job: prune, then check the quota."""
        self.prune()
        self.check_quota()

    def prune(self, now: datetime | None = None) -> int:
        """Delete acknowledged events older than the retention, a chunk per transaction; on a hub
        without a receiver nothing is ever acknowledged, so every event older than that goes."""
        cutoff = iso((now or self.clock()) - self.retention)
        return self._prune_before(cutoff) if self.receiver else self._prune_unreceived(cutoff)

    def _prune_unreceived(self, cutoff: str) -> int:
        total = 0
        while True:
            with self.db.write() as conn:
                n = self._delete(conn, "occurred_at < ?", (cutoff,))
                if n < PRUNE_CHUNK:
                    conn.execute("DELETE FROM outbox_set_aside WHERE at < ?", (cutoff,))
            total += n
            if n < PRUNE_CHUNK:
                return total

    def _prune_before(self, cutoff: str) -> int:
        total = 0
        while True:
            with self.db.write() as conn:
                n = self._delete(conn, "seq <= (SELECT acked_seq FROM sync_state WHERE id = 1) AND occurred_at < ? "
                                 "AND seq NOT IN (SELECT seq FROM outbox_set_aside)", (cutoff,))
                if n < PRUNE_CHUNK:
                    conn.execute("DELETE FROM outbox_set_aside WHERE reason = 'dropped' AND announced = 1 "
                                 "AND seq <= (SELECT acked_seq FROM sync_state WHERE id = 1)")
            total += n
            if n < PRUNE_CHUNK:
                return total

    def _delete(self, conn: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> int:
        """Delete up to PRUNE_CHUNK rows, oldest first, keeping the usage count true."""
        rows = conn.execute(f"SELECT seq, {_ROW_BYTES} FROM outbox WHERE {where} ORDER BY seq LIMIT {PRUNE_CHUNK}",
                            args).fetchall()
        if not rows:
            return 0
        counted = conn.execute("SELECT usage_seq FROM sync_state WHERE id = 1").fetchone()[0]
        freed = sum(b for s, b in rows if s <= counted)
        conn.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s, _ in rows])
        conn.execute("UPDATE sync_state SET usage_bytes = max(0, usage_bytes - ?) WHERE id = 1", (freed,))
        return len(rows)

    def usage(self) -> int:
        """Bytes the outbox takes (estimated), reading only rows added since the last call.

        The reading happens outside the write lock (the first one reads the whole outbox); the
        count is then added only if nobody moved it meanwhile."""
        conn = self.db.conn
        counted = conn.execute("SELECT usage_seq FROM sync_state WHERE id = 1").fetchone()[0]
        added, top = conn.execute(f"SELECT coalesce(sum({_ROW_BYTES}), 0), max(seq) FROM outbox WHERE seq > ?",
                                  (counted,)).fetchone()
        with self.db.write() as w:
            if top is not None:
                w.execute("UPDATE sync_state SET usage_bytes = usage_bytes + ?, usage_seq = ? "
                          "WHERE id = 1 AND usage_seq = ?", (added, top, counted))
            return int(w.execute("SELECT usage_bytes FROM sync_state WHERE id = 1").fetchone()[0])

    def check_quota(self) -> dict[str, Any]:
        """Warn at 70% and 90% of the quota; over it, prune everything delivered, then drop
        undelivered telemetry, oldest first. Money and stock events are never dropped."""
        used = self.usage()
        if self.quota_bytes and used > self.quota_bytes:
            if self.receiver:
                self._prune_before("9999")  # everything delivered: the receiver holds it
            used = self.usage()
            while used > self.quota_bytes and self._drop_telemetry():
                used = self.usage()
        level = self._level(used)
        with self.db.write() as conn:
            before = conn.execute("SELECT quota_level FROM sync_state WHERE id = 1").fetchone()[0]
            conn.execute("UPDATE sync_state SET quota_level = ? WHERE id = 1", (level,))
        if level != before:
            limit_mb = self.quota_bytes / 1048576
            if level >= 100 and not self.receiver:
                log.error("the event outbox is full (%.1f MB of %.1f MB): telemetry is being dropped; this hub has "
                          "no cloud link, so the other events are kept cloud.retention_days (%g) days: lower "
                          "cloud.retention_days or raise cloud.outbox_quota_mb", used / 1048576, limit_mb,
                          self.retention.total_seconds() / 86400)
            elif level and not self.receiver:
                log.warning("the event outbox uses %d%% of its %.1f MB quota (cloud.outbox_quota_mb); this hub has "
                            "no cloud link, so events are kept cloud.retention_days (%g) days, then pruned",
                            level, limit_mb, self.retention.total_seconds() / 86400)
            elif level >= 100:
                log.error("the cloud outbox is full (%.1f MB of %.1f MB): telemetry is being dropped; money and "
                          "stock events are kept, so the disk keeps filling until the cloud link is back",
                          used / 1048576, limit_mb)
            elif level:
                log.warning("the cloud outbox uses %d%% of its %.1f MB quota (cloud.outbox_quota_mb): the cloud "
                            "link is down or slow; check the status page", level, limit_mb)
            else:
                log.info("the cloud outbox is back under %d%% of its quota", QUOTA_WARNINGS[0])
        return self.quota(used, level)

    def _level(self, used: int) -> int:
        if not self.quota_bytes:
            return 0
        pct = 100 * used / self.quota_bytes
        return max((w for w in QUOTA_WARNINGS if pct >= w), default=0)

    def _drop_telemetry(self) -> int:
        """Drop one chunk of the oldest undelivered telemetry; return how many."""
        types = sorted(self.telemetry)
        marks = ",".join("?" * len(types))
        now = iso(self.clock())
        received = self.received()
        # found outside the write lock (telemetry may be rare among a million rows), checked again inside
        found = self.db.conn.execute(
            f"SELECT seq FROM outbox WHERE seq > (SELECT acked_seq FROM sync_state WHERE id = 1) AND type IN "
            f"({marks}) AND seq NOT IN (SELECT seq FROM outbox_set_aside) ORDER BY seq LIMIT {PRUNE_CHUNK}",
            types).fetchall()
        found = [r for r in found if not any(lo <= r[0] <= hi for lo, hi in received)]
        if not found:
            return 0
        with self.db.write() as conn:
            acked = conn.execute("SELECT acked_seq FROM sync_state WHERE id = 1").fetchone()[0]
            rows = conn.execute(f"SELECT seq, id, type FROM outbox WHERE seq IN ({','.join('?' * len(found))}) "
                                "AND seq > ? AND seq NOT IN (SELECT seq FROM outbox_set_aside) ORDER BY seq",
                                (*(r[0] for r in found), acked)).fetchall()
            if not rows:
                return 0
            conn.executemany(
                "INSERT INTO outbox_set_aside (seq, id, type, reason, detail, at) VALUES (?, ?, ?, 'dropped', ?, ?)",
                [(r[0], r[1], r[2], "telemetry dropped: the outbox is over its disk quota", now) for r in rows])
            counted = conn.execute("SELECT usage_seq FROM sync_state WHERE id = 1").fetchone()[0]
            seqs = [r[0] for r in rows]
            freed = conn.execute(f"SELECT coalesce(sum({_ROW_BYTES}), 0) FROM outbox WHERE seq IN "
                                 f"({','.join('?' * len(seqs))}) AND seq <= ?", (*seqs, counted)).fetchone()[0]
            conn.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            conn.execute("UPDATE sync_state SET usage_bytes = max(0, usage_bytes - ?), dropped = dropped + ? "
                         "WHERE id = 1", (freed, len(rows)))
        log.warning("dropped %d telemetry event(s) (seq %d-%d): the cloud outbox is over its disk quota",
                    len(rows), rows[0][0], rows[-1][0])
        return len(rows)

    def quota(self, used: int | None = None, level: int | None = None) -> dict[str, Any]:
        row = self.state()
        used = row["usage_bytes"] if used is None else used
        return {"limit_mb": round(self.quota_bytes / 1048576, 1), "used_mb": round(used / 1048576, 1),
                "percent": round(100 * used / self.quota_bytes, 1) if self.quota_bytes else None,
                "level": row["quota_level"] if level is None else level}

    # -- what people see -----------------------------------------------------------------------
    def backlog(self) -> int:
        """Events still to send: above acked_seq, not received, not set aside (seq is gapless)."""
        row = self.state()
        acked = row["acked_seq"]
        received = self.received()
        pending = self.last_seq() - acked - sum(hi - lo + 1 for lo, hi in received)
        held = self._held_back(acked) | {r[0] for r in self.db.conn.execute(
            "SELECT seq FROM outbox_set_aside WHERE seq > ? AND reason = 'dropped'", (acked,))}
        return max(0, pending - sum(1 for s in held if not any(lo <= s <= hi for lo, hi in received)))

    def summary(self) -> dict[str, Any]:
        row = self.state()
        oldest = self.oldest_pending()
        age = None
        if oldest:
            age = max(0.0, round((self.clock() - datetime.fromisoformat(oldest.replace("Z", "+00:00"))).total_seconds(), 1))
        dead = self.db.conn.execute("SELECT count(*) FROM outbox_set_aside WHERE reason = 'rejected'").fetchone()[0]
        return {
            "state": row["state"],
            "since": row["state_since"],
            "offline_since": row["state_since"] if row["state"] != "online" else None,
            "reason": row["state_reason"],
            "backlog": self.backlog(),
            "oldest_unsent_at": oldest,
            "oldest_unsent_age_s": age,
            "acked_seq": row["acked_seq"],
            "last_seq": self.last_seq(),
            "last_success_at": row["last_success_at"],
            "last_error": row["last_error"],
            "last_error_at": row["last_error_at"],
            "throughput_eps": self.throughput(),
            "dead_letters": dead,
            "dropped": row["dropped"],
            "quota": self.quota(),
        }
