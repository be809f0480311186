"""The network model: inventory schema and loader, graph, and analysis.

This package imports nothing else of wangnet, so collectors, the web app,
the lab and the benches can all share one model of the network.
"""
from topology.analysis import (
    Impact,
    NoPath,
    Path,
    Spof,
    SpofEntry,
    all_link_impacts,
    device_path,
    devices_of_site,
    impact_of_device,
    impact_of_link,
    path_between,
    path_capacity,
    single_points_of_failure,
    site_path,
)
from topology.graph import build_graph
from topology.loader import InventoryError, Problem, load_inventory, load_inventory_text
from topology.schema import Credential, Device, Endpoint, Inventory, Link, Site

__all__ = [
    "Credential", "Device", "Endpoint", "Impact", "Inventory", "InventoryError", "Link", "NoPath", "Path",
    "Problem", "Site", "Spof", "SpofEntry", "all_link_impacts", "build_graph", "device_path", "devices_of_site", "path_between",
    "impact_of_device", "impact_of_link", "load_inventory", "load_inventory_text", "path_capacity",
    "single_points_of_failure", "site_path",
]
