"""Shared fixtures: a settings object, a migrated store and a Flask app, all under tmp_path.

How the suite is selected and scheduled (``pytest_collection_modifyitems`` below):

- ``--db=postgres`` keeps the tests that ask for ``store`` or ``test_database_url`` (directly or through
  ``make_user``/``app``/...) and use no lab, simulation, agent, slapd or browser fixture
  (tests/pg_fixtures.py ``DB_FIXTURES``/``NON_DB_FIXTURES``): a new store test is picked up by using the fixture.
- Tests marked ``lab_down`` run after every other lab test, so the root lab comes up once.
- Under pytest-xdist with ``-n 2 --dist loadgroup --no-loadscope-reorder`` (the Makefile's ``XDIST_2``, which
  ``make test`` uses for both runs) each test is put in an ``xdist_group``: the modules that use
  the root lab together, all of tests/e2e together (their package-scoped ``wangnet serve`` and simulation),
  every other module on its own; lab and e2e go first.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Callable

import pytest

from tests.lab_fixtures import lab, lab_session, order_lab_tests, sim, uses_lab  # noqa: F401  (one session-wide lab)
from tests.pg_fixtures import (  # noqa: F401  (a real PostgreSQL server; --db=postgres runs the store on it)
    _pg_template, postgres_server, pytest_addoption, select_postgres_tests, test_database_url)
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


@pytest.hookimpl(tryfirst=True)  # before xdist's worker hook, which reads the xdist_group marks added here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    select_postgres_tests(config, items)  # --db=postgres: only the tests that use the store
    order_lab_tests(items)  # the lab comes up once
    # xdist's workers collect with dist="no" and loadgroup=True; its controller sees dist="loadgroup"
    if getattr(config.option, "loadgroup", False) or getattr(config.option, "dist", "no") == "loadgroup":
        group_for_xdist(items)


# Tests that must share one pytest-xdist worker, by what they share: the root lab (one per machine, a file lock
# and a session fixture), and the e2e suites (package-scoped `wangnet serve` and simulation; Chromium-heavy,
# so two of them never compete for the 2 cores). Every other test goes with its module (module fixtures are
# set up once). These groups go first, so the long ones start at once and the short modules fill in after.
XDIST_FIRST = ("e2e", "lab")


def xdist_group_of(item: pytest.Item, lab_modules: set[str]) -> str:
    module = item.nodeid.split("::", 1)[0]
    if module.startswith("tests/e2e/"):
        return "e2e"
    if module in lab_modules:
        return "lab"
    return module


def group_for_xdist(items: list[pytest.Item]) -> None:
    """Mark every test with its ``xdist_group`` (run with ``-n 2 --dist loadgroup --no-loadscope-reorder``)."""
    lab_modules = {item.nodeid.split("::", 1)[0] for item in items if uses_lab(item)}
    groups = {id(item): xdist_group_of(item, lab_modules) for item in items}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[id(item)]))
        _suffix_group(item, groups[id(item)])
    rank = {name: i for i, name in enumerate(XDIST_FIRST)}
    items.sort(key=lambda item: rank.get(groups[id(item)], len(rank)))  # stable: order inside a group kept


def _suffix_group(item: pytest.Item, group: str) -> None:
    """What xdist's loadgroup does with the mark (``nodeid@group``, read by its scheduler), done here because
    pytest-xdist 3.8 writes ``item._nodeid``, which pytest 9.1+ no longer reads (node ids became ``NodeId``):
    there the groups would be silently ignored and lab tests spread over both workers."""
    nodeid = item.nodeid
    if "@" in nodeid.rsplit("]", 1)[-1]:
        return  # xdist did it already
    node_id = getattr(item, "_id", None)
    if node_id is not None and hasattr(type(node_id), "parse"):
        item._id = type(node_id).parse(f"{nodeid}@{group}")  # type: ignore[attr-defined]
    else:
        item._nodeid = f"{nodeid}@{group}"  # type: ignore[attr-defined]
    assert item.nodeid.endswith(f"@{group}"), f"could not put {item.nodeid} in xdist group {group}"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to heads once per session (per xdist worker); the ``store`` fixture copies it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "wangnet.db"
    template = Store(f"sqlite:///{path}")
    try:
        template.upgrade()
    finally:
        template.dispose()  # checkpoints the WAL: the one file holds everything
    return path


@pytest.fixture
def store(settings: Settings, request: pytest.FixtureRequest) -> Store:
    url = settings.resolved_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        # A copy of the migrated template instead of ~0.3-1 s of migrations per test (as on PostgreSQL);
        # upgrade() below still runs and finds it at heads. Migrations themselves: tests/*/wangnet/test_migrations.py.
        target = Path(url.removeprefix("sqlite:///"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), target)
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
