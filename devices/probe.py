"""Which scale protocol answers on a serial port: try each one's settings, probe and poll.

For `backroom devices probe PORT` and for autodetection (devices/scale/detect.py). The port is
opened for exclusive use, so a port a running scale driver holds is reported as busy, not probed.
"""

from __future__ import annotations

import errno
import os
import termios
import threading
import time
from collections.abc import Mapping
from typing import Any

import serial

from devices.scale import PROTOCOLS
from devices.scale.protocol import ProtocolError, Reading, ScaleError, ScaleProtocol

READ_S = 0.5  # how long to wait for each answer; module level so tests can shrink it
POLLS = 2  # a scale may answer the first poll with "?" after another protocol's probe bytes


def probe(
    port: str,
    protocols: Mapping[str, type[ScaleProtocol]] = PROTOCOLS,
    first_only: bool = False,
    stop: threading.Event | None = None,
) -> list[dict[str, Any]]:
    """One result per protocol tried, in order: its settings, whether it answered and what it
    read. first_only stops at the first protocol that answers; stop (when set) before the next."""
    if not os.path.exists(port):
        raise ScaleError(f"no serial port at {port}; check the cable (ls /dev/serial/by-id/)")
    results: list[dict[str, Any]] = []
    for name, cls in protocols.items():
        if stop is not None and stop.is_set():
            break
        results.append(try_protocol(port, name, cls()))
        if first_only and results[-1]["answered"]:
            break
    return results


def try_protocol(port: str, name: str, protocol: ScaleProtocol) -> dict[str, Any]:
    """Open the port with this protocol's settings, send its handshake, poll (POLLS times)."""
    s = protocol.settings
    result: dict[str, Any] = {
        "protocol": name,
        "title": protocol.title,
        "settings": {"baud": s.baud, "bits": s.bytesize, "parity": s.parity, "stop": s.stopbits},
        "answered": False,
        "reading": None,
        "error": None,
    }
    try:
        with serial.Serial(
            port,
            s.baud,
            bytesize=s.bytesize,
            parity=s.parity,
            stopbits=s.stopbits,
            timeout=READ_S,
            write_timeout=1,
            exclusive=True,
        ) as line:
            if (hello := protocol.probe()) is not None:
                line.write(hello[0])
                result["answered"] = line.read(len(hello[1])) == hello[1]
                line.write(protocol.after_probe())
            reading, problem = None, None
            for _ in range(POLLS):
                line.reset_input_buffer()
                line.write(protocol.poll)
                reading, problem = _read(line, protocol)
                if reading is not None:
                    break
    except (OSError, termios.error) as exc:  # SerialException is an OSError; ptys raise termios'
        busy = isinstance(exc, OSError) and exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK)
        result["error"] = (
            f"{port} is in use by another program (a running devices agent?); stop it first"
            if busy
            else str(exc)
        )
        return result
    if reading is not None:
        result["answered"] = True
        result["reading"] = {
            "grams": reading.grams,
            "stable": reading.stable,
            "status": reading.status,
        }
    elif problem:
        result["error"] = problem
    return result


def _read(line: serial.Serial, protocol: ScaleProtocol) -> tuple[Reading | None, str | None]:
    """The first frame that parses, else None and why the last one did not."""
    frames, problem = protocol.splitter(), None
    deadline = time.monotonic() + READ_S
    while time.monotonic() < deadline:
        data = line.read_until(protocol.terminator) + line.read(line.in_waiting)
        for frame in frames.feed(data):
            if follow_up := protocol.answer(frame):
                line.write(follow_up)
                continue
            try:
                return protocol.parse(frame), None
            except ProtocolError as exc:
                problem = str(exc)
    return None, problem


def found(results: list[dict[str, Any]]) -> str | None:
    """The first protocol that answered, or None."""
    return next((r["protocol"] for r in results if r["answered"]), None)
