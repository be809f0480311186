"""Root-cause correlation through the graph: one cause per failure, not one alarm per silent box.

From the NOC's point of view (the city core routers) a device that stops
answering may be down itself, or merely unreachable because something between
it and the core failed. The graph decides. Starting at the answering core
routers we walk answering devices over links not reported down; that is what
we can see. Every silent device lies in a connected group beyond that frontier,
and the group is explained by what stands at its edge: a link an answering
neighbour reports down (the devices behind are "unreachable behind link X"), or
a silent device whose link to a seen neighbour is still up (that device is
"down" and the rest are behind it). A down link with both ends seen costs
redundancy, not reachability: a warning with nothing cut off.

Pure functions over the graph from ``topology.graph.build_graph``.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import networkx as nx

UP, DOWN, UNREACHABLE = "up", "down", "unreachable"


@dataclass(frozen=True)
class RootCause:
    """What failed, and what it cuts off from the NOC."""

    kind: str  # "link", "device" or "service"
    ids: tuple[str, ...]  # several when only their joint failure explains the cut (both uplinks of a dual-homed site)
    cut_off_devices: tuple[str, ...] = ()
    cut_off_sites: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Stable identity for alert deduplication."""
        return f"{self.kind}:{'+'.join(self.ids)}"

    @property
    def severity(self) -> str:
        return "warning" if self.kind == "link" and not self.cut_off_devices else "critical"


@dataclass(frozen=True)
class DeviceState:
    state: str  # up | down | unreachable
    behind: str | None = None  # RootCause.key for unreachable (and down) devices


@dataclass(frozen=True)
class Assessment:
    devices: Mapping[str, DeviceState]
    links: Mapping[str, str]  # link id -> up | down | unknown
    causes: tuple[RootCause, ...] = field(default_factory=tuple)

    def cause(self, key: str) -> RootCause:
        for cause in self.causes:
            if cause.key == key:
                return cause
        raise KeyError(key)


def links_reported_down(g: nx.MultiGraph, oper_up: Mapping[tuple[str, str], bool]) -> frozenset[str]:
    """Links with an end whose interface an answering device reports operationally down.

    ``oper_up`` maps (device, ifName) → ifOperStatus is up, for the devices that answered.
    """
    down = set()
    for _, _, link_id, data in g.edges(keys=True, data=True):
        for device, ifname in ((data["a"], data["a_interface"]), (data["b"], data["b_interface"])):
            if oper_up.get((device, ifname)) is False:
                down.add(link_id)
    return frozenset(down)


def _passable(data: Mapping[str, object], down_links: frozenset[str]) -> bool:
    return data["id"] not in down_links


def _seen(g: nx.MultiGraph, answering: frozenset[str], down_links: frozenset[str]) -> set[str]:
    start = [c for c in sorted(g.graph["core"]) if c in answering]
    seen = set(start)
    queue = deque(start)
    while queue:
        node = queue.popleft()
        for _, nbr, data in g.edges(node, data=True):
            if nbr not in seen and nbr in answering and _passable(data, down_links):
                seen.add(nbr)
                queue.append(nbr)
    return seen


def _silent_groups(g: nx.MultiGraph, silent: set[str], down_links: frozenset[str]) -> list[set[str]]:
    groups: list[set[str]] = []
    left = set(silent)
    while left:
        first = min(left)
        group = {first}
        queue = deque([first])
        while queue:
            node = queue.popleft()
            for _, nbr, data in g.edges(node, data=True):
                if nbr in left and nbr not in group and _passable(data, down_links):
                    group.add(nbr)
                    queue.append(nbr)
        left -= group
        groups.append(group)
    return groups


def _whole_sites(g: nx.MultiGraph, affected: set[str]) -> tuple[str, ...]:
    members: dict[str, list[str]] = {}
    for node, site in g.nodes(data="site"):
        members.setdefault(site, []).append(node)
    return tuple(sorted(site for site, devs in members.items() if all(d in affected for d in devs)))


def correlate(g: nx.MultiGraph, answering: Iterable[str], down_links: Iterable[str]) -> Assessment:
    """Explain the silent devices and down links by as few root causes as the graph allows."""
    answering_set = frozenset(answering)
    down = frozenset(down_links)
    seen = _seen(g, answering_set, down)
    silent = set(g.nodes) - seen
    devices: dict[str, DeviceState] = {d: DeviceState(UP) for d in seen}
    causes: list[RootCause] = []

    for group in _silent_groups(g, silent, down):
        edge_links = sorted(
            {data["id"] for node in group for _, nbr, data in g.edges(node, data=True) if nbr in seen and data["id"] in down}
        )
        edge_devices = sorted(
            {
                node
                for node in group
                for _, nbr, data in g.edges(node, data=True)
                if nbr in seen and _passable(data, down)
            }
            | (group & g.graph["core"])  # the NOC's own routers explain themselves
        )
        affected = set(group)
        if edge_devices:
            cause = RootCause("device", tuple(edge_devices), tuple(sorted(group - set(edge_devices))), ())
            cause = RootCause(cause.kind, cause.ids, cause.cut_off_devices, _whole_sites(g, affected))
            for node in group:
                devices[node] = DeviceState(DOWN if node in edge_devices else UNREACHABLE, cause.key)
        else:
            cause = RootCause("link", tuple(edge_links), tuple(sorted(group)), _whole_sites(g, affected))
            for node in group:
                devices[node] = DeviceState(UNREACHABLE, cause.key)
        causes.append(cause)

    for link_id in sorted(down):
        a, b = g.graph["link_ends"][link_id]
        if a in seen and b in seen:
            causes.append(RootCause("link", (link_id,)))

    links: dict[str, str] = {}
    for _, _, link_id, data in g.edges(keys=True, data=True):
        if link_id in down:
            links[link_id] = "down"
        elif data["a"] in seen and data["b"] in seen:
            links[link_id] = "up"
        else:
            links[link_id] = "unknown"
    causes.sort(key=lambda c: c.key)
    return Assessment(devices, links, tuple(causes))


def predict(g: nx.MultiGraph, answering: Iterable[str], down_links: Iterable[str]) -> Assessment:
    """What the next poll will find once ``down_links`` are down, before it has run.

    A linkDown trap says at once which link failed; the devices behind it will
    only prove silent after their poll timeouts. The graph already knows which
    devices lose their path to the core, so they are taken as silent now and
    the assessment names the link as the cause seconds before the poll can.
    """
    down = frozenset(down_links)
    still_reachable = _seen(g, frozenset(g.nodes), down)
    return correlate(g, frozenset(answering) & still_reachable, down)

