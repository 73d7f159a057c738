"""`backroom`: a thin command line over the library. Errors become one clean message, never a trace."""

from __future__ import annotations

import argparse
import errno
import getpass
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub import config as cfg
from hub.errors import BackroomError

log = logging.getLogger("backroom")

DEFAULT_CONFIG = "/etc/backroom/backroom.toml"


def _setup_logging() -> None:
    level = os.environ.get("BACKROOM_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=getattr(logging, level, logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # python-escpos logs every printer connection at INFO on the root logger: twice a minute per
    # printer into the journal, on an SD card. Keep its warnings, drop its chatter.
    for handler in logging.getLogger().handlers:
        handler.addFilter(lambda r: r.levelno >= logging.WARNING or "/escpos/" not in r.pathname)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _load_config(args: argparse.Namespace) -> cfg.Config:
    path = getattr(args, "config", None) or os.environ.get("BACKROOM_CONFIG")
    data_dir = getattr(args, "data_dir", None)
    if path is None and data_dir and os.path.exists(os.path.join(data_dir, "backroom.toml")):
        path = os.path.join(data_dir, "backroom.toml")  # a demo's data dir carries its config
    elif path is None and os.path.exists(DEFAULT_CONFIG):
        path = DEFAULT_CONFIG
    config = cfg.load(path)
    if getattr(args, "data_dir", None):
        config = config.with_overrides({"hub.data_dir": str(args.data_dir)})
    return config


def _stop_on_signals() -> threading.Event:
    """An event set on SIGINT or SIGTERM.

    Not set from the signal handler itself: a handler runs in the main thread between any two
    bytecodes, and if that thread was inside stop.wait() holding the event's lock, set() would
    wait for that lock forever (a demo once hung on Ctrl-C that way). The C-level handler writes
    to a wake-up pipe instead, and a thread sets the event.
    """
    stop = threading.Event()
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)

    def watch() -> None:
        os.read(read_fd, 1)
        stop.set()

    threading.Thread(target=watch, name="signals", daemon=True).start()
    return stop


# -- commands ----------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from hub.service import HubService, run_forever

    config = _load_config(args)
    hub = config["hub"]
    service = HubService(config)
    run_forever(service, hub["http_host"], hub["http_port"], hub["http_threads"], _stop_on_signals())
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    if args.devices_command == "probe":
        return cmd_devices_probe(args)
    if args.devices_command == "detect":
        return cmd_devices_detect(args)
    if args.devices_command in ("add", "revoke"):
        return cmd_devices_credentials(args)
    from devices import agent

    config = _load_config(args)
    try:
        settings = agent.AgentSettings.from_mapping(agent_settings(config))
    except agent.SettingsError as exc:  # the agent's own words, without a trace
        raise BackroomError(f"[devices] in the config: {exc}") from None
    agent.main(settings, _stop_on_signals())
    return 0


def cmd_devices_credentials(args: argparse.Namespace) -> int:
    from hub.device_credentials import DeviceCredentials, credentials_text
    from hub.service import open_database

    config = _load_config(args)
    creds = DeviceCredentials(open_database(config.data_dir), config["hub"]["id"], config["mqtt"])
    actor = f"cli:{getpass.getuser()}"
    if args.devices_command == "revoke":
        creds.revoke(args.device_id, actor)
        print(f"device {args.device_id} can no longer connect to the broker")
        return 0
    answer = creds.issue(args.device_id, actor)
    print(json.dumps(answer, indent=2) if args.json else credentials_text(answer))
    return 0


def cmd_devices_probe(args: argparse.Namespace) -> int:
    from devices import probe
    from devices.scale import PROTOCOLS, ScaleError

    protocols = {args.protocol: PROTOCOLS[args.protocol]} if args.protocol else PROTOCOLS
    try:
        tried = probe.probe(args.port, protocols)
    except ScaleError as exc:
        raise BackroomError(str(exc)) from None
    first = probe.found(tried)
    if args.json:
        print(json.dumps({"port": args.port, "found": first, "tried": tried}, indent=2))
        return 0 if first else 1
    for r in tried:
        s = r["settings"]
        line = f"{r['protocol']:<12} {s['baud']} {s['bits']}{s['parity']}{s['stop']:g}  "
        if r["reading"]:
            w = r["reading"]
            grams = "-" if w["grams"] is None else f"{w['grams']} g"
            line += f"answered: {grams}, {w['status']}{'' if w['stable'] else ', not stable'}"
        elif r["answered"]:
            line += "answered the probe, but no weight"
        else:
            line += f"no answer{': ' + r['error'] if r['error'] else ''}"
        print(line)
    if first:
        print(f'found: {first}; set it in [devices] scales: {{port = "{args.port}", protocol = "{first}"}}')
        return 0
    print("found: nothing answered; check the cable, power, and the scale's serial settings")
    return 1


