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
from hub import events
from hub.clock import Clock, iso, system_clock
from hub.db import Database
from hub.device_admin import STATE_EVENTS, DeviceAdmin
from hub.errors import BackroomError, NotFound
from hub.live import Channels

log = logging.getLogger(__name__)

LAST_SEEN_FLUSH_S = 300.0
PUBLISH_CONFIRM_S = 5.0
LOG_REPEAT_S = 60.0  # a kind of device trouble is logged once in this, not once per message


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
        self.on_weight: Any = None  # callable(device_id, weight): every weight event (hub.weighing)
        self.on_job_result: Any = None  # callable(device_id, command, JobResult): hub.print_queue
        self.on_availability: Any = None  # callable(device_id, online): hub.print_queue sends waiting jobs
        self._lock = threading.Lock()
        self._last_error_log: dict[str, float] = {}
        self._retained: dict[str, bytes] = {}  # published again on every connect (broker persistence is off)
        self.admin = DeviceAdmin(self)  # names, bindings, errors, states, tests (hub.device_admin)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, host: str, port: int, username: str, password: str) -> None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"backroom-hub-{self.hub_id}")
        if username:
            client.username_pw_set(username, password)
        client.will_set(bus.hub_status_topic(self.hub_id), json.dumps({"state": "offline"}), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = bus.no_delay
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
        with self._lock:
            retained = list(self._retained.items())
        for topic, payload in retained:
            client.publish(topic, payload, qos=1, retain=True)
        log.info("hub connected to the MQTT broker")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        self.connected = False
        if reason_code != 0:
            self._log_once("disconnect", "lost the MQTT broker (%s); reconnecting", reason_code)

    def _should_log(self, key: str) -> bool:
        """Repeated device errors are logged once a minute per kind, not once per message."""
        now = time.monotonic()
        if now - self._last_error_log.get(key, -1e9) > LOG_REPEAT_S:
            # a device may publish endless distinct bad topics: keys are (device, part), and stale ones go
            for old in [k for k, at in self._last_error_log.items() if now - at > LOG_REPEAT_S]:
                del self._last_error_log[old]
            self._last_error_log[key] = now
            return True
        return False

    @staticmethod
    def _log_key(kind: str, topic: bus.Topic | None) -> str:
        return f"{kind}:{topic.dev}/{topic.part}" if topic is not None else f"{kind}:unparsed"

    def _log_once(self, key: str, msg: str, *args: Any) -> None:
        if self._should_log(key):
            log.warning(msg, *args)

    # -- incoming -----------------------------------------------------------------------------
    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        topic: bus.Topic | None = None
        try:
            topic = bus.parse_topic(msg.topic)
            if topic.hub != self.hub_id or topic.part == "cmd":
                return
            self._touch(topic.dev)
            if topic.part == "event":
                self.admin.note_event(topic.dev, topic.name or "")
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
                if self.on_weight is not None:
                    self.on_weight(topic.dev, weight)
                self._to_register(topic.dev, "weight", weight)
            elif topic.part == "event" and topic.name == "error":
                self.admin.error_event(topic.dev, msg.payload)
            elif topic.part == "event" and topic.name in STATE_EVENTS:
                self.admin.record_state(topic.dev, topic.name, msg.payload)
            elif topic.part == "result":
                result = bus.JobResult.from_payload(msg.payload)
                self.admin.job_result(topic.dev, topic.name or "", result)
                self._on_result(topic.dev, topic.name or "", result)
        except (bus.BusError, BackroomError, ValueError) as exc:
            self._log_once(self._log_key("bad", topic), "ignored a bad message on %s: %s", msg.topic, exc)
            if topic is not None and topic.hub == self.hub_id and topic.part != "config":
                self.admin.record_error(topic.dev, "bus", f"sent an unreadable message on {topic.part}"
                                        f"{'/' + topic.name if topic.name else ''}: {exc}")
        except Exception:  # noqa: BLE001 - one message must never stop paho's thread, and so the bus
            if self._should_log(self._log_key("crash", topic)):
                log.exception("failed to handle a message on %s; the hub keeps listening", msg.topic)

    def _touch(self, dev: str) -> None:
        with self._lock:
            self._last_seen[dev] = iso(self.clock())

    def _on_config(self, dev: str, payload: bytes) -> None:
        if not payload:
            with self.db.write() as conn:
                conn.execute("DELETE FROM devices WHERE id = ?", (dev,))
                conn.execute("DELETE FROM device_errors WHERE device_id = ?", (dev,))
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
        self.admin.announced(dev, cfg.kind)
        self._status_changed()

    def _on_availability(self, dev: str, state: str) -> None:
        if not state:  # a removed device clears its retained availability too
            return
        if state not in (bus.ONLINE, bus.OFFLINE):
            raise bus.BusError(f"availability {state!r} is neither online nor offline")
        if state == bus.OFFLINE:
            with self._lock:  # an offline scale's last reading is not a weight to sell by
                self._weights.pop(dev, None)
        with self.db.write() as conn:
            now, online = iso(self.clock()), int(state == bus.ONLINE)
            row = conn.execute("SELECT kind, online, state FROM devices WHERE id = ?", (dev,)).fetchone()
            conn.execute("UPDATE devices SET state_since = CASE WHEN online = ? AND state_since IS NOT NULL "
                         "THEN state_since ELSE ? END, online = ?, last_seen = ? WHERE id = ?",
                         (online, now, online, now, dev))
            if row is not None and row["online"] != online:  # a transition, not a retained repeat
                events.append_event(conn, "device.state_changed", {"device_id": dev, "kind": row["kind"],
                                                                   "online": bool(online), "state": json.loads(row["state"])}, now)
        self._status_changed()
        if self.on_availability is not None:
            self.on_availability(dev, state == bus.ONLINE)

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
        if self.on_job_result is not None:
            self.on_job_result(dev, command, result)

    # -- outgoing -----------------------------------------------------------------------------
    def send(self, dev: str, command: str, payload: bytes) -> None:
        self.publish(bus.cmd_topic(self.hub_id, dev, command), payload)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, confirm: bool = False) -> None:
        """Publish with QoS 1; with confirm, return only once the broker has acknowledged it."""
        client = self._client
        if client is None or not self.connected:
            raise BackroomError("the hub is not connected to its MQTT broker; check that mosquitto runs", code="bus_down")
        info = client.publish(topic, payload, qos=1, retain=retain)
        if confirm:
            try:
                info.wait_for_publish(timeout=PUBLISH_CONFIRM_S)
            except (RuntimeError, ValueError) as exc:
                raise BackroomError(f"the MQTT broker did not take {topic}: {exc}; try again", code="bus_down") from None
            if not info.is_published():
                raise BackroomError(f"the MQTT broker did not confirm {topic} within {PUBLISH_CONFIRM_S:g} s; "
                                    "check that mosquitto runs, then try again", code="bus_down")

    def publish_retained(self, topic: str, payload: bytes) -> None:
        """Publish a retained message now if connected, and again after every reconnect."""
        with self._lock:
            self._retained[topic] = payload
        client = self._client
        if client is not None and self.connected:
            client.publish(topic, payload, qos=1, retain=True)

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

    # -- state --------------------------------------------------------------------------------
    def devices(self) -> list[dict[str, Any]]:
        rows = self.db.conn.execute("SELECT * FROM devices ORDER BY kind, id").fetchall()
        with self._lock:
            seen, weights = dict(self._last_seen), dict(self._weights)
        out = []
        for r in rows:
            d = dict(r)
            d["online"] = bool(d["online"])
            d["capabilities"] = json.loads(d["capabilities"])
            d["last_seen"] = max(d["last_seen"], seen.get(d["id"], ""))
            d["weight"] = weights.get(d["id"])
            out.append(d)
        self.admin.decorate(out)
        return out

    def device(self, dev: str) -> dict[str, Any]:
        found = [d for d in self.devices() if d["id"] == dev]
        if not found:
            raise NotFound(f"no device {dev!r}", field="device_id")
        return found[0]

    def register_exists(self, register_id: str) -> bool:
        return self.db.conn.execute("SELECT 1 FROM registers WHERE id = ?", (register_id,)).fetchone() is not None

    def forget_memory(self, dev: str) -> None:
        """Drop what is kept in memory of a forgotten device."""
        with self._lock:
            self._last_seen.pop(dev, None)
            self._weights.pop(dev, None)

    def flush_last_seen(self) -> None:
        """Persist last-seen times in one write, not one per message (SD cards wear out)."""
        with self._lock:
            seen, self._last_seen = self._last_seen, {}
        if seen:
            with self.db.write() as conn:
                conn.executemany("UPDATE devices SET last_seen = max(last_seen, ?) WHERE id = ?",
                                 [(t, d) for d, t in seen.items()])
        self.admin.flush()

