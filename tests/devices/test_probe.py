"""`backroom devices probe`: which protocol answers, against the simulators on ptys."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from devices import probe
from devices.scale import PROTOCOLS
from devices.scale.nci_simulator import NCISimulator
from devices.scale.protocol import ScaleError
from devices.scale.pty_simulator import PtyScale
from devices.scale.simulator import ScaleSimulator
from devices.scale.simulators import SIMULATORS
from hub.cli import main


@pytest.fixture(autouse=True)
def fast_timing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "READ_S", 0.1)


@pytest.fixture(params=[ScaleSimulator, NCISimulator], ids=["mettler8217", "nci"])
def simulator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PtyScale]:
    sim = request.param(link=tmp_path / "ttyUSB0")
    sim.set_weight(1234)
    sim.start()
    yield sim
    sim.stop()


@pytest.mark.parametrize("name", PROTOCOLS)
def test_finds_the_protocol_the_scale_speaks(name: str, tmp_path: Path) -> None:
    sim = SIMULATORS[name](link=tmp_path / "ttyUSB0")
    sim.set_weight(1234)
    sim.start()
    try:
        tried = probe.probe(str(sim.link))
        first = probe.probe(str(sim.link), first_only=True)
    finally:
        sim.stop()
    assert [r["protocol"] for r in tried] == list(PROTOCOLS)
    assert [r["protocol"] for r in tried if r["answered"]] == [name]
    hit = next(r for r in tried if r["answered"])
    assert hit["reading"] == {"grams": 1234, "stable": True, "status": "ok"}
    s = PROTOCOLS[name].settings
    assert hit["settings"] == {"baud": s.baud, "bits": s.bytesize, "parity": s.parity, "stop": 1}
    assert probe.found(tried) == name
    assert [r["protocol"] for r in first] == list(PROTOCOLS)[: list(PROTOCOLS).index(name) + 1]


def test_a_port_held_by_a_driver_is_reported_in_use(simulator: PtyScale) -> None:
    with serial.Serial(str(simulator.link), exclusive=True):
        tried = probe.probe(str(simulator.link))
    assert not any(r["answered"] for r in tried)
    assert all("in use by another program" in r["error"] for r in tried)


def test_cli_prints_one_json_object(
    simulator: PtyScale, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = "nci" if isinstance(simulator, NCISimulator) else "mettler8217"
    assert main(["devices", "probe", str(simulator.link), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["port"] == str(simulator.link) and out["found"] == expected
    assert [t["protocol"] for t in out["tried"]] == list(PROTOCOLS)


def test_cli_table_and_protocol_filter(
    simulator: PtyScale, capsys: pytest.CaptureFixture[str]
) -> None:
    other = "mettler8217" if isinstance(simulator, NCISimulator) else "nci"
    assert main(["devices", "probe", str(simulator.link), "--protocol", other]) == 1
    out = capsys.readouterr().out
    assert out.startswith(other) and "no answer" in out and "found: nothing answered" in out


def test_a_silent_port_answers_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    master, slave = os.openpty()
    try:
        assert main(["devices", "probe", os.ttyname(slave), "--json"]) == 1
    finally:
        os.close(master)
        os.close(slave)
    out = json.loads(capsys.readouterr().out)
    assert out["found"] is None and not any(r["answered"] for r in out["tried"])


def test_a_missing_port_is_one_clean_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ScaleError, match="no serial port"):
        probe.probe(str(tmp_path / "ttyUSB9"))
    assert main(["devices", "probe", str(tmp_path / "ttyUSB9")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no serial port at" in err and "Traceback" not in err
