"""Labels from the hub's API to a label printer: hub, real mosquitto, the real devices agent and
the printer simulators. What the simulator decodes is what a shop would see on the label."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from devices import agent, bus
from devices.label import brother
from devices.label.connection import NetworkConnection
from devices.label.decoder import Barcode
from devices.label.driver import LabelMedia, LabelPrinter, LabelPrinterError
from devices.label.simulator import LabelPrinterSimulator
from hub import print_queue
from hub.domain.barcodes import check_digit, parse
from hub.label_printing import LabelPrinting, printer_media
from hub.mosquitto import Broker
from hub.service import HubService
from hub.web import create_app
from tests.conftest import HUB_ID, USERS, hub_config
from tests.helpers import WAIT_S, wait_until

ZEROED = "201234500000" + str(check_digit("201234500000"))  # GB: item 12345, price digits zeroed


@pytest.fixture
def hub(tmp_path: Path, broker: Broker, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubService]:
    monkeypatch.setattr(print_queue, "PUMP_INTERVAL_S", 0.05)  # retries after a fault come quickly
    monkeypatch.setattr(print_queue, "RETRY_BASE_S", 0.05)
    svc = HubService(hub_config(tmp_path / "data", broker, store={"rcn_region": "GB", "currency": "GBP"}))
    svc.registry.start(broker.host, broker.port, "hub", USERS["hub"])
    svc.print_queue.start()
    wait_until(lambda: svc.registry.connected)
    yield svc
    svc.stop()


@pytest.fixture
def owner(hub: HubService) -> dict[str, str]:
    return {"Authorization": f"Bearer {hub.auth.create_token('owner')}"}


@pytest.fixture
def client(hub: HubService, owner: dict[str, str]) -> FlaskClient:
    c = create_app(hub).test_client()
    for body in ({"sku": "CHEDDAR", "name": "Cheddar", "unit": "g", "price_minor": 1890, "barcodes": [ZEROED]},
                 {"sku": "TEA", "name": "Green tea", "unit": "each", "price_minor": 249, "barcodes": ["5012345678900"]}):
        assert c.post("/api/v1/items", json=body, headers=owner).status_code == 201
    return c


@pytest.fixture
def printers(broker: Broker) -> Iterator[dict[str, LabelPrinterSimulator]]:
    """A Zebra and a TSPL printer, hosted by the real agent."""
    sims = {"zebra": LabelPrinterSimulator("zpl").start(), "tsc": LabelPrinterSimulator("tspl").start()}
    settings = {"hub_id": HUB_ID, "mqtt_host": broker.host, "mqtt_port": broker.port, "mqtt_username": "devices",
                "mqtt_password": USERS["devices"], "scanners": False, "scale_autodetect": False,
                "label_printers": [{"host": "127.0.0.1", "port": sims["zebra"].port, "id": "zebra", "language": "zpl",
                                    "width_mm": 50, "height_mm": 30},
                                   {"host": "127.0.0.1", "port": sims["tsc"].port, "id": "tsc", "language": "tspl",
                                    "width_mm": 60, "height_mm": 40}]}
    stop = threading.Event()
    thread = threading.Thread(target=agent.main, args=(settings, stop))
    thread.start()
    try:
        yield sims
    finally:
        stop.set()
        thread.join()
        for sim in sims.values():
            sim.stop()


def online_printers(client: FlaskClient, owner: dict[str, str], count: int) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]]:
        got = [p for p in client.get("/api/v1/labels/printers", headers=owner).json["printers"] if p["online"]]
        return got if len(got) >= count else []
    return wait_until(found, f"{count} label printers online")


def job_status(hub: HubService, job_id: str, want: str) -> dict[str, Any]:
    return wait_until(lambda: (j := hub.print_queue.job(job_id)) is not None and j["status"] == want and j,
                      f"job {job_id} {want}")


def test_printer_media_from_capabilities() -> None:
    language, size = printer_media({"capabilities": ["print_label", "language:tspl", "size:60x40", "dpi:300"]})
    assert (language, size.width_mm, size.height_mm, size.dpi) == ("tspl", 60, 40, 300)
    assert printer_media({"capabilities": []})[0] == "zpl"


def test_a_weighed_label_prints_with_a_price_barcode_the_hub_reads_back(
    hub: HubService, client: FlaskClient, owner: dict[str, str], printers: dict[str, LabelPrinterSimulator]
) -> None:
    found = online_printers(client, owner, 2)
    assert {(p["id"], p["language"], p["size"]) for p in found} == {("zebra", "zpl", "50x30"), ("tsc", "tspl", "60x40")}
    ambiguous = client.post("/api/v1/items/CHEDDAR/label/print", json={"kind": "weighed", "weight_g": 512}, headers=owner)
    assert ambiguous.status_code == 400 and ambiguous.json["error"]["field"] == "device_id"
    for dev in ("zebra", "tsc"):
        sent = client.post("/api/v1/items/CHEDDAR/label/print",
                           json={"kind": "weighed", "weight_g": 512, "device_id": dev, "copies": 2}, headers=owner)
        assert sent.status_code == 202, sent.json
        job_status(hub, sent.json["job_id"], "printed")
        sim = printers[dev]
        assert sim.wait_printed(2, WAIT_S)
        label = sim.labels[-1]
        assert label.texts[:2] == ["Cheddar", "9.68 GBP"]
        [code] = label.barcodes
        assert code.symbology == "ean13"
        parsed = parse(code.data, "GB")
        assert (parsed.kind, parsed.item_ref, parsed.price_minor) == ("rcn_price", "12345", 968)  # 0.512 kg at 18.90
        scanned = client.get(f"/api/v1/lookup?code={code.data}", headers=owner).json
        assert (scanned["item"]["sku"], scanned["line_price_minor"]) == ("CHEDDAR", 968)


def test_a_fault_keeps_the_job_queued_until_the_printer_is_ready(
    hub: HubService, client: FlaskClient, owner: dict[str, str], printers: dict[str, LabelPrinterSimulator]
) -> None:
    online_printers(client, owner, 2)
    zebra = printers["zebra"]
    zebra.paper_out = True
    sent = client.post("/api/v1/items/TEA/label/print", json={"device_id": "zebra"}, headers=owner).json
    wait_until(lambda: (j := hub.print_queue.job(sent["job_id"])) and j["attempts"] >= 1, "a first attempt")
    assert hub.print_queue.job(sent["job_id"])["status"] in ("queued", "sent") and zebra.labels == []
    zebra.paper_out = False
    job_status(hub, sent["job_id"], "printed")
    assert zebra.labels[0].barcodes == [Barcode("ean13", "5012345678900")]


def test_waiting_shelf_labels_leave_the_queue_once_printed(
    hub: HubService, client: FlaskClient, owner: dict[str, str], printers: dict[str, LabelPrinterSimulator]
) -> None:
    online_printers(client, owner, 2)
    client.patch("/api/v1/items/TEA", json={"price_minor": 259}, headers=owner)
    [waiting] = client.get("/api/v1/labels/queue", headers=owner).json["labels"]
    printers["tsc"].head_open = True  # the job cannot print yet
    sent = client.post("/api/v1/labels/queue/print", json={"device_id": "tsc"}, headers=owner)
    assert sent.status_code == 202 and len(sent.json["jobs"]) == 1
    [job] = sent.json["jobs"]
    queue = client.get("/api/v1/labels/queue", headers=owner).json["labels"]
    assert [(q["id"], q["job_id"]) for q in queue] == [(waiting["id"], job["job_id"])]  # on its way, still waiting
    again = client.post("/api/v1/labels/queue/print", json={"device_id": "tsc"}, headers=owner).json
    assert again["jobs"] == [] and again["already_printing"] == [{"id": waiting["id"], "job_id": job["job_id"]}]
    printers["tsc"].head_open = False
    job_status(hub, job["job_id"], "printed")
    wait_until(lambda: client.get("/api/v1/labels/queue", headers=owner).json["labels"] == [], "the queue to empty")
    assert printers["tsc"].labels[0].texts[:2] == ["Green tea", "2.59 GBP"]


def test_a_brother_printer_gets_a_png_at_its_size(hub: HubService, client: FlaskClient, owner: dict[str, str]) -> None:
    """The hub's side only: the job a QL printer gets is a PNG the agent rasters for its roll."""
    config = bus.DeviceConfig("label_printer", "QL", model="QL-800", capabilities=[
        "print_label", "test_page", "language:brother_ql", "size:62x29", "dpi:300"])
    hub.registry.publish(bus.config_topic(HUB_ID, "ql"), bus.dumps(config), retain=True)
    try:
        [ql] = wait_until(lambda: client.get("/api/v1/labels/printers", headers=owner).json["printers"], "the QL")
        payload = LabelPrinting(hub.labels, hub).payload(hub.labels.label("TEA", "shelf"), ql, 1)
        assert payload["language"] == "brother_ql"
        png = base64.b64decode(payload["data"])
        assert png.startswith(b"\x89PNG")
        [page] = brother.decode(brother.raster(png, "QL-800", "62x29")).pages
        assert (page.media_type, page.width_mm, page.length_mm, page.lines) == ("die_cut", 62, 29, 271)
    finally:
        hub.registry.publish(bus.config_topic(HUB_ID, "ql"), b"", retain=True)


