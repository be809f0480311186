"""A collector per banner: who polls which devices, and who owns which state and alerts (pure)."""
from __future__ import annotations

import pytest

from collectors.correlate import correlate
from collectors.scope import ScopeError, scope_for, scope_names
from collectors.scoped import OwnedHysteresis
from topology import load_inventory
from topology.analysis import impact_of_link
from topology.graph import build_graph
from wangnet.config import PROJECT_ROOT

INV = load_inventory(PROJECT_ROOT / "inventory.yaml")
GRAPH = build_graph(INV)
CITY_DEVICES = {"city-core-1", "city-core-2", "city-sw"}
UPLINK = "city-core-1--dalad-rt"


def test_a_banner_owns_its_devices_and_its_townships_and_observes_the_city_core() -> None:
    dalad = scope_for(INV, "dalad")
    sites = {"dalad"} | {s.id for s in INV.children("dalad")}
    assert dalad.owned == {d.id for d in INV.devices if d.site in sites}
    assert "dalad-rt" in dalad.owned and not dalad.owned & CITY_DEVICES
    assert dalad.observed == dalad.owned | CITY_DEVICES


def test_the_city_scope_is_the_city_tier_alone() -> None:
    city = scope_for(INV, "city")
    assert city.owned == city.observed == CITY_DEVICES


def test_the_scopes_split_every_device_exactly_once() -> None:
    owners: dict[str, list[str]] = {}
    for name in scope_names(INV):
        for device in scope_for(INV, name).owned:
            owners.setdefault(device, []).append(name)
    assert set(owners) == {d.id for d in INV.devices}
    assert all(len(names) == 1 for names in owners.values()), {d: n for d, n in owners.items() if len(n) > 1}


def test_an_unknown_banner_is_refused_with_the_valid_ids() -> None:
    with pytest.raises(ScopeError) as err:
        scope_for(INV, "baotou")
    assert str(err.value) == f"unknown banner 'baotou': use one of {', '.join(scope_names(INV))}"
    with pytest.raises(ScopeError):
        scope_for(INV, "zhaojun")  # a township is no banner


def test_the_uplink_from_the_core_belongs_to_the_banner_it_feeds() -> None:
    dalad, city, jungar = (scope_for(INV, n) for n in ("dalad", "city", "jungar"))
    assert dalad.owns_key(f"link:{UPLINK}")
    assert not city.owns_key(f"link:{UPLINK}") and not jungar.owns_key(f"link:{UPLINK}")
    assert city.owns_key("device:city-core-2") and not dalad.owns_key("device:city-core-2")
    assert not dalad.owns_key("nonsense") and not dalad.owns_key("link:no-such-link")


def test_a_cut_uplink_is_one_alert_in_the_banner_collector_and_none_in_the_city_one() -> None:
    """What each process concludes from what it polls when dalad's only uplink fails."""
    expected = impact_of_link(GRAPH, UPLINK)
    silent = set(expected.cut_off_devices)
    down = {UPLINK}  # city-core-1 reports its end down

    dalad = scope_for(INV, "dalad")
    seen_by_dalad = dalad.narrow(correlate(dalad.subgraph(GRAPH), dalad.observed - silent, down))
    assert [(c.key, c.cut_off_sites) for c in seen_by_dalad.causes] == [(f"link:{UPLINK}", expected.cut_off_sites)]
    assert set(seen_by_dalad.devices) == dalad.owned  # state only for its own devices
    assert {d for d, s in seen_by_dalad.devices.items() if s.state == "unreachable"} == silent

    city = scope_for(INV, "city")
    seen_by_city = city.narrow(correlate(city.subgraph(GRAPH), city.observed, down))
    assert seen_by_city.causes == () and set(seen_by_city.devices) == CITY_DEVICES


def test_a_core_router_failure_is_the_city_collectors_alert() -> None:
    city, dalad = scope_for(INV, "city"), scope_for(INV, "dalad")
    for scope, expected in ((city, ["device:city-core-2"]), (dalad, [])):
        assessment = scope.narrow(correlate(scope.subgraph(GRAPH), scope.observed - {"city-core-2"}, set()))
        assert [c.key for c in assessment.causes] == expected


def test_a_restarted_banner_collector_resumes_only_its_own_open_alerts() -> None:
    hysteresis = OwnedHysteresis(scope_for(INV, "dalad"))
    hysteresis.restore([f"link:{UPLINK}", "device:city-core-2", "link:city-core-1--jungar-rt"])
    assert hysteresis.is_active(f"link:{UPLINK}")
    assert not hysteresis.is_active("device:city-core-2")
    # absent for two assessments: only its own alert is resolved; the others were never its to resolve
    hysteresis.observe([])
    assert hysteresis.observe([]).resolved == (f"link:{UPLINK}",)


def test_every_possible_alert_has_exactly_one_owner() -> None:
    """Otherwise one process would resolve (after a restart) an alert another process keeps open."""
    scopes = [scope_for(INV, n) for n in scope_names(INV)]
    keys = [f"link:{l.id}" for l in INV.links] + [f"device:{d.id}" for d in INV.devices]
    keys += [f"service:{s.id}" for s in INV.services]
    owners = {key: [s.name for s in scopes if s.owns_key(key)] for key in keys}
    assert {key: names for key, names in owners.items() if len(names) != 1} == {}


def test_drift_findings_are_replaced_only_by_the_collector_that_judges_them() -> None:
    dalad, city = scope_for(INV, "dalad"), scope_for(INV, "city")
    assert dalad.owns_finding("dalad-rt--dalad-sw", "dalad-rt and dalad-sw do not see each other")
    assert not city.owns_finding("dalad-rt--dalad-sw", "")
    unplanned = "dalad-sw ge-0/0/9 ↔ jungar-sw ge-0/0/9 is not in the inventory"
    assert dalad.owns_finding(None, unplanned) and scope_for(INV, "jungar").owns_finding(None, unplanned)
    assert not city.owns_finding(None, unplanned)
