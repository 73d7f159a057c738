"""The agent's serial scales: one SerialScale per pinned or detected port, with its commands on
the bus. Pinned scales (the config's [devices] scales) start first; with autodetect on, the
other USB serial ports are probed at start and whenever a new one appears (devices/scale/detect.py).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from devices import bus
from devices.hosting import COMMAND_TIMEOUT_S, Hosting, SettingsError, derived_id
from devices.link import CommandFailed
from devices.scale import PROTOCOLS, ScaleError, SerialScale
from devices.scale.detect import Candidate, Lister, detect, list_candidates

log = logging.getLogger(__name__)


class ScaleSpec(NamedTuple):
    id: str
    port: str
    protocol: str


def scales_from(
    raw: Sequence[Mapping[str, Any]],
    given_id: Callable[[Mapping[str, Any], str], str],
    need: Callable[[Mapping[str, Any], str, str, str], str],
) -> tuple[ScaleSpec, ...]:
    """The scales of the agent settings; a scale without an id is named after its port."""
    scales = []
    for n, s in enumerate(raw):
        entry = f"scales[{n}]"
        port = need(s, "port", entry, "/dev/ttyUSB0")
        dev_id = given_id(s, entry) or derived_id("scale", PurePosixPath(port).name)
        protocol = s.get("protocol", "mettler8217")
        if protocol not in PROTOCOLS:
            raise SettingsError(
                f"scale {dev_id} has protocol {protocol!r}; supported: {', '.join(PROTOCOLS)}"
            )
        scales.append(ScaleSpec(dev_id, port, protocol))
    return tuple(scales)


class ScaleHost:
    """Runs each pinned and detected scale's driver loop and answers zero, tare and clear_tare.

    Detection probes a port once while it stays plugged in: a port that answered nothing is
    tried again only after it disappears and comes back. A port first seen by supervise() is
    probed at the next call, so udev has made its by-id link (and the id that goes with it).
    """

    def __init__(
        self,
        scales: Sequence[ScaleSpec],
        hosting: Hosting,
        autodetect: bool = False,
        lister: Lister | None = None,
        link_dirs: Sequence[Path] | None = None,
    ) -> None:
        self.specs, self.hosting = tuple(scales), hosting
        self.autodetect, self._lister, self._link_dirs = autodetect, lister, link_dirs
        self.detected: list[ScaleSpec] = []  # scales autodetection found, in the order found
        self._scales: list[SerialScale] = []
        self._lock = threading.Lock()  # _scales, detected, and _start_scale from the scan thread
        self._seen: set[tuple[str, str]] = set()  # ports listed last time (probed or skipped)
        self._pending: set[tuple[str, str]] = set()  # listed once, probed when listed again
        self._scan: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        for spec in self.specs:
            self._start_scale(spec)
        if self.autodetect:
            self._look(settle=False)

    def supervise(self) -> None:
        """Look for newly plugged serial ports; each scale's loop reopens its own after an unplug."""
        if self.autodetect:
            self._look(settle=True)

    def stop(self) -> None:
        self._stop.set()
        if self._scan is not None:
            self._scan.join()
        with self._lock:
            scales = list(self._scales)
        for scale in scales:
            scale.stop()

    @property
    def scanning(self) -> bool:
        """Whether ports are being probed right now."""
        return self._scan is not None and self._scan.is_alive()

    def _look(self, settle: bool) -> None:
        if self._stop.is_set() or self.scanning:
            return  # the last scan is still probing; new ports wait for the next call
        try:
            candidates = list_candidates(self._lister, self._link_dirs)
        except OSError as exc:  # sysfs read while a device is being unplugged
            log.info("could not list the serial ports (%s); trying again in a moment", exc)
            return
        # A port is known by its node and its id: another device on the same ttyUSB0 is news.
        listed = {(c.node, c.dev_id): c for c in candidates}
        new = {key: c for key, c in listed.items() if key not in self._seen}
        ready = [c for key, c in new.items() if not settle or key in self._pending]
        self._pending = {key for key, c in new.items() if c not in ready}
        self._seen = set(listed) - self._pending
        wanted = [c for c in ready if not self._taken(c)]
        if wanted:
            self._scan = threading.Thread(
                target=self._detect, args=(wanted,), name="scale-detect", daemon=True
            )
            self._scan.start()

    def _taken(self, candidate: Candidate) -> bool:
        """Whether a pinned or running scale has this port (resolved now: links move on replug)."""
        node = os.path.realpath(candidate.node)
        with self._lock:
            specs = [*self.specs, *self.detected]
        for spec in specs:
            if spec.id == candidate.dev_id or spec.port == candidate.path:
                return True
            if os.path.exists(spec.port) and os.path.realpath(spec.port) == node:
                return True
        return False

    def _detect(self, candidates: list[Candidate]) -> None:
        for found in detect(candidates, stop=self._stop):
            c = found.candidate
            if found.protocol is None:
                log.info("no scale answered on %s (%s); pin it if one is there", c.path, c.usb)
                continue
            spec = ScaleSpec(c.dev_id, c.path, found.protocol)
            with self._lock:
                if self._stop.is_set() or self._taken_by_id(spec.id):
                    continue
                log.info("found a %s scale on %s: %s", found.protocol, c.path, spec.id)
                self.detected.append(spec)
                self._start_scale(spec)

    def _taken_by_id(self, dev_id: str) -> bool:
        return any(s.id == dev_id for s in (*self.specs, *self.detected))

    def _start_scale(self, spec: ScaleSpec) -> None:
        link = self.hosting.new_link(
            spec.id,
            bus.DeviceConfig(
                "scale",
                f"Scale on {spec.port}",
                model=spec.protocol,
                connection=f"serial {spec.port}",
                capabilities=["weight", *PROTOCOLS[spec.protocol].commands],
            ),
        )
        scale = SerialScale(
            spec.port,
            PROTOCOLS[spec.protocol](),
            partial(link.publish_event, "weight", state=True),
            lambda online, _reason: link.set_available(online),
        )
        for name in ("tare", "zero", "clear_tare"):  # refused with a clear message where missing
            link.commands[name] = partial(_command, getattr(scale, name), name, spec.port)
        link.start()
        scale.start()
        self._scales.append(scale)


def _command(method: Callable[[], Any], name: str, port: str, _payload: bytes) -> None:
    try:
        method().result(timeout=COMMAND_TIMEOUT_S)
    except ScaleError as exc:
        raise CommandFailed(str(exc)) from exc
    except TimeoutError as exc:
        raise CommandFailed(
            f"scale on {port} did not take {name} within {COMMAND_TIMEOUT_S:g} s"
        ) from exc
