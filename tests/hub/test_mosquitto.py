"""The private broker the demo and tests use is the production broker's twin: same ACL, no anonymous clients."""

import queue
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt

from devices.link import close_client
from hub.mosquitto import Broker, acl_text
from tests.conftest import USERS

ROOT = Path(__file__).resolve().parents[2]


def rules(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_demo_acl_is_the_production_acl() -> None:
    template = (ROOT / "systemd" / "mosquitto-backroom.acl").read_text()
    production = template.replace("@HUB_USER@", "hub").replace("@DEVICES_USER@", "devices")
    assert rules(production) == rules(acl_text("hub", "devices"))


def pub(broker: Broker, topic: str, *auth: str) -> subprocess.CompletedProcess[str]:
    cred = ["-u", auth[0], "-P", auth[1]] if auth else []
    return subprocess.run(["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-t", topic, "-m", "x",
                           "-q", "1", *cred], capture_output=True, text=True, timeout=10)


def test_no_anonymous_clients_and_wrong_passwords_are_refused(broker: Broker) -> None:
    assert pub(broker, "backroom/test-hub/dev/x/event/scan").returncode != 0
    assert pub(broker, "backroom/test-hub/dev/x/event/scan", "devices", "wrong").returncode != 0
    assert pub(broker, "backroom/test-hub/dev/x/event/scan", "devices", USERS["devices"]).returncode == 0


def test_devices_may_not_write_the_hub_status(broker: Broker) -> None:
    """mosquitto drops an unauthorised publish silently; a subscriber proves it never arrives."""
    got: queue.Queue[str] = queue.Queue()
    subscribed = threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="acl-watcher")
    c.username_pw_set("hub", USERS["hub"])
    c.on_message = lambda cl, ud, msg: got.put(msg.topic)
    c.on_subscribe = lambda *args: subscribed.set()
    c.connect(broker.host, broker.port)
    c.loop_start()
    try:
        c.subscribe("backroom/#", qos=1)
        assert subscribed.wait(10)
        pub(broker, "backroom/test-hub/hub/status", "devices", USERS["devices"])
        pub(broker, "backroom/test-hub/dev/ok/availability", "devices", USERS["devices"])
        # each publish was acknowledged (QoS 1) before the next was sent, so the broker handled the
        # refused one first: once the second has arrived, the first never will
        assert got.get(timeout=10) == "backroom/test-hub/dev/ok/availability"
        assert got.empty()
    finally:
        close_client(c)
