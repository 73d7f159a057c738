"""The ways bytes reach a receipt printer: TCP port 9100, a serial port, the kernel's usblp
device file, and libusb. Each opens a Connection that writes, reads a status reply with a
timeout, and closes; every OS error comes out as a PrinterError that says what to check.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
from dataclasses import dataclass
from typing import Any, Protocol

DRAIN_TIMEOUT = 2.0  # seconds a network printer gets to close its side after a job


class PrinterError(Exception):
    """A printer job or query that failed; the message says why and what to check."""


class Connection(Protocol):
    def write(self, data: bytes) -> None: ...
    def read(self, timeout: float) -> bytes: ...  # b"" when nothing came in time
    def close(self) -> None: ...


class Transport(Protocol):
    @property
    def description(self) -> str: ...  # "tcp 192.0.2.10:9100", shown on the status page
    def open(self) -> Connection: ...


# -- network ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkTransport:
    host: str
    port: int = 9100
    timeout: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(
                f"printer port {self.port} is not a TCP port: use 1-65535 (usually 9100)"
            )

    @property
    def description(self) -> str:
        return f"tcp {self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def open(self) -> _SocketConnection:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise PrinterError(self._connect_message(exc)) from exc
        return _SocketConnection(sock, self.timeout)

    def _connect_message(self, exc: OSError) -> str:
        where = f"printer {self.address}"
        if isinstance(exc, TimeoutError):
            return (
                f"{where} did not answer within {self.timeout:g} s: check it is switched on, "
                f"its network cable is plugged in and {self.host} is still its address"
            )
        if isinstance(exc, ConnectionRefusedError):
            return (
                f"{where} refused the connection: check the port in its network settings "
                "(raw printing is usually 9100) and that no other program holds the printer"
            )
        if isinstance(exc, socket.gaierror):
            return f"{where}: the name {self.host!r} is not known: check it, or use the IP address"
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return (
                f"{where} cannot be reached from this hub: check both are on the same "
                "network and the address is right"
            )
        return f"{where} could not be reached: {exc}"


class _SocketConnection:
    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock, self.timeout = sock, timeout

    def write(self, data: bytes) -> None:
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def read(self, timeout: float) -> bytes:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(64)
        except TimeoutError:
            return b""
        if not data:
            raise ConnectionResetError("the printer closed the connection")
        return data

    def close(self) -> None:
        # Wait for the printer to close its side: closing with unread bytes in our buffer
        # would reset the connection, which can cut the end of the receipt off.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(DRAIN_TIMEOUT)
            while self.sock.recv(256):
                pass
        self.sock.close()


# -- serial -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SerialTransport:
    port: str
    baudrate: int = 19200
    rtscts: bool = False  # hardware flow control: most printers with a DB-9 port want it on
    timeout: float = 5.0

    @property
    def description(self) -> str:
        return f"serial {self.port} {self.baudrate} 8N1" + (" rts/cts" if self.rtscts else "")

    def open(self) -> _SerialConnection:
        import serial  # here, so the agent runs on a machine without pyserial for network printers

        try:
            port = serial.Serial(
                self.port, self.baudrate, rtscts=self.rtscts, timeout=0, write_timeout=self.timeout
            )
        except (serial.SerialException, OSError) as exc:
            raise PrinterError(
                f"serial printer {self.port} cannot be opened: {exc}; check the cable is plugged "
                "in, the port name is right and this user is in the dialout group"
            ) from exc
        return _SerialConnection(port)


class _SerialConnection:
    def __init__(self, port: Any) -> None:
        self.port = port

    def write(self, data: bytes) -> None:
        self.port.write(data)
        self.port.flush()

    def read(self, timeout: float) -> bytes:
        self.port.timeout = timeout
        data: bytes = self.port.read(1)
        return data

    def close(self) -> None:
        self.port.close()


# -- USB through the kernel's usblp driver ------------------------------------------------------


@dataclass(frozen=True)
class UsblpTransport:
    device: str  # /dev/usb/lp0, or better a udev symlink that names the printer
    timeout: float = 5.0

    @property
    def description(self) -> str:
        return f"usb {self.device}"

    def open(self) -> _FileConnection:
        try:
            fd = os.open(self.device, os.O_RDWR | os.O_NOCTTY)
        except OSError as exc:
            raise PrinterError(
                f"USB printer {self.device} cannot be opened: {exc.strerror}; check it is "
                "plugged in and switched on, and that this user is in the lp group"
            ) from exc
        return _FileConnection(fd, self.timeout)


class _FileConnection:
    def __init__(self, fd: int, timeout: float) -> None:
        self.fd, self.timeout = fd, timeout

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            _, ready, _ = select.select([], [self.fd], [], self.timeout)
            if not ready:
                raise TimeoutError("the printer took no data")
            view = view[os.write(self.fd, view) :]

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        return os.read(self.fd, 64) if ready else b""

    def close(self) -> None:
        os.close(self.fd)


# -- USB through libusb -------------------------------------------------------------------------


@dataclass(frozen=True)
class LibusbTransport:
    """python-escpos's Usb printer, for printers the usblp driver does not claim. A thin adapter:
    there is no USB bus in the test machines, so only the other transports are tested."""

    vendor: int
    product: int
    serial_number: str = ""

    @property
    def description(self) -> str:
        return f"usb {self.vendor:04x}:{self.product:04x}" + (
            f" {self.serial_number}" if self.serial_number else ""
        )

    def open(self) -> _LibusbConnection:
        from escpos.exceptions import Error as EscposError
        from escpos.printer import Usb

        args = {"serial_number": self.serial_number} if self.serial_number else {}
        try:
            printer = Usb(self.vendor, self.product, usb_args=args)
            printer.open()
        except (EscposError, OSError, ValueError) as exc:
            raise PrinterError(
                f"USB printer {self.description} cannot be opened: {exc}; check it is plugged "
                "in and that the udev rules give this user access to it"
            ) from exc
        return _LibusbConnection(printer)


class _LibusbConnection:
    def __init__(self, printer: Any) -> None:
        self.printer = printer

    def write(self, data: bytes) -> None:
        self.printer._raw(data)

    def read(self, timeout: float) -> bytes:
        try:
            return bytes(self.printer._read())
        except Exception:  # noqa: BLE001 - pyusb raises its own timeout error types
            return b""

    def close(self) -> None:
        self.printer.close()


def parse_usb_id(value: str) -> tuple[int, int]:
    """ "04b8:0e28" -> (0x04B8, 0x0E28); ValueError that shows the form otherwise."""
    vendor, sep, product = value.partition(":")
    try:
        if not sep:
            raise ValueError(value)
        return int(vendor, 16), int(product, 16)
    except ValueError:
        raise ValueError(
            f'usb = {value!r} is not a USB id: give vendor:product in hex, like "04b8:0e28" '
            "(lsusb shows it)"
        ) from None
