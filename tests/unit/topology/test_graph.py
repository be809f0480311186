"""build_graph: the attributes the map, the collectors and analysis read."""
from __future__ import annotations

import networkx as nx


def test_nodes_and_edges(graph: nx.MultiGraph) -> None:
    assert graph.number_of_nodes() == 69
    assert graph.number_of_edges() == 71
    assert graph.graph["core"] == frozenset({"city-core-1", "city-core-2"})
    node = graph.nodes["dalad-rt"]
    assert (node["site"], node["tier"], node["role"]) == ("dalad", "banner", "router")
    assert node["mgmt"].startswith("10.255.1.")


def test_edges_are_keyed_by_link_id(graph: nx.MultiGraph) -> None:
    edge = graph.edges["dalad-rt", "zhandanzhao-rt", "dalad-rt--zhandanzhao-rt"]
    assert edge["id"] == "dalad-rt--zhandanzhao-rt"
    assert (edge["a"], edge["b"]) == ("dalad-rt", "zhandanzhao-rt")
    assert edge["speed_mbps"] == 2 and edge["medium"] == "e1"
    assert edge["a_interface"] and edge["b_interface"]
    assert graph.graph["link_ends"]["city-core-1--dalad-rt"] == ("city-core-1", "dalad-rt")
