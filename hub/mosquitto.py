"""A private mosquitto broker (the OS binary) on a free loopback port, with passwords and an ACL.

Used by `backroom demo` and by the tests: the same broker a shop runs, never a fake.
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hub.children import child_options
from hub.errors import BackroomError
from hub.files import write_private

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")


def free_port(host: str = "127.0.0.1", exclude: frozenset[int] = frozenset()) -> int:
    """A port free right now; exclude ports already promised to something not yet listening."""
    while True:
        with socket.socket() as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port not in exclude:
            return port


def find_binary(name: str, extra: tuple[str, ...] = ()) -> str:
    found = shutil.which(name) or next((p for p in extra if os.path.exists(p)), None)
    if not found:
        raise BackroomError(f"{name} is not installed; run ./install.sh --dev (or apt-get install mosquitto)")
    return found


def acl_text(hub_user: str, device_user: str) -> str:
    """The production ACL (systemd/mosquitto-backroom.acl; a test keeps the two the same):
    the hub sees everything; the agent writes only device topics; single-device clients only their own."""
    return (
        f"user {hub_user}\ntopic readwrite backroom/#\n\n"
        f"user {device_user}\ntopic readwrite backroom/+/dev/#\ntopic read backroom/+/hub/#\n\n"
        "pattern readwrite backroom/+/dev/%u/#\npattern read backroom/+/hub/status\n"
    )


@dataclass
class Broker:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_broker(workdir: Path, users: dict[str, str], acl: str, port: int = 0, host: str = "127.0.0.1") -> Broker:
    """Start mosquitto with allow_anonymous false, the given users and ACL; wait until it listens."""
    binary = find_binary("mosquitto", MOSQUITTO_PATHS)
    passwd_tool = find_binary("mosquitto_passwd")
    workdir.mkdir(parents=True, exist_ok=True)
    passwd = workdir / "passwd"
    passwd.unlink(missing_ok=True)
    passwd.touch(mode=0o600)
    for user, password in users.items():
        subprocess.run([passwd_tool, "-b", str(passwd), user, password], check=True, capture_output=True)
    write_private(workdir / "acl", acl)
    port = port or free_port(host)
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} {host}\nallow_anonymous false\npassword_file {passwd}\nacl_file {workdir / 'acl'}\n"
        # persistence off: SQLite is the durable store; mosquitto's file corrupts on power cuts.
        f"persistence false\nuser {getpass.getuser()}\nlog_dest stderr\nlog_type error\nlog_type warning\n"
    )
    logfile = workdir / "mosquitto.log"
    with open(logfile, "ab") as log_fh:
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=log_fh, **child_options())
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = logfile.read_text(errors="replace")[-2000:]
            raise BackroomError(f"mosquitto exited at start-up: {err.strip() or 'no message'}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return Broker(host, port, proc, workdir)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise BackroomError(f"mosquitto did not listen on {host}:{port} within {START_TIMEOUT_S} s")
