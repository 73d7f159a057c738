"""Fixtures the hub's API tests share: a hub on a SQLite file in tmp_path with a hand-moved clock,
its Flask test client, and a bearer token per role."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from hub.service import HubService
from hub.web import create_app
from tests.conftest import hub_config
from tests.helpers import T0, Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def svc(tmp_path: Path, clock: Clock) -> Iterator[HubService]:
    s = HubService(hub_config(tmp_path / "data"), clock=clock)
    yield s
    s.stop()


@pytest.fixture
def client(svc: HubService) -> FlaskClient:
    return create_app(svc).test_client()


@pytest.fixture
def h(svc: HubService) -> dict[str, dict[str, str]]:
    return {role: {"Authorization": f"Bearer {svc.auth.create_token(role)}"}
            for role in ("owner", "manager", "cashier", "integration")}
