"""Zeroconf: names that cloned SD cards cannot share, TXT parsing, and for real on multicast over
loopback: the hub finds an advertised printer, and a browser finds the hub."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from zeroconf import ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf

from hub.errors import ConfigError
from hub.zeroconf import (
    HTTP_TYPE,
    HUB_TYPE,
    PRINTERS_KEPT,
    HubZeroconf,
    hub_txt,
    instance_name,
    interface_addresses,
    machine_id,
    new_zeroconf,
    printer_record,
    short_id,
)

WAIT_S = 15.0
LOOPBACK = ["127.0.0.1"]


def test_machine_id_from_the_os_file(tmp_path: Path) -> None:
    (tmp_path / "machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    assert machine_id(tmp_path / "machine-id", tmp_path / "data") == "0123456789abcdef0123456789abcdef"
    assert not (tmp_path / "data").exists()


def test_machine_id_generated_once_when_the_os_has_none(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    first = machine_id(tmp_path / "missing", data)
    assert len(first) == 32 and machine_id(tmp_path / "missing", data) == first
    (tmp_path / "empty").write_text("")
    assert machine_id(tmp_path / "empty", data) == first


def test_clones_differ_and_the_id_is_not_disclosed() -> None:
    a, b = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
    assert short_id(a) != short_id(b) and short_id(a) == short_id(a)
    assert short_id(a) not in a
    assert instance_name("Corner Shop", short_id(a)) != instance_name("Corner Shop", short_id(b))


@given(st.text(max_size=100), st.text(alphabet="0123456789abcdef", min_size=8, max_size=8))
def test_instance_name_fits_one_dns_label(store: str, short: str) -> None:
    name = instance_name(store, short)
    assert len(name.encode()) <= 63 and name.endswith(f"Backroom ({short})") and "." not in name


def test_printer_record_from_txt() -> None:
    rec = printer_record("_pdl-datastream._tcp.local.", "EPSON TM-T20III._pdl-datastream._tcp.local.",
                         "epson-1.local.", ["192.168.1.50"], 9100,
                         {b"product": b"(EPSON TM-T20III)", b"ty": b"EPSON TM-T20III", b"note": None,
                          b"txtvers": b"1"})
    assert rec == {"name": "EPSON TM-T20III", "service": "pdl-datastream", "host": "epson-1.local",
                   "addresses": ["192.168.1.50"], "port": 9100, "product": "EPSON TM-T20III",
                   "ty": "EPSON TM-T20III", "note": "", "pdl": ""}


class Adverts:
    """What zeroconf's browser hands the hub: one ServiceInfo per advertised name."""

    def get_service_info(self, service_type: str, name: str, timeout: int) -> ServiceInfo:
        return ServiceInfo(service_type, name, port=9100, server=f"{name.split('.')[0]}.local.",
                           parsed_addresses=["192.168.1.50"], properties={b"ty": b"junk"})


def test_the_printer_table_is_capped_least_recently_seen_dropped() -> None:
    """Anyone on the LAN can advertise endless printer names; the hub keeps PRINTERS_KEPT of them."""
    hz = HubZeroconf("test-hub", "Test Shop", "1.2.3", 8080, "0123456789abcdef0123456789abcdef", LOOPBACK)
    pdl, adverts = "_pdl-datastream._tcp.local.", Adverts()
    for i in range(PRINTERS_KEPT + 50):
        hz._on_change(adverts, pdl, f"p{i}.{pdl}", ServiceStateChange.Added)  # type: ignore[arg-type]
        if i == PRINTERS_KEPT - 1:
            hz._on_change(adverts, pdl, f"p0.{pdl}", ServiceStateChange.Updated)  # seen again: kept
    names = {p["name"] for p in hz.printers()}
    assert len(names) == PRINTERS_KEPT
    assert "p0" in names and f"p{PRINTERS_KEPT + 49}" in names and "p51" in names and "p1" not in names and "p50" not in names


def test_unknown_interface_is_named_in_the_error() -> None:
    with pytest.raises(ConfigError, match="wlan9"):
        interface_addresses(["wlan9"])
    assert interface_addresses(["lo"]) == ["127.0.0.1"]


@pytest.fixture
def other() -> Iterator[Zeroconf]:
    """Another host on the network: a second zeroconf stack on the same multicast group."""
    zc = new_zeroconf(LOOPBACK)
    yield zc
    zc.unregister_all_services()
    zc.close()


@pytest.fixture
def hub_zc() -> Iterator[HubZeroconf]:
    hz = HubZeroconf("test-hub", "Test Shop", "1.2.3", 8080, "0123456789abcdef0123456789abcdef", LOOPBACK)
    hz.start()
    yield hz
    hz.stop()


def test_hub_finds_an_advertised_printer(hub_zc: HubZeroconf, other: Zeroconf) -> None:
    info = ServiceInfo("_pdl-datastream._tcp.local.", "Label Maker._pdl-datastream._tcp.local.", port=9100,
                       properties={"product": "(Zebra ZD421)", "ty": "Zebra ZD421"},
                       server="zebra-1.local.", parsed_addresses=["127.0.0.1"])
    other.register_service(info)
    deadline = time.monotonic() + WAIT_S
    while not hub_zc.printers():
        assert time.monotonic() < deadline, "the hub's browser never saw the printer"
        time.sleep(0.05)
    (found,) = hub_zc.printers()
    assert (found["name"], found["service"], found["host"], found["port"], found["product"], found["present"]) == (
        "Label Maker", "pdl-datastream", "zebra-1.local", 9100, "Zebra ZD421", True)
    assert found["first_seen"] == found["last_seen"]


def test_a_browser_finds_the_hub(hub_zc: HubZeroconf, other: Zeroconf) -> None:
    seen: dict[str, str] = {}
    found = threading.Event()

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Added:
            seen[service_type] = name
            if len(seen) == 2:
                found.set()

    browser = ServiceBrowser(other, [HUB_TYPE, HTTP_TYPE], handlers=[on_change])
    try:
        assert found.wait(WAIT_S), f"saw only {seen}"
    finally:
        browser.cancel()
    assert seen[HUB_TYPE] == f"{hub_zc.name}.{HUB_TYPE}"
    info = other.get_service_info(HUB_TYPE, seen[HUB_TYPE], timeout=3000)
    assert info is not None and info.port == 8080 and info.server == hub_zc.server
    assert {k.decode(): (v or b"").decode() for k, v in info.properties.items()} == hub_txt("test-hub", "1.2.3")
    assert "127.0.0.1" in info.parsed_addresses()


def test_the_hub_service_advertises_when_configured(tmp_path: Path, other: Zeroconf) -> None:
    from hub.service import HubService
    from tests.conftest import hub_config

    (tmp_path / "machine-id").write_text("fedcba9876543210fedcba9876543210\n")
    svc = HubService(hub_config(tmp_path / "data", discovery={
        "zeroconf": True, "interfaces": ["lo"], "machine_id_file": str(tmp_path / "machine-id")}))
    try:
        svc.discovery.start()
        assert svc.discovery.found()["zeroconf"] is True
        name = f"Test Shop Backroom ({short_id('fedcba9876543210fedcba9876543210')}).{HUB_TYPE}"
        deadline = time.monotonic() + WAIT_S
        while other.get_service_info(HUB_TYPE, name, timeout=500) is None:
            assert time.monotonic() < deadline, f"{name} was never advertised"
    finally:
        svc.stop()
    assert svc.discovery.zeroconf is None
