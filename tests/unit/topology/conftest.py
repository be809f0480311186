"""Shared fixtures: the shipped sample inventory, loaded once."""
from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from topology.graph import build_graph
from topology.loader import load_inventory
from topology.schema import Inventory

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def sample() -> Inventory:
    return load_inventory(ROOT / "inventory.yaml")


@pytest.fixture(scope="session")
def graph(sample: Inventory) -> nx.MultiGraph:
    return build_graph(sample)
