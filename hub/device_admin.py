"""What the hub remembers of each device besides its announcement, and what the owner does with
devices on the status page: rename, bind, set an input role, forget, and test (issue 5 §5, §8).

Last events are kept in memory and written with last-seen times (SD cards wear out); errors,
printer states and the owner's changes are written when they happen.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from devices import bus
from hub.clock import iso
from hub.errors import BackroomError, Conflict, NotFound, UnprocessableError, ValidationError
from hub.events import append_event

if TYPE_CHECKING:
    from hub.registry import DeviceRegistry

log = logging.getLogger(__name__)

DEVICE_ERRORS_KEPT = 10
ERROR_REPEAT_S = 60.0  # a device's errors are written at most once in this; the others are counted
# events that say how a device is, kept per device (only when they change)
STATE_EVENTS: dict[str, type[bus.PrinterStatus]] = {"status": bus.PrinterStatus}
INPUT_KINDS = ("scanner", "keyboard")
INPUT_CAPABILITIES = ("use_as_scanner", "use_as_keyboard")
NAME_MAX = 60
TEST_JOBS_KEPT = 200
# action -> (the command sent, the kinds it is for); "scan" sends nothing to the device
TEST_ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "test_page": ("test_page", ("receipt_printer", "label_printer")),
    "drawer": ("drawer", ("receipt_printer",)),
    "tare": ("tare", ("scale",)),
    "zero": ("zero", ("scale",)),
    "scan": ("", ("scanner",)),
}


class DeviceAdmin:
    """The registry's companion: per-device memory (events, states, errors) and the owner's actions."""

    def __init__(self, registry: DeviceRegistry) -> None:
        self.registry = registry
        self.db = registry.db
        self._lock = threading.Lock()
        self._events: dict[str, tuple[str, str]] = {}  # device -> (last event, at), not yet written
        self._last_error: dict[str, tuple[float, int]] = {}  # device -> (last kept at, errors held back since)
        self.monotonic: Callable[[], float] = time.monotonic
        self._jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()  # test jobs, newest last

    def _now(self) -> str:
        return iso(self.registry.clock())

    def _row(self, dev: str) -> dict[str, Any]:
        row = self.db.conn.execute("SELECT * FROM devices WHERE id = ?", (dev,)).fetchone()
        if row is None:
            raise NotFound(f"no device {dev!r}: it was forgotten or never announced itself; reload the page",
                           field="device_id")
        return dict(row)

    # -- what devices tell ------------------------------------------------------------------------
    def note_event(self, dev: str, name: str) -> None:
        with self._lock:
            self._events[dev] = (name, self._now())

    def record_error(self, dev: str, source: str, message: str) -> None:
        """Keep an error of a known device: at most one per ERROR_REPEAT_S (each is a synced write and
        a cloud event); the ones in between are counted, and the count is kept with the next."""
        message = (message or "failed without saying why")[:300]
        now = self.monotonic()
        with self._lock:
            self._prune_errors(now)
            last = self._last_error.get(dev)
            if last and now - last[0] < ERROR_REPEAT_S:
                self._last_error[dev] = (last[0], last[1] + 1)
                return
            suppressed = last[1] if last else 0
            self._last_error[dev] = (now, 0)
        if suppressed:
            message += (f" ({suppressed} more error{'s' if suppressed > 1 else ''} within "
                        f"{ERROR_REPEAT_S:g} s of the one before were not kept)")
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM devices WHERE id = ?", (dev,)).fetchone() is None:
                with self._lock:  # no rows for devices the hub does not know (nor for ghosts), nor memory
                    self._last_error.pop(dev, None)
                return
            conn.execute("INSERT INTO device_errors (device_id, at, source, message) VALUES (?, ?, ?, ?)",
                         (dev, self._now(), source, message))
            append_event(conn, "device.error", {"device_id": dev, "source": source, "message": message}, self._now())
            conn.execute("DELETE FROM device_errors WHERE device_id = ? AND id NOT IN "
                         "(SELECT id FROM device_errors WHERE device_id = ? ORDER BY id DESC LIMIT ?)",
                         (dev, dev, DEVICE_ERRORS_KEPT))
        self.registry._status_changed()

    def _prune_errors(self, now: float) -> None:
        """Forget devices whose last kept error is past the window and nothing was held back since."""
        for dev, (at, suppressed) in list(self._last_error.items()):
            if not suppressed and now - at >= ERROR_REPEAT_S:
                del self._last_error[dev]

    def error_event(self, dev: str, payload: bytes) -> None:
        """event/error {message}: a device that reports its own trouble."""
        try:
            body = json.loads(payload)
        except ValueError as exc:
            raise bus.BusError(f"error payload is not JSON: {exc}") from None
        if not isinstance(body, dict) or not isinstance(body.get("message"), str):
            raise bus.BusError("error payload must be an object with a string 'message'")
        self.record_error(dev, "event/error", body["message"])

    def record_state(self, dev: str, name: str, payload: bytes) -> None:
        """A state event (a printer's status): written only when it differs from what is kept."""
        value = asdict(STATE_EVENTS[name].from_payload(payload))
        row = self.db.conn.execute("SELECT kind, online, state FROM devices WHERE id = ?", (dev,)).fetchone()
        if row is None:
            return
        state = json.loads(row["state"])
        if state.get(name) == value:
            return
        before = state.get(name) or {}
        state[name] = value
        with self.db.write() as conn:
            conn.execute("UPDATE devices SET state = ? WHERE id = ?", (json.dumps(state, sort_keys=True), dev))
            append_event(conn, "device.state_changed", {"device_id": dev, "kind": row["kind"],
                                                               "online": bool(row["online"]), "state": state}, self._now())
        error = value.get("error")
        if isinstance(error, str) and error and error != before.get("error"):
            self.record_error(dev, f"event/{name}", error)
        else:
            self.registry._status_changed()

    def job_result(self, dev: str, command: str, result: bus.JobResult) -> None:
        """Every command result: a failure is kept as an error; a test job's result goes to the page."""
        if not result.ok:
            self.record_error(dev, f"cmd/{command}", result.error)
        with self._lock:
            job = self._jobs.get(result.job_id)
            if job is None or job["device_id"] != dev or job["status"] != "sent":
                return
            job.update(status="done" if result.ok else "failed", ok=result.ok, error=result.error,
                       finished_at=self._now())
            event = dict(job)
        self.registry.channels.publish("status", "device_job", event)

    def announced(self, dev: str, kind: str) -> None:
        """An input device announced a kind other than the role the owner chose: tell it again."""
        if kind not in INPUT_KINDS:
            return
        row = self.db.conn.execute("SELECT role_override FROM devices WHERE id = ?", (dev,)).fetchone()
        if row is not None and row[0] and row[0] != kind:
            log.info("device %s announced itself as a %s; telling it again to act as a %s", dev, kind, row[0])
            self._send(dev, "input_role", {"role": row[0]}, "input_role", "hub")

    def flush(self) -> None:
        """Write the last events kept in memory, in one transaction."""
        with self._lock:
            events, self._events = self._events, {}
        if events:
            with self.db.write() as conn:
                conn.executemany("UPDATE devices SET last_event = ?, last_event_at = ? WHERE id = ? "
                                 "AND (last_event_at IS NULL OR last_event_at <= ?)",
                                 [(name, at, dev, at) for dev, (name, at) in events.items()])

    def decorate(self, devices: list[dict[str, Any]]) -> None:
        """Add what the page shows beyond the row: the owner's name, last event, errors, state."""
        errors: dict[str, list[dict[str, str]]] = defaultdict(list)
        for r in self.db.conn.execute("SELECT device_id, at, source, message FROM device_errors ORDER BY id DESC"):
            errors[r[0]].append({"at": r[1], "source": r[2], "message": r[3]})
        with self._lock:
            events = dict(self._events)
        for d in devices:
            d["announced_name"] = d["name"]
            d["name"] = d.pop("display_name", None) or d["name"]
            d["state"] = json.loads(d["state"])
            name, at = events.get(d["id"], ("", ""))
            if at and at >= (d["last_event_at"] or ""):
                d["last_event"], d["last_event_at"] = name, at
            d["errors"] = errors.get(d["id"], [])

    # -- what the owner does ----------------------------------------------------------------------
    def update(self, dev: str, body: Any, actor: str) -> dict[str, Any]:
        """PATCH: {name (null: the announced one), register_id (null: unbound), role (input devices)}."""
        if not isinstance(body, dict) or not body or set(body) - {"name", "register_id", "role"}:
            raise ValidationError("send an object with any of name, register_id (null to unbind) and role "
                                  "(scanner or keyboard)")
        row = self._row(dev)
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["display_name"] = _name(body["name"])
        if "register_id" in body:
            changes["register_id"] = self._register(body["register_id"])
        if "role" in body:
            changes["role_override"] = _role(body["role"], row)
        changed = {k: v for k, v in changes.items() if v != row[k]}
        if changed:
            now = self._now()
            with self.db.write() as conn:
                for column, value in changed.items():
                    conn.execute(f"UPDATE devices SET {column} = ? WHERE id = ?", (value, dev))  # noqa: S608 - fixed names
                    conn.execute("INSERT INTO device_changes (device_id, field, old, new, actor, at) VALUES (?, ?, ?, ?, ?, ?)",
                                 (dev, _FIELDS[column], row[column], value, actor, now))
                append_event(conn, "device.changed", {"device_id": dev, "by": actor, "changes": {
                    _FIELDS[c]: {"old": row[c], "new": v} for c, v in changed.items()}}, now)
            self.registry._status_changed()
        role = changed.get("role_override")
        if role and role != row["kind"] and row["online"]:
            try:
                self._send(dev, "input_role", {"role": role}, "input_role", actor)
            except BackroomError as exc:  # stored: it is sent when the device announces itself again
                log.warning("could not tell %s its role now (%s); it gets it when it announces itself", dev, exc.message)
        return self.registry.device(dev)

    def _register(self, register_id: Any) -> str | None:
        if register_id is None:
            return None
        if not isinstance(register_id, str) or not self.registry.register_exists(register_id):
            raise UnprocessableError(f"register {register_id!r} does not exist; pick one from the list",
                                     field="register_id")
        return register_id

    def forget(self, dev: str, actor: str) -> None:
        """Clear the device's retained config and availability on the broker, then its row: no
        ghost comes back when the broker restarts. A live device comes back at the next hub birth."""
        row = self._row(dev)
        hub = self.registry.hub_id
        self.registry.publish(bus.config_topic(hub, dev), b"", retain=True, confirm=True)
        self.registry.publish(bus.availability_topic(hub, dev), b"", retain=True, confirm=True)
        with self.db.write() as conn:
            conn.execute("DELETE FROM devices WHERE id = ?", (dev,))
            conn.execute("DELETE FROM device_errors WHERE device_id = ?", (dev,))
            conn.execute("INSERT INTO device_changes (device_id, field, old, new, actor, at) VALUES (?, 'forgotten', ?, NULL, ?, ?)",
                         (dev, row["display_name"] or row["name"], actor, self._now()))
            append_event(conn, "device.forgotten", {"device_id": dev, "name": row["display_name"] or row["name"],
                                                           "by": actor}, self._now())
        with self._lock:
            self._events.pop(dev, None)
            self._last_error.pop(dev, None)
        self.registry.forget_memory(dev)
        log.info("device %s forgotten by %s", dev, actor)
        self.registry._status_changed()

    def test(self, dev: str, body: Any, actor: str) -> dict[str, Any]:
        """POST .../test {action, register_id?, data?, pin?}: the job; its result follows as device_job."""
        action = body.get("action") if isinstance(body, dict) else None
        if action not in TEST_ACTIONS:
            raise ValidationError(f"action must be one of {', '.join(TEST_ACTIONS)}", field="action")
        row = self._row(dev)
        command, kinds = TEST_ACTIONS[action]
        if row["kind"] not in kinds:
            raise UnprocessableError(f"{action} is for a {' or '.join(k.replace('_', ' ') for k in kinds)}; "
                                     f"{dev} is a {row['kind'].replace('_', ' ')}", field="action")
        if action == "scan":
            return self._test_scan(row, body, actor)
        if not row["online"]:
            raise Conflict(f"{dev} is offline; plug it in or start its devices agent, then try again",
                           code="device_offline")
        payload: dict[str, Any] = {}
        if action == "drawer":
            pin = body.get("pin", 2)
            if pin not in (2, 5):
                raise ValidationError("pin must be 2 or 5 (the drawer connector's kick pin)", field="pin")
            payload["pin"] = pin
        return self._send(dev, command, payload, action, actor)

    def _send(self, dev: str, command: str, payload: dict[str, Any], action: str, actor: str) -> dict[str, Any]:
        job = self._new_job(dev, action, actor, status="sent")
        self.registry.send(dev, command, json.dumps({"job_id": job["job_id"], **payload}).encode())
        return dict(job)

    def _new_job(self, dev: str, action: str, actor: str, status: str) -> dict[str, Any]:
        job_id = uuid.uuid4().hex
        job: dict[str, Any] = {"job_id": job_id, "device_id": dev, "action": action, "status": status, "ok": None,
               "error": "", "actor": actor, "created_at": self._now(), "finished_at": None}
        with self._lock:
            self._jobs[job_id] = job
            while len(self._jobs) > TEST_JOBS_KEPT:
                self._jobs.popitem(last=False)
        return job

    def _test_scan(self, row: dict[str, Any], body: dict[str, Any], actor: str) -> dict[str, Any]:
        """Publish a scan on the register's channel as if this scanner had read it, marked test."""
        register_id = body.get("register_id") or row["register_id"]
        if register_id is None:
            raise UnprocessableError(f"{row['id']} is bound to no register: bind it or choose a register",
                                     field="register_id")
        register_id = self._register(register_id)
        data = body.get("data") or self.known_code()
        if not isinstance(data, str) or len(data) > 256:
            raise ValidationError("data must be the text to scan (1-256 characters)", field="data")
        if not data:
            raise UnprocessableError("there is no item with a barcode to test with; add one, or give data",
                                     field="data")
        job = self._new_job(row["id"], "scan", actor, status="done")
        base = {"scan_id": job["job_id"], "device_id": row["id"], "code": data, "aim": "", "test": True}
        try:
            event, sent = "scan", {**base, **self.registry.lookup(data)}
        except BackroomError as exc:
            event, sent = "scan_error", {**base, "error": exc.to_dict()["error"]}
            job.update(status="failed", ok=False, error=exc.message)
        listeners = self.registry.channels.publish(f"register:{register_id}", event, sent)
        job.update(ok=event == "scan", register_id=register_id, code=data, listeners=listeners,
                   finished_at=self._now())
        self.registry.channels.publish("status", "device_job", dict(job))
        return dict(job)

    def known_code(self) -> str:
        """A barcode of an active item sold by the piece, for a test scan."""
        row = self.db.conn.execute(
            "SELECT b.code FROM barcodes b JOIN items i ON i.sku = b.sku "
            "WHERE i.active = 1 AND i.unit = 'each' AND b.pack_qty = 1 ORDER BY i.sku, b.code LIMIT 1").fetchone()
        if row is None:
            return ""
        code: str = row[0]
        return code[1:] if len(code) == 14 and code.startswith("0") else code  # GTIN-14 form of an EAN-13

    def job(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return dict(job) if job else None


_FIELDS = {"display_name": "name", "register_id": "register_id", "role_override": "role"}


def _name(value: Any) -> str | None:
    if value is None or value == "":
        return None  # back to the name the device announces
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > NAME_MAX:
        raise ValidationError(f"name must be 1-{NAME_MAX} characters, or null for the device's own name", field="name")
    return value.strip()


def _role(value: Any, row: dict[str, Any]) -> str | None:
    if value is not None and value not in INPUT_KINDS:
        raise ValidationError("role must be scanner, keyboard or null", field="role")
    caps = json.loads(row["capabilities"])
    if row["kind"] not in INPUT_KINDS and not set(caps) & set(INPUT_CAPABILITIES):
        raise UnprocessableError(f"{row['id']} is a {row['kind'].replace('_', ' ')}, not an input device: "
                                 "only scanners and keyboards take a role", field="role")
    return value  # type: ignore[no-any-return]
