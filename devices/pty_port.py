"""A serial port for simulators: a raw pty, optionally behind a by-id style symlink.

A driver opens the link (like /dev/serial/by-id/...); a replug re-points it at a new pty, as
udev re-points the real link, so drivers see an unplug and a replug the way they would in a shop.
"""

from __future__ import annotations

import os
import tty
from pathlib import Path


def open_pty(link: Path | None = None) -> tuple[int, int, str]:
    """(master fd, slave fd, the path a driver should open): the link when given, else the pty."""
    master, slave = os.openpty()
    tty.setraw(slave)  # bytes pass as they are: no echo, no line editing
    path = os.ttyname(slave)
    if link is not None:
        tmp = link.with_name(link.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(path)
        tmp.replace(link)  # atomic: a driver never sees a missing link during a replug
        path = str(link)
    return master, slave, path
