"""Impact of failures, single points of failure and paths on the sample network."""
from __future__ import annotations

import networkx as nx
import pytest

from topology.analysis import (
    Impact,
    NoPath,
    all_link_impacts,
    device_path,
    impact_of_device,
    impact_of_link,
    path_capacity,
    single_points_of_failure,
    site_path,
)
from topology.schema import Inventory

DALAD_TOWNSHIPS = ["bainijing", "engebei", "fengshuiliang", "jigesitai", "shulinzhao", "wangaizhao",
                   "zhandanzhao", "zhaojun", "zhonghexi"]


def _naive(g: nx.MultiGraph, link_id: str) -> Impact:
    """Reference: remove the link from a copy and see what no longer reaches a core."""
    def reach(graph: nx.MultiGraph) -> set[str]:
        seen: set[str] = set()
        for core in graph.graph["core"]:
            seen |= nx.node_connected_component(graph, core)
        return seen

    before = reach(g)
    h = g.copy()
    u, v = g.graph["link_ends"][link_id]
    h.remove_edge(u, v, key=link_id)
    cut = before - reach(h)
    members: dict[str, set[str]] = {}
    for node, site in g.nodes(data="site"):
        members.setdefault(site, set()).add(node)
    sites = sorted(s for s, devs in members.items() if devs <= cut)
    return Impact(tuple(sites), tuple(sorted(cut)))


def test_dalad_uplink_cuts_off_dalad_and_its_nine_townships(graph: nx.MultiGraph) -> None:
    impact = impact_of_link(graph, "city-core-1--dalad-rt")
    assert impact.cut_off_sites == tuple(sorted(["dalad", *DALAD_TOWNSHIPS]))
    assert impact.cut_off_devices == tuple(sorted(["dalad-rt", "dalad-sw", *(f"{t}-rt" for t in DALAD_TOWNSHIPS)]))


def test_dual_homed_banner_survives_one_uplink(graph: nx.MultiGraph) -> None:
    assert impact_of_link(graph, "city-core-1--dongsheng-rt") == Impact((), ())
    assert impact_of_link(graph, "city-core-2--ejin-horo-rt") == Impact((), ())


def test_township_link_cuts_off_that_township(graph: nx.MultiGraph) -> None:
    assert impact_of_link(graph, "dalad-rt--zhandanzhao-rt") == Impact(("zhandanzhao",), ("zhandanzhao-rt",))


def test_banner_switch_link_cuts_the_switch_but_not_the_site(graph: nx.MultiGraph) -> None:
    assert impact_of_link(graph, "dalad-rt--dalad-sw") == Impact((), ("dalad-sw",))


def test_city_core_1_failure(graph: nx.MultiGraph) -> None:
    impact = impact_of_device(graph, "city-core-1")
    assert "city-core-1" not in impact.cut_off_devices
    assert "city" not in impact.cut_off_sites
    banners = {s for s in impact.cut_off_sites if graph.graph["sites"][s]["tier"] == "banner"}
    assert banners == {"dalad", "otog-front", "hanggin"}
    assert "dongsheng" not in impact.cut_off_sites and "ejin-horo" not in impact.cut_off_sites
    assert len(impact.cut_off_sites) == 3 + 9 + 4 + 6


def test_failed_device_counts_its_own_site(graph: nx.MultiGraph) -> None:
    assert impact_of_device(graph, "sulide-rt") == Impact(("sulide",), ())
    impact = impact_of_device(graph, "dalad-rt")
    assert "dalad" in impact.cut_off_sites and "dalad-rt" not in impact.cut_off_devices
    assert impact_of_device(graph, "city-sw") == Impact((), ())


def test_unknown_ids(graph: nx.MultiGraph) -> None:
    with pytest.raises(KeyError, match='unknown link "nope"'):
        impact_of_link(graph, "nope")
    with pytest.raises(KeyError, match='unknown device "nope"'):
        impact_of_device(graph, "nope")


