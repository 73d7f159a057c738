"""A private mosquitto broker (the OS binary) on a free loopback port, with passwords and an ACL.

Used by `backroom demo` and by the tests: the same broker a shop runs, never a fake.
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import signal
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


@dataclass(frozen=True)
class TlsListener:
    """A second listener speaking MQTT over TLS (mqtt.tls_port, mqtt.tls_certfile, mqtt.tls_keyfile)."""

    port: int
    certfile: str
    keyfile: str
    host: str = ""  # empty: every address, as in production


def broker_conf(port: int, host: str, passwd: Path, acl: Path, user: str, tls: TlsListener | None = None) -> str:
    """The private broker's config: production's settings (systemd/mosquitto-backroom.conf) on
    its own ports. A test keeps the two in agreement."""
    text = (
        f"listener {port} {host}\nallow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
        # persistence off: SQLite is the durable store; mosquitto's file corrupts on power cuts.
        f"persistence false\nuser {user}\nlog_dest stderr\nlog_type error\nlog_type warning\n"
        # each small packet at once: with Nagle a QoS 1 message queued behind a PUBACK waits ~40 ms
        "set_tcp_nodelay true\n"
    )
    return text + (tls_section(tls) if tls else "")


def tls_section(tls: TlsListener) -> str:
    """A TLS listener: with per_listener_settings false (the default) the same passwords and ACL
    apply on it as on the plain one."""
    return (f"\nlistener {tls.port} {tls.host}".rstrip() + "\n"
            f"certfile {tls.certfile}\nkeyfile {tls.keyfile}\ntls_version tlsv1.2\n")


@dataclass
class Broker:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def passwd(self) -> Path:
        return self.workdir / "passwd"

    @property
    def pid_file(self) -> Path:
        """Holds the broker's pid, for mqtt.broker_pid_file: the hub SIGHUPs it after a password change."""
        return self.workdir / "mosquitto.pid"

    def reload(self) -> None:
        """Re-read the password file and ACL (mosquitto does this on SIGHUP)."""
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_broker(workdir: Path, users: dict[str, str], acl: str, port: int = 0, host: str = "127.0.0.1",
                 tls: TlsListener | None = None, extra_conf: str = "") -> Broker:
    """Start mosquitto with allow_anonymous false, the given users and ACL; wait until it listens.
    extra_conf is appended to its config (e.g. the cloud bridge section of hub.bridge)."""
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
    conf.write_text(broker_conf(port, host, passwd, workdir / "acl", getpass.getuser(), tls)
                    + (f"\n{extra_conf}" if extra_conf else ""))
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
                (workdir / "mosquitto.pid").write_text(f"{proc.pid}\n")
                return Broker(host, port, proc, workdir)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise BackroomError(f"mosquitto did not listen on {host}:{port} within {START_TIMEOUT_S} s")
