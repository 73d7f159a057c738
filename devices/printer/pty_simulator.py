"""A receipt printer on a pty: the serial (DB-9 or USB-serial) printer, and the USB printer as
the kernel's usblp driver shows it (/dev/usb/lp0 reads and writes like a raw tty).

It decodes the ESC/POS stream with the same decoder as the network simulator, answers DLE EOT
1-4 with the status bits of its faults, and with link points a symlink at the pty (like
/dev/serial/by-id/... or a udev name) so stop() looks like pulling the cable.
"""

from __future__ import annotations

import os
import select
import threading
from pathlib import Path

from devices.printer.simulator import SimulatedPrinter
from devices.pty_port import open_pty


class PtyPrinterSimulator(SimulatedPrinter):
    """An ESC/POS printer on the master side of a pty. start() returns the path to open."""

    def __init__(
        self, out_dir: Path, link: str | os.PathLike[str] | None = None, *, width: int = 42
    ) -> None:
        super().__init__(out_dir, width)
        self.link = Path(link) if link is not None else None
        self.received = bytearray()  # every byte the driver sent, for tests
        self._thread: threading.Thread | None = None
        self._fds: tuple[int, int] | None = None
        self._wake: tuple[int, int] | None = None
        self.path = ""

    @property
    def name(self) -> str:
        return f"pty printer simulator {self.path}"

    def start(self) -> str:
        """Open the pty and serve it in a thread; return the path a driver should open."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already started")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        master, slave, path = open_pty(self.link)
        self._fds, self._wake = (master, slave), os.pipe()
        self.path = path
        self._thread = threading.Thread(target=self._run, name="pty-printer", daemon=True)
        self._thread.start()
        return path

    def stop(self) -> None:
        """Pull the cable: the pty closes and the link (if any) disappears."""
        if self._thread is None or self._fds is None or self._wake is None:
            return
        os.write(self._wake[1], b"\0")
        self._thread.join()
        if self.link is not None:
            self.link.unlink(missing_ok=True)
        for fd in (*self._fds, *self._wake):
            os.close(fd)
        self._thread = self._fds = self._wake = None

    def _run(self) -> None:
        assert self._fds is not None and self._wake is not None
        master = self._fds[0]
        decoder = self.decoder(lambda n: self._reply(master, n))
        while True:
            ready, _, _ = select.select([master, self._wake[0]], [], [])
            if self._wake[0] in ready:
                break
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the driver's side is closed for now; wait for it
                if self._wake is not None and select.select([self._wake[0]], [], [], 0.05)[0]:
                    break
                continue
            self.received += data
            self._print(decoder.feed(data))
        self._print(decoder.close())

    def _reply(self, master: int, n: int) -> None:
        os.write(master, bytes([self.status_byte(n)]))
