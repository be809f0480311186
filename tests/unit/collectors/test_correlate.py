import pytest

from collectors.correlate import DOWN, UNREACHABLE, UP, correlate, links_reported_down, predict
from topology import load_inventory
from topology.analysis import all_link_impacts, impact_of_device, impact_of_link
from topology.graph import build_graph
from wangnet.config import PROJECT_ROOT


@pytest.fixture(scope="module")
def g():
    return build_graph(load_inventory(PROJECT_ROOT / "inventory.yaml"))


def everyone_but(g, gone):
    return set(g.nodes) - set(gone)


def test_all_quiet(g):
    result = correlate(g, g.nodes, [])
    assert result.causes == ()
    assert all(s.state == UP for s in result.devices.values())
    assert set(result.links.values()) == {"up"}


def test_failed_uplink_is_one_cause_naming_the_link_and_its_cut_off_sites(g):
    link = "city-core-1--dalad-rt"
    behind = impact_of_link(g, link)
    result = correlate(g, everyone_but(g, behind.cut_off_devices), [link])
    (cause,) = result.causes
    assert cause.key == f"link:{link}" and cause.severity == "critical"
    assert cause.cut_off_sites == behind.cut_off_sites
    assert "dalad" in cause.cut_off_sites and len(cause.cut_off_sites) == 10
    assert cause.cut_off_devices == behind.cut_off_devices
    for device in behind.cut_off_devices:
        assert result.devices[device].state == UNREACHABLE and result.devices[device].behind == cause.key
    assert result.devices["city-core-1"].state == UP


def test_every_single_link_failure_matches_the_topology_analysis(g):
    for link in g.graph["link_ends"]:
        behind = impact_of_link(g, link)
        result = correlate(g, everyone_but(g, behind.cut_off_devices), [link])
        (cause,) = result.causes
        assert cause.ids == (link,)
        assert cause.cut_off_sites == behind.cut_off_sites, link


def test_one_uplink_of_a_dual_homed_banner_is_a_warning_only(g):
    result = correlate(g, g.nodes, ["city-core-1--dongsheng-rt"])
    (cause,) = result.causes
    assert cause.cut_off_devices == () and cause.severity == "warning"
    assert result.devices["dongsheng-rt"].state == UP


def test_both_uplinks_of_a_dual_homed_banner_are_one_joint_cause(g):
    uplinks = sorted(l for l, (a, b) in g.graph["link_ends"].items() if "dongsheng-rt" in (a, b) and "city-core" in a + b)
    assert len(uplinks) == 2
    behind = {n for n in g.nodes if g.nodes[n]["site"] in ("dongsheng", "boerjianghaizi", "hantai", "tongchuan")}
    result = correlate(g, everyone_but(g, behind), uplinks)
    (cause,) = result.causes
    assert cause.kind == "link" and cause.ids == tuple(uplinks)
    assert set(cause.cut_off_sites) == {"dongsheng", "boerjianghaizi", "hantai", "tongchuan"}


def test_silent_router_with_carrier_up_is_down_and_hides_what_is_behind_it(g):
    behind = impact_of_device(g, "dalad-rt")
    result = correlate(g, everyone_but(g, {"dalad-rt", *behind.cut_off_devices}), [])
    (cause,) = result.causes
    assert cause.key == "device:dalad-rt"
    assert result.devices["dalad-rt"] == result.devices["dalad-rt"].__class__(DOWN, "device:dalad-rt")
    assert all(result.devices[d].state == UNREACHABLE for d in behind.cut_off_devices)
    assert set(cause.cut_off_sites) == set(behind.cut_off_sites)


def test_two_independent_failures_give_two_causes(g):
    a = impact_of_link(g, "dalad-rt--shulinzhao-rt")
    b = impact_of_device(g, "xini-rt")
    result = correlate(g, everyone_but(g, {*a.cut_off_devices, "xini-rt"}), ["dalad-rt--shulinzhao-rt"])
    assert [c.key for c in result.causes] == ["device:xini-rt", "link:dalad-rt--shulinzhao-rt"]
    assert b.cut_off_devices == ()


def test_links_reported_down_from_interface_status(g):
    oper = {("city-core-1", g.edges["city-core-1", "dalad-rt", "city-core-1--dalad-rt"]["a_interface"]): False}
    oper[("city-core-2", "nonexistent")] = False
    assert links_reported_down(g, oper) == {"city-core-1--dalad-rt"}


def test_silent_core_router_is_down_not_unreachable(g):
    lost = impact_of_device(g, "city-core-1").cut_off_devices
    result = correlate(g, everyone_but(g, {"city-core-1", *lost}), [])
    keys = [c.key for c in result.causes]
    assert keys == ["device:city-core-1"]
    assert result.devices["city-core-1"].state == DOWN


def test_prediction_from_a_trap_names_the_link_while_everyone_still_answers(g):
    """Right after a linkDown trap the last poll still has every device answering; the graph knows better."""
    link = "city-core-1--dalad-rt"
    behind = impact_of_link(g, link)
    result = predict(g, g.nodes, [link])
    (cause,) = result.causes
    assert cause.key == f"link:{link}"
    assert cause.cut_off_sites == behind.cut_off_sites
    assert cause == correlate(g, everyone_but(g, behind.cut_off_devices), [link]).causes[0]


def test_prediction_of_a_redundant_link_cuts_nothing_off(g):
    redundant = next(link for link, imp in all_link_impacts(g).items() if not imp.cut_off_devices)
    (cause,) = predict(g, g.nodes, [redundant]).causes
    assert cause.key == f"link:{redundant}" and cause.cut_off_sites == ()

