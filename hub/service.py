"""The hub process: database, device registry, forwarder, scheduler and web server, started together."""

from __future__ import annotations

import errno
import logging
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from hub import sysinfo
from hub.auth import Auth
from hub.catalog import Catalog
from hub.changes import APPLY_INTERVAL_S, ChangeControl
from hub.clock import Clock, iso, system_clock
from hub.config import Config
from hub.counts import Counts
from hub.db import Database
from hub.domain import sale as sales
from hub.errors import UnprocessableError, ValidationError
from hub.files import read_private, write_private
from hub.forwarder import Forwarder
from hub.ledger import Ledger
from hub.live import Channels
from hub.receiving import Receiving
from hub.registry import LAST_SEEN_FLUSH_S, DeviceRegistry
from hub.returns import ReturnsDesk
from hub.shelf_labels import ShelfLabels
from hub.store import Store, canonical_hash, line_dict

log = logging.getLogger(__name__)

DB_FILE = "backroom.sqlite3"


def open_database(data_dir: Path) -> Database:
    return Database(data_dir / DB_FILE).open()


def session_secret(config: Config, data_dir: Path) -> str:
    """hub.secret_key, or one generated once and kept in the data dir (mode 0600)."""
    if config["hub"]["secret_key"]:
        return str(config["hub"]["secret_key"])
    path = data_dir / "session.key"
    key = read_private(path)
    if key is None:
        key = secrets.token_urlsafe(32)
        write_private(path, key)
    return key


