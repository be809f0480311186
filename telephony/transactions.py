"""Server-transaction response cache: a retransmitted request is answered with the same bytes, not redone.

RFC 3261 §17.2 keeps a non-INVITE server transaction for Timer J (64·T1 =
32 s) after its final response and answers retransmissions from it. A UAC
retransmits the very same datagram (same branch, same bytes), so the raw
request bytes are the key: the lookup costs one hash and happens before any
parsing, which keeps retransmissions cheap exactly when load is high; a
retransmission that is not byte-identical still matches after parsing by its
RFC 3261 §17.2.3 key (branch, sent-by, method). The
cache is bounded (oldest entries go first); under a flood the oldest entries
are the ones whose retransmissions have stopped anyway.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Hashable

TIMER_J = 32.0


class ResponseCache:
    """request bytes or transaction key → (response bytes, expiry); bounded, expired lazily and by ``sweep``."""

    def __init__(self, ttl: float = TIMER_J, max_entries: int = 100_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[bytes, float]] = OrderedDict()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, request: Hashable, now: float) -> bytes | None:
        entry = self._entries.get(request)
        if entry is None:
            return None
        if entry[1] < now:
            del self._entries[request]
            return None
        self.hits += 1
        return entry[0]

    def put(self, request: Hashable, response: bytes, now: float) -> None:
        entries = self._entries
        entries[request] = (response, now + self.ttl)
        if len(entries) > self.max_entries:
            entries.popitem(last=False)

    def sweep(self, now: float) -> int:
        """Drop expired entries (insertion order = expiry order); returns how many went."""
        entries = self._entries
        removed = 0
        while entries:
            key, (_, expires) = next(iter(entries.items()))
            if expires >= now:
                break
            entries.popitem(last=False)
            removed += 1
        return removed
