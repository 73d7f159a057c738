"""The discovery routes, and the network printer list published retained on the bus (real mosquitto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from devices import bus
from hub.mosquitto import Broker
from hub.service import HubService
from hub.web import create_app
from tests.conftest import HUB_ID, hub_config
from tests.devices.conftest import BusProbe
from tests.helpers import wait_until

TOPIC = f"backroom/{HUB_ID}/hub/printers"
EPSON = {"host": "192.168.1.50", "port": 9100, "kind": "receipt_printer", "language": "escpos", "name": "Till printer"}


@pytest.fixture
def svc(tmp_path: Path, broker: Broker) -> Iterator[HubService]:
    s = HubService(hub_config(tmp_path / "data", broker, mqtt={"password_file": str(broker.passwd),
                                                                "broker_pid_file": str(broker.pid_file)},
                              discovery={"scan_networks": ["127.0.0.8/30"], "scan_timeout_s": 0.2}))
    s.start()
    wait_until(lambda: s.registry.connected)
    yield s
    s.stop()


@pytest.fixture
def client(svc: HubService) -> FlaskClient:
    return create_app(svc).test_client()


@pytest.fixture
def owner(svc: HubService) -> dict[str, str]:
    return {"Authorization": f"Bearer {svc.auth.create_token('owner')}"}


def printers_on_bus(probe: BusProbe, since: int = 0) -> list[bus.NetworkPrinter]:
    msg = probe.wait_for(TOPIC, since=since)
    assert msg.retain or since > 0
    return bus.HubPrinters.from_payload(msg.payload).printers


def test_added_printers_are_published_retained(svc: HubService, client: FlaskClient, owner: dict[str, str],
                                               broker: Broker) -> None:
    early = BusProbe(broker.host, broker.port, TOPIC)
    try:
        assert printers_on_bus(early) == []  # published at start
        mark = early.mark()
        resp = client.post("/api/v1/printers", json=EPSON, headers=owner)
        assert resp.status_code == 201, resp.json
        added = resp.json
        assert added["added_by"].startswith("token:") and added["added_at"]
        assert added["device_id"] == f"netprinter-{added['id']}"
        assert printers_on_bus(early, mark) == [bus.NetworkPrinter(added["device_id"], "192.168.1.50", 9100,
                                                                   "receipt_printer", "escpos", "Till printer")]
    finally:
        early.close()
    late = BusProbe(broker.host, broker.port, TOPIC)  # a devices agent starting later gets the retained list
    try:
        assert [p.host for p in printers_on_bus(late)] == ["192.168.1.50"]
        mark = late.mark()
        assert client.delete(f"/api/v1/printers/{added['id']}", headers=owner).json == {"id": added["id"],
                                                                                        "removed": True}
        assert printers_on_bus(late, mark) == []
    finally:
        late.close()
    assert client.get("/api/v1/printers", headers=owner).json == {"printers": []}


@pytest.mark.parametrize("body, field", [
    ({**EPSON, "host": "not a host!"}, "host"), ({**EPSON, "port": 0}, "port"), ({**EPSON, "port": "9100"}, "port"),
    ({**EPSON, "kind": "scale"}, "kind"), ({**EPSON, "language": "pcl"}, "language"), ({**EPSON, "extra": 1}, "extra"),
    ({**EPSON, "host": "999.1.1.1"}, "host"),
])
def test_bad_printers_are_refused_by_field(client: FlaskClient, owner: dict[str, str], body: dict[str, object],
                                           field: str) -> None:
    resp = client.post("/api/v1/printers", json=body, headers=owner)
    assert resp.status_code == 400 and resp.json["error"]["field"] == field


def test_the_same_printer_twice_is_a_conflict(client: FlaskClient, owner: dict[str, str]) -> None:
    assert client.post("/api/v1/printers", json=EPSON, headers=owner).status_code == 201
    assert client.post("/api/v1/printers", json={**EPSON, "name": "again"}, headers=owner).status_code == 409
    assert client.delete("/api/v1/printers/999", headers=owner).status_code == 404


def test_only_the_owner_may_change_the_network(svc: HubService, client: FlaskClient) -> None:
    manager = {"Authorization": f"Bearer {svc.auth.create_token('manager')}"}
    assert client.post("/api/v1/printers", json=EPSON, headers=manager).status_code == 403
    assert client.post("/api/v1/devices/credentials", json={"device_id": "x"}, headers=manager).status_code == 403
    assert client.post("/api/v1/discovery/scan", headers=manager).status_code == 403


def test_scan_through_the_api(svc: HubService, client: FlaskClient, owner: dict[str, str]) -> None:
    resp = client.post("/api/v1/discovery/scan", json={"port": 1}, headers=owner)
    assert resp.status_code == 202 and resp.json["hosts"] == 2 and resp.json["started_by"].startswith("token:")
    assert svc.discovery.scan.wait(30)
    done = client.get("/api/v1/discovery/scan", headers=owner).json
    assert done["state"] == "finished" and done["done"] == 2 and done["found"] == []
    found = client.get("/api/v1/discovery/printers", headers=owner).json
    assert found["zeroconf"] is False and found["scan"]["state"] == "finished" and found["added"] == []
    bad = client.post("/api/v1/discovery/scan", json={"networks": ["x"]}, headers=owner)
    assert bad.status_code == 400 and bad.json["error"]["field"] == "networks"


def test_credentials_through_the_api(svc: HubService, client: FlaskClient, owner: dict[str, str],
                                     broker: Broker) -> None:
    resp = client.post("/api/v1/devices/credentials", json={"device_id": "scale-2"}, headers=owner)
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    body = resp.json
    assert body["username"] == "scale-2" and len(body["password"]) >= 24
    assert body["topics"]["base"] == f"backroom/{HUB_ID}/dev/scale-2/#"
    assert "scale-2" in broker.passwd.read_text()
    listing = client.get("/api/v1/devices/credentials", headers=owner).json["credentials"]
    assert [(c["device_id"], c["revoked_at"]) for c in listing] == [("scale-2", None)]
    assert json.dumps(listing).find(body["password"]) == -1
    assert client.delete("/api/v1/devices/credentials/scale-2", headers=owner).json == {"device_id": "scale-2",
                                                                                         "revoked": True}
    assert "scale-2" not in broker.passwd.read_text()
    assert client.delete("/api/v1/devices/credentials/scale-2", headers=owner).status_code == 404
    assert client.post("/api/v1/devices/credentials", json={"device_id": "hub"}, headers=owner).status_code == 409