def test_all_link_impacts_equals_naive_recomputation(graph: nx.MultiGraph) -> None:
    fast = all_link_impacts(graph)
    assert set(fast) == set(graph.graph["link_ends"])
    for link_id in fast:
        assert fast[link_id] == _naive(graph, link_id), link_id
        assert fast[link_id] == impact_of_link(graph, link_id), link_id


def test_parallel_links_are_not_bridges() -> None:
    g = nx.MultiGraph(core=frozenset({"c"}))
    g.add_node("c", site="s0", tier="city")
    g.add_node("b", site="s1", tier="banner")
    g.add_edge("c", "b", key="fibre", speed_mbps=1000)
    g.add_edge("c", "b", key="e1", speed_mbps=2)
    assert all_link_impacts(g) == {"e1": Impact(), "fibre": Impact()}
    assert impact_of_link(g, "fibre") == Impact()
    g.remove_edge("c", "b", key="e1")
    assert all_link_impacts(g) == {"fibre": Impact(("s1",), ("b",))}


def test_single_points_of_failure(graph: nx.MultiGraph) -> None:
    spof = single_points_of_failure(graph)
    link_ids = {e.id for e in spof.links}
    assert "city-core-1--dalad-rt" in link_ids
    assert "city-core-1--dongsheng-rt" not in link_ids
    assert "city-core-1--city-core-2" not in link_ids
    assert len(spof.links) == 71 - 3 - 4  # everything but the city triangle and the dual-homed uplinks
    assert [e.id for e in spof.devices] == [
        "city-core-1", "city-core-2", "dalad-rt", "dongsheng-rt", "ejin-horo-rt", "hanggin-rt", "jungar-rt",
        "otog-front-rt", "otog-rt", "uxin-rt",
    ]
    for entry in spof.devices:
        assert entry.impact == impact_of_device(graph, entry.id)
    tiers = [e.tier for e in spof.links]
    assert tiers == sorted(tiers, key=["city", "banner", "township"].index)
    by_tier = spof.by_tier()
    assert [e.id for e in by_tier["city"]["devices"]] == ["city-core-1", "city-core-2"]
    assert len(by_tier["township"]["links"]) == 50


def test_device_path_prefers_fewest_hops(graph: nx.MultiGraph) -> None:
    path = device_path(graph, "shulinzhao-rt", "sulide-rt")
    assert path.devices == ("shulinzhao-rt", "dalad-rt", "city-core-1", "city-core-2", "uxin-rt", "sulide-rt")
    assert path.hops == 5 == len(path.links)
    assert path.bottleneck_mbps == 2


def test_tie_broken_toward_faster_links() -> None:
    g = nx.MultiGraph()
    for a, b, key, speed in [("x", "slow", "x-slow", 10), ("slow", "y", "slow-y", 1000),
                             ("x", "fast", "x-fast", 100), ("fast", "y", "fast-y", 100)]:
        g.add_edge(a, b, key=key, speed_mbps=speed)
    path = device_path(g, "x", "y")
    assert path.devices == ("x", "fast", "y") and path.bottleneck_mbps == 100


def test_site_path(graph: nx.MultiGraph, sample: Inventory) -> None:
    path = site_path(graph, sample, "city", "zhandanzhao")
    assert path.devices == ("city-core-1", "dalad-rt", "zhandanzhao-rt")
    assert path.bottleneck_mbps == 2 and path.hops == 2
    assert site_path(graph, graph, "city", "zhandanzhao") == path
    assert site_path(graph, sample, "dongsheng", "dongsheng").hops == 0


def test_no_path() -> None:
    g = nx.MultiGraph()
    g.add_nodes_from(["a", "b"])
    with pytest.raises(NoPath):
        device_path(g, "a", "b")
    with pytest.raises(KeyError):
        device_path(g, "a", "zz")


def test_path_capacity(graph: nx.MultiGraph) -> None:
    assert path_capacity(graph, ["city-core-1--dalad-rt", "dalad-rt--zhandanzhao-rt"]) == 2
    assert path_capacity(graph, ["city-core-1--dalad-rt"]) == 1000
    with pytest.raises(ValueError):
        path_capacity(graph, [])
