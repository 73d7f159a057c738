"""Managing devices through the API against a real mosquitto: a test client plays the devices
agent (or an ESP32 scale), the hub's registry listens, and the Flask app takes the owner's actions."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from flask.testing import FlaskClient

from devices import bus
from devices.link import close_client
from hub import device_admin
from hub.device_credentials import DeviceCredentials
from hub.live import Subscription
from hub.mosquitto import Broker
from hub.service import HubService
from hub.web import create_app
from tests.conftest import HUB_ID, USERS, bus_hub
from tests.helpers import wait_until


class Agent:
    """A bus client acting as the devices agent: announces devices, hears their commands."""

    def __init__(self, broker: Broker, client_id: str = "test-agent", user: str = "devices",
                 password: str = USERS["devices"]) -> None:
        self.commands: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.username_pw_set(user, password)
        self.client.on_message = lambda c, u, m: self.commands.put((m.topic.rsplit("/", 1)[1], json.loads(m.payload)))
        self._subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def announce(self, dev: str, kind: str, name: str = "", capabilities: list[str] | None = None) -> None:
        self._subscribed.clear()
        self.client.subscribe(f"{bus.device_base(HUB_ID, dev)}/cmd/+", qos=1)
        assert self._subscribed.wait(10)
        cfg = bus.DeviceConfig(kind=kind, name=name or f"Test {kind}", model="T1", capabilities=capabilities or [])
        self.publish(bus.config_topic(HUB_ID, dev), bus.dumps(cfg), retain=True)
        self.publish(bus.availability_topic(HUB_ID, dev), b"online", retain=True)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def result(self, dev: str, command: str, job_id: str, ok: bool, error: str = "") -> None:
        self.publish(bus.result_topic(HUB_ID, dev, command), bus.dumps(bus.JobResult(job_id, ok, error)))

    def next_command(self) -> tuple[str, dict[str, Any]]:
        return self.commands.get(timeout=10)

    def close(self) -> None:
        close_client(self.client)


@pytest.fixture
def hub(tmp_path: Path, broker: Broker) -> Iterator[HubService]:
    svc = bus_hub(tmp_path / "data", broker, mqtt={
        "password_file": str(broker.passwd), "broker_pid_file": str(broker.pid_file)})
    yield svc
    svc.stop()


@pytest.fixture
def agent(broker: Broker) -> Iterator[Agent]:
    a = Agent(broker)
    yield a
    a.close()


@pytest.fixture
def client(hub: HubService) -> FlaskClient:
    return create_app(hub).test_client()


@pytest.fixture
def h(hub: HubService) -> dict[str, dict[str, str]]:
    return {role: {"Authorization": f"Bearer {hub.auth.create_token(role)}"} for role in ("owner", "manager", "cashier")}


def device(hub: HubService, dev: str) -> Any:
    """The device as the API lists it, or None."""
    return next((d for d in hub.registry.devices() if d["id"] == dev), None)


def online(hub: HubService, dev: str) -> dict[str, Any]:
    return wait_until(lambda: (d := device(hub, dev)) is not None and d["online"] and d, f"{dev} online")


def next_event(sub: Subscription, name: str) -> dict[str, Any]:
    """The next event called name on sub (others, such as "devices", are skipped)."""
    while True:
        event, text = sub.queue.get(timeout=10)
        if event == name:
            return json.loads(text)  # type: ignore[no-any-return]


def retained(broker: Broker, topics: list[str]) -> dict[str, bytes]:
    """What a fresh subscriber gets as retained on topics, read until a marker published after."""
    got: dict[str, bytes] = {}
    done = threading.Event()
    marker = bus.event_topic(HUB_ID, "marker", "ping")
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fresh-subscriber")
    c.username_pw_set("devices", USERS["devices"])

    def on_message(cl: mqtt.Client, ud: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == marker:
            done.set()
        elif msg.retain:
            got[msg.topic] = msg.payload

    subscribed = threading.Event()
    c.on_message = on_message
    c.on_subscribe = lambda *a: subscribed.set()
    c.connect(broker.host, broker.port)
    c.loop_start()
    try:
        c.subscribe([(t, 1) for t in [*topics, marker]])
        assert subscribed.wait(10)
        c.publish(marker, b"{}", qos=1).wait_for_publish(5)  # retained ones come before it
        assert done.wait(10)
    finally:
        close_client(c)
    return got


def test_a_rename_survives_announcements_and_is_recorded(hub: HubService, agent: Agent, client: FlaskClient,
                                                         h: dict[str, dict[str, str]]) -> None:
    agent.announce("scanner-1", "scanner", "Honeywell 1450g")
    online(hub, "scanner-1")
    resp = client.patch("/api/v1/devices/scanner-1", json={"name": "  Front counter  "}, headers=h["manager"])
    assert resp.status_code == 200 and resp.json["name"] == "Front counter"
    assert resp.json["announced_name"] == "Honeywell 1450g"
    agent.announce("scanner-1", "scanner", "Honeywell 1450g rev B")
    wait_until(lambda: device(hub, "scanner-1")["announced_name"] == "Honeywell 1450g rev B")
    assert device(hub, "scanner-1")["name"] == "Front counter"
    assert client.patch("/api/v1/devices/scanner-1", json={"name": None}, headers=h["manager"]).json["name"] == \
        "Honeywell 1450g rev B"
    changes = hub.db.conn.execute("SELECT field, old, new, actor FROM device_changes ORDER BY id").fetchall()
    assert [tuple(c)[:3] for c in changes] == [("name", None, "Front counter"), ("name", "Front counter", None)]
    assert changes[0]["actor"].startswith("token:")
    for bad, field in (({"name": "x" * 61}, "name"), ({"colour": "red"}, None), ({}, None), ({"role": "till"}, "role")):
        resp = client.patch("/api/v1/devices/scanner-1", json=bad, headers=h["manager"])
        assert resp.status_code == 400 and resp.json["error"]["field"] == field, bad
    assert client.patch("/api/v1/devices/nope", json={"name": "x"}, headers=h["manager"]).status_code == 404
    assert client.patch("/api/v1/devices/scanner-1", json={"name": "x"}, headers=h["cashier"]).status_code == 403


def test_binding_decides_which_register_hears_a_scanner(hub: HubService, agent: Agent, client: FlaskClient,
                                                        h: dict[str, dict[str, str]]) -> None:
    agent.announce("scanner-1", "scanner")
    assert online(hub, "scanner-1")["register_id"] == "till-1"
    with hub.db.write() as conn:
        conn.execute("INSERT INTO registers (id, name) VALUES ('till-2', 'Back counter')")
    resp = client.patch("/api/v1/devices/scanner-1", json={"register_id": "till-2"}, headers=h["manager"])
    assert resp.status_code == 200 and resp.json["register_id"] == "till-2"
    sub = hub.channels.subscribe("register:till-2")
    try:
        agent.publish(bus.event_topic(HUB_ID, "scanner-1", "scan"), bus.dumps(bus.Scan("s1", "0490000010015")))
        assert next_event(sub, "scan")["item"]["sku"] == "D1001"
    finally:
        sub.close()
    resp = client.patch("/api/v1/devices/scanner-1", json={"register_id": "till-9"}, headers=h["manager"])
    assert resp.status_code == 422 and resp.json["error"]["field"] == "register_id"
    assert client.patch("/api/v1/devices/scanner-1", json={"register_id": None},
                        headers=h["manager"]).json["register_id"] is None


def test_forgetting_clears_the_retained_announcement_so_no_ghost_returns(
        hub: HubService, agent: Agent, broker: Broker, client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    agent.announce("printer-old", "receipt_printer")
    online(hub, "printer-old")
    topics = [bus.config_topic(HUB_ID, "printer-old"), bus.availability_topic(HUB_ID, "printer-old")]
    assert set(retained(broker, topics)) == set(topics)  # the check below can see them
    assert client.delete("/api/v1/devices/printer-old", headers=h["manager"]).status_code == 403
    resp = client.delete("/api/v1/devices/printer-old", headers=h["owner"])
    assert resp.status_code == 200 and "again" in resp.json["note"]
    assert device(hub, "printer-old") is None
    assert retained(broker, topics) == {}
    assert hub.db.conn.execute("SELECT field FROM device_changes WHERE device_id = 'printer-old'").fetchone()[0] == \
        "forgotten"
    assert client.delete("/api/v1/devices/printer-old", headers=h["owner"]).status_code == 404


def test_a_test_page_is_sent_with_a_job_id_and_its_result_reaches_the_status_stream(
        hub: HubService, agent: Agent, client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    agent.announce("printer-1", "receipt_printer")
    online(hub, "printer-1")
    sub = hub.channels.subscribe("status")
    try:
        resp = client.post("/api/v1/devices/printer-1/test", json={"action": "test_page"}, headers=h["manager"])
        assert resp.status_code == 202 and resp.json["status"] == "sent"
        job_id = resp.json["job_id"]
        assert agent.next_command() == ("test_page", {"job_id": job_id})
        agent.result("printer-1", "test_page", job_id, True)
        done = next_event(sub, "device_job")
        assert done["job_id"] == job_id and done["ok"] is True and done["status"] == "done"

        resp = client.post("/api/v1/devices/printer-1/test", json={"action": "drawer", "pin": 5}, headers=h["manager"])
        drawer_job = resp.json["job_id"]
        assert agent.next_command() == ("drawer", {"job_id": drawer_job, "pin": 5})
        agent.result("printer-1", "drawer", drawer_job, False, "paper out")
        failed = next_event(sub, "device_job")
        assert failed["ok"] is False and failed["error"] == "paper out" and failed["status"] == "failed"
    finally:
        sub.close()
    errors = wait_until(lambda: device(hub, "printer-1")["errors"])
    assert errors[0]["message"] == "paper out" and errors[0]["source"] == "cmd/drawer"
    job = client.get(f"/api/v1/devices/printer-1/jobs/{drawer_job}", headers=h["manager"]).json
    assert job["error"] == "paper out" and job["finished_at"]


def test_test_actions_fit_the_device(hub: HubService, agent: Agent, client: FlaskClient,
                                     h: dict[str, dict[str, str]]) -> None:
    agent.announce("scale-1", "scale")
    online(hub, "scale-1")
    resp = client.post("/api/v1/devices/scale-1/test", json={"action": "test_page"}, headers=h["manager"])
    assert resp.status_code == 422 and resp.json["error"]["field"] == "action"
    assert client.post("/api/v1/devices/scale-1/test", json={"action": "fly"}, headers=h["manager"]).status_code == 400
    resp = client.post("/api/v1/devices/scale-1/test", json={"action": "tare"}, headers=h["manager"])
    assert agent.next_command() == ("tare", {"job_id": resp.json["job_id"]})
    agent.publish(bus.availability_topic(HUB_ID, "scale-1"), b"offline", retain=True)
    wait_until(lambda: not device(hub, "scale-1")["online"])
    resp = client.post("/api/v1/devices/scale-1/test", json={"action": "zero"}, headers=h["manager"])
    assert resp.status_code == 409 and resp.json["error"]["code"] == "device_offline"
    assert client.post("/api/v1/devices/scale-1/test", json={"action": "zero"}, headers=h["cashier"]).status_code == 403


def test_a_test_scan_reaches_the_register_marked_as_a_test(hub: HubService, agent: Agent, client: FlaskClient,
                                                          h: dict[str, dict[str, str]]) -> None:
    agent.announce("scanner-1", "scanner")
    online(hub, "scanner-1")
    sub = hub.channels.subscribe("register:till-1")
    try:
        resp = client.post("/api/v1/devices/scanner-1/test", json={"action": "scan"}, headers=h["manager"])
        assert resp.status_code == 202 and resp.json["ok"] is True and resp.json["listeners"] == 1
        scan = next_event(sub, "scan")
        assert scan["test"] is True and scan["device_id"] == "scanner-1" and scan["item"]["sku"] == "D1001"
        assert scan["code"] == resp.json["code"] == hub.registry.admin.known_code()
        resp = client.post("/api/v1/devices/scanner-1/test", json={"action": "scan", "data": "0490000010016"},
                           headers=h["manager"])
        assert resp.json["ok"] is False and "check digit" in resp.json["error"]
        assert next_event(sub, "scan_error")["test"] is True
    finally:
        sub.close()
    client.patch("/api/v1/devices/scanner-1", json={"register_id": None}, headers=h["manager"])
    resp = client.post("/api/v1/devices/scanner-1/test", json={"action": "scan"}, headers=h["manager"])
    assert resp.status_code == 422 and resp.json["error"]["field"] == "register_id"


def test_the_hub_remembers_an_input_devices_role_and_tells_it_again(
        hub: HubService, agent: Agent, client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    agent.announce("kbd-1", "keyboard", "USB Keyboard", ["use_as_scanner"])
    online(hub, "kbd-1")
    resp = client.patch("/api/v1/devices/kbd-1", json={"role": "scanner"}, headers=h["manager"])
    assert resp.status_code == 200 and resp.json["role_override"] == "scanner"
    name, payload = agent.next_command()
    assert (name, payload["role"]) == ("input_role", "scanner") and payload["job_id"]
    # The agent restarts and still calls it a keyboard: the hub says so again.
    agent.announce("kbd-1", "keyboard", "USB Keyboard", ["use_as_scanner"])
    name, payload = agent.next_command()
    assert (name, payload["role"]) == ("input_role", "scanner") and payload["job_id"]
    # Now it announces as a scanner: nothing to say. The next command is the owner's next change.
    agent.announce("kbd-1", "scanner", "USB Keyboard", ["use_as_keyboard"])
    wait_until(lambda: device(hub, "kbd-1")["kind"] == "scanner")
    client.patch("/api/v1/devices/kbd-1", json={"role": "keyboard"}, headers=h["manager"])
    name, payload = agent.next_command()
    assert (name, payload["role"]) == ("input_role", "keyboard")
    agent.announce("printer-1", "receipt_printer")
    online(hub, "printer-1")
    resp = client.patch("/api/v1/devices/printer-1", json={"role": "scanner"}, headers=h["manager"])
    assert resp.status_code == 422 and resp.json["error"]["field"] == "role"


def test_errors_states_and_last_events_are_kept_per_device(hub: HubService, agent: Agent,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device_admin, "ERROR_REPEAT_S", 0.0)  # every error kept (the limit is tested below)
    agent.announce("printer-1", "receipt_printer")
    online(hub, "printer-1")
    status = {"online": True, "cover_open": False, "paper_low": True, "paper_out": False, "error": ""}
    agent.publish(bus.event_topic(HUB_ID, "printer-1", "status"), json.dumps(status).encode())
    wait_until(lambda: device(hub, "printer-1")["state"].get("status") == status)
    agent.publish(bus.event_topic(HUB_ID, "printer-1", "status"), json.dumps({**status, "error": "cutter jammed"}).encode())
    agent.publish(bus.event_topic(HUB_ID, "printer-1", "error"), b'{"message": "head too hot"}')
    agent.publish(bus.event_topic(HUB_ID, "printer-1", "weight"), b'{"grams": "5"}')  # unreadable
    messages = wait_until(lambda: len(e := device(hub, "printer-1")["errors"]) == 3 and e)
    assert [(e["source"], e["message"][:13]) for e in messages] == [
        ("bus", "sent an unrea"), ("event/error", "head too hot"), ("event/status", "cutter jammed")]
    assert "unreadable" in messages[0]["message"] and "weight" in messages[0]["message"]
    row = device(hub, "printer-1")
    assert row is not None and row["last_event"] == "weight" and row["last_event_at"]
    assert hub.db.conn.execute("SELECT last_event FROM devices WHERE id = 'printer-1'").fetchone()[0] == ""
    hub.registry.flush_last_seen()  # last events are written with last-seen times, not per message
    assert hub.db.conn.execute("SELECT last_event FROM devices WHERE id = 'printer-1'").fetchone()[0] == "weight"
    agent.publish(bus.event_topic(HUB_ID, "ghost", "error"), b'{"message": "who am I"}')
    agent.publish(bus.event_topic(HUB_ID, "printer-1", "error"), b'{"message": "sync"}')
    wait_until(lambda: device(hub, "printer-1")["errors"][0]["message"] == "sync")
    assert hub.db.conn.execute("SELECT count(*) FROM device_errors WHERE device_id = 'ghost'").fetchone()[0] == 0


def test_a_device_error_is_written_at_most_once_a_window_and_the_rest_counted(hub: HubService, agent: Agent) -> None:
    """Errors that differ every time (JSON errors at other positions) must not cost a synced write each."""
    agent.announce("scale-1", "scale")
    online(hub, "scale-1")
    admin, now = hub.registry.admin, [1000.0]
    admin.monotonic = lambda: now[0]
    stored = lambda: hub.db.conn.execute(  # noqa: E731
        "SELECT message FROM device_errors WHERE device_id = 'scale-1' ORDER BY id").fetchall()
    events = lambda: hub.db.conn.execute(  # noqa: E731
        "SELECT count(*) FROM outbox WHERE type = 'device.error'").fetchone()[0]
    for i in range(50):
        admin.record_error("scale-1", "bus", f"payload is not JSON: char {i}")
        now[0] += 1.0
    assert [r[0] for r in stored()] == ["payload is not JSON: char 0"] and events() == 1
    now[0] = 1000.0 + device_admin.ERROR_REPEAT_S
    admin.record_error("scale-1", "bus", "payload is not JSON: char 99")
    assert stored()[-1][0] == "payload is not JSON: char 99 (49 more errors within 60 s of the one before were not kept)"
    assert events() == 2
    now[0] += 1.0
    admin.record_error("ghost", "bus", "who am I")  # an unknown device is neither written nor remembered
    assert set(admin._last_error) == {"scale-1"}
    now[0] += 10 * device_admin.ERROR_REPEAT_S
    admin.record_error("ghost", "bus", "who am I")
    assert admin._last_error == {}  # scale-1 is past its window with nothing held back: forgotten


def test_a_test_result_is_pushed_on_the_status_stream(hub: HubService, agent: Agent, client: FlaskClient,
                                                     h: dict[str, dict[str, str]]) -> None:
    agent.announce("scanner-1", "scanner")
    online(hub, "scanner-1")
    resp = client.get("/api/v1/status/stream", headers=h["manager"], buffered=False)
    try:
        chunks = iter(resp.response)
        assert next(chunks).startswith(b"event: status")
        job = client.post("/api/v1/devices/scanner-1/test", json={"action": "scan"}, headers=h["manager"]).json
        text = b""
        while b"event: device_job" not in text:
            text = next(chunks)
        assert json.loads(text.split(b"data: ", 1)[1])["job_id"] == job["job_id"]
    finally:
        resp.close()


ESP32 = textwrap.dedent("""
    import sys, time
    import paho.mqtt.client as mqtt
    host, port, user, password, hub, dev = sys.argv[1:]
    base = f"backroom/{hub}/dev/{dev}"
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=dev)
    c.username_pw_set(user, password)
    c.will_set(base + "/availability", "offline", qos=1, retain=True)
    c.connect(host, int(port), keepalive=30)
    c.loop_start()
    c.publish(base + "/config", '{"kind": "scale", "name": "Deli scale", "model": "HX711", '
              '"manufacturer": "ESPHome", "sw_version": "2024.6", "connection": "wifi"}', qos=1, retain=True)
    c.publish(base + "/availability", "online", qos=1, retain=True)
    c.publish(base + "/event/weight", '{"grams": 250, "stable": true}', qos=1).wait_for_publish(5)
    print("ready", flush=True)
    time.sleep(60)
