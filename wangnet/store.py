"""The store: one SQLAlchemy ``Base`` for every area's tables, engines and sessions.

Areas declare their tables in their own ``models.py`` on this ``Base``; schema
changes ship as Alembic migrations under ``wangnet/migrations`` so that a
PostgreSQL deployment and the embedded SQLite default stay the same schema.
"""
from __future__ import annotations

import fcntl
import importlib
import importlib.util
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from wangnet.config import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
PROJECT_DIR = Path(__file__).resolve().parent.parent
AREAS_WITH_MODELS = ("collectors", "conferencing", "vod", "telephony")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATION_LOCK_ID = 0x77616E67  # "wang": the PostgreSQL advisory lock held while migrating


class Base(DeclarativeBase):
    """Declarative base shared by all areas (named constraints keep migrations portable)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # WAL lets the web threads read while the asyncio services write.
    cursor.execute("PRAGMA journal_mode=WAL")
    # A returned commit is in the WAL and synced: it survives a kill -9 of any process and a power cut
    # (tests/integration/wangnet/test_durability.py). FULL is SQLite's usual default; say it, not assume it.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Other processes (collector, SIP, VOD worker) write the same file: wait for their transactions
    # rather than fail with "database is locked"; the longest, a collector cycle, takes well under this.
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


class Store:
    """Owns the engine and hands out sessions; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False})
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Store":
        return cls(settings.resolved_database_url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self, revision: str = "heads") -> None:
        """Bring the schema to ``revision`` with Alembic (idempotent).

        Each area's migrations form their own branch off ``0001_accounts``
        (``branch_labels`` = the area), so areas evolve without renumbering each
        other; ``heads`` upgrades every branch.
        """
        with self._migration_lock():
            command.upgrade(alembic_config(self.url), revision)

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """One migrating process at a time: every service process upgrades at start, and they start together.

        PostgreSQL: a session advisory lock on a connection of its own (Alembic
        migrates on another). SQLite: an exclusive ``flock`` on a file beside
        the database.
        """
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
                    conn.commit()
        elif self.engine.dialect.name == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            lock_path = Path(f"{self.engine.url.database}.migrate.lock")
            with open(lock_path, "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
        else:
            yield

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> Config:
    """Alembic configuration without an ini file, so the package works installed anywhere."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Each area keeps its migration scripts beside its models, in <area>/migrations/.
    locations = [MIGRATIONS_DIR / "versions"] + [
        PROJECT_DIR / area / "migrations" for area in AREAS_WITH_MODELS if (PROJECT_DIR / area / "migrations").is_dir()
    ]
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in locations))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def load_all_models() -> None:
    """Import every area's ``models`` module so ``Base.metadata`` is complete."""
    import wangnet.accounts  # noqa: F401

    for area in AREAS_WITH_MODELS:
        if importlib.util.find_spec(area) is not None and importlib.util.find_spec(f"{area}.models") is not None:
            importlib.import_module(f"{area}.models")
