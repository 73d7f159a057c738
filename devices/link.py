"""A device's own connection to the bus: MQTT client, last will, retained config, commands.

Each device gets its own client so the broker marks exactly the devices of a dead agent offline
(DESIGN.md, "The device bus").
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion

from devices import bus

log = logging.getLogger(__name__)

ANNOUNCE_JITTER_S = 0.5  # spread re-announcements after the hub's birth message
STOP_TIMEOUT_S = 2.0
MAX_QUEUED_MESSAGES = 1000  # events kept in memory while the local broker restarts
# Commands come with QoS 1, so after a reconnect the broker may deliver one again; the results
# of this many recent jobs per device are kept to answer a repeat without printing twice.
JOBS_REMEMBERED = 200

Command = Callable[[bytes], None]


class CommandFailed(Exception):
    """A command that could not be carried out; its message goes into the job result."""


@dataclass
class _Job:
    """A command job this device has taken: its result once done, and how often it came."""

    name: str
    deliveries: int = 1
    result: bytes | None = None  # None while the job runs


@dataclass(frozen=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str = ""
    password: str = ""
    keepalive: int = 30


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
        self._states: dict[str, bytes] = {}  # name -> last payload of each state event
        self._jobs: dict[str, _Job] = {}  # job_id -> job, oldest first, at most JOBS_REMEMBERED
        self._jobs_lock = threading.Lock()
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
        client.on_socket_open = bus.no_delay
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
        close_client(self._client)

    def remove(self) -> None:
        """Take the device off the bus for good: clear its retained config and availability
        (empty retained payloads), so the hub forgets it and no ghost is left; then go."""
        with self._lock:
            self.available = False
            infos = (
                [
                    self._client.publish(topic, b"", qos=1, retain=True)
                    for topic in (bus.config_topic(self.hub_id, self.dev_id), self._availability)
                ]
                if self._client.is_connected()
                else []
            )
        for info in infos:
            try:
                info.wait_for_publish(STOP_TIMEOUT_S)
            except (RuntimeError, ValueError) as exc:
                log.warning("could not clear %s from the bus: %s", self.dev_id, exc)
        close_client(self._client)

    def set_available(self, available: bool) -> None:
        with self._lock:
            if available == self.available:
                return
            self.available = available
            if self._client.is_connected():
                self._publish_availability()

    def publish_event(self, name: str, event: Any, *, state: bool = False) -> None:
        """Publish an event. A state event (a scale's weight) is sent again with every
        announcement, because it is published only on change and a hub that (re)started since
        would otherwise not know it."""
        payload = bus.dumps(event)
        with self._lock:
            if state:
                self._states[name] = payload
            self._client.publish(bus.event_topic(self.hub_id, self.dev_id, name), payload, qos=1)

    def announce(self) -> None:
        with self._lock:
            self._client.publish(
                bus.config_topic(self.hub_id, self.dev_id),
                bus.dumps(self.config),
                qos=1,
                retain=True,
            )
            self._publish_availability()
            for name, payload in self._states.items():
                self._client.publish(bus.event_topic(self.hub_id, self.dev_id, name), payload, qos=1)

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
        try:
            job_id = _job_id(name, payload)
        except CommandFailed as exc:
            self._publish_result(name, bus.dumps(bus.JobResult("", False, str(exc))))
            return
        job = self._take(name, job_id)
        if job is None:
            return
        result = bus.dumps(self._carry_out(name, job_id, payload))
        with self._jobs_lock:
            job.result, deliveries = result, job.deliveries
        for _ in range(deliveries):  # each delivery, also those that came while it ran, is answered
            self._publish_result(name, result)

    def _take(self, name: str, job_id: str) -> _Job | None:
        """Remember a new job and return it to be run; answer a repeat of a job already taken."""
        with self._jobs_lock:
            job = self._jobs.get(job_id)
            if job is None:
                job = self._jobs[job_id] = _Job(name)
                while len(self._jobs) > JOBS_REMEMBERED:
                    del self._jobs[next(iter(self._jobs))]
                return job
            log.info("%s job %s on %s came again; not run twice", name, job_id, self.dev_id)
            if job.name != name:
                error = (
                    f"job_id {job_id} was already used for {job.name} on {self.dev_id}; "
                    "give every job its own job_id"
                )
                self._publish_result(name, bus.dumps(bus.JobResult(job_id, False, error)))
            elif job.result is None:  # still running: it answers this delivery when it ends
                job.deliveries += 1
            else:
                self._publish_result(name, job.result)
            return None

    def _carry_out(self, name: str, job_id: str, payload: bytes) -> bus.JobResult:
        try:
            if name not in self.commands:
                raise CommandFailed(
                    f"{self.dev_id} has no command {name!r}; it takes {', '.join(self.commands)}"
                )
            self.commands[name](payload)
            return bus.JobResult(job_id, True)
        except (CommandFailed, ValueError) as exc:
            return bus.JobResult(job_id, False, str(exc))
        except Exception:  # a driver bug must not take the device down; answer and keep going
            log.exception("command %s on %s failed unexpectedly", name, self.dev_id)
            return bus.JobResult(
                job_id, False, f"the devices agent failed running {name}; see its log"
            )

    def _publish_result(self, name: str, result: bytes) -> None:
        self._client.publish(bus.result_topic(self.hub_id, self.dev_id, name), result, qos=1)


def _job_id(name: str, payload: bytes) -> str:
    """The command's job_id; CommandFailed if the payload is not an object that has one."""
    try:
        body = json.loads(payload)
    except ValueError:
        body = None
    job_id = body.get("job_id") if isinstance(body, dict) else None
    if not isinstance(job_id, str) or not job_id:
        raise CommandFailed(f"{name} payload must be a JSON object with a string job_id")
    return job_id


def close_client(client: Client) -> None:
    """Disconnect, stop the network thread and close paho's wake-up socket pair now.

    paho 2.x leaves that pair to Client.__del__; when the client sits in a reference cycle (its
    callbacks are our bound methods) the sockets' own finalizers may run first and warn.
    """
    client.disconnect()
    client.loop_stop()
    client._reset_sockets(sockpair_only=True)  # paho has no public close for the pair