def cmd_devices_detect(args: argparse.Namespace) -> int:
    from devices.scale import detect

    found = detect.detect(detect.list_candidates())
    if args.json:
        ports = [{"port": f.candidate.path, "node": f.candidate.node, "id": f.candidate.dev_id,
                  "usb": f.candidate.usb, "found": f.protocol, "tried": list(f.tried)} for f in found]
        print(json.dumps({"ports": ports}, indent=2))
        return 0 if any(f.protocol for f in found) else 1
    if not found:
        print("no USB serial ports of a known adapter; plug the scale's cable in and check `ls /dev/serial/by-id/`")
        return 1
    for f in found:
        c = f.candidate
        hit = next((r for r in f.tried if r["answered"]), None)
        if hit is None:
            errors = {r["error"] for r in f.tried if r["error"]}
            print(f"{c.path}  ({c.usb}): nothing answered{'; ' + '; '.join(sorted(errors)) if errors else ''}")
            continue
        w = hit["reading"]
        weight = f", {w['grams']} g {w['status']}" if w and w["grams"] is not None else ""
        print(f"{c.path}  ({c.usb}): {hit['title']}{weight}; device {c.dev_id}")
        print(f'  pin it in [devices] scales: {{port = "{c.path}", protocol = "{f.protocol}"}}')
    return 0 if any(f.protocol for f in found) else 1


def agent_settings(config: cfg.Config) -> dict[str, Any]:
    """The devices agent's settings, taken from the shared config (the agent imports nothing of hub/)."""
    m, d = config["mqtt"], config["devices"]
    return {
        "hub_id": config["hub"]["id"], "mqtt_host": m["host"], "mqtt_port": m["port"],
        "mqtt_username": m["device_username"], "mqtt_password": m["device_password"],
        "scanners": d["scanners"], "simulate_scanner": d["simulate_scanner"],
        "scales": list(d["scales"]), "printers": list(d["printers"]),
        "scale_autodetect": d["scale_autodetect"], "label_printers": list(d["label_printers"]),
    }


def cmd_demo(args: argparse.Namespace) -> int:
    from hub import demo

    data_dir = Path(args.data_dir or demo.default_data_dir())
    if args.demo_command == "scan":
        demo.send_scan(data_dir, args.code)
        print(f"scanned {args.code!r} on the demo's simulated scanner")
        return 0
    if args.demo_command == "weigh":
        demo.send_weight(data_dir, args.grams)
        print(f"the demo scale now holds {args.grams} g" if args.grams else "the demo scale is empty")
        return 0
    return demo.run_demo(data_dir, args.port, _stop_on_signals())


