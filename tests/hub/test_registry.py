"""The hub's device registry against a real mosquitto, with a device client speaking the bus."""

import json
import queue
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import paho.mqtt.client as mqtt
import pytest

from devices import bus
from devices.link import close_client
from hub.mosquitto import Broker
from hub.registry import LOG_REPEAT_S
from hub.service import HubService
from tests.conftest import HUB_ID, USERS, bus_hub
from tests.helpers import wait_until


@pytest.fixture
def hub(tmp_path: Path, broker: Broker) -> Iterator[HubService]:
    svc = bus_hub(tmp_path / "data", broker)
    yield svc
    svc.stop()


@pytest.fixture
def device(broker: Broker) -> Iterator[mqtt.Client]:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-device")
    c.username_pw_set("devices", USERS["devices"])
    c.connect(broker.host, broker.port)
    c.loop_start()
    yield c
    close_client(c)


def announce(c: mqtt.Client, dev: str, kind: str) -> None:
    cfg = bus.DeviceConfig(kind=kind, name=f"Test {kind}", model="T1", capabilities=["scan"])
    c.publish(bus.config_topic(HUB_ID, dev), bus.dumps(cfg), qos=1, retain=True).wait_for_publish(5)
    c.publish(bus.availability_topic(HUB_ID, dev), "online", qos=1, retain=True).wait_for_publish(5)


def test_devices_are_registered_with_first_and_last_seen_and_availability(hub: HubService, device: mqtt.Client) -> None:
    announce(device, "scanner-abc", "scanner")
    row = wait_until(lambda: next((d for d in hub.registry.devices() if d["id"] == "scanner-abc" and d["online"]), None))
    assert row["kind"] == "scanner" and row["register_id"] == "till-1" and row["first_seen"]
    device.publish(bus.availability_topic(HUB_ID, "scanner-abc"), "offline", qos=1, retain=True).wait_for_publish(5)
    wait_until(lambda: not hub.registry.devices()[0]["online"])
    device.publish(bus.config_topic(HUB_ID, "scanner-abc"), b"", qos=1, retain=True).wait_for_publish(5)
    wait_until(lambda: hub.registry.devices() == [])


def test_a_scan_reaches_the_bound_register_resolved(hub: HubService, device: mqtt.Client) -> None:
    announce(device, "scanner-abc", "scanner")
    wait_until(lambda: hub.registry.devices())
    sub = hub.channels.subscribe("register:till-1")
    try:
        device.publish(bus.event_topic(HUB_ID, "scanner-abc", "scan"),
                       bus.dumps(bus.Scan(id="s1", data="0490000010015", aim="]E0")), qos=1)
        event, text = sub.queue.get(timeout=10)
        data = json.loads(text)
        assert event == "scan" and data["item"]["sku"] == "D1001" and data["qty"] == 1
        device.publish(bus.event_topic(HUB_ID, "scanner-abc", "scan"), bus.dumps(bus.Scan(id="s2", data="0490000010016")), qos=1)
        event, text = sub.queue.get(timeout=10)
        assert event == "scan_error" and "check digit" in json.loads(text)["error"]["message"]
    finally:
        sub.close()


def test_garbage_on_the_bus_is_ignored_and_the_hub_keeps_going(hub: HubService, device: mqtt.Client) -> None:
    device.publish(bus.config_topic(HUB_ID, "weird"), b"{not json", qos=1, retain=True).wait_for_publish(5)
    device.publish(bus.event_topic(HUB_ID, "weird", "scan"), b"[]", qos=1).wait_for_publish(5)
    device.publish(bus.event_topic(HUB_ID, "weird", "weight"), b'{"grams": 5, "stable": true, "tare_g": null}',
                   qos=1).wait_for_publish(5)
    device.publish(bus.event_topic(HUB_ID, "weird", "weight"), b'{"grams": "5", "stable": true}', qos=1).wait_for_publish(5)
    announce(device, "scanner-ok", "scanner")
    wait_until(lambda: [d["id"] for d in hub.registry.devices()] == ["scanner-ok"])
    device.publish(bus.config_topic(HUB_ID, "weird"), b"", retain=True).wait_for_publish(5)


def test_hub_publishes_its_birth_and_a_last_will(hub: HubService, broker: Broker) -> None:
    got: queue.Queue[bytes] = queue.Queue()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher")
    c.username_pw_set("devices", USERS["devices"])
    c.on_message = lambda cl, ud, msg: got.put(msg.payload)
    c.connect(broker.host, broker.port)
    c.subscribe(bus.hub_status_topic(HUB_ID))
    c.loop_start()
    try:
        assert json.loads(got.get(timeout=10))["state"] == "online"
        hub.registry.stop()
        assert json.loads(got.get(timeout=10))["state"] == "offline"
    finally:
        close_client(c)