class HubService:
    def __init__(self, config: Config, clock: Clock = system_clock) -> None:
        self.config = config
        self.clock = clock
        self.data_dir = config.data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = open_database(self.data_dir)
        hub = config["hub"]
        self.hub_id: str = hub["id"]
        store = config["store"]
        self.store = Store(self.db, self.hub_id, store["currency"], clock, store["rcn_region"], store["rcn_pattern"],
                           store["rcn_check_price_digit"], store["negative_stock"])
        self.catalog = Catalog(self.store)
        self.changes = ChangeControl(self.catalog)
        self.labels = ShelfLabels(self.catalog)
        self.ledger = Ledger(self.store)
        self.counts = Counts(self.store, self.ledger, config["counts"], self.data_dir)
        self.returns = ReturnsDesk(self.store, self.ledger, store["return_approval_minor"])
        self.receiving = Receiving(self.store, self.ledger)
        self.auth = Auth(self.db, clock)
        self.channels = Channels()
        self.registry = DeviceRegistry(self.db, self.channels, self.hub_id, config["store"]["name"],
                                       config["store"]["prices_include_tax"], hub["default_register"],
                                       self.store.lookup, clock)
        cloud = config["cloud"]
        self.forwarder: Forwarder | None = None
        if cloud["url"]:
            self.forwarder = Forwarder(self.store, cloud["url"], cloud["secret"], cloud["batch_size"],
                                       cloud["backoff_base_s"], cloud["backoff_cap_s"], cloud["timeout_s"])
        self.started = time.monotonic()
        self.cpu = sysinfo.CpuSampler()
        self._status_lock = threading.Lock()
        self._status_cache: tuple[float, dict[str, Any]] | None = None
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.secret_key = session_secret(config, self.data_dir)
        self._ensure_register(hub["default_register"])

    def _ensure_register(self, register_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("INSERT OR IGNORE INTO registers (id, name) VALUES (?, ?)", (register_id, register_id))

    def start(self) -> None:
        mqtt = self.config["mqtt"]
        self.registry.start(mqtt["host"], mqtt["port"], mqtt["username"], mqtt["password"])
        if self.forwarder:
            self.forwarder.start()
        self.scheduler.add_job(self.registry.flush_last_seen, "interval", seconds=LAST_SEEN_FLUSH_S, id="flush_last_seen")
        # price changes that fell due while the hub was off apply now; the rest as their time comes
        self.changes.apply_due()
        self.scheduler.add_job(self.changes.apply_due, "interval", seconds=APPLY_INTERVAL_S, id="apply_due_changes")
        # a new hub gets its ABC classes now rather than a week from now; then weekly
        self.counts.ensure_classes()
        self.scheduler.add_job(self.counts.recompute_classes, "interval", days=7, id="abc_classes")
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.forwarder:
            self.forwarder.stop()
        self.registry.stop()
        self.db.close()

    # -- use cases the API calls --------------------------------------------------------------
    def complete_sale(self, body: Any, actor: str) -> tuple[dict[str, Any], bool]:
        """Validate, price and commit a sale; then queue its receipt. Idempotent by the sale id."""
        sale_id, register_id, requests, tenders = sales.parse_request(body)
        request_hash = canonical_hash(body)
        replay = self.store.find_sale_replay(sale_id, request_hash)
        if replay is not None:
            return self._with_receipt_state(replay), False
        if not self.store.register_exists(register_id):
            raise UnprocessableError(f"register {register_id!r} does not exist", field="register_id")
        catalog = self.store.items(r.sku for r in requests)
        store = self.config["store"]
        sale = sales.price_sale(sale_id, register_id, requests, tenders, catalog,
                                store["prices_include_tax"], store["currency"], sales.parse_tier(body))
        plan = self.registry.plan_receipt(register_id)
        response, created = self.store.record_sale(sale, request_hash, actor, plan)
        if not created:  # another request with this id committed first
            return self._with_receipt_state(response), False
        if self.forwarder:
            self.forwarder.notify()
        if plan["job_id"]:
            self.registry.dispatch_receipt(plan, response)
        return response, True

    def quote(self, body: Any) -> dict[str, Any]:
        """Price a cart exactly as a sale would be priced, without recording anything."""
        if not isinstance(body, dict) or set(body) - {"lines", "tier"}:
            raise ValidationError("send {lines: [{sku, qty, modifiers}], tier}", field="lines")
        requests = sales.parse_lines(body.get("lines"))
        store = self.config["store"]
        lines = sales.price_lines(requests, self.store.items(r.sku for r in requests), store["prices_include_tax"],
                                  sales.parse_tier(body))
        return {"currency": store["currency"], "prices_include_tax": store["prices_include_tax"],
                "lines": [line_dict(line) for line in lines],
                "total_minor": sum(ln.total_minor for ln in lines), "tax_minor": sum(ln.tax_minor for ln in lines)}

    def _with_receipt_state(self, sale: dict[str, Any]) -> dict[str, Any]:
        """A replayed answer tells where its receipt job is now, not where it was."""
        job_id = sale.get("receipt", {}).get("job_id")
        job = self.registry.print_job(job_id) if job_id else None
        if job is None:
            return sale
        return {**sale, "receipt": {**sale["receipt"], "status": job["status"], "error": job["error"]}}

    def status_snapshot(self, max_age_s: float) -> dict[str, Any]:
        """status(), computed at most once per max_age_s however many pages watch it: the CPU
        figure then covers one steady interval, and ten open pages cost what one does."""
        with self._status_lock:
            now = time.monotonic()
            if self._status_cache is None or now - self._status_cache[0] >= max_age_s:
                self._status_cache = (now, self.status())
            return self._status_cache[1]

    def status(self) -> dict[str, Any]:
        registers = [dict(r) for r in self.db.conn.execute("SELECT id, name FROM registers ORDER BY id")]
        sync = self.store.sync_summary()
        sync.update({"enabled": self.forwarder is not None, "url": self.config["cloud"]["url"],
                     "next_try_in_s": self._next_try()})
        return {
            "now": iso(self.clock()),
            "hub": {"id": self.hub_id, "name": self.config["store"]["name"], "version": _version(),
                    "mqtt_connected": self.registry.connected,
                    **sysinfo.health(self.data_dir, self.started, self.cpu)},
            "devices": self.registry.devices(),
            "registers": registers,
            "sync": sync,
        }

    def _next_try(self) -> float | None:
        if self.forwarder and self.forwarder.next_try_at:
            return round(max(0.0, self.forwarder.next_try_at - time.monotonic()), 1)
        return None


def _version() -> str:
    from hub import __version__

    return __version__


def serve(server: Any, stop: threading.Event | None, before_close: Any = None) -> None:
    """Run a waitress server until stop is set, then stop it in order: let running requests
    finish, then close every socket from inside the server's own loop (closing them from another
    thread while the loop sits in select() fails with EBADF)."""
    from waitress import wasyncore

    if stop is not None:
        def shut() -> None:
            stop.wait()
            if before_close is not None:
                before_close()
            server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
            try:
                server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
            except OSError:  # the trigger is already gone: close what is left from here
                wasyncore.close_all(server._map, ignore_all=True)

        threading.Thread(target=shut, name="shutdown", daemon=True).start()
    try:
        server.run()
    except OSError as exc:
        # closing from the shutdown thread can pull an fd out from under select(): that is a stop
        if not (stop is not None and stop.is_set() and exc.errno == errno.EBADF):
            raise
    finally:
        server.task_dispatcher.shutdown()


def run_forever(service: HubService, host: str, port: int, threads: int, stop: threading.Event | None = None) -> None:
    """Serve the hub with waitress (never Flask's development server) until stopped."""
    from waitress.server import create_server

    from hub.web import create_app

    app = create_app(service)
    server = create_server(app, host=host, port=port, threads=threads, channel_timeout=3600,
                           ident="backroom")
    service.start()
    log.info("hub %s serving on http://%s:%s/", service.hub_id, host, server.effective_port)
    try:
        # open event streams end first, so their workers can finish
        serve(server, stop, before_close=service.channels.close_all)
    finally:
        service.stop()
