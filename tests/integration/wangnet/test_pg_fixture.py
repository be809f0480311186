"""The PostgreSQL fixture itself: a real server, fresh databases, a non-superuser owner."""
from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.pg_fixtures import PgServer


def test_fresh_databases_are_separate_and_owned_by_the_app_role(postgres_server: PgServer) -> None:
    first, second = postgres_server.create_database(), postgres_server.create_database()
    assert first != second and first.startswith("postgresql+psycopg://wangnet:")
    engine = create_engine(first)
    try:
        with engine.begin() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == "wangnet"
            assert conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar() is False
            assert conn.execute(text("SHOW server_version_num")).scalar() >= "150000"
            conn.execute(text("CREATE TABLE t (x int)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        other = create_engine(second)
        with other.connect() as conn:
            assert conn.execute(text("SELECT to_regclass('t')")).scalar() is None
        other.dispose()
    finally:
        engine.dispose()
    for url in (first, second):
        postgres_server.drop_database(url.rsplit("/", 1)[1])