def test_print_job_result_updates_the_job_and_tells_the_register(hub: HubService, device: mqtt.Client) -> None:
    announce(device, "printer-1", "receipt_printer")
    wait_until(lambda: hub.registry.devices())
    jobs: queue.Queue[bytes] = queue.Queue()
    subscribed = threading.Event()
    device.on_message = lambda cl, ud, msg: jobs.put(msg.payload)
    device.on_subscribe = lambda *args: subscribed.set()
    device.subscribe(bus.cmd_topic(HUB_ID, "printer-1", "print"), qos=1)
    assert subscribed.wait(10)
    sale, created = hub.complete_sale({"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "D1001", "qty": 1}],
                                       "tenders": [{"kind": "cash", "amount_minor": 500}]}, "test")
    assert created and sale["receipt"]["status"] == "queued"
    job = bus.PrintReceipt.from_payload(jobs.get(timeout=10))
    assert job.job_id == sale["receipt"]["job_id"] and job.barcode == sale["receipt_code"]
    sub = hub.channels.subscribe("register:till-1")
    try:
        device.publish(bus.result_topic(HUB_ID, "printer-1", "print"), bus.dumps(bus.JobResult(job.job_id, True)), qos=1)
        event, text = sub.queue.get(timeout=10)
        assert event == "job" and json.loads(text)["ok"] is True
    finally:
        sub.close()
    status = hub.db.conn.execute("SELECT status FROM print_jobs WHERE job_id = ?", (job.job_id,)).fetchone()[0]
    assert status == "printed"


def test_a_register_stream_opens_with_the_scales_last_weight(hub: HubService, device: mqtt.Client) -> None:
    announce(device, "scale-1", "scale")
    wait_until(lambda: hub.registry.devices() and hub.registry.devices()[0]["online"])
    device.publish(bus.event_topic(HUB_ID, "scale-1", "weight"), bus.dumps(bus.Weight(532, True)), qos=1).wait_for_publish(5)
    weights = wait_until(lambda: hub.registry.weights_for("till-1"))
    assert weights == [{"device_id": "scale-1", "grams": 532, "stable": True, "status": "ok", "tare_g": 0}]
    device.publish(bus.availability_topic(HUB_ID, "scale-1"), "offline", qos=1, retain=True).wait_for_publish(5)
    wait_until(lambda: not hub.registry.weights_for("till-1"))


def test_a_replayed_sale_tells_where_its_receipt_is_now(hub: HubService, device: mqtt.Client) -> None:
    announce(device, "printer-1", "receipt_printer")
    wait_until(lambda: hub.registry.devices())
    body = {"id": str(uuid.uuid4()), "register_id": "till-1", "lines": [{"sku": "D1001", "qty": 1}],
            "tenders": [{"kind": "cash", "amount_minor": 500}]}
    sale, _ = hub.complete_sale(body, "test")
    device.publish(bus.result_topic(HUB_ID, "printer-1", "print"),
                   bus.dumps(bus.JobResult(sale["receipt"]["job_id"], False, BAD_JOB)), qos=1).wait_for_publish(5)
    replay = wait_until(lambda: (r := hub.complete_sale(body, "test")[0])["receipt"]["status"] == "failed" and r)
    assert replay["receipt"]["error"] == BAD_JOB and replay["number"] == sale["number"]


BAD_JOB = "receipt x cannot be printed: its barcode is not Code 128"  # a failure no retry mends


def test_bad_topics_are_logged_once_per_device_and_part_and_the_limiter_forgets(svc: HubService) -> None:
    """A device publishing endless distinct bad subtopics must not grow the log limiter without bound."""
    registry = svc.registry
    for i in range(200):
        msg = SimpleNamespace(topic=bus.result_topic(HUB_ID, "weird", f"job{i}"), payload=b"{bad")
        registry._on_message(None, None, msg)  # type: ignore[arg-type]
    assert list(registry._last_error_log) == ["bad:weird/result"]
    registry._last_error_log["bad:weird/result"] -= LOG_REPEAT_S + 1  # a minute later
    registry._on_message(None, None, SimpleNamespace(topic=bus.event_topic(HUB_ID, "other", "weight"),  # type: ignore[arg-type]
                                                     payload=b"[]"))
    assert list(registry._last_error_log) == ["bad:other/event"]
