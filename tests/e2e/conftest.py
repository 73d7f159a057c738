"""A whole shop for end-to-end tests: real mosquitto, hub, devices agent and sink as processes,
the scale and printer simulators in this process, and Debian's Chromium through Playwright."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from devices.printer.simulator import NetworkPrinterSimulator
from devices.scale.simulator import ScaleSimulator
from hub import config as cfg
from hub.auth import Auth
from hub.demo import wait_http
from hub.demo_catalog import load_demo_catalog
from hub.mosquitto import Broker, acl_text, free_port, start_broker
from hub.service import open_database
from hub.store import Store
from tests.conftest import HUB_ID, USERS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
OWNER = ("olive", "owner-password-1")
MANAGER = ("manny", "manager-password-1")
CASHIER = ("cass", "cashier-password-1")
TABLET = {"width": 768, "height": 1024}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 15000
SINK_SECRET = "e2e-sink-secret"


class Shop:
    def __init__(self, root: Path, broker: Broker) -> None:
        self.root = root
        self.broker = broker
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.http_port = free_port()
        self.sink_port = free_port(exclude=frozenset({self.http_port}))
        # not port 0: the kernel could hand out a port promised to the hub or sink, not yet bound
        self.printer = NetworkPrinterSimulator(root / "receipts",
                                               port=free_port(exclude=frozenset({self.http_port, self.sink_port})))
        self.scale = ScaleSimulator()
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.cloud_extra: dict[str, Any] = {}  # more cloud.* keys, set before start()
        self.store_extra: dict[str, Any] = {}  # more store.* keys, set before start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        printer_port = self.printer.start()
        scale_path = self.scale.start()
        values: dict[str, Any] = {
            "hub": {"id": HUB_ID, "data_dir": str(self.root / "data"), "http_host": "127.0.0.1",
                    "http_port": self.http_port, "secret_key": "e2e-session-key", "default_register": "till-1"},
            "mqtt": {"host": self.broker.host, "port": self.broker.port, "username": "hub", "password": USERS["hub"],
                     "device_username": "devices", "device_password": USERS["devices"]},
            "cloud": {"url": f"http://127.0.0.1:{self.sink_port}/v1/events", "secret": SINK_SECRET,
                      "backoff_base_s": 0.2, "backoff_cap_s": 1.0, **self.cloud_extra},
            "store": {"name": "E2E Shop", "currency": "EUR", **self.store_extra},
            "devices": {"scanners": False, "simulate_scanner": True, "scale_autodetect": False,
                        "scales": [{"port": scale_path, "protocol": "mettler8217", "id": "scale-1"}],
                        "printers": [{"host": "127.0.0.1", "port": printer_port, "id": "printer-1"}]},
        }
        self.config_path = self.root / "backroom.toml"
        self.config_path.write_text(cfg.render_toml(values))
        config = cfg.load(self.config_path, env={})
        db = open_database(config.data_dir)
        load_demo_catalog(Store(db, HUB_ID, "EUR"))
        Auth(db).set_user(*OWNER, "owner")
        self.token = Auth(db).create_token("owner", "e2e")
        db.close()
        self.start_sink()
        self._spawn("hub", ["run", "--config", str(self.config_path)])
        self._spawn("agent", ["devices", "--config", str(self.config_path)])
        wait_http(f"{self.url}/healthz", self.procs["hub"], "hub")

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKROOM_")}
        with open(self.logs / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "hub.cli", *args], stdout=log, stderr=log,
                                                env={**clean, **(env or {})})

    def start_sink(self, *extra: str) -> None:
        """Start the sink; extra arguments such as "--reject-type", "stock.adjusted" go to `backroom sink`."""
        self._spawn("sink", ["sink", "--port", str(self.sink_port), "--data-dir", str(self.root / "sink"), *extra],
                    {"BACKROOM_SINK_SECRET": SINK_SECRET})
        wait_http(f"http://127.0.0.1:{self.sink_port}/v1/hubs", self.procs["sink"], "sink")

    def stop_process(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart_hub(self) -> None:
        """Start the hub again after stop_process("hub"): the same port, config and data."""
        self._spawn("hub", ["run", "--config", str(self.config_path)])
        wait_http(f"{self.url}/healthz", self.procs["hub"], "hub")

    def kill_process(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait()

    def stop(self) -> None:
        for name in ("agent", "hub", "sink"):
            if name in self.procs:
                self.stop_process(name)
        self.printer.stop()
        self.scale.stop()

    def api(self, path: str, body: Any = None, method: str | None = None) -> Any:
        """The owner's answer to GET path, or POST body (another method when given)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def sink_events(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.sink_port}/v1/hubs/{HUB_ID}/events", timeout=5) as r:
            events: list[dict[str, Any]] = json.loads(r.read())["events"]
            return events


