"""Dialog 02/04: the pure protocol, and the simulator on a pty."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.bus import Weight
from devices.scale.dialog import (
    ACK,
    ERROR_REQUEST,
    NAK,
    Dialog,
    DialogSimulator,
    DialogSplitter,
    encode_error,
    encode_weight,
    price_record,
)
from devices.scale.protocol import ProtocolError, Reading
from devices.scale.pty_simulator import exchange
from devices.scale.serial_scale import SerialScale
from tests.devices.conftest import wait_until
from tests.devices.scale_helpers import Events, driving, running

# Record 02 for 1.250 kg at 2.99/kg (total 3.74), written out from the layout in REFERENCE.md.
RECORD_02 = b"\x0202\x1b0\x1b01250\x1b000299\x1b000374\x03"


def test_records_as_on_the_wire() -> None:
    assert price_record(299) == b"\x04\x0201\x1b000299\x1b\x03"
    assert Dialog.poll == b"\x04\x0201\x1b000001\x1b\x03\x04\x05"  # weight-only price, then EOT ENQ
    assert encode_weight(1250, 299) == RECORD_02
    assert encode_error(32) == b"\x0209\x1b32\x03"
    assert ERROR_REQUEST == b"\x04\x0208\x03"
    assert Dialog.settings.baud == 2400 and (Dialog.settings.bytesize, Dialog.settings.parity) == (
        7,
        "O",
    )


def test_nak_asks_for_record_08() -> None:
    assert (Dialog().answer(NAK), Dialog().answer(RECORD_02)) == (ERROR_REQUEST, b"")


@pytest.mark.parametrize(
    ("frame", "reading"),
    [
        (RECORD_02, Reading(1250, True, "ok")),
        (encode_weight(0), Reading(0, True, "at_zero")),
        (encode_weight(99_999), Reading(99_999, True, "ok")),
        (encode_error(20), Reading(None, False, "motion")),
        (encode_error(30), Reading(0, True, "at_zero")),
        (encode_error(31), Reading(None, False, "under_zero")),
        (encode_error(32), Reading(None, False, "over_capacity")),
        (encode_error(21), Reading(None, False, "motion")),  # nothing weighed yet: lift and replace
        (encode_error(99), Reading(None, False, "error")),
    ],
)
def test_parse(frame: bytes, reading: Reading) -> None:
    assert Dialog().parse(frame) == reading


def test_no_motion_since_last_repeats_the_last_weight_until_the_platter_empties() -> None:
    dialog = Dialog()
    dialog.parse(RECORD_02)
    assert dialog.parse(encode_error(21)) == Reading(1250, True, "ok")
    dialog.parse(encode_error(30))
    assert dialog.parse(encode_error(21)) == Reading(None, False, "motion")


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        NAK,
        RECORD_02[:-1],
        b"\x0202\x1b0\x1b1250\x1b000299\x1b000374\x03",  # four weight digits
        b"\x0203\x1b0\x1b01250\x1b000299\x1b000374\x03",
        b"\x0209\x1b3\x03",
        b"\x0209\x1b3x\x03",
    ],
)
def test_parse_refuses_malformed_records(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        Dialog().parse(frame)


def test_splitter_drops_acks_and_skips_noise_and_cut_records() -> None:
    splitter = DialogSplitter()
    assert splitter.feed(b"zz" + ACK + RECORD_02[:9]) == []
    assert splitter.feed(RECORD_02 + NAK + b"\x0209\x1b2") == [RECORD_02, NAK]
    assert splitter.feed(b"0\x03") == [b"\x0209\x1b20\x03"]
    assert splitter.skipped == 2 + 9


@settings(deadline=None)
@given(st.integers(0, 99_999), st.integers(0, 999_999))
def test_encode_then_parse_round_trips(grams: int, price: int) -> None:
    assert (
        Dialog().parse(encode_weight(grams, min(price, 999_999 * 1000 // max(grams, 1)))).grams
        == grams
    )


@settings(deadline=None)
@given(st.lists(st.binary(max_size=30), max_size=20))
def test_splitter_never_raises_and_yields_only_frames(chunks: list[bytes]) -> None:
    splitter = DialogSplitter()
    for chunk in chunks:
        for frame in splitter.feed(chunk):
            assert frame == NAK or (frame[:1] == b"\x02" and frame[-1:] == b"\x03")


@settings(deadline=None)
@given(st.binary(max_size=30) | st.text("0123456789\x1b", max_size=30).map(str.encode))
def test_parse_raises_only_protocol_error(data: bytes) -> None:
    for frame in (data, b"\x0202" + data + b"\x03", b"\x0209" + data + b"\x03"):
        with contextlib.suppress(ProtocolError):
            reading = Dialog().parse(frame)
            assert reading.grams is None or 0 <= reading.grams <= 99_999


# -- the simulator on a pty --------------------------------------------------------------------


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[DialogSimulator]:
    yield from running(DialogSimulator(link=str(tmp_path / "ttyUSB-dialog"), capacity_g=15_000))


@pytest.fixture
def port(simulator: DialogSimulator) -> Iterator[serial.Serial]:
    with serial.Serial(str(simulator.link), 2400, timeout=0.05) as port:
        yield port


def test_simulator_weight_and_faults(simulator: DialogSimulator, port: serial.Serial) -> None:
    dialog = Dialog()
    assert exchange(port, dialog) == Reading(0, True, "at_zero")  # below minimum
    assert ERROR_REQUEST in simulator.received
    assert simulator.price == 1
    simulator.set_weight(1250)
    assert exchange(port, dialog) == Reading(1250, True, "ok")
    assert exchange(port, dialog) == Reading(1250, True, "ok")  # code 21, the same weight
    simulator.motion = True
    assert exchange(port, dialog) == Reading(None, False, "motion")
    simulator.motion = False
    simulator.set_weight(20_000)
    assert exchange(port, dialog) == Reading(None, False, "over_capacity")
    simulator.set_weight(-30)
    assert exchange(port, dialog) == Reading(None, False, "under_zero")


def test_simulator_noise_and_slow_replies(simulator: DialogSimulator, port: serial.Serial) -> None:
    simulator.set_weight(500)
    simulator.inject_noise(b"\xff\x02garbage\x15")  # a record cut short by the real one
    assert exchange(port, Dialog()) == Reading(500, True, "ok")
    simulator.set_weight(600)
    simulator.reply_delay_s = 0.3
    assert exchange(port, Dialog(), timeout_s=0.1) is None


def test_simulator_unplug_and_replug(simulator: DialogSimulator) -> None:
    assert simulator.link is not None
    simulator.stop()
    assert not simulator.link.exists()
    simulator.set_weight(900)
    simulator.start()
    with serial.Serial(str(simulator.link), 2400, timeout=0.05) as port:
        assert exchange(port, Dialog()) == Reading(900, True, "ok")


# -- the driver loop against the simulator ------------------------------------------------------


@pytest.fixture
def driver(
    simulator: DialogSimulator, fast_driver_timing: None
) -> Iterator[tuple[SerialScale, Events]]:
    yield from driving(simulator, Dialog())


def test_driver_weight_motion_overload_under_zero(
    simulator: DialogSimulator, driver: tuple[SerialScale, Events]
) -> None:
    scale, events = driver
    events.wait_weight(grams=0, status="at_zero")
    simulator.set_weight(1250)
    assert events.wait_weight(grams=1250) == Weight(1250, True, "ok", 0)
    polls = simulator.received.count(b"\x04\x05")
    wait_until(lambda: simulator.received.count(b"\x04\x05") >= polls + 5, "five more polls")
    assert scale.online and events.weights[-1] == Weight(1250, True, "ok", 0)  # code 21
    simulator.motion = True
    assert events.wait_weight(status="motion") == Weight(1250, False, "motion", 0)
    simulator.motion = False
    simulator.set_weight(20_000)
    events.wait_weight(status="over_capacity", stable=False)
    simulator.set_weight(-40)
    events.wait_weight(status="under_zero")


def test_driver_skips_garbage_and_waits_for_slow_replies(
    simulator: DialogSimulator, driver: tuple[SerialScale, Events]
) -> None:
    scale, events = driver
    simulator.inject_noise(b"\x00\xff\x02junk\x03\x0202\x1b0\x1b12")
    simulator.set_weight(321)
    events.wait_weight(grams=321)
    simulator.reply_delay_s = 0.05
    simulator.set_weight(4500)
    events.wait_weight(grams=4500)
    assert scale.online


def test_driver_unplug_and_replug(
    simulator: DialogSimulator, driver: tuple[SerialScale, Events]
) -> None:
    scale, events = driver
    wait_until(lambda: scale.online, "the scale to come online")
    simulator.stop()
    wait_until(lambda: not scale.online, "the scale to go offline")
    simulator.set_weight(777)
    simulator.start()
    events.wait_weight(grams=777)
    assert events.online == [True, False, True]
