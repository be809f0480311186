"""What PostgreSQL refuses and SQLite lets through, fixed where the product writes (found by the PostgreSQL run)."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.integration.wangnet.db_engines import ENGINES, new_store
from wangnet import accounts
from web.openapi import INT_MAX


@pytest.mark.parametrize("kind", ENGINES)
def test_audit_stores_refused_input_as_typed_on_every_engine(kind: str, tmp_path: Path,
                                                            request: pytest.FixtureRequest) -> None:
    store = new_store(kind, tmp_path, request)
    try:
        store.upgrade()
        with store.session() as s:  # PostgreSQL: "text fields cannot contain NUL", "value too long for varchar(256)"
            accounts.audit(s, "admin\x00", "show.refused", "dev\x00ice" + "x" * 300, detail="no device 'a\x00b'")
        with store.session() as s:
            entry = s.scalars(select(accounts.AuditEntry)).one()
            assert entry.actor == "admin\\x00"
            assert entry.target.startswith("dev\\x00icexxx") and len(entry.target) == 256
            assert entry.detail == "no device 'a\\x00b'"
    finally:
        store.dispose()


@pytest.mark.parametrize("kind", ENGINES)
def test_the_largest_routable_id_is_a_valid_id_on_every_engine(kind: str, tmp_path: Path,
                                                              request: pytest.FixtureRequest) -> None:
    """Routes accept ids up to INT_MAX (web/openapi.py); beyond, 404. Every engine must take INT_MAX itself."""
    store = new_store(kind, tmp_path, request)
    try:
        store.upgrade()
        with store.session() as s:
            assert s.get(accounts.AuditEntry, INT_MAX) is None
            assert s.get(accounts.User, INT_MAX) is None
    finally:
        store.dispose()
