"""Bench: every single-link failure at once (``all_link_impacts``) vs recomputing per link.

The reference is the obvious way: for each link, copy the graph, remove the
edge, and find what is still connected to a core device. Run with
``.venv/bin/python bench/topology_impact.py``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from topology.analysis import all_link_impacts  # noqa: E402
from topology.graph import build_graph  # noqa: E402
from topology.loader import load_inventory  # noqa: E402


def naive_all_link_impacts(g: nx.MultiGraph, limit: int | None = None) -> dict[str, frozenset[str]]:
    """Cut-off devices per link (the first ``limit`` links), the slow obvious way."""
    def reach(graph: nx.MultiGraph) -> set[str]:
        seen: set[str] = set()
        for core in graph.graph["core"]:
            if core not in seen:
                seen |= nx.node_connected_component(graph, core)
        return seen

    before = reach(g)
    result = {}
    for u, v, key in list(g.edges(keys=True))[:limit]:
        h = g.copy()
        h.remove_edge(u, v, key=key)
        result[key] = frozenset(before - reach(h))
    return result


def synthetic(banners: int, townships: int) -> nx.MultiGraph:
    """A 王 scaled up: two cores, banners alternately single/dual-homed, townships spread over banners."""
    g = nx.MultiGraph(core=frozenset({"core-1", "core-2"}))
    g.add_node("core-1", site="city", tier="city")
    g.add_node("core-2", site="city", tier="city")
    g.add_edge("core-1", "core-2", key="core-1--core-2", speed_mbps=1000)
    for b in range(banners):
        rt, sw = f"b{b}-rt", f"b{b}-sw"
        g.add_node(rt, site=f"b{b}", tier="banner")
        g.add_node(sw, site=f"b{b}", tier="banner")
        g.add_edge("core-1" if b % 2 else "core-2", rt, key=f"up1-{b}", speed_mbps=1000)
        if b % 4 == 0:
            g.add_edge("core-1", rt, key=f"up2-{b}", speed_mbps=1000)
        g.add_edge(rt, sw, key=f"sw-{b}", speed_mbps=1000)
    for t in range(townships):
        g.add_node(f"t{t}-rt", site=f"t{t}", tier="township")
        g.add_edge(f"b{t % banners}-rt", f"t{t}-rt", key=f"t-{t}", speed_mbps=100)
    return g


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def report(label: str, g: nx.MultiGraph, repeat: int, naive_links: int | None = None) -> None:
    """Time both ways; on big graphs the naive way runs on ``naive_links`` links and is scaled up."""
    edges = g.number_of_edges()
    fast = all_link_impacts(g)
    slow = naive_all_link_impacts(g, naive_links)
    assert all(frozenset(fast[k].cut_off_devices) == v for k, v in slow.items()), "results differ"
    t_fast = best_of(lambda: all_link_impacts(g), repeat)
    measured = len(slow)
    t_slow = best_of(lambda: naive_all_link_impacts(g, naive_links), 1 if naive_links else repeat) * edges / measured
    note = "" if measured == edges else f" (extrapolated from {measured} links)"
    print(f"all_link_impacts {label}({edges} links): {t_fast * 1e3:.1f} ms"
          f" | naive per-link recompute: {t_slow * 1e3:.1f} ms{note} | {t_slow / t_fast:.1f}x")


def main() -> None:
    sample = build_graph(load_inventory(ROOT / "inventory.yaml"))
    report("sample", sample, repeat=20)
    report("synthetic-1000-townships", synthetic(banners=40, townships=1000), repeat=3, naive_links=100)


if __name__ == "__main__":
    main()