def cmd_status(args: argparse.Namespace) -> int:
    from hub.inbound import summary as inbound_summary
    from hub.offline_review import summary as offline_summary
    from hub.outbox import Outbox
    from hub.service import open_database

    config = _load_config(args)
    db = open_database(config.data_dir)
    sync = Outbox(db, config["hub"]["id"], quota_mb=config["cloud"]["outbox_quota_mb"]).summary()
    sync["inbound"] = inbound_summary(db, bool(config["cloud"]["changes_url"]))
    devices = [dict(r) for r in db.conn.execute(
        "SELECT id, kind, coalesce(display_name, name) AS name, online, state_since, register_id, last_seen, last_event, "
        "last_event_at, (SELECT message || ' (' || at || ')' FROM device_errors e WHERE e.device_id = d.id "
        "ORDER BY e.id DESC LIMIT 1) AS last_error FROM devices d ORDER BY kind, id")]
    url = f"http://127.0.0.1:{config['hub']['http_port']}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            health: dict[str, Any] = json.loads(resp.read())
    except OSError as exc:
        health = {"ok": False, "error": f"no answer from {url}: {getattr(exc, 'reason', exc)}"}
    offline = offline_summary(db.conn)
    result = {"hub": {"id": config["hub"]["id"], **health}, "devices": devices, "sync": sync, "offline_sales": offline}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if health.get("ok") else 1
    print(f"hub {config['hub']['id']}: {'running' if health.get('ok') else health.get('error')}")
    for d in devices:
        print(f"  {d['kind']:<16} {d['id']:<28} {'online ' if d['online'] else 'OFFLINE'} register={d['register_id']}"
              f" since={d['state_since'] or '-'} last_event={d['last_event'] or '-'} {d['last_event_at'] or ''}".rstrip()
              + (f"\n  {'':<16} last error: {d['last_error']}" if d["last_error"] else ""))
    state = sync["state"] + ((f" since {sync['since']}" if sync["since"] else "") + f": {sync['reason']}"
                             if sync["state"] != "online" else "")
    forwarding = config["cloud"]["url"] or config["cloud"]["mode"] == "mqtt-bridge"
    oldest = (f"oldest {sync['oldest_unsent_at']}, {_age(sync['oldest_unsent_age_s'])} old"
              if sync["oldest_unsent_at"] else "oldest -")
    print(f"sync: {state if forwarding else 'off (cloud.url is empty)'}; "
          f"{sync['backlog']} events waiting ({oldest}), acked up to seq "
          f"{sync['acked_seq']}, last success {sync['last_success_at'] or 'never'}"
          + (f", last error: {sync['last_error']}" if sync["last_error"] else "")
          + (f"\n  {sync['dead_letters']} dead letter(s): GET /api/v1/sync/dead-letters" if sync["dead_letters"] else "")
          + (f"\n  outbox at {sync['quota']['percent']}% of its disk quota, {sync['dropped']} telemetry event(s) dropped"
             if sync["quota"]["level"] else ""))
    inbound = sync["inbound"]
    if inbound["enabled"]:
        print(f"inbound: last pull {inbound['last_pull_at'] or 'never'}, last success {inbound['last_success_at'] or 'never'}"
              + (f", last error: {inbound['last_error']}" if inbound["last_error"] else "")
              + (f"; {inbound['refused']} change(s) refused" if inbound["refused"] else "")
              + (f"; {inbound['back_office_requests']} request(s) waiting for the back office"
                 if inbound["back_office_requests"] else ""))
    else:
        print("inbound: off (cloud.changes_url is empty)")
    print(f"offline sales: {offline['offline_sales']} replayed by registers; "
          + (f"{offline['unreviewed']} charged at other prices than the hub's or without an approval, not yet "
               "reviewed (status page)"
             if offline["unreviewed"] else "none left to review")
          + (f"; {offline['oversold']} sold below zero stock (stock exceptions)" if offline["oversold"] else ""))
    return 0 if health.get("ok") else 1


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def cmd_cloud_bridge_config(args: argparse.Namespace) -> int:
    from hub.bridge import bridge_config

    config = _load_config(args)
    try:
        print(bridge_config(config), end="")
    except ValueError as exc:
        print(f"backroom: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from hub.auth import Auth
    from hub.service import open_database

    config = _load_config(args)
    print(Auth(open_database(config.data_dir)).create_token(args.role, args.name))
    return 0


def cmd_user_set(args: argparse.Namespace) -> int:
    from hub.auth import Auth
    from hub.service import open_database

    config = _load_config(args)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass(f"password for {args.username}: ")
    Auth(open_database(config.data_dir)).set_user(args.username, password, args.role)
    print(f"user {args.username} can now sign in as {args.role}")
    return 0


def cmd_user_set_pin(args: argparse.Namespace) -> int:
    from hub.people import People
    from hub.service import open_database

    config = _load_config(args)
    pin = sys.stdin.readline().strip() if args.pin_stdin else getpass.getpass(f"PIN for {args.username} (4-8 digits; 6-8 for managers and owners): ")
    People(open_database(config.data_dir)).set_pin(args.username, pin, f"cli:{getpass.getuser()}")
    print(f"{args.username} can now sign in on a paired register with their PIN")
    return 0


def cmd_barcode_parse(args: argparse.Namespace) -> int:
    from hub.domain.barcodes import parse

    rules = {"region": "", "pattern": "", "check_price_digit": True}
    if args.config:  # the store's scale-label rules, unless the options below say otherwise
        store = cfg.load(args.config)["store"]
        rules = {"region": store["rcn_region"], "pattern": store["rcn_pattern"],
                 "check_price_digit": store["rcn_check_price_digit"]}
    if args.region is not None:
        rules["region"] = args.region
    if args.pattern is not None:
        rules["pattern"] = args.pattern
    if args.no_price_check:
        rules["check_price_digit"] = False
    parsed = parse(args.code, **rules)
    if args.json:
        print(json.dumps(parsed.to_json()))
    elif parsed.valid:
        shown = {k: v for k, v in parsed.to_json().items() if v is not None and k not in ("kind", "valid")}
        print(f"{parsed.kind}: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    else:
        print(f"invalid: {parsed.error}")
    return 0 if parsed.valid else 1


def cmd_sink(args: argparse.Namespace) -> int:
    from waitress.server import create_server

    from hub.sink import create_sink_app

    secret = args.secret or os.environ.get("BACKROOM_SINK_SECRET", "")
    if not secret:
        raise BackroomError("the sink needs the shared secret: --secret S or BACKROOM_SINK_SECRET")
    if args.sink_command == "change":
        return _sink_change(args, secret)
    from hub.service import serve
    from hub.sink import Rejects

    app = create_sink_app(Path(args.data_dir), secret, rejects=Rejects(set(args.reject_type), set(args.reject_seq)),
                          changes_per_minute=args.changes_per_minute)
    server = create_server(app, host=args.host, port=args.port, ident="backroom-sink")
    log.info("sink listening on http://%s:%s/ (POST /v1/events)", args.host, server.effective_port)
    serve(server, _stop_on_signals())
    return 0


def _sink_change(args: argparse.Namespace, secret: str) -> int:
    from hub.sink_changes import parse_fields, post_changes

    if args.file:
        body = json.loads(Path(args.file).read_text())
    elif args.sku:
        change: dict[str, Any] = {"type": args.type, "sku": args.sku}
        fields = parse_fields(args.field)
        if args.type == "item.upsert":
            change["fields"] = fields
        else:
            change.update(fields)
        body = {"changes": [change]}
    else:
        raise BackroomError("say what changes: --sku S --field name=value ..., or --file changes.json")
    answer = post_changes(args.url or f"http://127.0.0.1:{args.port}", secret, args.hub, body)
    print(json.dumps(answer))
    return 0


def _catalog(config: cfg.Config) -> Any:
    from hub.catalog import Catalog
    from hub.service import open_database
    from hub.store import Store

    store = config["store"]
    return Catalog(Store(open_database(config.data_dir), config["hub"]["id"], store["currency"],
                         rcn_region=store["rcn_region"], rcn_pattern=store["rcn_pattern"],
                         rcn_check_price_digit=store["rcn_check_price_digit"]))


class _ImportProgress:
    """Rows read and rate on stderr: a redrawn bar on a terminal, else a line every EVERY_S seconds."""

    EVERY_S = 10.0

    def __init__(self, position: Callable[[], int], total: int) -> None:
        self.position, self.total, self.tty = position, max(total, 1), sys.stderr.isatty()
        self.start = self.last = time.monotonic()
        self.drawn = False

    def __call__(self, rows: int) -> None:
        now = time.monotonic()
        if now - self.last < (0.2 if self.tty else self.EVERY_S):
            return
        self.last, self.drawn = now, True
        done = min(1.0, self.position() / self.total)
        text = f"{done:4.0%} {rows:>11,} rows {rows / (now - self.start):>9,.0f} rows/s"
        if self.tty:
            bar = "#" * int(done * 30)
            sys.stderr.write(f"\r[{bar:<30}] {text}\033[K")
        else:
            sys.stderr.write(f"importing: {text}\n")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.tty and self.drawn:
            sys.stderr.write("\n")


def cmd_items_import(args: argparse.Namespace) -> int:
    from hub.item_import import ImportResult, import_items

    source = Path(args.file)
    report_path = Path(args.report) if args.report else source.with_suffix(".rejects.csv")
    result = ImportResult()
    with source.open(encoding="utf-8-sig", newline="") as stream:
        catalog = _catalog(_load_config(args))
        progress = _ImportProgress(stream.buffer.tell, os.fstat(stream.fileno()).st_size)
        try:
            with report_path.open("w", newline="", encoding="utf-8") as report:
                result = import_items(catalog, stream, f"cli:{getpass.getuser()}", partial=args.partial,
                                      report=report, progress=progress)
        finally:
            progress.finish()
            catalog.db.close()
            if not result.rejected:  # the report exists only when rows were rejected
                report_path.unlink(missing_ok=True)
    counts = (f"{result.rows:,} rows: {result.created:,} created, {result.updated:,} updated, "
              f"{result.unchanged:,} unchanged")
    if result.applied:
        rejected = f", {result.rejected:,} rejected (reasons in {report_path})" if result.rejected else ""
        print(f"imported {source.name}: {counts}{rejected}")
        return 0
    print(f"backroom: nothing imported: {result.rejected:,} of {result.rows:,} rows were rejected; the reasons "
          f"are in {report_path}. Fix them and import again, or use --partial to import the good rows", file=sys.stderr)
    for line in result.first_errors[:5]:
        print(f"  {line}", file=sys.stderr)
    return 1


def cmd_items_export(args: argparse.Namespace) -> int:
    from hub.item_export import export_items

    catalog = _catalog(_load_config(args))
    try:
        if not args.file:
            export_items(catalog, sys.stdout)
            return 0
        with open(args.file, "w", newline="", encoding="utf-8") as out:
            count = export_items(catalog, out)
    finally:
        catalog.db.close()
    print(f"exported {count:,} items to {args.file}", file=sys.stderr)
    return 0


# -- parser ------------------------------------------------------------------------------------
def _scale_protocols() -> list[str]:
    from devices.scale import PROTOCOLS

    return list(PROTOCOLS)


def _common(p: argparse.ArgumentParser, data_dir: bool = True) -> None:
    p.add_argument("--config", help=f"TOML config file (default: $BACKROOM_CONFIG or {DEFAULT_CONFIG} when present)")
    if data_dir:
        p.add_argument("--data-dir", help="override hub.data_dir")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backroom", description="Backroom: the store hub for small shops.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = add("demo", "Run the demo shop: private mosquitto, hub, simulated scanner, scale and printer, and a sink.", cmd_demo)
    p.add_argument("--data-dir", help="where the demo keeps its data (default: ~/.local/share/backroom/demo)")
    p.add_argument("--port", type=int, default=8080, help="HTTP port of the hub (default 8080)")
    p.set_defaults(demo_command=None)
    demo_sub = p.add_subparsers(dest="demo_command", metavar="SUBCOMMAND")
    ps = demo_sub.add_parser("scan", help="Scan CODE on the running demo's simulated scanner.",
                             description="Scan CODE on the running demo's simulated scanner.")
    ps.add_argument("code", help="the text the scanner reads, e.g. 0490000010077")
    ps.add_argument("--data-dir", help="the running demo's data directory", dest="data_dir")
    pw = demo_sub.add_parser("weigh", help="Put GRAMS on the running demo's simulated scale (0 empties it).",
                             description="Put GRAMS on the running demo's simulated scale (0 empties it).")
    pw.add_argument("grams", type=int, help="the weight in grams, e.g. 532")
    pw.add_argument("--data-dir", help="the running demo's data directory", dest="data_dir")

    p = add("run", "Run the hub in production from the config file.", cmd_run)
    _common(p)
    p = add("devices", "Run the devices agent: scanners, scales and printers on the device bus.", cmd_devices)
    _common(p, data_dir=False)
    p.set_defaults(devices_command=None)
    dev_sub = p.add_subparsers(dest="devices_command", metavar="SUBCOMMAND")
    text = "Find which scale protocol answers on a serial port (stop the devices agent first)."
    pp = dev_sub.add_parser("probe", help=text, description=text)
    pp.add_argument("port", help="the serial port, e.g. /dev/serial/by-id/usb-FTDI_...-port0")
    pp.add_argument("--json", action="store_true", help="print one JSON object")
    pp.add_argument("--protocol", choices=_scale_protocols(), help="try only this protocol")
    text = ("Find scales on the USB serial ports (FTDI, Prolific, CH340, CP210x adapters): try every protocol on "
            "each, as the agent's autodetection does; ports the running agent holds show as in use.")
    pd = dev_sub.add_parser("detect", help="Find scales on the USB serial ports, as autodetection does.",
                            description=text)
    pd.add_argument("--json", action="store_true", help="print one JSON object")
    text = ("Give a network device (ESP32 scale, network scanner) its own MQTT user and print its password, "
            "once; it may then write only its own topics. Again for the same id: a new password.")
    pa = dev_sub.add_parser("add", help="Give a network device its own MQTT user and password.", description=text)
    pa.add_argument("device_id", help="the device's stable id, which is also its MQTT user name, e.g. scale-2")
    pa.add_argument("--json", action="store_true", help="print one JSON object")
    _common(pa)
    text = "Take a device's MQTT user away; the broker drops its connection."
    pr = dev_sub.add_parser("revoke", help=text, description=text)
    pr.add_argument("device_id", help="the device id given to `devices add`")
    _common(pr)
    p = add("status", "Show the hub's state, devices and sync backlog.", cmd_status)
    _common(p)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("cloud", help="Cloud sync settings.", description="Cloud sync settings.")
    csub = p.add_subparsers(dest="cloud_command", metavar="SUBCOMMAND", required=True)
    text = ("Print the mosquitto bridge section that carries the hub's batches to a back-office MQTT broker "
            "(cloud.mode = \"mqtt-bridge\"; docs/cloud.md).")
    pb = csub.add_parser("bridge-config", help=text, description=text)
    _common(pb)
    pb.set_defaults(func=cmd_cloud_bridge_config)

    p = sub.add_parser("token", help="Manage API tokens.", description="Manage API tokens.")
    tsub = p.add_subparsers(dest="token_command", required=True, metavar="SUBCOMMAND")
    pt = tsub.add_parser("create", help="Create a bearer token and print it (and nothing else).",
                         description="Create a bearer token and print it (and nothing else).")
    pt.add_argument("--role", required=True, choices=["owner", "manager", "cashier", "device", "integration"], help="what the token may do")
    pt.add_argument("--name", default="", help="a note on who uses the token")
    _common(pt)
    pt.set_defaults(func=cmd_token_create)

    p = sub.add_parser("user", help="Manage people who sign in.", description="Manage people who sign in.")
    usub = p.add_subparsers(dest="user_command", required=True, metavar="SUBCOMMAND")
    pu = usub.add_parser("set", help="Create a user or change their password and role.",
                         description="Create a user or change their password and role.")
    pu.add_argument("username", help="the name they sign in with")
    pu.add_argument("--role", required=True, choices=["owner", "manager", "cashier"], help="what they may do")
    pu.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    _common(pu)
    pu.set_defaults(func=cmd_user_set)
    text = "Set or reset the PIN a person signs in with on a paired register (4-8 digits, 6-8 for managers and owners); lifts a lock."
    pp = usub.add_parser("set-pin", help=text, description=text)
    pp.add_argument("username", help="the person, who must exist (backroom user set, or the status page)")
    pp.add_argument("--pin-stdin", action="store_true", help="read the PIN from standard input")
    _common(pp)
    pp.set_defaults(func=cmd_user_set_pin)

    p = sub.add_parser("barcode", help="Barcode tools.", description="Barcode tools.")
    bsub = p.add_subparsers(dest="barcode_command", required=True, metavar="SUBCOMMAND")
    pb = bsub.add_parser("parse", help="Say what a scanned code means.", description="Say what a scanned code means.")
    pb.add_argument("code", help="the scanned text")
    pb.add_argument("--json", action="store_true", help="print one JSON object")
    pb.add_argument("--region", choices=cfg.RCN_REGIONS, type=str.upper,
                    help="read scale labels by this country's layout (default: store.rcn_region of --config, else none)")
    pb.add_argument("--pattern", help="scale label pattern(s) in Odoo notation, e.g. 'weight:21.....{NNDDD}' "
                    "(default: store.rcn_pattern of --config)")
    pb.add_argument("--no-price-check", action="store_true",
                    help="do not verify the price/weight check digit inside scale labels")
    pb.add_argument("--config", help="TOML config file whose [store] rcn_* keys to use")
    pb.set_defaults(func=cmd_barcode_parse)

    p = sub.add_parser("items", help="Import and export the item master as CSV.",
                       description="Import and export the item master as CSV.")
    isub = p.add_subparsers(dest="items_command", required=True, metavar="SUBCOMMAND")
    text = ("Create and update items from a CSV file (columns: see docs). By default nothing is imported "
            "if any row is rejected; the reasons go to a report file.")
    pi = isub.add_parser("import", help="Create and update items from a CSV file.", description=text)
    pi.add_argument("file", help="the CSV file; its first row names the columns, sku among them")
    pi.add_argument("--partial", action="store_true", help="import the good rows even when others are rejected")
    pi.add_argument("--report", help="where to write the rejected rows (default: FILE.rejects.csv next to FILE)")
    _common(pi)
    pi.set_defaults(func=cmd_items_import)
    text = "Write every item, active or not, as CSV that `items import` reads back unchanged."
    pe = isub.add_parser("export", help="Write every item as CSV.", description=text)
    pe.add_argument("file", nargs="?", help="the CSV file to write (default: standard output)")
    _common(pe)
    pe.set_defaults(func=cmd_items_export)

    p = add("sink", "Run the reference cloud receiver that hubs forward their events to.", cmd_sink)
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=9000, help="listen port (default 9000)")
    p.add_argument("--data-dir", default="./backroom-sink", help="where the sink keeps its SQLite file")
    p.add_argument("--secret", help="shared HMAC secret (or BACKROOM_SINK_SECRET)")
    p.add_argument("--reject-type", action="append", default=[], metavar="TYPE",
                   help="refuse events of this type with 422, to try the hub's dead-letter path (repeatable)")
    p.add_argument("--reject-seq", action="append", default=[], type=int, metavar="SEQ",
                   help="refuse the event with this seq with 422 (repeatable)")
    p.add_argument("--changes-per-minute", type=float, default=0, metavar="N",
                   help="rate limit of the change feed per hub; over it the sink answers 429 (default 0: none)")
    p.set_defaults(sink_command=None)
    sink_sub = p.add_subparsers(dest="sink_command", metavar="SUBCOMMAND")
    text = "Put an item or price change into a running sink's change feed for a hub to pull."
    pc = sink_sub.add_parser("change", help=text, description=text)
    pc.add_argument("--hub", required=True, help="the hub id the change is for")
    pc.add_argument("--sku", help="the item's SKU")
    pc.add_argument("--type", default="item.upsert", choices=("item.upsert", "item.deactivate", "price.set",
                                                              "barcode.add", "barcode.remove"),
                    help="change type (default item.upsert)")
    pc.add_argument("--field", action="append", default=[], metavar="NAME=VALUE",
                    help="a field, e.g. price_minor=249 or name='Oat milk 1 l' (repeatable)")
    pc.add_argument("--file", help='a JSON file {"changes": [...]} instead of --sku/--field')
    pc.add_argument("--url", help="the sink's base URL (default http://127.0.0.1:PORT)")
    pc.add_argument("--port", type=int, default=9000, help="the sink's port when --url is not given (default 9000)")
    pc.add_argument("--secret", help="shared HMAC secret (or BACKROOM_SINK_SECRET)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging()
    try:
        return int(args.func(args))
    except BackroomError as exc:
        print(f"backroom: {exc.message}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path, permission or port problem: say which, without a trace
        if exc.errno == errno.EADDRINUSE:
            print("backroom: a port it needs is already in use; stop what uses it or choose another port",
                  file=sys.stderr)
            return 2
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"backroom: {exc.strerror or exc}{where}; check the path and that this user may use it",
              file=sys.stderr)
        return 2
    except sqlite3.Error as exc:
        print(f"backroom: the database said: {exc}; check the data directory (a full disk, another program "
              "holding the file, or a file from another Backroom version)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
