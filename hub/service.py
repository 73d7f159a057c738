"""The hub process: database, device registry, forwarder, scheduler and web server, started together."""

from __future__ import annotations

import errno
import logging
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from hub import offline_review, sysinfo
from hub.approvals import Approvals
from hub.auth import Auth, allows
from hub.bridge import BridgeTransport
from hub.cart import CartRules
from hub.cash_movements import CashDrawer
from hub.catalog import Catalog
from hub.catalog_snapshot import CatalogWatch
from hub.changes import APPLY_INTERVAL_S, ChangeControl
from hub.clock import Clock, iso, system_clock
from hub.config import Config
from hub.counts import Counts
from hub.db import Database
from hub.discovery import Discovery
from hub.domain import sale as sales
from hub.domain import tax
from hub.domain.tenders import receipt_choice
from hub.domain.weighing import claimed_source
from hub.errors import Forbidden, UnprocessableError, ValidationError
from hub.files import read_private, write_private
from hub.forwarder import Forwarder
from hub.inbound import ChangeFeed
from hub.inbound import summary as inbound_summary
from hub.ledger import Ledger
from hub.live import Channels
from hub.outbox import Outbox
from hub.pairing import Pairing
from hub.people import People
from hub.print_queue import PrintQueue
from hub.receipts import ReceiptSettings
from hub.receiving import Receiving
from hub.registry import LAST_SEEN_FLUSH_S, DeviceRegistry
from hub.returns import ReturnsDesk
from hub.shelf_labels import ShelfLabels
from hub.shifts import Shifts
from hub.store import Store, canonical_hash, line_dict
from hub.stored_value import StoredValue
from hub.weighing import WeighingDesk

log = logging.getLogger(__name__)

