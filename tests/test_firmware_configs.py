"""firmware_configs/: the ESPHome devices speak the device bus contract, the profiles load.

The ESPHome files are read as ESPHome reads them (substitutions expanded, !secret and !lambda
kept as tagged values) and every topic and JSON field they use is compared with devices/bus.py,
so a rename on either side fails here instead of in a shop.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import bus
from devices.printer import profiles

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "firmware_configs"
ESPHOME = CONFIGS / "esphome"
HUB, DEV = "h1", "dev-9"


class Tagged(str):
    """A `!secret name` or `!lambda code` value: the text, plus which tag it had."""

    tag: str

    def __new__(cls, tag: str, text: str) -> Tagged:
        value = super().__new__(cls, text)
        value.tag = tag
        return value


class ESPHomeLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus ESPHome's tags, kept as Tagged values."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tagged:
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(
            None, None, f"!{suffix} needs a scalar", node.start_mark
        )
    return Tagged(suffix, loader.construct_scalar(node))


ESPHomeLoader.add_multi_constructor("!", _tagged)


def expand(value: Any, subs: dict[str, str]) -> Any:
    """ESPHome's ${name} substitution, everywhere in the tree (lambdas included)."""
    if isinstance(value, dict):
        return {k: expand(v, subs) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, subs) for v in value]
    if isinstance(value, str):
        text = re.sub(r"\$\{(\w+)\}", lambda m: subs[m.group(1)], value)
        return Tagged(value.tag, text) if isinstance(value, Tagged) else text
    return value


def load_device_substitutions(name: str) -> dict[str, str]:
    raw = yaml.load((ESPHOME / name).read_text(), Loader=ESPHomeLoader)
    return {k: str(v) for k, v in raw["substitutions"].items()}


def load_device(name: str) -> dict[str, Any]:
    raw = yaml.load((ESPHOME / name).read_text(), Loader=ESPHomeLoader)
    subs = {k: str(v) for k, v in raw.pop("substitutions").items()}
    bus.check_id(subs["hub_id"], "hub id")  # the defaults must be usable ids themselves
    bus.check_id(subs["device_id"])
    subs.update(hub_id=HUB, device_id=DEV)
    return expand(raw, subs)


def script(config: dict[str, Any], script_id: str) -> list[dict[str, Any]]:
    return next(s["then"] for s in config["script"] if s["id"] == script_id)


def json_keys(code: str) -> set[str]:
    return set(re.findall(r'root\["(\w+)"\]', code))


def strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


DEVICES = sorted(p.name for p in ESPHOME.glob("*.yaml") if p.name != "secrets.example.yaml")


def test_every_yaml_file_parses() -> None:
    found = sorted(CONFIGS.rglob("*.yaml"))
    assert len(found) >= 12, found
    for path in found:
        assert yaml.load(path.read_text(), Loader=ESPHomeLoader) is not None, path


def test_the_loader_keeps_esphome_tags_and_refuses_broken_yaml() -> None:
    value = yaml.load("a: !secret pw\nb: !lambda 'return 1;'\n", Loader=ESPHomeLoader)
    assert (value["a"], value["a"].tag, value["b"].tag) == ("pw", "secret", "lambda")
    with pytest.raises(yaml.YAMLError):
        yaml.load("a: [1, 2\n", Loader=ESPHomeLoader)


def test_secrets_example_names_every_secret_the_devices_use() -> None:
    example = yaml.safe_load((ESPHOME / "secrets.example.yaml").read_text())
    for name in DEVICES:
        used = {s for s in strings(load_device(name)) if getattr(s, "tag", "") == "secret"}
        assert used and used <= set(example), (name, used - set(example))


