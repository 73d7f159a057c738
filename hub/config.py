"""Configuration: defaults, then the TOML file, then BACKROOM_* environment variables.

The schema below is the single source of truth: validation, the environment names and
docs/configuration.md are all derived from it (`python -m hub.config > docs/configuration.md`).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devices.scale import PROTOCOLS  # the driver's own list, so config and agent cannot disagree
from hub.domain.barcodes.rcn import PATTERN_HELP, pattern_problem
from hub.domain.barcodes.rcn import REGIONS as RCN_REGIONS
from hub.errors import ConfigError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class Key:
    type: type
    default: Any
    help: str
    check: Callable[[Any], str | None] | None = None  # returns a problem, or None
    secret: bool = False


def _port(v: int) -> str | None:
    return None if 0 <= v <= 65535 else "must be a TCP port between 0 and 65535 (0 picks a free one)"


def _positive(v: float) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _ident(v: str) -> str | None:
    return None if _ID.match(v) else "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


# ISO 4217 currencies whose minor unit is not 1/100: money is stored in minor units, and
# receipts and the register print two decimals, so these wait until amounts know their exponent.
_NOT_TWO_DECIMALS = frozenset({
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
    "XAF", "XOF", "XPF", "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND", "CLF", "UYW",
})


def _negative_stock(v: str) -> str | None:
    return None if v in ("allow", "block") else "must be 'allow' or 'block'"


def _basis_points(v: int) -> str | None:
    return None if 0 <= v <= 10000 else "must be 0-10000 basis points (10000 = 100%)"


def _positive_int(v: int) -> str | None:
    return None if v >= 1 else "must be 1 or more"


def _non_negative(v: int) -> str | None:
    return None if v >= 0 else "must be 0 or more"


def _internal_prefix(v: str) -> str | None:
    from hub.domain.barcodes.encode import INTERNAL_PREFIXES

    if v not in INTERNAL_PREFIXES:
        return "is not a GS1 in-store prefix; use one of " + ", ".join(INTERNAL_PREFIXES)
    return None


def _currency(v: str) -> str | None:
    if not _CURRENCY.match(v):
        return "must be an ISO 4217 code in capitals, such as EUR or USD"
    if v in _NOT_TWO_DECIMALS:
        return "is a currency without two decimals, which Backroom does not support yet; use a two-decimal currency"
    return None


def _timezone(v: str) -> str | None:
    if not v:
        return None
    try:
        ZoneInfo(v)
    except (ValueError, ZoneInfoNotFoundError):
        return "must be an IANA time zone name such as Europe/Berlin or America/New_York"
    return None


def _url(v: str) -> str | None:
    if v == "" or v.startswith(("http://", "https://")):
        return None
    return "must start with https:// (or http:// on a test network), or be empty to turn forwarding off"


def _rcn_region(v: str) -> str | None:
    if v == "" or v in RCN_REGIONS:
        return None
    return f"must be one of {', '.join(RCN_REGIONS)} in capitals, or empty for none"


def _rcn_pattern(v: str) -> str | None:
    return pattern_problem(v)


def _scales(v: list[Any]) -> str | None:
    for i, s in enumerate(v):
        if not isinstance(s, dict) or not isinstance(s.get("port"), str):
            return f"entry {i} must be a table with at least port = \"/dev/ttyUSB0\""
        if s.get("protocol", "mettler8217") not in PROTOCOLS:
            return f"entry {i} has protocol {s.get('protocol')!r}; supported: {', '.join(PROTOCOLS)}"
    return None


def _strings(v: list[Any], what: str) -> str | None:
    return None if all(isinstance(x, str) and x for x in v) else f"must be a list of {what} as strings"


def _printers(v: list[Any]) -> str | None:
    for i, p in enumerate(v):
        ways = [k for k in ("host", "serial", "device", "usb") if isinstance(p, dict) and isinstance(p.get(k), str)]
        if len(ways) != 1:
            return (f"entry {i} must be a table with exactly one of host = \"192.0.2.10\" (network), "
                    "serial = \"/dev/ttyUSB1\", device = \"/dev/usb/lp0\" or usb = \"04b8:0e28\"")
        for key in ("port", "baudrate"):
            if not isinstance(p.get(key, 9100), int):
                return f"entry {i} has a {key} that is not a whole number"
    return None


def _label_printers(v: list[Any]) -> str | None:
    for i, p in enumerate(v):
        if not isinstance(p, dict) or not (isinstance(p.get("host"), str) or isinstance(p.get("path"), str)):
            return f"entry {i} must be a table with host = \"192.0.2.20\" or path = \"/dev/usb/lp0\""
        if any(not isinstance(p.get(k, 1), int) for k in ("port", "width_mm", "height_mm", "dpi")):
            return f"entry {i}: port, width_mm, height_mm and dpi must be whole numbers"
    return None


SCHEMA: dict[str, dict[str, Key]] = {
    "hub": {
        "id": Key(str, "hub-1", "Hub id used in MQTT topics and cloud events; unique per shop.", _ident),
        "data_dir": Key(str, "/var/lib/backroom", "Directory for the SQLite database and receipts."),
        "http_host": Key(str, "0.0.0.0", "Address the web server listens on."),
        "http_port": Key(int, 8080, "Port of the status page, register app and REST API.", _port),
        "http_threads": Key(int, 24, "Web server worker threads; each open register or status page holds one.", _positive),
        "secret_key": Key(str, "", "Signs session cookies. Generated by install.sh; keep it secret.", secret=True),
        "public_url": Key(str, "", "URL printed for people to open (default: http://<host name>:<http_port>/)."),
        "default_register": Key(str, "till-1", "Register that newly seen devices are bound to.", _ident),
    },
    "mqtt": {
        "host": Key(str, "127.0.0.1", "Broker address."),
        "port": Key(int, 1883, "Broker port.", _port),
        "username": Key(str, "hub", "User the hub connects as."),
        "password": Key(str, "", "Password of the hub user.", secret=True),
        "device_username": Key(str, "devices", "User the devices agent connects as."),
        "device_password": Key(str, "", "Password of the devices agent user.", secret=True),
        "password_file": Key(str, "/etc/mosquitto/backroom.passwd", "mosquitto's password file, where the hub "
                             "adds and removes per-device users (`backroom devices add`); docs/network.md."),
        "broker_pid_file": Key(str, "", "File holding the broker's pid, signalled to reload after a device user "
                               "changes; empty in production, where backroom-mqtt-reload.path reloads mosquitto."),
        "lan_host": Key(str, "", "Broker address handed to network devices with their credentials "
                        "(default: <host name>.local)."),
        "lan_port": Key(int, 1883, "Plain MQTT port handed to network devices.", _port),
        "tls_port": Key(int, 0, "MQTT-over-TLS listener port for LAN devices (8883 is usual); 0 turns it off. "
                        "See docs/network.md.", _port),
        "tls_certfile": Key(str, "", "PEM certificate (chain) of the TLS listener."),
        "tls_keyfile": Key(str, "", "PEM private key of the TLS listener, readable by mosquitto."),
    },
    "discovery": {
        "zeroconf": Key(bool, False, "Advertise the hub (_backroom._tcp, _http._tcp) and browse for network "
                        "printers with mDNS/DNS-SD."),
        "interfaces": Key(list, [], "Addresses or interface names zeroconf uses, e.g. [\"eth0\"]; empty: all "
                          "(pin them on a Pi with both Wi-Fi and Ethernet).", lambda v: _strings(v, "interfaces")),
        "machine_id_file": Key(str, "/etc/machine-id", "File whose id names the hub on the network, so SD cards "
                               "cloned from one image never collide."),
        "scan_prefix": Key(int, 24, "The port-9100 printer scan covers at most this network size around the "
                           "hub's address (24 = 254 hosts; 16-30).", lambda v: None if 16 <= v <= 30 else "must be 16-30"),
        "scan_networks": Key(list, [], "Networks to scan instead of the hub's own, e.g. [\"192.168.1.0/24\"].",
                             lambda v: _strings(v, "networks")),
        "scan_concurrency": Key(int, 64, "Connections the printer scan opens at once.", _positive_int),
        "scan_timeout_s": Key(float, 0.5, "Connect timeout per address of the printer scan.", _positive),
    },
    "cloud": {
        "url": Key(str, "", "Endpoint that receives event batches; empty turns forwarding off.", _url),
        "secret": Key(str, "", "Shared HMAC-SHA256 key for signing batches.", secret=True),
        "batch_events": Key(int, 500, "Most events per batch.", _positive_int),
        "batch_bytes": Key(int, 1_000_000, "Most bytes per batch (before compression).", _positive_int),
        "batch_age_s": Key(float, 2.0, "A batch that is not full goes out when its oldest event is this old "
                           "(while a backlog drains, batches go out at once).", _non_negative),
        "batch_size": Key(int, 0, "Old name of cloud.batch_events, still read when set; rename it.", _non_negative),
        "compress": Key(bool, False, "Send batches gzip-compressed (Content-Encoding: gzip)."),
        "max_kbit_s": Key(float, 0.0, "Bandwidth cap for metered links, in kbit/s; 0: none.", _non_negative),
        "fresh_after_s": Key(float, 60.0, "A backlog older than this, or the end of an outage, sends events "
                             "recorded from then on ahead of the backlog (docs/sync-protocol.md section 5).",
                             _positive),
        "retention_days": Key(float, 7.0, "Delivered events are kept this long, then pruned; on a hub without a cloud link (no cloud.url, no bridge) every event is pruned at this age.", _non_negative),
        "outbox_quota_mb": Key(float, 1024.0, "Disk the outbox may use; warnings at 70% and 90%, and over it "
                               "telemetry is dropped (money and stock events never are); 0: no quota.",
                               _non_negative),
        "backoff_base_s": Key(float, 1.0, "First retry delay ceiling in seconds (full jitter).", _positive),
        "backoff_cap_s": Key(float, 300.0, "Longest retry delay ceiling in seconds.", _positive),
        "timeout_s": Key(float, 10.0, "HTTP timeout for one batch.", _positive),
        "changes_url": Key(str, "", "Back-office feed of item and price changes to pull (docs/back-office.md), e.g. "
                           "https://backoffice.example/v1/hubs/shop-1/changes; empty turns pulling off and the "
                           "shop edits every field itself.", _url),
        "pull_interval_s": Key(float, 60.0, "Seconds between pulls of the changes feed.", _positive),
        "pull_page_size": Key(int, 200, "Most changes asked for per page (the limit parameter).",
                              lambda v: None if 1 <= v <= 1000 else "must be 1-1000"),
        "mode": Key(str, "https", "How batches leave: \"https\" (POST to cloud.url) or \"mqtt-bridge\" (published "
                    "to the local broker, carried out by a mosquitto bridge; docs/cloud.md).",
                    lambda v: None if v in ("https", "mqtt-bridge") else "must be \"https\" or \"mqtt-bridge\""),
        "bridge_host": Key(str, "", "The back office's MQTT broker the bridge connects to (mqtt-bridge mode)."),
        "bridge_port": Key(int, 8883, "Port of the back office's broker (8883: MQTT over TLS).", _port),
        "bridge_username": Key(str, "", "User the bridge signs in as on the back office's broker; empty: none."),
        # not secret=True: that marks keys install.sh generates; this one comes from the back office
        "bridge_password": Key(str, "", "Password of cloud.bridge_username (from the back office; keep the "
                               "config file private)."),
        "bridge_cafile": Key(str, "", "CA certificate (PEM) the bridge checks the back office's broker with; "
                             "empty: plain MQTT (test networks only)."),
        "bridge_certfile": Key(str, "", "Client certificate (PEM) for the bridge, when the back office asks for one."),
        "bridge_keyfile": Key(str, "", "Private key (PEM) of cloud.bridge_certfile, readable by mosquitto."),
        "bridge_ack_timeout_s": Key(float, 10.0, "How long the hub waits for the back office's answer to a batch "
                                    "published over the bridge before it retries (like cloud.timeout_s for "
                                    "HTTPS).", _positive),
    },
    "store": {
        "name": Key(str, "My Shop", "Shop name printed on receipts."),
        "address": Key(list, [], "Address lines printed under the shop name on receipts, e.g. "
                       "[\"1 High Street\", \"Springfield\"].", lambda v: _strings(v, "address lines")),
        "tax_id": Key(str, "", "Tax (VAT) registration number printed on receipts; empty prints none."),
        "timezone": Key(str, "", "IANA time zone receipts print times in, e.g. \"Europe/Berlin\"; empty: UTC "
                        "(and the receipt says so).", _timezone),
        "currency": Key(str, "EUR", "ISO 4217 currency of all prices.", _currency),
        "prices_include_tax": Key(bool, True, "Whether shelf prices include tax."),
        "tax_rounding": Key(str, "line", "Where tax is rounded: 'line' rounds each line's tax; 'receipt' rounds "
                            "each tax rate's total once and spreads it over the lines (hub.domain.tax).",
                            lambda v: None if v in ("line", "receipt") else "must be 'line' or 'receipt'"),
        "discount_reasons": Key(list, ["damaged", "loyalty", "price_match", "staff", "promotion"],
                                "Reason codes a cashier picks for a discount or a price override.",
                                lambda v: _strings(v, "reasons") or (None if v else "must list at least one reason")),
        "discount_approval_bp": Key(int, 1000, "Discounts above this share of the cart (basis points, 1000 = 10%) "
                                    "need a manager's approval.", _basis_points),
        "discount_approval_minor": Key(int, 2000, "Discounts above this amount (minor units) need a manager's "
                                       "approval; 0: no amount limit.", _non_negative),
        "rcn_region": Key(
            str, "",
            "Country whose GS1 layout scale labels (EAN-13 prefixes 20-29, UPC-A number system 2) "
            "follow, so a scanned label gives its price, weight or count: one of "
            + ", ".join(RCN_REGIONS) + "; empty reads them as plain codes.",
            _rcn_region,
        ),
        "rcn_pattern": Key(str, "", PATTERN_HELP, _rcn_pattern),
        "negative_stock": Key(
            str, "allow",
            "What a sale does when it would take an item below zero on hand: 'allow' sells it and puts "
            "the item on the exceptions list; 'block' refuses it at the register. An item may override it.",
            _negative_stock,
        ),
        "return_approval_minor": Key(
            int, 5000,
            "Refunds above this amount (minor units) need a manager, as do returns without a receipt.",
            _non_negative,
        ),
        "internal_prefix": Key(
            str, "04",
            "GS1 in-store prefix for the EAN-13 barcodes Backroom makes for items that have none: "
            "04 or 040-049, or 02 or 20-29 where scale labels do not use them. Codes made never "
            "collide with a code already in the store.",
            _internal_prefix,
        ),
        "rcn_check_price_digit": Key(
            bool, True,
            "Verify the price/weight check digit inside scale labels; turn off for scales that "
            "print another digit in its place.",
        ),
        "weighing_max_age_s": Key(
            float, 600.0,
            "Seconds a weighing taken on a register's scale may wait for its sale; an older one is "
            "refused and the item weighed again. (A register with a scale bound to it, online or "
            "not, never takes typed weights: unbind a broken scale on the status page to allow them.)",
            _positive,
        ),
    },
    "counts": {
        "variance_qty": Key(int, 5, "A counted line off by more than this many base units (pieces, grams, ml) "
                                    "waits for a manager's approval.", _non_negative),
        "variance_minor": Key(int, 2000, "A counted line whose variance is worth more than this (minor units, at "
                                         "cost) waits for a manager's approval.", _non_negative),
        "abc_a_bp": Key(int, 8000, "ABC classes: items making the top this-many basis points of 90-day sales value "
                                   "are A (8000 = 80%).", _basis_points),
        "abc_b_bp": Key(int, 9500, "ABC classes: up to this cumulative share are B (9500 = the next 15%); the rest "
                                   "are C.", _basis_points),
        "a_days": Key(int, 7, "Count every A item once in this many days.", _positive_int),
        "b_days": Key(int, 30, "Count every B item once in this many days.", _positive_int),
        "c_days": Key(int, 90, "Count every C item once in this many days.", _positive_int),
    },
    "receipt": {
        "footer": Key(list, ["Thank you!"], "Lines printed at the foot of every receipt (returns policy, "
                      "opening hours).", lambda v: None if all(isinstance(x, str) for x in v) else
                      "must be a list of lines as strings"),
    },
    "devices": {
        "scanners": Key(bool, True, "Find USB barcode scanners and grab them; other USB keyboards are listed on the "
                                    "status page, where the owner can mark one as a scanner (and a scanner as a keyboard)."),
        "scales": Key(list, [], "Serial scales: [{port = \"/dev/backroom/serial-...\", protocol = \"mettler8217\"}] (`ls /dev/backroom/` lists the stable names the udev rules give USB serial adapters); protocol is one of " + ", ".join(PROTOCOLS) + " (find it with `backroom devices probe PORT`); id is optional (default: from the port).", _scales),
        "scale_autodetect": Key(bool, True, "Probe the USB serial ports not in scales (FTDI, Prolific, CH340, CP210x adapters) "
                                            "for a scale at start and when one is plugged in; `backroom devices detect` "
                                            "shows what it finds. Turn off to use pinned scales only."),
        "printers": Key(list, [], "Receipt printers (ESC/POS), each one of: {host = \"192.0.2.10\", port = 9100} (network), {serial = \"/dev/ttyUSB1\", baudrate = 19200, rtscts = false} (8N1), {device = \"/dev/usb/lp0\"} (USB, kernel usblp) or {usb = \"04b8:0e28\", serial_number = \"...\"} (USB, libusb); optional profile (firmware_configs/printers), name and id (default: printer- and the host and port, port or device file name, or USB ids). Printers added on the status page need no entry.", _printers),
        "label_printers": Key(list, [], "Label printers: [{host = \"192.0.2.20\", port = 9100, language = \"zpl\", width_mm = 50, height_mm = 30, dpi = 203}] or [{path = \"/dev/usb/lp0\", profile = \"brother-ql-800\"}]; language is zpl, tspl, escpos or brother_ql (which also needs model = \"QL-800\" and label = \"62\"); profile names a file in firmware_configs/printers; id is optional (default: label-<host>-<port> or from the path). Network label printers added on the status page need no entry.", _label_printers),
        "simulate_scanner": Key(bool, False, "Add a simulated scanner that takes scans from the hub (demo)."),
    },
}


def _coerce_env(key: str, spec: Key, raw: str) -> Any:
    try:
        if spec.type is bool:
            low = raw.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if spec.type is int:
            return int(raw)
        if spec.type is float:
            return float(raw)
        if spec.type is list:
            value = json.loads(raw)
            if not isinstance(value, list):
                raise ValueError
            return value
        return raw
    except ValueError:
        raise ConfigError(
            f"environment variable {env_name(key)}={raw!r} is not a valid {spec.type.__name__}; "
            f"fix or unset it",
            field=key,
        ) from None


def env_name(dotted: str) -> str:
    return "BACKROOM_" + dotted.replace(".", "_").upper()


def _check(dotted: str, spec: Key, value: Any, origin: str) -> Any:
    shown = "(a secret, not shown)" if spec.secret else repr(value)
    ok = isinstance(value, spec.type) and not (spec.type is int and isinstance(value, bool))
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(
            f"{dotted} = {shown} in {origin} must be a {spec.type.__name__}, "
            f"for example {dotted.split('.')[1]} = {json.dumps(spec.default) if spec.type is not bool else str(spec.default).lower()}",
            field=dotted,
        )
    if spec.check:
        problem = spec.check(value)
        if problem:
            raise ConfigError(f"{dotted} = {shown} in {origin} {problem}", field=dotted)
    return value


@dataclass(frozen=True)
class Config:
    values: Mapping[str, Mapping[str, Any]]
    source: str = "defaults"

    def __getitem__(self, section: str) -> Mapping[str, Any]:
        return self.values[section]

    def get(self, dotted: str) -> Any:
        section, key = dotted.split(".", 1)
        return self.values[section][key]

    def with_overrides(self, overrides: Mapping[str, Any]) -> Config:
        merged = {s: dict(v) for s, v in self.values.items()}
        for dotted, value in overrides.items():
            section, key = _split_known(dotted, "overrides")
            merged[section][key] = _check(dotted, SCHEMA[section][key], value, "overrides")
        return Config(merged, self.source)

    @property
    def data_dir(self) -> Path:
        return Path(self.values["hub"]["data_dir"])


def _split_known(dotted: str, origin: str) -> tuple[str, str]:
    section, _, key = dotted.partition(".")
    if section not in SCHEMA:
        hint = difflib.get_close_matches(section, SCHEMA, n=1)
        raise ConfigError(
            f"unknown section [{section}] in {origin}"
            + (f"; did you mean [{hint[0]}]?" if hint else f"; known sections: {', '.join(SCHEMA)}"),
            field=dotted,
        )
    if key not in SCHEMA[section]:
        hint = difflib.get_close_matches(key, SCHEMA[section], n=1)
        raise ConfigError(
            f"unknown key {section}.{key} in {origin}"
            + (f"; did you mean {section}.{hint[0]}?" if hint else f"; keys of [{section}]: {', '.join(SCHEMA[section])}"),
            field=dotted,
        )
    return section, key


def load(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Build the config: defaults, then the TOML file (if given), then BACKROOM_* variables."""
    env = os.environ if env is None else env
    values: dict[str, dict[str, Any]] = {
        s: {k: (list(spec.default) if spec.type is list else spec.default) for k, spec in keys.items()}
        for s, keys in SCHEMA.items()
    }
    source = "defaults"
    if path is not None:
        origin = str(path)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {origin} does not exist; create it or run install.sh") from None
        except PermissionError:
            raise ConfigError(f"config file {origin} is not readable by this user; run as the backroom user") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {origin} is not valid TOML: {exc}") from None
        for section, table in data.items():
            if not isinstance(table, dict):
                if section not in SCHEMA:
                    _split_known(f"{section}.", origin)
                raise ConfigError(f"{section} in {origin} must be a table [{section}]", field=section)
            for key, value in table.items():
                s, k = _split_known(f"{section}.{key}", origin)
                values[s][k] = _check(f"{s}.{k}", SCHEMA[s][k], value, origin)
        source = origin
    known_env = {env_name(f"{s}.{k}"): (s, k) for s, keys in SCHEMA.items() for k in keys}
    for name, raw in env.items():
        if not name.startswith("BACKROOM_") or name in _NOT_CONFIG_ENV or name.startswith("BACKROOM_INSTALL_"):
            continue
        if name not in known_env:
            hint = difflib.get_close_matches(name, known_env, n=1)
            raise ConfigError(
                f"unknown environment variable {name}"
                + (f"; did you mean {hint[0]}?" if hint else "; see docs/configuration.md"),
                field=name,
            )
        s, k = known_env[name]
        spec = SCHEMA[s][k]
        values[s][k] = _check(f"{s}.{k}", spec, _coerce_env(f"{s}.{k}", spec, raw), f"environment {name}")
    if values["cloud"]["batch_size"]:  # the old name wins where it is still set
        values["cloud"]["batch_events"] = values["cloud"]["batch_size"]
    if values["cloud"]["mode"] == "mqtt-bridge" and not (values["cloud"]["bridge_host"] and values["cloud"]["secret"]):
        raise ConfigError(
            "cloud.mode is \"mqtt-bridge\" but cloud.bridge_host or cloud.secret is empty: set the back office's "
            "broker address and the shared key, or set cloud.mode = \"https\"", field="cloud.bridge_host")
    if values["cloud"]["url"] and not values["cloud"]["secret"]:
        raise ConfigError(
            f"cloud.url is set ({values['cloud']['url']}) but cloud.secret is empty; batches must be signed: "
            "set cloud.secret to the key the receiver shares, or empty cloud.url to turn forwarding off",
            field="cloud.secret",
        )
    if values["cloud"]["changes_url"] and not values["cloud"]["secret"]:
        raise ConfigError(
            f"cloud.changes_url is set ({values['cloud']['changes_url']}) but cloud.secret is empty; pulls must be "
            "signed: set cloud.secret to the key the back office shares, or empty cloud.changes_url",
            field="cloud.secret",
        )
    return Config(values, source)


