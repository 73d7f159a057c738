"""Device benchmarks (issue 5): figures with the same-run baseline, a raw MQTT round trip.

    .venv/bin/python bench/devices.py [--scans 2000] [--changes 300] [--unplugs 10]

1. Decoded scan -> MQTT: the scanner loop decodes a code; a subscriber (as the hub) has it.
2. Scale change -> register stream at 10 Hz: first a scale's weight events published on the
   bus (the hub's part: MQTT, registry, SSE); then a Mettler Toledo 8217 simulator on a pty
   that the agent polls, timed from the scale's first reply carrying the new weight (the change
   on the wire) and from the platter (adding the poll interval and the 10-a-second limit).
3. Unplug -> offline on the status page (GET /api/v1/status/stream): a serial scale pulled
   out (pty closed), an evdev scanner pulled out (the read fails with ENODEV, as the kernel
   does), and an MQTT device that goes silent without a goodbye (its TCP link frozen by a
   proxy, as when an ESP32 loses power), measured against its keepalive.
4. Devices agent idle resident memory, hosting a scale, a scanner and a network printer.

Not run by CI; no test asserts a time. Ratios to the baseline mean more than absolute times.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402

from bench.run import HUB_ID, USERS, client, cpu_s, pct, raw_mqtt_round_trip, rss_mb, wait_http  # noqa: E402
from devices import bus  # noqa: E402
from devices.hosting import Hosting  # noqa: E402
from devices.link import MqttSettings  # noqa: E402
from devices.printer.simulator import NetworkPrinterSimulator  # noqa: E402
from devices.scale.mettler_toledo import encode_weight  # noqa: E402
from devices.scale.simulator import ScaleSimulator  # noqa: E402
from devices.scanner.driver import ScannerReader, SimulatedScanner  # noqa: E402
from hub import config as cfg  # noqa: E402
from hub.auth import Auth  # noqa: E402
from hub.mosquitto import acl_text, free_port, start_broker  # noqa: E402
from hub.service import open_database  # noqa: E402


# -- 1. decoded scan -> MQTT ---------------------------------------------------------------------
def scan_to_mqtt(broker_port: int, n: int) -> list[float]:
    """ms from the decoder yielding a scan to a hub-side subscriber receiving it."""
    hosting = Hosting(HUB_ID, MqttSettings("127.0.0.1", broker_port, "devices", USERS["devices"]))
    link = hosting.new_link(
        "bench-scanner", bus.DeviceConfig("scanner", "Bench scanner", capabilities=["scan"])
    )
    decoded: dict[str, float] = {}
    got: queue.Queue[float] = queue.Queue()
    sub = client("hub")
    ready = threading.Event()
    sub.on_subscribe = lambda *a: ready.set()

    def on_message(_c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        got.put(time.perf_counter() - decoded[json.loads(m.payload)["data"]])

    sub.on_message = on_message
    sub.connect("127.0.0.1", broker_port)
    sub.loop_start()
    sub.subscribe(bus.event_topic(HUB_ID, "bench-scanner", "scan"), qos=1)
    ready.wait(5)

    def on_scan(scan: Any) -> None:  # what ScannerHost does, with the decode time noted first
        decoded[scan.data] = time.perf_counter()
        link.publish_event("scan", bus.Scan(scan.data, scan.data, scan.symbology, scan.aim))

    source = SimulatedScanner()
    reader = ScannerReader(source, on_scan, name="bench")
    reader.start()
    link.set_available(True)
    link.start()
    time.sleep(0.5)
    out = []
    try:
        for i in range(n):
            source.type_text(f"BENCH{i:06d}")
            out.append(got.get(timeout=5) * 1000)
    finally:
        reader.stop()
        hosting.close()
        sub.disconnect()
        sub.loop_stop()
    return out


# -- the hub and the agent ---------------------------------------------------------------------
class TimedScale(ScaleSimulator):
    """The 8217 simulator, noting when a reply first carries each new weight."""

    def __init__(self, link: Path) -> None:
        super().__init__(link)
        self.first_reply: dict[int, float] = {}

    def _weight_reply(self, gross: int) -> bytes:
        reply = super()._weight_reply(gross)
        if reply.startswith(encode_weight(gross)[:1]) and gross not in self.first_reply:
            self.first_reply[gross] = time.perf_counter()
        return reply


def sse_events(port: int, path: str, token: str) -> Iterator[tuple[str, dict[str, Any]]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"{path} answered {resp.status}")
    event = ""
    while True:
        line = resp.readline()
        if not line:
            return
        if line.startswith(b"event: "):
            event = line[7:].strip().decode()
        elif line.startswith(b"data: "):
            yield event, json.loads(line[6:])


def scale_to_stream(
    scale: TimedScale, http_port: int, token: str, changes: int
) -> tuple[list[float], list[float]]:
    """(from the wire, from the platter) ms until the register stream shows each new weight."""
    shown: queue.Queue[tuple[int, float]] = queue.Queue()

    def listen() -> None:
        for event, data in sse_events(http_port, "/api/v1/registers/till-1/events", token):
            if event == "weight" and data.get("stable"):
                shown.put((data["grams"], time.perf_counter()))

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(1)
    wire, platter = [], []
    for i in range(changes):
        grams = 1000 + i * 7
        placed = time.perf_counter()
        scale.set_weight(grams)
        deadline = placed + 2
        while True:
            seen, at = shown.get(timeout=max(0.01, deadline - time.perf_counter()))
            if seen == grams:
                break
        wire.append((at - scale.first_reply[grams]) * 1000)
        platter.append((at - placed) * 1000)
        time.sleep(max(0.0, placed + 0.1 - time.perf_counter()))  # 10 Hz
    return wire, platter


def weights_to_stream(broker_port: int, http_port: int, token: str, n: int) -> list[float]:
    """ms from a scale's weight event published on the bus, 10 a second, to the register stream:
    the hub's part of the path (MQTT, registry, SSE), without the serial driver."""
    dev = "bench-bus-scale"
    pub = client("devices")
    pub.connect("127.0.0.1", broker_port)
    pub.loop_start()
    config = bus.DeviceConfig("scale", "Bench bus scale", capabilities=["weight"])
    pub.publish(
        bus.config_topic(HUB_ID, dev), bus.dumps(config), qos=1, retain=True
    ).wait_for_publish(5)
    pub.publish(
        bus.availability_topic(HUB_ID, dev), bus.ONLINE, qos=1, retain=True
    ).wait_for_publish(5)
    shown: queue.Queue[tuple[int, float]] = queue.Queue()

    def listen() -> None:
        for event, data in sse_events(http_port, "/api/v1/registers/till-1/events", token):
            if event == "weight" and data.get("device_id") == dev:
                shown.put((data["grams"], time.perf_counter()))

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(1)
    out = []
    topic = bus.event_topic(HUB_ID, dev, "weight")
    for i in range(n):
        grams, sent = 2000 + i, time.perf_counter()
        pub.publish(topic, bus.dumps(bus.Weight(grams, True, "ok", 0)), qos=1)
        while True:
            seen, at = shown.get(timeout=5)
            if seen == grams:
                break
        out.append((at - sent) * 1000)
        time.sleep(max(0.0, sent + 0.1 - time.perf_counter()))  # 10 Hz
    pub.publish(bus.config_topic(HUB_ID, dev), b"", qos=1, retain=True).wait_for_publish(5)
    pub.disconnect()
    pub.loop_stop()
    return out


