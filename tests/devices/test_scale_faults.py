"""Every protocol against its simulator's faults, through the one driver loop: motion, overload,
under zero, garbage, slow replies, unplug and replug; and the weight stream's rate limit."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.bus import WEIGHT_STATUSES
from devices.scale import PROTOCOLS, serial_scale
from devices.scale.protocol import ProtocolError
from devices.scale.pty_simulator import PtyScale
from devices.scale.serial_scale import SerialScale
from devices.scale.simulators import SIMULATORS
from tests.devices.conftest import wait_until
from tests.devices.scale_helpers import Events, driving, running

pytestmark = pytest.mark.usefixtures("fast_driver_timing")

# Adam's AZExtra shows motion and overload on its display only and says nothing on the line.
REPORTS_MOTION_AND_OVERLOAD = [name for name in PROTOCOLS if name != "adam"]
NOISE = b"\xff\x00garbage\xfe\x7f\x02\x01\x03\x04\r\n"


def test_every_protocol_has_a_simulator() -> None:
    assert set(SIMULATORS) == set(PROTOCOLS)


@pytest.mark.parametrize("name", PROTOCOLS)
@settings(deadline=None, max_examples=200)
@given(chunks=st.lists(st.binary(max_size=40), max_size=20))
def test_random_bytes_yield_readings_or_protocol_errors(name: str, chunks: list[bytes]) -> None:
    protocol = PROTOCOLS[name]()
    splitter = protocol.splitter()
    for chunk in chunks:
        for frame in splitter.feed(chunk):
            protocol.answer(frame)
            with contextlib.suppress(ProtocolError):
                reading = protocol.parse(frame)
                assert reading.status in WEIGHT_STATUSES
                assert reading.grams is None or reading.grams >= 0


@pytest.fixture(params=list(PROTOCOLS))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def simulator(name: str, tmp_path: Path) -> Iterator[PtyScale]:
    sim = SIMULATORS[name](link=tmp_path / f"usb-{name}-if00-port0", capacity_g=15_000)
    sim.set_weight(1000)
    yield from running(sim)


@pytest.fixture
def driver(name: str, simulator: PtyScale) -> Iterator[tuple[SerialScale, Events]]:
    yield from driving(simulator, PROTOCOLS[name](), wait_online=True)


@pytest.mark.parametrize("name", REPORTS_MOTION_AND_OVERLOAD, indirect=True)
def test_motion_and_overload(simulator: PtyScale, driver: tuple[SerialScale, Events]) -> None:
    _, events = driver
    events.wait_weight(grams=1000, stable=True, status="ok")
    simulator.motion = True
    events.wait_weight(stable=False, status="motion")
    simulator.motion = False
    simulator.set_weight(1500)
    events.wait_weight(grams=1500, stable=True, status="ok")
    simulator.set_weight(20_000)
    events.wait_weight(stable=False, status="over_capacity")


def test_under_zero(simulator: PtyScale, driver: tuple[SerialScale, Events]) -> None:
    _, events = driver
    events.wait_weight(grams=1000, status="ok")
    simulator.set_weight(-50)
    assert events.wait_weight(status="under_zero").grams == 0
    simulator.set_weight(2000)
    events.wait_weight(grams=2000, stable=True, status="ok")


def test_garbage_is_skipped_and_logged_once_a_while(
    simulator: PtyScale, driver: tuple[SerialScale, Events], caplog: pytest.LogCaptureFixture
) -> None:
    scale, events = driver
    events.wait_weight(grams=1000)
    with caplog.at_level(logging.WARNING, logger=serial_scale.__name__):
        for grams in (1100, 1200, 1300):  # Adam speaks only on a new weight: noise rides on it
            simulator.inject_noise(NOISE)
            simulator.set_weight(grams)
            events.wait_weight(grams=grams, status="ok")
    noise_logs = [r for r in caplog.records if "were not" in r.getMessage()]
    assert len(noise_logs) == 1  # NOISE_LOG_INTERVAL_S keeps a noisy line out of the journal
    assert scale.online and events.online == [True]


def test_replies_slower_than_the_timeout_go_offline_then_recover(
    name: str,
    simulator: PtyScale,
    driver: tuple[SerialScale, Events],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(serial_scale, "MISSED_REPLIES_OFFLINE", 3)
    scale, events = driver
    events.wait_weight(grams=1000)
    simulator.reply_delay_s = serial_scale.REPLY_TIMEOUT_S / 5  # slow, but within the timeout
    simulator.set_weight(1400)
    events.wait_weight(grams=1400, status="ok")
    assert events.online == [True]
    simulator.reply_delay_s = serial_scale.REPLY_TIMEOUT_S * 2
    if PROTOCOLS[name].silence_is_normal:  # no answer is "nothing new": it stays online
        time.sleep(serial_scale.REPLY_TIMEOUT_S * serial_scale.MISSED_REPLIES_OFFLINE)
        assert scale.online
    else:
        wait_until(lambda: not scale.online, "the scale to go offline")
    simulator.reply_delay_s = 0
    simulator.set_weight(1700)
    events.wait_weight(grams=1700, status="ok")
    wait_until(lambda: scale.online, "the scale to come back online")
    assert all(w.grams in (1000, 1400, 1700) for w in events.weights)  # no late reply misread


def test_unplug_and_replug(simulator: PtyScale, driver: tuple[SerialScale, Events]) -> None:
    scale, events = driver
    events.wait_weight(grams=1000)
    simulator.stop()  # the pty closes and its by-id style link goes
    wait_until(lambda: not scale.online, "the scale to go offline")
    simulator.set_weight(2500)
    simulator.start()  # a new pty behind the same link
    events.wait_weight(grams=2500, status="ok")
    assert events.online == [True, False, True]


def test_a_weight_changing_at_50_hz_is_published_at_most_10_times_a_second(
    name: str, simulator: PtyScale, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serial_scale, "POLL_INTERVAL_S", 0.005)
    monkeypatch.setattr(serial_scale, "MIN_PUBLISH_INTERVAL_S", 0.1)
    sent_at: list[float] = []
    events = Events()

    def on_weight(weight: object) -> None:
        sent_at.append(time.monotonic())
        events.on_weight(weight)  # type: ignore[arg-type]

    done = threading.Event()

    def wobble() -> None:
        grams = 1000
        while not done.wait(0.02):
            grams = 1000 + (grams + 7) % 500
            simulator.set_weight(grams)
        simulator.set_weight(4321)  # where the platter settles

    scale = SerialScale(str(simulator.link), PROTOCOLS[name](), on_weight, events.on_online)
    changer = threading.Thread(target=wobble)
    scale.start()
    changer.start()
    try:
        wait_until(lambda: len(sent_at) >= 8, "several weights while the platter wobbles")
        done.set()
        changer.join()
        events.wait_weight(grams=4321, status="ok")
    finally:
        done.set()
        changer.join()
        scale.stop()
    gaps = [b - a for a, b in zip(sent_at, sent_at[1:], strict=False)]
    # MIN_PUBLISH_INTERVAL_S apart when sent; the callback's own clock reading may jitter a bit.
    assert min(gaps) >= 0.08, gaps
