"""Every scale protocol's pty simulator, by the protocol's config name (tests, demo, bench)."""

from __future__ import annotations

from devices.scale.adam import AdamSimulator
from devices.scale.cas import CasSimulator
from devices.scale.dialog import DialogSimulator
from devices.scale.nci_simulator import NCISimulator
from devices.scale.pty_simulator import PtyScale
from devices.scale.simulator import ScaleSimulator

SIMULATORS: dict[str, type[PtyScale]] = {
    "mettler8217": ScaleSimulator,
    "nci": NCISimulator,
    "dialog": DialogSimulator,
    "cas_pd2": CasSimulator,
    "adam": AdamSimulator,
}
