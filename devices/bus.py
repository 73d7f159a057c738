"""The device bus contract: MQTT topic names and payload shapes, shared by the agent and the hub.

One module so the two sides can never disagree about a topic (see DESIGN.md, "The device bus").
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
from dataclasses import asdict, dataclass, field
from typing import Any

ROOT = "backroom"
ONLINE = "online"
OFFLINE = "offline"
DEVICE_KINDS = ("scanner", "scale", "receipt_printer", "label_printer", "tablet", "display", "drawer", "keyboard")

# AIM symbology identifiers (ISO/IEC 15424): "]" + code letter + modifier -> the name a Scan's
# symbology carries. One table for the scanner decoder and the hub's parser.
AIM_SYMBOLOGIES: dict[str, str] = {
    "]E0": "ean13",  # EAN-13, UPC-A and UPC-E
    "]E1": "ean-addon2", "]E2": "ean-addon5", "]E3": "ean-with-addon", "]E4": "ean8",
    "]C0": "code128", "]C1": "gs1-128", "]A0": "code39", "]I0": "itf", "]I1": "itf",
    "]e0": "gs1-databar", "]d1": "datamatrix", "]d2": "gs1-datamatrix", "]Q1": "qr", "]Q3": "gs1-qr",
}

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class BusError(ValueError):
    """A topic or payload that does not follow the device bus contract."""


def check_id(value: str, what: str = "device id") -> str:
    """Return value if it is usable inside a topic level, else raise BusError."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise BusError(
            f"{what} {value!r} is not valid: use 1-128 letters, digits, '.', '_', ':' or '-' "
            "(no '/', '+', '#' or spaces)"
        )
    return value


def device_base(hub: str, dev: str) -> str:
    return f"{ROOT}/{check_id(hub, 'hub id')}/dev/{check_id(dev)}"


def config_topic(hub: str, dev: str) -> str:
    return f"{device_base(hub, dev)}/config"


def availability_topic(hub: str, dev: str) -> str:
    return f"{device_base(hub, dev)}/availability"


def event_topic(hub: str, dev: str, name: str) -> str:
    return f"{device_base(hub, dev)}/event/{check_id(name, 'event name')}"


def no_delay(_client: Any, _userdata: Any, sock: Any) -> None:
    """paho's on_socket_open for every client on the bus: send each small MQTT packet at once.
    With Nagle on, a QoS 1 PUBLISH right after a PUBACK waits for the broker's delayed ACK
    (~40 ms on Linux): every command the hub sends, and the scan it causes, came that late."""
    with contextlib.suppress(AttributeError, OSError):  # a WebSocket wrapper has no TCP options
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def cmd_topic(hub: str, dev: str, name: str) -> str:
    return f"{device_base(hub, dev)}/cmd/{check_id(name, 'command name')}"


def result_topic(hub: str, dev: str, name: str) -> str:
    return f"{cmd_topic(hub, dev, name)}/result"


def hub_status_topic(hub: str) -> str:
    return f"{ROOT}/{check_id(hub, 'hub id')}/hub/status"


def hub_printers_topic(hub: str) -> str:
    """Retained list of the network printers the owner added on the hub (HubPrinters)."""
    return f"{ROOT}/{check_id(hub, 'hub id')}/hub/printers"


def all_devices_filter(hub: str) -> str:
    """Subscription filter for every device topic of one hub."""
    return f"{ROOT}/{check_id(hub, 'hub id')}/dev/#"


@dataclass(frozen=True)
class Topic:
    """A parsed device topic: which device, which part, and for events/commands the name."""

    hub: str
    dev: str
    part: str  # config | availability | event | cmd | result
    name: str | None = None


def parse_topic(topic: str) -> Topic:
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != ROOT or parts[2] != "dev":
        raise BusError(f"topic {topic!r} is not a device topic")
    hub, dev, rest = parts[1], parts[3], parts[4:]
    if rest == ["config"]:
        return Topic(hub, dev, "config")
    if rest == ["availability"]:
        return Topic(hub, dev, "availability")
    if len(rest) == 2 and rest[0] == "event":
        return Topic(hub, dev, "event", rest[1])
    if len(rest) == 2 and rest[0] == "cmd":
        return Topic(hub, dev, "cmd", rest[1])
    if len(rest) == 3 and rest[0] == "cmd" and rest[2] == "result":
        return Topic(hub, dev, "result", rest[1])
    raise BusError(f"topic {topic!r} has an unknown shape under the device")


