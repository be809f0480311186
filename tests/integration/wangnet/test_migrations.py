"""Alembic migrations upgrade an empty and a populated database, on SQLite and on a real PostgreSQL.

"Populated" means every table that exists at the first revision of every
branch holds a row (values made up per column type, foreign keys pointing at
the rows made before) when ``upgrade heads`` runs; afterwards every row is
still there, and the schema equals the models'.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from tests.integration.wangnet.db_engines import ENGINES, new_store
from wangnet.schemadiff import schema_diff as diff_of
from wangnet.store import Store, alembic_config


def branch_bases(store: Store) -> list[str]:
    """The first revision of every branch (the trunk's root and each area's first migration)."""
    script = ScriptDirectory.from_config(alembic_config(store.url))
    return sorted(r.revision for r in script.walk_revisions() if r.down_revision is None or r.branch_labels)


def schema_diff(store: Store) -> list[Any]:
    with store.engine.connect() as conn:
        return diff_of(conn)


def revisions(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}


def made_up_value(table: sa.Table, column: sa.Column[Any], n: int) -> Any:
    """A value of the column's type, unique per (table, column, n), short enough for its length."""
    t = column.type
    if isinstance(t, sa.Boolean):
        return True
    if isinstance(t, sa.DateTime):
        return dt.datetime(2025, 1, 2, 3, 4, n % 60, tzinfo=dt.timezone.utc)
    if isinstance(t, sa.Date):
        return dt.date(2025, 1, 1 + n % 28)
    if isinstance(t, sa.Integer):
        return 1000 + n
    if isinstance(t, (sa.Float, sa.Numeric)):
        return 1.5 + n
    if isinstance(t, sa.LargeBinary):
        return b"\x00\x01"
    if isinstance(t, sa.JSON):
        return {"n": n}
    if isinstance(t, sa.String):
        value = f"{column.name[:6]}{n}"
        return value[: t.length] if t.length else value + " 王 旗 苏木"
    raise AssertionError(f"{table.name}.{column.name}: no made-up value for type {t!r}; extend made_up_value")


def populate_every_table(store: Store) -> dict[str, int]:
    """One row in every table (besides seeded ones); returns each table's row count."""
    meta = sa.MetaData()
    counts: dict[str, int] = {}
    with store.engine.begin() as conn:
        meta.reflect(conn)
        for n, table in enumerate(t for t in meta.sorted_tables if t.name != "alembic_version"):
            row: dict[str, Any] = {}
            for column in table.columns:
                fks = list(column.foreign_keys)
                if fks:
                    ref = fks[0].column
                    row[column.name] = conn.execute(sa.select(ref).limit(1)).scalar_one()
                elif column.primary_key and isinstance(column.type, sa.Integer) and len(table.primary_key.columns) == 1:
                    continue  # autoincrement
                else:
                    row[column.name] = made_up_value(table, column, n)
            conn.execute(table.insert().values(**row))
            counts[table.name] = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    return counts


@pytest.mark.parametrize("kind", ENGINES)
def test_upgrade_an_empty_database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = new_store(kind, tmp_path, request)
    try:
        store.upgrade()
        script = ScriptDirectory.from_config(alembic_config(store.url))
        assert revisions(store) == set(script.get_heads())
        assert schema_diff(store) == []
        store.upgrade()  # again: a no-op
        assert revisions(store) == set(script.get_heads())
    finally:
        store.dispose()


@pytest.mark.parametrize("kind", ENGINES)
def test_upgrade_a_populated_database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = new_store(kind, tmp_path, request)
    try:
        bases = branch_bases(store)
        assert len(bases) >= 2, bases
        for revision in bases:
            store.upgrade(revision)
        assert revisions(store) == {r for r in bases if not any(
            other != r and r in _ancestors(store, other) for other in bases)}
        counts = populate_every_table(store)
        assert {"users", "audit_log", "alerts", "vod_episodes", "phones"} <= set(counts), counts

        store.upgrade()

        assert schema_diff(store) == []
        with store.engine.connect() as conn:
            for name, count in counts.items():
                got = conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one()
                assert got == count, f"{name}: {count} rows before the upgrade, {got} after"
    finally:
        store.dispose()


def _ancestors(store: Store, revision: str) -> set[str]:
    script = ScriptDirectory.from_config(alembic_config(store.url))
    return {r.revision for r in script.iterate_revisions(revision, "base")} - {revision}
