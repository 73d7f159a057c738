"""`backroom demo`: the whole shop on one machine, on an embedded default, with simulated devices.

Processes: a private mosquitto, the hub, the devices agent and the reference sink, each a real
process; the scale (pty) and network printer (TCP) simulators run in this one.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from hub import config as cfg
from hub.children import child_options
from hub.errors import BackroomError
from hub.files import read_private, write_private
from hub.mosquitto import acl_text, free_port, start_broker

log = logging.getLogger(__name__)

HUB_ID = "demo-hub"
REGISTER = "till-1"
SCANNER_ID = "sim-scanner-1"
OWNER = "owner"
READY_TIMEOUT_S = 60.0


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "backroom" / "demo"


def _secrets(data_dir: Path) -> dict[str, str]:
    """Passwords made on the first run and kept (mode 0600), so a second run reuses the data."""
    path = data_dir / "demo-secrets.json"
    stored = read_private(path)
    if stored is not None:
        values: dict[str, str] = json.loads(stored)
        return values
    values = {k: secrets.token_urlsafe(18) for k in ("hub_mqtt", "devices_mqtt", "cloud", "session")}
    values["owner_password"] = secrets.token_urlsafe(9)
    write_private(path, json.dumps(values))
    return values


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress binds: TIME_WAIT is no conflict
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def wait_http(url: str, proc: subprocess.Popen[Any], name: str, timeout: float = READY_TIMEOUT_S) -> None:
    """Wait until url answers, or fail at once when proc (the process that should serve it) exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BackroomError(f"the {name} exited at start-up (code {proc.returncode}); its messages are above")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise BackroomError(f"the {name} did not answer on {url} within {timeout:.0f} s")


def _prepare(data_dir: Path, values: dict[str, Any], s: dict[str, str]) -> None:
    from hub.auth import Auth
    from hub.demo_catalog import load_demo_catalog
    from hub.service import open_database
    from hub.store import Store

    db = open_database(data_dir)
    try:
        loaded = load_demo_catalog(Store(db, HUB_ID, values["store"]["currency"]))
        if loaded:
            log.info("loaded the demo catalog: %d items", loaded)
        Auth(db).set_user(OWNER, s["owner_password"], "owner")
        with db.write() as conn:
            conn.execute("INSERT OR IGNORE INTO registers (id, name) VALUES (?, ?)", (REGISTER, "Till 1"))
    finally:
        db.close()