@pytest.mark.parametrize("name", DEVICES)
def test_mqtt_login_availability_and_no_foreign_topics(name: str) -> None:
    mqtt = load_device(name)["mqtt"]
    # The broker's ACL is `pattern readwrite backroom/+/dev/%u/#`: user name == device id.
    assert mqtt["username"] == DEV and mqtt["client_id"] == DEV
    assert mqtt["password"].tag == "secret"
    assert mqtt["discovery"] is False and mqtt["discover_ip"] is False
    assert mqtt["log_topic"] is None
    assert mqtt["topic_prefix"] == bus.device_base(HUB, DEV)
    availability = bus.availability_topic(HUB, DEV)
    for key, payload in (("birth_message", bus.ONLINE), ("will_message", bus.OFFLINE),
                         ("shutdown_message", bus.OFFLINE)):  # fmt: skip
        assert mqtt[key] == {"topic": availability, "payload": payload, "qos": 1, "retain": True}


@pytest.mark.parametrize("name", DEVICES)
def test_every_topic_is_a_bus_topic(name: str) -> None:
    text = " ".join(strings(load_device(name)))
    topics = set(re.findall(r"backroom/[\w./-]*", text))
    assert bus.hub_status_topic(HUB) in topics
    for topic in topics - {bus.hub_status_topic(HUB), bus.device_base(HUB, DEV)}:
        if topic.endswith("/cmd/"):  # "…/cmd/" + command + "/result" in send_result
            assert '+ command + "/result"' in text
            continue
        parsed = bus.parse_topic(topic)
        assert (parsed.hub, parsed.dev) == (HUB, DEV), topic


@pytest.mark.parametrize("name", DEVICES)
def test_reannounces_its_config_on_the_hub_birth(name: str) -> None:
    config = load_device(name)["mqtt"]
    assert config["on_connect"] == [{"script.execute": "announce"}]
    (birth,) = config["on_message"]
    assert birth["topic"] == bus.hub_status_topic(HUB)
    condition = birth["then"][0]["if"]["condition"]["lambda"]
    # The hub's real birth payload (hub/registry.py) and the plain one devices/link.py accepts.
    assert '\\"state\\": \\"online\\"' in condition and 'x == "online"' in condition
    assert {"script.execute": "announce"} in birth["then"][0]["if"]["then"]


@pytest.mark.parametrize(
    ("name", "kind"), [("scale-hx711.yaml", "scale"), ("scanner-bridge.yaml", "scanner")]
)
def test_announce_publishes_a_retained_device_config(name: str, kind: str) -> None:
    (publish, *_) = script(load_device(name), "announce")
    action = publish["mqtt.publish_json"]
    assert action["topic"] == bus.config_topic(HUB, DEV) and action["retain"] is True
    assert json_keys(action["payload"]) == {f.name for f in fields(bus.DeviceConfig)}
    assert f'root["kind"] = "{kind}";' in action["payload"] and kind in bus.DEVICE_KINDS
    assert 'root["connection"] = "mqtt";' in action["payload"]