def offline_seen(
    http_port: int, token: str, dev: str, act: Callable[[], None], online: bool = False
) -> float:
    """Seconds from act() until the status stream shows dev offline (or online, when online)."""
    seen: queue.Queue[float] = queue.Queue()
    armed = threading.Event()

    def listen() -> None:
        for event, data in sse_events(http_port, "/api/v1/status/stream", token):
            if event != "status":
                continue
            for d in data.get("devices", []):
                if d["id"] == dev and armed.is_set() and d["online"] == online:
                    seen.put(time.perf_counter())
                    return
                if d["id"] == dev and d["online"] != online:
                    armed.set()

    threading.Thread(target=listen, daemon=True).start()
    if not armed.wait(10):
        raise SystemExit(
            f"{dev} never showed {'offline' if online else 'online'} on the status stream"
        )
    t0 = time.perf_counter()
    act()
    return seen.get(timeout=60) - t0


class FreezingProxy:
    """A TCP proxy to the broker that can stop forwarding without closing: a power cut's silence."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.frozen = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        pair = {conn: upstream, upstream: conn}
        while True:
            ready, _, _ = select.select(list(pair), [], [], 0.2)
            if self.frozen.is_set():
                continue  # read nothing, forward nothing, close nothing
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                pair[s].sendall(data)


def mqtt_device_silence(broker_port: int, http_port: int, token: str, keepalive: int) -> float:
    proxy = FreezingProxy(broker_port)
    dev = "bench-esp32"
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"backroom-{HUB_ID}-{dev}")
    c.username_pw_set("devices", USERS["devices"])
    c.will_set(bus.availability_topic(HUB_ID, dev), bus.OFFLINE, qos=1, retain=True)
    c.connect("127.0.0.1", proxy.port, keepalive=keepalive)
    c.loop_start()
    c.publish(
        bus.config_topic(HUB_ID, dev),
        bus.dumps(bus.DeviceConfig("scale", "Bench ESP32 scale")),
        qos=1,
        retain=True,
    )
    c.publish(bus.availability_topic(HUB_ID, dev), bus.ONLINE, qos=1, retain=True)
    try:
        return offline_seen(http_port, token, dev, proxy.frozen.set)
    finally:
        c.loop_stop()
        cleaner = client("hub")
        cleaner.connect("127.0.0.1", broker_port)
        cleaner.loop_start()
        cleaner.publish(bus.config_topic(HUB_ID, dev), b"", qos=1, retain=True).wait_for_publish(5)
        cleaner.disconnect()
        cleaner.loop_stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scans", type=int, default=2000)
    ap.add_argument("--changes", type=int, default=300)
    ap.add_argument("--unplugs", type=int, default=10)
    ap.add_argument(
        "--keepalive", type=int, default=5, help="MQTT keepalive of the silent device (s)"
    )
    ap.add_argument(
        "--idle", type=float, default=20.0, help="seconds of quiet before reading agent memory"
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backroom-bench-devices-"))
    broker = start_broker(work / "mosquitto", USERS, acl_text("hub", "devices"))
    raw = raw_mqtt_round_trip(broker.port, args.scans)
    scans = scan_to_mqtt(broker.port, args.scans)

    scale = TimedScale(work / "serial-by-id-scale")  # a by-id style link, re-pointed on replug
    scale_port = scale.start()
    printer = NetworkPrinterSimulator(work / "printer")
    printer_port = printer.start()
    http_port = free_port()
    values = {
        "hub": {
            "id": HUB_ID,
            "data_dir": str(work / "data"),
            "http_host": "127.0.0.1",
            "http_port": http_port,
            "secret_key": "bench",
        },
        "mqtt": {
            "port": broker.port,
            "password": USERS["hub"],
            "device_password": USERS["devices"],
        },
        "devices": {
            "scanners": False,
            "simulate_scanner": True,
            "scale_autodetect": False,
            "scales": [{"port": scale_port, "protocol": "mettler8217", "id": "bench-scale"}],
            "printers": [{"host": "127.0.0.1", "port": printer_port, "id": "bench-printer"}],
        },
    }
    conf = work / "backroom.toml"
    conf.write_text(cfg.render_toml(values))
    db = open_database(work / "data")
    token = Auth(db).create_token("owner", "bench")
    db.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKROOM_")}
    env["BACKROOM_LOG_LEVEL"] = "WARNING"
    hub = subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "--config", str(conf)], env=env)
    agent = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "devices", "--config", str(conf)], env=env
    )
    try:
        wait_http(http_port)
        time.sleep(2)  # let the agent finish starting before the quiet period is timed
        cpu0, t0 = cpu_s(agent.pid), time.monotonic()
        time.sleep(args.idle)
        agent_cpu = (cpu_s(agent.pid) - cpu0) / (time.monotonic() - t0) * 100
        agent_idle = rss_mb(agent.pid)
        hub_path = weights_to_stream(broker.port, http_port, token, args.changes)
        wire, platter = scale_to_stream(scale, http_port, token, args.changes)

        serial_off, serial_back = [], []
        for _ in range(args.unplugs):
            serial_off.append(offline_seen(http_port, token, "bench-scale", scale.stop))
            serial_back.append(
                offline_seen(http_port, token, "bench-scale", scale.start, online=True)
            )
        scanner_off = [evdev_unplug(broker.port, http_port, token, i) for i in range(args.unplugs)]
        silent = mqtt_device_silence(broker.port, http_port, token, args.keepalive)

        print(
            f"\nBackroom device benchmarks ({os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})"
        )
        print(f"{'measure':<48}{'p50':>9}{'p99':>9}   baseline (raw MQTT round trip) p50 / p99")
        base = f"{statistics.median(raw):.2f} / {pct(raw, 99):.2f}"
        print(
            f"{'decoded scan -> MQTT subscriber (ms)':<48}{statistics.median(scans):>9.2f}{pct(scans, 99):>9.2f}   {base}"
            f"   ratio {pct(scans, 99) / pct(raw, 99):.1f}x"
        )
        print(
            f"{'scale weight event -> register stream, 10 Hz (ms)':<48}{statistics.median(hub_path):>9.2f}"
            f"{pct(hub_path, 99):>9.2f}   {base}   ratio {pct(hub_path, 99) / pct(raw, 99):.1f}x"
        )
        print(
            f"{'scale reply -> register stream, 10 Hz (ms)':<48}{statistics.median(wire):>9.2f}{pct(wire, 99):>9.2f}   {base}"
            f"   ratio {pct(wire, 99) / pct(raw, 99):.1f}x"
        )
        print(
            f"{'  (from the platter, with the poll interval)':<48}{statistics.median(platter):>9.2f}{pct(platter, 99):>9.2f}"
        )
        print(
            f"{'serial scale unplug -> status offline (ms)':<48}{statistics.median(serial_off) * 1000:>9.1f}"
            f"{max(serial_off) * 1000:>9.1f}   (max of {len(serial_off)})"
        )
        print(
            f"{'serial scale replug -> status online (ms)':<48}{statistics.median(serial_back) * 1000:>9.1f}"
            f"{max(serial_back) * 1000:>9.1f}   (max of {len(serial_back)})"
        )
        print(
            f"{'scanner unplug -> status offline (ms)':<48}{statistics.median(scanner_off) * 1000:>9.1f}"
            f"{max(scanner_off) * 1000:>9.1f}   (max of {len(scanner_off)})"
        )
        print(
            f"{'MQTT device silent -> status offline (s)':<48}{silent:>9.2f}{'':>9}   keepalive {args.keepalive} s:"
            f" {silent / args.keepalive:.2f}x keepalive"
        )
        print(f"{'devices agent idle resident memory (MB)':<48}{agent_idle:>9.1f}")
        print(f"{'devices agent idle CPU, scale polled 10/s (%)':<48}{agent_cpu:>9.2f}")
        print(
            "targets: scan p99 <= 2 ms; scale p99 <= 50 ms; unplug <= 2 s (serial, evdev), replug <= 2 s, "
            "<= 1.5x keepalive (MQTT); agent < 40 MB"
        )
    finally:
        for p in (agent, hub):
            p.terminate()
            p.wait(timeout=10)
        scale.stop()
        printer.stop()
        broker.stop()


def evdev_unplug(broker_port: int, http_port: int, token: str, n: int) -> float:
    """A scanner's read loop seeing ENODEV (what the kernel gives a pulled-out evdev device)."""
    hosting = Hosting(HUB_ID, MqttSettings("127.0.0.1", broker_port, "devices", USERS["devices"]))
    dev = f"bench-usb-scanner-{n}"
    link = hosting.new_link(
        dev, bus.DeviceConfig("scanner", "Bench USB scanner", capabilities=["scan"])
    )
    source = SimulatedScanner()
    reader = ScannerReader(
        source, lambda scan: None, lambda reason, code: link.set_available(False), name=dev
    )
    reader.start()
    link.set_available(True)
    link.start()
    try:
        return offline_seen(http_port, token, dev, source.unplug)
    finally:
        reader.stop()
        hosting.close()


if __name__ == "__main__":
    main()
