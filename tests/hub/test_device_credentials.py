"""Per-device MQTT users against a real mosquitto: a device writes only its own topics, reads only
its own commands, and a revoked device is shut out."""

from __future__ import annotations

import json
import queue
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.link import close_client
from hub.db import Database
from hub.device_credentials import (
    DeviceCredentials,
    check_password,
    hash_password,
    parse_passwd,
    render_passwd,
)
from hub.errors import Conflict, NotFound, ValidationError
from hub.mosquitto import Broker
from tests.conftest import HUB_ID, USERS, hub_config

WAIT_S = 10.0


class Device:
    """A paho client logged in as one MQTT user, recording what it receives."""

    def __init__(self, broker: Broker, user: str, password: str) -> None:
        self.got: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connack: queue.Queue[bool] = queue.Queue()
        self.disconnected: queue.Queue[bool] = queue.Queue()
        self.subscribed: queue.Queue[bool] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{user}-{time.monotonic_ns()}")
        self.client.username_pw_set(user, password)
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.put(not rc.is_failure)
        self.client.on_disconnect = lambda c, u, f, rc, p: self.disconnected.put(True)
        self.client.on_message = lambda c, u, m: self.got.put((m.topic, m.payload))
        self.client.on_subscribe = lambda *a: self.subscribed.put(True)
        self.client.reconnect_delay_set(60, 60)  # one attempt per test step, never a silent retry
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.ok = self.connack.get(timeout=WAIT_S)

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.get(timeout=WAIT_S)

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(WAIT_S)

    def close(self) -> None:
        close_client(self.client)


def login_works(broker: Broker, user: str, password: str) -> bool:
    d = Device(broker, user, password)
    d.close()
    return d.ok


def wait_login(broker: Broker, user: str, password: str, expect: bool) -> None:
    """The broker re-reads its password file after SIGHUP, a moment later: try until it has."""
    deadline = time.monotonic() + WAIT_S
    while login_works(broker, user, password) != expect:
        assert time.monotonic() < deadline, f"login of {user} never became {expect}"
        time.sleep(0.05)


@pytest.fixture
def creds(tmp_path: Path, broker: Broker) -> Iterator[DeviceCredentials]:
    config = hub_config(tmp_path / "hub", broker, mqtt={"password_file": str(broker.passwd),
                                                        "broker_pid_file": str(broker.pid_file),
                                                        "lan_host": "hub.local"})
    db = Database(tmp_path / "hub" / "backroom.sqlite3").open()
    yield DeviceCredentials(db, HUB_ID, config["mqtt"])
    db.close()


@pytest.fixture
def hub_probe(broker: Broker) -> Iterator[Device]:
    d = Device(broker, "hub", USERS["hub"])
    d.subscribe("backroom/#")
    yield d
    d.close()


def topic(dev: str, rest: str) -> str:
    return f"backroom/{HUB_ID}/dev/{dev}/{rest}"


def test_a_device_writes_only_its_own_topics(broker: Broker, creds: DeviceCredentials, hub_probe: Device) -> None:
    a = creds.issue("scale-a", "user:owner")
    b = creds.issue("scale-b", "user:owner")
    assert a["username"] == "scale-a" and a["host"] == "hub.local" and a["port"] == 1883
    assert a["topics"]["commands"] == topic("scale-a", "cmd/#")
    wait_login(broker, "scale-a", a["password"], True)
    wait_login(broker, "scale-b", b["password"], True)
    dev_a = Device(broker, "scale-a", a["password"])
    try:
        # QoS 1 publishes are acknowledged in order: once the last one arrives, a refused one never will
        dev_a.publish(topic("scale-b", "event/weight"), b"forged")
        dev_a.publish(topic("scale-b", "availability"), b"offline")
        dev_a.publish(f"backroom/{HUB_ID}/hub/status", b"forged")
        dev_a.publish(topic("scale-a", "event/weight"), b"mine")
        assert hub_probe.got.get(timeout=WAIT_S) == (topic("scale-a", "event/weight"), b"mine")
        assert hub_probe.got.empty()
    finally:
        dev_a.close()


