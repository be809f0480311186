"""Benchmark of the store for sizing (deploy/README.md): acknowledged commits, and backup/restore speed.

Run (root or not; needs Debian's ``postgresql``): ``.venv/bin/python bench/db.py [--seconds 3] [--rows 200000]``.
A private PostgreSQL 15 server (fsync on, as deployed) is started on a free loopback port and removed after.

* acknowledged single-row commits per second, one writer — the durability test's transaction (an audit
  row through ``Store.session()``) — on SQLite (WAL, synchronous=FULL) and on PostgreSQL, beside
  ``pgbench -c1`` running the same INSERT against the same server (PostgreSQL's own C client: the
  reference for what the server gives one connection);
* ``wangnet backup`` / ``wangnet restore`` of a database holding ``--rows`` traffic samples, beside
  ``pg_dump -Fc`` / ``pg_restore`` of the same database.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from collectors.models import InterfaceSample  # noqa: E402
from tests.pg_fixtures import PgServer, pg_skip_reason, start_pg_server  # noqa: E402
from wangnet.accounts import AuditEntry  # noqa: E402
from wangnet.backup import restore_backup, write_backup  # noqa: E402
from wangnet.store import Store  # noqa: E402


def commits_per_second(store: Store, seconds: float) -> float:
    n, end = 0, time.monotonic() + seconds
    start = time.monotonic()
    while time.monotonic() < end:
        with store.session() as s:
            s.add(AuditEntry(actor="bench", action="write", target=str(n), detail="会议 " * 20))
        n += 1
    return n / (time.monotonic() - start)


def pgbench_tps(server: PgServer, dbname: str, seconds: float, work: Path) -> float:
    script = work / "insert.sql"
    script.write_text("INSERT INTO audit_log (at, actor, action, target, detail, remote_addr) "
                      "VALUES (now(), 'pgbench', 'write', 'x', repeat('会议 ', 20), '');\n", encoding="utf-8")
    script.chmod(0o644)
    work.chmod(0o755)
    env = {**os.environ, "PGPASSWORD": server.app_password}
    proc = subprocess.run([str(server.bin_dir / "pgbench"), "-n", "-c", "1", "-T", str(int(max(1, seconds))),
                           "-f", str(script), "-h", server.host, "-p", str(server.port), "-U", server.app_role, dbname],
                          capture_output=True, text=True, env=env, timeout=120)
    for line in proc.stdout.splitlines():
        if line.startswith("tps ="):
            return float(line.split()[2])
    raise RuntimeError(f"pgbench said: {proc.stdout}\n{proc.stderr}")


def fill_samples(store: Store, rows: int) -> None:
    now = int(time.time())
    batch = 5000
    with store.engine.begin() as conn:
        for first in range(0, rows, batch):
            conn.execute(insert(InterfaceSample), [
                {"device": f"dev{i % 69}", "ifname": f"ge-0/0/{i % 48}", "resolution": 0, "ts": now - i,
                 "in_bps": i * 1.5, "out_bps": i * 0.5, "samples": 1}
                for i in range(first, min(rows, first + batch))])


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rows", type=int, default=200_000)
    args = ap.parse_args()
    reason = pg_skip_reason()
    if reason:
        sys.exit(f"bench/db: {reason}")
    load = os.getloadavg()
    print(f"# bench/db — {dt.datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores, load average "
          f"{load[0]:.1f}, {platform.python_version()}")
    server = start_pg_server(fast=False)
    with tempfile.TemporaryDirectory(prefix="wangnet-bench-db-") as tmp:
        work = Path(tmp)
        try:
            sqlite = Store(f"sqlite:///{work / 'bench.db'}")
            sqlite.upgrade()
            pg_url = server.create_database("bench")
            pg = Store(pg_url)
            pg.upgrade()
            c_sqlite = commits_per_second(sqlite, args.seconds)
            c_pg = commits_per_second(pg, args.seconds)
            c_ref = pgbench_tps(server, "bench", args.seconds, work)
            print(f"acknowledged single-row commits/s, one writer: wangnet on SQLite {c_sqlite:,.0f}, "
                  f"wangnet on PostgreSQL {c_pg:,.0f}, pgbench -c1 same INSERT {c_ref:,.0f}, "
                  f"ratio wangnet/pgbench {c_pg / c_ref:.2f}×")

            fill_samples(pg, args.rows)
            archive = work / "wangnet.tar"
            t_backup = timed(lambda: write_backup(pg, work / "vod", archive))
            dump = work / "bench.dump"
            env = {**os.environ, "PGPASSWORD": server.app_password}
            conn_args = ["-h", server.host, "-p", str(server.port), "-U", server.app_role]
            t_dump = timed(lambda: subprocess.run([str(server.bin_dir / "pg_dump"), "-Fc", *conn_args, "-f", str(dump),
                                                   "bench"], check=True, env=env, timeout=600))
            target = Store(server.create_database("bench_restore"))
            target.upgrade()
            t_restore = timed(lambda: restore_backup(target, work / "vod-restored", archive))
            server.create_database("bench_pgrestore")
            t_pgrestore = timed(lambda: subprocess.run([str(server.bin_dir / "pg_restore"), *conn_args, "-d",
                                                        "bench_pgrestore", str(dump)], check=True, env=env, timeout=600))
            print(f"{args.rows:,} traffic samples: wangnet backup {t_backup:.2f} s ({archive.stat().st_size / 1e6:.0f} MB), "
                  f"pg_dump -Fc {t_dump:.2f} s ({dump.stat().st_size / 1e6:.0f} MB), ratio {t_backup / t_dump:.1f}×; "
                  f"wangnet restore {t_restore:.2f} s, pg_restore {t_pgrestore:.2f} s, ratio {t_restore / t_pgrestore:.1f}×")
            for store in (sqlite, pg, target):
                store.dispose()
        finally:
            server.stop()
            server.remove()


if __name__ == "__main__":
    main()
