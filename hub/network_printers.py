"""Network printers the owner added, kept in SQLite and published as the retained bus message
backroom/<hub>/hub/printers, from which the devices agent hosts them."""

from __future__ import annotations

import ipaddress
import logging
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from devices import bus
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.errors import Conflict, NotFound, ValidationError

log = logging.getLogger(__name__)

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
FIELDS = ("host", "port", "kind", "language", "name")
DEVICE_PREFIX = "netprinter-"  # the device id on the bus: netprinter-<row id>, never reused


def device_id(row_id: int) -> str:
    return f"{DEVICE_PREFIX}{row_id}"


def check_host(value: Any) -> str:
    """An IP address or a DNS host name (an mDNS name such as printer.local included)."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("host must be an IP address or host name, e.g. 192.168.1.50", field="host")
    host = value.strip()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _HOSTNAME.match(host) or host.replace(".", "").isdigit():
        raise ValidationError(f"host {host!r} is neither an IP address nor a host name; use e.g. 192.168.1.50 "
                              "or printer.local", field="host")
    return host.lower()


def parse_printer(body: Any) -> dict[str, Any]:
    """Validate {host, port, kind, language, name} from the API."""
    if not isinstance(body, dict):
        raise ValidationError("send {host, port, kind, language, name}")
    unknown = set(body) - set(FIELDS)
    if unknown:
        raise ValidationError(f"unknown field(s) {', '.join(sorted(unknown))}; send {', '.join(FIELDS)}",
                              field=sorted(unknown)[0])
    port = body.get("port", 9100)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ValidationError(f"port must be a TCP port 1-65535 (9100 for raw printing), got {port!r}", field="port")
    kind = body.get("kind", "receipt_printer")
    if kind not in bus.PRINTER_KINDS:
        raise ValidationError(f"kind must be one of {', '.join(bus.PRINTER_KINDS)}, got {kind!r}", field="kind")
    language = body.get("language", "escpos")
    if language not in bus.PRINTER_LANGUAGES:
        raise ValidationError(f"language must be one of {', '.join(bus.PRINTER_LANGUAGES)}, got {language!r}",
                              field="language")
    host = check_host(body.get("host"))
    name = body.get("name") or f"Printer {host}"
    if not isinstance(name, str) or len(name.strip()) > 100:
        raise ValidationError("name must be text of at most 100 characters", field="name")
    return {"host": host, "port": port, "kind": kind, "language": language, "name": name.strip()}


class NetworkPrinters:
    """The owner's list of network printers; every change is published at once."""

    def __init__(self, db: Database, hub_id: str, publish: Callable[[str, bytes], None],
                 clock: Clock = system_clock) -> None:
        self.db = db
        self.hub_id = hub_id
        self.publish = publish  # DeviceRegistry.publish_retained
        self.clock = clock

    def listing(self) -> list[dict[str, Any]]:
        rows = self.db.conn.execute("SELECT id, host, port, kind, language, name, added_by, added_at "
                                    "FROM network_printers WHERE removed_at IS NULL ORDER BY id").fetchall()
        return [{**dict(r), "device_id": device_id(r["id"])} for r in rows]

    def add(self, body: Any, actor: str) -> dict[str, Any]:
        p = parse_printer(body)
        try:
            with self.db.write() as conn:
                cur = conn.execute(
                    "INSERT INTO network_printers (host, port, kind, language, name, added_by, added_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (p["host"], p["port"], p["kind"], p["language"], p["name"], actor, iso(self.clock())))
                new_id = cur.lastrowid
        except sqlite3.IntegrityError:
            raise Conflict(f"printer {p['host']}:{p['port']} is already added; remove it first to change it",
                           field="host") from None
        log.info("network printer %s:%s added by %s", p["host"], p["port"], actor)
        self.announce()
        return next(x for x in self.listing() if x["id"] == new_id)

    def remove(self, printer_id: str, actor: str) -> None:
        if not printer_id.isdigit() or len(printer_id) > 18:
            raise NotFound(f"no network printer {printer_id!r}", field="id")
        with self.db.write() as conn:
            cur = conn.execute("UPDATE network_printers SET removed_by = ?, removed_at = ? "
                               "WHERE id = ? AND removed_at IS NULL", (actor, iso(self.clock()), int(printer_id)))
        if cur.rowcount == 0:
            raise NotFound(f"no network printer {printer_id!r}", field="id")
        log.info("network printer %s removed by %s", printer_id, actor)
        self.announce()

    def payload(self) -> bytes:
        printers = [bus.NetworkPrinter(p["device_id"], p["host"], p["port"], p["kind"], p["language"], p["name"])
                    for p in self.listing()]
        return bus.dumps(bus.HubPrinters(printers))

    def announce(self) -> None:
        """Publish the list (retained); the registry publishes it again after every reconnect."""
        self.publish(bus.hub_printers_topic(self.hub_id), self.payload())