@pytest.mark.parametrize("name", DEVICES)
def test_esphome_itself_accepts_the_config(name: str, tmp_path: Path) -> None:
    """`esphome config` checks every key against ESPHome's schema (lambdas are not compiled)."""
    esphome = shutil.which("esphome")
    if esphome is None:
        pytest.skip("esphome is not installed (pip install esphome, in a venv of its own)")
    shutil.copy(ESPHOME / name, tmp_path)
    shutil.copy(ESPHOME / "secrets.example.yaml", tmp_path / "secrets.yaml")
    proc = subprocess.run(
        [esphome, "config", name], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0 and "Configuration is valid!" in proc.stdout + proc.stderr, (
        proc.stdout[-3000:] + proc.stderr[-3000:]
    )


# --- the scale -----------------------------------------------------------------------------------


def test_scale_weight_events_are_what_bus_weight_accepts() -> None:
    config = load_device("scale-hx711.yaml")
    code = script(config, "publish_weight")[0]["lambda"]
    assert f'"{bus.event_topic(HUB, DEV, "weight")}"' in code
    assert json_keys(code) == {f.name for f in fields(bus.Weight)}
    statuses = set(re.findall(r'status = "(\w+)"', code))
    assert "ok" in statuses and statuses <= set(bus.WEIGHT_STATUSES)
    assert 'root["grams"] = grams;' in code and "const int grams" in code  # an int, never a float
    assert 'root["stable"] = is_stable;' in code and "const bool is_stable" in code
    # <= 10 Hz: one reading per update_interval, and a weight only goes out on a reading.
    (hx711,) = config["sensor"]
    assert hx711["platform"] == "hx711"
    assert int(hx711["update_interval"].removesuffix("ms")) >= 100


def test_scale_answers_tare_clear_tare_and_zero_with_job_results() -> None:
    config = load_device("scale-hx711.yaml")
    handlers = {h["topic"]: h["then"][0]["lambda"] for h in config["mqtt"]["on_json_message"]}
    commands = {c: bus.cmd_topic(HUB, DEV, c) for c in ("tare", "clear_tare", "zero")}
    assert set(handlers) == set(commands.values())
    for command, topic in commands.items():
        assert 'x["job_id"]' in handlers[topic]
        assert f'id(send_result).execute("{command}",' in handlers[topic]
    result = script(config, "send_result")[0]["lambda"]
    assert json_keys(result) == {f.name for f in fields(bus.JobResult)}
    assert '"/result"' in result


# --- the scanner bridge --------------------------------------------------------------------------


def test_scanner_bridge_reads_the_module_at_9600_8n1() -> None:
    uart = load_device("scanner-bridge.yaml")["uart"]
    assert (uart["baud_rate"], uart["data_bits"], uart["parity"], uart["stop_bits"]) == (
        "9600",
        8,
        "NONE",
        1,
    )


def test_scanner_bridge_scan_events_are_what_bus_scan_accepts() -> None:
    code = script(load_device("scanner-bridge.yaml"), "finish_code")[0]["lambda"]
    assert f'"{bus.event_topic(HUB, DEV, "scan")}"' in code
    assert json_keys(code) == {f.name for f in fields(bus.Scan)}
    # The id is made of the device id, a boot counter kept in flash and a count per boot.
    assert f'const std::string scan_id = "{DEV}-" + std::to_string(id(boot_count))' in code
    assert "if (raw.empty())" in code  # bus.Scan refuses empty data (the LF of a CR LF)


def test_scanner_bridge_aim_table_is_the_bus_table() -> None:
    code = script(load_device("scanner-bridge.yaml"), "finish_code")[0]["lambda"]
    table = dict(re.findall(r'\{"(\][A-Za-z][0-9A-Za-z])", "([\w-]+)"\}', code))
    assert table == bus.AIM_SYMBOLOGIES


def test_scanner_bridge_boot_counter_survives_a_reset() -> None:
    config = load_device("scanner-bridge.yaml")
    boot = next(g for g in config["globals"] if g["id"] == "boot_count")
    assert boot["restore_value"] is True
    assert "global_preferences->sync();" in config["esphome"]["on_boot"]["then"][0]["lambda"]


# --- printer profiles ----------------------------------------------------------------------------

PRINTERS = CONFIGS / "printers"
GOOD = {
    "model": "Test 80", "manufacturer": "Test", "kind": "receipt_printer", "language": "escpos",
    "connections": ["usb"], "columns": 48, "dpi": 203, "escpos_profile": "default", "drawer_pin": 2,
    "status_queries": True, "cut": "partial", "codepage": "cp437",
}  # fmt: skip
LABEL = {
    **{k: v for k, v in GOOD.items() if k not in ("columns", "drawer_pin", "escpos_profile")},
    "kind": "label_printer", "language": "brother_ql", "label_width_mm": 62,
}  # fmt: skip


def test_every_printer_profile_loads() -> None:
    loaded = profiles.load_profiles(PRINTERS)
    assert set(loaded) == {p.stem for p in PRINTERS.glob("*.yaml")}
    assert {p.language for p in loaded.values()} == set(profiles.LANGUAGES)
    assert {p.kind for p in loaded.values()} == set(profiles.KINDS)
    assert profiles.profile("zebra-zd421", PRINTERS).language == "zpl"
    assert profiles.load_profiles() == loaded  # the checkout's directory is the default


def test_printer_kinds_and_languages_are_the_bus_ones() -> None:
    assert set(profiles.KINDS) <= set(bus.DEVICE_KINDS)
    if hasattr(bus, "PRINTER_LANGUAGES"):  # the hub's printer list (bus.HubPrinters)
        assert set(profiles.LANGUAGES) == set(bus.PRINTER_LANGUAGES)


def test_escpos_profiles_exist_in_python_escpos_with_our_columns() -> None:
    from escpos.capabilities import CAPABILITIES

    known = CAPABILITIES["profiles"]
    for p in profiles.load_profiles(PRINTERS).values():
        if p.escpos_profile is None:
            continue
        assert p.escpos_profile in known, (p.name, p.escpos_profile)
        columns = known[p.escpos_profile]["fonts"]["0"]["columns"]
        if p.escpos_profile not in ("default", "simple"):  # generic: no paper width of their own
            assert p.columns == columns, (p.name, p.columns, columns)


def write_profile(tmp_path: Path, data: object, name: str = "bad-printer") -> Path:
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"kind": "fax"}, "kind is 'fax'; use one of receipt_printer, label_printer"),
        ({"language": "pcl"}, "language is 'pcl'"),
        ({"connections": "usb"}, "connections must be a list"),
        ({"connections": ["usb", "parallel"]}, "connections is 'parallel'"),
        ({"dpi": 0}, "dpi must be a whole number above 0"),
        ({"columns": None}, "columns is missing"),
        ({"drawer_pin": 3}, "drawer_pin is 3; use one of 2, 5"),
        ({"cut": "half"}, "cut is 'half'"),
        ({"status_queries": "yes"}, "status_queries must be true or false"),
        ({"escpos_profile": 7}, "escpos_profile must be a python-escpos profile name"),
        ({"language": "zpl"}, "escpos_profile is only for language escpos"),
        ({"language": "zpl", "escpos_profile": None}, "language 'zpl' is not a receipt language"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"label_width_mm": 58}, "label_width_mm and label_height_mm are for label printers only"),
        ({"model": ""}, "model must be a non-empty text"),
    ],
)
def test_a_bad_profile_is_refused_naming_file_and_key(
    tmp_path: Path, change: dict[str, Any], words: str
) -> None:
    directory = write_profile(tmp_path, {**GOOD, **change})
    with pytest.raises(profiles.ProfileError) as err:
        profiles.load_profiles(directory)
    assert str(tmp_path / "bad-printer.yaml") in str(err.value) and words in str(err.value)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({k: v for k, v in GOOD.items() if k != "cut"}, "cut is missing"),
        ({**LABEL, "language": "zpl"}, "label_height_mm is missing"),
        ({**LABEL, "label_height_mm": None}, "options needs model and label"),
        (["not", "a", "mapping"], "a profile must be a mapping"),
    ],
)
def test_missing_keys_are_named(tmp_path: Path, data: object, words: str) -> None:
    with pytest.raises(profiles.ProfileError, match=re.escape(words)):
        profiles.load_profiles(write_profile(tmp_path, data))