def test_a_device_reads_only_its_own_commands(broker: Broker, creds: DeviceCredentials, hub_probe: Device) -> None:
    a = creds.issue("printer-a", "user:owner")
    b = creds.issue("printer-b", "user:owner")
    wait_login(broker, "printer-a", a["password"], True)
    wait_login(broker, "printer-b", b["password"], True)
    dev_a, dev_b = Device(broker, "printer-a", a["password"]), Device(broker, "printer-b", b["password"])
    try:
        dev_a.subscribe(topic("printer-b", "cmd/#"))  # mosquitto grants the SUBACK and then filters
        dev_a.subscribe(topic("printer-a", "cmd/#"))
        dev_b.subscribe(topic("printer-b", "cmd/#"))
        hub_probe.publish(topic("printer-b", "cmd/print"), b"for b")
        hub_probe.publish(topic("printer-a", "cmd/print"), b"for a")
        assert dev_b.got.get(timeout=WAIT_S) == (topic("printer-b", "cmd/print"), b"for b")
        assert dev_a.got.get(timeout=WAIT_S) == (topic("printer-a", "cmd/print"), b"for a")
        assert dev_a.got.empty()
    finally:
        dev_a.close()
        dev_b.close()


def test_revoked_device_is_shut_out(broker: Broker, creds: DeviceCredentials) -> None:
    a = creds.issue("scanner-7", "user:owner")
    wait_login(broker, "scanner-7", a["password"], True)
    connected = Device(broker, "scanner-7", a["password"])
    try:
        assert creds.revoke("scanner-7", "user:boss") == {"device_id": "scanner-7", "revoked": True}
        wait_login(broker, "scanner-7", a["password"], False)
        # mosquitto re-checks connected clients on reload and drops the revoked one
        assert connected.disconnected.get(timeout=WAIT_S)
    finally:
        connected.close()
    assert "scanner-7" not in parse_passwd(broker.passwd.read_text())
    assert {"hub", "devices"} <= set(parse_passwd(broker.passwd.read_text()))
    row = creds.listing()[0]
    assert (row["device_id"], row["issued_by"], row["revoked_by"]) == ("scanner-7", "user:owner", "user:boss")
    with pytest.raises(NotFound):
        creds.revoke("scanner-7", "user:boss")


def test_a_new_password_replaces_the_old(broker: Broker, creds: DeviceCredentials) -> None:
    first = creds.issue("scale-9", "user:owner")
    wait_login(broker, "scale-9", first["password"], True)
    second = creds.issue("scale-9", "user:owner")
    wait_login(broker, "scale-9", first["password"], False)
    assert login_works(broker, "scale-9", second["password"])


@pytest.mark.parametrize("bad", ["hub", "devices", "a/b", "a:b", "", "+", 7])
def test_bad_or_reserved_device_ids_are_refused(creds: DeviceCredentials, bad: Any) -> None:
    with pytest.raises((ValidationError, Conflict)):
        creds.issue(bad, "user:owner")


def test_missing_password_file_says_what_to_do(tmp_path: Path, creds: DeviceCredentials) -> None:
    creds.file.path = tmp_path / "nope"
    with pytest.raises(Conflict, match="install.sh"):
        creds.issue("scale-1", "user:owner")


def test_hashes_match_mosquitto_passwd(tmp_path: Path) -> None:
    """Our reader accepts what the real mosquitto_passwd writes, and mosquitto accepts ours (above)."""
    path = tmp_path / "pw"
    path.touch(mode=0o600)
    subprocess.run(["mosquitto_passwd", "-b", str(path), "u1", "s3cret"], check=True, timeout=10)
    stored = parse_passwd(path.read_text())["u1"]
    assert check_password(stored, "s3cret") and not check_password(stored, "s3cre")


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=1, max_size=40), st.binary(min_size=12, max_size=12))
def test_hash_round_trip(password: str, salt: bytes) -> None:
    stored = hash_password(password, salt)
    assert stored.startswith("$7$101$") and check_password(stored, password)
    assert not check_password(stored, password + "x")


@given(st.dictionaries(st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True),
                       st.from_regex(r"\$7\$101\$[A-Za-z0-9+/=]{16}\$[A-Za-z0-9+/=]{88}", fullmatch=True)))
def test_password_file_round_trip(users: dict[str, str]) -> None:
    assert parse_passwd(render_passwd(users)) == users


