"""Backroom benchmarks: figures with ratios against baselines measured in the same run.

    .venv/bin/python bench/run.py [--scans 2000] [--sales 2000]

1. Scan latency: MQTT scan publish -> SSE event read from the register stream, against a raw
   MQTT publish -> subscriber round trip through the same broker.
2. Sale throughput: 4 concurrent clients POSTing sales to the real hub (waitress), against a bare
   Flask JSON route on the same server settings.
3. Hub idle resident memory after start-up and a quiet period.

Not run by CI; no test asserts a time. Absolute numbers on a shared machine mean little, ratios more.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402

from devices import bus  # noqa: E402
from hub import config as cfg  # noqa: E402
from hub.auth import Auth  # noqa: E402
from hub.demo_catalog import load_demo_catalog  # noqa: E402
from hub.mosquitto import acl_text, free_port, start_broker  # noqa: E402
from hub.service import open_database  # noqa: E402
from hub.store import Store  # noqa: E402

HUB_ID = "bench-hub"
USERS = {"hub": "bench-hub-pw", "devices": "bench-dev-pw"}
THREADS = 24


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def client(user: str) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{user}-{uuid.uuid4().hex[:6]}")
    c.username_pw_set(user, USERS[user])
    return c


def wait_http(port: int, path: str = "/healthz", timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing answered on port {port}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- baselines ---------------------------------------------------------------------------------
def raw_mqtt_round_trip(port: int, n: int) -> list[float]:
    got: queue.Queue[float] = queue.Queue()
    sub, pub = client("hub"), client("devices")
    subscribed = threading.Event()
    sub.on_message = lambda c, u, m: got.put(time.perf_counter() - float(m.payload))
    sub.on_subscribe = lambda *a: subscribed.set()
    for c in (sub, pub):
        c.connect("127.0.0.1", port)
        c.loop_start()
    sub.subscribe(f"backroom/{HUB_ID}/dev/raw/event/x", qos=0)
    subscribed.wait(5)
    out = []
    for _ in range(n):
        pub.publish(f"backroom/{HUB_ID}/dev/raw/event/x", repr(time.perf_counter()), qos=0)
        out.append(got.get(timeout=5) * 1000)
    for c in (sub, pub):
        c.disconnect()
        c.loop_stop()
    return out


BARE_SERVER = """
import sys
from flask import Flask, jsonify, request
from waitress import serve
app = Flask("bare")
@app.post("/bare")
def bare():
    body = request.get_json()
    return jsonify({"id": body["id"], "ok": True}), 201
serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[2]), ident="bare")
"""


def _post_worker(port: int, path: str, headers: dict[str, str], n: int, body_kind: str, out: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for _ in range(n):
        body = {"id": str(uuid.uuid4()), "register_id": "till-1",
                "lines": [{"sku": "D1001", "qty": 1}, {"sku": "D1002", "qty": 2}, {"sku": "P4011", "qty": 750}],
                "tenders": [{"kind": "cash", "amount_minor": 5000}]}
        t0 = time.perf_counter()
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", **headers})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 201:
            raise SystemExit(f"{path} answered {resp.status}")
        times.append(time.perf_counter() - t0)
    out.put(times)


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(port: int, path: str, headers: dict[str, str], total: int, clients: int = 4) -> tuple[float, list[float]]:
    out: mp.Queue[list[float]] = mp.Queue()
    per = total // clients
    procs = [mp.Process(target=_post_worker, args=(port, path, headers, per, path, out)) for _ in range(clients)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    latencies = [t for _ in procs for t in out.get(timeout=600)]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    return len(latencies) / elapsed, [t * 1000 for t in latencies]


# -- the hub -----------------------------------------------------------------------------------
def scan_latency(broker_port: int, http_port: int, token: str, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
    conn.request("GET", "/api/v1/registers/till-1/events", headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    assert resp.status == 200, resp.status
    sent: dict[str, float] = {}
    pub = client("devices")
    pub.connect("127.0.0.1", broker_port)
    pub.loop_start()
    resp.readline()  # ": connected"
    resp.readline()
    out = []
    topic = bus.event_topic(HUB_ID, "bench-scanner", "scan")
    for i in range(n):
        scan_id = f"s{i}"
        sent[scan_id] = time.perf_counter()
        pub.publish(topic, bus.dumps(bus.Scan(id=scan_id, data="0490000010015")), qos=0)
        while True:
            line = resp.readline()
            if line.startswith(b"data: "):
                got = json.loads(line[6:])
                out.append((time.perf_counter() - sent[got["scan_id"]]) * 1000)
                break
    pub.disconnect()
    pub.loop_stop()
    conn.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scans", type=int, default=2000)
    ap.add_argument("--sales", type=int, default=2000)
    ap.add_argument("--idle", type=float, default=20.0, help="seconds of quiet before reading idle memory")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="backroom-bench-"))
    broker = start_broker(work / "mosquitto", USERS, acl_text("hub", "devices"))
    http_port, bare_port = free_port(), free_port()
    values = {
        "hub": {"id": HUB_ID, "data_dir": str(work / "data"), "http_host": "127.0.0.1", "http_port": http_port,
                "http_threads": THREADS, "secret_key": "bench"},
        "mqtt": {"port": broker.port, "password": USERS["hub"], "device_password": USERS["devices"]},
    }
    conf = work / "backroom.toml"
    conf.write_text(cfg.render_toml(values))
    db = open_database(work / "data")
    load_demo_catalog(Store(db, HUB_ID, "EUR"))
    token = Auth(db).create_token("owner", "bench")
    db.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKROOM_")}
    hub = subprocess.Popen([sys.executable, "-m", "hub.cli", "run", "--config", str(conf)], env={**env, "BACKROOM_LOG_LEVEL": "WARNING"})
    bare = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(bare_port), str(THREADS)])
    try:
        wait_http(http_port)
        wait_http(bare_port, "/")
        time.sleep(args.idle)
        idle = rss_mb(hub.pid)

        # a scanner bound to till-1
        dev = client("devices")
        dev.connect("127.0.0.1", broker.port)
        dev.loop_start()
        dev.publish(bus.config_topic(HUB_ID, "bench-scanner"), bus.dumps(bus.DeviceConfig("scanner", "Bench scanner")), qos=1, retain=True).wait_for_publish(5)
        time.sleep(0.5)

        raw = raw_mqtt_round_trip(broker.port, args.scans)
        scans = scan_latency(broker.port, http_port, token, args.scans)
        c0 = cpu_s(bare.pid)
        bare_rate, bare_lat = throughput(bare_port, "/bare", {}, args.sales)
        bare_cpu = (cpu_s(bare.pid) - c0) / args.sales * 1000
        c0 = cpu_s(hub.pid)
        sale_rate, sale_lat = throughput(http_port, "/api/v1/sales", {"Authorization": f"Bearer {token}"}, args.sales)
        sale_cpu = (cpu_s(hub.pid) - c0) / args.sales * 1000
        after = rss_mb(hub.pid)
        dev.publish(bus.config_topic(HUB_ID, "bench-scanner"), b"", retain=True).wait_for_publish(5)
        dev.disconnect()
        dev.loop_stop()

        print(f"\nBackroom benchmarks ({os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
        print(f"{'measure':<44}{'p50':>10}{'p99':>10}   baseline p50 / p99      ratio (p99)")
        print(f"{'scan: MQTT publish -> SSE event (ms)':<44}{statistics.median(scans):>10.2f}{pct(scans, 99):>10.2f}"
              f"   raw MQTT {statistics.median(raw):.2f} / {pct(raw, 99):.2f}      {pct(scans, 99) / pct(raw, 99):.1f}x")
        print(f"{'sale POST latency, 4 clients (ms)':<44}{statistics.median(sale_lat):>10.2f}{pct(sale_lat, 99):>10.2f}"
              f"   bare route {statistics.median(bare_lat):.2f} / {pct(bare_lat, 99):.2f}")
        print(f"{'sale throughput, 4 clients (per s)':<44}{sale_rate:>10.0f}{'':>10}   bare route {bare_rate:.0f}/s"
              f"            {sale_rate / bare_rate:.2f} of bare")
        print(f"{'server CPU per request (ms)':<44}{sale_cpu:>10.2f}{'':>10}   bare route {bare_cpu:.2f}"
              f"                 {sale_cpu / bare_cpu:.1f}x")
        print(f"{'hub resident memory (MB)':<44}{idle:>10.1f}{'':>10}   after the load: {after:.1f}")
        print("targets: scan p99 <= 5 ms; sales >= 0.5 of the bare route; idle memory < 80 MB")
    finally:
        for p in (hub, bare):
            p.terminate()
            p.wait(timeout=10)
        broker.stop()


if __name__ == "__main__":
    main()