""")


def test_a_network_scale_joins_like_any_device_and_its_last_will_marks_it_offline(
        hub: HubService, broker: Broker, client: FlaskClient, h: dict[str, dict[str, str]]) -> None:
    creds = DeviceCredentials(hub.db, HUB_ID, hub.config["mqtt"]).issue("esp-scale-1", "test")
    proc = subprocess.Popen([sys.executable, "-c", ESP32, broker.host, str(broker.port), creds["username"],
                             creds["password"], HUB_ID, "esp-scale-1"], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        row = online(hub, "esp-scale-1")
        assert (row["kind"], row["model"], row["connection"], row["sw_version"]) == ("scale", "HX711", "wifi", "2024.6")
        assert wait_until(lambda: hub.registry.weights_for("till-1"))[0]["grams"] == 250
        proc.kill()  # the socket closes without a DISCONNECT: the broker sends its last will
        proc.wait()
        wait_until(lambda: not device(hub, "esp-scale-1")["online"], "the last will")
        assert device(hub, "esp-scale-1")["state_since"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    topics = [bus.config_topic(HUB_ID, "esp-scale-1"), bus.availability_topic(HUB_ID, "esp-scale-1")]
    assert retained(broker, topics)[topics[1]] == b"offline"
    assert client.delete("/api/v1/devices/esp-scale-1", headers=h["owner"]).status_code == 200
    assert retained(broker, topics) == {}
    assert device(hub, "esp-scale-1") is None


def test_backroom_status_lists_devices_with_state_last_event_and_last_error(hub: HubService, agent: Agent) -> None:
    agent.announce("printer-1", "receipt_printer")
    online(hub, "printer-1")
    agent.publish(bus.event_topic(HUB_ID, "printer-1", "error"), b'{"message": "cutter jammed"}')
    wait_until(lambda: device(hub, "printer-1")["errors"])
    hub.registry.flush_last_seen()
    out = subprocess.run([sys.executable, "-m", "hub.cli", "status", "--config", str(hub.config.data_dir / "backroom.toml")],
                         capture_output=True, text=True, timeout=60)
    line = next(ln for ln in out.stdout.splitlines() if "printer-1" in ln)
    assert "online" in line and "last_event=error" in line
    assert "last error: cutter jammed" in out.stdout
