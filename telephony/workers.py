"""Several SIP worker processes on one port: what they tell each other, and how.

``wangnet sip --workers N`` runs N processes whose UDP sockets share one port
with ``SO_REUSEPORT``; the kernel spreads datagrams by source address, so all
of one phone's REGISTERs (and their retransmissions) reach the same worker,
whose transaction cache and binding table are therefore complete for it.
Registrations are the load worth spreading; everything else stays where its
state is:

* the **primary** (worker 0) runs the proxy (INVITE transactions, CANCEL,
  responses), TCP, the write-behind to the store and the metrics;
* a **secondary** handles REGISTERs itself and forwards every other datagram,
  unparsed, to the primary, which answers from the shared port;
* after each batch of datagrams a secondary sends the primary the bindings and
  activity of the phones it changed, so a phone registered through any worker
  can be called at once, and the primary alone writes them to the store;
  once a second it sends its counters for the metrics.

The link is one ``AF_UNIX`` datagram socket pair made before the workers fork
(private to this process family, so pickle is safe on it). Pure encoding
here; the sockets are the service's.
"""
from __future__ import annotations

import pickle
from typing import Any

from telephony.location import BindingRecord, PhoneActivity

#: bindings of at most this many phones per link datagram (a datagram must stay well under the socket buffer)
CHUNK = 64

FORWARD, BINDINGS, STATS = "m", "b", "s"


def forward(data: bytes, addr: tuple[str, int], now: float) -> bytes:
    """A datagram for the primary to handle as if it had received it at ``now``."""
    return pickle.dumps((FORWARD, data, addr, now), protocol=pickle.HIGHEST_PROTOCOL)


def bindings(
    changed: dict[str, list[BindingRecord]], activity: dict[str, PhoneActivity]
) -> list[bytes]:
    """The bindings of the phones changed since the last sync, and their activity, in link datagrams."""
    out: list[bytes] = []
    extensions = sorted(set(changed) | set(activity))
    for start in range(0, len(extensions), CHUNK):
        part = extensions[start : start + CHUNK]
        out.append(pickle.dumps(
            (BINDINGS, {e: changed[e] for e in part if e in changed}, {e: activity[e] for e in part if e in activity}),
            protocol=pickle.HIGHEST_PROTOCOL,
        ))
    return out


def stats(worker: int, totals: dict[str, int]) -> bytes:
    """A secondary's running counters (the primary adds them to its own in the metrics)."""
    return pickle.dumps((STATS, worker, totals), protocol=pickle.HIGHEST_PROTOCOL)


def decode(datagram: bytes) -> tuple[Any, ...]:
    return pickle.loads(datagram)


def merge_activity(into: dict[str, PhoneActivity], extension: str, act: PhoneActivity) -> None:
    """Fold a secondary's activity of one phone into the primary's pending activity."""
    mine = into.get(extension)
    if mine is None:
        into[extension] = act
        return
    if act.last_registered_at is not None and (mine.last_registered_at or 0) <= act.last_registered_at:
        mine.last_registered_at, mine.last_user_agent = act.last_registered_at, act.last_user_agent
    mine.new_failures += act.new_failures
    if act.last_failure_at is not None and (mine.last_failure_at or 0) <= act.last_failure_at:
        mine.last_failure_at = act.last_failure_at
