"""Stores on either engine for tests that compare SQLite and PostgreSQL side by side (real servers only)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from wangnet.backup import encode_value, tables_in_order
from wangnet.store import Store

ENGINES = ("sqlite", "postgres")


def new_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest, name: str = "db") -> Store:
    """An empty database (no schema) on ``kind``; PostgreSQL databases come from the session's real server."""
    if kind == "sqlite":
        return Store(f"sqlite:///{tmp_path / (name + '.db')}")
    server = request.getfixturevalue("postgres_server")
    return Store(server.create_database())


def snapshot(store: Store) -> dict[str, list[list[Any]]]:
    """Every row of every model table, engine-neutral (the backup's own encoding), for equality checks."""
    out: dict[str, list[list[Any]]] = {}
    with store.engine.connect() as conn:
        for table in tables_in_order():
            cols = list(table.columns)
            order = list(table.primary_key.columns) or cols
            out[table.name] = [[encode_value(c.type, v) for c, v in zip(cols, row)]
                               for row in conn.execute(sa.select(*cols).order_by(*order))]
    return out