def test_broken_yaml_and_unknown_names_get_clear_messages(tmp_path: Path) -> None:
    (tmp_path / "torn.yaml").write_text("model: [Epson\n")
    with pytest.raises(profiles.ProfileError, match=r"torn\.yaml: is not valid YAML"):
        profiles.load_profiles(tmp_path)
    with pytest.raises(profiles.ProfileError, match="known profiles: .*epson-tm-t20iii"):
        profiles.profile("epson-tm-t1000", PRINTERS)
    with pytest.raises(profiles.ProfileError, match="no such directory"):
        profiles.load_profiles(tmp_path / "missing")


def test_the_good_profile_loads(tmp_path: Path) -> None:
    loaded = profiles.profile("bad-printer", write_profile(tmp_path, GOOD))
    assert (loaded.columns, loaded.drawer_pin, loaded.connections) == (48, 2, ("usb",))


_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 700), st.text(max_size=12),
                    st.lists(st.sampled_from(["usb", "network", "fax"]), max_size=3))  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(GOOD) + ["label_width_mm", "label_height_mm", "x"]), _values
    )
)
def test_any_mapping_loads_or_fails_with_a_profile_error(changes: dict[str, Any]) -> None:
    """The loader never lets a TypeError or KeyError out: bad files get a message."""
    try:
        p = profiles.parse_profile("p", {**GOOD, **changes}, "p.yaml")
    except profiles.ProfileError as exc:
        assert str(exc).startswith("p.yaml: ")
    else:
        assert p.kind in profiles.KINDS and p.language in profiles.LANGUAGES and p.dpi > 0


