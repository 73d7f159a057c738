"""NCI / Weigh-Tronix: the pure protocol, and the serial loop against the simulator over a pty."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.bus import Weight
from devices.scale import nci
from devices.scale.nci import NCI, FrameReader, parse_reply
from devices.scale.nci_simulator import NCISimulator
from devices.scale.protocol import ProtocolError, Reading, ScaleError
from devices.scale.serial_scale import SerialScale
from tests.devices.conftest import WAIT_S, wait_until
from tests.devices.scale_helpers import Events, driving, running

pytestmark = pytest.mark.usefixtures("fast_driver_timing")


# -- protocol ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "reading"),
    [
        (b"\n  1.234kg\r\n00\r\x03", Reading(1234, True, "ok")),
        (b"\n  0.000kg\r\n20\r\x03", Reading(0, True, "at_zero")),  # 0x32: at zero
        (b"\n 15.5kg\r\n00\r\x03", Reading(15500, True, "ok")),
        (b"\n  0.800kg\r\n10\r\x03", Reading(800, False, "motion")),  # 0x31: motion
        (b"\n-------kg\r\n02\r\x03", Reading(None, False, "over_capacity")),
        (b"\n -0.040kg\r\n01\r\x03", Reading(None, False, "under_zero")),
        (b"\n -0.040kg\r\n00\r\x03", Reading(None, False, "under_zero")),  # a minus sign alone
        (b"\n  1.000kg\r\n40\r\x03", Reading(None, False, "error")),  # 0x34: RAM error
        (b"\n  1.000kg\r\n000\r\x03", Reading(1000, True, "ok")),  # optional third status byte
        (b"\n00\r\x03", Reading(None, True, "ok")),  # the answer to S or Z
        (b"\n20\r\x03", Reading(None, True, "at_zero")),
    ],
)
def test_parse_reply(frame: bytes, reading: Reading) -> None:
    assert parse_reply(frame) == reading


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"\n?\r\x03", "did not understand"),
        (b"\n  2.205lb\r\n00\r\x03", "set it to kg"),
        (b"\n  1.234\r\n00\r\x03", "set it to kg"),
        (b"\n  1.2345kg\r\n00\r\x03", "up to 3 decimals"),
        (b"\n  1.234kg\r\n\x00\x00\r\x03", "0x30"),
        (b"\n  1.234kg\r\n0\r\x03", "2 or 3 bytes"),
        (b"  1.234kg\r\n00\r\x03", "framed"),
        (b"\n  1.234kg\r\n00\r", "framed"),
    ],
)
def test_parse_reply_refuses_what_it_cannot_trust(frame: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_reply(frame)


@settings(deadline=None)
@given(st.integers(-99_999, 999_999), st.integers(0, 3), st.integers(0, 3))
def test_encode_then_parse_round_trips(grams: int, status1: int, status2: int) -> None:
    reading = parse_reply(nci.encode_weight(grams, status1, status2))
    if status2 & nci.OVER_CAPACITY:
        assert reading.status == "over_capacity"
    elif status2 & nci.UNDER_CAPACITY or grams < 0:
        assert reading.status == "under_zero"
    else:
        assert reading.grams == grams
        assert reading.stable is not bool(status1 & nci.MOTION)


@settings(deadline=None)
@given(st.binary(max_size=40), st.booleans())
def test_parse_reply_raises_only_protocol_error(data: bytes, framed: bool) -> None:
    with contextlib.suppress(ProtocolError):
        parse_reply(b"\n" + data + b"\r\x03" if framed else data)


@settings(deadline=None)
@given(st.lists(st.binary(max_size=20), max_size=20))
def test_frame_reader_never_raises_and_yields_only_frames(chunks: list[bytes]) -> None:
    reader = FrameReader()
    for chunk in chunks:
        for frame in reader.feed(chunk):
            assert frame[:1] == b"\n" and frame[-2:] == b"\r\x03" and b"\x03" not in frame[:-1]


def test_frame_reader_skips_noise_and_replies_cut_short() -> None:
    reader = FrameReader()
    assert reader.feed(b"\x00zz\n  1.2") == []
    reply = nci.encode_weight(2000)
    assert reader.feed(reply + b"\xff" + nci.encode_status() + b"tail") == [reply, b"\n00\r\x03"]
    assert reader.feed(b"\x03") == []
    assert reader.skipped == 3 + 6 + 1 + 5  # noise, the cut reply, 0xff, the tail and its ETX


# -- the serial loop against the simulator -------------------------------------------------------


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[NCISimulator]:
    yield from running(NCISimulator(link=tmp_path / "ttyUSB-nci"))


@pytest.fixture
def scale(simulator: NCISimulator) -> Iterator[tuple[SerialScale, Events]]:
    yield from driving(simulator, NCI(), wait_online=True)


def test_polls_with_w_and_publishes_changes_only(
    simulator: NCISimulator, scale: tuple[SerialScale, Events]
) -> None:
    _, events = scale
    events.wait_weight(grams=0, status="at_zero")
    simulator.set_weight(1234)
    assert events.wait_weight(grams=1234) == Weight(1234, True, "ok", 0)
    count, polls = len(events.weights), simulator.received.count(b"W\r")
    wait_until(lambda: simulator.received.count(b"W\r") >= polls + 10, "ten more polls")
    assert len(events.weights) == count
    assert bytes(simulator.received).startswith(b"W\r")  # no probe: NCI has none


def test_motion_overload_and_under_zero(
    simulator: NCISimulator, scale: tuple[SerialScale, Events]
) -> None:
    _, events = scale
    simulator.set_weight(800)
    events.wait_weight(grams=800, stable=True)
    simulator.motion = True
    simulator.set_weight(850)
    assert events.wait_weight(status="motion") == Weight(850, False, "motion", 0)
    simulator.motion = False
    simulator.set_weight(20_000)
    assert events.wait_weight(status="over_capacity") == Weight(0, False, "over_capacity", 0)
    simulator.set_weight(-40)
    assert events.wait_weight(status="under_zero") == Weight(0, False, "under_zero", 0)


def test_noise_on_the_line_is_skipped(
    simulator: NCISimulator, scale: tuple[SerialScale, Events]
) -> None:
    driver, events = scale
    simulator.inject_noise(b"\x00\xffjunk\x03\n?\r\x03\r\n")
    simulator.set_weight(321)
    events.wait_weight(grams=321, stable=True)
    simulator.inject_noise(b"\n  1.2")  # a reply cut short by the next one
    simulator.set_weight(322)
    events.wait_weight(grams=322)
    assert driver.online


def test_slow_replies_still_arrive(
    simulator: NCISimulator, scale: tuple[SerialScale, Events]
) -> None:
    driver, events = scale
    simulator.reply_delay_s = 0.1
    simulator.set_weight(4500)
    events.wait_weight(grams=4500)
    assert driver.online


def test_zero_command_reaches_the_scale_and_tare_is_refused(
    simulator: NCISimulator, scale: tuple[SerialScale, Events]
) -> None:
    driver, events = scale
    simulator.set_weight(20)  # crumbs on the platter, inside the zero range
    events.wait_weight(grams=20)
    driver.zero().result(timeout=WAIT_S)
    events.wait_weight(grams=0, status="at_zero")
    assert b"Z\r" in simulator.received
    simulator.set_weight(520)
    assert events.wait_weight(grams=500) == Weight(500, True, "ok", 0)  # no lag after Z's reply
    with pytest.raises(ScaleError, match="no tare command"):
        driver.tare().result(timeout=WAIT_S)


def test_a_scale_set_to_pounds_never_comes_online(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = NCISimulator(link=tmp_path / "ttyUSB-lb")
    sim.unit = "lb"
    sim.start()
    events = Events()
    driver = SerialScale(str(sim.link), NCI(), events.on_weight, events.on_online)
    with caplog.at_level(logging.WARNING, logger="devices.scale.serial_scale"):
        driver.start()
        try:
            wait_until(lambda: "set it to kg" in caplog.text, "the offline reason")
        finally:
            driver.stop()
            sim.stop()
    assert not driver.online and events.weights == []


def test_unplug_reports_offline_and_replug_recovers(
    simulator: NCISimulator, scale: tuple[SerialScale, Events]
) -> None:
    driver, events = scale
    simulator.stop()
    wait_until(lambda: not driver.online, "the scale to go offline")
    with pytest.raises(ScaleError, match="offline"):
        driver.zero().result(timeout=WAIT_S)
    simulator.set_weight(777)
    simulator.start()
    events.wait_weight(grams=777)
    assert events.online == [True, False, True]
