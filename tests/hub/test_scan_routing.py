"""Scans reach the register their scanner is bound to, and no other: the real devices agent with
two simulated scanners, the real mosquitto, the real hub and its registers' live channels.
And the owner's "use as scanner" on the status page reaching a USB keyboard through the agent."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from devices import agent
from devices.hosting import Hosting
from devices.link import MqttSettings
from devices.scanner.host import ScannerHost, ScannerSettings
from hub.live import Subscription
from hub.mosquitto import Broker
from hub.service import HubService
from hub.web import create_app
from tests.conftest import HUB_ID, USERS, bus_hub
from tests.devices.test_scanner_host import LOGITECH, Bench
from tests.helpers import WAIT_S, wait_until


@pytest.fixture
def hub(tmp_path: Path, broker: Broker) -> Iterator[HubService]:
    svc = bus_hub(tmp_path / "data", broker)
    with svc.db.write() as conn:
        conn.execute("INSERT INTO registers (id, name) VALUES ('till-2', 'Till 2')")
    yield svc
    svc.stop()


@pytest.fixture
def client(hub: HubService) -> FlaskClient:
    return create_app(hub).test_client()


@pytest.fixture
def manager(hub: HubService) -> dict[str, str]:
    return {"Authorization": f"Bearer {hub.auth.create_token('manager')}"}


@pytest.fixture
def devices_agent(broker: Broker) -> Iterator[Callable[..., None]]:
    """Run devices.agent.main in a thread, as `backroom devices` does; stopped after the test."""
    running: list[tuple[threading.Event, threading.Thread]] = []

    def start(**settings: Any) -> None:
        stop = threading.Event()
        raw = {
            "hub_id": HUB_ID,
            "mqtt_host": broker.host,
            "mqtt_port": broker.port,
            "mqtt_username": "devices",
            "mqtt_password": USERS["devices"],
            "scanners": False,
            **settings,
        }
        thread = threading.Thread(target=agent.main, args=(raw, stop))
        thread.start()
        running.append((stop, thread))

    yield start
    for stop, thread in running:
        stop.set()
        thread.join()


def device(hub: HubService, dev: str) -> dict[str, Any] | None:
    return next((d for d in hub.registry.devices() if d["id"] == dev), None)


def online(hub: HubService, dev: str, kind: str = "scanner") -> dict[str, Any]:
    return wait_until(
        lambda: (d := device(hub, dev)) is not None and d["online"] and d["kind"] == kind and d,
        f"{dev} online as a {kind}",
    )


def scanned_codes(sub: Subscription, count: int) -> list[str]:
    """The codes of the next count scan events on a register's channel."""
    codes = []
    while len(codes) < count:
        event, text = sub.queue.get(timeout=WAIT_S)
        if event in ("scan", "scan_error"):
            codes.append(json.loads(text)["code"])
    return codes


def bind(client: FlaskClient, manager: dict[str, str], dev: str, register: str) -> None:
    resp = client.patch(f"/api/v1/devices/{dev}", json={"register_id": register}, headers=manager)
    assert resp.status_code == 200 and resp.json["register_id"] == register, resp.json


def test_each_register_hears_only_its_own_scanner(
    hub: HubService,
    client: FlaskClient,
    manager: dict[str, str],
    devices_agent: Callable[..., None],
) -> None:
    devices_agent(simulate_scanner=["sim-till-1", "sim-till-2"])
    for dev, register in (("sim-till-1", "till-1"), ("sim-till-2", "till-2")):
        online(hub, dev)
        bind(client, manager, dev, register)
    till_1, till_2 = (
        hub.channels.subscribe("register:till-1"),
        hub.channels.subscribe("register:till-2"),
    )
    try:
        # Each scan is awaited before the next is made, so a scan that went to the wrong
        # register would be in that register's queue before the code it is compared with.
        hub.registry.simulate_scan("sim-till-1", "0490000010015")
        assert scanned_codes(till_1, 1) == ["0490000010015"]
        hub.registry.simulate_scan("sim-till-2", "]E04006381333931")
        assert scanned_codes(till_2, 1) == ["4006381333931"]
        hub.registry.simulate_scan("sim-till-1", "96385074")
        assert scanned_codes(till_1, 1) == ["96385074"]
        hub.registry.simulate_scan("sim-till-2", "0490000010022")
        assert scanned_codes(till_2, 1) == ["0490000010022"]
        assert not [e for e in till_1.queue.queue if e[0] in ("scan", "scan_error")]
    finally:
        till_1.close()
        till_2.close()


def test_an_unbound_scanner_reaches_no_register(
    hub: HubService,
    client: FlaskClient,
    manager: dict[str, str],
    devices_agent: Callable[..., None],
) -> None:
    devices_agent(simulate_scanner=2)
    online(hub, "sim-scanner-1")
    online(hub, "sim-scanner-2")
    resp = client.patch(
        "/api/v1/devices/sim-scanner-2", json={"register_id": None}, headers=manager
    )
    assert resp.status_code == 200 and resp.json["register_id"] is None
    till_1 = hub.channels.subscribe("register:till-1")
    try:
        hub.registry.simulate_scan("sim-scanner-2", "0490000010015")
        hub.registry.simulate_scan("sim-scanner-1", "96385074")
        assert scanned_codes(till_1, 1) == ["96385074"]  # the unbound one's code never came
    finally:
        till_1.close()


def test_the_owner_makes_a_usb_keyboard_a_scanner_and_the_hub_remembers(
    hub: HubService, broker: Broker, client: FlaskClient, manager: dict[str, str]
) -> None:
    bench = Bench()
    keyboard = bench.plug("logitech-k120.txt", "event1", LOGITECH)
    hosting = Hosting(HUB_ID, MqttSettings(broker.host, broker.port, "devices", USERS["devices"]))
    host = ScannerHost(ScannerSettings(scanners=True), hosting, bench)
    till_1 = hub.channels.subscribe("register:till-1")
    try:
        host.start()
        online(hub, LOGITECH, "keyboard")
        resp = client.patch(
            f"/api/v1/devices/{LOGITECH}", json={"role": "scanner"}, headers=manager
        )
        assert resp.status_code == 200, resp.json
        online(hub, LOGITECH, "scanner")  # the agent grabbed it and announced it again
        assert bench.opened == [LOGITECH]
        bind(client, manager, LOGITECH, "till-1")
        keyboard.type_text("0490000010015")
        assert scanned_codes(till_1, 1) == ["0490000010015"]
    finally:
        till_1.close()
        hosting.closing.set()
        host.stop()
        hosting.close()

    # The next run of the agent has forgotten; the hub sends the owner's choice again.
    bench = Bench()
    bench.plug("logitech-k120.txt", "event2", LOGITECH)
    hosting = Hosting(HUB_ID, MqttSettings(broker.host, broker.port, "devices", USERS["devices"]))
    host = ScannerHost(ScannerSettings(scanners=True), hosting, bench)
    try:
        host.start()
        wait_until(
            lambda: bench.opened == [LOGITECH], "the hub to tell the agent the owner's choice"
        )
        online(hub, LOGITECH, "scanner")
    finally:
        hosting.closing.set()
        host.stop()
        hosting.close()