# Variables read elsewhere (the CLI, the sink, install.sh's BACKROOM_INSTALL_*) that are not config keys.
_NOT_CONFIG_ENV = frozenset({"BACKROOM_CONFIG", "BACKROOM_LOG_LEVEL", "BACKROOM_SINK_SECRET"})


def render_toml(values: Mapping[str, Mapping[str, Any]]) -> str:
    """Write a config as TOML (used by install.sh and the demo)."""
    out: list[str] = []
    for section, keys in SCHEMA.items():
        out.append(f"[{section}]")
        for key in keys:
            if key in values.get(section, {}):
                out.append(f"{key} = {_toml_value(values[section][key])}")
        out.append("")
    return "\n".join(out)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def render_markdown() -> str:
    """docs/configuration.md, generated from SCHEMA."""
    out = [
        "# Configuration reference",
        "",
        "Generated from `hub/config.py` by `python -m hub.config > docs/configuration.md`;",
        "a test fails when this file and the schema disagree.",
        "",
        "Backroom reads its settings in three layers: the defaults below, then the TOML file",
        "(`/etc/backroom/backroom.toml` in production, `--config FILE` on the command line), then",
        "environment variables named `BACKROOM_<SECTION>_<KEY>`. An unknown key or a bad value stops",
        "start-up with a message naming the key, the value and the fix. Lists are given in the",
        "environment as JSON.",
        "",
    ]
    for section, keys in SCHEMA.items():
        out += [f"## [{section}]", "", "| key | type | default | environment | meaning |", "|---|---|---|---|---|"]
        for key, spec in keys.items():
            default = "(generated)" if spec.secret else f"`{_toml_value(spec.default)}`"
            out.append(
                f"| `{key}` | {spec.type.__name__} | {default} | `{env_name(section + '.' + key)}` | {spec.help} |"
            )
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render_markdown(), end="")
