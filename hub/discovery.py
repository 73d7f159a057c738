"""The hub on the shop's network: its zeroconf advertisement, the printers it finds (mDNS and the
port-9100 scan), the printers the owner added, and per-device MQTT credentials. Started and
stopped by HubService; the routes are in hub/discovery_api.py."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.clock import Clock, system_clock
from hub.config import Config
from hub.db import Database
from hub.device_credentials import DeviceCredentials
from hub.errors import ValidationError
from hub.network_printers import NetworkPrinters
from hub.printer_scan import RAW_PORT, PrinterScan, local_interfaces, scan_targets

log = logging.getLogger(__name__)


class Discovery:
    def __init__(self, config: Config, db: Database, publish: Callable[[str, bytes], None],
                 clock: Clock = system_clock) -> None:
        self.config = config
        hub_id = config["hub"]["id"]
        disc = config["discovery"]
        self.printers = NetworkPrinters(db, hub_id, publish, clock)
        self.scan = PrinterScan(disc["scan_concurrency"], disc["scan_timeout_s"], clock)
        self.credentials = DeviceCredentials(db, hub_id, config["mqtt"], clock)
        self.zeroconf: Any = None  # HubZeroconf while running
        self.http_port: int = config["hub"]["http_port"]

    def start(self) -> None:
        self.printers.announce()  # kept by the registry and published on every connect
        if self.config["discovery"]["zeroconf"]:
            from hub import __version__
            from hub.zeroconf import HubZeroconf, machine_id

            disc = self.config["discovery"]
            hz = HubZeroconf(self.config["hub"]["id"], self.config["store"]["name"], __version__, self.http_port,
                             machine_id(Path(disc["machine_id_file"]), self.config.data_dir), disc["interfaces"])
            hz.start()
            self.zeroconf = hz

    def stop(self) -> None:
        self.scan.stop()
        if self.zeroconf is not None:
            self.zeroconf.stop()
            self.zeroconf = None

    def scan_hosts(self, body: Any) -> list[str]:
        """The addresses a scan tries: {networks} from the request, discovery.scan_networks, or the
        hub's own networks (only the pinned interfaces' when discovery.interfaces is set)."""
        disc = self.config["discovery"]
        networks = disc["scan_networks"]
        if isinstance(body, dict) and "networks" in body:
            networks = body["networks"]
            if not isinstance(networks, list) or not all(isinstance(n, str) for n in networks):
                raise ValidationError("networks must be a list such as [\"192.168.1.0/24\"]", field="networks")
        interfaces = local_interfaces()
        if disc["interfaces"]:
            from hub.zeroconf import interface_addresses

            pinned = set(interface_addresses(disc["interfaces"]))
            interfaces = [i for i in interfaces if str(ipaddress.ip_interface(i).ip) in pinned]
        return scan_targets(interfaces, disc["scan_prefix"], networks)

    def start_scan(self, body: Any, actor: str) -> dict[str, Any]:
        port = body.get("port", RAW_PORT) if isinstance(body, dict) else RAW_PORT
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise ValidationError(f"port must be 1-65535 (9100 for raw printers), got {port!r}", field="port")
        return self.scan.start(self.scan_hosts(body), port, actor)

    def found(self) -> dict[str, Any]:
        """Everything the status page lists: advertised, scanned and added printers."""
        return {"zeroconf": self.zeroconf is not None,
                "advertised": self.zeroconf.printers() if self.zeroconf is not None else [],
                "scan": self.scan.progress(), "added": self.printers.listing()}
