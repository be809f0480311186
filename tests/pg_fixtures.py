"""pytest fixtures for a real PostgreSQL server (Debian's ``postgresql`` package) started by the harness.

Use them from a ``conftest.py`` (tests/conftest.py already does)::

    from tests.pg_fixtures import postgres_server  # noqa: F401

``postgres_server`` (session) runs ``initdb`` + ``postgres`` in a temporary
directory on a free 127.0.0.1 port — as the ``postgres`` system user when the
tests run as root (postgres refuses root), else as the current user — and hands
a ``PgServer``; ``create_database()`` makes a fresh database owned by a
non-superuser role and returns its SQLAlchemy URL (``postgresql+psycopg://``).
Everything is stopped and removed at the end of the session. Skipped, with the
reason, only when the PostgreSQL binaries are missing.

``pytest --db=postgres`` (or ``WANGNET_TEST_DB=postgres``) makes the shared
``settings``/``store`` fixtures use a fresh PostgreSQL database per test (cloned
from a template migrated once per session), and keeps only the tests that use
the store (``select_postgres_tests``, called from tests/conftest.py's collection
hook): the second run of ``make test``.
"""
from __future__ import annotations

import glob
import itertools
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_SYSTEM_USER = "postgres"
APP_ROLE = "wangnet"
START_DEADLINE_S = 120.0
STOP_DEADLINE_S = 60.0
TEMPLATE_DB = "wangnet_template"
# Fixtures that mark a test as one that uses the shared store (kept by --db=postgres); tests that ask for
# ``postgres_server`` themselves already ran against PostgreSQL in the default run.
DB_FIXTURES = ("store", "test_database_url")
# Fixtures that keep a test out of the PostgreSQL run: the root lab and browsers (the e2e suites), and tests
# whose time goes to external agents — the SNMP simulation, snmpd agents, slapd — rather than to the database
# (their store use, alerts and samples, is exercised by the other store tests); keeps the run near 2 minutes.
NON_DB_FIXTURES = ("lab", "lab_session", "page", "browser", "served", "sim", "agents", "snmpd_agent", "slapd",
                   "own_slapd", "tls_slapd")


