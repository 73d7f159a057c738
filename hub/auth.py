"""Tokens and people: who may call what. Tokens and passwords are stored only as hashes."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta

from hub import events
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.errors import Unauthorized, ValidationError

ROLES = ("owner", "manager", "cashier", "device", "integration")
# People's roles form a ladder: a higher role may do what a lower one may.
_RANK = {"cashier": 1, "manager": 2, "owner": 3}
TOKEN_PREFIX = "brt_"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def allows(role: str, required: tuple[str, ...]) -> bool:
    """Whether a caller with role may call a route open to the roles in required."""
    if role in required:
        return True
    rank = _RANK.get(role, 0)
    return any(rank and rank >= _RANK.get(r, 99) for r in required)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(8))


class Auth:
    def __init__(self, db: Database, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    def create_token(self, role: str, name: str = "") -> str:
        if role not in ROLES:
            raise ValidationError(f"role {role!r} is unknown; use one of {', '.join(ROLES)}", field="role")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id, now = uuid.uuid4().hex, iso(self.clock())
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO tokens (id, hash, role, name, created_at) VALUES (?, ?, ?, ?, ?)",
                (token_id, _token_hash(token), role, name, now),
            )
            events.append_event(conn, "token.created", {"id": token_id, "role": role, "name": name}, now)
        return token

    def token_role(self, token: str) -> tuple[str, str]:
        """(role, token id) of a live token, or Unauthorized."""
        row = self.db.conn.execute(
            "SELECT id, role FROM tokens WHERE hash = ? AND revoked_at IS NULL", (_token_hash(token),)
        ).fetchone()
        if row is None:
            raise Unauthorized("the bearer token is unknown or revoked; create one with `backroom token create --role ROLE`")
        return row["role"], row["id"]

    def set_user(self, username: str, password: str, role: str, actor: str = "cli") -> None:
        """Create a person or change their password and role; each change leaves a user_changes row."""
        if role not in _RANK:
            raise ValidationError(f"people have the role owner, manager or cashier, not {role!r}", field="role")
        if len(password) < 8:
            raise ValidationError("a password needs at least 8 characters", field="password")
        now = iso(self.clock())
        with self.db.write() as conn:
            row = conn.execute("SELECT role, password_hash FROM users WHERE username = ?", (username,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                             (username, hash_password(password), role, now))
                changes = [("created", None, role)]
            else:
                changes = []
                if row["role"] != role:
                    changes.append(("role", row["role"], role))
                if not check_password(password, row["password_hash"]):
                    changes.append(("password", None, "changed"))
                    conn.execute("UPDATE users SET password_hash = ? WHERE username = ?", (hash_password(password), username))
                    conn.execute("DELETE FROM web_sessions WHERE username = ?", (username,))  # signed in with the old one
                conn.execute("UPDATE users SET role = ? WHERE username = ?", (role, username))
            conn.executemany(
                "INSERT INTO user_changes (username, field, old, new, actor, at) VALUES (?, ?, ?, ?, ?, ?)",
                [(username, f, o, n, actor, now) for f, o, n in changes],
            )
            if changes:
                events.append_event(conn, "user.changed", {"username": username, "by": actor, "changes": [
                    {"field": f, "old": o, "new": n} for f, o, n in changes]}, now)

    # -- password sign-ins: kept here so that signing out ends every copy of the cookie ------------
    def start_session(self, username: str, lifetime: timedelta) -> str:
        """A new sign-in's random id (kept in the signed cookie); sign-ins older than lifetime go."""
        sid = secrets.token_urlsafe(24)
        now = self.clock()
        with self.db.write() as conn:
            conn.execute("DELETE FROM web_sessions WHERE started_at < ?", (iso(now - lifetime),))
            conn.execute("INSERT INTO web_sessions (id_hash, username, started_at) VALUES (?, ?, ?)",
                         (_token_hash(sid), username, iso(now)))
        return sid

    def end_session(self, sid: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM web_sessions WHERE id_hash = ?", (_token_hash(sid),))

    def session_live(self, sid: object, username: str) -> bool:
        """Whether this password sign-in of username has not been signed out (or ended by a new password)."""
        if not isinstance(sid, str) or not sid:
            return False
        row = self.db.conn.execute("SELECT username FROM web_sessions WHERE id_hash = ?", (_token_hash(sid),)).fetchone()
        return row is not None and row["username"] == username

    def current_role(self, username: str) -> str | None:
        """The person's role now, or None when they no longer exist or are disabled."""
        row = self.db.conn.execute("SELECT role FROM users WHERE username = ? AND disabled_at IS NULL",
                                   (username,)).fetchone()
        return str(row["role"]) if row else None

    def login(self, username: str, password: str) -> str:
        """The user's role when the password is right, else Unauthorized (same message either way)."""
        row = self.db.conn.execute(
            "SELECT password_hash, role FROM users WHERE username = ? AND disabled_at IS NULL", (username,)
        ).fetchone()
        stored = row["password_hash"] if row else _dummy_hash()  # the same work for unknown users
        if not check_password(password, stored) or row is None:
            raise Unauthorized("wrong user name or password")
        role: str = row["role"]
        return role
