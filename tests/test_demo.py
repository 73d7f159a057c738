"""`backroom demo` as a new user runs it: one command, devices online, scans and weights reach the
register stream, Ctrl-C stops every process it started, and a second run reuses the data."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from hub.mosquitto import free_port
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[1]


def start_demo(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKROOM_")}
    # a session of its own, like a terminal's foreground job, so Ctrl-C can go to its whole group
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "demo", "--data-dir", str(data_dir), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
                            start_new_session=True)
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        with proc.stdout:
            for line in proc.stdout:
                lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc.reader = reader  # type: ignore[attr-defined]
    wait_until(lambda: any("Press Ctrl-C to stop" in ln for ln in lines) or proc.poll() is not None,
               "the demo to start", timeout=60)
    assert proc.poll() is None, "".join(lines)
    return proc, lines


def cli(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], capture_output=True, text=True, check=True,
                          cwd=ROOT).stdout


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def stop(proc: subprocess.Popen[str], data_dir: Path, lines: list[str]) -> None:
    """Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group."""
    children = json.loads((data_dir / "runtime.json").read_text())["children"]
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    wait_until(lambda: not any(alive(pid) for pid in children.values()), "every demo process to stop")
    proc.reader.join(timeout=30)  # type: ignore[attr-defined]
    assert not proc.reader.is_alive(), "something still holds the demo's output open"  # type: ignore[attr-defined]
    output = "".join(lines)
    assert "Traceback" not in output, output[output.find("Traceback") - 200:][:3000]
    assert "lost the MQTT broker" not in output, "the broker stopped before the processes using it"


def test_demo_runs_the_shop_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "demo", free_port()
    proc, lines = start_demo(data_dir, port)
    try:
        text = "".join(lines)
        login = re.search(r"Sign in as:\s+owner / (\S+)", text)
        assert login and f"http://127.0.0.1:{port}/register/till-1" in text
        token = cli("token", "create", "--role", "owner", "--data-dir", str(data_dir)).strip()
        headers = {"Authorization": f"Bearer {token}"}

        def get(path: str) -> dict:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", path, headers=headers)
                return json.loads(conn.getresponse().read())
            finally:
                conn.close()

        kinds = wait_until(lambda: {d["kind"] for d in get("/api/v1/devices")["devices"] if d["online"]} == {
            "scanner", "scale", "receipt_printer"} and True, "scanner, scale and printer online", timeout=30)
        assert kinds
        assert get("/api/v1/lookup?code=4011")["item"]["unit"] == "g"
        status = cli("status", "--data-dir", str(data_dir))
        assert "hub demo-hub: running" in status and "sim-scanner-1" in status

        stream = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        stream.request("GET", "/api/v1/registers/till-1/events", headers=headers)
        resp = stream.getresponse()
        assert resp.status == 200

        def next_event(name: str) -> dict:
            while True:
                line = resp.readline().decode()
                if line == f"event: {name}\n":
                    return json.loads(resp.readline().decode()[len("data: "):])

        cli("demo", "scan", "0490000010015", "--data-dir", str(data_dir))
        assert next_event("scan")["item"]["sku"] == "D1001"
        cli("demo", "weigh", "532", "--data-dir", str(data_dir))
        weight = next_event("weight")
        while not (weight["grams"] == 532 and weight["stable"]):
            weight = next_event("weight")
        resp.close()
        stream.close()
    finally:
        if proc.poll() is None:
            stop(proc, data_dir, lines)
    assert not (data_dir / "runtime.json").exists()

    again, lines2 = start_demo(data_dir, port)
    try:
        assert login.group(0) in "".join(lines2), "a second run must reuse the data and the login"
        assert "loaded the demo catalog" not in "".join(lines2)
    finally:
        stop(again, data_dir, lines2)
