"""A writer for the kill -9 test: commits one audit row per transaction and acknowledges it on stdout.

Run as ``python -m tests.integration.wangnet.durability_writer DATABASE_URL``;
it writes until killed. A line ``ack N`` is printed only after the commit of
row N returned, so every acknowledged N must survive the kill.
"""
from __future__ import annotations

import sys

from wangnet.accounts import AuditEntry
from wangnet.store import Store


def main(url: str) -> None:
    store = Store(url)
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        with store.session() as s:
            s.add(AuditEntry(actor="durability", action="write", target=str(n), detail="会议 " * 20))
        print(f"ack {n}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
