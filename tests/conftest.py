"""Shared fixtures: a real mosquitto with passwords and ACL, and a hub on a SQLite file on disk."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from hub import config as cfg
from hub.mosquitto import Broker, acl_text, start_broker

if TYPE_CHECKING:
    from hub.service import HubService

HUB_ID = "test-hub"
USERS = {"hub": "hub-secret", "devices": "devices-secret"}


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Tests fail when they leave threads running (python-zeroconf's rule)."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for t in leaked:
        t.join(timeout=5)
    leaked = [t.name for t in leaked if t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = start_broker(tmp_path / "mosquitto", USERS, acl_text("hub", "devices"))
    yield b
    b.stop()


def hub_config(data_dir: Path, broker: Broker | None = None, **sections: dict[str, object]) -> cfg.Config:
    values: dict[str, dict[str, object]] = {
        "hub": {"id": HUB_ID, "data_dir": str(data_dir), "secret_key": "test-secret-key"},
        "mqtt": {"username": "hub", "password": USERS["hub"], "device_username": "devices",
                 "device_password": USERS["devices"]},
        "store": {"name": "Test Shop", "currency": "EUR"},
    }
    if broker is not None:
        values["mqtt"].update(host=broker.host, port=broker.port)
    for section, overrides in sections.items():
        values.setdefault(section, {}).update(overrides)
    path = data_dir / "backroom.toml"
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(cfg.render_toml(values))
    return cfg.load(path, env={})


def bus_hub(data_dir: Path, broker: Broker, clock: Any = None, catalog: bool = True,
            **sections: dict[str, object]) -> HubService:
    """A hub (demo catalog unless catalog=False) whose device registry is connected to broker,
    without the web server or scheduler; the caller stops it."""
    from hub.demo_catalog import load_demo_catalog
    from hub.service import HubService
    from tests.helpers import wait_until

    config = hub_config(data_dir, broker, **sections)
    svc = HubService(config) if clock is None else HubService(config, clock=clock)
    if catalog:
        load_demo_catalog(svc.store)
    svc.registry.start(broker.host, broker.port, "hub", USERS["hub"])
    wait_until(lambda: svc.registry.connected)
    return svc
