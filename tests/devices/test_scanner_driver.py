"""The scanner I/O loop: recorded evdev event sequences replayed through the real reader thread."""

from __future__ import annotations

import os
import queue
from collections.abc import Iterator
from pathlib import Path

import pytest
from evdev import InputEvent

from devices.scanner.driver import (
    EvdevScanner,
    ScannerReader,
    SimulatedScanner,
    find_inputs,
    stable_id,
)
from devices.scanner.keymap import DecodedScan
from tests.devices.conftest import WAIT_S, wait_until

EV_SYN, EV_KEY, EV_MSC, MSC_SCAN = 0, 1, 4, 4
LSHIFT, LCTRL, ENTER = 42, 29, 28
# HID usage (page 7) of each key, as the kernel reports it in MSC_SCAN before the key event.
HID_USAGE = {
    2: 0x1E,
    3: 0x1F,
    4: 0x20,
    5: 0x21,
    6: 0x22,
    7: 0x23,
    8: 0x24,
    9: 0x25,
    10: 0x26,
    11: 0x27,
    46: 0x06,
    30: 0x04,
    48: 0x05,
    27: 0x30,
    28: 0x28,
    42: 0xE1,
    29: 0xE0,
    12: 0x2D,
}


def recording(*keys: tuple[int, ...]) -> list[InputEvent]:
    """Events in the order a USB HID scanner makes the kernel emit them: MSC_SCAN, KEY, SYN_REPORT.

    Each key is (code,) or (modifier, code). Built by hand to that shape, not captured from a
    device; the key codes are written out literally so the test does not lean on keymap.encode.
    """
    out: list[InputEvent] = []
    usec = 0

    def emit(code: int, value: int) -> None:
        nonlocal usec
        usec += 1000
        out.extend(
            [
                InputEvent(1_700_000_000, usec, EV_MSC, MSC_SCAN, 0x70000 + HID_USAGE[code]),
                InputEvent(1_700_000_000, usec, EV_KEY, code, value),
                InputEvent(1_700_000_000, usec, EV_SYN, 0, 0),
            ]
        )

    for key in keys:
        *mods, code = key
        for mod in mods:
            emit(mod, 1)
        emit(code, 1)
        emit(code, 0)
        for mod in mods:
            emit(mod, 0)
    return out


class Collector:
    def __init__(self) -> None:
        self.scans: queue.Queue[DecodedScan] = queue.Queue()
        self.gone: queue.Queue[tuple[str, str]] = queue.Queue()

    def on_scan(self, scan: DecodedScan) -> None:
        self.scans.put(scan)

    def on_gone(self, reason: str, partial: str) -> None:
        self.gone.put((reason, partial))


@pytest.fixture
def simulated() -> Iterator[tuple[SimulatedScanner, ScannerReader, Collector]]:
    source, collector = SimulatedScanner(), Collector()
    reader = ScannerReader(source, collector.on_scan, collector.on_gone, name="test-scanner")
    reader.start()
    yield source, reader, collector
    reader.stop()


def test_recorded_shifted_characters(
    simulated: tuple[SimulatedScanner, ScannerReader, Collector],
) -> None:
    source, _, collector = simulated
    source.feed(recording((LSHIFT, 30), (48,), (LSHIFT, 2), (LSHIFT, 12), (46,), (ENTER,)))
    assert collector.scans.get(timeout=WAIT_S).raw == "Ab!_c"


def test_recorded_gs1_128_with_ctrl_brace_separators_and_aim(
    simulated: tuple[SimulatedScanner, ScannerReader, Collector],
) -> None:
    source, _, collector = simulated
    digits = {"0": 11, "1": 2, "2": 3, "5": 6, "7": 8, "9": 10}

    def typed(text: str) -> list[tuple[int, ...]]:
        return [(digits[d],) for d in text]

    # ]C1 01 09501101020917 10 ABC <GS> 21 12: the batch (10) is variable length, so GS ends it.
    source.feed(
        recording(
            (27,),
            (LSHIFT, 46),
            (2,),
            *typed("0109501101020917"),
            *typed("10"),
            (LSHIFT, 30),
            (LSHIFT, 48),
            (LSHIFT, 46),
            (LCTRL, 27),
            *typed("2112"),
            (ENTER,),
        )
    )
    scan = collector.scans.get(timeout=WAIT_S)
    assert scan.aim == "]C1" and scan.symbology == "gs1-128"
    assert scan.data == "010950110102091710ABC\x1d2112"


def test_simulated_typing_goes_through_the_same_reader(
    simulated: tuple[SimulatedScanner, ScannerReader, Collector],
) -> None:
    source, _, collector = simulated
    source.type_text("]E04006381333931")
    source.type_text("96385074")
    first, second = collector.scans.get(timeout=WAIT_S), collector.scans.get(timeout=WAIT_S)
    assert (first.data, first.symbology) == ("4006381333931", "ean13")
    assert (second.data, second.aim) == ("96385074", "")


