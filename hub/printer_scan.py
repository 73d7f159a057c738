"""A port-9100 scan of the shop's subnet for printers that advertise nothing (REFERENCE, Printers).

Pure part: which hosts to try (scan_targets). I/O part: PrinterScan, one background thread
running asyncio with a bounded number of connections, each with a short timeout, cancellable.
A host that answers the ESC/POS real-time status query DLE EOT 1 with a valid status byte is
marked as speaking ESC/POS.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import ifaddr

from hub.clock import Clock, iso, system_clock
from hub.errors import Conflict, ValidationError

log = logging.getLogger(__name__)

RAW_PORT = 9100
STATUS_QUERY = b"\x10\x04\x01"  # DLE EOT 1: printer status (Epson ESC/POS reference, "DLE EOT")
REPLY_TIMEOUT_S = 1.0
MAX_HOSTS = 65534


def speaks_escpos(reply: bytes) -> bool:
    """A DLE EOT status byte has bit 0 = 0, bit 1 = 1, bit 4 = 1, bit 7 = 0."""
    return len(reply) >= 1 and reply[0] & 0x93 == 0x12


def scan_targets(interfaces: Iterable[str], max_prefix: int = 24, networks: Iterable[str] = ()) -> list[str]:
    """The IPv4 hosts to try, in order, without duplicates and without the hub's own addresses.

    interfaces are the hub's addresses with their prefix ("192.168.1.20/16"): each gives its
    network, narrowed to a /max_prefix around the address when larger. networks, when given,
    are scanned instead ("192.168.1.0/24"), as configured by the owner."""
    own: set[ipaddress.IPv4Address] = set()
    nets: list[ipaddress.IPv4Network] = []
    for text in interfaces:
        iface = ipaddress.ip_interface(text)
        if not isinstance(iface, ipaddress.IPv4Interface) or iface.is_loopback or iface.is_link_local:
            continue
        own.add(iface.ip)
        net = iface.network
        if net.prefixlen < max_prefix:
            net = ipaddress.ip_interface(f"{iface.ip}/{max_prefix}").network
        nets.append(net)
    if networks:
        nets = []
        for text in networks:
            try:
                net = ipaddress.IPv4Network(text, strict=False)
            except ValueError:
                raise ValidationError(f"{text!r} is not an IPv4 network such as 192.168.1.0/24",
                                      field="networks") from None
            if net.num_addresses > MAX_HOSTS + 2:
                raise ValidationError(f"network {text} is larger than a /16; scan a smaller one", field="networks")
            nets.append(net)
    seen: set[ipaddress.IPv4Address] = set()
    out: list[str] = []
    for net in nets:
        hosts = net.hosts() if net.prefixlen < 31 else iter(net)
        for host in hosts:
            if host not in own and host not in seen:
                seen.add(host)
                out.append(str(host))
    return out


def local_interfaces() -> list[str]:
    """The hub's IPv4 addresses with their prefix lengths, as the OS reports them."""
    out = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                out.append(f"{ip.ip}/{ip.network_prefix}")
    return out


@dataclass(frozen=True)
class FoundPrinter:
    host: str
    port: int
    escpos: bool


async def probe(host: str, port: int, timeout: float) -> FoundPrinter | None:
    """Connect; if the port is open, ask DLE EOT 1 and see whether the answer is ESC/POS."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return None
    try:
        writer.write(STATUS_QUERY)
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(1), REPLY_TIMEOUT_S)
    except (OSError, TimeoutError):
        reply = b""
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return FoundPrinter(host, port, speaks_escpos(reply))


class PrinterScan:
    """One scan at a time, run in the background; progress and results readable at any moment."""

    def __init__(self, concurrency: int = 64, timeout_s: float = 0.5, clock: Clock = system_clock) -> None:
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.clock = clock
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None
        self._cancel = threading.Event()
        self._state: dict[str, Any] = {"state": "idle", "hosts": 0, "done": 0, "found": [],
                                       "started_at": None, "finished_at": None, "started_by": None}

    def start(self, hosts: list[str], port: int = RAW_PORT, actor: str = "") -> dict[str, Any]:
        """Begin scanning hosts; Conflict while another scan runs."""
        if not hosts:
            raise Conflict("there is no network to scan: the hub has no IPv4 address besides loopback; "
                           "set discovery.scan_networks", code="no_network")
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise Conflict("a printer scan is already running; wait for it or cancel it", code="scan_running")
            self._state = {"state": "running", "hosts": len(hosts), "done": 0, "found": [], "port": port,
                           "started_at": iso(self.clock()), "finished_at": None, "started_by": actor}
            self._cancel.clear()
            self._thread = threading.Thread(target=self._run, args=(hosts, port), name="printer-scan", daemon=True)
            self._thread.start()
        log.info("printer scan of %d addresses on port %d started by %s", len(hosts), port, actor)
        return self.progress()

    def progress(self) -> dict[str, Any]:
        with self._lock:
            return {**self._state, "found": list(self._state["found"])}

    def cancel(self) -> None:
        self._cancel.set()
        with self._lock:
            loop, main = self._loop, self._main
        if loop is not None and main is not None:
            loop.call_soon_threadsafe(main.cancel)

    def wait(self, timeout: float | None = None) -> bool:
        """Whether the scan has ended (within timeout)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def stop(self) -> None:
        self.cancel()
        self.wait(10)

    def _run(self, hosts: list[str], port: int) -> None:
        state = "finished"
        try:
            asyncio.run(self._scan(hosts, port))
        except asyncio.CancelledError:
            state = "cancelled"
        except Exception:  # noqa: BLE001 - a failed scan is reported on the page, never kills the hub
            log.exception("the printer scan failed")
            state = "failed"
        if self._cancel.is_set():
            state = "cancelled"
        with self._lock:
            self._state.update(state=state, finished_at=iso(self.clock()))
            self._loop = self._main = None

    async def _scan(self, hosts: list[str], port: int) -> None:
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._main = asyncio.current_task()
        queue: asyncio.Queue[str] = asyncio.Queue()
        for h in hosts:
            queue.put_nowait(h)

        async def worker() -> None:
            while not queue.empty() and not self._cancel.is_set():
                host = queue.get_nowait()
                found = await probe(host, port, self.timeout_s)
                with self._lock:
                    self._state["done"] += 1
                    if found is not None:
                        self._state["found"].append(asdict(found))

        workers = [asyncio.create_task(worker()) for _ in range(min(self.concurrency, len(hosts)))]
        try:
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
