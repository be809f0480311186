"""Differences between the models and a live database's schema, as Alembic autogenerate sees them.

Some indexes exist only on one engine and only in migrations: a PostgreSQL
``pg_trgm`` GIN index over an expression (see vod/search.py) has no portable
model form. By convention their names end in ``_trgm``; the comparison skips
them, so "the migrations match the models" holds on SQLite and PostgreSQL alike.
"""
from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

MIGRATION_ONLY_INDEX_SUFFIX = "_trgm"


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic ``include_object`` hook: leave out engine-specific indexes that only migrations create."""
    return not (type_ == "index" and reflected and compare_to is None and (name or "").endswith(MIGRATION_ONLY_INDEX_SUFFIX))


def schema_diff(conn: Connection) -> list[Any]:
    """What ``alembic revision --autogenerate`` would emit against ``conn``: [] when models and schema agree."""
    from wangnet.store import Base, load_all_models

    load_all_models()
    context = MigrationContext.configure(conn, opts={"include_object": include_object})
    return compare_metadata(context, Base.metadata)
