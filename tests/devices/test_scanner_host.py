"""The scanner host against a real mosquitto: scanners and keyboards announced, scans published,
the owner's input_role honoured, unplugging and replugging.

The input devices are the fixture descriptions of fixtures/scanners/, each backed by a
SimulatedScanner that sends InputEvents through the real reader, as an evdev device would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices import bus
from devices.agent import AgentSettings
from devices.hosting import Hosting, SettingsError
from devices.link import MqttSettings
from devices.scanner import udev
from devices.scanner.classify import parse_proc_devices
from devices.scanner.driver import InputSource, PluggedInput, SimulatedScanner
from devices.scanner.host import ScannerHost, ScannerSettings
from devices.scanner.udev import Hotplug
from tests.conftest import USERS
from tests.devices.conftest import BusProbe
from tests.devices.test_scanner_driver import LCTRL, LSHIFT, recording

HUB = "test-hub"
FIXTURES = Path(__file__).parent / "fixtures" / "scanners"
HONEYWELL, LOGITECH = "input-0c2e-0b81-17086B1E45", "Logitech_USB_Keyboard"


class Bench:
    """The input devices plugged into this test's machine."""

    def __init__(self) -> None:
        self.devices: dict[str, tuple[PluggedInput, SimulatedScanner]] = {}
        self.opened: list[str] = []
        self.looks = 0  # how often the host listed the devices

    def plug(self, fixture: str, event: str, dev_id: str) -> SimulatedScanner:
        info = parse_proc_devices((FIXTURES / fixture).read_text())[0]
        path = f"/dev/input/{event}"
        source = SimulatedScanner()
        self.devices[path] = (PluggedInput(path, dev_id, info), source)
        return source

    def pull(self, event: str) -> None:
        del self.devices[f"/dev/input/{event}"]

    def plugged(self) -> list[PluggedInput]:
        self.looks += 1
        return [plugged for plugged, _ in self.devices.values()]

    def open(self, plugged: PluggedInput) -> InputSource:
        self.opened.append(plugged.device_id)
        return self.devices[plugged.path][1]


@pytest.fixture
def bench() -> Bench:
    return Bench()


@pytest.fixture
def host(mosquitto_broker: tuple[str, int], bench: Bench) -> Iterator[ScannerHost]:
    mqtt = MqttSettings(*mosquitto_broker, "devices", USERS["devices"])
    hosting = Hosting(HUB, mqtt)
    scanner_host = ScannerHost(ScannerSettings(scanners=True), hosting, bench)
    yield scanner_host
    hosting.closing.set()
    scanner_host.stop()
    hosting.close()


def config_of(probe: BusProbe, dev: str, kind: str, since: int = 0) -> bus.DeviceConfig:
    msg = probe.wait_for(
        bus.config_topic(HUB, dev), lambda p: bus.DeviceConfig.from_payload(p).kind == kind, since
    )
    return bus.DeviceConfig.from_payload(msg.payload)


def availability(probe: BusProbe, dev: str, state: str, since: int = 0) -> None:
    probe.wait_for(bus.availability_topic(HUB, dev), state.encode(), since)


def scans(probe: BusProbe, dev: str) -> list[bus.Scan]:
    topic = bus.event_topic(HUB, dev, "scan")
    return [bus.Scan.from_payload(m.payload) for m in list(probe.messages) if m.topic == topic]


def role(probe: BusProbe, dev: str, job_id: str, new_role: str) -> bus.JobResult:
    since = probe.mark()
    probe.publish(
        bus.cmd_topic(HUB, dev, "input_role"), json.dumps({"job_id": job_id, "role": new_role})
    )
    msg = probe.wait_for(bus.result_topic(HUB, dev, "input_role"), since=since)
    return bus.JobResult.from_payload(msg.payload)


