import pytest
from pyasn1.codec.ber import encoder
from pysnmp.proto import api

from collectors.traps import TrapError, accept, decode

P = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]


def trap_bytes(trap_oid="1.3.6.1.6.3.1.1.5.3", community="c1", extra=()):
    pdu = P.SNMPv2TrapPDU()
    P.apiTrapPDU.set_defaults(pdu)
    varbinds = [
        ("1.3.6.1.2.1.1.3.0", P.TimeTicks(123)),
        ("1.3.6.1.6.3.1.1.4.1.0", P.ObjectIdentifier(trap_oid)),
        ("1.3.6.1.2.1.2.2.1.1.3", P.Integer(3)),
        *extra,
    ]
    P.apiTrapPDU.set_varbinds(pdu, varbinds)
    msg = P.Message()
    P.apiMessage.set_defaults(msg)
    P.apiMessage.set_community(msg, community)
    P.apiMessage.set_pdu(msg, pdu)
    return encoder.encode(msg)


def test_link_down_with_ifindex_and_name():
    trap = decode(trap_bytes(extra=[("1.3.6.1.2.1.31.1.1.1.1.3", P.OctetString("GE0-0-1"))]))
    assert (trap.kind, trap.if_index, trap.if_name, trap.community) == ("linkDown", 3, "GE0-0-1", "c1")


def test_cold_start_and_unknown_trap():
    assert decode(trap_bytes("1.3.6.1.6.3.1.1.5.1")).kind == "coldStart"
    assert decode(trap_bytes("1.3.6.1.4.1.9.9.1")).kind == "other"


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "not an SNMP message"), (b"\x30\x03\x02\x01", "not an SNMP message"), (b"hello world", "not an SNMP message")],
)
def test_garbage_is_refused_with_a_reason(data, reason):
    with pytest.raises(TrapError, match=reason):
        decode(data)


def test_get_request_is_not_a_trap():
    pdu = P.GetRequestPDU()
    P.apiPDU.set_defaults(pdu)
    msg = P.Message()
    P.apiMessage.set_defaults(msg)
    P.apiMessage.set_community(msg, "c1")
    P.apiMessage.set_pdu(msg, pdu)
    with pytest.raises(TrapError, match="not a trap PDU"):
        decode(encoder.encode(msg))


def test_wrong_community_is_refused():
    trap = decode(trap_bytes(community="guess"))
    with pytest.raises(TrapError, match="wrong community"):
        accept(trap, "right")
    accept(decode(trap_bytes(community="right")), "right")
