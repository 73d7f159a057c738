"""The MQTT bridge mode against two real mosquittos: the shop's, carrying the generated bridge
section, and the back office's (over TLS), where a test back office checks signatures, ingests
into the reference sink's store and answers on the ack topic."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from hub import bridge
from hub.bridge import BridgeTransport, ack_topic, bridge_config, wrap
from hub.cli import main
from hub.db import Database
from hub.forwarder import Forwarder
from hub.mosquitto import Broker, TlsListener, acl_text, free_port, start_broker
from hub.outbox import Outbox
from hub.sink import check_batch
from hub.sink_store import SinkStore
from hub.store import Store
from hub.sync_protocol import verify
from tests.conftest import HUB_ID, USERS, hub_config
from tests.hub.test_mosquitto import make_certs

SECRET = "bridge-secret"
CLOUD_USERS = {"backoffice": "backoffice-secret", "bridge": "bridge-secret-pw"}
CLOUD_ACL = "user backoffice\ntopic readwrite backroom/#\n\nuser bridge\ntopic readwrite backroom/#\n"
WAIT_S = 90.0


def wait_for(what: str, check: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class MqttBackOffice:
    """A back office on the cloud broker: verify, ingest into the reference store, answer."""

    def __init__(self, broker: Broker, store: SinkStore) -> None:
        self.store = store
        self.batches = 0
        self.bad_signatures = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-back-office")
        self.client.username_pw_set("backoffice", CLOUD_USERS["backoffice"])
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = lambda c, *_: c.subscribe("backroom/+/cloud/batch", qos=1)
        self.client.on_message = self._on_batch
        self.client.connect_async(broker.host, broker.port)
        self.client.loop_start()

    def _on_batch(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        wrapper = json.loads(msg.payload)
        body = wrapper["body"].encode()
        if verify(SECRET, wrapper["timestamp"], body, wrapper["signature"], time.time()):
            self.bad_signatures += 1
            return
        events, markers = check_batch(json.loads(body), wrapper["hub_id"])
        result = self.store.ingest(wrapper["hub_id"], events, markers)
        self.batches += 1
        client.publish(ack_topic(wrapper["hub_id"]), json.dumps({"batch_id": wrapper["batch_id"], **result.to_dict()}),
                       qos=1)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def certs(tmp_path: Path) -> tuple[Path, Path, Path]:
    d = tmp_path / "certs"
    d.mkdir()
    return make_certs(d)


def cloud_values(tls_port: int, ca: Path) -> dict[str, object]:
    return {"mode": "mqtt-bridge", "secret": SECRET, "bridge_host": "127.0.0.1", "bridge_port": tls_port,
            "bridge_username": "bridge", "bridge_password": CLOUD_USERS["bridge"], "bridge_cafile": str(ca)}


def test_bridge_section_names_the_topics_session_and_tls(tmp_path: Path) -> None:
    config = hub_config(tmp_path, cloud={**cloud_values(8883, Path("/etc/ssl/bo-ca.pem")),
                                         "bridge_certfile": "/etc/backroom/c.pem", "bridge_keyfile": "/etc/backroom/k.pem"})
    lines = set(bridge_config(config).splitlines())
    assert {f"connection backroom-{HUB_ID}", "address 127.0.0.1:8883", f"topic backroom/{HUB_ID}/cloud/batch out 1",
            f"topic backroom/{HUB_ID}/cloud/ack in 1", "cleansession false", "bridge_protocol_version mqttv311",
            "remote_username bridge", f"remote_password {CLOUD_USERS['bridge']}", "bridge_cafile /etc/ssl/bo-ca.pem",
            "bridge_certfile /etc/backroom/c.pem", "bridge_keyfile /etc/backroom/k.pem", "try_private true",
            f"notification_topic backroom/{HUB_ID}/cloud/bridge"} <= lines


def test_bridge_mode_needs_a_host_and_a_secret(tmp_path: Path) -> None:
    from hub.errors import ConfigError

    with pytest.raises(ConfigError, match="cloud.bridge_host"):
        hub_config(tmp_path, cloud={"mode": "mqtt-bridge", "secret": SECRET})


def test_cli_prints_the_bridge_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = hub_config(tmp_path, cloud=cloud_values(8883, Path("/ca.pem")))
    assert main(["cloud", "bridge-config", "--config", str(tmp_path / "backroom.toml")]) == 0
    assert capsys.readouterr().out == bridge_config(config)


def test_wrapper_carries_the_signed_request() -> None:
    headers = {"X-Backroom-Hub": "h", "Idempotency-Key": "h:1-2", "X-Backroom-Timestamp": "17",
               "X-Backroom-Signature": "sha256=ab"}
    assert json.loads(wrap(headers, b'{"events":[]}')) == {"hub_id": "h", "batch_id": "h:1-2", "timestamp": "17",
                                                           "signature": "sha256=ab", "body": '{"events":[]}'}


class Cloud:
    """Both brokers, the back office and the hub's forwarder, bridged as docs/cloud.md says."""

    def __init__(self, root: Path, certs: tuple[Path, Path, Path]) -> None:
        ca, cert, key = certs
        self.root = root
        self.plain_port, self.tls_port = free_port(), free_port()
        self.tls = TlsListener(self.tls_port, str(cert), str(key), "127.0.0.1")
        self.cloud = self.start_cloud()
        config = hub_config(root / "hub", cloud=cloud_values(self.tls_port, ca))
        self.local = start_broker(root / "local", USERS, acl_text("hub", "devices"), extra_conf=bridge_config(config))
        self.sink = SinkStore(root / "sink.sqlite3")
        self.back_office = MqttBackOffice(self.cloud, self.sink)
        self.db = Database(root / "hub.sqlite3").open()
        self.store = Store(self.db, HUB_ID, "EUR")
        self.transport = BridgeTransport(HUB_ID, self.local.host, self.local.port, "hub", USERS["hub"],
                                         ack_timeout_s=1.5)
        self.forwarder = Forwarder(Outbox(self.db, HUB_ID), "", SECRET, batch_events=200, batch_age_s=0,
                                   base_s=0.1, cap_s=0.5)
        self.forwarder.transport = self.transport
        self.states: list[str] = []
        self.appended = 0
        self.forwarder.on_state = lambda state, reason: self.states.append(state)

    def start_cloud(self) -> Broker:
        return start_broker(self.root / "cloud", CLOUD_USERS, CLOUD_ACL, port=self.plain_port, tls=self.tls)

    def start(self) -> None:
        self.transport.start()
        self.forwarder.start()

    def append(self, n: int) -> None:
        for start in range(self.appended, self.appended + n, 500):
            with self.db.write() as conn:
                for i in range(start, min(self.appended + n, start + 500)):
                    self.store.append_event(conn, "sale.completed", {"n": i})
            self.forwarder.notify()
        self.appended += n

    def acked(self) -> int:
        return self.sink.state(HUB_ID).acked_seq

    def close(self) -> None:
        self.forwarder.stop()
        self.transport.stop()
        self.back_office.stop()
        self.cloud.stop()
        self.local.stop()
        self.sink.close()
        self.db.close()