def test_a_scanner_is_grabbed_and_a_keyboard_left_alone(
    host: ScannerHost, bench: Bench, bus_probe: BusProbe
) -> None:
    scanner = bench.plug("honeywell-1400g.txt", "event3", HONEYWELL)
    bench.plug("logitech-k120.txt", "event1", LOGITECH)
    host.start()
    announced = config_of(bus_probe, HONEYWELL, "scanner")
    assert announced.manufacturer == "Honeywell" and announced.capabilities == [
        "scan",
        "use_as_keyboard",
    ]
    keyboard = config_of(bus_probe, LOGITECH, "keyboard")
    assert keyboard.capabilities == ["use_as_scanner"] and keyboard.connection == "usb"
    availability(bus_probe, HONEYWELL, "online")
    availability(bus_probe, LOGITECH, "online")
    assert bench.opened == [HONEYWELL], "the keyboard must never be opened, let alone grabbed"

    # ]C1 0112 <GS> 10 A: a GS1-128 code typed with Ctrl+] as the separator, Shift for the letters
    digit = {"0": 11, "1": 2, "2": 3}
    scanner.feed(
        recording(
            (27,),
            (LSHIFT, 46),
            (2,),
            *((digit[d],) for d in "0112"),
            (LCTRL, 27),
            (2,),
            (11,),
            (LSHIFT, 30),
            (28,),
        )
    )
    msg = bus_probe.wait_for(bus.event_topic(HUB, HONEYWELL, "scan"))
    scan = bus.Scan.from_payload(msg.payload)
    assert (scan.aim, scan.symbology, scan.data) == ("]C1", "gs1-128", "0112\x1d10A")


def test_unplugged_mid_code_goes_offline_without_a_scan_and_comes_back(
    host: ScannerHost, bench: Bench, bus_probe: BusProbe
) -> None:
    scanner = bench.plug("honeywell-1400g.txt", "event3", HONEYWELL)
    host.start()
    availability(bus_probe, HONEYWELL, "online")
    since = bus_probe.mark()
    scanner.feed(recording((2,), (3,), (4,)))  # "123", no Enter: the cable came out
    scanner.unplug()
    availability(bus_probe, HONEYWELL, "offline", since)  # from the read loop, before udev says
    bench.pull("event3")
    host.hotplug(Hotplug("remove", "/dev/input/event3"))
    assert scans(bus_probe, HONEYWELL) == []

    again = bench.plug("honeywell-1400g.txt", "event4", HONEYWELL)  # a new event number
    since = bus_probe.mark()
    host.hotplug(Hotplug("add", "/dev/input/event4"))
    availability(bus_probe, HONEYWELL, "online", since)
    again.type_text("4006381333931")
    msg = bus_probe.wait_for(bus.event_topic(HUB, HONEYWELL, "scan"))
    assert bus.Scan.from_payload(msg.payload).data == "4006381333931"


def test_the_owner_turns_a_keyboard_into_a_scanner_and_back(
    host: ScannerHost, bench: Bench, bus_probe: BusProbe
) -> None:
    keyboard = bench.plug("logitech-k120.txt", "event1", LOGITECH)
    host.start()
    config_of(bus_probe, LOGITECH, "keyboard")
    since = bus_probe.mark()
    assert role(bus_probe, LOGITECH, "j1", "scanner").ok
    config = config_of(bus_probe, LOGITECH, "scanner", since)
    assert config.capabilities == ["scan", "use_as_keyboard"]
    assert bench.opened == [LOGITECH]
    keyboard.type_text("96385074")
    msg = bus_probe.wait_for(bus.event_topic(HUB, LOGITECH, "scan"))
    assert bus.Scan.from_payload(msg.payload).data == "96385074"

    since = bus_probe.mark()
    assert role(bus_probe, LOGITECH, "j2", "keyboard").ok
    config_of(bus_probe, LOGITECH, "keyboard", since)
    with pytest.raises(RuntimeError, match="not open"):
        keyboard.type_text("1")  # closed: released to the desktop, no longer read


