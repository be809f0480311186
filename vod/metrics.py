"""Prometheus metrics of the VOD area: bytes served (counted where they are sent) and active viewers.

Active viewers are read from the store at scrape time, so every web process
reports the same truth without sharing memory. The metrics live in their own
registry, exposed by the web app at ``/vod/metrics``.
"""
from __future__ import annotations

from typing import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from wangnet.store import Store

REGISTRY = CollectorRegistry(auto_describe=True)

BYTES_SERVED = Counter(
    "wangnet_vod_bytes_served",
    "Bytes of playlists and segments sent to viewers.",
    ["site", "rendition"],
    registry=REGISTRY,
)
REQUESTS = Counter(
    "wangnet_vod_media_requests",
    "Playlist and segment requests by outcome.",
    ["kind", "status"],
    registry=REGISTRY,
)


class ActiveViewers(Collector):
    """``wangnet_vod_active_viewers{site}`` from the viewing sessions heard from recently."""

    def __init__(self) -> None:
        self.store_of: Callable[[], Store | None] = lambda: None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from vod.stats import active_viewers

        family = GaugeMetricFamily("wangnet_vod_active_viewers", "Viewers whose player reported in the last 30 s.",
                                   labels=["site"])
        store = self.store_of()
        if store is not None:
            with store.session() as s:
                for site, n in sorted(active_viewers(s).items(), key=lambda kv: kv[0] or ""):
                    family.add_metric([site or "off-network"], n)
        yield family


ACTIVE_VIEWERS = ActiveViewers()
REGISTRY.register(ACTIVE_VIEWERS)


def bind_store(store: Store) -> None:
    """Which store the active-viewers gauge reads (the process's one store)."""
    ACTIVE_VIEWERS.store_of = lambda: store
