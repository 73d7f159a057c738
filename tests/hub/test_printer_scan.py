"""The port-9100 scan: which hosts it tries (Hypothesis) and what it finds among real TCP listeners
on loopback addresses, one of them the ESC/POS printer simulator."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.printer.simulator import NetworkPrinterSimulator
from hub.errors import Conflict, ValidationError
from hub.mosquitto import free_port
from hub.printer_scan import PrinterScan, local_interfaces, scan_targets, speaks_escpos

WAIT_S = 30.0

addresses = st.integers(min_value=0x0B000000, max_value=0xDFFFFFFF).map(ipaddress.IPv4Address)


@settings(deadline=None)
@given(addresses, st.integers(min_value=8, max_value=30), st.integers(min_value=20, max_value=30))
def test_targets_stay_within_the_cap_around_the_hub(addr: ipaddress.IPv4Address, prefix: int, cap: int) -> None:
    iface = ipaddress.IPv4Interface(f"{addr}/{prefix}")
    hosts = scan_targets([str(iface)], cap)
    net = iface.network if prefix >= cap else ipaddress.IPv4Interface(f"{addr}/{cap}").network
    if addr.is_loopback or addr.is_link_local:
        assert hosts == []
        return
    assert str(addr) not in hosts
    assert len(hosts) == len(set(hosts)) == net.num_addresses - 2 - (0 if addr in (net.network_address,
                                                                                  net.broadcast_address) else 1)
    assert all(ipaddress.IPv4Address(h) in net for h in hosts)
    assert str(net.network_address) not in hosts and str(net.broadcast_address) not in hosts


@given(st.lists(addresses, min_size=1, max_size=4), st.integers(min_value=24, max_value=30))
def test_two_interfaces_on_one_network_scan_it_once(addrs: list[ipaddress.IPv4Address], prefix: int) -> None:
    ifaces = [f"{a}/{prefix}" for a in addrs] * 2
    hosts = scan_targets(ifaces, 24)
    assert len(hosts) == len(set(hosts))
    assert not {str(a) for a in addrs} & set(hosts)


def test_loopback_link_local_and_ipv6_are_not_scanned() -> None:
    assert scan_targets(["127.0.0.1/8", "169.254.3.4/16", "fe80::1/64", "::1/128"]) == []


def test_configured_networks_replace_the_hubs_own() -> None:
    assert scan_targets(["192.168.1.20/24"], 24, ["10.0.0.0/30"]) == ["10.0.0.1", "10.0.0.2"]
    assert scan_targets([], 24, ["10.0.0.8/31"]) == ["10.0.0.8", "10.0.0.9"]
    with pytest.raises(ValidationError, match="IPv4 network"):
        scan_targets([], 24, ["shop"])
    with pytest.raises(ValidationError, match="/16"):
        scan_targets([], 24, ["10.0.0.0/8"])


@given(st.integers(min_value=0, max_value=255))
def test_status_byte_check(b: int) -> None:
    assert speaks_escpos(bytes([b])) == (not b & 1 and b & 2 and b & 16 and not b & 128)
    assert not speaks_escpos(b"")


def test_the_os_reports_at_least_loopback() -> None:
    assert any(ipaddress.ip_interface(i).is_loopback for i in local_interfaces())


class SilentListener:
    """A TCP port that accepts and never answers (a printer that speaks something else)."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_server((host, port))
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)
        for c in self.conns:
            c.close()


@pytest.fixture
def port() -> int:
    return free_port("127.0.0.1")


@pytest.fixture
def printers(tmp_path: Path, port: int) -> Iterator[None]:
    sims = [NetworkPrinterSimulator(tmp_path / f"p{i}", host=f"127.0.0.{i}", port=port) for i in (2, 5)]
    for s in sims:
        s.start()
    silent = SilentListener("127.0.0.3", port)
    yield
    silent.close()
    for s in sims:
        s.stop()


def test_scan_finds_the_listeners_and_knows_escpos(printers: None, port: int) -> None:
    scan = PrinterScan(concurrency=3, timeout_s=1.0)
    hosts = [f"127.0.0.{i}" for i in range(2, 8)]
    started = scan.start(hosts, port, actor="user:owner")
    assert started["state"] == "running" and started["hosts"] == 6
    assert scan.wait(WAIT_S)
    result = scan.progress()
    assert result["state"] == "finished" and result["done"] == 6 and result["started_by"] == "user:owner"
    found = sorted((f["host"], f["port"], f["escpos"]) for f in result["found"])
    assert found == [("127.0.0.2", port, True), ("127.0.0.3", port, False), ("127.0.0.5", port, True)]


def test_one_scan_at_a_time_and_cancel(port: int) -> None:
    listener = socket.create_server(("127.0.0.9", port))  # accepted but never read: each probe waits
    try:
        scan = PrinterScan(concurrency=1, timeout_s=5.0)
        scan.start(["127.0.0.9"] * 50, port)
        with pytest.raises(Conflict, match="already running"):
            scan.start(["127.0.0.9"], port)
        scan.cancel()
        assert scan.wait(WAIT_S)
        result = scan.progress()
        assert result["state"] == "cancelled" and result["done"] < 50
    finally:
        listener.close()


def test_nothing_to_scan_says_what_to_do() -> None:
    with pytest.raises(Conflict, match="discovery.scan_networks"):
        PrinterScan().start([])
