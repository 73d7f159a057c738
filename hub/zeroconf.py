"""mDNS/DNS-SD (python-zeroconf): the hub advertises itself and browses for network printers.

Pure parts first (the hub's network name, its TXT record, a printer record from a service's
TXT); HubZeroconf owns the sockets. Names come from /etc/machine-id, so SD cards cloned from one
image advertise different names (REFERENCE, MQTT and discovery); the machine id itself is never
sent, only an application-specific hash of it (as systemd's sd_id128_get_machine_app_specific).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import logging
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import ifaddr
from zeroconf import (
    InterfaceChoice,
    IPVersion,
    ServiceBrowser,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
)

from hub.clock import Clock, iso, system_clock
from hub.errors import ConfigError
from hub.files import read_private, write_private

log = logging.getLogger(__name__)

HUB_TYPE = "_backroom._tcp.local."
HTTP_TYPE = "_http._tcp.local."
PRINTER_TYPES = ("_pdl-datastream._tcp.local.", "_ipp._tcp.local.", "_printer._tcp.local.")
INFO_TIMEOUT_MS = 3000
MAX_LABEL_BYTES = 63  # one DNS label (RFC 6763 section 4.1.1)
PRINTERS_KEPT = 256  # anyone on the LAN can advertise endless names: the least recently seen go first


def machine_id(path: Path, data_dir: Path) -> str:
    """The OS machine id, else one generated once and kept in the data dir."""
    try:
        text = path.read_text().strip()
    except OSError:
        text = ""
    if text:
        return text
    kept = data_dir / "machine-id"
    found = read_private(kept)
    if found is None:
        found = uuid.uuid4().hex
        write_private(kept, found)
    return found


def short_id(machine: str) -> str:
    """Eight hex digits unique to this machine, derived so the machine id is not disclosed."""
    return hmac.new(machine.encode(), b"backroom-zeroconf", hashlib.sha256).hexdigest()[:8]


def instance_name(store_name: str, short: str) -> str:
    """'My Shop Backroom (1a2b3c4d)', cut to fit one DNS label without splitting a character."""
    suffix = f" Backroom ({short})"
    room = MAX_LABEL_BYTES - len(suffix.encode())
    store = store_name.replace(".", " ").strip().encode()[:room].decode("utf-8", "ignore").strip()
    return f"{store}{suffix}" if store else suffix.strip()


def hub_txt(hub_id: str, version: str) -> dict[str, str]:
    return {"hub": hub_id, "api": "/api/v1", "version": version, "path": "/"}


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


def printer_record(service_type: str, name: str, server: str | None, addresses: list[str], port: int,
                   properties: dict[bytes, bytes | None]) -> dict[str, Any]:
    """What the status page shows of one advertised printer (TXT keys from Bonjour Printing 1.2)."""
    product = _text(properties.get(b"product")).strip()
    if product.startswith("(") and product.endswith(")"):
        product = product[1:-1]
    instance = name[: -len(service_type) - 1] if name.endswith("." + service_type) else name
    return {"name": instance, "service": service_type.split(".")[0].lstrip("_"),
            "host": (server or "").rstrip("."), "addresses": addresses, "port": port,
            "product": product, "ty": _text(properties.get(b"ty")), "note": _text(properties.get(b"note")),
            "pdl": _text(properties.get(b"pdl"))}


def interface_addresses(names: list[str]) -> list[str]:
    """IPv4 addresses for interface names or addresses (["eth0", "192.168.1.2"]); [] means all."""
    adapters = {a.nice_name: a for a in ifaddr.get_adapters()}
    out: list[str] = []
    for n in names:
        if n in adapters:
            out += [str(ip.ip) for ip in adapters[n].ips if isinstance(ip.ip, str)]
        elif n.replace(".", "").isdigit():
            out.append(n)
        else:
            raise ConfigError(f"discovery.interfaces names {n!r}, which is neither an interface here "
                              f"({', '.join(adapters)}) nor an IPv4 address", field="discovery.interfaces")
    return out


def own_addresses(pinned: list[str]) -> list[str]:
    if pinned:
        return pinned
    return [str(ip.ip) for a in ifaddr.get_adapters() for ip in a.ips
            if isinstance(ip.ip, str) and not ip.ip.startswith("127.")]


def new_zeroconf(interfaces: list[str]) -> Zeroconf:
    """A Zeroconf with its own event loop thread. Made in a fresh thread: python-zeroconf adopts
    the caller's running asyncio loop if there is one (Playwright's sync API leaves one in the
    main thread), and a loop that is not really turning blocks every call."""
    made: list[Zeroconf] = []
    maker = threading.Thread(target=lambda: made.append(
        Zeroconf(interfaces=interfaces or InterfaceChoice.All, ip_version=IPVersion.V4Only)), name="zeroconf-new")
    maker.start()
    maker.join()
    if not made:
        raise ConfigError(f"zeroconf could not open its sockets on {', '.join(interfaces) or 'every interface'}; "
                          "see the log, or set discovery.interfaces", field="discovery.interfaces")
    return made[0]


class HubZeroconf:
    """Advertises _backroom._tcp and _http._tcp, and keeps the printers seen on the network."""

    def __init__(self, hub_id: str, store_name: str, version: str, port: int, machine: str,
                 interfaces: list[str], clock: Clock = system_clock) -> None:
        self.short = short_id(machine)
        self.name = instance_name(store_name, self.short)
        self.server = f"backroom-{self.short}.local."
        self.txt = hub_txt(hub_id, version)
        self.port = port
        self.interfaces = interface_addresses(interfaces)
        self.clock = clock
        self._zc: Zeroconf | None = None
        self._browser: ServiceBrowser | None = None
        self._pending: list[concurrent.futures.Future[Any]] = []
        self._lock = threading.Lock()
        self._printers: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()  # last seen last

    def services(self) -> list[ServiceInfo]:
        addresses = own_addresses(self.interfaces)
        return [ServiceInfo(t, f"{self.name}.{t}", port=self.port, properties=self.txt, server=self.server,
                            parsed_addresses=addresses) for t in (HUB_TYPE, HTTP_TYPE)]

    def start(self) -> None:
        zc = new_zeroconf(self.interfaces)
        self._zc = zc
        # Probing and announcing take seconds: they run on zeroconf's own loop while the hub starts.
        # The name is unique per machine already; a clash means a second hub on the same image.
        self._pending = [asyncio.run_coroutine_threadsafe(zc.async_register_service(info, allow_name_change=True),
                                                          zc.loop) for info in self.services()]
        self._browser = ServiceBrowser(zc, list(PRINTER_TYPES), handlers=[self._on_change])
        log.info("zeroconf: advertising %r on %s", self.name, ", ".join(self.interfaces) or "every interface")

    def stop(self) -> None:
        if self._browser is not None:
            self._browser.cancel()
            self._browser = None
        for pending in self._pending:
            pending.cancel()
        self._pending = []
        if self._zc is not None:
            self._zc.unregister_all_services()
            self._zc.close()
            self._zc = None

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        key = (service_type, name)
        now = iso(self.clock())
        if state_change is ServiceStateChange.Removed:
            with self._lock:
                if key in self._printers:
                    self._printers[key]["present"] = False
            return
        info = zeroconf.get_service_info(service_type, name, timeout=INFO_TIMEOUT_MS)
        if info is None:
            return
        record = printer_record(service_type, name, info.server, info.parsed_addresses(), info.port or 0,
                                info.properties)
        with self._lock:
            first = self._printers.get(key, {}).get("first_seen", now)
            self._printers[key] = {**record, "present": True, "first_seen": first, "last_seen": now}
            self._printers.move_to_end(key)
            while len(self._printers) > PRINTERS_KEPT:
                self._printers.popitem(last=False)

    def printers(self) -> list[dict[str, Any]]:
        with self._lock:
            return sorted((dict(p) for p in self._printers.values()), key=lambda p: (p["host"], p["port"]))
