"""The inventory as a networkx graph: devices are nodes, links are keyed edges.

A MultiGraph because two devices may be joined by more than one link (a
bundle, or a backup E1 beside the fibre), and each link must keep its own id.
"""
from __future__ import annotations

import networkx as nx

from topology.schema import Inventory


def build_graph(inv: Inventory) -> nx.MultiGraph:
    """Graph of the network, carrying what analysis and the map need without the inventory.

    Graph attributes: ``core`` (frozenset of the city core-router ids: the NOC
    sits there), ``sites`` (site id -> tier, parent, name, name_en) and
    ``link_ends`` (link id -> (a device, b device)) for direct lookups.
    """
    g = nx.MultiGraph()
    sites = {s.id: {"tier": s.tier, "parent": s.parent, "name": s.name, "name_en": s.name_en} for s in inv.sites}
    for dev in inv.devices:
        g.add_node(
            dev.id,
            site=dev.site,
            tier=sites[dev.site]["tier"],
            role=dev.role,
            platform=dev.platform,
            model=dev.model,
            mgmt=str(dev.mgmt),
        )
    link_ends: dict[str, tuple[str, str]] = {}
    for link in inv.links:
        g.add_edge(
            link.a.device,
            link.b.device,
            key=link.id,
            id=link.id,
            a=link.a.device,
            b=link.b.device,
            a_interface=link.a.interface,
            b_interface=link.b.interface,
            speed_mbps=link.speed_mbps,
            medium=link.medium,
            subnet=str(link.subnet),
        )
        link_ends[link.id] = (link.a.device, link.b.device)
    g.graph["core"] = frozenset(
        d.id for d in inv.devices if d.role == "core-router" and sites[d.site]["tier"] == "city"
    )
    g.graph["sites"] = sites
    g.graph["link_ends"] = link_ends
    return g
