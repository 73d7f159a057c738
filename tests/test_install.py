"""install.sh: a production install into a temporary root, checked file by file.

The installer runs as `install.sh --prefix ROOT --no-systemctl` with
BACKROOM_INSTALL_SKIP_PACKAGES=1 (no apt-get, no pip) and BACKROOM_INSTALL_VENV_FROM pointing at
the venv running these tests, which it links as ROOT/opt/backroom/venv: the units' ExecStart
then names a real `backroom` executable without a two-minute pip install.

The unit templates and udev rules themselves are checked in tests/test_systemd.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import queue
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub import config as hub_config

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "install.sh"
TEMPLATES = REPO / "systemd"
UNITS = ("backroom-hub.service", "backroom-devices.service")
SECRET_KEYS = [
    f"{s}.{k}" for s, keys in hub_config.SCHEMA.items() for k, spec in keys.items() if spec.secret
]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKROOM_")}
    env.update(BACKROOM_INSTALL_SKIP_PACKAGES="1", BACKROOM_INSTALL_VENV_FROM=sys.prefix)
    env.update(extra)
    return env


def run_install(
    *args: str, check: bool = True, script: Path = INSTALL
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["bash", str(script), *args], env=_env(), capture_output=True, text=True, timeout=90
    )
    if check:
        assert proc.returncode == 0, (
            f"install.sh {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@dataclass(frozen=True)
class Root:
    path: Path
    output: str

    def __truediv__(self, rel: str) -> Path:
        return self.path / rel.lstrip("/")

    @property
    def config(self) -> Path:
        return self / "etc/backroom/backroom.toml"

    def install(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return run_install("--prefix", str(self.path), "--no-systemctl", *extra)


def _install_into(path: Path) -> Root:
    proc = run_install("--prefix", str(path), "--no-systemctl")
    return Root(path, proc.stdout + proc.stderr)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Root:
    """One install shared by the read-only checks; tests that change it use `fresh`."""
    return _install_into(tmp_path_factory.mktemp("root"))


@pytest.fixture
def fresh(tmp_path: Path) -> Root:
    return _install_into(tmp_path / "root")


def manifest(root: Path) -> dict[str, tuple[object, ...]]:
    """Every path under root with its type, mode, owner and content hash (links not followed)."""
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            entry: tuple[object, ...] = (
                stat.S_IFMT(st.st_mode),
                stat.S_IMODE(st.st_mode),
                st.st_uid,
                st.st_gid,
            )
            if stat.S_ISLNK(st.st_mode):
                entry += (os.readlink(p),)
            elif stat.S_ISREG(st.st_mode):
                entry += (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_mtime_ns)
            out[str(p.relative_to(root))] = entry
    return out


def mode(p: Path) -> int:
    return stat.S_IMODE(p.lstat().st_mode)


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def passwd_users(path: Path) -> dict[str, str]:
    return dict(line.split(":", 1) for line in path.read_text().splitlines() if line.strip())


def hash_matches(stored: str, password: str) -> bool:
    """Check a mosquitto 2 password hash: $7$iterations$salt$hash, PBKDF2-HMAC-SHA512."""
    _, alg, iterations, salt, digest = stored.split("$")
    assert alg == "7", f"unexpected mosquitto hash type {alg}"
    ours = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    return hmac.compare_digest(base64.b64encode(ours).decode(), digest)


# --- command line ------------------------------------------------------------------------------


def test_help_lists_every_option_and_variable() -> None:
    proc = run_install("--help")
    for word in (
        "--dev",
        "--prefix",
        "--no-systemctl",
        "--uninstall",
        "BACKROOM_INSTALL_SKIP_PACKAGES",
        "BACKROOM_INSTALL_VENV_FROM",
    ):
        assert word in proc.stdout
    assert proc.stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frobnicate"], "unknown option --frobnicate"),
        (["--prefix"], "--prefix needs a directory"),
        (["--prefix", "relative/dir"], "must be an absolute path"),
        (["--prefix", "/tmp/with space"], "may only hold"),
        (["--dev", "--prefix", "/tmp/x"], "--dev cannot be combined"),
        (["--dev", "--uninstall"], "--dev cannot be combined"),
    ],
)
def test_bad_arguments_fail_with_a_message(args: list[str], message: str) -> None:
    proc = run_install(*args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert not Path("/tmp/with space").exists()


# --- what a production install writes -----------------------------------------------------------


def test_config_is_private_valid_and_has_distinct_secrets(installed: Root) -> None:
    assert mode(installed.config) == 0o600
    assert installed.config.stat().st_uid == os.getuid()
    assert mode(installed / "etc/backroom") == 0o750
    cfg = hub_config.load(installed.config, env={})
    assert SECRET_KEYS, "the schema marks no key secret"
    secrets = [cfg.get(key) for key in SECRET_KEYS]
    assert all(isinstance(s, str) and len(s) >= 32 for s in secrets), secrets
    assert len(set(secrets)) == len(secrets)
    assert cfg.get("hub.data_dir") == str(installed / "var/lib/backroom")
    assert re.fullmatch(r"[a-z0-9-]+-[0-9a-f]{6}", cfg.get("hub.id"))


def test_data_dir_belongs_to_the_service_user_only(installed: Root) -> None:
    data = installed / "var/lib/backroom"
    assert data.is_dir() and mode(data) == 0o750
    assert data.stat().st_uid == os.getuid()
    assert "files belong to" in installed.output  # the prefix install says whose they are


def test_every_file_belongs_to_the_invoking_user_under_a_prefix(installed: Root) -> None:
    for rel, (_kind, _, uid, gid, *_) in manifest(installed.path).items():
        assert (uid, gid) == (os.getuid(), os.getgid()), rel


@pytest.mark.parametrize("unit", UNITS)
def test_units_run_the_prefixed_venv_with_the_prefixed_config(installed: Root, unit: str) -> None:
    text = (installed / f"etc/systemd/system/{unit}").read_text()
    assert mode(installed / f"etc/systemd/system/{unit}") == 0o644
    s = unit_settings(text)
    argv = s["ExecStart"][0].split()
    exe = Path(argv[0])
    assert exe == installed / "opt/backroom/venv/bin/backroom"
    assert os.access(exe, os.X_OK), (
        f"{exe} is not executable: is the project installed in {sys.prefix}?"
    )
    assert argv[1] == ("run" if unit == "backroom-hub.service" else "devices")
    assert argv[argv.index("--config") + 1] == str(installed.config)
    writable = [str(installed / "var/lib/backroom")]
    if unit == "backroom-hub.service":  # the hub adds per-device MQTT users
        writable[0] += f" -{installed / 'etc/mosquitto/backroom.passwd'}"
    assert s["ReadWritePaths"] == writable
    assert "StateDirectory" not in s  # systemd would make the real /var/lib/backroom
    settings = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    for production_path in ("/opt/backroom", "/etc/backroom", "/var/lib/backroom"):
        assert settings.count(production_path) == settings.count(
            str(installed.path) + production_path
        )


def test_udev_rules_are_installed_verbatim(installed: Root) -> None:
    rules = installed / "etc/udev/rules.d/99-backroom.rules"
    assert rules.read_bytes() == (TEMPLATES / "99-backroom.rules").read_bytes()
    assert mode(rules) == 0o644


def test_printer_profiles_are_installed_beside_the_venv(installed: Root) -> None:
    """devices/printer/profiles.py looks in <venv>/../printers when there is no checkout."""
    from devices.printer import profiles

    shipped = REPO / "firmware_configs/printers"
    target = installed / "opt/backroom/printers"
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in shipped.glob("*.yaml"))
    for p in target.iterdir():
        assert p.read_bytes() == (shipped / p.name).read_bytes() and mode(p) == 0o644
    assert profiles.load_profiles(target) == profiles.load_profiles(shipped)


def test_a_profile_gone_from_the_checkout_is_removed(fresh: Root) -> None:
    stale = fresh / "opt/backroom/printers/retired-model.yaml"
    stale.write_text("model: gone\n")
    proc = fresh.install()
    assert not stale.exists() and f"removed {stale}" in proc.stdout


def test_mosquitto_dropin_password_file_and_acl(installed: Root) -> None:
    dropin = installed / "etc/mosquitto/conf.d/backroom.conf"
    passwd = installed / "etc/mosquitto/backroom.passwd"
    acl = installed / "etc/mosquitto/backroom.acl"
    assert mode(dropin) == 0o644 and mode(passwd) == 0o660 and mode(acl) == 0o600  # the hub adds device users
    directives = dict(
        line.split(None, 1)
        for line in dropin.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert directives == {
        "listener": "1883",
        "allow_anonymous": "false",
        "password_file": str(passwd),
        "acl_file": str(acl),
        "persistence": "false",
        "set_tcp_nodelay": "true",
    }
    cfg = hub_config.load(installed.config, env={})
    users = passwd_users(passwd)
    assert set(users) == {"hub", "devices"}
    assert hash_matches(users["hub"], cfg.get("mqtt.password"))
    assert hash_matches(users["devices"], cfg.get("mqtt.device_password"))
    rules = [line for line in acl.read_text().splitlines() if line and not line.startswith("#")]
    assert rules == [
        "user hub",
        "topic readwrite backroom/#",
        "user devices",
        "topic readwrite backroom/+/dev/#",
        "topic read backroom/+/hub/#",
        "pattern readwrite backroom/+/dev/%u/#",
        "pattern read backroom/+/hub/status",
    ]


def test_status_url_is_printed(installed: Root) -> None:
    assert re.search(r"Status page: http://\S+:8080/status", installed.output)


# --- the broker really enforces it ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Peer:
    """A paho client that records what it receives."""

    def __init__(self, port: int, user: str | None, password: str | None) -> None:
        import paho.mqtt.client as mqtt

        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connected: queue.Queue[bool] = queue.Queue()
        self.subscribed: queue.Queue[int] = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.on_connect = lambda c, u, f, rc, p: self.connected.put(not rc.is_failure)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload))
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.put(mid)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.ok = self.connected.get(timeout=5)

    def subscribe(self, topic: str) -> None:
        _, mid = self.client.subscribe(topic, qos=1)
        assert self.subscribed.get(timeout=5) == mid

    def publish(self, topic: str, payload: str, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(timeout=5)

    def close(self) -> None:
        from devices.link import close_client

        close_client(self.client)


def test_broker_enforces_the_passwords_and_the_acl(installed: Root, tmp_path: Path) -> None:
    pytest.importorskip("paho.mqtt.client")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(mosquitto).exists():
        pytest.skip("mosquitto is not installed (./install.sh --dev installs it)")
    cfg = hub_config.load(installed.config, env={})
    port = _free_port()
    # A copy of the password file, plus one single-device client the way the ACL comment says.
    passwd = tmp_path / "backroom.passwd"
    shutil.copy(installed / "etc/mosquitto/backroom.passwd", passwd)
    subprocess.run(
        ["mosquitto_passwd", "-b", str(passwd), "scale-7", "pw7"], check=True, timeout=10
    )
    dropin = (installed / "etc/mosquitto/conf.d/backroom.conf").read_text()
    dropin = dropin.replace("listener 1883", f"listener {port} 127.0.0.1")
    dropin = dropin.replace(str(installed / "etc/mosquitto/backroom.passwd"), str(passwd))
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d/backroom.conf").write_text(dropin)
    # Debian's own mosquitto.conf turns persistence on before including conf.d/.
    main = [f"persistence true\npersistence_location {tmp_path}/\nlog_dest stderr\n"]
    if os.geteuid() == 0:
        main.append("user root\n")  # the prefix files are ours, not mosquitto's
    main.append(f"include_dir {tmp_path}/conf.d\n")
    (tmp_path / "mosquitto.conf").write_text("".join(main))
    broker = subprocess.Popen(
        [mosquitto, "-c", str(tmp_path / "mosquitto.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peers: list[Peer] = []
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert broker.poll() is None, broker.communicate()[0]
                assert time.monotonic() < deadline, "mosquitto did not start listening"
                time.sleep(0.05)

        def peer(user: str | None, password: str | None) -> Peer:
            peers.append(Peer(port, user, password))
            return peers[-1]

        assert not peer(None, None).ok, "anonymous client let in"
        assert not peer("hub", "wrong").ok, "wrong password let in"
        hub = peer("hub", cfg.get("mqtt.password"))
        devices = peer("devices", cfg.get("mqtt.device_password"))
        scale = peer("scale-7", "pw7")
        assert hub.ok and devices.ok and scale.ok

        hub.subscribe("backroom/#")
        devices.publish("backroom/h1/dev/scanner-1/event/scan", "allowed-1")
        devices.publish("backroom/h1/hub/status", "denied-1")
        scale.publish("backroom/h1/dev/scale-7/event/weight", "allowed-2")
        scale.publish("backroom/h1/dev/scale-8/event/weight", "denied-2")
        scale.subscribe("backroom/h1/hub/status")
        hub.publish("backroom/h1/hub/status", "online", retain=True)
        seen = []
        while (message := hub.messages.get(timeout=5)) != ("backroom/h1/hub/status", b"online"):
            seen.append(message)
        assert seen == [
            ("backroom/h1/dev/scanner-1/event/scan", b"allowed-1"),
            ("backroom/h1/dev/scale-7/event/weight", b"allowed-2"),
        ]
        assert scale.messages.get(timeout=5) == ("backroom/h1/hub/status", b"online")
    finally:
        for p in peers:
            p.close()
        broker.terminate()
        log = broker.communicate(timeout=10)[0]
    assert "Error" not in log, log
    assert not (tmp_path / "mosquitto.db").exists(), (
        "persistence false did not win over Debian's default"
    )


# --- idempotence, edits and uninstall ------------------------------------------------------------


def test_second_run_changes_nothing(installed: Root) -> None:
    before = manifest(installed.path)
    config_before = installed.config.read_bytes()
    proc = installed.install()
    assert manifest(installed.path) == before
    assert installed.config.read_bytes() == config_before
    assert "keeping" in proc.stdout
    assert "wrote" not in proc.stdout and "set " not in proc.stdout
    assert "daemon-reload" not in proc.stdout and "restart" not in proc.stdout


def test_changed_mqtt_password_rewrites_only_its_hash(fresh: Root) -> None:
    passwd = fresh / "etc/mosquitto/backroom.passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", str(passwd), "scale-2", "pw2"], check=True, timeout=10
    )
    old_users = passwd_users(passwd)
    cfg = hub_config.load(fresh.config, env={})
    edited = fresh.config.read_text().replace(
        cfg.get("mqtt.password"), "a-new-hub-password-of-some-length"
    )
    fresh.config.write_text(edited)
    before = manifest(fresh.path)

    proc = fresh.install()

    after = manifest(fresh.path)
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    assert changed == {"etc/mosquitto/backroom.passwd"}, proc.stdout
    assert fresh.config.read_text() == edited
    users = passwd_users(passwd)
    assert hash_matches(users["hub"], "a-new-hub-password-of-some-length")
    assert users["devices"] == old_users["devices"] and users["scale-2"] == old_users["scale-2"]
    assert mode(passwd) == 0o660


def test_existing_config_is_never_overwritten_and_mode_is_repaired(fresh: Root) -> None:
    fresh.config.write_text(
        fresh.config.read_text().replace('name = "My Shop"', 'name = "Corner Deli"')
    )
    fresh.config.chmod(0o644)
    text = fresh.config.read_text()
    fresh.install()
    assert fresh.config.read_text() == text
    assert mode(fresh.config) == 0o600


def test_uninstall_removes_what_it_installed_and_keeps_config_and_data(fresh: Root) -> None:
    config = fresh.config.read_bytes()
    (fresh / "var/lib/backroom/backroom.sqlite").write_bytes(b"sales")
    proc = fresh.install("--uninstall")
    for rel in (
        "etc/systemd/system/backroom-hub.service",
        "etc/systemd/system/backroom-devices.service",
        "etc/udev/rules.d/99-backroom.rules",
        "etc/mosquitto/conf.d/backroom.conf",
        "etc/mosquitto/backroom.passwd",
        "etc/mosquitto/backroom.acl",
        "opt/backroom",
    ):
        assert not os.path.lexists(fresh / rel), rel
    assert fresh.config.read_bytes() == config
    assert (fresh / "var/lib/backroom/backroom.sqlite").read_bytes() == b"sales"
    assert "Kept" in proc.stdout and str(fresh / "etc/backroom") in proc.stdout
    assert Path(sys.prefix, "bin/python").exists()  # the linked venv itself is untouched
    again = fresh.install("--uninstall")
    assert "removed" not in again.stdout


def test_reinstall_after_uninstall_keeps_the_secrets(fresh: Root) -> None:
    config = fresh.config.read_bytes()
    fresh.install("--uninstall")
    fresh.install()
    assert fresh.config.read_bytes() == config
    assert (fresh / "etc/systemd/system/backroom-hub.service").exists()


# --- dev mode and the script itself ---------------------------------------------------------------


def test_dev_mode_makes_a_venv_once(tmp_path: Path) -> None:
    """--dev in a copy of the checkout, without apt-get and pip: the second run changes nothing."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("install.sh", "pyproject.toml"):
        shutil.copy(REPO / name, checkout)
    first = run_install("--dev", script=checkout / "install.sh")
    assert (checkout / ".venv/bin/python").exists()
    assert "created" in first.stdout
    before = manifest(checkout)
    second = run_install("--dev", script=checkout / "install.sh")
    assert "reusing" in second.stdout
    assert manifest(checkout) == before


def test_install_sh_is_shellcheck_clean() -> None:
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (./install.sh --dev installs it)")
    proc = subprocess.run(["shellcheck", str(INSTALL)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout
