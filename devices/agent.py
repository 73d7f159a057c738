"""The devices agent: hosts the local scanners, scales and printers and puts each on the bus.

The hub CLI calls main(settings, stop_event) with a plain mapping built from hub.config
(drivers import nothing from hub/):

    {
        "hub_id": "hub-1",
        "mqtt_host": "127.0.0.1", "mqtt_port": 1883,
        "mqtt_username": "devices", "mqtt_password": "",   # empty username: anonymous
        "scanners": True,            # find USB scanners through evdev and grab them
        "simulate_scanner": False,   # add sim-scanner-1, typed through its cmd/simulate
        "scales": [{"port": "/dev/serial/by-id/...", "protocol": "mettler8217", "id": "scale-1"}],
        "printers": [{"host": "192.0.2.10", "port": 9100, "id": "printer-1"}],
    }

Every device gets its own MQTT client with a last will, so the broker marks exactly the devices
of a dead agent offline (DESIGN.md, "The device bus").
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion

from devices import bus
from devices.scale import PROTOCOLS, ScaleError
from devices.scanner.driver import (
    INPUT_DIR,
    EvdevScanner,
    ScannerReader,
    SimulatedScanner,
    find_scanners,
)
from devices.scanner.keymap import DecodedScan

log = logging.getLogger(__name__)

SIM_SCANNER_ID = "sim-scanner-1"
SUPERVISE_INTERVAL_S = 2.0  # look for newly plugged scanners
PRINTER_CHECK_INTERVAL_S = 30.0
ANNOUNCE_JITTER_S = 0.5  # spread re-announcements after the hub's birth message
COMMAND_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 2.0
MAX_QUEUED_MESSAGES = 1000  # events kept in memory while the local broker restarts

Command = Callable[[bytes], None]


class SettingsError(ValueError):
    """Agent settings that cannot work, with the key and the fix."""


class CommandFailed(Exception):
    """A command that could not be carried out; its message goes into the job result."""


@dataclass(frozen=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str = ""
    password: str = ""
    keepalive: int = 30


@dataclass(frozen=True)
class AgentSettings:
    hub_id: str
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    scanners: bool = True
    simulate_scanner: bool = False
    scales: tuple[tuple[str, str, str], ...] = ()  # (device id, port, protocol)
    printers: tuple[tuple[str, str, int], ...] = ()  # (device id, host, port)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> AgentSettings:
        unknown = sorted(set(raw) - _SETTINGS_KEYS)
        if unknown:
            raise SettingsError(
                f"unknown devices agent settings {unknown}; known: {sorted(_SETTINGS_KEYS)}"
            )
        try:
            hub_id = bus.check_id(raw.get("hub_id", ""), "hub_id")
            mqtt = MqttSettings(
                str(raw.get("mqtt_host", "127.0.0.1")),
                int(raw.get("mqtt_port", 1883)),
                str(raw.get("mqtt_username", "")),
                str(raw.get("mqtt_password", "")),
            )
            scales = tuple(
                (
                    bus.check_id(s.get("id") or f"scale-{n}", f"scales[{n - 1}].id"),
                    _need(s, "port", f"scales[{n - 1}]", "/dev/ttyUSB0"),
                    s.get("protocol", "mettler8217"),
                )
                for n, s in enumerate(raw.get("scales", ()), 1)
            )
            printers = tuple(
                (
                    bus.check_id(p.get("id") or f"printer-{n}", f"printers[{n - 1}].id"),
                    _need(p, "host", f"printers[{n - 1}]", "192.0.2.10"),
                    int(p.get("port", 9100)),
                )
                for n, p in enumerate(raw.get("printers", ()), 1)
            )
        except (AttributeError, TypeError, ValueError) as exc:  # BusError is a ValueError
            raise SettingsError(f"devices agent settings are not usable: {exc}") from exc
        for dev_id, _, protocol in scales:
            if protocol not in PROTOCOLS:
                raise SettingsError(
                    f"scale {dev_id} has protocol {protocol!r}; supported: {', '.join(PROTOCOLS)}"
                )
        return cls(
            hub_id,
            mqtt,
            bool(raw.get("scanners", True)),
            bool(raw.get("simulate_scanner", False)),
            scales,
            printers,
        )


def _need(entry: Mapping[str, Any], key: str, where: str, example: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise SettingsError(f'{where} has no {key}; give one, like {key} = "{example}"')
    return value


_SETTINGS_KEYS = frozenset(
    [
        "hub_id",
        "mqtt_host",
        "mqtt_port",
        "mqtt_username",
        "mqtt_password",
        "scanners",
        "simulate_scanner",
        "scales",
        "printers",
    ]
)


def hub_is_online(payload: bytes) -> bool:
    """Whether a hub status payload is its birth message: {"state": "online", ...} or "online"."""
    if payload.strip() == bus.ONLINE.encode():
        return True
    try:
        value = json.loads(payload)
    except ValueError:
        return False
    return value == bus.ONLINE or (isinstance(value, dict) and value.get("state") == bus.ONLINE)


class DeviceLink:
    """One device on the bus: its own MQTT client, last will, retained config and availability."""

    def __init__(
        self,
        hub_id: str,
        dev_id: str,
        config: bus.DeviceConfig,
        mqtt: MqttSettings,
        workers: ThreadPoolExecutor,
        closing: threading.Event,
    ) -> None:
        self.hub_id, self.dev_id, self.config, self._mqtt = hub_id, dev_id, config, mqtt
        self.commands: dict[str, Command] = {}
        self.available = False
        self._workers, self._closing = workers, closing
        self._lock = threading.Lock()
        self._availability = bus.availability_topic(hub_id, dev_id)
        self._hub_status = bus.hub_status_topic(hub_id)
        self._connect_error = ""
        client = Client(CallbackAPIVersion.VERSION2, client_id=f"backroom-{hub_id}-{dev_id}")
        if mqtt.username:
            client.username_pw_set(mqtt.username, mqtt.password or None)
        client.will_set(self._availability, bus.OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(1, 30)
        client.max_queued_messages_set(MAX_QUEUED_MESSAGES)
        client.on_connect, client.on_message = self._on_connect, self._on_message
        self._client = client

    def start(self) -> None:
        self._client.connect_async(self._mqtt.host, self._mqtt.port, self._mqtt.keepalive)
        self._client.loop_start()

    def stop(self) -> None:
        """Say offline ourselves (a clean disconnect does not fire the last will), then go."""
        with self._lock:
            self.available = False
            info = (
                self._client.publish(self._availability, bus.OFFLINE, qos=1, retain=True)
                if self._client.is_connected()
                else None
            )
        if info is not None:
            try:
                info.wait_for_publish(STOP_TIMEOUT_S)
            except (RuntimeError, ValueError) as exc:
                log.warning("could not mark %s offline before stopping: %s", self.dev_id, exc)
        self._client.disconnect()
        self._client.loop_stop()

    def set_available(self, available: bool) -> None:
        with self._lock:
            if available == self.available:
                return
            self.available = available
            if self._client.is_connected():
                self._publish_availability()

    def publish_event(self, name: str, event: Any) -> None:
        self._client.publish(
            bus.event_topic(self.hub_id, self.dev_id, name), bus.dumps(event), qos=1
        )

    def announce(self) -> None:
        with self._lock:
            self._client.publish(
                bus.config_topic(self.hub_id, self.dev_id),
                bus.dumps(self.config),
                qos=1,
                retain=True,
            )
            self._publish_availability()

    def _publish_availability(self) -> None:
        state = bus.ONLINE if self.available else bus.OFFLINE
        self._client.publish(self._availability, state, qos=1, retain=True)

    def _on_connect(
        self, client: Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            if str(reason) != self._connect_error:  # paho retries; say it once
                log.warning(
                    "broker %s:%d refused %s: %s",
                    self._mqtt.host,
                    self._mqtt.port,
                    self.dev_id,
                    reason,
                )
                self._connect_error = str(reason)
            return
        self._connect_error = ""
        base = bus.device_base(self.hub_id, self.dev_id)
        client.subscribe([(self._hub_status, 1), (f"{base}/cmd/+", 1)])
        self.announce()

    def _on_message(self, _client: Client, _userdata: Any, msg: MQTTMessage) -> None:
        # A retained status arrives on every (re)subscribe; only a fresh birth message counts.
        if msg.topic == self._hub_status:
            if msg.retain or not hub_is_online(msg.payload):
                return
            job: Callable[[], None] = self._reannounce
        else:
            job = partial(self._run_command, msg.topic.rsplit("/", 1)[1], msg.payload)
        try:
            self._workers.submit(job)
        except RuntimeError:  # the pool is shut down: the agent is stopping
            log.debug("agent stopping; ignored %s", msg.topic)

    def _reannounce(self) -> None:
        if not self._closing.wait(random.uniform(0, ANNOUNCE_JITTER_S)):
            self.announce()

    def _run_command(self, name: str, payload: bytes) -> None:
        try:
            bus.check_id(name, "command name")
        except bus.BusError as exc:
            log.warning("ignored command for %s: %s", self.dev_id, exc)
            return
        job_id = ""
        try:
            body = json.loads(payload)
            job_id = body.get("job_id", "") if isinstance(body, dict) else ""
            if not isinstance(job_id, str) or not job_id:
                job_id = ""
                raise CommandFailed(f"{name} payload must be a JSON object with a string job_id")
            if name not in self.commands:
                raise CommandFailed(
                    f"{self.dev_id} has no command {name!r}; it takes {', '.join(self.commands)}"
                )
            self.commands[name](payload)
            result = bus.JobResult(job_id, True)
        except (CommandFailed, ValueError) as exc:
            result = bus.JobResult(job_id, False, str(exc))
        except Exception:  # a driver bug must not take the device down; answer and keep going
            log.exception("command %s on %s failed unexpectedly", name, self.dev_id)
            result = bus.JobResult(
                job_id, False, f"the devices agent failed running {name}; see its log"
            )
        self._client.publish(
            bus.result_topic(self.hub_id, self.dev_id, name), bus.dumps(result), qos=1
        )


def _publish_scan(link: DeviceLink, scan: DecodedScan) -> None:
    link.publish_event("scan", bus.Scan(uuid.uuid4().hex, scan.data, scan.symbology, scan.aim))


class Agent:
    """All devices of this agent: their drivers and their links to the bus."""

    def __init__(self, settings: AgentSettings) -> None:
        self.settings = settings
        self._closing = threading.Event()
        self._workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="agent-job")
        self._links: dict[str, DeviceLink] = {}
        self._readers: dict[str, ScannerReader] = {}
        self._scales: list[Any] = []
        self._printers: list[tuple[DeviceLink, Any, threading.Lock]] = []
        self._printers_checked = float("-inf")
        self._input_names: frozenset[str] | None = None
        self._scanner_errors: dict[str, str] = {}

    def _new_link(self, dev_id: str, config: bus.DeviceConfig) -> DeviceLink:
        link = DeviceLink(
            self.settings.hub_id, dev_id, config, self.settings.mqtt, self._workers, self._closing
        )
        self._links[dev_id] = link
        return link

    def start(self) -> None:
        if self.settings.simulate_scanner:
            self._start_simulated_scanner()
        for dev_id, port, protocol in self.settings.scales:
            self._start_scale(dev_id, port, protocol)
        for dev_id, host, port in self.settings.printers:
            self._start_printer(dev_id, host, port)

    def supervise(self) -> None:
        """Periodic work: pick up scanners plugged in since last time, check printers."""
        if self.settings.scanners:
            self._rescan_scanners()
        if self._printers and time.monotonic() - self._printers_checked >= PRINTER_CHECK_INTERVAL_S:
            self._printers_checked = time.monotonic()
            for link, printer, lock in self._printers:
                with lock:
                    link.set_available(printer.is_online())

    def stop(self) -> None:
        self._closing.set()
        for reader in self._readers.values():
            reader.stop()
        for scale in self._scales:
            scale.stop()
        self._workers.shutdown(wait=True, cancel_futures=True)
        for link in self._links.values():
            link.stop()

    def _start_simulated_scanner(self) -> None:
        source = SimulatedScanner()
        link = self._new_link(
            SIM_SCANNER_ID,
            bus.DeviceConfig(
                "scanner",
                "Simulated scanner",
                model="simulator",
                manufacturer="Backroom",
                connection="simulated",
                capabilities=["scan", "simulate"],
            ),
        )

        def simulate(payload: bytes) -> None:
            data = json.loads(payload).get("data")
            if not isinstance(data, str) or not data:
                raise CommandFailed("simulate needs a non-empty string 'data' to type")
            source.type_text(data)  # ValueError names a character a scanner cannot type

        link.commands["simulate"] = simulate
        reader = ScannerReader(source, partial(_publish_scan, link), name=SIM_SCANNER_ID)
        reader.start()
        self._readers[SIM_SCANNER_ID] = reader
        link.set_available(True)
        link.start()

    def _rescan_scanners(self) -> None:
        try:
            names = frozenset(os.listdir(INPUT_DIR))
        except OSError:
            names = frozenset()
        dead = [dev_id for dev_id, reader in self._readers.items() if not reader.alive]
        if names == self._input_names and not dead:
            return
        self._input_names = names
        for dev_id in dead:
            self._readers.pop(dev_id).stop()
        for info in find_scanners():
            if info.device_id in self._readers:
                continue
            link = self._links.get(info.device_id)
            if link is None:
                link = self._new_link(
                    info.device_id,
                    bus.DeviceConfig(
                        "scanner",
                        info.name,
                        model=f"{info.vendor:04x}:{info.product:04x}",
                        manufacturer=info.manufacturer,
                        connection="usb",
                        capabilities=["scan"],
                    ),
                )
                link.start()
            reader = ScannerReader(
                EvdevScanner(info.path),
                partial(_publish_scan, link),
                partial(self._scanner_gone, link),
                name=info.device_id,
            )
            try:
                reader.start()
            except OSError as exc:
                if self._scanner_errors.get(info.device_id) != str(exc):
                    log.warning(
                        "cannot grab scanner %s at %s: %s; is the agent in the input group?",
                        info.device_id,
                        info.path,
                        exc,
                    )
                    self._scanner_errors[info.device_id] = str(exc)
                continue
            self._scanner_errors.pop(info.device_id, None)
            log.info("scanner %s (%s) is online", info.device_id, info.name)
            self._readers[info.device_id] = reader
            link.set_available(True)

    def _scanner_gone(self, link: DeviceLink, reason: str, _partial_code: str) -> None:
        log.warning("scanner %s went offline: %s", link.dev_id, reason)
        link.set_available(False)

    def _start_scale(self, dev_id: str, port: str, protocol: str) -> None:
        link = self._new_link(
            dev_id,
            bus.DeviceConfig(
                "scale",
                f"Scale on {port}",
                model=protocol,
                connection=f"serial {port}",
                capabilities=["weight", "tare", "zero", "clear_tare"],
            ),
        )
        scale = PROTOCOLS[protocol](
            port,
            partial(link.publish_event, "weight"),
            lambda online, _reason: link.set_available(online),
        )
        for name in ("tare", "zero", "clear_tare"):
            link.commands[name] = partial(self._scale_command, getattr(scale, name), name, port)
        link.start()
        scale.start()
        self._scales.append(scale)

    @staticmethod
    def _scale_command(method: Callable[[], Any], name: str, port: str, _payload: bytes) -> None:
        try:
            method().result(timeout=COMMAND_TIMEOUT_S)
        except ScaleError as exc:
            raise CommandFailed(str(exc)) from exc
        except TimeoutError as exc:
            raise CommandFailed(
                f"scale on {port} did not take {name} within {COMMAND_TIMEOUT_S:g} s"
            ) from exc

    def _start_printer(self, dev_id: str, host: str, port: int) -> None:
        try:  # imported here so the agent runs (and its tests pass) without the printer stack
            from devices.printer.driver import NetworkReceiptPrinter, PrinterError
        except ImportError as exc:
            log.error("receipt printer %s at %s:%d cannot be hosted: %s", dev_id, host, port, exc)
            return
        try:
            printer, lock = NetworkReceiptPrinter(host, port), threading.Lock()
        except ValueError as exc:
            log.error("receipt printer %s is not configured right: %s", dev_id, exc)
            return
        link = self._new_link(
            dev_id,
            bus.DeviceConfig(
                "receipt_printer",
                f"Receipt printer at {host}",
                connection=f"tcp {host}:{port}",
                capabilities=["print"],
            ),
        )

        def print_receipt(payload: bytes) -> None:
            job = bus.PrintReceipt.from_payload(payload)  # BusError is a ValueError: job fails
            with lock:
                try:
                    printer.print_receipt(job)
                except PrinterError as exc:
                    raise CommandFailed(str(exc)) from exc

        link.commands["print"] = print_receipt
        self._printers.append((link, printer, lock))
        link.start()


def main(settings: Mapping[str, Any] | AgentSettings, stop: threading.Event) -> None:
    """Run the devices agent until stop is set; then mark every device offline."""
    if not isinstance(settings, AgentSettings):
        settings = AgentSettings.from_mapping(settings)
    agent = Agent(settings)
    agent.start()
    try:
        agent.supervise()
        while not stop.wait(SUPERVISE_INTERVAL_S):
            agent.supervise()
    finally:
        agent.stop()
