"""The private broker the demo and tests use is the production broker's twin: same ACL, no anonymous clients."""

import queue
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from devices.link import close_client
from hub.mosquitto import Broker, TlsListener, acl_text, free_port, start_broker, tls_section
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


def test_production_tls_lines_are_the_demos() -> None:
    template = (ROOT / "systemd" / "mosquitto-backroom.conf").read_text()
    lines = [line.removeprefix("#tls ") for line in template.splitlines() if line.startswith("#tls ")]
    rendered = "\n".join(lines).replace("@TLS_PORT@", "8883").replace("@TLS_CERTFILE@", "/c.pem").replace(
        "@TLS_KEYFILE@", "/k.pem")
    assert rules(rendered) == rules(tls_section(TlsListener(8883, "/c.pem", "/k.pem")))


def make_certs(d: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl CLI)."""
    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, cwd=d)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=Backroom test CA")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=hub")
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    return d / "ca.pem", d / "server.pem", d / "server.key"


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Broker, int, Path]]:
    certs = tmp_path / "certs"
    certs.mkdir()
    ca, cert, key = make_certs(certs)
    tls_port = free_port()
    b = start_broker(tmp_path / "mosquitto", USERS, acl_text("hub", "devices"),
                     tls=TlsListener(tls_port, str(cert), str(key), "127.0.0.1"))
    yield b, tls_port, ca
    b.stop()


def tls_client(port: int, user: str, password: str, ca: Path) -> tuple[mqtt.Client, bool]:
    got: queue.Queue[bool] = queue.Queue()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"tls-{user}")
    c.username_pw_set(user, password)
    c.tls_set(ca_certs=str(ca))
    c.on_connect = lambda cl, ud, f, rc, p: got.put(not rc.is_failure)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c, got.get(timeout=10)


def test_devices_connect_over_tls_with_the_same_passwords_and_acl(tls_broker: tuple[Broker, int, Path]) -> None:
    broker, tls_port, ca = tls_broker
    got: queue.Queue[str] = queue.Queue()
    subscribed = threading.Event()
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="plain-watcher")
    watcher.username_pw_set("hub", USERS["hub"])
    watcher.on_message = lambda cl, ud, msg: got.put(msg.topic)
    watcher.on_subscribe = lambda *args: subscribed.set()
    watcher.connect(broker.host, broker.port)
    watcher.loop_start()
    device, ok = tls_client(tls_port, "devices", USERS["devices"], ca)
    try:
        watcher.subscribe("backroom/#", qos=1)
        assert subscribed.wait(10) and ok
        device.publish("backroom/test-hub/hub/status", b"forged", qos=1).wait_for_publish(10)
        device.publish("backroom/test-hub/dev/tls-scale/availability", b"online", qos=1).wait_for_publish(10)
        assert got.get(timeout=10) == "backroom/test-hub/dev/tls-scale/availability"
        assert got.empty()
    finally:
        close_client(device)
        close_client(watcher)
    wrong, ok = tls_client(tls_port, "devices", "wrong", ca)
    close_client(wrong)
    assert not ok


def test_tls_needs_a_trusted_certificate(tls_broker: tuple[Broker, int, Path]) -> None:
    _, tls_port, ca = tls_broker
    with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as raw, \
            pytest.raises(ssl.SSLCertVerificationError):  # the system's CAs only
        ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
    trusting = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", tls_port), timeout=10) as raw, \
            trusting.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_reload_rereads_the_password_file(broker: Broker) -> None:
    subprocess.run(["mosquitto_passwd", "-b", str(broker.passwd), "late-user", "pw"], check=True, timeout=10)
    broker.reload()
    deadline = time.monotonic() + 10
    while pub(broker, "backroom/test-hub/dev/late-user/availability", "late-user", "pw").returncode != 0:
        assert time.monotonic() < deadline, "the broker never took the new user"
        time.sleep(0.05)
