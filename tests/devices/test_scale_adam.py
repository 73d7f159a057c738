"""Adam Equipment AZExtra: the pure protocol, and the simulator on a pty."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.bus import Weight
from devices.scale.adam import PRINT, AdamAzExtra, AdamSimulator, LineSplitter, encode_line
from devices.scale.protocol import ProtocolError, Reading
from devices.scale.pty_simulator import exchange
from devices.scale.serial_scale import SerialScale
from tests.devices.conftest import wait_until
from tests.devices.scale_helpers import Events, driving, running

ADAM = AdamAzExtra()


@pytest.mark.parametrize(
    ("frame", "reading"),
    [
        (b"  1.250kg\r\n", Reading(1250, True, "ok")),
        (b"  0.000kg\r\n", Reading(0, True, "at_zero")),
        (b" 15.000 kg\r\n", Reading(15_000, True, "ok")),  # a space before the unit
        (b"0.005kg\n", Reading(5, True, "ok")),
        (b" -0.120kg\r\n", Reading(None, True, "under_zero")),
        (b"-  0.120kg\r\n", Reading(None, True, "under_zero")),
    ],
)
def test_parse(frame: bytes, reading: Reading) -> None:
    assert ADAM.parse(frame) == reading


@pytest.mark.parametrize(
    "frame",
    [b"", b"\r\n", b"  1.250kg", b"  1.25kg\r\n", b"  1,250kg\r\n", b"1.250.0kg\r\n", b"kg\r\n"],
)
def test_parse_refuses_malformed_lines(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        ADAM.parse(frame)


@pytest.mark.parametrize("unit", [b"lb", b"g", b"oz"])
def test_a_unit_other_than_kg_says_to_set_kg(unit: bytes) -> None:
    with pytest.raises(ProtocolError, match="set the scale to kg"):
        ADAM.parse(b"  1.250" + unit + b"\r\n")


def test_no_probe_and_silence_is_normal() -> None:
    assert (ADAM.poll, ADAM.probe(), AdamAzExtra.silence_is_normal) == (PRINT, None, True)
    assert ADAM.settings.baud == 4800 and ADAM.settings.parity == "N"


def test_splitter_skips_binary_noise_and_overlong_lines() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"\x00\xff  1.2") == []
    assert splitter.feed(b"50kg\r\n" + b"x" * 30) == [b"  1.250kg\r\n"]
    assert splitter.feed(b"\n") == [b"\n"]  # a line of its own; parse() refuses it
    assert splitter.skipped == 2 + 30


@settings(deadline=None)
@given(st.integers(-999_999, 999_999))
def test_encode_then_parse_round_trips(grams: int) -> None:
    reading = ADAM.parse(encode_line(grams))
    assert reading.grams == (None if grams < 0 else grams)


@settings(deadline=None)
@given(st.lists(st.binary(max_size=20), max_size=20))
def test_splitter_never_raises_and_yields_only_lines(chunks: list[bytes]) -> None:
    splitter = LineSplitter()
    for chunk in chunks:
        for frame in splitter.feed(chunk):
            assert frame.endswith(b"\n") and b"\n" not in frame[:-1]
            assert all(0x20 <= b < 0x7F or b in b"\r\n" for b in frame)


@settings(deadline=None)
@given(st.binary(max_size=30) | st.text(" -0123456789.kglb\r", max_size=20).map(str.encode))
def test_parse_raises_only_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        reading = ADAM.parse(data + b"\n")
        assert reading.grams is None or 0 <= reading.grams <= 999_999


# -- the simulator on a pty --------------------------------------------------------------------


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[AdamSimulator]:
    yield from running(AdamSimulator(link=tmp_path / "ttyUSB-adam", capacity_g=15_000))


@pytest.fixture
def port(simulator: AdamSimulator) -> Iterator[serial.Serial]:
    with serial.Serial(str(simulator.link), 4800, timeout=0.05) as port:
        yield port


def test_simulator_answers_only_new_settled_weights(
    simulator: AdamSimulator, port: serial.Serial
) -> None:
    assert exchange(port, ADAM, timeout_s=0.2) is None  # empty platter: silence
    simulator.set_weight(1250)
    assert exchange(port, ADAM) == Reading(1250, True, "ok")
    assert exchange(port, ADAM, timeout_s=0.2) is None  # the same weight: silence
    simulator.motion = True
    simulator.set_weight(1400)
    assert exchange(port, ADAM, timeout_s=0.2) is None
    simulator.motion = False
    assert exchange(port, ADAM) == Reading(1400, True, "ok")
    simulator.set_weight(20_000)
    assert exchange(port, ADAM, timeout_s=0.2) is None  # overload shows on the display only
    simulator.set_weight(-30)
    assert exchange(port, ADAM) == Reading(None, True, "under_zero")
    assert bytes(simulator.received).endswith(PRINT)


def test_simulator_noise_and_slow_replies(simulator: AdamSimulator, port: serial.Serial) -> None:
    simulator.set_weight(500)
    simulator.inject_noise(b"\xff\x00garbage\r\n")
    with pytest.raises(ProtocolError):
        exchange(port, ADAM)  # the noise line comes first and is not a weight
    simulator.set_weight(600)
    simulator.reply_delay_s = 0.3
    assert exchange(port, ADAM, timeout_s=0.1) is None
    assert exchange(port, ADAM, timeout_s=1.0) is not None  # the late line arrives


def test_simulator_unplug_and_replug(simulator: AdamSimulator) -> None:
    assert simulator.link is not None
    simulator.stop()
    assert not simulator.link.exists()
    simulator.set_weight(900)
    simulator.start()
    with serial.Serial(str(simulator.link), 4800, timeout=0.05) as port:
        assert exchange(port, ADAM) == Reading(900, True, "ok")


# -- the driver loop against the simulator ------------------------------------------------------


@pytest.fixture
def driver(
    simulator: AdamSimulator, fast_driver_timing: None
) -> Iterator[tuple[SerialScale, Events]]:
    yield from driving(simulator, AdamAzExtra())


def test_driver_weight_under_zero_and_garbage(
    simulator: AdamSimulator, driver: tuple[SerialScale, Events]
) -> None:
    _, events = driver
    simulator.set_weight(1250)
    assert events.wait_weight(grams=1250) == Weight(1250, True, "ok", 0)
    simulator.inject_noise(b"\x00\xffjunk\r\n")  # a line cut by noise would be lost
    simulator.set_weight(321)
    events.wait_weight(grams=321)
    simulator.reply_delay_s = 0.05
    simulator.set_weight(-40)
    events.wait_weight(status="under_zero")


def test_driver_unplug_and_replug(
    simulator: AdamSimulator, driver: tuple[SerialScale, Events]
) -> None:
    scale, events = driver
    simulator.set_weight(500)
    events.wait_weight(grams=500)
    simulator.stop()
    wait_until(lambda: not scale.online, "the scale to go offline")
    simulator.set_weight(777)
    simulator.start()
    events.wait_weight(grams=777)
    assert scale.online


def test_driver_stays_online_while_the_scale_has_nothing_new(
    simulator: AdamSimulator, driver: tuple[SerialScale, Events]
) -> None:
    scale, events = driver
    simulator.set_weight(500)
    events.wait_weight(grams=500)
    polls = simulator.received.count(PRINT)
    wait_until(lambda: simulator.received.count(PRINT) >= polls + 8, "eight silent polls")
    assert scale.online and events.online == [True]
