"""Per-device MQTT credentials: a password per device id in mosquitto's password file.

The hub writes mosquitto's own file format (PBKDF2-SHA512, `$7$`, as `mosquitto_passwd` does) and
then makes the broker reload it: in production a systemd path unit (systemd/backroom-mqtt-reload.path)
sees the file change and runs `systemctl reload mosquitto`; the demo's and the tests' private broker
gets SIGHUP from the pid in mqtt.broker_pid_file. The ACL's `pattern readwrite backroom/+/dev/%u/#`
then confines the device to its own topics. The password is shown once and never stored in clear.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import logging
import os
import secrets
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devices import bus
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.errors import Conflict, NotFound, ValidationError
from hub.events import append_event
from hub.files import write_private

log = logging.getLogger(__name__)

HASH_ITERATIONS = 101  # mosquitto_passwd's default for $7$ (mosquitto 2.0, src/password_mosq.c)
SALT_BYTES = 12
PASSWORD_BYTES = 24
PASSWD_COPY = "mosquitto.passwd"  # in the data dir: the copy an empty live file is restored from


def hash_password(password: str, salt: bytes | None = None, iterations: int = HASH_ITERATIONS) -> str:
    """A mosquitto 2 password hash: $7$iterations$salt$hash with PBKDF2-HMAC-SHA512."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(stored: str, password: str) -> bool:
    """Whether stored (a $7$ or 1.x $6$ hash) is a hash of password."""
    parts = stored.split("$")
    try:
        if len(parts) == 5 and parts[1] == "7":
            digest = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(parts[3]), int(parts[2]))
        elif len(parts) == 4 and parts[1] == "6":
            digest = hashlib.sha512(password.encode() + base64.b64decode(parts[2])).digest()
        else:
            return False
    except ValueError:
        return False
    return hmac.compare_digest(base64.b64encode(digest).decode(), parts[-1])


def parse_passwd(text: str) -> dict[str, str]:
    """user -> hash from a password file; blank lines and # comments are skipped."""
    users: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":" in line:
            user, _, stored = line.partition(":")
            users[user] = stored
    return users


def render_passwd(users: dict[str, str]) -> str:
    return "".join(f"{user}:{stored}\n" for user, stored in users.items())


def damaged(text: str) -> bool:
    """Whether a password file is empty or torn (a line without ':'), as a power cut mid-write leaves it."""
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    return not lines or any(":" not in ln or "\0" in ln for ln in lines)


class PasswordFile:
    """mosquitto's password file, changed under an exclusive lock so two writers never interleave.

    The live file is rewritten in place (its directory, /etc/mosquitto, is not the hub's), so a power
    cut can leave it empty; the authoritative copy, with the hub's and the agent's users, is kept in
    the hub's data dir, written atomically first, and restore() copies it back.
    """

    def __init__(self, path: Path, backup: Path | None = None) -> None:
        self.path = path
        self.backup = backup

    def _backup_users(self) -> dict[str, str] | None:
        if self.backup is None:
            return None
        try:
            text = self.backup.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return None if damaged(text) else parse_passwd(text)

    def _open(self) -> Any:
        try:
            return open(self.path, "r+", encoding="utf-8")  # noqa: SIM115 - held open for the lock
        except FileNotFoundError:
            raise Conflict(f"mosquitto's password file {self.path} does not exist; run install.sh, or set "
                           "mqtt.password_file to the password_file of the broker's config", code="no_passwd") from None
        except PermissionError:
            raise Conflict(f"the hub may not write mosquitto's password file {self.path}; run install.sh again "
                           "(it makes the file writable by the hub's user)", code="no_passwd") from None

    @staticmethod
    def _rewrite(fh: Any, users: dict[str, str]) -> None:
        # in place, not temp-and-rename: the directory (/etc/mosquitto) is not the hub's,
        # and the file keeps its owner and mode (mosquitto must still read it)
        fh.seek(0)
        fh.truncate()
        fh.write(render_passwd(users))
        fh.flush()
        os.fsync(fh.fileno())

    @contextmanager
    def _locked(self) -> Iterator[dict[str, str]]:
        with self._open() as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            text = fh.read()
            saved = self._backup_users() if damaged(text) else None
            users = saved if saved is not None else parse_passwd(text)
            before = dict(users)
            yield users
            if users != before or saved is not None:
                if self.backup is not None:
                    write_private(self.backup, render_passwd(users))
                self._rewrite(fh, users)

    def users(self) -> dict[str, str]:
        with self._locked() as users:
            return dict(users)

    def set(self, user: str, password: str) -> None:
        with self._locked() as users:
            users[user] = hash_password(password)

    def remove(self, user: str) -> bool:
        with self._locked() as users:
            return users.pop(user, None) is not None

    def restore(self, required: frozenset[str] = frozenset()) -> bool:
        """At start: an empty or torn live file, or one that lost a required user the copy has, is
        rewritten from the copy (True: reload the broker); a sound one refreshes the copy."""
        if self.backup is None:
            return False
        try:
            fh = self._open()
        except Conflict as exc:  # no broker on this host, or not installed yet: nothing to restore
            log.info("not checking mosquitto's password file: %s", exc)
            return False
        with fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            text = fh.read()
            live, saved = parse_passwd(text), self._backup_users()
            lost = (required & set(saved or {})) - set(live)  # e.g. a write cut at a line boundary
            if not damaged(text) and not lost:
                if saved != live:
                    write_private(self.backup, render_passwd(live))
                return False
            if saved is None:
                log.error("mosquitto's password file %s is empty or damaged and there is no copy in %s; "
                          "run install.sh to recreate the hub's MQTT users", self.path, self.backup)
                return False
            users = saved if damaged(text) else {**live, **{u: saved[u] for u in sorted(lost)}}
            write_private(self.backup, render_passwd(users))
            self._rewrite(fh, users)
        log.warning("mosquitto's password file %s was empty or damaged; restored %d users from %s",
                    self.path, len(users), self.backup)
        return True


