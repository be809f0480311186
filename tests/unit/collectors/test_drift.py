import pytest

from collectors.drift import Neighbour, compare
from topology import load_inventory
from wangnet.config import PROJECT_ROOT

SMALL = PROJECT_ROOT / "tests" / "fixtures" / "inventory" / "valid.yaml"


@pytest.fixture(scope="module")
def inv():
    return load_inventory(SMALL)


def healthy():
    return {
        "city-core-1": [Neighbour("Gi1-1", "dalad-rt", "GE1-0-1")],
        "dalad-rt": [Neighbour("GE1-0-1", "city-core-1", "Gi1-1"), Neighbour("GE1-0-2", "shulinzhao-rt", "GE1-0-1")],
        "shulinzhao-rt": [Neighbour("GE1-0-1", "dalad-rt", "GE1-0-2")],
    }


def test_matching_lldp_confirms_every_link(inv):
    report = compare(inv, healthy())
    assert report.confirmed == ("city-core-1--dalad-rt", "dalad-rt--shulinzhao-rt") and report.items == ()


def test_a_removed_link_is_named_missing(inv):
    lldp = healthy()
    lldp["dalad-rt"] = lldp["dalad-rt"][:1]
    lldp["shulinzhao-rt"] = []
    (item,) = compare(inv, lldp).items
    assert (item.kind, item.link) == ("missing", "dalad-rt--shulinzhao-rt")


def test_wrong_port_is_miscabled(inv):
    lldp = healthy()
    lldp["shulinzhao-rt"] = [Neighbour("GE1-0-9", "dalad-rt", "GE1-0-2")]
    (item,) = compare(inv, lldp).items
    assert item.kind == "miscabled" and "shulinzhao-rt sees it on GE1-0-9" in item.detail


def test_unplanned_adjacency_is_unexpected(inv):
    lldp = healthy()
    lldp["city-core-1"].append(Neighbour("Gi1-9", "shulinzhao-rt", "eth9"))
    items = compare(inv, lldp).items
    assert [i.kind for i in items] == ["unexpected"]
    assert "city-core-1 Gi1-9 ↔ shulinzhao-rt eth9" in items[0].detail


def test_silent_devices_are_not_judged(inv):
    lldp = healthy()
    del lldp["shulinzhao-rt"]
    report = compare(inv, lldp)
    assert report.unjudged == ("dalad-rt--shulinzhao-rt",) and report.items == ()
