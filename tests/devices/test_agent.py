"""The devices agent against a real mosquitto: announcements, last wills, scans, weights, commands."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices import agent, bus, link
from devices.agent import AgentSettings, SettingsError
from devices.scale import serial_scale
from devices.scale.simulator import ScaleSimulator
from tests.conftest import USERS
from tests.devices.conftest import WAIT_S, BusProbe, wait_until

HUB = "test-hub"
SIM = agent.SIM_SCANNER_ID
ROOT = Path(__file__).resolve().parents[2]

RunAgent = Callable[..., None]


def settings(broker: tuple[str, int], **extra: Any) -> dict[str, Any]:
    host, port = broker
    return {
        "hub_id": HUB,
        "mqtt_host": host,
        "mqtt_port": port,
        "mqtt_username": "devices",
        "mqtt_password": USERS["devices"],
        "scanners": False,
        "simulate_scanner": True,
        **extra,
    }


@pytest.fixture
def run_agent(mosquitto_broker: tuple[str, int]) -> Iterator[RunAgent]:
    """Start devices.agent.main in a thread; it is stopped (and joined) after the test."""
    running: list[tuple[threading.Event, threading.Thread]] = []

    def start(**extra: Any) -> None:
        stop = threading.Event()
        thread = threading.Thread(
            target=agent.main, args=(settings(mosquitto_broker, **extra), stop)
        )
        thread.start()
        running.append((stop, thread))

    yield start
    for stop, thread in running:
        stop.set()
        thread.join()


def is_online(payload: bytes) -> bool:
    return payload == b"online"


def job(job_id: str, **fields: Any) -> bytes:
    return json.dumps({"job_id": job_id, **fields}).encode()


def result_of(
    probe: BusProbe, dev: str, command: str, job_id: str, since: int = 0
) -> bus.JobResult:
    msg = probe.wait_for(
        bus.result_topic(HUB, dev, command),
        lambda p: bus.JobResult.from_payload(p).job_id == job_id,
        since=since,
    )
    return bus.JobResult.from_payload(msg.payload)


def results_of(probe: BusProbe, dev: str, command: str, job_id: str, count: int) -> list[bytes]:
    """The payloads of the first count results of job_id, once that many have come."""
    topic = bus.result_topic(HUB, dev, command)

    def results() -> list[bytes]:
        got = [
            m.payload
            for m in list(probe.messages)
            if m.topic == topic and bus.JobResult.from_payload(m.payload).job_id == job_id
        ]
        return got[:count] if len(got) >= count else []

    return wait_until(results, f"{count} results of {command} job {job_id}")


# -- settings ------------------------------------------------------------------------------------


def test_settings_from_the_cli_mapping() -> None:
    s = AgentSettings.from_mapping(
        {
            "hub_id": "shop-1",
            "mqtt_host": "10.0.0.2",
            "mqtt_port": 1884,
            "mqtt_username": "devices",
            "mqtt_password": "pw",
            "scanners": True,
            "simulate_scanner": False,
            "scales": [
                {"port": "/dev/ttyUSB0"},
                {"port": "/dev/ttyUSB1", "id": "deli", "protocol": "mettler8217"},
            ],
            "printers": [
                {"host": "192.0.2.10"},
                {"host": "192.0.2.11", "port": 9101, "id": "kitchen"},
            ],
        }
    )
    assert (s.mqtt.host, s.mqtt.port, s.mqtt.username, s.mqtt.password) == (
        "10.0.0.2",
        1884,
        "devices",
        "pw",
    )
    assert s.scales == (
        ("scale-ttyUSB0", "/dev/ttyUSB0", "mettler8217"),
        ("deli", "/dev/ttyUSB1", "mettler8217"),
    )
    assert [(p.id, p.transport.description) for p in s.printers] == [
        ("printer-192.0.2.10-9100", "tcp 192.0.2.10:9100"),
        ("kitchen", "tcp 192.0.2.11:9101"),
    ]


BY_ID = "/dev/serial/by-id/usb-FTDI_FT232R_A50285BI-if00-port0"


def test_default_ids_stay_when_the_config_is_reordered() -> None:
    scales = [{"port": BY_ID}, {"port": "/dev/ttyUSB1"}]
    printers = [{"host": "192.0.2.10"}, {"host": "till.local", "port": 9101}]
    ahead = AgentSettings.from_mapping({"hub_id": "h", "scales": scales, "printers": printers})
    assert ahead.scales == (
        ("scale-usb-FTDI_FT232R_A50285BI-if00-port0", BY_ID, "mettler8217"),
        ("scale-ttyUSB1", "/dev/ttyUSB1", "mettler8217"),
    )
    assert [(p.id, p.transport.description) for p in ahead.printers] == [
        ("printer-192.0.2.10-9100", "tcp 192.0.2.10:9100"),
        ("printer-till.local-9101", "tcp till.local:9101"),
    ]
    reordered = AgentSettings.from_mapping(
        {"hub_id": "h", "scales": scales[::-1], "printers": printers[::-1]}
    )
    assert reordered.scales == ahead.scales[::-1]
    assert reordered.printers == ahead.printers[::-1]


@given(st.text(min_size=1), st.text(min_size=1), st.integers(1, 65535))
def test_default_ids_are_valid_bus_ids(port: str, host: str, tcp_port: int) -> None:
    s = AgentSettings.from_mapping(
        {"hub_id": "h", "scales": [{"port": port}], "printers": [{"host": host, "port": tcp_port}]}
    )
    for dev_id in (s.scales[0][0], s.printers[0].id):
        assert bus.check_id(dev_id) == dev_id


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"hub_id": "a/b"}, "hub_id 'a/b' is not valid"),
        (
            {"hub_id": "h", "scales": [{"port": "/dev/x", "protocol": "dibal"}]},
            "supported: mettler8217",
        ),
        ({"hub_id": "h", "scales": [{"protocol": "mettler8217"}]}, "scales\\[0\\] has no port"),
        ({"hub_id": "h", "printers": ["192.0.2.1"]}, "not usable"),
        ({"hub_id": "h", "mqtt": {"host": "x"}}, "unknown devices agent settings"),
        (
            {"hub_id": "h", "scales": [{"port": "/dev/ttyUSB0"}, {"port": "/dev/usb/ttyUSB0"}]},
            "scales\\[0\\] and scales\\[1\\] would both be device 'scale-ttyUSB0'",
        ),
        (
            {
                "hub_id": "h",
                "scales": [{"port": "/dev/x", "id": "p"}],
                "printers": [{"host": "a", "id": "p"}],
            },
            "scales\\[0\\] and printers\\[0\\] would both be device 'p'",
        ),
        (
            {"hub_id": "h", "simulate_scanner": True, "printers": [{"host": "a", "id": SIM}]},
            "simulate_scanner and printers\\[0\\] would both be",
        ),
    ],
)
def test_settings_errors_say_what_is_wrong(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        AgentSettings.from_mapping(raw)


# -- the bus -------------------------------------------------------------------------------------


def test_device_announces_retained_config_and_online(
    mosquitto_broker: tuple[str, int],
    bus_probe: BusProbe,
    run_agent: RunAgent,
) -> None:
    run_agent()
    bus_probe.wait_for(bus.availability_topic(HUB, SIM), is_online)
    late = BusProbe(*mosquitto_broker)  # subscribes now: sees only what the broker retained
    try:
        config = late.wait_for(bus.config_topic(HUB, SIM))
        assert config.retain
        announced = bus.DeviceConfig.from_payload(config.payload)
        assert announced.kind == "scanner" and "simulate" in announced.capabilities
        assert late.wait_for(bus.availability_topic(HUB, SIM), is_online).retain
    finally:
        late.close()


def test_simulated_scan_is_published_as_a_scan_event(
    bus_probe: BusProbe, run_agent: RunAgent
) -> None:
    run_agent(scanners=True)  # also looks for USB scanners; this machine may have none
    bus_probe.wait_for(bus.availability_topic(HUB, SIM), is_online)
    bus_probe.publish(
        bus.cmd_topic(HUB, SIM, "simulate"), job("j1", data="]C1010950110102091710AB\x1d2112")
    )
    assert result_of(bus_probe, SIM, "simulate", "j1") == bus.JobResult("j1", True, "")
    scan = bus.Scan.from_payload(bus_probe.wait_for(bus.event_topic(HUB, SIM, "scan")).payload)
    assert (scan.data, scan.aim, scan.symbology) == (
        "010950110102091710AB\x1d2112",
        "]C1",
        "gs1-128",
    )
    assert len(scan.id) == 32 and int(scan.id, 16) >= 0


def test_bad_commands_are_answered_with_a_reason(bus_probe: BusProbe, run_agent: RunAgent) -> None:
    run_agent()
    bus_probe.wait_for(bus.availability_topic(HUB, SIM), is_online)
    bus_probe.publish(bus.cmd_topic(HUB, SIM, "simulate"), job("j2", data="café"))
    assert "cannot be typed" in result_of(bus_probe, SIM, "simulate", "j2").error
    bus_probe.publish(bus.cmd_topic(HUB, SIM, "simulate"), job("j3"))
    assert "non-empty string 'data'" in result_of(bus_probe, SIM, "simulate", "j3").error
    bus_probe.publish(bus.cmd_topic(HUB, SIM, "print"), job("j4"))
    assert "has no command 'print'" in result_of(bus_probe, SIM, "print", "j4").error
    bus_probe.publish(bus.cmd_topic(HUB, SIM, "simulate"), b"not json")
    assert not result_of(bus_probe, SIM, "simulate", "").ok


@pytest.mark.parametrize("birth", [b'{"state": "online", "at": "2024-05-01T10:00:00Z"}', b"online"])
def test_device_reannounces_when_the_hub_comes_online(
    bus_probe: BusProbe,
    run_agent: RunAgent,
    birth: bytes,
) -> None:
    run_agent()
    bus_probe.wait_for(bus.availability_topic(HUB, SIM), is_online)
    bus_probe.publish(bus.config_topic(HUB, SIM), b"", retain=True)  # the hub forgot the device
    since = bus_probe.mark()
    bus_probe.publish(bus.hub_status_topic(HUB), birth, retain=True)
    config = bus_probe.wait_for(bus.config_topic(HUB, SIM), lambda p: p != b"", since=since)
    assert bus.DeviceConfig.from_payload(config.payload).kind == "scanner"


@pytest.mark.parametrize(
    ("payload", "online"),
    [
        (b'{"state": "online", "at": "2024-05-01T10:00:00Z"}', True),
        (b"online", True),
        (b" online\n", True),
        (b'{"state": "offline"}', False),
        (b"offline", False),
        (b'["online"]', False),
        (b"\xff", False),
        (b"", False),
    ],
)
def test_only_a_hub_birth_message_counts(payload: bytes, online: bool) -> None:
    assert link.hub_is_online(payload) is online


@pytest.fixture
def drawer(
    mosquitto_broker: tuple[str, int],
) -> Iterator[tuple[link.DeviceLink, list[bytes], threading.Event]]:
    """A DeviceLink whose one command, open, counts its runs and waits while the gate is shut."""
    host, port = mosquitto_broker
    workers, closing, gate = ThreadPoolExecutor(max_workers=2), threading.Event(), threading.Event()
    runs: list[bytes] = []

    def open_drawer(payload: bytes) -> None:
        runs.append(payload)
        gate.wait(WAIT_S)

    device = link.DeviceLink(
        HUB,
        "drawer-1",
        bus.DeviceConfig("drawer", "Test drawer", capabilities=["open"]),
        link.MqttSettings(host, port, "devices", USERS["devices"]),
        workers,
        closing,
    )
    device.commands["open"] = open_drawer
    device.set_available(True)
    device.start()
    yield device, runs, gate
    gate.set()
    closing.set()
    workers.shutdown(wait=True)
    device.stop()


def test_a_command_delivered_again_is_answered_not_run_again(
    bus_probe: BusProbe,
    drawer: tuple[link.DeviceLink, list[bytes], threading.Event],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=link.__name__)
    _, runs, gate = drawer
    bus_probe.wait_for(bus.availability_topic(HUB, "drawer-1"), is_online)
    topic = bus.cmd_topic(HUB, "drawer-1", "open")
    bus_probe.publish(topic, job("d1"))
    wait_until(lambda: runs, "the drawer to open")
    bus_probe.publish(topic, job("d1"))  # QoS 1 may deliver it again while it still runs
    wait_until(lambda: "came again" in caplog.text, "the repeat to be taken")
    gate.set()
    ok = bus.dumps(bus.JobResult("d1", True))
    assert results_of(bus_probe, "drawer-1", "open", "d1", 2) == [ok, ok]
    bus_probe.publish(topic, job("d1"))  # and again once it is done
    assert results_of(bus_probe, "drawer-1", "open", "d1", 3) == [ok, ok, ok]
    assert runs == [job("d1")]


def test_a_job_id_is_taken_once_only(
    bus_probe: BusProbe,
    drawer: tuple[link.DeviceLink, list[bytes], threading.Event],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    device, runs, gate = drawer
    gate.set()
    device.commands["close"] = lambda _payload: None
    monkeypatch.setattr(link, "JOBS_REMEMBERED", 2)
    bus_probe.wait_for(bus.availability_topic(HUB, "drawer-1"), is_online)
    sent: dict[str, int] = {}
    for job_id in ("d1", "d2", "d3", "d3", "d1"):  # d1 is forgotten once d3 has come
        sent[job_id] = sent.get(job_id, 0) + 1
        bus_probe.publish(bus.cmd_topic(HUB, "drawer-1", "open"), job(job_id))
        results_of(bus_probe, "drawer-1", "open", job_id, sent[job_id])
    assert runs == [job("d1"), job("d2"), job("d3"), job("d1")]
    bus_probe.publish(bus.cmd_topic(HUB, "drawer-1", "close"), job("d3"))
    error = result_of(bus_probe, "drawer-1", "close", "d3").error
    assert "already used for open" in error and len(runs) == 4


def test_clean_stop_marks_every_device_offline(
    mosquitto_broker: tuple[str, int], bus_probe: BusProbe
) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=agent.main, args=(settings(mosquitto_broker), stop))
    thread.start()
    bus_probe.wait_for(bus.availability_topic(HUB, SIM), is_online)
    since = bus_probe.mark()
    stop.set()
    thread.join()
    assert bus_probe.wait_for(bus.availability_topic(HUB, SIM), since=since).payload == b"offline"


def test_killed_agent_is_marked_offline_by_its_last_will(
    mosquitto_broker: tuple[str, int],
    bus_probe: BusProbe,
) -> None:
    code = (
        "import json, sys, threading; from devices import agent; "
        "agent.main(json.loads(sys.argv[1]), threading.Event())"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(settings(mosquitto_broker))], cwd=ROOT
    )
    try:
        bus_probe.wait_for(bus.availability_topic(HUB, SIM), is_online)
        since = bus_probe.mark()
    finally:
        proc.kill()
        proc.wait(timeout=WAIT_S)
    assert bus_probe.wait_for(bus.availability_topic(HUB, SIM), since=since).payload == b"offline"


# -- scale ---------------------------------------------------------------------------------------


@pytest.fixture
def scale_sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScaleSimulator]:
    monkeypatch.setattr(serial_scale, "POLL_INTERVAL_S", 0.02)
    monkeypatch.setattr(serial_scale, "RETRY_INTERVAL_S", 0.05)
    monkeypatch.setattr(serial_scale, "REPLY_TIMEOUT_S", 0.2)
    sim = ScaleSimulator(link=tmp_path / "ttyUSB-scale")
    sim.start()
    yield sim
    sim.stop()


def test_scale_weights_commands_and_availability(
    bus_probe: BusProbe,
    run_agent: RunAgent,
    scale_sim: ScaleSimulator,
) -> None:
    run_agent(simulate_scanner=False, scales=[{"port": str(scale_sim.link), "id": "scale-1"}])
    availability, weight_topic = (
        bus.availability_topic(HUB, "scale-1"),
        bus.event_topic(HUB, "scale-1", "weight"),
    )
    bus_probe.wait_for(availability, is_online)
    config = bus.DeviceConfig.from_payload(
        bus_probe.wait_for(bus.config_topic(HUB, "scale-1")).payload
    )
    assert config.kind == "scale" and "tare" in config.capabilities

    def weighs(**fields: Any) -> Callable[[bytes], bool]:
        return lambda p: all(getattr(bus.Weight.from_payload(p), k) == v for k, v in fields.items())

    scale_sim.set_weight(250)
    bus_probe.wait_for(weight_topic, weighs(grams=250, stable=True))
    # weights go out on change only: a hub that comes (back) online gets the last one again
    since = bus_probe.mark()
    bus_probe.publish(bus.hub_status_topic(HUB), b'{"state": "online"}')
    bus_probe.wait_for(weight_topic, weighs(grams=250, stable=True), since=since)
    bus_probe.publish(bus.cmd_topic(HUB, "scale-1", "tare"), job("t1"))
    assert result_of(bus_probe, "scale-1", "tare", "t1").ok
    bus_probe.wait_for(weight_topic, weighs(grams=0, tare_g=250))
    scale_sim.motion = True
    bus_probe.wait_for(weight_topic, weighs(status="motion", stable=False))
    scale_sim.motion = False

    since = bus_probe.mark()
    scale_sim.stop()
    bus_probe.wait_for(availability, b"offline", since=since)
    bus_probe.publish(bus.cmd_topic(HUB, "scale-1", "zero"), job("z1"))
    assert "offline" in result_of(bus_probe, "scale-1", "zero", "z1").error
    scale_sim.start()
    bus_probe.wait_for(availability, is_online, since=since)


# -- receipt printer (written by another engineer; imported lazily by the agent) -----------------


RECEIPT = {
    "header": ["Test Shop"],
    "lines": [{"text": "Apples", "amount": "1.20"}],
    "totals": [{"text": "TOTAL", "amount": "1.20"}],
    "footer": ["Thank you"],
}


@pytest.fixture
def printer_sim(tmp_path: Path) -> Iterator[Any]:
    simulator_module = pytest.importorskip("devices.printer.simulator")
    printer = simulator_module.NetworkPrinterSimulator(tmp_path / "receipts")
    printer.start()
    yield printer
    printer.stop()


def test_receipt_printer_prints_and_answers(
    bus_probe: BusProbe, run_agent: RunAgent, printer_sim: Any
) -> None:
    run_agent(
        simulate_scanner=False,
        printers=[{"host": "127.0.0.1", "port": printer_sim.port, "id": "till-printer"}],
    )
    bus_probe.wait_for(bus.availability_topic(HUB, "till-printer"), is_online)
    bus_probe.publish(bus.cmd_topic(HUB, "till-printer", "print"), job("p1", **RECEIPT))
    assert result_of(bus_probe, "till-printer", "print", "p1") == bus.JobResult("p1", True, "")
    assert len(printer_sim.wait_for(1, timeout=WAIT_S)) == 1
    bus_probe.publish(bus.cmd_topic(HUB, "till-printer", "print"), job("p2", lines="oops"))
    assert "must be a list" in result_of(bus_probe, "till-printer", "print", "p2").error


def test_a_print_delivered_twice_prints_and_opens_the_drawer_once(
    bus_probe: BusProbe, run_agent: RunAgent, printer_sim: Any
) -> None:
    run_agent(
        simulate_scanner=False,
        printers=[{"host": "127.0.0.1", "port": printer_sim.port, "id": "till-printer"}],
    )
    bus_probe.wait_for(bus.availability_topic(HUB, "till-printer"), is_online)
    command = job("p3", open_drawer=True, **RECEIPT)
    for _ in range(2):  # QoS 1: after a reconnect the broker may deliver a command again
        bus_probe.publish(bus.cmd_topic(HUB, "till-printer", "print"), command)
    ok = bus.dumps(bus.JobResult("p3", True))
    assert results_of(bus_probe, "till-printer", "print", "p3", 2) == [ok, ok]
    [receipt] = printer_sim.receipts()
    assert receipt.drawer_kicked and "Apples" in receipt.text