@pytest.fixture
def cloud(tmp_path: Path, certs: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    monkeypatch.setattr(bridge, "RESTART_TIMEOUT", (1, 2))
    c = Cloud(tmp_path, certs)
    try:
        yield c
    finally:
        c.close()


def ordered(sink: SinkStore) -> list[dict[str, Any]]:
    text, acked, _ = sink.ordered_json(HUB_ID, 0, 100_000)
    events: list[dict[str, Any]] = json.loads(text)
    return events


def assert_exactly_once_in_order(c: Cloud, n: int) -> None:
    events = ordered(c.sink)
    assert [e["seq"] for e in events] == list(range(1, n + 1))
    assert [e["data"]["n"] for e in events] == list(range(n))
    assert c.sink.hubs()[0]["events"] == n  # stored once each, whatever was resent
    ids = dict(c.db.conn.execute("SELECT seq, id FROM outbox"))
    assert all(ids[e["seq"]] == e["id"] for e in events)


def test_thousands_of_events_cross_the_bridge_once_in_order(cloud: Cloud) -> None:
    cloud.append(3000)
    cloud.start()
    wait_for("every event acknowledged by the back office", lambda: cloud.acked() == 3000)
    wait_for("the hub to count them delivered", lambda: cloud.forwarder.outbox.backlog() == 0)
    assert_exactly_once_in_order(cloud, 3000)
    assert cloud.back_office.bad_signatures == 0
    assert cloud.states[-1] == "online"


def test_cloud_broker_outage_loses_and_doubles_nothing(cloud: Cloud) -> None:
    cloud.append(1500)
    cloud.start()
    wait_for("the first events to cross", lambda: cloud.acked() > 0)
    cloud.cloud.stop()
    cloud.append(1500)  # recorded while the back office's broker is gone
    wait_for("the hub to notice the missing answers", lambda: "offline" in cloud.states)
    outbox = cloud.forwarder.outbox
    assert outbox.backlog() > 0
    assert "no answer from the back office" in (outbox.summary()["last_error"] or "")
    cloud.cloud = cloud.start_cloud()
    wait_for("every event acknowledged after the outage", lambda: cloud.acked() == 3000)
    wait_for("the hub to count them delivered", lambda: outbox.backlog() == 0)
    assert_exactly_once_in_order(cloud, 3000)
    assert cloud.states[-1] == "online"


def test_no_answer_means_not_delivered(tmp_path: Path) -> None:
    """A batch the broker took but nobody answered stays pending: QoS 1 is transport, not delivery."""
    local = start_broker(tmp_path / "local", USERS, acl_text("hub", "devices"))
    db = Database(tmp_path / "hub.sqlite3").open()
    transport = BridgeTransport(HUB_ID, local.host, local.port, "hub", USERS["hub"], ack_timeout_s=0.3)
    fwd = Forwarder(Outbox(db, HUB_ID), "", SECRET, batch_age_s=0)
    fwd.transport = transport
    try:
        transport.start()
        with db.write() as conn:
            Store(db, HUB_ID, "EUR").append_event(conn, "sale.completed", {"n": 1})
        done = threading.Event()
        fwd.on_state = lambda state, reason: done.set()
        fwd.step()
        assert done.is_set()
        summary = fwd.outbox.summary()
        assert (summary["state"], summary["backlog"], summary["acked_seq"]) == ("offline", 1, 0)
        assert "no answer from the back office over the MQTT bridge" in summary["reason"]
    finally:
        fwd.close()
        transport.stop()
        local.stop()
        db.close()


def test_the_hub_in_bridge_mode_sends_through_its_own_broker(tmp_path: Path, certs: tuple[Path, Path, Path],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """HubService wired from config: cloud.mode = "mqtt-bridge" needs no cloud.url."""
    from hub.service import HubService

    monkeypatch.setattr(bridge, "RESTART_TIMEOUT", (1, 2))
    ca, cert, key = certs
    tls_port = free_port()
    cloud_broker = start_broker(tmp_path / "cloud", CLOUD_USERS, CLOUD_ACL,
                                tls=TlsListener(tls_port, str(cert), str(key), "127.0.0.1"))
    values = {**cloud_values(tls_port, ca), "batch_age_s": 0.0}
    bridge_text = bridge_config(hub_config(tmp_path / "gen", cloud=values))
    local = start_broker(tmp_path / "local", USERS, acl_text("hub", "devices"), extra_conf=bridge_text)
    sink = SinkStore(tmp_path / "sink.sqlite3")
    back_office = MqttBackOffice(cloud_broker, sink)
    svc = HubService(hub_config(tmp_path / "data", local, cloud=values))
    try:
        assert svc.bridge is not None and svc.forwarder is not None and svc.forwarder.transport is svc.bridge
        svc.start()
        with svc.db.write() as conn:
            seq = svc.store.append_event(conn, "stock.adjusted", {"sku": "A1", "qty": 1})
        svc.forwarder.notify()
        wait_for("the event at the back office", lambda: sink.state(HUB_ID).acked_seq >= seq)
        wait_for("the hub to count it delivered", lambda: svc.status()["sync"]["backlog"] == 0)
        sync = svc.status()["sync"]
        assert (sync["enabled"], sync["mode"], sync["state"]) == (True, "mqtt-bridge", "online")
        assert sync["url"] == f"127.0.0.1:{tls_port} (MQTT bridge)"
        wait_for("mosquitto to report the bridge up", lambda: svc.status()["sync"]["bridge_up"] is True)
    finally:
        svc.stop()
        back_office.stop()
        local.stop()
        cloud_broker.stop()
        sink.close()