# --- the C++ in the lambdas compiles and does what it should ------------------------------------

# Just enough of ESPHome's and ArduinoJson's API for the lambdas above, with the same signatures
# (esphome/components/mqtt/mqtt_client.h, ArduinoJson 7). g++ finds the typos, missing
# declarations and type slips that `esphome config` does not look at; run, the program feeds the
# lambdas bytes or readings and prints what they publish as "topic<TAB>json" lines.
STUB = r"""
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <iterator>
#include <list>
#include <string>
#include <type_traits>
#include <utility>
#define ESPHOME_VERSION "stub"
#define ESP_LOGW(tag, ...) std::fprintf(stderr, __VA_ARGS__)
std::string quote(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    char buf[8];
    if (c == '"' || c == '\\') { out += '\\'; out += char(c); }
    else if (c < 0x20) { std::snprintf(buf, sizeof buf, "\\u%04x", c); out += buf; }
    else out += char(c);
  }
  return out + "\"";
}
struct JsonArray {
  std::string *slot;
  bool add(const char *v) {
    *slot = slot->size() > 2 ? slot->substr(0, slot->size() - 1) + "," + quote(v) + "]" : "[" + quote(v) + "]";
    return true;
  }
};
struct JsonVariant {
  std::string *slot;
  JsonVariant &operator=(const std::string &v) { *slot = quote(v); return *this; }
  JsonVariant &operator=(const char *v) { *slot = quote(v); return *this; }
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
  JsonVariant &operator=(T v) {
    if constexpr (std::is_same_v<T, bool>) *slot = v ? "true" : "false";
    else *slot = std::to_string(v);
    return *this;
  }
  template <class T> T to() { *slot = "[]"; return T{slot}; }
};
struct JsonObject {
  std::list<std::pair<std::string, std::string>> *fields;
  JsonVariant operator[](const char *key) {
    fields->emplace_back(key, "null");
    return JsonVariant{&fields->back().second};
  }
};
struct JsonVariantConst {
  const char *text;
  const char *operator|(const char *d) const { return text ? text : d; }
  bool operator|(bool d) const { return d; }
};
struct JsonObjectConst { JsonVariantConst operator[](const char *) const { return {"job-1"}; } };
namespace mqtt {
struct MQTTClientComponent {
  bool is_connected() { return true; }
  bool publish_json(const std::string &topic, const std::function<void(JsonObject)> &f,
                    uint8_t qos = 0, bool retain = false) {
    std::list<std::pair<std::string, std::string>> fields;
    f(JsonObject{&fields});
    std::string json = "{";
    for (auto &kv : fields) json += (json.size() > 1 ? "," : "") + quote(kv.first) + ":" + kv.second;
    std::cout << topic << "\t" << json << "}" << std::endl;
    return true;
  }
} client;
MQTTClientComponent *global_mqtt_client = &client;
}  // namespace mqtt
struct ESPPreferences { bool sync() { return true; } } preferences, *global_preferences = &preferences;
std::string uart_input;
struct UARTComponent {
  int available() { return int(uart_input.size()); }
  bool read_byte(uint8_t *b) { *b = uint8_t(uart_input[0]); uart_input.erase(0, 1); return true; }
};
uint32_t now_ms = 1000;
uint32_t millis() { return now_ms; }
uint32_t random_uint32() { return 4; }
#define id(name) g_##name
"""