def run_demo(data_dir: Path, port: int, stop: threading.Event) -> int:
    from devices.printer.simulator import NetworkPrinterSimulator
    from devices.scale.simulator import ScaleSimulator

    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if not _port_free(port):
        raise BackroomError(f"port {port} is in use; stop what uses it or pass --port to pick another")
    s = _secrets(data_dir)
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    broker = scale = printer = control = None
    try:
        taken = frozenset({port})  # the hub's port is free but not bound yet: no one else may get it
        broker = start_broker(data_dir / "mosquitto", {"hub": s["hub_mqtt"], "devices": s["devices_mqtt"]},
                              acl_text("hub", "devices"), port=free_port(exclude=taken))
        scale = ScaleSimulator()
        scale_port = scale.start()
        control = _ScaleControl(data_dir / "scale.sock", scale)
        printer = NetworkPrinterSimulator(data_dir / "receipts", port=free_port(exclude=taken))
        printer_port = printer.start()
        sink_port = free_port(exclude=taken | {printer_port})
        values: dict[str, Any] = {
            "hub": {"id": HUB_ID, "data_dir": str(data_dir), "http_host": "0.0.0.0", "http_port": port,
                    "secret_key": s["session"], "default_register": REGISTER},
            "mqtt": {"host": "127.0.0.1", "port": broker.port, "username": "hub", "password": s["hub_mqtt"],
                     "device_username": "devices", "device_password": s["devices_mqtt"],
                     # per-device users (status page, `backroom devices add`) go in the private broker
                     "password_file": str(broker.passwd), "broker_pid_file": str(broker.pid_file),
                     "lan_host": "127.0.0.1", "lan_port": broker.port},
            "discovery": {"zeroconf": True},
            "cloud": {"url": f"http://127.0.0.1:{sink_port}/v1/events", "secret": s["cloud"]},
            "store": {"name": "Backroom Demo Shop", "currency": "EUR", "prices_include_tax": True},
            "devices": {"scanners": False, "simulate_scanner": True, "scale_autodetect": False,
                        "scales": [{"port": scale_port, "protocol": "mettler8217", "id": "demo-scale-1"}],
                        "printers": [{"host": "127.0.0.1", "port": printer_port, "id": "demo-printer-1"}]},
        }
        conf_path = data_dir / "backroom.toml"
        write_private(conf_path, cfg.render_toml(values))
        cfg.load(conf_path, env={})  # fail here, clearly, rather than in a child
        _prepare(data_dir, values, s)
        exe = [sys.executable, "-m", "hub.cli"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACKROOM_") or k == "BACKROOM_LOG_LEVEL"}
        sink = subprocess.Popen([*exe, "sink", "--port", str(sink_port), "--data-dir", str(data_dir / "sink")],
                                env={**env, "BACKROOM_SINK_SECRET": s["cloud"]}, **child_options())
        procs.append(("sink", sink))
        hub = subprocess.Popen([*exe, "run", "--config", str(conf_path)], env=env, **child_options())
        procs.append(("hub", hub))
        procs.append(("devices agent", subprocess.Popen([*exe, "devices", "--config", str(conf_path)], env=env,
                                                        **child_options())))
        wait_http(f"http://127.0.0.1:{sink_port}/v1/hubs", sink, "sink")
        wait_http(f"http://127.0.0.1:{port}/healthz", hub, "hub")
        runtime = {"hub_id": HUB_ID, "mqtt_port": broker.port, "devices_user": "devices",
                   "devices_password": s["devices_mqtt"], "scanner_id": SCANNER_ID, "http_port": port,
                   "sink_port": sink_port, "pid": os.getpid(),
                   "children": {name: proc.pid for name, proc in procs} | {"mosquitto": broker.process.pid}}
        write_private(data_dir / "runtime.json", json.dumps(runtime))
        host = socket.gethostname()
        cli = Path(sys.executable).with_name("backroom")  # the venv's command, wherever it is
        cli_text = str(cli) if cli.exists() else f"{sys.executable} -m hub.cli"
        print(
            "\nBackroom demo is running.\n"
            f"  Status page:  http://127.0.0.1:{port}/status   (on the LAN: http://{host}:{port}/status)\n"
            f"  Register:     http://127.0.0.1:{port}/register/{REGISTER}\n"
            f"  Items:        http://127.0.0.1:{port}/items\n"
            f"  Stock:        http://127.0.0.1:{port}/stock\n"
            f"  Sign in as:   {OWNER} / {s['owner_password']}\n"
            f"  Cloud sink:   http://127.0.0.1:{sink_port}/\n"
            f"  Receipts:     {data_dir / 'receipts'}\n"
            f"  Scan from a shell:  {cli_text} demo scan 0490000010015 --data-dir {data_dir}\n"
            f"  Weigh (scan 4011 for bananas first):  {cli_text} demo weigh 532 --data-dir {data_dir}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        return _supervise(procs, stop)
    finally:
        for name, proc in reversed(procs):  # one at a time: the agent, then the hub, then the sink
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in 10 s; killing it", name)
                proc.kill()
                proc.wait()
        (data_dir / "runtime.json").unlink(missing_ok=True)
        for part in (control, printer, scale, broker):
            if part is not None:
                part.stop()


def _supervise(procs: list[tuple[str, subprocess.Popen[bytes]]], stop: threading.Event) -> int:
    """Wait for Ctrl-C; if a child dies on its own, say which and stop the rest."""
    while not stop.wait(0.5):
        for name, proc in procs:
            if proc.poll() is not None:
                print(f"backroom demo: the {name} stopped unexpectedly (exit code {proc.returncode}); "
                      "stopping the demo. Its messages are above.", file=sys.stderr)
                return 1
    print("\nStopping the demo...", flush=True)
    return 0


def send_scan(data_dir: Path, code: str) -> None:
    """Make the running demo's simulated scanner read code (as if the cashier scanned it)."""
    import paho.mqtt.client as mqtt

    from devices import bus
    from devices.link import close_client

    try:
        runtime = json.loads((data_dir / "runtime.json").read_text())
    except FileNotFoundError:
        raise BackroomError(f"no demo is running with data in {data_dir}; start one with `backroom demo`") from None
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"backroom-demo-scan-{os.getpid()}")
    client.username_pw_set(runtime["devices_user"], runtime["devices_password"])
    try:
        client.connect("127.0.0.1", runtime["mqtt_port"])
    except OSError as exc:
        raise BackroomError(f"cannot reach the demo's broker on port {runtime['mqtt_port']}: {exc}") from None
    client.loop_start()
    payload = json.dumps({"job_id": secrets.token_hex(8), "data": code})
    info = client.publish(bus.cmd_topic(runtime["hub_id"], runtime["scanner_id"], "simulate"), payload, qos=1)
    info.wait_for_publish(timeout=5)
    close_client(client)


class _ScaleControl:
    """A unix socket (mode 0600) through which `backroom demo weigh` puts weight on the simulated scale."""

    def __init__(self, path: Path, scale: Any) -> None:
        path.unlink(missing_ok=True)
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        os.chmod(path, 0o600)
        self.sock.listen(4)
        self.scale = scale
        self.thread = threading.Thread(target=self._serve, name="demo-scale-control", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed by stop()
            with conn:
                words = conn.recv(64).decode(errors="replace").split()
                if len(words) == 2 and words[0] == "weigh" and words[1].lstrip("-").isdigit():
                    self.scale.set_weight(int(words[1]))
                    conn.sendall(b"ok")
                else:
                    conn.sendall(b"usage: weigh GRAMS")

    def stop(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=2)
        self.path.unlink(missing_ok=True)


def send_weight(data_dir: Path, grams: int) -> None:
    """Put grams on the running demo's simulated scale (0 empties it)."""
    path = data_dir / "scale.sock"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(path))
            s.sendall(f"weigh {grams}".encode())
            answer = s.recv(64).decode(errors="replace")
    except (FileNotFoundError, ConnectionRefusedError):
        raise BackroomError(f"no demo is running with data in {data_dir}; start one with `backroom demo`") from None
    if answer != "ok":
        raise BackroomError(f"the demo refused the weight: {answer}")
