"""Which site a viewer sits at, and how much of its link one viewer may use.

A viewer's address is looked up in the inventory's site LANs (longest prefix
wins). The budget is a quarter of the slowest link between the city and the
site: a township behind a 2 Mbit/s E1 gets 0.5 Mbit/s per viewer, so the
240p rung only, leaving room for a conference and a few other viewers;
banners on 100 Mbit/s get everything.
"""
from __future__ import annotations

import ipaddress
from functools import lru_cache

from topology import Inventory
from topology.analysis import NoPath, site_path
from topology.graph import build_graph

VIEWER_SHARE = 0.25


class SiteLocator:
    """Address → site, site → per-viewer bit rate budget; built once per inventory."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._lans = sorted(((s.lan, s.id) for s in inventory.sites), key=lambda x: -x[0].prefixlen)
        self._graph = build_graph(inventory)
        self._city = next((s.id for s in inventory.sites if s.tier == "city"), None)
        self.budget_bps = lru_cache(maxsize=256)(self._budget_bps)  # type: ignore[method-assign]

    def site_for(self, address: str | None) -> str | None:
        """The id of the site whose LAN holds ``address``; None off-network (127.0.0.1, VPN, bad input)."""
        try:
            ip = ipaddress.ip_address((address or "").strip())
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        for lan, site_id in self._lans:
            if ip.version == 4 and ip in lan:
                return site_id
        return None

    def _budget_bps(self, site_id: str | None) -> int | None:
        """Bit/s one viewer at ``site_id`` may use; None means no cap (city, off-network, unknown)."""
        if site_id is None or self._city is None or site_id == self._city:
            return None
        try:
            path = site_path(self._graph, self.inventory, self._city, site_id)
        except (KeyError, NoPath):
            return None
        if path.bottleneck_mbps is None:
            return None
        return int(path.bottleneck_mbps * 1_000_000 * VIEWER_SHARE)

    def banner_of(self, site_id: str) -> str | None:
        """The banner a site belongs to (itself for a banner), None for the city."""
        site = self.inventory.site(site_id)
        if site.tier == "banner":
            return site.id
        if site.tier == "township":
            return site.parent
        return None