DB_FILE = "backroom.sqlite3"
OUTBOX_UPKEEP_S = 60


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
        self.stored_value = StoredValue(self.db, clock, store["currency"])  # gift cards and store credit
        self.auth = Auth(self.db, clock)
        self.channels = Channels()
        self.catalog_watch = CatalogWatch(self.db, self.channels)  # registers hear of catalog changes at once
        self.registry = DeviceRegistry(self.db, self.channels, self.hub_id, config["store"]["name"],
                                       config["store"]["prices_include_tax"], hub["default_register"],
                                       self.store.lookup, clock)
        self.weighing = WeighingDesk(self.db, self.registry.weights_for, self.store.lookup,
                                     store["weighing_max_age_s"], clock)
        self.registry.on_weight = self.weighing.observe  # every reading counts toward "back at zero"
        self.print_queue = PrintQueue(self.db, self.registry, self.channels, ReceiptSettings.from_config(config), clock)
        self.registry.on_job_result = self.print_queue.on_result
        self.people = People(self.db, clock)  # PINs, tablets, approvals and shifts (issue 7 §1)
        self.pairing = Pairing(self.db, clock)
        self.approvals = Approvals(self.db, self.people, clock)
        self.shifts = Shifts(self.db, self.print_queue, store["currency"], clock)
        self.cash_drawer = CashDrawer(self.db, self.print_queue, clock)  # paid in and out during a shift
        self.registry.on_availability = self.print_queue.on_availability
        self.discovery = Discovery(config, self.db, self.registry.publish_retained, clock)
        cloud = config["cloud"]
        bridged = cloud["mode"] == "mqtt-bridge"
        # with no receiver nothing is ever acknowledged: the outbox then prunes by age alone
        self.outbox = Outbox(self.db, self.hub_id, clock, cloud["outbox_quota_mb"], cloud["retention_days"],
                             receiver=bool(cloud["url"]) or bridged)
        self.forwarder: Forwarder | None = None
        self.bridge: BridgeTransport | None = None
        if cloud["url"] or bridged:
            self.forwarder = Forwarder(
                self.outbox, cloud["url"], cloud["secret"], batch_events=cloud["batch_events"],
                batch_bytes=cloud["batch_bytes"], batch_age_s=cloud["batch_age_s"],
                compress=cloud["compress"] and not bridged,
                base_s=cloud["backoff_base_s"], cap_s=cloud["backoff_cap_s"], timeout_s=cloud["timeout_s"],
                max_kbit_s=cloud["max_kbit_s"], fresh_after_s=cloud["fresh_after_s"])
            self.forwarder.on_state = self._cloud_state_changed  # registers show a banner while it's down
            self.db.after_commit(self.forwarder.notify)  # every writer's events leave soon, not in 30 s
            if bridged:  # batches leave through the local broker's bridge (docs/cloud.md)
                mq = config["mqtt"]
                self.bridge = BridgeTransport(self.hub_id, mq["host"], mq["port"], mq["username"], mq["password"],
                                              cloud["bridge_ack_timeout_s"])
                self.forwarder.transport = self.bridge
        # item and price changes pulled from the back office; its fields then change only through it
        self.change_feed: ChangeFeed | None = None
        if cloud["changes_url"]:
            self.changes.back_office = True
            self.change_feed = ChangeFeed(
                self.changes, cloud["changes_url"], cloud["secret"], self.hub_id, interval_s=cloud["pull_interval_s"],
                page_size=cloud["pull_page_size"], base_s=cloud["backoff_base_s"], cap_s=cloud["backoff_cap_s"],
                timeout_s=cloud["timeout_s"])
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
        # a power cut during a credentials change can leave mosquitto's password file empty: refill it first
        self.discovery.credentials.restore()
        self.discovery.start()
        self.registry.start(mqtt["host"], mqtt["port"], mqtt["username"], mqtt["password"])
        self.print_queue.start()
        self.catalog_watch.start()
        if self.bridge:
            self.bridge.start()
        if self.forwarder:
            self.forwarder.start()
        if self.change_feed:
            self.change_feed.start()
        self.scheduler.add_job(self.registry.flush_last_seen, "interval", seconds=LAST_SEEN_FLUSH_S, id="flush_last_seen")
        # price changes that fell due while the hub was off apply now; the rest as their time comes
        self.changes.apply_due()
        self.scheduler.add_job(self.changes.apply_due, "interval", seconds=APPLY_INTERVAL_S, id="apply_due_changes")
        # a new hub gets its ABC classes now rather than a week from now; then weekly
        self.counts.ensure_classes()
        self.scheduler.add_job(self.counts.recompute_classes, "interval", days=7, id="abc_classes")
        # delivered events pruned after cloud.retention_days; quota warnings; telemetry dropped when full
        self.scheduler.add_job(self.outbox.upkeep, "interval", seconds=OUTBOX_UPKEEP_S, id="outbox_upkeep")
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.forwarder:
            self.forwarder.stop()
        if self.bridge:
            self.bridge.stop()
        if self.change_feed:
            self.change_feed.stop()
        self.catalog_watch.stop()
        self.discovery.stop()
        self.print_queue.stop()
        self.registry.stop()
        self.db.close()

    # -- use cases the API calls --------------------------------------------------------------
    def complete_sale(self, body: Any, actor: str, role: str = "", tablet: bool = False) -> tuple[dict[str, Any], bool]:
        """Validate, price and commit a sale; then queue its receipt. Idempotent by the sale id.

        offline: true marks a sale a register made without the hub, replayed (hub.catalog_snapshot): only
        a paired tablet's session (tablet) or an integration token may send one; it is kept at the prices
        the register charged and booked into the shift open when it was made (docs/registers.md).
        """
        reasons = tuple(self.config["store"]["discount_reasons"])
        sale_id, register_id, requests, tenders = sales.parse_request(body, reasons)
        cart_discount, approvals = sales.parse_cart(body, reasons)
        recorded_at = sales.offline_recorded_at(body, self.clock(), allows(role, ("manager",)))
        if recorded_at is not None and not tablet and role != "integration":
            raise Forbidden("offline: true is for the queue of a paired register that lost the hub (or an integration "
                            "token); send this sale without offline and recorded_at", field="offline",
                            code="offline_not_allowed")
        charged = sales.parse_charged(body, len(requests))
        seller = sales.offline_seller(body)  # an offline sale is the seller's, whoever's session sends it
        # the offline marks stay out of the hash: a sale first sent live, then replayed from the queue, is one sale
        request_hash = canonical_hash({k: v for k, v in body.items() if k not in sales.OFFLINE_FIELDS})
        replay = self.store.find_sale_replay(sale_id, request_hash)
        if replay is not None:
            return self._with_receipt_state(replay), False
        if not self.store.register_exists(register_id):
            raise UnprocessableError(f"register {register_id!r} does not exist", field="register_id")
        catalog = self.store.items(r.sku for r in requests)
        requests = self.weighing.settle_lines(sale_id, register_id, requests, catalog)  # legal-for-trade weights
        store = self.config["store"]
        offline = None
        if recorded_at is None:
            sale = sales.price_sale(sale_id, register_id, requests, tenders, catalog,
                                    store["prices_include_tax"], store["currency"], sales.parse_tier(body),
                                    cart_discount, store["tax_rounding"])
        else:  # the customer paid what the register charged and left: that is the sale
            today = sales.price_lines(requests, catalog, store["prices_include_tax"], sales.parse_tier(body),
                                      cart_discount, store["tax_rounding"])
            sale, differences = sales.price_offline(sale_id, register_id, today, tenders, charged, store["currency"],
                                                    cart_discount, store["tax_rounding"])
            offline = {"recorded_at": iso(recorded_at), "tablet": tablet, "differences": differences,
                       "catalog_version": charged.catalog_version if charged else None,
                       "today_total_minor": sum(ln.total_minor for ln in today),
                       "shift_from": iso(recorded_at + sales.OFFLINE_CLOCK_SKEW)}
        rules = CartRules.from_store(store)  # discounts and overrides: the manager approvals they need
        flags: list[dict[str, Any]] = []
        seller_role = role
        if offline is not None:  # the sale is the seller's; who sent it is kept with it
            offline["sent_by"] = actor
            known = self.auth.current_role(seller) if seller else None
            if seller and known:
                actor, seller_role = f"user:{seller}", known
            elif seller:
                flags.append({"action": "seller", "details": {"sold_by": seller}, "reason": "seller_unknown"})

        def approve(conn: sqlite3.Connection, s: sales.Sale) -> tuple[sales.Sale, str | None]:
            if offline is None:
                return rules.settle(conn, s, approvals, actor, role, self.clock())
            settled, approver, missing = rules.settle_offline(conn, s, approvals, actor, seller_role, role,
                                                              self.clock())
            offline["approvals_missing"] = flags + missing  # kept for the owner's review, never refused
            return settled, approver
        # an offline sale's customer has left: no receipt prints now (a reprint stays possible)
        printed = receipt_choice(body) == "print"  # or none: no paper, but cash still opens the drawer
        plan = self.print_queue.plan_receipt(register_id) if recorded_at is None and printed else \
            {"job_id": None, "status": "none" if recorded_at is None else "offline", "device_id": None}
        response, created = self.store.record_sale(
            sale, request_hash, actor, plan, offline=offline,
            approve=approve,
            spend_credit=lambda conn, s, at: self.returns.spend_credit(conn, s.id, s.register_id, list(s.tenders),
                                                                       actor, at))
        if not created:  # another request with this id committed first
            return self._with_receipt_state(response), False
        if plan["job_id"]:
            self.print_queue.dispatch_sale(plan)  # sends now if the printer is online; never waits
        elif plan["status"] == "none" and any(t.kind == "cash" for t in sale.tenders):
            printer = self.print_queue.plan_receipt(register_id)["device_id"]
            if printer:  # the drawer hangs off the receipt printer (ESC p)
                self.print_queue.submit(printer, "drawer", {"pin": 2}, kind="drawer", register_id=register_id,
                                        actor=actor)
        return response, True

    def quote(self, body: Any, role: str = "") -> dict[str, Any]:
        """Price a cart exactly as a sale would be priced, without recording anything."""
        if not isinstance(body, dict) or set(body) - {"lines", "tier", "cart_discount"}:
            raise ValidationError("send {lines: [{sku, qty, modifiers, discount, price_override}], tier, cart_discount}",
                                  field="lines")
        reasons = tuple(self.config["store"]["discount_reasons"])
        requests = sales.parse_lines(body.get("lines"), reasons)
        cart_discount, _ = sales.parse_cart(body, reasons)
        store = self.config["store"]
        catalog = self.store.items(r.sku for r in requests)
        requests = self.weighing.price_labels(requests, catalog)  # a price label's line is one pack
        if any(r.qty == 0 for r in requests):
            raise ValidationError("a quote prices the quantities it is given: send qty on every line", field="lines")
        requests = [claimed_source(r, catalog[r.sku].unit) if r.sku in catalog else r for r in requests]
        lines = sales.price_lines(requests, catalog, store["prices_include_tax"], sales.parse_tier(body),
                                  cart_discount, store["tax_rounding"])
        return {"currency": store["currency"], "prices_include_tax": store["prices_include_tax"],
                "lines": [line_dict(line) for line in lines],
                "total_minor": sum(ln.total_minor for ln in lines), "tax_minor": sum(ln.tax_minor for ln in lines),
                "taxes": tax.rates_dicts(tax.summarize([(ln.total_minor, ln.tax_minor, ln.tax_rate_bp) for ln in lines])),
                "discount_minor": sales.adjustments(lines, store["prices_include_tax"]).discount_minor,
                "approvals_needed": CartRules.from_store(store).needed(lines, role),
                "discount_reasons": list(store["discount_reasons"])}

    def _with_receipt_state(self, sale: dict[str, Any]) -> dict[str, Any]:
        """A replayed answer tells where its receipt job is now, not where it was."""
        job_id = sale.get("receipt", {}).get("job_id")
        job = self.print_queue.job(job_id) if job_id else None
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
        sync = self.outbox.summary()
        cloud = self.config["cloud"]
        url = cloud["url"] if cloud["mode"] == "https" else f"{cloud['bridge_host']}:{cloud['bridge_port']} (MQTT bridge)"
        sync.update({"enabled": self.forwarder is not None, "url": url, "mode": cloud["mode"],
                     "bridge_up": self.bridge.bridge_up if self.bridge else None, "next_try_in_s": self._next_try()})
        sync["inbound"] = inbound_summary(self.db, self.change_feed is not None, self.change_feed)
        return {
            "now": iso(self.clock()),
            "hub": {"id": self.hub_id, "name": self.config["store"]["name"], "version": _version(),
                    "mqtt_connected": self.registry.connected,
                    **sysinfo.health(self.data_dir, self.started, self.cpu)},
            "devices": self.registry.devices(),
            "registers": registers,
            "sync": sync,
            "offline_sales": offline_review.summary(self.db.conn),  # the status page's review count
        }

    def cloud_state(self) -> dict[str, Any] | None:
        """What a register's banner shows: the cloud link's state, or None when forwarding is off."""
        if self.forwarder is None:
            return None
        row = self.outbox.state()
        return {"state": row["state"], "since": row["state_since"], "reason": row["state_reason"]}

    def _cloud_state_changed(self, state: str, reason: str | None) -> None:
        cloud = self.cloud_state() or {"state": state}
        self.channels.publish_prefix("register:", "cloud", cloud)
        self.channels.publish("status", "cloud", cloud)  # open status pages refresh at once

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
    service.discovery.http_port = int(server.effective_port)  # advertised by zeroconf (waitress may give a str)
    service.start()
    log.info("hub %s serving on http://%s:%s/", service.hub_id, host, server.effective_port)
    try:
        # open event streams end first, so their workers can finish
        serve(server, stop, before_close=service.channels.close_all)
    finally:
        service.stop()
