import pytest

from collectors.status import AlertRow, DeviceRow, InterfaceRowView, changes, snapshot
from topology import load_inventory
from topology.analysis import impact_of_link
from topology.graph import build_graph
from wangnet.config import PROJECT_ROOT


@pytest.fixture(scope="module")
def inv():
    return load_inventory(PROJECT_ROOT / "inventory.yaml")


def all_up(inv):
    return [DeviceRow(d.id, "up") for d in inv.devices]


def test_quiet_network_is_up_with_utilisation(inv):
    link = inv.link("city-core-1--dalad-rt")
    rates = [InterfaceRowView(link.a.device, link.a.interface, True, 100e6, 950e6)]
    snap = snapshot(inv, all_up(inv), rates, [])
    assert snap.links[link.id]["state"] == "degraded"  # 95% of 1 Gbit/s
    assert snap.links[link.id]["utilisation"] == pytest.approx(0.95)
    assert snap.sites["dalad"] == {"state": "up", "cut_off": False}
    assert snap.alerts == []


def test_failed_uplink_marks_root_link_and_cut_off_sites(inv):
    g = build_graph(inv)
    link = "city-core-1--dalad-rt"
    behind = impact_of_link(g, link)
    devices = [DeviceRow(d.id, "unreachable" if d.id in behind.cut_off_devices else "up", f"link:{link}") for d in inv.devices]
    alert = AlertRow(1, f"link:{link}", "link", link, "critical", "open", behind.cut_off_sites)
    snap = snapshot(inv, devices, [], [alert])
    assert snap.links[link] == {**snap.links[link], "state": "down", "root": True}
    assert snap.sites["shulinzhao"] == {"state": "unreachable", "cut_off": True}
    assert snap.links["dalad-rt--shulinzhao-rt"]["state"] == "unreachable"
    assert snap.sites["xini"]["cut_off"] is False


def test_changes_carry_only_what_moved(inv):
    before = snapshot(inv, all_up(inv), [], []).as_dict()
    devices = [DeviceRow(d.id, "down", "device:xini-rt") if d.id == "xini-rt" else DeviceRow(d.id, "up") for d in inv.devices]
    after = snapshot(inv, devices, [], [AlertRow(2, "device:xini-rt", "device", "xini-rt", "critical", "open", ("xini",))]).as_dict()
    delta = changes(before, after)
    assert set(delta) == {"devices", "sites", "links", "alerts"}
    assert list(delta["devices"]) == ["xini-rt"] and list(delta["sites"]) == ["xini"]
    assert list(delta["links"]) == ["hanggin-rt--xini-rt"]
    assert changes(after, after) == {}


def test_small_traffic_moves_are_held_back_until_they_add_up(inv):
    from collectors.status import apply_changes

    link = next(l for l in inv.links if l.id == "city-core-1--dalad-rt")
    speed = link.speed_mbps * 1e6

    def snap(util):
        rows = [InterfaceRowView(link.a.device, link.a.interface, True, util * speed, util * speed / 2, 0.0)]
        return snapshot(inv, all_up(inv), rows, []).as_dict()

    sent = snap(0.300)
    assert changes(sent, snap(0.305)) == {}  # half a point: not news
    delta = changes(sent, snap(0.312))  # more than a point: sent
    assert list(delta) == ["links"] and list(delta["links"]) == [link.id]
    held = apply_changes(sent, {})
    assert changes(held, snap(0.306)) == {} and changes(held, snap(0.3101)) != {}  # drift counted from what was sent
    assert apply_changes(sent, delta)["links"][link.id]["utilisation"] == 0.312