def pg_bin_dir() -> Path | None:
    """Newest installed PostgreSQL server binaries (``/usr/lib/postgresql/<major>/bin``), or None."""
    dirs = [Path(d) for d in glob.glob(PG_BIN_GLOB) if (Path(d) / "postgres").exists() and (Path(d) / "initdb").exists()]
    if not dirs:
        return None
    return max(dirs, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


def pg_skip_reason() -> str | None:
    if pg_bin_dir() is None:
        return f"PostgreSQL server binaries not found under {PG_BIN_GLOB} (Debian package `postgresql`; `make setup` as root installs it)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            return f"running as root but there is no `{PG_SYSTEM_USER}` system user to run the server as (postgres refuses root)"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    """One running PostgreSQL server: where it listens and how to make databases on it."""

    base_dir: Path
    bin_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    superuser: str = "postgres"
    superuser_password: str = field(default_factory=lambda: secrets.token_hex(16))
    app_role: str = APP_ROLE
    app_password: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen[bytes] | None = None
    fast: bool = True  # fsync off: survives a process kill, not an OS crash — fine for tests
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "postgres.log"

    def _as_owner(self) -> list[str]:
        """Command prefix that drops root to the ``postgres`` user (nothing when not root)."""
        if os.geteuid() != 0:
            return []
        return ["setpriv", f"--reuid={PG_SYSTEM_USER}", f"--regid={PG_SYSTEM_USER}", "--init-groups", "--"]

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            pw = pwd.getpwnam(PG_SYSTEM_USER)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def init(self) -> None:
        """``initdb`` with password (SCRAM) authentication for TCP and no Unix socket."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.base_dir.chmod(0o700)
        self._chown(self.base_dir)
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.superuser_password + "\n")
        pwfile.chmod(0o600)
        self._chown(pwfile)
        proc = subprocess.run(
            [*self._as_owner(), str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", self.superuser,
             f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            capture_output=True, text=True, timeout=180,
        )
        pwfile.unlink()
        if proc.returncode != 0:
            raise RuntimeError(f"initdb failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")

    def start(self, keep_port: bool = False) -> None:
        """Start ``postgres`` on a free port (or, after ``kill()``, its old one, so URLs stay valid) and wait
        until it accepts a login; retries on another port if a fresh one was taken meanwhile."""
        for _attempt in range(1 if keep_port else 5):
            if not keep_port:
                self.port = free_port()
            options = ["-c", f"port={self.port}", "-c", f"listen_addresses={self.host}",
                       "-c", "unix_socket_directories=", "-c", "max_connections=200",
                       "-c", "shared_buffers=32MB", "-c", "log_min_messages=warning"]
            if self.fast:
                options += ["-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=on"]
            log = open(self.log_path, "ab")
            self.process = subprocess.Popen([*self._as_owner(), str(self.bin_dir / "postgres"), "-D", str(self.data_dir),
                                             *options], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            if self._wait_ready():
                return
            self.stop()
        raise RuntimeError(f"PostgreSQL did not start; log {self.log_path}:\n{self.log_tail()}")

    def _wait_ready(self) -> bool:
        import psycopg

        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with psycopg.connect(self.superuser_dsn("postgres"), connect_timeout=5):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def superuser_dsn(self, dbname: str) -> str:
        return f"host={self.host} port={self.port} user={self.superuser} password={self.superuser_password} dbname={dbname}"

    def url(self, dbname: str, *, superuser: bool = False) -> str:
        """SQLAlchemy URL of ``dbname`` (as the application role unless ``superuser``)."""
        user, password = (self.superuser, self.superuser_password) if superuser else (self.app_role, self.app_password)
        return f"postgresql+psycopg://{user}:{password}@{self.host}:{self.port}/{dbname}"

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        """Run one statement as the superuser outside a transaction (CREATE/DROP DATABASE need that)."""
        import psycopg

        with psycopg.connect(self.superuser_dsn(dbname), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_app_role(self) -> None:
        # Not a superuser: the product must work with what a DBA grants it (owner of its database).
        self.execute(f"CREATE ROLE {self.app_role} LOGIN PASSWORD '{self.app_password}' CREATEDB")

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """A fresh, empty (or ``template``-cloned) database owned by the application role; returns its URL."""
        name = name or f"wn_{os.getpid()}_{next(self._counter)}"
        clause = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
        self.execute(f'CREATE DATABASE "{name}" OWNER {self.app_role}{clause}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash, for durability tests); ``start()`` again runs crash recovery."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_DEADLINE_S)
        self._kill_leftover_backends()

    def _kill_leftover_backends(self) -> None:
        # Backends of a killed postmaster exit on their own when they notice; wait for the pid file's
        # shared memory to be free by waiting for processes started in our session to go.
        if self.process is None:
            return
        deadline = time.monotonic() + STOP_DEADLINE_S
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then SIGKILL if it does not go within the deadline."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_DEADLINE_S)
        self._kill_leftover_backends()
        self.process = None

    def remove(self) -> None:
        shutil.rmtree(self.base_dir, ignore_errors=True)


def start_pg_server(*, fast: bool = True) -> PgServer:
    """Init and start a private server with an application role; the caller must ``stop()`` and ``remove()`` it."""
    bin_dir = pg_bin_dir()
    assert bin_dir is not None
    server = PgServer(base_dir=Path(tempfile.mkdtemp(prefix="wangnet-pg-")), bin_dir=bin_dir, fast=fast)
    try:
        server.init()
        server.start()
        server.create_app_role()
    except BaseException:
        server.stop()
        server.remove()
        raise
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """A real PostgreSQL server for the whole test session (stopped and removed at the end)."""
    reason = pg_skip_reason()
    if reason:
        pytest.skip(reason)
    server = start_pg_server()
    try:
        yield server
    finally:
        server.stop()
        server.remove()


# --- `--db=postgres`: the shared settings/store fixtures on PostgreSQL --------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", choices=("sqlite", "postgres"), default=None,
                     help="database the settings/store fixtures use (default: sqlite, or $WANGNET_TEST_DB); "
                          "postgres also keeps only the tests that use the store")


def db_kind(config: pytest.Config) -> str:
    """``sqlite`` or ``postgres``: what this test session runs the store on."""
    return config.getoption("--db") or os.environ.get("WANGNET_TEST_DB", "") or "sqlite"


def select_postgres_tests(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On ``--db=postgres`` keep the tests that use the database, and none that need the lab or a browser."""
    if db_kind(config) != "postgres":
        return
    keep, drop = [], []
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        uses_db = bool(names & set(DB_FIXTURES))
        out_of_scope = bool(names & set(NON_DB_FIXTURES)) or item.get_closest_marker("e2e") is not None
        (keep if uses_db and not out_of_scope else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def _pg_template(request: pytest.FixtureRequest) -> str:
    """A database migrated to heads once per session; each test's database is cloned from it."""
    server: PgServer = request.getfixturevalue("postgres_server")
    from wangnet.store import Store

    server.create_database(TEMPLATE_DB)
    store = Store(server.url(TEMPLATE_DB))
    try:
        store.upgrade()
    finally:
        store.dispose()
    return TEMPLATE_DB


@pytest.fixture
def test_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """``""`` (SQLite under the test's var dir) normally; a fresh migrated PostgreSQL database with ``--db=postgres``."""
    if db_kind(request.config) != "postgres":
        yield ""
        return
    server: PgServer = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("_pg_template")
    url = server.create_database(template=template)
    # CLI invocations (CliRunner) and subprocesses the test starts read WANGNET_* from the environment:
    # point them at the same database, as a deployment's EnvironmentFile does.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WANGNET_DATABASE_URL", url)
        yield url
    server.drop_database(url.rsplit("/", 1)[1])
