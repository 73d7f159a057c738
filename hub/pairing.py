"""Pairing tablets as registers: a short single-use code (and its QR code) shown to the owner, traded
by the tablet for a register identity and a long-lived token kept in an HTTP-only cookie.
Codes and tokens are stored only as SHA-256 hashes; unpairing stops a token at once."""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from hub import events
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.errors import Conflict, NotFound, ValidationError
from hub.people import TooManyTries

CODE_DIGITS = 6
CODE_TTL_S = 600  # a code is good for ten minutes
MAX_WRONG_CODES = 10  # wrong codes from one address within WRONG_WINDOW_S before it must wait
WRONG_WINDOW_S = 600
SEEN_EVERY_S = 60  # a tablet's last_seen is written at most this often
COOKIE = "backroom_tablet"
COOKIE_MAX_AGE_S = 400 * 24 * 3600  # the longest a browser keeps a cookie (Chromium caps at 400 days)
_REGISTER_NAME = re.compile(r"[^\W_][\w .'-]{0,39}")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def qr_svg(text: str) -> str:
    """text as a QR code in SVG, drawn by the hub (no network, no image library)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue().decode()


def pairing_urls(host: str, scheme: str, mdns_host: str | None, port: int | None) -> list[str]:
    """Where a tablet can open /pair: the host the owner's browser used first, then the mDNS name;
    a loopback host (the owner is on the hub itself) goes last, as no tablet can reach it."""
    urls = [f"{scheme}://{host}/pair"]
    if mdns_host and port:
        urls.append(f"http://{mdns_host.rstrip('.')}:{port}/pair")
    loopback = host.split(":")[0] in ("127.0.0.1", "localhost", "[::1]")
    return urls[1:] + urls[:1] if loopback and len(urls) > 1 else urls


class Pairing:
    def __init__(self, db: Database, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock
        self._failures_before = 0  # wrong codes up to this pairing_failures id were made before the newest code

    def new_code(self, actor: str) -> dict[str, Any]:
        """A fresh code; any older unused code stops working."""
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        now = self.clock()
        expires = iso(now + timedelta(seconds=CODE_TTL_S))
        with self.db.write() as conn:
            conn.execute("UPDATE pairing_codes SET used_at = ? WHERE used_at IS NULL", (iso(now),))
            # the owner's new code lifts every wait: guessing at older codes no longer matters
            self._failures_before = conn.execute("SELECT coalesce(max(id), 0) FROM pairing_failures").fetchone()[0]
            conn.execute("INSERT INTO pairing_codes (id, code_hash, created_by, created_at, expires_at) "
                         "VALUES (?, ?, ?, ?, ?)", (uuid.uuid4().hex, _hash(code), actor, iso(now), expires))
        return {"code": code, "expires_at": expires, "ttl_s": CODE_TTL_S}

    def _live_code(self, code: Any, remote: str) -> str:
        """The id of the open code matching code, or a refusal (each wrong code counts against the
        address it came from, so one guesser on the LAN cannot keep the others from pairing)."""
        now = self.clock()
        since = iso(now - timedelta(seconds=WRONG_WINDOW_S))
        remote = remote[:64]
        wrong = self.db.conn.execute("SELECT count(*) FROM pairing_failures WHERE at > ? AND remote = ? AND id > ?",
                                     (since, remote, self._failures_before)).fetchone()[0]
        if wrong >= MAX_WRONG_CODES:
            raise TooManyTries("too many wrong pairing codes; ask the owner for a new code on the status page")
        code = code.strip().replace(" ", "") if isinstance(code, str) else ""
        row = self.db.conn.execute(
            "SELECT id FROM pairing_codes WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
            (_hash(code), iso(now))).fetchone() if re.fullmatch(rf"\d{{{CODE_DIGITS}}}", code) else None
        if row is None:
            with self.db.write() as conn:
                conn.execute("INSERT INTO pairing_failures (at, remote) VALUES (?, ?)", (iso(now), remote))
                if wrong + 1 >= MAX_WRONG_CODES:  # guessing: no open code may be found by it
                    conn.execute("UPDATE pairing_codes SET used_at = ? WHERE used_at IS NULL", (iso(now),))
            raise ValidationError("that pairing code is wrong, used or expired; codes last "
                                  f"{CODE_TTL_S // 60} minutes: ask for a new one on the status page",
                                  field="code", code="bad_code")
        return str(row["id"])

    def check_code(self, code: Any, remote: str) -> list[dict[str, Any]]:
        """The registers a tablet may become with this code (it is not used up by looking)."""
        self._live_code(code, remote)
        return self.registers()

    def registers(self) -> list[dict[str, Any]]:
        rows = self.db.conn.execute(
            "SELECT r.id, r.name, t.id IS NOT NULL AS paired FROM registers r "
            "LEFT JOIN tablets t ON t.register_id = r.id AND t.unpaired_at IS NULL ORDER BY r.id").fetchall()
        return [{"id": r["id"], "name": r["name"], "paired": bool(r["paired"])} for r in rows]

    def pair(self, code: Any, register_id: Any, register_name: Any, user_agent: str,
             remote: str) -> tuple[dict[str, Any], str]:
        """Use the code: the tablet becomes register_id (an unpaired one) or a new register named
        register_name. Returns (tablet, token); the token is shown this once."""
        code_id = self._live_code(code, remote)
        now = iso(self.clock())
        token = "brp_" + secrets.token_urlsafe(32)
        tablet_id = uuid.uuid4().hex[:12]
        with self.db.write() as conn:
            if register_id is None:
                if not isinstance(register_name, str) or not _REGISTER_NAME.fullmatch(register_name.strip()):
                    raise ValidationError("name the register (1-40 letters, digits, spaces), or pick one",
                                          field="register_name")
                name = register_name.strip()
                register_id = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "register"
                base, n = register_id, 1
                while conn.execute("SELECT 1 FROM registers WHERE id = ?", (register_id,)).fetchone():
                    n += 1
                    register_id = f"{base}-{n}"
                conn.execute("INSERT INTO registers (id, name) VALUES (?, ?)", (register_id, name))
            elif not isinstance(register_id, str) or not conn.execute(
                    "SELECT 1 FROM registers WHERE id = ?", (register_id,)).fetchone():
                raise NotFound(f"no register {register_id!r}; pick one from the list or name a new one",
                               field="register_id")
            if conn.execute("SELECT 1 FROM tablets WHERE register_id = ? AND unpaired_at IS NULL",
                            (register_id,)).fetchone():
                raise Conflict(f"register {register_id} already has a tablet; unpair it on the status page first",
                               field="register_id", code="register_paired")
            if conn.execute("UPDATE pairing_codes SET used_at = ?, tablet_id = ? WHERE id = ? AND used_at IS NULL",
                            (now, tablet_id, code_id)).rowcount != 1:
                raise ValidationError("that pairing code was just used; ask for a new one", field="code",
                                      code="bad_code")
            by = conn.execute("SELECT created_by FROM pairing_codes WHERE id = ?", (code_id,)).fetchone()[0]
            conn.execute("INSERT INTO tablets (id, register_id, token_hash, paired_at, paired_by, user_agent, last_seen) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (tablet_id, register_id, _hash(token), now, by, user_agent[:200], now))
            events.append_event(conn, "tablet.paired", {"tablet_id": tablet_id, "register_id": register_id, "by": by},
                                now)
        tablet = self.tablet(tablet_id)
        assert tablet is not None
        return tablet, token

    def tablet(self, tablet_id: str) -> dict[str, Any] | None:
        row = self.db.conn.execute("SELECT t.*, r.name AS register_name FROM tablets t JOIN registers r "
                                   "ON r.id = t.register_id WHERE t.id = ?", (tablet_id,)).fetchone()
        return _tablet(row) if row else None

    def tablet_for_token(self, token: str | None) -> dict[str, Any] | None:
        """The live tablet holding token (with its session_id), or None; notes it was seen."""
        if not token:
            return None
        row = self.db.conn.execute("SELECT t.*, r.name AS register_name FROM tablets t JOIN registers r "
                                   "ON r.id = t.register_id WHERE t.token_hash = ? AND t.unpaired_at IS NULL",
                                   (_hash(token),)).fetchone()
        if row is None:
            return None
        now = self.clock()
        if row["last_seen"] is None or datetime.fromisoformat(row["last_seen"]) < now - timedelta(seconds=SEEN_EVERY_S):
            with self.db.write() as conn:
                conn.execute("UPDATE tablets SET last_seen = ? WHERE id = ?", (iso(now), row["id"]))
        return {**_tablet(row), "session_id": row["session_id"]}

    def start_session(self, tablet_id: str) -> str:
        """A new PIN session on the tablet: any earlier one (and any copy of its cookie) ends."""
        session_id = secrets.token_urlsafe(16)
        with self.db.write() as conn:
            conn.execute("UPDATE tablets SET session_id = ? WHERE id = ?", (session_id, tablet_id))
        return session_id

    def end_session(self, tablet_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE tablets SET session_id = NULL WHERE id = ?", (tablet_id,))

    def tablets(self) -> list[dict[str, Any]]:
        rows = self.db.conn.execute("SELECT t.*, r.name AS register_name FROM tablets t JOIN registers r "
                                    "ON r.id = t.register_id WHERE t.unpaired_at IS NULL ORDER BY t.register_id")
        return [_tablet(r) for r in rows]

    def unpair(self, tablet_id: str, actor: str) -> dict[str, Any]:
        now = iso(self.clock())
        with self.db.write() as conn:
            row = conn.execute("SELECT register_id FROM tablets WHERE id = ? AND unpaired_at IS NULL",
                               (tablet_id,)).fetchone()
            if row is None:
                raise NotFound(f"no paired tablet {tablet_id!r}; it may be unpaired already", field="tablet_id")
            conn.execute("UPDATE tablets SET unpaired_at = ?, unpaired_by = ? WHERE id = ?", (now, actor, tablet_id))
            events.append_event(conn, "tablet.unpaired", {"tablet_id": tablet_id, "register_id": row["register_id"],
                                                          "by": actor}, now)
        tablet = self.tablet(tablet_id)
        assert tablet is not None
        return tablet


def _tablet(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "register_id": row["register_id"], "register_name": row["register_name"],
            "paired_at": row["paired_at"], "paired_by": row["paired_by"], "user_agent": row["user_agent"],
            "last_seen": row["last_seen"], "unpaired_at": row["unpaired_at"]}
