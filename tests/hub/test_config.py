from pathlib import Path

import pytest

from hub import config as cfg
from hub.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "backroom.toml"
    p.write_text(text)
    return p


def test_layers_defaults_then_file_then_environment(tmp_path: Path) -> None:
    p = write(tmp_path, '[hub]\nhttp_port = 9090\nid = "shop-7"\n')
    c = cfg.load(p, env={"BACKROOM_HUB_HTTP_PORT": "9191"})
    assert c.get("hub.http_port") == 9191
    assert c.get("hub.id") == "shop-7"
    assert c.get("store.currency") == "EUR"


def test_unknown_key_names_the_key_and_a_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        cfg.load(write(tmp_path, "[hub]\nhttp_prot = 1\n"), env={})
    assert "hub.http_prot" in exc.value.message and "did you mean hub.http_port" in exc.value.message


def test_bad_value_names_key_value_and_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        cfg.load(write(tmp_path, '[hub]\nhttp_port = "eighty"\n'), env={})
    assert "hub.http_port" in exc.value.message and "'eighty'" in exc.value.message and "for example" in exc.value.message
    with pytest.raises(ConfigError, match="ISO 4217"):
        cfg.load(write(tmp_path, '[store]\ncurrency = "euro"\n'), env={})
    with pytest.raises(ConfigError, match="between 0 and 65535"):
        cfg.load(None, env={"BACKROOM_MQTT_PORT": "70000"})


def test_unknown_section_and_env_var(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown section \[hubb\] in .*; did you mean \[hub\]"):
        cfg.load(write(tmp_path, "[hubb]\nid = 'x'\n"), env={})
    with pytest.raises(ConfigError, match="BACKROOM_HUB_HTTP_PORTT"):
        cfg.load(None, env={"BACKROOM_HUB_HTTP_PORTT": "1"})
    with pytest.raises(ConfigError, match="not a valid bool"):
        cfg.load(None, env={"BACKROOM_STORE_PRICES_INCLUDE_TAX": "maybe"})


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        cfg.load(write(tmp_path, "[hub\n"), env={})
    with pytest.raises(ConfigError, match="does not exist"):
        cfg.load(tmp_path / "nope.toml", env={})


def test_rendered_toml_loads_back(tmp_path: Path) -> None:
    values = {"hub": {"id": "a", "http_port": 1}, "devices": {"printers": [{"host": "127.0.0.1", "port": 9100}]}}
    c = cfg.load(write(tmp_path, cfg.render_toml(values)), env={})
    assert c.get("devices.printers") == [{"host": "127.0.0.1", "port": 9100}]


def test_configuration_reference_matches_the_schema() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    assert doc == cfg.render_markdown(), "regenerate: python -m hub.config > docs/configuration.md"


def test_secrets_are_never_echoed_and_forwarding_needs_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        cfg.load(write(tmp_path, "[mqtt]\npassword = 12345678\n"), env={})
    assert "12345678" not in exc.value.message and "mqtt.password" in exc.value.message
    with pytest.raises(ConfigError, match="cloud.secret is empty"):
        cfg.load(write(tmp_path, '[cloud]\nurl = "https://example.test/v1/events"\n'), env={})


def test_only_two_decimal_currencies() -> None:
    with pytest.raises(ConfigError, match="without two decimals"):
        cfg.load(None, env={"BACKROOM_STORE_CURRENCY": "JPY"})
    assert cfg.load(None, env={"BACKROOM_STORE_CURRENCY": "GBP"}).get("store.currency") == "GBP"