def test_unplug_mid_code_drops_the_partial_and_reports_it(
    simulated: tuple[SimulatedScanner, ScannerReader, Collector],
) -> None:
    source, reader, collector = simulated
    source.feed(recording((2,), (3,), (4,)))  # "123", no Enter
    source.unplug()
    reason, partial = collector.gone.get(timeout=WAIT_S)
    assert partial == "123"
    assert "No such device" in reason
    wait_until(lambda: not reader.alive, "the reader thread to end")
    assert collector.scans.empty()


def test_unplug_between_codes_reports_no_partial(
    simulated: tuple[SimulatedScanner, ScannerReader, Collector],
) -> None:
    source, _, collector = simulated
    source.type_text("42")
    source.unplug()
    assert collector.scans.get(timeout=WAIT_S).raw == "42"
    assert collector.gone.get(timeout=WAIT_S)[1] == ""


def test_stop_ends_an_idle_reader() -> None:
    reader = ScannerReader(SimulatedScanner(), lambda scan: None)
    reader.start()
    assert reader.alive
    reader.stop()
    assert not reader.alive


def test_stable_id_prefers_the_by_id_name(tmp_path: Path) -> None:
    (tmp_path / "event7").touch()
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    os.symlink("../event7", by_id / "usb-Honeywell_Imaging___Mobility_1900GSR_17086B1E45-event-kbd")
    dev_id = stable_id(
        str(tmp_path / "event7"), serial="X", phys="usb-1.2/input0", by_id_dir=str(by_id)
    )
    assert dev_id == "Honeywell_Imaging___Mobility_1900GSR_17086B1E45"


def test_stable_id_falls_back_to_serial_then_port_never_event_number(tmp_path: Path) -> None:
    path, by_id = str(tmp_path / "event7"), str(tmp_path / "missing")
    assert (
        stable_id(path, serial="17086B1E45", vendor=0x0C2E, product=0x0B61, by_id_dir=by_id)
        == "input-0c2e-0b61-17086B1E45"
    )
    by_port = stable_id(
        path, phys="usb-0000:01:00.0-1.3/input0", vendor=0x0C2E, product=0x0B61, by_id_dir=by_id
    )
    assert by_port == "input-0c2e-0b61-usb-0000:01:00.0-1.3_input0"
    assert "event" not in by_port


FIXTURES = Path(__file__).parent / "fixtures" / "scanners"


def test_find_inputs_lists_what_types_codes_with_stable_ids(tmp_path: Path) -> None:
    proc = tmp_path / "devices"
    proc.write_text(
        "\n".join(
            (FIXTURES / name).read_text()
            for name in ("honeywell-1400g.txt", "generic-hid-kbw.txt", "logitech-k120.txt")
        )
        + (FIXTURES / "laptop-keyboard.txt").read_text()
    )
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    (tmp_path / "event1").touch()
    os.symlink("../event1", by_id / "usb-Logitech_USB_Keyboard-event-kbd")
    serials = {str(tmp_path / "event3"): "17086B1E45"}  # what udev's ID_SERIAL_SHORT says
    found = find_inputs(str(proc), str(tmp_path), str(by_id), lambda path: serials.get(path, ""))
    assert [(p.path, p.device_id) for p in found] == [
        (str(tmp_path / "event3"), "input-0c2e-0b81-17086B1E45"),
        (str(tmp_path / "event5"), "input-0483-0011-usb-0000:01:00.0-1.4_input0"),
        (str(tmp_path / "event1"), "Logitech_USB_Keyboard"),
    ]


def test_find_inputs_without_proc_lists_nothing(tmp_path: Path) -> None:
    assert find_inputs(str(tmp_path / "missing"), str(tmp_path), str(tmp_path / "by-id")) == []


def test_evdev_scanner_that_cannot_be_opened_raises_oserror(tmp_path: Path) -> None:
    reader = ScannerReader(EvdevScanner(str(tmp_path / "event99")), lambda scan: None)
    with pytest.raises(OSError):
        reader.start()
    assert not reader.alive


def test_two_interfaces_of_one_device_get_two_ids(tmp_path: Path) -> None:
    block = (FIXTURES / "honeywell-1400g.txt").read_text()
    second = block.replace("input0", "input1").replace("event3", "event4")
    proc = tmp_path / "devices"
    proc.write_text(block + "\n" + second)
    found = find_inputs(str(proc), str(tmp_path), str(tmp_path / "by-id"), lambda path: "")
    assert [p.device_id for p in found] == [
        "input-0c2e-0b81-17086B1E45",
        "input-0c2e-0b81-17086B1E45-input1",
    ]