def cpp_program(config: dict[str, Any], main: str = "") -> str:
    """The stub, the device's globals and scripts, each lambda as a function, then main."""
    out = [STUB]
    for g in config.get("globals", []):
        out.append(f"{g['type']} g_{g['id']} = {g['initial_value']};")
    if "uart" in config:
        out.append(f"UARTComponent g_{config['uart']['id']};")
    params = {
        s["id"]: ", ".join(f"{t} {n}" for n, t in s.get("parameters", {}).items())
        for s in config["script"]
    }
    names = {s["id"]: ", ".join(s.get("parameters", {})) for s in config["script"]}
    for s in config["script"]:  # declared first: scripts call each other
        out.append(f"void script_{s['id']}({params[s['id']]});")
        out.append(
            f"struct {{ void execute({params[s['id']]}) {{ script_{s['id']}({names[s['id']]}); }} }}"
            f" g_{s['id']};"
        )
    functions: list[tuple[str, str, str, str]] = []  # (return type, name, parameters, body)
    for s in config["script"]:
        calls = []
        for n, action in enumerate(s["then"]):
            if "lambda" in action:
                functions.append(("void", f"{s['id']}_{n}", params[s["id"]], action["lambda"]))
            elif "mqtt.publish_json" in action:
                publish = action["mqtt.publish_json"]
                body = f"[&](JsonObject root) {{ {publish['payload']} }}"
                code = f'mqtt::global_mqtt_client->publish_json("{publish["topic"]}", {body});'
                functions.append(("void", f"{s['id']}_{n}", params[s["id"]], code))
            else:
                continue
            calls.append(f"{s['id']}_{n}({names[s['id']]});")
        functions.append(("void", f"script_{s['id']}", params[s["id"]], "\n".join(calls)))
    mqtt = config["mqtt"]
    for n, handler in enumerate(mqtt.get("on_json_message", [])):
        functions.append(
            ("void", f"on_json_{n}", "JsonObjectConst x", handler["then"][0]["lambda"])
        )
    for n, handler in enumerate(mqtt.get("on_message", [])):
        branch = handler["then"][0]["if"]
        functions.append(
            ("bool", f"on_message_{n}", "std::string x", branch["condition"]["lambda"])
        )
        for a in branch["then"]:
            if "delay" in a:
                functions.append(("uint32_t", f"on_message_{n}_delay", "std::string x", a["delay"]))
    for n, sensor in enumerate(config.get("sensor", [])):
        functions.append(
            ("void", f"on_value_{n}", "float x", sensor["on_value"]["then"][0]["lambda"])
        )
    for n, interval in enumerate(config.get("interval", [])):
        functions.append(("void", f"interval_{n}", "", interval["then"][0]["lambda"]))
    for n, action in enumerate(config["esphome"].get("on_boot", {}).get("then", [])):
        functions.append(("void", f"on_boot_{n}", "", action["lambda"]))
    for ret, name, args, body in functions:
        out.append(f"{ret} {name}({args}) {{\n{body}\n}}")
    out.append(f"int main() {{\n{main}\nreturn 0;\n}}")
    return "\n".join(out)


def gxx() -> str:
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ is not installed")
    return compiler