def test_label_print_input_is_checked(hub: HubService, client: FlaskClient, owner: dict[str, str]) -> None:
    none = client.post("/api/v1/items/TEA/label/print", json={}, headers=owner)
    assert none.status_code == 422 and "no label printer" in none.json["error"]["message"]
    unknown = client.post("/api/v1/items/TEA/label/print", json={"device_id": "nope"}, headers=owner)
    assert unknown.status_code == 404 and unknown.json["error"]["field"] == "device_id"
    for body, field in (({"copies": 0}, "copies"), ({"copies": "2"}, "copies"), ({"weight_g": "5"}, "weight_g"),
                        ({"kind": "poster"}, "kind"), ({"device_id": 7}, "device_id"),
                        ({"register_id": ["till-1"]}, "register_id")):
        bad = client.post("/api/v1/items/TEA/label/print", json=body, headers=owner)
        assert bad.status_code == 400 and bad.json["error"]["field"] == field, (body, bad.json)
    assert client.post("/api/v1/items/TEA/label/print", data="x", headers=owner).status_code == 400
    cashier = {"Authorization": f"Bearer {hub.auth.create_token('cashier')}"}
    assert client.post("/api/v1/labels/queue/print", json={}, headers=cashier).status_code == 403
    assert json.loads(client.get("/api/v1/openapi.json", headers=owner).data)["paths"]["/api/v1/labels/queue/print"]


@pytest.mark.parametrize(("language", "fault"), [
    (language, fault) for language in ("zpl", "tspl", "brother_ql")
    for fault in ("paper_out", "head_open", "paused", "unreachable")
    if (language, fault) != ("brother_ql", "paused")  # a Brother QL has no pause state to report
])
def test_a_printer_fault_is_one_the_queue_waits_out(language: str, fault: str) -> None:
    """What the label driver says about a fault reads as transient to the queue: the job waits."""
    with LabelPrinterSimulator(language) as sim:
        if fault == "unreachable":
            sim.stop()
        else:
            setattr(sim, fault, True)
        port = sim.port
        media = LabelMedia(62, 29, 300, "QL-800", "62x29")
        with pytest.raises(LabelPrinterError) as failed:
            LabelPrinter(NetworkConnection("127.0.0.1", port), language, media).print_test_page("x")
    assert print_queue.is_transient(str(failed.value)), str(failed.value)
