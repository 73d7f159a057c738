"""Mettler Toledo 8217: the pure protocol, and the real driver against the simulator over a pty."""

from __future__ import annotations

import contextlib
import os
import select
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.bus import Weight
from devices.scale import mettler_toledo as mt
from devices.scale import serial_scale
from devices.scale.mettler_toledo import (
    FrameReader,
    MettlerToledoScale,
    ProtocolError,
    Reply,
    ScaleError,
    parse_reply,
    to_weight,
)
from devices.scale.simulator import ScaleSimulator
from tests.devices.conftest import WAIT_S, wait_until
from tests.devices.scale_helpers import Events, running

pytestmark = pytest.mark.usefixtures("fast_driver_timing")


# -- protocol ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "reading"),
    [
        (b"\x0201.234\r", Reply(1234)),
        (b"\x0200.000\r", Reply(0)),
        (b"\x0215.000\r", Reply(15000)),
        (b"\x02  0.5\r", Reply(500)),  # leading spaces and fewer decimals, as Odoo's regex allows
        (b"\x0200.250N\r", Reply(250, net=True, status=mt.NET)),
        (b"\x02?A\r", Reply(None, status=0x41)),  # motion
        (b"\x02?B\r", Reply(None, status=0x42)),  # over capacity
        (b"\x02?D\r", Reply(None, status=0x44)),  # under zero
        (b"\x02?P\r", Reply(None, status=0x50)),  # centre of zero
        (b"\x02?a\r", Reply(None, net=True, status=0x61)),  # net, in motion
    ],
)
def test_parse_reply(frame: bytes, reading: Reply) -> None:
    assert parse_reply(frame) == reading


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x02\r",
        b"01.234\r",
        b"\x0201.234",
        b"\x02?\r",
        b"\x02?AB\r",
        b"\x02?\x01\r",
        b"\x021.2.3\r",
        b"\x02-1.000\r",
        b"\x02abc\r",
        b"\x021234.000\r",
        b"\x0201.2345\r",
    ],
)
def test_parse_reply_refuses_malformed_frames(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_reply(frame)


@settings(deadline=None)
@given(st.binary(max_size=40), st.booleans())
def test_parse_reply_raises_only_protocol_error(data: bytes, framed: bool) -> None:
    with contextlib.suppress(ProtocolError):
        reading = parse_reply(b"\x02" + data + b"\r" if framed else data)
        assert reading.grams is None or 0 <= reading.grams < 1_000_000


@settings(deadline=None)
@given(st.integers(0, 99_999), st.booleans())
def test_encode_then_parse_round_trips(grams: int, net: bool) -> None:
    reading = parse_reply(mt.encode_weight(grams, net))
    assert (reading.grams, reading.net) == (grams, net)


@settings(deadline=None)
@given(st.lists(st.binary(max_size=20), max_size=20))
def test_frame_reader_never_raises_and_yields_only_frames(chunks: list[bytes]) -> None:
    reader = FrameReader()
    for chunk in chunks:
        for frame in reader.feed(chunk):
            assert frame[:1] == b"\x02" and frame[-1:] == b"\r"
            assert b"\x02" not in frame[1:] and b"\r" not in frame[:-1]


def test_frame_reader_skips_noise_and_frames_cut_short() -> None:
    reader = FrameReader()
    assert reader.feed(b"\x00zz\x0201.2") == []
    assert reader.feed(b"\x0202.000\r\xff\x02?A\rtrailing") == [b"\x0202.000\r", b"\x02?A\r"]
    assert reader.skipped == 3 + 5 + 1 + 8  # noise, the cut frame, 0xff, the trailing text


@pytest.mark.parametrize(
    ("reading", "weight"),
    [
        (Reply(1234), Weight(1234, True, "ok", 0)),
        (Reply(0), Weight(0, True, "at_zero", 0)),
        (Reply(250, net=True, status=mt.NET), Weight(250, True, "ok", 500)),
        (Reply(None, status=0x41), Weight(700, False, "motion", 0)),
        (Reply(None, status=0x42), Weight(0, False, "over_capacity", 0)),
        (Reply(None, status=0x44), Weight(0, False, "under_zero", 0)),
        (Reply(None, status=0x50), Weight(0, True, "at_zero", 0)),
        (Reply(None, status=0x48), Weight(0, False, "error", 0)),  # outside zero capture
    ],
)
def test_to_weight(reading: Reply, weight: Weight) -> None:
    assert to_weight(reading, tare_g=500, moving_grams=700) == weight


# -- driver against the simulator ---------------------------------------------------------------


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[ScaleSimulator]:
    yield from running(ScaleSimulator(link=tmp_path / "ttyUSB-scale"))


@pytest.fixture
def scale(simulator: ScaleSimulator) -> Iterator[tuple[MettlerToledoScale, Events]]:
    events = Events()
    driver = MettlerToledoScale(str(simulator.link), events.on_weight, events.on_online)
    driver.start()
    wait_until(lambda: driver.online, "the scale to come online")
    yield driver, events
    driver.stop()


def test_opens_with_the_echo_probe_then_polls(
    simulator: ScaleSimulator, scale: tuple[MettlerToledoScale, Events]
) -> None:
    wait_until(lambda: simulator.received.count(b"W") >= 2, "polls")
    assert bytes(simulator.received).startswith(b"EhelloF")


def test_publishes_a_weight_only_when_it_changes(
    simulator: ScaleSimulator, scale: tuple[MettlerToledoScale, Events]
) -> None:
    _, events = scale
    events.wait_weight(grams=0, status="at_zero")
    simulator.set_weight(1234)
    assert events.wait_weight(grams=1234) == Weight(1234, True, "ok", 0)
    count, polls = len(events.weights), simulator.received.count(b"W")
    wait_until(lambda: simulator.received.count(b"W") >= polls + 10, "ten more polls")
    assert len(events.weights) == count


def test_motion_overload_and_under_zero(
    simulator: ScaleSimulator, scale: tuple[MettlerToledoScale, Events]
) -> None:
    _, events = scale
    simulator.set_weight(800)
    events.wait_weight(grams=800, stable=True)
    simulator.motion = True
    assert events.wait_weight(status="motion") == Weight(800, False, "motion", 0)
    simulator.motion = False
    simulator.set_weight(20_000)
    events.wait_weight(status="over_capacity", stable=False)
    simulator.set_weight(-40)
    events.wait_weight(status="under_zero", stable=False)


def test_noise_on_the_line_is_skipped(
    simulator: ScaleSimulator, scale: tuple[MettlerToledoScale, Events]
) -> None:
    driver, events = scale
    simulator.inject_noise(b"\x00\xffjunk\x02?\x02bad\r\r\n")
    simulator.set_weight(321)
    events.wait_weight(grams=321, stable=True)
    simulator.inject_noise(b"\x0201.2")  # a reply cut short by the next one
    simulator.set_weight(322)
    events.wait_weight(grams=322)
    assert driver.online


def test_slow_replies_still_arrive(
    simulator: ScaleSimulator, scale: tuple[MettlerToledoScale, Events]
) -> None:
    driver, events = scale
    simulator.reply_delay_s = 0.1
    simulator.set_weight(4500)
    events.wait_weight(grams=4500)
    assert driver.online


def test_tare_and_clear_tare(
    simulator: ScaleSimulator, scale: tuple[MettlerToledoScale, Events]
) -> None:
    driver, events = scale
    simulator.set_weight(300)  # the empty container
    events.wait_weight(grams=300, stable=True)
    driver.tare().result(timeout=WAIT_S)
    events.wait_weight(grams=0, tare_g=300)
    simulator.set_weight(1300)
    assert events.wait_weight(grams=1000) == Weight(1000, True, "ok", 300)
    driver.clear_tare().result(timeout=WAIT_S)
    assert events.wait_weight(grams=1300) == Weight(1300, True, "ok", 0)
    assert b"T" in simulator.received and b"C" in simulator.received


def test_zero_command_reaches_the_scale(
    simulator: ScaleSimulator, scale: tuple[MettlerToledoScale, Events]
) -> None:
    driver, events = scale
    simulator.set_weight(20)  # crumbs on the platter, inside the zero range
    events.wait_weight(grams=20)
    driver.zero().result(timeout=WAIT_S)
    events.wait_weight(grams=0, status="at_zero")


def test_unplug_reports_offline_and_replug_recovers(
    simulator: ScaleSimulator,
    scale: tuple[MettlerToledoScale, Events],
) -> None:
    driver, events = scale
    simulator.stop()
    wait_until(lambda: not driver.online, "the scale to go offline")
    with pytest.raises(ScaleError, match="offline"):
        driver.tare().result(timeout=WAIT_S)
    simulator.set_weight(777)
    simulator.start()
    events.wait_weight(grams=777)
    assert events.online == [True, False, True]


def test_a_missing_port_is_offline_and_refuses_commands(tmp_path: Path) -> None:
    events = Events()
    driver = MettlerToledoScale(str(tmp_path / "no-such-tty"), events.on_weight, events.on_online)
    driver.start()
    try:
        with pytest.raises(ScaleError, match="offline"):
            driver.zero().result(timeout=WAIT_S)
    finally:
        driver.stop()
    assert events.weights == [] and events.online == []


def test_a_silent_device_never_comes_online() -> None:
    master, slave = os.openpty()
    events = Events()
    driver = MettlerToledoScale(os.ttyname(slave), events.on_weight, events.on_online)
    driver.start()
    heard = bytearray()
    try:
        while heard.count(b"W") < serial_scale.MISSED_REPLIES_OFFLINE + 2:
            ready, _, _ = select.select([master], [], [], WAIT_S)
            assert ready, "the driver stopped polling"
            heard += os.read(master, 64)
    finally:
        driver.stop()
        os.close(master)
        os.close(slave)
    assert not driver.online and events.online == [] and events.weights == []
