"""Shared fixtures: a settings object, a migrated store and a Flask app, all under tmp_path."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import pytest

from tests.lab_fixtures import lab, lab_session, sim  # noqa: F401  (one session-wide lab for every area)
from tests.pg_fixtures import (  # noqa: F401  (a real PostgreSQL server; --db=postgres runs the store on it)
    _pg_template, postgres_server, pytest_addoption, pytest_collection_modifyitems, test_database_url)
from wangnet import accounts
from wangnet.config import PROJECT_ROOT, Settings, load_settings
from wangnet.store import Store

SAMPLE_INVENTORY = PROJECT_ROOT / "inventory.yaml"
TEST_PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@pytest.fixture
def settings(tmp_path: Path, test_database_url: str) -> Settings:
    return load_settings(
        environ={},
        var_dir=tmp_path / "var",
        database_url=test_database_url,
        inventory_path=SAMPLE_INVENTORY,
        secret_key="test-secret-key",
        login_rate_limit="1000 per minute",
    )


@pytest.fixture
def store(settings: Settings) -> Store:
    s = Store.from_settings(settings)
    s.upgrade()
    yield s
    s.dispose()


@pytest.fixture
def make_user(store: Store) -> Callable[..., str]:
    """Create a user holding ``roles``; returns the user name."""
    counter = iter(range(10_000))

    def make(*roles: str, username: str | None = None) -> str:
        name = username or f"u{next(counter)}-{'-'.join(roles) or 'none'}"
        with store.session() as s:
            accounts.create_user(s, name, TEST_PASSWORD, roles)
        return name

    return make


@pytest.fixture
def app(settings: Settings, store: Store):  # type: ignore[no-untyped-def]
    from web.app import create_app

    application = create_app(settings, store=store)
    application.config.update(TESTING=True, WANGNET_LIVE_SECONDS=1.0, WANGNET_LIVE_TICK=0.1)
    return application


def csrf_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token in page"
    return match.group(1)


def login(client, username: str, password: str = TEST_PASSWORD):  # type: ignore[no-untyped-def]
    page = client.get("/login")
    token = csrf_token(page.get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})
