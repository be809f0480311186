"""What a failure cuts off, where the single points of failure are, and how traffic flows.

Everything is judged from the NOC's point of view: the city core routers
(``g.graph["core"]``). A device is *cut off* by a failure when it could reach
a core device before and cannot after; the alerting turns that into one alert
per root cause instead of one per silent device. Pure functions, frozen
results, sorted output.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import networkx as nx

if TYPE_CHECKING:
    from topology.schema import Inventory

TIER_ORDER = {"city": 0, "banner": 1, "township": 2}


@dataclass(frozen=True)
class Impact:
    """Sites and devices that lose the city core because of one failure."""

    cut_off_sites: tuple[str, ...] = ()
    cut_off_devices: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not self.cut_off_sites and not self.cut_off_devices


NO_IMPACT = Impact()


@dataclass(frozen=True)
class SpofEntry:
    """A link or device whose failure alone cuts something off."""

    id: str
    tier: str
    impact: Impact


@dataclass(frozen=True)
class Spof:
    """Single points of failure: bridge links and articulation devices, sorted by tier then id."""

    links: tuple[SpofEntry, ...]
    devices: tuple[SpofEntry, ...]

    def by_tier(self) -> dict[str, dict[str, tuple[SpofEntry, ...]]]:
        """``{tier: {"links": (...), "devices": (...)}}`` for the tiers that have any."""
        out: dict[str, dict[str, tuple[SpofEntry, ...]]] = {}
        for kind, entries in (("links", self.links), ("devices", self.devices)):
            for entry in entries:
                tier = out.setdefault(entry.tier, {"links": (), "devices": ()})
                tier[kind] = tier[kind] + (entry,)
        return out


@dataclass(frozen=True)
class Path:
    """A route through the network; ``bottleneck_mbps`` is None for a zero-hop path."""

    devices: tuple[str, ...]
    links: tuple[str, ...]
    bottleneck_mbps: int | None
    hops: int


class NoPath(Exception):
    """The two ends are in different pieces of the network."""


# --------------------------------------------------------------------- impact

def link_ends(g: nx.MultiGraph, link_id: str) -> tuple[str, str]:
    """The two devices of a link; KeyError naming the link when it does not exist."""
    ends = g.graph.get("link_ends", {}).get(link_id)
    if ends is not None:
        return ends  # type: ignore[no-any-return]
    for u, v, key in g.edges(keys=True):
        if key == link_id:
            return u, v
    raise KeyError(f'unknown link "{link_id}"')


def _reachable(g: nx.MultiGraph, failed_device: str | None = None, failed_link: str | None = None) -> set[str]:
    """Devices connected to a surviving core device, skipping one failed device or link."""
    start = [c for c in g.graph.get("core", ()) if c in g and c != failed_device]
    seen = set(start)
    todo = list(start)
    while todo:
        u = todo.pop()
        for v, keys in g.adj[u].items():
            if v in seen or v == failed_device:
                continue
            if failed_link is not None and len(keys) == 1 and failed_link in keys:
                continue
            seen.add(v)
            todo.append(v)
    return seen


def _site_members(g: nx.MultiGraph) -> dict[str, list[str]]:
    members: dict[str, list[str]] = {}
    for node, site in g.nodes(data="site"):
        members.setdefault(site, []).append(node)
    return members


def _impact(cut: set[str], failed: set[str], members: dict[str, list[str]], site_of: Any) -> Impact:
    """Turn a set of cut-off devices into an Impact, adding sites left with no working device."""
    gone = cut | failed
    candidate_sites = {site_of[n] for n in gone}
    sites = sorted(s for s in candidate_sites if all(n in gone for n in members[s]))
    if not cut and not sites:
        return NO_IMPACT
    return Impact(tuple(sites), tuple(sorted(cut)))


def impact_of_link(g: nx.MultiGraph, link_id: str) -> Impact:
    """What the failure of one link cuts off from the city core."""
    link_ends(g, link_id)
    before = _reachable(g)
    after = _reachable(g, failed_link=link_id)
    return _impact(before - after, set(), _site_members(g), dict(g.nodes(data="site")))


def impact_of_device(g: nx.MultiGraph, device_id: str) -> Impact:
    """What the failure of one device cuts off; its own site counts if nothing there survives."""
    if device_id not in g:
        raise KeyError(f'unknown device "{device_id}"')
    before = _reachable(g)
    after = _reachable(g, failed_device=device_id)
    cut = before - after - {device_id}
    return _impact(cut, {device_id}, _site_members(g), dict(g.nodes(data="site")))


class _Dfs:
    """One depth-first search from a virtual root joined to every core device.

    With that root, a link is a *bridge* exactly when removing it separates
    some devices from all cores, and the devices it separates are the DFS
    subtree below it; likewise for articulation devices. So every single
    failure is answered from one O(V+E) walk instead of one walk per failure.
    """

    ROOT = object()

    def __init__(self, g: nx.MultiGraph) -> None:
        adj: dict[Any, list[tuple[Any, Any]]] = {
            n: [(v, k) for v, keys in g.adj[n].items() if v != n for k in keys] for n in g
        }
        cores = sorted(c for c in g.graph.get("core", ()) if c in g)
        adj[self.ROOT] = [(c, ("root", c)) for c in cores]
        for c in cores:
            adj[c].append((self.ROOT, ("root", c)))
        self.tin: dict[Any, int] = {self.ROOT: 0}
        self.size: dict[Any, int] = {self.ROOT: 1}
        self.order: list[Any] = []
        self.bridges: dict[str, Any] = {}      # link id -> child below it
        self.separated: dict[Any, list[Any]] = {}  # device -> children cut off with it
        self._walk(adj)

    def _walk(self, adj: dict[Any, list[tuple[Any, Any]]]) -> None:
        tin, low, size = self.tin, {self.ROOT: 0}, self.size
        stack: list[tuple[Any, Any, Iterator[tuple[Any, Any]]]] = [(self.ROOT, None, iter(adj[self.ROOT]))]
        while stack:
            u, via, it = stack[-1]
            for v, key in it:
                if key == via:
                    continue
                if v in tin:
                    low[u] = min(low[u], tin[v])
                    continue
                tin[v] = low[v] = len(self.order) + 1
                size[v] = 1
                self.order.append(v)
                stack.append((v, key, iter(adj[v])))
                break
            else:
                stack.pop()
                if not stack:
                    break
                p = stack[-1][0]
                low[p] = min(low[p], low[u])
                size[p] += size[u]
                if p is self.ROOT:
                    continue
                if low[u] > tin[p]:
                    self.bridges[via] = u
                if low[u] >= tin[p]:
                    self.separated.setdefault(p, []).append(u)

    def subtree(self, node: Any) -> list[str]:
        start = self.tin[node] - 1
        return self.order[start:start + self.size[node]]  # type: ignore[no-any-return]


def all_link_impacts(g: nx.MultiGraph) -> dict[str, Impact]:
    """Impact of every single-link failure, keyed by link id; non-bridges cut off nothing."""
    dfs = _Dfs(g)
    members = _site_members(g)
    site_of = dict(g.nodes(data="site"))
    result = {key: NO_IMPACT for _, _, key in g.edges(keys=True)}
    for link_id, child in dfs.bridges.items():
        result[link_id] = _impact(set(dfs.subtree(child)), set(), members, site_of)
    return dict(sorted(result.items()))


def _link_tier(g: nx.MultiGraph, link_id: str) -> str:
    """A link belongs to the lower tier it serves (a banner uplink is a banner link)."""
    u, v = link_ends(g, link_id)
    return max((g.nodes[u]["tier"], g.nodes[v]["tier"]), key=lambda t: TIER_ORDER.get(t, 99))  # type: ignore[no-any-return]


def _by_tier(entries: Iterable[SpofEntry]) -> tuple[SpofEntry, ...]:
    return tuple(sorted(entries, key=lambda e: (TIER_ORDER.get(e.tier, 99), e.id)))


def single_points_of_failure(g: nx.MultiGraph) -> Spof:
    """Links and devices whose failure alone cuts other devices off from the city core."""
    dfs = _Dfs(g)
    members = _site_members(g)
    site_of = dict(g.nodes(data="site"))
    links = [
        SpofEntry(link_id, _link_tier(g, link_id), _impact(set(dfs.subtree(child)), set(), members, site_of))
        for link_id, child in dfs.bridges.items()
    ]
    devices = []
    for device, children in dfs.separated.items():
        cut = {n for child in children for n in dfs.subtree(child)}
        devices.append(SpofEntry(device, g.nodes[device]["tier"], _impact(cut, {device}, members, site_of)))
    return Spof(_by_tier(links), _by_tier(devices))


# ---------------------------------------------------------------------- paths

def _bfs(g: nx.MultiGraph, starts: Iterable[str]) -> dict[str, int]:
    dist = {s: 0 for s in starts}
    queue = deque(dist)
    while queue:
        u = queue.popleft()
        for v in g.adj[u]:
            if v not in dist:
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


def path_between(g: nx.MultiGraph, sources: list[str], targets: list[str]) -> Path:
    """Best route from any of ``sources`` to any of ``targets`` (sites have several devices).

    Fewest hops; among those, the widest bottleneck; then the smallest ids, for stable output.
    """
    for device in (*sources, *targets):
        if device not in g:
            raise KeyError(f'unknown device "{device}"')
    dist = _bfs(g, sources)
    reached = [t for t in targets if t in dist]
    if not reached:
        raise NoPath(f"no path from {', '.join(sources)} to {', '.join(targets)}: the network is split")
    hops = min(dist[t] for t in reached)
    back = _bfs(g, [t for t in reached if dist[t] == hops])
    best: dict[str, float] = {s: float("inf") for s in sources}
    pred: dict[str, tuple[str, str]] = {}
    layer = sorted(s for s in sources if back.get(s) == hops)
    for depth in range(1, hops + 1):
        nxt: set[str] = set()
        for u in layer:
            for v, keys in sorted(g.adj[u].items()):
                if dist.get(v) != depth or back.get(v) != hops - depth:
                    continue
                for key, attrs in sorted(keys.items()):
                    width = min(best[u], attrs["speed_mbps"])
                    if width > best.get(v, -1.0):
                        best[v] = width
                        pred[v] = (u, key)
                nxt.add(v)
        layer = sorted(nxt)
    end = max(sorted(t for t in reached if dist[t] == hops), key=lambda t: best[t])
    devices, links = [end], []
    while devices[-1] in pred:
        u, key = pred[devices[-1]]
        devices.append(u)
        links.append(key)
    devices.reverse()
    links.reverse()
    bottleneck = int(best[end]) if links else None
    return Path(tuple(devices), tuple(links), bottleneck, len(links))


def device_path(g: nx.MultiGraph, a: str, b: str) -> Path:
    """Route between two devices: fewest hops, ties broken toward faster links."""
    return path_between(g, [a], [b])


def devices_of_site(source: "Inventory | nx.MultiGraph", site_id: str) -> list[str]:
    """Device ids at a site, from an inventory or from a graph built by ``build_graph``."""
    if isinstance(source, nx.Graph):
        found = sorted(n for n, s in source.nodes(data="site") if s == site_id)
    else:
        found = [d.id for d in source.devices_at(site_id)]
    if not found:
        raise KeyError(f'unknown site "{site_id}" (or it has no device)')
    return found


def site_path(g: nx.MultiGraph, inv_or_graph: "Inventory | nx.MultiGraph", site_a: str, site_b: str) -> Path:
    """Route between two sites, from whichever device of A is nearest to whichever of B."""
    return path_between(g, devices_of_site(inv_or_graph, site_a), devices_of_site(inv_or_graph, site_b))


def path_capacity(g: nx.MultiGraph, links: Iterable[str]) -> int:
    """The most a path can carry: the speed of its slowest link, in Mbit/s."""
    speeds = []
    for link_id in links:
        u, v = link_ends(g, link_id)
        speeds.append(int(g.edges[u, v, link_id]["speed_mbps"]))
    if not speeds:
        raise ValueError("a path with no links has no capacity")
    return min(speeds)