def reload_broker(pid_file: str) -> None:
    """SIGHUP the private broker whose pid is in pid_file; with none, systemd's path unit reloads."""
    if not pid_file:
        return
    try:
        pid = int(Path(pid_file).read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        log.warning("could not make mosquitto reload its password file (pid file %s): %s", pid_file, exc)


def device_topics(hub_id: str, device_id: str) -> dict[str, str]:
    """The topics a device may use, for the person who sets it up."""
    base = bus.device_base(hub_id, device_id)
    return {"base": f"{base}/#", "config": bus.config_topic(hub_id, device_id),
            "availability": bus.availability_topic(hub_id, device_id), "events": f"{base}/event/<name>",
            "commands": f"{base}/cmd/#", "results": f"{base}/cmd/<name>/result",
            "hub_status": bus.hub_status_topic(hub_id)}


class DeviceCredentials:
    """Issues and revokes one MQTT user per device; who and when is kept in mqtt_credentials."""

    def __init__(self, db: Database, hub_id: str, mqtt: Any, clock: Clock = system_clock) -> None:
        self.db = db
        self.hub_id = hub_id
        # the authoritative copy lives in the hub's data dir, beside the database
        self.file = PasswordFile(Path(mqtt["password_file"]), db.path.parent / PASSWD_COPY)
        self.pid_file: str = mqtt["broker_pid_file"]
        self.reserved = {mqtt["username"], mqtt["device_username"]}
        self.lan_host: str = mqtt["lan_host"] or f"{socket.gethostname()}.local"
        self.port: int = mqtt["lan_port"]
        self.tls_port: int = mqtt["tls_port"]
        self.clock = clock

    def restore(self) -> bool:
        """On hub start: restore an empty or torn live password file from the copy and reload mosquitto."""
        restored = self.file.restore(frozenset(self.reserved))
        if restored:
            reload_broker(self.pid_file)
        return restored

    def _check(self, device_id: Any) -> str:
        if not isinstance(device_id, str):
            raise ValidationError("send {\"device_id\": \"scale-2\"}", field="device_id")
        try:
            bus.check_id(device_id)
        except bus.BusError as exc:
            raise ValidationError(str(exc), field="device_id") from None
        if ":" in device_id:  # mosquitto's password file separates user and hash with ':'
            raise ValidationError(f"device id {device_id!r} may not hold ':' (it is an MQTT user name)",
                                  field="device_id")
        if device_id in self.reserved:
            raise Conflict(f"{device_id!r} is the hub's or the devices agent's MQTT user; choose another device id",
                           field="device_id")
        return device_id

    def issue(self, device_id: Any, actor: str) -> dict[str, Any]:
        """A new random password for device_id (replacing any earlier one), shown only here."""
        dev = self._check(device_id)
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        self.file.set(dev, password)
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO mqtt_credentials (device_id, issued_by, issued_at) VALUES (?, ?, ?) "
                "ON CONFLICT (device_id) DO UPDATE SET issued_by = excluded.issued_by, "
                "issued_at = excluded.issued_at, revoked_by = NULL, revoked_at = NULL",
                (dev, actor, iso(self.clock())),
            )
            append_event(conn, "device.credentials_issued", {"device_id": dev, "by": actor}, iso(self.clock()))
        reload_broker(self.pid_file)
        log.info("issued MQTT credentials for device %s (by %s)", dev, actor)
        return {"device_id": dev, "username": dev, "password": password, "host": self.lan_host, "port": self.port,
                "tls_port": self.tls_port or None, "hub_id": self.hub_id, "topics": device_topics(self.hub_id, dev)}

    def revoke(self, device_id: Any, actor: str) -> dict[str, Any]:
        dev = self._check(device_id)
        removed = self.file.remove(dev)
        with self.db.write() as conn:
            cur = conn.execute("UPDATE mqtt_credentials SET revoked_by = ?, revoked_at = ? "
                               "WHERE device_id = ? AND revoked_at IS NULL", (actor, iso(self.clock()), dev))
            if cur.rowcount:
                append_event(conn, "device.credentials_revoked", {"device_id": dev, "by": actor}, iso(self.clock()))
        if not removed and cur.rowcount == 0:
            raise NotFound(f"device {dev!r} has no MQTT credentials to revoke", field="device_id")
        reload_broker(self.pid_file)
        log.info("revoked MQTT credentials of device %s (by %s)", dev, actor)
        return {"device_id": dev, "revoked": True}

    def listing(self) -> list[dict[str, Any]]:
        rows = self.db.conn.execute("SELECT device_id, issued_by, issued_at, revoked_by, revoked_at "
                                    "FROM mqtt_credentials ORDER BY device_id").fetchall()
        return [dict(r) for r in rows]


def credentials_text(c: dict[str, Any]) -> str:
    """What `backroom devices add` prints for the installer to type into the device."""
    tls = f"\n  TLS port:  {c['tls_port']}" if c["tls_port"] else ""
    return (f"MQTT credentials for device {c['device_id']} (the password is shown only now):\n"
            f"  broker:    {c['host']}:{c['port']}{tls}\n  user:      {c['username']}\n"
            f"  password:  {c['password']}\n  hub id:    {c['hub_id']}\n"
            f"  it may write only {c['topics']['base']}\n")
