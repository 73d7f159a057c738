"""The agent's receipt printers on a real mosquitto: status events, drawer and test page
commands, retries that print once, and printers the hub adds and removes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devices import agent, bus
from devices.printer import host
from devices.printer.pty_simulator import PtyPrinterSimulator
from devices.printer.simulator import NetworkPrinterSimulator
from tests.devices.conftest import WAIT_S, BusProbe, wait_until
from tests.devices.test_agent import HUB, RunAgent, is_online, job, result_of, run_agent

__all__ = ["run_agent"]  # the fixture, imported for these tests

RECEIPT = {
    "header": ["Test Shop"],
    "lines": [{"text": "Apples", "amount": "1.20"}],
    "totals": [{"text": "TOTAL", "amount": "1.20"}],
    "footer": ["Thank you"],
}


@pytest.fixture(autouse=True)
def fast_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "CHECK_INTERVAL_S", 0.05)
    monkeypatch.setattr(agent, "SUPERVISE_INTERVAL_S", 0.05)


@pytest.fixture
def printer_sim(tmp_path: Path) -> Iterator[NetworkPrinterSimulator]:
    with NetworkPrinterSimulator(tmp_path / "receipts") as sim:
        yield sim


def status_is(**fields: Any) -> Any:
    def match(payload: bytes) -> bool:
        got = bus.PrinterStatus.from_payload(payload)
        return all(getattr(got, k) == v for k, v in fields.items())

    return match


def start_network_printer(
    run_agent: RunAgent, sim: NetworkPrinterSimulator, probe: BusProbe
) -> None:
    run_agent(
        simulate_scanner=False,
        printers=[{"host": "127.0.0.1", "port": sim.port, "id": "till-printer", "name": "Till"}],
    )
    probe.wait_for(bus.availability_topic(HUB, "till-printer"), is_online)


def test_status_is_published_when_it_changes(
    bus_probe: BusProbe, run_agent: RunAgent, printer_sim: NetworkPrinterSimulator
) -> None:
    start_network_printer(run_agent, printer_sim, bus_probe)
    config = bus.DeviceConfig.from_payload(
        bus_probe.wait_for(bus.config_topic(HUB, "till-printer")).payload
    )
    assert config.name == "Till" and config.connection == f"tcp 127.0.0.1:{printer_sim.port}"
    assert {"print", "drawer", "test_page", "status"} <= set(config.capabilities)
    topic = bus.event_topic(HUB, "till-printer", "status")
    bus_probe.wait_for(topic, status_is(online=True, paper_low=False))
    since = bus_probe.mark()
    printer_sim.paper_low = True
    bus_probe.wait_for(topic, status_is(online=True, paper_low=True), since=since)
    printer_sim.cover_open = True
    bus_probe.wait_for(topic, status_is(online=False, cover_open=True), since=since)
    bus_probe.wait_for(bus.availability_topic(HUB, "till-printer"), b"offline", since=since)
    printer_sim.cover_open = False
    bus_probe.wait_for(bus.availability_topic(HUB, "till-printer"), is_online, since=since)
    printer_sim.offline = True
    bus_probe.wait_for(
        topic,
        status_is(online=False, error=f"cannot be reached (tcp 127.0.0.1:{printer_sim.port})"),
        since=since,
    )


def test_drawer_and_test_page_commands(
    bus_probe: BusProbe, run_agent: RunAgent, printer_sim: NetworkPrinterSimulator
) -> None:
    start_network_printer(run_agent, printer_sim, bus_probe)
    bus_probe.publish(bus.cmd_topic(HUB, "till-printer", "drawer"), job("d1", pin=2))
    assert result_of(bus_probe, "till-printer", "drawer", "d1").ok
    wait_until(lambda: printer_sim.drawer_kicks == 1)
    bus_probe.publish(bus.cmd_topic(HUB, "till-printer", "drawer"), job("d2", pin=7))
    assert "send pin 2 or 5" in result_of(bus_probe, "till-printer", "drawer", "d2").error
    bus_probe.publish(bus.cmd_topic(HUB, "till-printer", "test_page"), job("t1"))
    assert result_of(bus_probe, "till-printer", "test_page", "t1").ok
    [page] = printer_sim.wait_for(1, timeout=WAIT_S)
    assert "TEST PAGE" in page.text and "till-printer" in page.text
    assert printer_sim.drawer_kicks == 1 and not page.drawer_kicked


def test_a_retry_after_paper_out_prints_and_a_resend_of_a_printed_job_does_not(
    bus_probe: BusProbe, run_agent: RunAgent, printer_sim: NetworkPrinterSimulator
) -> None:
    start_network_printer(run_agent, printer_sim, bus_probe)
    printer_sim.paper_out = True
    cmd = bus.cmd_topic(HUB, "till-printer", "print")
    bus_probe.publish(cmd, job("sale-1", open_drawer=True, **RECEIPT))
    assert "out of paper" in result_of(bus_probe, "till-printer", "print", "sale-1").error
    printer_sim.paper_out = False
    retry = bus.attempt_id("sale-1", 2)
    bus_probe.publish(cmd, job(retry, open_drawer=True, **RECEIPT))
    assert result_of(bus_probe, "till-printer", "print", retry).ok
    assert len(printer_sim.wait_for(1, timeout=WAIT_S)) == 1
    # the hub never heard of attempt 2's result and sends attempt 3; the broker redelivers 2
    third = bus.attempt_id("sale-1", 3)
    bus_probe.publish(cmd, job(third, open_drawer=True, **RECEIPT))
    bus_probe.publish(cmd, job(retry, open_drawer=True, **RECEIPT))
    assert result_of(bus_probe, "till-printer", "print", third).ok
    bus_probe.publish(cmd, job("sale-2", **RECEIPT))
    assert result_of(bus_probe, "till-printer", "print", "sale-2").ok
    assert len(printer_sim.wait_for(2, timeout=WAIT_S)) == 2
    assert printer_sim.drawer_kicks == 1, "the drawer opened once for sale-1"


def test_printers_the_hub_lists_are_hosted_and_removed(
    bus_probe: BusProbe, run_agent: RunAgent, printer_sim: NetworkPrinterSimulator
) -> None:
    listed = bus.hub_printers_topic(HUB)

    def hub_list(*printers: dict[str, Any]) -> bytes:
        return json.dumps({"printers": list(printers)}).encode()

    receipt = {"id": "netprinter-1", "host": "127.0.0.1", "port": printer_sim.port, "kind": "receipt_printer",
               "language": "escpos", "name": "Front till"}  # fmt: skip
    label = {"id": "netprinter-2", "host": "127.0.0.1", "port": 1, "kind": "label_printer", "language": "zpl",
             "name": "Labels"}  # fmt: skip
    dev = "netprinter-1"
    bus_probe.publish(listed, hub_list(receipt, label), retain=True)
    try:
        run_agent(simulate_scanner=False)
        config = bus_probe.wait_for(bus.config_topic(HUB, dev)).payload
        assert bus.DeviceConfig.from_payload(config).name == "Front till"
        bus_probe.wait_for(bus.availability_topic(HUB, dev), is_online)
        bus_probe.publish(bus.cmd_topic(HUB, dev, "print"), job("h1", **RECEIPT))
        assert result_of(bus_probe, dev, "print", "h1").ok
        since = bus_probe.mark()
        bus_probe.publish(listed, hub_list(label), retain=True)
        bus_probe.wait_for(bus.config_topic(HUB, dev), b"", since=since)
        bus_probe.wait_for(bus.availability_topic(HUB, dev), b"", since=since)
        label_configs = [
            bus.DeviceConfig.from_payload(m.payload).kind
            for m in list(bus_probe.messages)
            if m.topic == bus.config_topic(HUB, "netprinter-2") and m.payload
        ]
        assert "receipt_printer" not in label_configs, "a label printer is not a receipt printer"
    finally:
        bus_probe.publish(listed, b"", retain=True)


def test_a_serial_printer_from_the_settings(
    bus_probe: BusProbe, run_agent: RunAgent, tmp_path: Path
) -> None:
    sim = PtyPrinterSimulator(tmp_path / "paper", tmp_path / "ttyPRINTER")
    path = sim.start()
    try:
        run_agent(simulate_scanner=False, printers=[{"serial": path, "baudrate": 9600}])
        dev = "printer-ttyPRINTER"
        bus_probe.wait_for(bus.availability_topic(HUB, dev), is_online)
        bus_probe.publish(bus.cmd_topic(HUB, dev, "print"), job("s1", **RECEIPT))
        assert result_of(bus_probe, dev, "print", "s1").ok
        assert "Apples" in sim.wait_for(1, timeout=WAIT_S)[0].text
        since = bus_probe.mark()
        sim.stop()  # the cable is pulled
        bus_probe.wait_for(bus.availability_topic(HUB, dev), b"offline", since=since)
    finally:
        sim.stop()


def test_settings_name_each_printer_after_its_connection() -> None:
    s = agent.AgentSettings.from_mapping(
        {
            "hub_id": HUB,
            "printers": [
                {"host": "192.0.2.10"},
                {
                    "serial": "/dev/serial/by-id/usb-Prolific-port0",
                    "baudrate": 9600,
                    "rtscts": True,
                },
                {"device": "/dev/usb/lp0", "profile": "generic-escpos-58mm"},
                {"usb": "04b8:0e28", "serial_number": "X5E1234", "name": "Back till"},
            ],
        }
    )
    assert [(p.id, p.transport.description) for p in s.printers] == [
        ("printer-192.0.2.10-9100", "tcp 192.0.2.10:9100"),
        (
            "printer-usb-Prolific-port0",
            "serial /dev/serial/by-id/usb-Prolific-port0 9600 8N1 rts/cts",
        ),
        ("printer-lp0", "usb /dev/usb/lp0"),
        ("printer-usb-04b8-0e28-X5E1234", "usb 04b8:0e28 X5E1234"),
    ]
    narrow = s.printers[2]
    assert narrow.width == 32 and narrow.model, "the profile gives the columns and the model"
    assert s.printers[3].name == "Back till"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"host": "a", "device": "/dev/usb/lp0"}, "exactly one of host"),
        ({"port": 9100}, "exactly one of host"),
        ({"usb": "epson"}, "not a USB id"),
        ({"device": "/dev/usb/lp0", "profile": "no-such-printer"}, "known profiles: "),
        ({"device": "/dev/usb/lp0", "profile": "zebra-zd421"}, "not a receipt printer"),
    ],
)
def test_printer_settings_errors_say_what_to_write(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(agent.SettingsError, match=message):
        agent.AgentSettings.from_mapping({"hub_id": HUB, "printers": [entry]})