def build(tmp_path: Path, program: str, *flags: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "lambdas.cpp").write_text(program)
    cmd = [
        gxx(),
        "-std=gnu++17",
        *flags,
        "-o",
        str(tmp_path / "lambdas"),
        str(tmp_path / "lambdas.cpp"),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def run(
    tmp_path: Path, config: dict[str, Any], main: str, stdin: bytes = b""
) -> list[tuple[str, str]]:
    built = build(tmp_path, cpp_program(config, main))
    assert built.returncode == 0, built.stderr[-4000:]
    proc = subprocess.run([str(tmp_path / "lambdas")], input=stdin, capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [tuple(line.split("\t", 1)) for line in proc.stdout.decode().splitlines()]  # type: ignore[misc]


@pytest.mark.parametrize("name", DEVICES)
def test_the_lambdas_compile_without_warnings(name: str, tmp_path: Path) -> None:
    config = load_device(name)
    built = build(tmp_path, cpp_program(config), "-Wall", "-Werror", "-Wno-unused", "-fsyntax-only")
    assert built.returncode == 0, built.stderr[-4000:]
    # A slip is seen: every global is used, so one that is not declared breaks the build.
    first = config["globals"][0]
    program = cpp_program(config).replace(f" g_{first['id']} = ", f" g_{first['id']}_gone = ", 1)
    assert build(tmp_path, program, "-fsyntax-only").returncode != 0


def test_scanner_bridge_publishes_each_code_as_a_bus_scan(tmp_path: Path) -> None:
    config = load_device("scanner-bridge.yaml")
    main = """
      on_boot_0();
      uart_input = std::string(std::istreambuf_iterator<char>(std::cin), {});
      interval_0();
      now_ms += 1000;  // the last code has no suffix: the pause ends it
      interval_0();
    """
    gs1 = b"]C10109501101020917\x1d10ABC123\x1d3103001234"
    stdin = gs1 + b"\r\n" + b"]E05901234123457\r" + b"X" * 3000 + b"\r" + b"\n\r" + b"BR-TEST-1"
    events = run(tmp_path, config, main, stdin)
    assert {topic for topic, _ in events} == {bus.event_topic(HUB, DEV, "scan")}
    scans = [bus.Scan.from_payload(payload) for _, payload in events]
    assert (
        scans
        == [  # the 3000-byte read is dropped, the empty ones are not sent
            bus.Scan(f"{DEV}-1-1", gs1[3:].decode(), "gs1-128", "]C1"),
            bus.Scan(f"{DEV}-1-2", "5901234123457", "ean13", "]E0"),
            bus.Scan(f"{DEV}-1-3", "BR-TEST-1"),
        ]
    )
    assert "\x1d" in scans[0].data


def test_scale_publishes_weights_as_bus_weights_and_answers_commands(tmp_path: Path) -> None:
    config = load_device("scale-hx711.yaml")
    raw = load_device_substitutions("scale-hx711.yaml")
    empty, per_gram = (
        int(raw["raw_empty"]),
        (int(raw["raw_known"]) - int(raw["raw_empty"])) / int(raw["known_grams"]),
    )
    main = f"""
      auto weigh = [](double grams, int times) {{
        for (int i = 0; i < times; i++) on_value_0(float({empty} + grams * {per_gram}));
      }};
      on_json_0(JsonObjectConst{{}});  // tare before the first reading: refused
      weigh(0, 8);          // power-up zero, then stable at zero
      weigh(1234, 8);       // a stable 1234 g (rounded to 1235 by e = 5 g)
      on_json_0(JsonObjectConst{{}});  // tare
      weigh(1234, 8);       // net zero, stable again
      weigh(99999, 8);      // over capacity
    """
    events = run(tmp_path, config, main)
    weights = [
        bus.Weight.from_payload(p) for t, p in events if t == bus.event_topic(HUB, DEV, "weight")
    ]
    results = [
        bus.JobResult.from_payload(p) for t, p in events if t == bus.result_topic(HUB, DEV, "tare")
    ]
    assert bus.Weight(0, True, "at_zero", 0) in weights
    assert bus.Weight(1235, True, "ok", 0) in weights
    assert [r.ok for r in results] == [False, True] and "not stable" in results[0].error
    assert bus.Weight(0, True, "ok", 1235) in weights  # net zero after the tare
    assert weights[-1] == bus.Weight(0, False, "over_capacity", 1235)
    assert all(w.status in bus.WEIGHT_STATUSES for w in weights)
    assert all(a != b for a, b in zip(weights, weights[1:], strict=False))  # only on a change
