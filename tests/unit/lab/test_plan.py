"""The lab plan from the sample inventory: namespaces, cables, addresses, LANs, host routes — no root."""
from __future__ import annotations

from ipaddress import IPv4Interface, IPv4Network

import pytest

from lab.netns import host_commands, link_commands, node_commands, tbf, wire_commands
from lab.plan import PlanError, build_plan, select_sites
from topology.loader import load_inventory
from wangnet.config import PROJECT_ROOT

INV = load_inventory(PROJECT_ROOT / "inventory.yaml")
PLAN = build_plan(INV)


def test_one_namespace_per_device_and_one_wire_per_link() -> None:
    assert len(PLAN.nodes) == 69 and len(PLAN.wires) == 71
    assert PLAN.netns_names[0] == "wn-wire"
    assert len(set(PLAN.netns_names)) == 70
    assert PLAN.node("dalad-rt").netns == "wn-dalad-rt"


def test_every_inventory_interface_exists_with_its_name_and_a_unique_wire_end() -> None:
    ends = [i.wire_end for n in PLAN.nodes for i in n.interfaces]
    assert len(ends) == len(set(ends))
    assert all(len(e) <= 15 for e in ends)
    for dev in INV.devices:
        assert [i.name for i in PLAN.node(dev.id).interfaces] == dev.interfaces


def test_link_ends_get_the_first_and_second_host_of_the_subnet() -> None:
    link = INV.link("city-core-1--dalad-rt")
    assert link.subnet == IPv4Network("10.254.0.20/30")
    assert PLAN.node("city-core-1").iface("Gi1-4").address == IPv4Interface("10.254.0.21/30")
    assert PLAN.node("dalad-rt").iface("GE1-0-1").address == IPv4Interface("10.254.0.22/30")
    wire = PLAN.wire(link.id)
    assert (wire.a_device, wire.b_device, wire.speed_mbps) == ("city-core-1", "dalad-rt", 1000)
    assert PLAN.node("city-core-1").iface("Gi1-4").wire_end == wire.a_end


def test_the_first_spare_router_port_carries_the_site_lan_and_other_spares_stay_dark() -> None:
    township = PLAN.node("shulinzhao-rt").iface("GE1-0-2")
    assert (township.kind, township.address) == ("lan", IPv4Interface("10.2.16.1/24"))
    city = PLAN.node("city-core-1").iface("Gi1-8")
    assert (city.kind, city.address) == ("lan", IPv4Interface("10.0.0.1/20"))
    assert all(i.kind != "lan" for i in PLAN.node("city-core-2").interfaces)  # one LAN gateway per site
    assert PLAN.node("city-core-2").iface("Gi1-8").kind == "spare"
    assert all(i.kind == "link" for i in PLAN.node("dalad-sw").interfaces)


def test_host_routes_cover_the_address_plan_and_nothing_else() -> None:
    routes = PLAN.mgmt.routes
    for dev in INV.devices:
        assert any(dev.mgmt in net for net in routes), dev.id
    for link in INV.links:
        assert any(link.subnet.subnet_of(net) for net in routes), link.id
    assert not any(net.overlaps(IPv4Network("10.255.255.252/30")) for net in routes)
    assert all(net.subnet_of(IPv4Network("10.0.0.0/8")) for net in routes)
    assert sum(net.num_addresses for net in routes) < 2**20  # no 10.0.0.0/8-sized catch-all
    assert (PLAN.mgmt.core_device, str(PLAN.mgmt.host_addr), str(PLAN.mgmt.core_addr)) == (
        "city-core-1", "10.255.255.253/30", "10.255.255.254/30")


def test_only_builds_the_named_sites_with_their_townships_and_the_city() -> None:
    sites = select_sites(INV, ["dalad", "ejin-horo"])
    assert sites[0] == "city" and "dalad" in sites and "shulinzhao" in sites and "altanxiret" in sites
    assert "jungar" not in sites
    plan = build_plan(INV, ["dalad", "ejin-horo"])
    assert {n.device for n in plan.nodes} >= {"city-core-1", "city-core-2", "city-sw", "dalad-rt", "zhandanzhao-rt"}
    assert all(w.a_device in {n.device for n in plan.nodes} and w.b_device in {n.device for n in plan.nodes}
               for w in plan.wires)
    assert len(plan.nodes) == 3 + 2 + 9 + 2 + 7


def test_unknown_only_site_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match='unknown site "atlantis"'):
        build_plan(INV, ["atlantis"])


def test_a_management_subnet_inside_the_plan_is_refused() -> None:
    with pytest.raises(PlanError, match="overlaps the inventory's address plan"):
        build_plan(INV, mgmt_subnet=IPv4Network("10.254.0.20/30"))


def test_commands_create_veths_straight_into_namespaces_and_address_them() -> None:
    lines = link_commands(PLAN)
    assert "netns add wn-wire" in lines
    wire = PLAN.wire("city-core-1--dalad-rt")
    assert f"link add GE1-0-1 netns wn-dalad-rt type veth peer name {wire.b_end} netns wn-wire" in lines
    assert lines[-1] == "link add wn-mgmt type veth peer name mgmt0 netns wn-city-core-1"
    node = node_commands(PLAN, PLAN.node("dalad-rt"))
    assert "addr add 10.255.1.2/32 dev lo" in node and "addr add 10.254.0.22/30 dev GE1-0-1" in node
    assert "addr add 10.255.255.254/30 dev mgmt0" in node_commands(PLAN, PLAN.node("city-core-1"))
    host = host_commands(PLAN)
    assert host[0] == "addr add 10.255.255.253/30 dev wn-mgmt"
    assert all(h.endswith("via 10.255.255.254 dev wn-mgmt") for h in host[2:])


def test_wires_are_joined_both_ways_shaped_to_speed_and_failed_links_stay_down() -> None:
    wire = PLAN.wire("dalad-rt--zhandanzhao-rt")
    ip_lines, tc_lines = wire_commands(PLAN, failed_links=[wire.link])
    assert f"filter add dev {wire.a_end} ingress protocol all u32 match u32 0 0 action mirred egress redirect dev {wire.b_end}" in tc_lines
    assert f"filter add dev {wire.b_end} ingress protocol all u32 match u32 0 0 action mirred egress redirect dev {wire.a_end}" in tc_lines
    assert f"qdisc add dev {wire.a_end} root {tbf(2)}" in tc_lines
    assert f"link set {wire.a_end} up" not in ip_lines
    other = PLAN.wire("city-core-1--dalad-rt")
    assert f"link set {other.a_end} up" in ip_lines
    spare = PLAN.node("city-core-2").iface("Gi1-8").wire_end
    assert f"link set {spare} up" not in ip_lines


def test_tbf_bucket_grows_with_speed() -> None:
    assert tbf(2) == "tbf rate 2mbit burst 16384 latency 50ms"
    assert tbf(1000) == "tbf rate 1000mbit burst 1250000 latency 50ms"
