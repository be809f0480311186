"""The simulation's values and codec: counters, failures, MIB order, SNMP answers — no sockets."""
from __future__ import annotations

from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from lab.sim.agent import V2C, respond
from lab.sim.mib import build_view
from lab.sim.model import apply_failures, build_devices, reachable
from topology.analysis import impact_of_link
from topology.graph import build_graph
from topology.loader import load_inventory
from wangnet.config import PROJECT_ROOT

INV = load_inventory(PROJECT_ROOT / "inventory.yaml")
G = build_graph(INV)


def test_ports_follow_the_inventory_and_link_ends_mirror_each_other() -> None:
    devices = build_devices(INV)
    assert [p.name for p in devices["dalad-rt"].ports] == INV.device("dalad-rt").interfaces
    core = devices["city-core-1"].ports[3]   # Gi1-4 -> dalad-rt GE1-0-1
    dalad = devices["dalad-rt"].ports[0]
    assert core.link == dalad.link == "city-core-1--dalad-rt"
    assert core.out_util == dalad.in_util and core.in_util == dalad.out_util
    assert devices["city-core-2"].ports[7].kind == "spare" and not devices["city-core-2"].ports[7].up


def test_counters_rise_at_the_link_rate_stand_still_while_down_and_never_go_back() -> None:
    port = build_devices(INV)["dalad-rt"].ports[0]
    in0, out0 = port.octets(0.0)
    in10, out10 = port.octets(10.0)
    assert in10 - in0 == int(1000e6 / 8 * port.in_util * 10) and out10 > out0
    port.set_up(False, 10.0)
    assert port.octets(20.0) == (in10, out10)
    port.set_up(True, 20.0)
    assert port.octets(21.0)[0] > in10
    assert port.last_change == 20.0


def test_reachable_matches_the_topology_impact_for_every_single_link() -> None:
    everyone = set(G.nodes)
    for link in INV.links:
        assert everyone - reachable(G, {link.id}, set()) == set(impact_of_link(G, link.id).cut_off_devices), link.id


def test_two_failures_at_once_combine() -> None:
    silent = set(G.nodes) - reachable(G, {"city-core-1--ejin-horo-rt", "city-core-2--ejin-horo-rt"}, set())
    assert "ejin-horo-rt" in silent and "subuerga-rt" in silent and len(silent) == 9


def test_failure_sets_both_ends_down_and_a_dead_device_downs_its_neighbours_ports() -> None:
    devices = build_devices(INV)
    apply_failures(devices, {"city-core-1--dalad-rt"}, {"jungar-rt"}, 5.0)
    assert not devices["city-core-1"].ports[3].up and not devices["dalad-rt"].ports[0].up
    assert not devices["city-core-2"].ports[3].up  # Gi1-4 faces the dead jungar-rt
    assert devices["city-core-1"].ports[2].up
    apply_failures(devices, set(), set(), 6.0)
    assert devices["dalad-rt"].ports[0].up and devices["city-core-2"].ports[3].up


def _request(pdu_type, oids, community=b"c", **bulk):  # type: ignore[no-untyped-def]
    pdu = pdu_type()
    V2C.apiPDU.set_defaults(pdu)
    if bulk:
        V2C.apiBulkPDU.set_defaults(pdu)
        V2C.apiBulkPDU.set_non_repeaters(pdu, bulk["non_repeaters"])
        V2C.apiBulkPDU.set_max_repetitions(pdu, bulk["max_repetitions"])
    V2C.apiPDU.set_varbinds(pdu, [(o, V2C.Null("")) for o in oids])
    msg = V2C.Message()
    V2C.apiMessage.set_defaults(msg)
    V2C.apiMessage.set_community(msg, community)
    V2C.apiMessage.set_pdu(msg, pdu)
    return encoder.encode(msg)


def _answer(data: bytes) -> list[tuple[str, object]]:
    msg, _ = decoder.decode(data, asn1Spec=V2C.Message())
    return [(str(o), v) for o, v in V2C.apiPDU.get_varbinds(V2C.apiMessage.get_pdu(msg))]


VIEW = build_view(build_devices(INV)["hantai-rt"])


def test_get_returns_values_and_no_such_instance() -> None:
    out = _answer(respond(_request(V2C.GetRequestPDU, ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.31.1.1.1.1.2", "1.3.6.1.2.1.1.9.0"]),
                          b"c", VIEW, 1.0))
    assert str(out[0][1]) == "hantai-rt" and str(out[1][1]) == "eth1"
    assert out[2][1].isSameTypeWith(V2C.NoSuchInstance(""))


def test_getnext_and_getbulk_walk_in_oid_order_to_the_end() -> None:
    out = _answer(respond(_request(V2C.GetNextRequestPDU, ["1.3.6.1.2.1.31.1.1.1.1"]), b"c", VIEW, 1.0))
    assert out == [("1.3.6.1.2.1.31.1.1.1.1.1", out[0][1])] and str(out[0][1]) == "eth0"
    bulk = _answer(respond(_request(V2C.GetBulkRequestPDU, ["1.3.6.1.2.1.31.1.1.1.1"], non_repeaters=0, max_repetitions=50),
                           b"c", VIEW, 1.0))
    oids = [o for o, _ in bulk]
    assert oids == sorted(oids, key=lambda o: tuple(int(x) for x in o.split("."))) and bulk[-1][1].isSameTypeWith(V2C.EndOfMibView(""))


def test_wrong_community_and_garbage_get_no_answer() -> None:
    assert respond(_request(V2C.GetRequestPDU, ["1.3.6.1.2.1.1.5.0"], community=b"wrong"), b"c", VIEW, 1.0) is None
    assert respond(b"\x30\x03garbage", b"c", VIEW, 1.0) is None
    v1 = api.PROTOCOL_MODULES[api.SNMP_VERSION_1]
    msg = v1.Message()
    v1.apiMessage.set_defaults(msg)
    v1.apiMessage.set_community(msg, b"c")
    pdu = v1.GetRequestPDU()
    v1.apiPDU.set_defaults(pdu)
    v1.apiMessage.set_pdu(msg, pdu)
    assert respond(encoder.encode(msg), b"c", VIEW, 1.0) is None  # SNMPv1 is not spoken