def _loads(payload: bytes | str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BusError(f"{what} payload is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise BusError(f"{what} payload must be a JSON object, got {type(value).__name__}")
    return value


def _require(d: dict[str, Any], key: str, typ: type | tuple[type, ...], what: str) -> Any:
    if key not in d:
        raise BusError(f"{what} payload is missing {key!r}")
    value = d[key]
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise BusError(f"{what} payload field {key!r} has the wrong type: {value!r}")
    return value


def dumps(obj: Any) -> bytes:
    if hasattr(obj, "__dataclass_fields__"):
        obj = asdict(obj)
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class DeviceConfig:
    """Retained announcement of a device (like Home Assistant's discovery config)."""

    kind: str
    name: str
    model: str = ""
    manufacturer: str = ""
    sw_version: str = ""
    connection: str = ""
    capabilities: list[str] = field(default_factory=list)

    @classmethod
    def from_payload(cls, payload: bytes | str) -> DeviceConfig:
        d = _loads(payload, "config")
        kind = _require(d, "kind", str, "config")
        if kind not in DEVICE_KINDS:
            raise BusError(f"config kind {kind!r} is unknown; expected one of {', '.join(DEVICE_KINDS)}")
        caps = d.get("capabilities", [])
        if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
            raise BusError("config field 'capabilities' must be a list of strings")
        return cls(
            kind=kind,
            name=_require(d, "name", str, "config"),
            model=str(d.get("model", "")),
            manufacturer=str(d.get("manufacturer", "")),
            sw_version=str(d.get("sw_version", "")),
            connection=str(d.get("connection", "")),
            capabilities=list(caps),
        )


@dataclass(frozen=True)
class Scan:
    """One barcode read. data keeps control characters such as GS (0x1D)."""

    id: str
    data: str
    symbology: str = ""
    aim: str = ""

    @classmethod
    def from_payload(cls, payload: bytes | str) -> Scan:
        d = _loads(payload, "scan")
        data = _require(d, "data", str, "scan")
        if not data:
            raise BusError("scan payload field 'data' is empty")
        return cls(
            id=_require(d, "id", str, "scan"),
            data=data,
            symbology=str(d.get("symbology", "")),
            aim=str(d.get("aim", "")),
        )


WEIGHT_STATUSES = ("ok", "motion", "over_capacity", "under_zero", "at_zero", "error")


@dataclass(frozen=True)
class Weight:
    """A scale reading in grams. stable is False while the platter moves."""

    grams: int
    stable: bool
    status: str = "ok"
    tare_g: int = 0

    @classmethod
    def from_payload(cls, payload: bytes | str) -> Weight:
        d = _loads(payload, "weight")
        status = str(d.get("status", "ok"))
        if status not in WEIGHT_STATUSES:
            raise BusError(f"weight status {status!r} is unknown; expected one of {', '.join(WEIGHT_STATUSES)}")
        return cls(
            grams=_require(d, "grams", int, "weight"),
            stable=_require(d, "stable", bool, "weight"),
            status=status,
            tare_g=_require(d, "tare_g", int, "weight") if "tare_g" in d else 0,
        )


@dataclass(frozen=True)
class ReceiptLine:
    text: str
    amount: str = ""


@dataclass(frozen=True)
class PrintReceipt:
    """A receipt print job: already formatted text, rendered to ESC/POS by the agent."""

    job_id: str
    header: list[str]
    lines: list[ReceiptLine]
    totals: list[ReceiptLine]
    footer: list[str]
    barcode: str = ""  # Code 128 payload that brings the sale back for a return
    open_drawer: bool = False

    @classmethod
    def from_payload(cls, payload: bytes | str) -> PrintReceipt:
        d = _loads(payload, "print")

        def lines(key: str) -> list[ReceiptLine]:
            raw = d.get(key, [])
            if not isinstance(raw, list):
                raise BusError(f"print payload field {key!r} must be a list")
            out = []
            for item in raw:
                if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                    raise BusError(f"print payload field {key!r} holds a line without 'text'")
                out.append(ReceiptLine(item["text"], str(item.get("amount", ""))))
            return out

        def strings(key: str) -> list[str]:
            raw = d.get(key, [])
            if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
                raise BusError(f"print payload field {key!r} must be a list of strings")
            return list(raw)

        return cls(
            job_id=_require(d, "job_id", str, "print"),
            header=strings("header"),
            lines=lines("lines"),
            totals=lines("totals"),
            footer=strings("footer"),
            barcode=str(d.get("barcode", "")),
            open_drawer=bool(d.get("open_drawer", False)),
        )


@dataclass(frozen=True)
class JobResult:
    job_id: str
    ok: bool
    error: str = ""

    @classmethod
    def from_payload(cls, payload: bytes | str) -> JobResult:
        d = _loads(payload, "result")
        return cls(
            job_id=_require(d, "job_id", str, "result"),
            ok=_require(d, "ok", bool, "result"),
            error=str(d.get("error", "") or ""),
        )


PRINTER_KINDS = ("receipt_printer", "label_printer")
PRINTER_LANGUAGES = ("escpos", "zpl", "tspl", "brother_ql")


@dataclass(frozen=True)
class NetworkPrinter:
    """A printer on the shop's network that the owner added on the hub's status page."""

    id: str
    host: str
    port: int = 9100
    kind: str = "receipt_printer"
    language: str = "escpos"
    name: str = ""


@dataclass(frozen=True)
class HubPrinters:
    """The retained payload of hub_printers_topic: every network printer the hub wants hosted."""

    printers: list[NetworkPrinter] = field(default_factory=list)

    @classmethod
    def from_payload(cls, payload: bytes | str) -> HubPrinters:
        if not payload:  # the retained message was cleared: no printers
            return cls()
        d = _loads(payload, "printers")
        raw = d.get("printers", [])
        if not isinstance(raw, list):
            raise BusError("printers payload field 'printers' must be a list")
        out = []
        for n, p in enumerate(raw):
            what = f"printers[{n}]"
            if not isinstance(p, dict):
                raise BusError(f"{what} must be an object")
            kind, language = str(p.get("kind", "receipt_printer")), str(p.get("language", "escpos"))
            if kind not in PRINTER_KINDS:
                raise BusError(f"{what} kind {kind!r} is unknown; expected one of {', '.join(PRINTER_KINDS)}")
            if language not in PRINTER_LANGUAGES:
                raise BusError(f"{what} language {language!r} is unknown; expected one of {', '.join(PRINTER_LANGUAGES)}")
            port = _require(p, "port", int, what) if "port" in p else 9100
            if not 0 < port < 65536:
                raise BusError(f"{what} port {port} is not a TCP port")
            out.append(NetworkPrinter(check_id(_require(p, "id", str, what), f"{what} id"),
                                      _require(p, "host", str, what), port, kind, language, str(p.get("name", ""))))
        return cls(out)


LABEL_LANGUAGES = ("zpl", "tspl", "escpos", "brother_ql")
MAX_LABEL_BYTES = 4_000_000  # a 62 x 100 mm PNG is ~20 kB; this only stops a runaway job


@dataclass(frozen=True)
class PrintLabel:
    """A label print job: bytes the hub rendered in the printer's language (brother_ql: a PNG
    at the label's dpi, rastered by the agent for the printer's model), base64 in data."""

    job_id: str
    language: str
    data: str
    copies: int = 1

    @classmethod
    def from_payload(cls, payload: bytes | str) -> PrintLabel:
        d = _loads(payload, "print_label")
        language = _require(d, "language", str, "print_label")
        if language not in LABEL_LANGUAGES:
            raise BusError(f"print_label language {language!r} is unknown; expected one of {', '.join(LABEL_LANGUAGES)}")
        data = _require(d, "data", str, "print_label")
        if not data or len(data) > MAX_LABEL_BYTES * 4 // 3 + 4:
            raise BusError(f"print_label data must be 1 to {MAX_LABEL_BYTES} bytes, base64-encoded")
        try:
            base64.b64decode(data, validate=True)
        except ValueError as exc:
            raise BusError(f"print_label data is not base64: {exc}") from exc
        copies = _require(d, "copies", int, "print_label") if "copies" in d else 1
        if not 1 <= copies <= 100:
            raise BusError(f"print_label copies {copies} must be 1-100")
        return cls(_require(d, "job_id", str, "print_label"), language, data, copies)

    def raw(self) -> bytes:
        return base64.b64decode(self.data)


@dataclass(frozen=True)
class PrinterStatus:
    """A printer's state event "status": what its ESC/POS status replies (or its driver) know."""

    online: bool
    cover_open: bool = False
    paper_low: bool = False
    paper_out: bool = False
    error: str = ""

    @classmethod
    def from_payload(cls, payload: bytes | str) -> PrinterStatus:
        d = _loads(payload, "status")
        flags = {k: _require(d, k, bool, "status") if k in d else False
                 for k in ("cover_open", "paper_low", "paper_out")}
        return cls(online=_require(d, "online", bool, "status"), error=str(d.get("error", "") or ""), **flags)


# A print job the hub sends again (after paper out, say) goes out under a new attempt id, so the
# agent's per-delivery dedupe runs it again; the agent also remembers which jobs printed, so a
# new attempt of a job that did print is answered without printing twice.
ATTEMPT_SEPARATOR = "~"


def attempt_id(job_id: str, attempt: int) -> str:
    """The job_id a command carries on its attempt-th sending (attempt 1 is the job_id itself)."""
    return job_id if attempt <= 1 else f"{job_id}{ATTEMPT_SEPARATOR}{attempt}"


def job_of_attempt(sent_id: str) -> tuple[str, int]:
    """(job_id, attempt) of a job_id as sent; an id without an attempt is attempt 1."""
    job_id, sep, n = sent_id.rpartition(ATTEMPT_SEPARATOR)
    if sep and n.isdigit() and job_id:
        return job_id, int(n)
    return sent_id, 1


INPUT_ROLES = ("scanner", "keyboard")


@dataclass(frozen=True)
class InputRole:
    """cmd/input_role: the owner's choice to read a USB input device as a scanner or leave it a
    keyboard. The agent grabs or releases it and announces it again with that kind."""

    job_id: str
    role: str

    @classmethod
    def from_payload(cls, payload: bytes | str) -> InputRole:
        d = _loads(payload, "input_role")
        role = _require(d, "role", str, "input_role")
        if role not in INPUT_ROLES:
            raise BusError(f"input_role role {role!r} is unknown; expected one of {', '.join(INPUT_ROLES)}")
        return cls(_require(d, "job_id", str, "input_role"), role)
