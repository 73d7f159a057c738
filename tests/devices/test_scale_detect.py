"""Scale autodetection: ptys behind links named like /dev/serial/by-id entries, a lister that
returns pyserial's own ListPortInfo records for them, and the agent's scale host on a real broker."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serial.tools.list_ports_common import ListPortInfo

from devices import bus, probe
from devices.agent import AgentSettings
from devices.hosting import Hosting
from devices.link import MqttSettings
from devices.scale import detect
from devices.scale.cas import CasSimulator
from devices.scale.host import ScaleHost, ScaleSpec
from devices.scale.nci_simulator import NCISimulator
from devices.scale.pty_simulator import PtyScale
from devices.scale.simulator import ScaleSimulator
from hub import config as cfg
from hub.cli import agent_settings, main
from tests.conftest import USERS
from tests.devices.conftest import BusProbe, wait_until

HUB = "detect-hub"
FTDI = "usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"
PROLIFIC = "usb-Prolific_Technology_Inc._USB-Serial_Controller_D-if00-port0"
CH340 = "usb-1a86_USB_Serial-if00-port0"
CH340_PATH = "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1.3:1.0-port0"


@pytest.fixture(autouse=True)
def fast_probe(monkeypatch: pytest.MonkeyPatch, fast_driver_timing: None) -> None:
    monkeypatch.setattr(probe, "READ_S", 0.2)


class Usb:
    """The USB serial ports plugged in: by-id and by-path folders and a comports() stand-in."""

    def __init__(self, root: Path) -> None:
        self.by_id, self.by_path = root / "by-id", root / "by-path"
        self.by_id.mkdir()
        self.by_path.mkdir()
        self.ports: dict[Path, tuple[int, int, str | None]] = {}  # link -> vid, pid, serial

    def plug(self, link: Path, vid: int, pid: int, serial_number: str | None) -> None:
        self.ports[link] = (vid, pid, serial_number)

    def comports(self) -> list[ListPortInfo]:
        """One record per plugged-in port whose link exists (a stopped simulator is unplugged)."""
        records = []
        for link, (vid, pid, serial_number) in self.ports.items():
            if link.exists():
                info = ListPortInfo(os.path.realpath(link), skip_link_detection=True)
                info.vid, info.pid, info.serial_number = vid, pid, serial_number
                records.append(info)
        return records

    @property
    def dirs(self) -> tuple[Path, Path]:
        return self.by_id, self.by_path


@pytest.fixture
def usb(tmp_path: Path) -> Usb:
    return Usb(tmp_path)


@pytest.fixture
def simulators() -> Iterator[list[PtyScale]]:
    """Simulators to stop after the test, whatever state it left them in."""
    started: list[PtyScale] = []
    yield started
    for sim in started:
        sim.stop()


def plugged(sims: list[PtyScale], sim: PtyScale, grams: int = 1234) -> PtyScale:
    sim.set_weight(grams)
    sim.start()
    sims.append(sim)
    return sim


@pytest.fixture
def probed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every port a protocol was tried on, in order (the real probe still runs)."""
    ports: list[str] = []
    real = probe.try_protocol

    def spy(port: str, *args: object) -> dict[str, object]:
        ports.append(port)
        return real(port, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(probe, "try_protocol", spy)
    return ports


@contextlib.contextmanager
def silent_port(usb: Usb, name: str) -> Iterator[Path]:
    """A pty with nothing behind it (an adapter with no scale on its other end)."""
    master, slave = os.openpty()
    link = usb.by_id / name
    link.symlink_to(os.ttyname(slave))
    yield link
    link.unlink(missing_ok=True)
    os.close(master)
    os.close(slave)


# -- listing ----------------------------------------------------------------------------------


def test_lists_known_adapters_with_ids_that_survive_a_replug(usb: Usb, tmp_path: Path) -> None:
    nodes = {n: tmp_path / n for n in ("ttyUSB0", "ttyUSB1", "ttyUSB2", "ttyACM0", "ttyUSB3")}
    for node in nodes.values():
        node.touch()
    (usb.by_id / FTDI).symlink_to(nodes["ttyUSB0"])
    (usb.by_id / CH340).symlink_to(nodes["ttyUSB1"])  # two CH340s would share this name
    (usb.by_path / CH340_PATH).symlink_to(nodes["ttyUSB1"])
    usb.plug(usb.by_id / FTDI, 0x0403, 0x6001, "A50285BI")
    usb.plug(usb.by_id / CH340, 0x1A86, 0x7523, None)
    usb.plug(nodes["ttyUSB2"], 0x10C4, 0xEA60, "0001")  # no link: named by its serial number
    usb.plug(nodes["ttyACM0"], 0x2341, 0x0043, "ARDUINO1")  # not an adapter we know
    usb.plug(nodes["ttyUSB3"], 0x067B, 0x2303, None)  # no link, no serial: no stable name

    found = detect.list_candidates(usb.comports, usb.dirs)

    assert [(c.path, c.dev_id) for c in found] == [
        (str(usb.by_id / FTDI), f"scale-{FTDI}"),
        (str(usb.by_path / CH340_PATH), f"scale-{CH340_PATH}"),
        (str(nodes["ttyUSB2"]), "scale-10c4-0001"),
    ]
    assert found[0].usb == "0403:6001 Future Technology Devices International (FTDI)"
    assert all("ttyUSB" not in c.dev_id for c in found)
    assert all(bus.check_id(c.dev_id, "id") == c.dev_id for c in found)


# -- probing ----------------------------------------------------------------------------------


def test_two_scales_of_different_protocols_and_a_silent_port(
    usb: Usb, simulators: list[PtyScale]
) -> None:
    plugged(simulators, NCISimulator(link=usb.by_id / FTDI), 2500)
    plugged(simulators, CasSimulator(link=usb.by_id / PROLIFIC), 750)
    usb.plug(usb.by_id / FTDI, 0x0403, 0x6001, "A50285BI")
    usb.plug(usb.by_id / PROLIFIC, 0x067B, 0x2303, "D")
    with silent_port(usb, CH340) as silent:
        usb.plug(silent, 0x1A86, 0x7523, "1")
        found = detect.detect(detect.list_candidates(usb.comports, usb.dirs))

    assert {f.candidate.path: f.protocol for f in found} == {
        str(usb.by_id / FTDI): "nci",
        str(usb.by_id / PROLIFIC): "cas_pd2",
        str(usb.by_id / CH340): None,
    }
    cas = next(f for f in found if f.protocol == "cas_pd2")
    assert cas.tried[-1]["reading"] == {"grams": 750, "stable": True, "status": "ok"}
    nothing = next(f for f in found if f.protocol is None)
    assert not any(r["answered"] for r in nothing.tried) and len(nothing.tried) == 5


def test_cli_detect_lists_what_answered(
    usb: Usb,
    simulators: list[PtyScale],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    plugged(simulators, ScaleSimulator(link=usb.by_id / FTDI), 1500)
    usb.plug(usb.by_id / FTDI, 0x0403, 0x6001, "A50285BI")
    monkeypatch.setattr(detect, "LISTER", usb.comports)
    monkeypatch.setattr(detect, "LINK_DIRS", usb.dirs)

    assert main(["devices", "detect", "--json"]) == 0
    (port,) = json.loads(capsys.readouterr().out)["ports"]
    assert (port["port"], port["found"], port["id"]) == (
        str(usb.by_id / FTDI),
        "mettler8217",
        f"scale-{FTDI}",
    )
    assert main(["devices", "detect"]) == 0
    out = capsys.readouterr().out
    assert "Mettler Toledo 8217, 1500 g ok" in out
    assert f'{{port = "{usb.by_id / FTDI}", protocol = "mettler8217"}}' in out


def test_cli_detect_with_nothing_plugged_in(
    usb: Usb, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(detect, "LISTER", usb.comports)
    monkeypatch.setattr(detect, "LINK_DIRS", usb.dirs)
    assert main(["devices", "detect"]) == 1
    assert "no USB serial ports" in capsys.readouterr().out


# -- the agent's scale host -------------------------------------------------------------------


@pytest.fixture
def hosting(mosquitto_broker: tuple[str, int]) -> Iterator[Hosting]:
    hosting = Hosting(HUB, MqttSettings(*mosquitto_broker, "devices", USERS["devices"]))
    yield hosting
    hosting.close()


def weighs(grams: int) -> Callable[[bytes], bool]:
    return lambda payload: bus.Weight.from_payload(payload).grams == grams


def test_host_runs_pinned_scales_and_finds_the_others(
    usb: Usb,
    simulators: list[PtyScale],
    hosting: Hosting,
    bus_probe: BusProbe,
    probed: list[str],
) -> None:
    pinned = plugged(simulators, ScaleSimulator(link=usb.by_id / FTDI), 1000)
    plugged(simulators, CasSimulator(link=usb.by_id / PROLIFIC), 2000)
    usb.plug(usb.by_id / FTDI, 0x0403, 0x6001, "A50285BI")
    usb.plug(usb.by_id / PROLIFIC, 0x067B, 0x2303, "D")
    host = ScaleHost(
        [ScaleSpec("counter", str(pinned.link), "mettler8217")],
        hosting,
        autodetect=True,
        lister=usb.comports,
        link_dirs=usb.dirs,
    )
    host.start()
    try:
        found_id = f"scale-{PROLIFIC}"
        config = bus.DeviceConfig.from_payload(
            bytes(bus_probe.wait_for(bus.config_topic(HUB, found_id)).payload)
        )
        assert config.kind == "scale" and config.model == "cas_pd2"
        bus_probe.wait_for(bus.event_topic(HUB, found_id, "weight"), weighs(2000))
        bus_probe.wait_for(bus.event_topic(HUB, "counter", "weight"), weighs(1000))
        assert host.detected == [ScaleSpec(found_id, str(usb.by_id / PROLIFIC), "cas_pd2")]
        assert str(usb.by_id / FTDI) not in probed and probed
    finally:
        host.stop()


def test_host_probes_new_ports_once_until_they_come_back(
    usb: Usb,
    simulators: list[PtyScale],
    hosting: Hosting,
    bus_probe: BusProbe,
    probed: list[str],
) -> None:
    host = ScaleHost([], hosting, autodetect=True, lister=usb.comports, link_dirs=usb.dirs)
    host.start()
    try:
        with silent_port(usb, CH340) as silent:
            usb.plug(silent, 0x1A86, 0x7523, "1")
            host.supervise()  # first seen: probed at the next look, once udev made its links
            assert probed == []
            host.supervise()
            tries = str(silent)
            wait_until(lambda: probed.count(tries) == 5, "the silent port to be probed")
            wait_until(lambda: not host.scanning, "the scan to end")
            host.supervise()
            host.supervise()
            assert probed.count(str(silent)) == 5  # nothing answered: not again while plugged

        nci = plugged(simulators, NCISimulator(link=usb.by_id / FTDI), 3100)
        usb.plug(usb.by_id / FTDI, 0x0403, 0x6001, "A50285BI")
        found_id = f"scale-{FTDI}"
        host.supervise()
        host.supervise()
        bus_probe.wait_for(bus.event_topic(HUB, found_id, "weight"), weighs(3100))

        nci.stop()  # unplug: the driver goes offline, the port leaves the listing
        bus_probe.wait_for(bus.availability_topic(HUB, found_id), bus.OFFLINE.encode())
        host.supervise()
        mark = bus_probe.mark()
        nci.set_weight(3300)
        nci.start()  # replug: the driver reopens the link; the host does not probe it again
        bus_probe.wait_for(bus.event_topic(HUB, found_id, "weight"), weighs(3300), since=mark)
        host.supervise()
        host.supervise()
        assert host.detected == [ScaleSpec(found_id, str(usb.by_id / FTDI), "nci")]
        assert str(usb.by_id / FTDI) in probed
    finally:
        host.stop()


def test_autodetect_is_a_setting_on_in_the_config_and_off_unless_asked_in_the_agent(
    tmp_path: Path,
) -> None:
    assert AgentSettings.from_mapping({"hub_id": "h"}).scale_autodetect is False
    assert AgentSettings.from_mapping({"hub_id": "h", "scale_autodetect": True}).scale_autodetect
    conf = tmp_path / "backroom.toml"
    conf.write_text("[devices]\nscanners = false\n")
    assert agent_settings(cfg.load(conf, env={}))["scale_autodetect"] is True
    conf.write_text("[devices]\nscale_autodetect = false\n")
    assert agent_settings(cfg.load(conf, env={}))["scale_autodetect"] is False