# In the page of a fresh browser on /pair: pair it as till-1, sign a person in by PIN and open a shift.
_PAIR_SIGN_IN_OPEN = """async ([code, username, pin]) => {
    const post = async (path, body, headers = {}) => {
      const r = await fetch(path, { method: "POST", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", ...headers } });
      if (!r.ok) throw new Error(`${path}: ${await r.text()}`);
      return r.json();
    };
    await post("/api/v1/pairing", { code, register_id: "till-1" });
    const { csrf_token } = await post("/api/v1/tablet/signin", { username, pin });
    await post("/api/v1/registers/till-1/shifts", { float_minor: 0 }, { "X-CSRF-Token": csrf_token });
    return csrf_token;
  }"""


def pair_tablet(shop: Shop, page: Any, username: str = "tess", pin: str = "2580") -> str:
    """The browser of page becomes till-1's paired tablet, username (a new cashier) signed in by PIN, a
    shift open: only a paired register's queue may send offline sales. Returns the CSRF token."""
    shop.api("/api/v1/people", {"username": username, "role": "cashier", "pin": pin})
    code = shop.api("/api/v1/pairing/codes", {})["code"]
    page.goto(f"{shop.url}/pair")
    token: str = page.evaluate(_PAIR_SIGN_IN_OPEN, [code, username, pin])
    return token


def _print_tracebacks(s: Shop) -> None:
    for log in sorted(s.logs.glob("*.log")):
        text = log.read_text(errors="replace")
        if "Traceback" in text:
            print(f"--- {log.name} ---\n{text[-4000:]}")


@pytest.fixture
def shop(tmp_path: Path, broker: Broker) -> Iterator[Shop]:
    s = Shop(tmp_path, broker)
    try:
        s.start()
        yield s
    finally:
        s.stop()
        _print_tracebacks(s)


@contextmanager
def staffed_shop(root: Path) -> Iterator[Shop]:
    """A shop with its own broker and, besides the owner, a manager and a cashier: for a module's
    tests to share (each working on its own demo items)."""
    broker = start_broker(root / "mosquitto", USERS, acl_text("hub", "devices"))
    s = Shop(root / "shop", broker)
    try:
        s.start()
        for (user, password), role in ((MANAGER, "manager"), (CASHIER, "cashier")):
            subprocess.run([sys.executable, "-m", "hub.cli", "user", "set", user, "--role", role, "--password-stdin",
                            "--config", str(s.config_path)], input=password + "\n", text=True, check=True,
                           capture_output=True)
        yield s
    finally:
        s.stop()
        broker.stop()
        _print_tracebacks(s)


@contextmanager
def page_opener(
    shop: Shop, browser: Any, default_who: tuple[str, str], service_workers: str = "allow"
) -> Iterator[Callable[..., Any]]:
    """open_(path, who, viewport): a page signed in as who, each in its own browser context,
    closed when the test ends. It waits for body[data-role] when the page sets it.

    service_workers="block" for tests that hold the hub's answers with page.route: once the
    register's worker takes control of the page mid-test, Chromium may send a request through it
    and past the route (Playwright's advice is to block workers where requests are routed)."""
    contexts: list[Any] = []

    def open_(path: str, who: tuple[str, str] = default_who, viewport: dict[str, int] = TABLET) -> Any:
        context = browser.new_context(viewport=viewport, has_touch=True, service_workers=service_workers)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        # shown when a test fails: the page's own errors say more than a timeout does
        page.on("console", lambda m: print(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda exc: print(f"page error: {exc}"))
        page.goto(f"{shop.url}{path}")
        page.wait_for_url("**/login**")
        page.fill("input[name=username]", who[0])
        page.fill("input[name=password]", who[1])
        page.click("button[type=submit]")
        bare = path.split("?")[0]
        page.wait_for_url(lambda url: url.split("?")[0].endswith(bare) and "/login" not in url)
        if page.url != f"{shop.url}{path}":
            page.goto(f"{shop.url}{path}")
        return page

    try:
        yield open_
    finally:
        for context in contexts:
            context.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run ./install.sh --dev (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """As tests/conftest.py, but Playwright's event loop keeps a default-executor thread
    ("asyncio_N") for the whole session browser; that one is the browser's, not a leak."""
    import threading

    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate()
              if t not in before and t.is_alive() and not t.name.startswith("asyncio_")]
    for t in leaked:
        t.join(timeout=5)
    assert not [t.name for t in leaked if t.is_alive()]
