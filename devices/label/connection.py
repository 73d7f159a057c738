"""How bytes reach a label printer: raw TCP (port 9100) or a device file (usblp, a serial tty
set up by udev/stty). Each job opens its own connection, as the printers expect."""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Callable
from typing import Protocol

STATUS_TIMEOUT_S = 1.0  # seconds to wait for a status reply; some printers never send one


class PrinterUnreachable(OSError):
    """The printer could not be reached; the message says what to check."""


class Connection(Protocol):
    description: str

    def send(self, data: bytes) -> None: ...
    def query(self, request: bytes, complete: Callable[[bytes], bool]) -> bytes: ...


class NetworkConnection:
    def __init__(self, host: str, port: int = 9100, timeout: float = 5.0) -> None:
        if not 0 < port < 65536:
            raise ValueError(
                f"label printer port {port} is not a TCP port: use 1-65535 (usually 9100)"
            )
        self.host, self.port, self.timeout = host, port, timeout
        self.description = f"tcp {host}:{port}"

    def _open(self) -> socket.socket:
        try:
            return socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise PrinterUnreachable(
                f"label printer {self.host}:{self.port} cannot be reached ({exc}): check it is switched on, "
                "on the network and that raw printing (usually port 9100) is enabled"
            ) from exc

    def send(self, data: bytes) -> None:
        with self._open() as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(STATUS_TIMEOUT_S)
            try:  # wait for the printer to close: closing with unread bytes would reset the job
                while sock.recv(256):
                    pass
            except OSError:
                pass

    def query(self, request: bytes, complete: Callable[[bytes], bool]) -> bytes:
        with self._open() as sock:
            sock.sendall(request)
            reply = b""
            deadline = time.monotonic() + STATUS_TIMEOUT_S
            while not complete(reply) and (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    chunk = sock.recv(256)
                except TimeoutError:
                    break
                if not chunk:
                    break
                reply += chunk
            return reply


class DeviceFileConnection:
    """A printer behind a device file: /dev/usb/lp0 (usblp) or a serial port."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.description = f"file {path}"

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_NOCTTY)
        except OSError as exc:
            raise PrinterUnreachable(
                f"label printer {self.path} cannot be opened ({exc.strerror}): check it is plugged in and "
                "that the agent's user is in the lp (USB) or dialout (serial) group"
            ) from exc

    def send(self, data: bytes) -> None:
        fd = self._open()
        try:
            write_all(fd, data)
        finally:
            os.close(fd)

    def query(self, request: bytes, complete: Callable[[bytes], bool]) -> bytes:
        fd = self._open()
        try:
            # Replies to the status requests inside an earlier job may still wait to be read:
            # drop them, or they would answer for the printer as it is now.
            while select.select([fd], [], [], 0)[0] and os.read(fd, 4096):
                pass
            os.write(fd, request)
            reply = b""
            deadline = time.monotonic() + STATUS_TIMEOUT_S
            while not complete(reply) and (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([fd], [], [], left)
                if not ready:
                    break
                chunk = os.read(fd, 256)
                if not chunk:
                    break
                reply += chunk
            return reply
        finally:
            os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """All of data to a device file (or a pty), however few bytes each write takes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def connection_for(where: str, port: int = 9100) -> Connection:
    """A device file for a path, else a network printer at where (host name or address)."""
    return DeviceFileConnection(where) if where.startswith("/") else NetworkConnection(where, port)
