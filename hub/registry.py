"""The hub's side of the device bus: registry of devices, scan routing, print jobs (paho-mqtt 2.x)."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import asdict
from typing import Any

import paho.mqtt.client as mqtt

from devices import bus
from devices.link import close_client
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.domain.money import format_minor
from hub.errors import BackroomError, NotFound
from hub.live import Channels

log = logging.getLogger(__name__)

LAST_SEEN_FLUSH_S = 300.0


class DeviceRegistry:
    """Listens to every device of this hub and keeps first seen, last seen and online state."""

    def __init__(self, db: Database, channels: Channels, hub_id: str, store_name: str, prices_include_tax: bool,
                 default_register: str, lookup: Any, clock: Clock = system_clock) -> None:
        self.db = db
        self.channels = channels
        self.hub_id = hub_id
        self.store_name = store_name
        self.prices_include_tax = prices_include_tax
        self.default_register = default_register
        self.lookup = lookup  # callable(code) -> dict, raising BackroomError
        self.clock = clock
        self.connected = False
        self._client: mqtt.Client | None = None
        self._last_seen: dict[str, str] = {}
        self._weights: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._last_error_log: dict[str, float] = {}

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, host: str, port: int, username: str, password: str) -> None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"backroom-hub-{self.hub_id}")
        if username:
            client.username_pw_set(username, password)
        client.will_set(bus.hub_status_topic(self.hub_id), json.dumps({"state": "offline"}), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 30)
        with self.db.write() as conn:  # retained availability messages set the truth again
            conn.execute("UPDATE devices SET online = 0")
        self._client = client
        client.connect_async(host, port, keepalive=30)
        client.loop_start()

    def stop(self) -> None:
        client = self._client
        if client is None:
            return
        info = client.publish(bus.hub_status_topic(self.hub_id), json.dumps({"state": "offline"}), qos=1, retain=True)
        if self.connected:
            info.wait_for_publish(timeout=2)
        close_client(client)
        self._client = None
        self.flush_last_seen()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            self._log_once("connect", "MQTT broker refused the hub: %s; check mqtt.username/password", reason_code)
            return
        self.connected = True
        client.subscribe(bus.all_devices_filter(self.hub_id), qos=1)
        # Birth message: devices re-announce when they see it (DESIGN, device bus).
        client.publish(bus.hub_status_topic(self.hub_id),
                       json.dumps({"state": "online", "at": iso(self.clock())}), qos=1, retain=True)
        log.info("hub connected to the MQTT broker")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self.connected = False
        if reason_code != 0:
            self._log_once("disconnect", "lost the MQTT broker (%s); reconnecting", reason_code)

    def _should_log(self, key: str) -> bool:
        """Repeated device errors are logged once a minute per kind, not once per message."""
        now = time.monotonic()
        if now - self._last_error_log.get(key, -1e9) > 60:
            self._last_error_log[key] = now
            return True
        return False

    def _log_once(self, key: str, msg: str, *args: Any) -> None:
        if self._should_log(key):
            log.warning(msg, *args)

    # -- incoming -----------------------------------------------------------------------------
    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = bus.parse_topic(msg.topic)
            if topic.hub != self.hub_id or topic.part == "cmd":
                return
            self._touch(topic.dev)
            if topic.part == "config":
                self._on_config(topic.dev, msg.payload)
            elif topic.part == "availability":
                self._on_availability(topic.dev, msg.payload.decode("utf-8", "replace"))
            elif topic.part == "event" and topic.name == "scan":
                self._on_scan(topic.dev, bus.Scan.from_payload(msg.payload))
            elif topic.part == "event" and topic.name == "weight":
                weight = {"device_id": topic.dev, **asdict(bus.Weight.from_payload(msg.payload))}
                with self._lock:
                    self._weights[topic.dev] = weight
                self._to_register(topic.dev, "weight", weight)
            elif topic.part == "result":
                self._on_result(topic.dev, topic.name or "", bus.JobResult.from_payload(msg.payload))
        except (bus.BusError, BackroomError, ValueError) as exc:
            self._log_once(f"bad:{msg.topic}", "ignored a bad message on %s: %s", msg.topic, exc)
        except Exception:  # noqa: BLE001 - one message must never stop paho's thread, and so the bus
            if self._should_log(f"crash:{msg.topic}"):
                log.exception("failed to handle a message on %s; the hub keeps listening", msg.topic)

    def _touch(self, dev: str) -> None:
        with self._lock:
            self._last_seen[dev] = iso(self.clock())

    def _on_config(self, dev: str, payload: bytes) -> None:
        if not payload:
            with self.db.write() as conn:
                conn.execute("DELETE FROM devices WHERE id = ?", (dev,))
            log.info("device %s removed itself", dev)
            return
        cfg = bus.DeviceConfig.from_payload(payload)
        now = iso(self.clock())
        with self.db.write() as conn:
            register = conn.execute("SELECT id FROM registers WHERE id = ?", (self.default_register,)).fetchone()
            conn.execute(
                "INSERT INTO devices (id, kind, name, model, manufacturer, sw_version, connection, capabilities, "
                "register_id, online, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, model = excluded.model, "
                "manufacturer = excluded.manufacturer, sw_version = excluded.sw_version, "
                "connection = excluded.connection, capabilities = excluded.capabilities, last_seen = excluded.last_seen",
                (dev, cfg.kind, cfg.name, cfg.model, cfg.manufacturer, cfg.sw_version, cfg.connection,
                 json.dumps(cfg.capabilities), register[0] if register else None, now, now),
            )
        self._status_changed()

    def _on_availability(self, dev: str, state: str) -> None:
        if state not in (bus.ONLINE, bus.OFFLINE):
            raise bus.BusError(f"availability {state!r} is neither online nor offline")
        if state == bus.OFFLINE:
            with self._lock:  # an offline scale's last reading is not a weight to sell by
                self._weights.pop(dev, None)
        with self.db.write() as conn:
            conn.execute("UPDATE devices SET online = ?, last_seen = ? WHERE id = ?",
                         (int(state == bus.ONLINE), iso(self.clock()), dev))
        self._status_changed()

    def _status_changed(self) -> None:
        self.channels.publish("status", "devices", {})

    def _register_of(self, dev: str) -> str | None:
        row = self.db.conn.execute("SELECT register_id FROM devices WHERE id = ?", (dev,)).fetchone()
        return row[0] if row else None

    def _to_register(self, dev: str, event: str, data: dict[str, Any]) -> None:
        register = self._register_of(dev)
        if register is None:
            self._log_once(f"unbound:{dev}", "device %s is bound to no register; its %s events are dropped", dev, event)
            return
        self.channels.publish(f"register:{register}", event, data)

    def _on_scan(self, dev: str, scan: bus.Scan) -> None:
        base = {"scan_id": scan.id, "device_id": dev, "code": scan.data, "aim": scan.aim}
        try:
            self._to_register(dev, "scan", {**base, **self.lookup(scan.aim + scan.data)})
        except BackroomError as exc:
            self._to_register(dev, "scan_error", {**base, "error": exc.to_dict()["error"]})

    def _on_result(self, dev: str, command: str, result: bus.JobResult) -> None:
        if command != "print":
            return
        with self.db.write() as conn:
            row = conn.execute("SELECT register_id, sale_id FROM print_jobs WHERE job_id = ? AND device_id = ?",
                               (result.job_id, dev)).fetchone()
            if row is None:
                return
            conn.execute("UPDATE print_jobs SET status = ?, error = ?, finished_at = ? WHERE job_id = ?",
                         ("printed" if result.ok else "failed", result.error, iso(self.clock()), result.job_id))
        self.channels.publish(f"register:{row['register_id']}", "job",
                              {"job_id": result.job_id, "sale_id": row["sale_id"], "device_id": dev,
                               "ok": result.ok, "error": result.error})

    # -- outgoing -----------------------------------------------------------------------------
    def plan_receipt(self, register_id: str) -> dict[str, Any]:
        """Pick the register's receipt printer and a job id, before the sale commits."""
        printer = self.db.conn.execute(
            "SELECT id FROM devices WHERE register_id = ? AND kind = 'receipt_printer' ORDER BY online DESC, id LIMIT 1",
            (register_id,),
        ).fetchone()
        if printer is None:
            return {"job_id": None, "status": "no_printer", "device_id": None}
        return {"job_id": uuid.uuid4().hex, "status": "queued", "device_id": printer[0]}

    def dispatch_receipt(self, plan: dict[str, Any], sale: dict[str, Any]) -> None:
        """Send a committed sale's receipt job; a bus failure marks the job failed and tells the register."""
        try:
            self.send(plan["device_id"], "print", bus.dumps(receipt_job(plan["job_id"], sale, self.store_name, self.prices_include_tax)))
        except BackroomError as exc:
            self._on_result(plan["device_id"], "print", bus.JobResult(plan["job_id"], False, exc.message))

    def send(self, dev: str, command: str, payload: bytes) -> None:
        client = self._client
        if client is None or not self.connected:
            raise BackroomError("the hub is not connected to its MQTT broker; check that mosquitto runs", code="bus_down")
        client.publish(bus.cmd_topic(self.hub_id, dev, command), payload, qos=1)

    def simulate_scan(self, dev: str, data: str) -> str:
        row = self.db.conn.execute("SELECT capabilities FROM devices WHERE id = ?", (dev,)).fetchone()
        if row is None or "simulate" not in json.loads(row[0]):
            raise NotFound(f"device {dev} is not a simulated scanner", field="device_id")
        job_id = uuid.uuid4().hex
        self.send(dev, "simulate", json.dumps({"job_id": job_id, "data": data}).encode())
        return job_id

    def weights_for(self, register_id: str) -> list[dict[str, Any]]:
        """The last reading of each scale bound to register_id."""
        rows = self.db.conn.execute("SELECT id FROM devices WHERE register_id = ? AND kind = 'scale' AND online = 1",
                                    (register_id,)).fetchall()
        with self._lock:
            return [self._weights[r[0]] for r in rows if r[0] in self._weights]

    def print_job(self, job_id: str) -> dict[str, Any] | None:
        row = self.db.conn.execute("SELECT job_id, device_id, status, error FROM print_jobs WHERE job_id = ?",
                                   (job_id,)).fetchone()
        return dict(row) if row else None

    # -- state --------------------------------------------------------------------------------
    def devices(self) -> list[dict[str, Any]]:
        rows = self.db.conn.execute("SELECT * FROM devices ORDER BY kind, id").fetchall()
        with self._lock:
            seen = dict(self._last_seen)
        out = []
        for r in rows:
            d = dict(r)
            d["online"] = bool(d["online"])
            d["capabilities"] = json.loads(d["capabilities"])
            d["last_seen"] = max(d["last_seen"], seen.get(d["id"], ""))
            out.append(d)
        return out

    def flush_last_seen(self) -> None:
        """Persist last-seen times in one write, not one per message (SD cards wear out)."""
        with self._lock:
            seen, self._last_seen = self._last_seen, {}
        if seen:
            with self.db.write() as conn:
                conn.executemany("UPDATE devices SET last_seen = max(last_seen, ?) WHERE id = ?",
                                 [(t, d) for d, t in seen.items()])


def receipt_job(job_id: str, sale: dict[str, Any], store_name: str, prices_include_tax: bool = True) -> bus.PrintReceipt:
    cur = sale["currency"]

    def amount(v: int) -> str:
        return format_minor(v, cur).rsplit(" ", 1)[0]

    lines = []
    for ln in sale["lines"]:
        if ln["unit"] == "each":
            text = f"{ln['qty']} x {ln['name']}" if ln["qty"] != 1 else ln["name"]
        else:
            per = "kg" if ln["unit"] == "g" else "l"
            kg = f"{ln['qty'] // 1000}.{ln['qty'] % 1000:03d}"
            text = f"{ln['name']} {kg} {per} @ {amount(ln['unit_price_minor'])}/{per}"
        lines.append(bus.ReceiptLine(text, amount(ln["total_minor"])))
    totals = [bus.ReceiptLine("TOTAL", f"{amount(sale['total_minor'])} {cur}")]
    totals += [bus.ReceiptLine(t["kind"].capitalize(), amount(t["amount_minor"])) for t in sale["tenders"]]
    totals += [bus.ReceiptLine("Change", amount(sale["change_minor"])),
               bus.ReceiptLine("Tax included" if prices_include_tax else "Tax", amount(sale["tax_minor"]))]
    return bus.PrintReceipt(
        job_id=job_id,
        header=[store_name, f"Sale {sale['receipt_code']}", sale["created_at"][:16].replace("T", " ") + " UTC"],
        lines=lines, totals=totals, footer=["Thank you!"], barcode=sale["receipt_code"],
        open_drawer=any(t["kind"] == "cash" for t in sale["tenders"]),
    )
