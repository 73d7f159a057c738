"""People's PINs for the till: set by the owner, hashed with scrypt, rate-limited per tablet and
per person, locked for longer after each further failure, and every PIN checked audited (never the
PIN itself)."""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from hub import events
from hub.auth import _RANK, _dummy_hash, check_password, hash_password
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.errors import BackroomError, Forbidden, NotFound, Unauthorized, ValidationError

log = logging.getLogger(__name__)

MAX_FAILURES = 5  # wrong PINs in a row before a person is locked
LOCK_S = 15 * 60  # how long the first lock lasts unless a manager lifts it sooner
MAX_LOCK_S = 24 * 3600  # each further wrong PIN locks again for twice as long, up to this
MIN_DIGITS = {"cashier": 4, "manager": 6, "owner": 6}  # a PIN that opens approvals must be harder to guess
PLACE_FAILURES = 10  # wrong PINs at one tablet within PLACE_WINDOW_S before it must wait
PLACE_WINDOW_S = 5 * 60
NO_PASSWORD = "!"  # password_hash of a person who signs in only with a PIN: matches no password
_PIN = re.compile(r"\d{4,8}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


class TooManyTries(BackroomError):
    code = "too_many_tries"
    status = 429


def check_pin_format(pin: Any, role: str = "cashier", field: str = "pin") -> str:
    least = MIN_DIGITS.get(role, 4)
    if not isinstance(pin, str) or not _PIN.fullmatch(pin) or len(pin) < least:
        raise ValidationError(f"a {role}'s PIN is {least} to 8 digits", field=field)
    return pin


def lock_seconds(failures: int) -> int:
    """How long a person is locked after failures wrong PINs in a row (failures >= MAX_FAILURES)."""
    return min(LOCK_S * 2 ** min(failures - MAX_FAILURES, 16), MAX_LOCK_S)


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


class People:
    def __init__(self, db: Database, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock
        # tries refused before any PIN was checked (place waiting, person locked), by (place, reason):
        # counted here, not written, so a flood of them cannot fill the disk
        self.refused: Counter[tuple[str, str]] = Counter()
        self._refused_lock = threading.Lock()

    def people(self) -> list[dict[str, Any]]:
        """Everyone who is not disabled, with whether they have a PIN and whether it is locked."""
        now = self.clock()
        rows = self.db.conn.execute(
            "SELECT u.username, u.role, p.username IS NOT NULL AS has_pin, p.failures, p.locked_until, p.set_at "
            "FROM users u LEFT JOIN person_pins p ON p.username = u.username WHERE u.disabled_at IS NULL "
            "ORDER BY u.username").fetchall()
        out = []
        for r in rows:
            locked = r["locked_until"] is not None and _parse(r["locked_until"]) > now
            out.append({"username": r["username"], "role": r["role"], "has_pin": bool(r["has_pin"]),
                        "failures": r["failures"] or 0, "locked_until": r["locked_until"] if locked else None,
                        "pin_set_at": r["set_at"]})
        return out

    def add_person(self, username: str, role: str, pin: str, actor: str) -> None:
        """A person who signs in at the till with a PIN only (no password for the pages)."""
        if not isinstance(username, str) or not _NAME.fullmatch(username):
            raise ValidationError("a name is 1-40 letters, digits, '.', '_' or '-'", field="username")
        if role not in _RANK:
            raise ValidationError(f"people have the role owner, manager or cashier, not {role!r}", field="role")
        check_pin_format(pin, role)
        now = iso(self.clock())
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise ValidationError(f"{username} already exists; set their PIN instead", field="username")
            conn.execute("INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                         (username, NO_PASSWORD, role, now))
            self._write_pin(conn, username, pin, actor, now, [("created", None, role)])

    def set_pin(self, username: str, pin: str, actor: str) -> None:
        """Give a person a new PIN; this also lifts a lock."""
        now = iso(self.clock())
        with self.db.write() as conn:
            row = conn.execute("SELECT role FROM users WHERE username = ? AND disabled_at IS NULL",
                               (username,)).fetchone()
            if row is None:
                raise NotFound(f"no person {username!r}; add them first", field="username")
            check_pin_format(pin, row["role"])
            self._write_pin(conn, username, pin, actor, now, [])

    @staticmethod
    def _write_pin(conn: Any, username: str, pin: str, actor: str, now: str,
                   changes: list[tuple[str, str | None, str]]) -> None:
        conn.execute(
            "INSERT INTO person_pins (username, pin_hash, set_at, set_by) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (username) DO UPDATE SET pin_hash = excluded.pin_hash, failures = 0, locked_until = NULL, "
            "set_at = excluded.set_at, set_by = excluded.set_by", (username, hash_password(pin), now, actor))
        changes = [*changes, ("pin", None, "set")]
        conn.executemany("INSERT INTO user_changes (username, field, old, new, actor, at) VALUES (?, ?, ?, ?, ?, ?)",
                         [(username, f, o, n, actor, now) for f, o, n in changes])
        events.append_event(conn, "user.changed", {"username": username, "by": actor, "changes": [
            {"field": f, "old": o, "new": n} for f, o, n in changes]}, now)

    def unlock(self, username: str, actor: str) -> None:
        now = iso(self.clock())
        with self.db.write() as conn:
            cur = conn.execute("UPDATE person_pins SET failures = 0, locked_until = NULL WHERE username = ?",
                               (username,))
            if cur.rowcount == 0:
                raise NotFound(f"{username!r} has no PIN to unlock", field="username")
            conn.execute("INSERT INTO user_changes (username, field, old, new, actor, at) VALUES (?, 'pin', ?, ?, ?, ?)",
                         (username, "locked", "unlocked", actor, now))

    def check(self, username: str, pin: str, place: str, purpose: str) -> str:
        """The person's role when pin is theirs; else Unauthorized, Forbidden (locked) or TooManyTries.

        place is where the PIN was typed (tablet:<id>); too many failures there make it wait, too
        many in a row for one person lock that person, for longer each time. Every PIN checked is
        written to pin_attempts; tries refused before that (waiting, locked) are only counted in refused.
        """
        now = self.clock()
        since = iso(now - timedelta(seconds=PLACE_WINDOW_S))
        failed_here = self.db.conn.execute(
            "SELECT count(*) FROM pin_attempts WHERE place = ? AND ok = 0 AND at > ?", (place, since)).fetchone()[0]
        if failed_here >= PLACE_FAILURES:
            self._refuse(place, "place rate-limited")
            raise TooManyTries(f"too many wrong PINs on this tablet; wait {PLACE_WINDOW_S // 60} minutes "
                               "or ask a manager")
        row = self.db.conn.execute(
            "SELECT u.role, p.pin_hash, p.failures, p.locked_until FROM users u JOIN person_pins p "
            "ON p.username = u.username WHERE u.username = ? AND u.disabled_at IS NULL", (username,)).fetchone()
        if row is not None and row["locked_until"] and _parse(row["locked_until"]) > now:
            self._refuse(place, "locked")
            raise Forbidden(f"{username} is locked after {row['failures']} wrong PINs until "
                            f"{row['locked_until'][11:16]} UTC; a manager can unlock them on the status page",
                            code="locked")
        if row is None or not check_password(pin if isinstance(pin, str) else "", row["pin_hash"]):
            if row is None:
                check_password("0000", _dummy_hash())  # the same work for an unknown name
            self._fail(username, place, purpose, row is not None)
            raise Unauthorized("wrong name or PIN; try again", code="wrong_pin")
        with self.db.write() as conn:
            conn.execute("UPDATE person_pins SET failures = 0, locked_until = NULL WHERE username = ?", (username,))
            self._audit_in(conn, username, place, purpose, True, "")
        role = str(row["role"])
        if len(pin) < MIN_DIGITS[role]:  # set before the rule, or set while they were a cashier
            raise Forbidden(f"a {role}'s PIN needs at least {MIN_DIGITS[role]} digits; ask the owner to set "
                            "a longer one on the status page", code="pin_too_short")
        return role

    def _fail(self, username: str, place: str, purpose: str, known: bool) -> None:
        now = self.clock()
        with self.db.write() as conn:
            self._audit_in(conn, username, place, purpose, False, "wrong pin" if known else "unknown person")
            if not known:
                return
            failures = conn.execute("UPDATE person_pins SET failures = failures + 1 WHERE username = ? "
                                    "RETURNING failures", (username,)).fetchone()[0]
            if failures >= MAX_FAILURES:
                # the count is kept: once locked, each further wrong PIN locks again for twice as long
                # (a correct PIN or a manager's unlock starts it over)
                until = iso(now + timedelta(seconds=lock_seconds(failures)))
                conn.execute("UPDATE person_pins SET locked_until = ? WHERE username = ?", (until, username))
                conn.execute("INSERT INTO user_changes (username, field, old, new, actor, at) "
                             "VALUES (?, 'pin', 'unlocked', 'locked', ?, ?)", (username, place, iso(now)))
                log.warning("%s locked for %d s after %d wrong PINs at %s", username, lock_seconds(failures),
                            failures, place)

    def _refuse(self, place: str, reason: str) -> None:
        with self._refused_lock:
            self.refused[(place, reason)] += 1

    def _audit_in(self, conn: Any, username: str, place: str, purpose: str, ok: bool, reason: str) -> None:
        conn.execute("INSERT INTO pin_attempts (at, place, username, purpose, ok, reason) VALUES (?, ?, ?, ?, ?, ?)",
                     (iso(self.clock()), place, username[:40], purpose, int(ok), reason))

    def attempts(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.db.conn.execute("SELECT at, place, username, purpose, ok, reason FROM pin_attempts "
                                    "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) | {"ok": bool(r["ok"])} for r in rows]