def test_cli_adds_and_revokes_a_device(tmp_path: Path, broker: Broker, capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli import main

    hub_config(tmp_path / "cli", broker, mqtt={"password_file": str(broker.passwd),
                                               "broker_pid_file": str(broker.pid_file)})
    config = str(tmp_path / "cli" / "backroom.toml")
    assert main(["devices", "add", "scale-5", "--config", config, "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["username"] == "scale-5"
    wait_login(broker, "scale-5", answer["password"], True)
    assert main(["devices", "add", "scale-6", "--config", config]) == 0
    assert "the password is shown only now" in capsys.readouterr().out
    assert main(["devices", "revoke", "scale-5", "--config", config]) == 0
    wait_login(broker, "scale-5", answer["password"], False)
    assert main(["devices", "revoke", "scale-5", "--config", config]) == 2
    assert "no MQTT credentials" in capsys.readouterr().err


def test_an_emptied_password_file_is_restored_at_start(tmp_path: Path, broker: Broker,
                                                       creds: DeviceCredentials) -> None:
    """A power cut while the file was rewritten in place leaves it empty: the copy in the data dir refills it."""
    assert creds.restore() is False  # a sound file: its copy is taken
    a = creds.issue("scale-r", "user:owner")
    copy = tmp_path / "hub" / "mosquitto.passwd"
    assert {"hub", "devices", "scale-r"} <= set(parse_passwd(copy.read_text()))
    assert copy.stat().st_mode & 0o777 == 0o600
    broker.passwd.write_text("")
    again = DeviceCredentials(creds.db, HUB_ID, creds_mqtt(broker))
    assert again.restore() is True
    assert {"hub", "devices", "scale-r"} <= set(parse_passwd(broker.passwd.read_text()))
    wait_login(broker, "scale-r", a["password"], True)
    assert login_works(broker, "hub", USERS["hub"])


def test_a_torn_password_file_is_restored_before_a_change(tmp_path: Path, broker: Broker,
                                                          creds: DeviceCredentials) -> None:
    creds.restore()
    broker.passwd.write_text("hub:$7$101$abc\n\0\0\0")
    creds.issue("scale-t", "user:owner")
    assert {"hub", "devices", "scale-t"} <= set(parse_passwd(broker.passwd.read_text()))
    wait_login(broker, "devices", USERS["devices"], True)


def creds_mqtt(broker: Broker) -> dict[str, Any]:
    return {"password_file": str(broker.passwd), "broker_pid_file": str(broker.pid_file), "username": "hub",
            "device_username": "devices", "lan_host": "hub.local", "lan_port": 1883, "tls_port": 0}


def test_a_file_that_lost_the_hubs_own_user_gets_it_back(broker: Broker, creds: DeviceCredentials) -> None:
    """A write cut at a line boundary parses, but the hub's user is gone: it comes back, the rest stays."""
    creds.restore()
    users = parse_passwd(broker.passwd.read_text())
    broker.passwd.write_text(render_passwd({"devices": users["devices"], "late": hash_password("x")}))
    assert creds.restore() is True
    assert set(parse_passwd(broker.passwd.read_text())) == {"devices", "late", "hub"}
    wait_login(broker, "hub", USERS["hub"], True)


def test_no_password_file_on_this_host_is_not_an_error(tmp_path: Path, creds: DeviceCredentials) -> None:
    creds.file.path = tmp_path / "nope"
    assert creds.restore() is False


def test_the_hub_refills_an_emptied_password_file_when_it_starts(tmp_path: Path, broker: Broker) -> None:
    from hub.service import HubService
    from tests.helpers import wait_until

    config = hub_config(tmp_path / "hub", broker, mqtt={"password_file": str(broker.passwd),
                                                        "broker_pid_file": str(broker.pid_file)})
    first = HubService(config)
    first.start()  # takes the copy of a sound file
    first.stop()
    broker.passwd.write_text("")  # the power cut
    broker.reload()
    wait_login(broker, "hub", USERS["hub"], False)
    again = HubService(config)
    try:
        again.start()
        assert {"hub", "devices"} <= set(parse_passwd(broker.passwd.read_text()))
        wait_until(lambda: again.registry.connected, timeout=30)
    finally:
        again.stop()
