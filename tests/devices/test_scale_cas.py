"""CAS PD-II type 6: the pure protocol, and the simulator on a pty."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.bus import Weight
from devices.scale.cas import ACK, DC1, ENQ, CasPd2, CasSimulator, CasSplitter, bcc, encode_frame
from devices.scale.protocol import ProtocolError, Reading
from devices.scale.pty_simulator import exchange
from devices.scale.serial_scale import SerialScale
from tests.devices.conftest import wait_until
from tests.devices.scale_helpers import Events, driving, running

CAS = CasPd2()

# A stable 1.250 kg frame, written out by hand from the layout in REFERENCE.md; BCC = XOR of
# "S", sign " ", " 1.250", "kg": 0x53^0x20^0x20^0x31^0x2e^0x32^0x35^0x30^0x6b^0x67 = 0x77.
FRAME_1250 = b"\x01\x02S  1.250kg\x77\x03\x04"


def test_bcc_of_the_worked_example() -> None:
    assert bcc(b"S  1.250kg") == 0x77
    assert encode_frame(1250) == FRAME_1250


@pytest.mark.parametrize(
    ("frame", "reading"),
    [
        (FRAME_1250, Reading(1250, True, "ok")),
        (encode_frame(0), Reading(0, True, "at_zero")),
        (encode_frame(99_999), Reading(99_999, True, "ok")),
        (encode_frame(700, stable=False), Reading(700, False, "motion")),
        (encode_frame(-200), Reading(None, True, "under_zero")),
        (encode_frame(0, overload=True, stable=False), Reading(None, False, "over_capacity")),
    ],
)
def test_parse(frame: bytes, reading: Reading) -> None:
    assert CAS.parse(frame) == reading


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        ACK,
        FRAME_1250[:-1],
        FRAME_1250[:12] + b"\x00" + FRAME_1250[13:],  # wrong BCC
        encode_frame(1250, unit=b"lb"),
        b"\x01\x02X  1.250kg" + bytes([bcc(b"X  1.250kg")]) + b"\x03\x04",
        b"\x01\x02S 12.5.0kg" + bytes([bcc(b"S 12.5.0kg")]) + b"\x03\x04",
    ],
)
def test_parse_refuses_malformed_frames(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        CAS.parse(frame)


def test_a_unit_other_than_kg_says_to_set_kg() -> None:
    with pytest.raises(ProtocolError, match="set the scale to kg"):
        CAS.parse(encode_frame(1250, unit=b"lb"))


def test_ack_is_answered_with_dc1() -> None:
    assert (CAS.poll, CAS.answer(ACK), CAS.answer(FRAME_1250)) == (ENQ, DC1, b"")


def test_splitter_handles_noise_cut_frames_and_bcc_that_looks_like_etx() -> None:
    splitter = CasSplitter()
    assert splitter.feed(b"zz" + ACK + FRAME_1250[:7]) == [ACK]
    assert splitter.feed(FRAME_1250[7:]) == [FRAME_1250]
    tricky = b"\x01\x02S  0.123kg" + bytes([bcc(b"S  0.123kg")]) + b"\x03\x04"
    assert splitter.feed(FRAME_1250[:5] + tricky) == [tricky]
    assert splitter.skipped == 2 + 5


@settings(deadline=None)
@given(st.integers(-99_999, 99_999), st.booleans())
def test_encode_then_parse_round_trips(grams: int, stable: bool) -> None:
    reading = CAS.parse(encode_frame(grams, stable))
    if grams < 0:
        assert reading.status == "under_zero"
    else:
        assert (reading.grams, reading.stable) == (grams, stable)


@settings(deadline=None)
@given(st.lists(st.binary(max_size=20), max_size=20))
def test_splitter_never_raises_and_yields_only_frames(chunks: list[bytes]) -> None:
    splitter = CasSplitter()
    for chunk in chunks:
        for frame in splitter.feed(chunk):
            assert frame == ACK or (len(frame) == 15 and frame[:2] == b"\x01\x02")


@settings(deadline=None)
@given(st.binary(max_size=20), st.booleans())
def test_parse_raises_only_protocol_error(data: bytes, framed: bool) -> None:
    body = data[:10].ljust(10, b" ")
    frame = b"\x01\x02" + body + bytes([bcc(body)]) + b"\x03\x04" if framed else data
    with contextlib.suppress(ProtocolError):
        reading = CAS.parse(frame)
        assert reading.grams is None or 0 <= reading.grams <= 99_999


# -- the simulator on a pty --------------------------------------------------------------------


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[CasSimulator]:
    yield from running(CasSimulator(link=tmp_path / "ttyUSB-cas", capacity_g=15_000))


@pytest.fixture
def port(simulator: CasSimulator) -> Iterator[serial.Serial]:
    with serial.Serial(str(simulator.link), 9600, timeout=0.05) as port:
        yield port


def test_simulator_weight_and_faults(simulator: CasSimulator, port: serial.Serial) -> None:
    assert exchange(port, CAS) == Reading(0, True, "at_zero")
    simulator.set_weight(1250)
    assert exchange(port, CAS) == Reading(1250, True, "ok")
    assert bytes(simulator.received).endswith(ENQ + DC1)
    simulator.motion = True
    assert exchange(port, CAS) == Reading(1250, False, "motion")
    simulator.motion = False
    simulator.set_weight(20_000)
    assert exchange(port, CAS) == Reading(None, False, "over_capacity")
    simulator.set_weight(-30)
    assert exchange(port, CAS) == Reading(None, True, "under_zero")


def test_simulator_noise_and_slow_replies(simulator: CasSimulator, port: serial.Serial) -> None:
    simulator.set_weight(500)
    simulator.inject_noise(b"\xff\x01garbage")
    assert exchange(port, CAS) == Reading(500, True, "ok")
    simulator.reply_delay_s = 0.3
    assert exchange(port, CAS, timeout_s=0.1) is None
    port.reset_input_buffer()


def test_simulator_unplug_and_replug(simulator: CasSimulator) -> None:
    assert simulator.link is not None
    simulator.stop()
    assert not simulator.link.exists()
    simulator.start()
    with serial.Serial(str(simulator.link), 9600, timeout=0.05) as port:
        assert exchange(port, CAS) == Reading(0, True, "at_zero")


# -- the driver loop against the simulator ------------------------------------------------------


@pytest.fixture
def driver(
    simulator: CasSimulator, fast_driver_timing: None
) -> Iterator[tuple[SerialScale, Events]]:
    yield from driving(simulator, CasPd2())


def test_driver_weight_motion_overload_under_zero(
    simulator: CasSimulator, driver: tuple[SerialScale, Events]
) -> None:
    _, events = driver
    events.wait_weight(grams=0, status="at_zero")
    simulator.set_weight(1250)
    assert events.wait_weight(grams=1250) == Weight(1250, True, "ok", 0)
    simulator.motion = True
    assert events.wait_weight(status="motion") == Weight(1250, False, "motion", 0)
    simulator.motion = False
    simulator.set_weight(20_000)
    events.wait_weight(status="over_capacity", stable=False)
    simulator.set_weight(-40)
    events.wait_weight(status="under_zero")


def test_driver_skips_garbage_and_waits_for_slow_replies(
    simulator: CasSimulator, driver: tuple[SerialScale, Events]
) -> None:
    scale, events = driver
    simulator.inject_noise(b"\x00\xff\x01\x02junk" + FRAME_1250[:12] + b"\x00\x03\x04")
    simulator.set_weight(321)
    events.wait_weight(grams=321)
    simulator.reply_delay_s = 0.05
    simulator.set_weight(4500)
    events.wait_weight(grams=4500)
    assert scale.online


def test_driver_unplug_and_replug(
    simulator: CasSimulator, driver: tuple[SerialScale, Events]
) -> None:
    scale, events = driver
    wait_until(lambda: scale.online, "the scale to come online")
    simulator.stop()
    wait_until(lambda: not scale.online, "the scale to go offline")
    simulator.set_weight(777)
    simulator.start()
    events.wait_weight(grams=777)
    assert events.online == [True, False, True]
