"""Several processes on one database at once: migrations that start together, writers that overlap.

A split deployment starts its processes together on an empty database (each
runs the migrations) and then writes from all of them. Real processes, on a
SQLite file (WAL, busy timeout, a migration lock beside it) and on a real
PostgreSQL server (an advisory lock around the migrations).
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from wangnet.accounts import AuditEntry
from wangnet.config import PROJECT_ROOT
from wangnet.store import Store

WRITERS = 3
ROUNDS = 50

WRITER = textwrap.dedent("""
    import os, sys, time
    from sqlalchemy import func, select
    from wangnet import accounts
    from wangnet.accounts import AuditEntry
    from collectors.models import DeviceStatus
    from wangnet.store import Store

    url, me, rounds, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = Store(url)
    store.upgrade()  # every process migrates at start, as the services do
    print("migrated", flush=True)
    while not os.path.exists(go):  # all write at once, whatever their start-up took
        time.sleep(0.01)
    for n in range(rounds):
        with store.session() as s:  # read, then write in the same session: what the services do
            s.scalar(select(func.count()).select_from(AuditEntry))
            accounts.audit(s, me, "test.write", str(n), "", "127.0.0.1")
            row = s.get(DeviceStatus, me) or DeviceStatus(device=me, state="up", behind=None, error="")
            row.poll_seconds = float(n)
            s.add(row)
    store.dispose()
    print("done", flush=True)
""")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("postgres_server").create_database()


def test_processes_migrate_and_write_one_database_together(database_url: str, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, str(script), database_url, f"writer-{i}", str(ROUNDS), str(go)],
                         cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(WRITERS)
    ]
    firsts = [p.stdout.readline() for p in procs]  # type: ignore[union-attr]
    go.touch()
    outputs = [first + p.communicate(timeout=240)[0] for first, p in zip(firsts, procs)]
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0 and out.split() == ["migrated", "done"], out[-3000:]
    store = Store(database_url)
    try:
        with store.session() as s:
            per_writer = dict(s.execute(select(AuditEntry.actor, func.count()).group_by(AuditEntry.actor)).all())
            assert per_writer == {f"writer-{i}": ROUNDS for i in range(WRITERS)}
            if store.engine.dialect.name == "sqlite":
                assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
                assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        store.dispose()