def test_a_role_survives_replugging(host: ScannerHost, bench: Bench, bus_probe: BusProbe) -> None:
    bench.plug("logitech-k120.txt", "event1", LOGITECH)
    host.start()
    config_of(bus_probe, LOGITECH, "keyboard")
    assert role(bus_probe, LOGITECH, "j1", "scanner").ok
    bench.pull("event1")
    host.hotplug(Hotplug("remove", "/dev/input/event1"))
    bench.plug("logitech-k120.txt", "event2", LOGITECH)
    since = bus_probe.mark()
    host.rescan()  # what the 2 s supervision does where udev does not run
    availability(bus_probe, LOGITECH, "online", since)
    assert bench.opened == [LOGITECH, LOGITECH], "grabbed again as the scanner the owner chose"
    configs = [
        m.payload for m in list(bus_probe.messages) if m.topic == bus.config_topic(HUB, LOGITECH)
    ]
    assert bus.DeviceConfig.from_payload(configs[-1]).kind == "scanner"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"job_id": "j1", "role": "printer"}, "role 'printer' is unknown"),
        ({"job_id": "j2"}, "missing 'role'"),
    ],
)
def test_a_bad_role_is_refused_with_the_reason(
    host: ScannerHost, bench: Bench, bus_probe: BusProbe, payload: dict[str, str], message: str
) -> None:
    bench.plug("logitech-k120.txt", "event1", LOGITECH)
    host.start()
    config_of(bus_probe, LOGITECH, "keyboard")
    since = bus_probe.mark()
    bus_probe.publish(bus.cmd_topic(HUB, LOGITECH, "input_role"), json.dumps(payload))
    result = bus.JobResult.from_payload(
        bus_probe.wait_for(bus.result_topic(HUB, LOGITECH, "input_role"), since=since).payload
    )
    assert not result.ok and message in result.error
    assert bench.opened == []


def test_with_udev_supervision_does_not_poll_and_hotplug_finds_devices(
    host: ScannerHost,
    bench: Bench,
    bus_probe: BusProbe,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    control = tmp_path / "control"
    control.touch()
    monkeypatch.setattr(udev, "UDEV_CONTROL", str(control))
    host.start()
    assert bench.looks == 1
    bench.plug("generic-hid-kbw.txt", "event5", "input-0483-0011-usb-1.4")
    host.supervise()
    assert bench.looks == 1, "udev tells us; no listing every 2 s"
    host.hotplug(Hotplug("add", "/dev/input/event5"))
    config = config_of(bus_probe, "input-0483-0011-usb-1.4", "scanner")
    assert config.name == "SM SM-2D PRODUCT HID KBW" and config.model == "0483:0011"


def test_without_udev_supervision_lists_the_devices(
    host: ScannerHost, bench: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(udev, "UDEV_CONTROL", str(tmp_path / "missing"))
    host.start()
    host.supervise()
    assert bench.looks == 2


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        (True, ("sim-scanner-1",)),
        (False, ()),
        (0, ()),
        (2, ("sim-scanner-1", "sim-scanner-2")),
        (["sim-till-1", "sim-till-2"], ("sim-till-1", "sim-till-2")),
    ],
)
def test_simulated_scanners_from_the_settings(value: object, ids: tuple[str, ...]) -> None:
    settings = AgentSettings.from_mapping({"hub_id": HUB, "simulate_scanner": value})
    assert settings.scanner.simulated == ids
    assert settings.scanner.simulate_scanner is bool(ids)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (17, "a count from 0 to 16"),
        (["a", "a"], "distinct ids"),
        (["no spaces"], "simulate_scanner id 'no spaces' is not valid"),
        ("yes", "give true"),
    ],
)
def test_bad_simulated_scanner_settings_say_what_to_give(value: object, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        AgentSettings.from_mapping({"hub_id": HUB, "simulate_scanner": value})


def test_a_simulated_scanner_id_may_not_be_taken_twice() -> None:
    raw = {"hub_id": HUB, "simulate_scanner": ["till"], "printers": [{"host": "a", "id": "till"}]}
    with pytest.raises(SettingsError, match="would both be device 'till'"):
        AgentSettings.from_mapping(raw)
