"""Label printers in the real devices agent, through a real mosquitto, against the simulators."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devices import agent, bus
from devices.agent import AgentSettings, SettingsError
from devices.label.decoder import Barcode
from devices.label.simulator import LabelPrinterSimulator
from hub.domain import labels
from tests.conftest import USERS
from tests.devices.conftest import WAIT_S, BusProbe

HUB = "test-hub"
LABEL = labels.Label("Rye bread", "£2.40", "", "5012345678900", "ean13", ("SKU RYE",))

RunAgent = Callable[..., None]


@pytest.fixture
def run_agent(mosquitto_broker: tuple[str, int]) -> Iterator[RunAgent]:
    running: list[tuple[threading.Event, threading.Thread]] = []

    def start(**extra: Any) -> None:
        host, port = mosquitto_broker
        settings = {
            "hub_id": HUB,
            "mqtt_host": host,
            "mqtt_port": port,
            "mqtt_username": "devices",
            "mqtt_password": USERS["devices"],
            "scanners": False,
            "scale_autodetect": False,
            **extra,
        }
        stop = threading.Event()
        thread = threading.Thread(target=agent.main, args=(settings, stop))
        thread.start()
        running.append((stop, thread))

    yield start
    for stop, thread in running:
        stop.set()
        thread.join()


@pytest.fixture
def zebra() -> Iterator[LabelPrinterSimulator]:
    with LabelPrinterSimulator("zpl") as sim:
        yield sim


def print_label(
    probe: BusProbe, dev: str, job_id: str, data: bytes, language: str = "zpl"
) -> bus.JobResult:
    since = probe.mark()
    body = {
        "job_id": job_id,
        "language": language,
        "data": base64.b64encode(data).decode(),
        "copies": 1,
    }
    probe.publish(bus.cmd_topic(HUB, dev, "print_label"), json.dumps(body))
    msg = probe.wait_for(
        bus.result_topic(HUB, dev, "print_label"),
        lambda p: bus.JobResult.from_payload(p).job_id == job_id,
        since=since,
    )
    return bus.JobResult.from_payload(msg.payload)


def status_of(
    probe: BusProbe, dev: str, check: Callable[[bus.PrinterStatus], bool], since: int = 0
) -> bus.PrinterStatus:
    msg = probe.wait_for(
        bus.event_topic(HUB, dev, "status"),
        lambda p: check(bus.PrinterStatus.from_payload(p)),
        since=since,
    )
    return bus.PrinterStatus.from_payload(msg.payload)


def test_settings_name_label_printers_and_check_them() -> None:
    s = AgentSettings.from_mapping(
        {
            "hub_id": "h",
            "label_printers": [
                {"host": "192.0.2.20", "language": "tspl", "width_mm": 40, "height_mm": 25},
                {"path": "/dev/usb/lp0", "profile": "brother-ql-800", "id": "ql"},
            ],
        }
    )
    tspl, ql = s.label_printers
    assert (tspl.id, tspl.language, tspl.media.size) == ("label-192.0.2.20-9100", "tspl", "40x25mm")
    assert (ql.id, ql.language, ql.media.model, ql.media.label, ql.media.dpi) == (
        "ql",
        "brother_ql",
        "QL-800",
        "62",
        300,
    )
    with pytest.raises(SettingsError, match="brother_ql printer needs model and label"):
        AgentSettings.from_mapping(
            {"hub_id": "h", "label_printers": [{"host": "a", "language": "brother_ql"}]}
        )
    with pytest.raises(SettingsError, match="language 'pcl'"):
        AgentSettings.from_mapping(
            {"hub_id": "h", "label_printers": [{"host": "a", "language": "pcl"}]}
        )
    with pytest.raises(SettingsError, match="receipt_printer; use a label printer profile"):
        AgentSettings.from_mapping(
            {"hub_id": "h", "label_printers": [{"host": "a", "profile": "epson-tm-t20iii"}]}
        )


def test_a_label_job_prints_and_the_status_follows_faults(
    bus_probe: BusProbe, run_agent: RunAgent, zebra: LabelPrinterSimulator
) -> None:
    run_agent(
        label_printers=[
            {
                "host": "127.0.0.1",
                "port": zebra.port,
                "id": "zebra",
                "width_mm": 50,
                "height_mm": 30,
            }
        ]
    )
    config = bus.DeviceConfig.from_payload(
        bus_probe.wait_for(bus.config_topic(HUB, "zebra")).payload
    )
    assert config.kind == "label_printer"
    assert {"print_label", "test_page", "language:zpl", "size:50x30", "dpi:203"} <= set(
        config.capabilities
    )
    bus_probe.wait_for(bus.availability_topic(HUB, "zebra"), b"online")
    status_of(bus_probe, "zebra", lambda s: s == bus.PrinterStatus(True))

    assert print_label(bus_probe, "zebra", "l1", labels.render(LABEL, "zpl")) == bus.JobResult(
        "l1", True, ""
    )
    assert zebra.wait_printed(1, WAIT_S)
    assert zebra.labels[0].texts == ["Rye bread", "£2.40", "SKU RYE"]
    assert zebra.labels[0].barcodes == [Barcode("ean13", "5012345678900")]

    zebra.paper_out = True
    since = bus_probe.mark()
    failed = print_label(bus_probe, "zebra", "l2", labels.render(LABEL, "zpl"))
    assert not failed.ok and "out of paper (labels)" in failed.error
    assert status_of(bus_probe, "zebra", lambda s: s.paper_out, since).online
    assert len(zebra.labels) == 1


def test_test_page_over_the_bus(
    bus_probe: BusProbe, run_agent: RunAgent, zebra: LabelPrinterSimulator
) -> None:
    run_agent(label_printers=[{"host": "127.0.0.1", "port": zebra.port, "id": "zebra"}])
    bus_probe.wait_for(bus.availability_topic(HUB, "zebra"), b"online")
    bus_probe.publish(bus.cmd_topic(HUB, "zebra", "test_page"), json.dumps({"job_id": "t1"}))
    msg = bus_probe.wait_for(bus.result_topic(HUB, "zebra", "test_page"))
    assert bus.JobResult.from_payload(msg.payload) == bus.JobResult("t1", True, "")
    assert zebra.wait_printed(1, WAIT_S)
    assert zebra.labels[0].texts[1:3] == ["zebra", "zpl 50x30mm"]


def test_label_printers_the_hub_lists_are_hosted_and_dropped(
    bus_probe: BusProbe, run_agent: RunAgent
) -> None:
    with LabelPrinterSimulator("tspl") as tsc:
        printers = {
            "printers": [
                {
                    "id": "tsc-1",
                    "host": "127.0.0.1",
                    "port": tsc.port,
                    "kind": "label_printer",
                    "language": "tspl",
                    "name": "Back counter",
                },
                {
                    "id": "till",
                    "host": "127.0.0.1",
                    "port": 9,
                    "kind": "receipt_printer",
                    "language": "escpos",
                    "name": "Till",
                },
            ]
        }
        bus_probe.publish(bus.hub_printers_topic(HUB), json.dumps(printers), retain=True)
        try:
            run_agent()
            bus_probe.wait_for(bus.availability_topic(HUB, "tsc-1"), b"online")
            assert print_label(bus_probe, "tsc-1", "k1", labels.render(LABEL, "tspl"), "tspl").ok
            assert tsc.wait_printed(1, WAIT_S)
            assert tsc.labels[0].texts[0] == "Rye bread"
            with LabelPrinterSimulator("tspl") as moved:  # the owner changed its address on the hub
                printers["printers"][0]["port"] = moved.port
                since = bus_probe.mark()
                bus_probe.publish(bus.hub_printers_topic(HUB), json.dumps(printers), retain=True)
                bus_probe.wait_for(bus.availability_topic(HUB, "tsc-1"), b"offline", since=since)
                bus_probe.wait_for(bus.availability_topic(HUB, "tsc-1"), b"online", since=since)
                assert print_label(
                    bus_probe, "tsc-1", "k2", labels.render(LABEL, "tspl"), "tspl"
                ).ok
                assert moved.wait_printed(1, WAIT_S) and len(tsc.labels) == 1
            since = bus_probe.mark()
            bus_probe.publish(
                bus.hub_printers_topic(HUB), json.dumps({"printers": []}), retain=True
            )
            bus_probe.wait_for(bus.availability_topic(HUB, "tsc-1"), b"offline", since=since)
        finally:
            bus_probe.publish(bus.hub_printers_topic(HUB), b"", retain=True)
