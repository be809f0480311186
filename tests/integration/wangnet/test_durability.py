"""kill -9 in the middle of writes loses no acknowledged row: SQLite (WAL) and a real PostgreSQL.

A writer process commits one row per transaction and prints ``ack N`` after
each commit returns; the test SIGKILLs it (or PostgreSQL's postmaster itself)
while it writes, then reads the database back: every acknowledged N is there.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.pg_fixtures import PgServer, pg_skip_reason, start_pg_server
from wangnet.accounts import AuditEntry
from wangnet.config import PROJECT_ROOT
from wangnet.store import Store

ACKS_BEFORE_KILL = 100
DEADLINE_S = 120.0


class Writer:
    """The writer subprocess and the acknowledgements read from its stdout by a thread."""

    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.integration.wangnet.durability_writer", url],
                                     cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.acked: list[int] = []
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("ack "):
                self.acked.append(int(line.split()[1]))
            elif line.strip() == "ready":
                self.ready.set()

    def wait_acks(self, count: int) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while len(self.acked) < count:
            if self.proc.poll() is not None:
                raise AssertionError(f"writer exited ({self.proc.returncode}) after {len(self.acked)} acks: "
                                     f"{self.proc.stderr.read() if self.proc.stderr else ''}")
            assert time.monotonic() < deadline, f"only {len(self.acked)} acks in {DEADLINE_S:.0f} s"
            time.sleep(0.05)

    def finish(self) -> list[int]:
        """After the kill: every ack the writer managed to print (the pipe keeps what was written)."""
        self.proc.wait(timeout=DEADLINE_S)
        self._reader.join(timeout=DEADLINE_S)
        if self.proc.stderr:
            self.proc.stderr.close()
        return list(self.acked)


def stored_rows(url: str) -> set[int]:
    store = Store(url)
    try:
        with store.session() as s:
            return {int(t) for t in s.scalars(select(AuditEntry.target).where(AuditEntry.actor == "durability"))}
    finally:
        store.dispose()


def check_no_acked_row_lost(acked: list[int], stored: set[int]) -> None:
    assert len(acked) >= ACKS_BEFORE_KILL
    assert acked == list(range(1, len(acked) + 1))
    lost = sorted(set(acked) - stored)
    assert not lost, f"{len(lost)} acknowledged rows lost after kill -9, first {lost[:10]}"
    # at most the one transaction in flight at the kill may have committed without its ack
    assert stored - set(acked) <= {len(acked) + 1}


def test_sqlite_writer_killed_mid_writes_loses_no_acknowledged_row(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wangnet.db'}"
    store = Store(url)
    store.upgrade()
    with store.engine.connect() as conn:
        # the settings that make a returned commit durable: WAL, and the WAL written (and synced) at each commit
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    store.dispose()
    writer = Writer(url)
    writer.wait_acks(ACKS_BEFORE_KILL)
    writer.proc.send_signal(signal.SIGKILL)
    acked = writer.finish()
    assert writer.proc.returncode == -signal.SIGKILL
    check_no_acked_row_lost(acked, stored_rows(url))


def test_postgres_writer_killed_mid_writes_loses_no_acknowledged_row(postgres_server: PgServer) -> None:
    url = postgres_server.create_database()
    store = Store(url)
    store.upgrade()
    store.dispose()
    writer = Writer(url)
    writer.wait_acks(ACKS_BEFORE_KILL)
    writer.proc.send_signal(signal.SIGKILL)
    acked = writer.finish()
    assert writer.proc.returncode == -signal.SIGKILL
    check_no_acked_row_lost(acked, stored_rows(url))


def test_postgres_server_killed_mid_writes_loses_no_acknowledged_row() -> None:
    """The harder case: kill -9 of PostgreSQL itself (fsync on, as deployed); crash recovery replays the WAL."""
    reason = pg_skip_reason()
    if reason:
        pytest.skip(reason)
    server = start_pg_server(fast=False)
    try:
        url = server.create_database()
        store = Store(url)
        store.upgrade()
        store.dispose()
        writer = Writer(url)
        writer.wait_acks(ACKS_BEFORE_KILL)
        server.kill()
        acked = writer.finish()  # its next commit fails: the writer exits with the error
        assert writer.proc.returncode not in (0, None)
        server.start(keep_port=True)
        assert "database system was interrupted" in server.log_path.read_text(errors="replace") or \
            "was not properly shut down" in server.log_path.read_text(errors="replace")
        check_no_acked_row_lost(acked, stored_rows(url))
    finally:
        server.stop()
        server.remove()
