from sqlalchemy import inspect

from wangnet.schemadiff import schema_diff
from wangnet.store import Store


def test_upgrade_creates_tables_and_is_idempotent(store):
    store.upgrade()  # second run is a no-op
    names = set(inspect(store.engine).get_table_names())
    assert {"users", "user_roles", "audit_log", "alembic_version"} <= names


def test_migrations_match_models(store):
    """A model change without its migration fails here, not in production."""
    with store.engine.connect() as conn:
        diff = schema_diff(conn)  # on SQLite, or PostgreSQL with --db=postgres
    assert diff == []


def test_database_url_setting_is_used(tmp_path, settings):
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    s = Store.from_settings(settings.with_overrides(database_url=url))
    s.upgrade()
    assert (tmp_path / "elsewhere.db").exists()
    s.dispose()
