"""The lean SNMPv2c codec against pysnmp/pyasn1, the library it stands in for on the v2c hot path."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api, rfc1902, rfc1905

from collectors.snmpv2c import V2cError, decode_response, encode_bulk, plain_value

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]


def pysnmp_bulk(request_id, community, non_repeaters, max_repetitions, oids):
    pdu = V2C.GetBulkRequestPDU()
    V2C.apiBulkPDU.set_defaults(pdu)
    V2C.apiBulkPDU.set_request_id(pdu, request_id)
    V2C.apiBulkPDU.set_non_repeaters(pdu, non_repeaters)
    V2C.apiBulkPDU.set_max_repetitions(pdu, max_repetitions)
    V2C.apiBulkPDU.set_varbinds(pdu, [(oid, V2C.null) for oid in oids])
    message = V2C.Message()
    V2C.apiMessage.set_defaults(message)
    V2C.apiMessage.set_community(message, community)
    V2C.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


def pysnmp_response(request_id, community, varbinds, error_status=0, error_index=0):
    pdu = V2C.ResponsePDU()
    V2C.apiPDU.set_defaults(pdu)
    V2C.apiPDU.set_request_id(pdu, request_id)
    V2C.apiPDU.set_error_status(pdu, error_status)
    V2C.apiPDU.set_error_index(pdu, error_index)
    V2C.apiPDU.set_varbinds(pdu, varbinds)
    message = V2C.Message()
    V2C.apiMessage.set_defaults(message)
    V2C.apiMessage.set_community(message, community)
    V2C.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


OIDS = st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=14).map(lambda arcs: "1.3." + ".".join(map(str, arcs)))


@settings(max_examples=200, deadline=None)
@given(
    request_id=st.integers(0, 2**31 - 1),
    community=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),  # communities are ASCII
    non_repeaters=st.integers(0, 3),
    max_repetitions=st.integers(0, 200),
    oids=st.lists(OIDS, min_size=1, max_size=30),
)
def test_requests_are_byte_for_byte_what_pysnmp_builds(request_id, community, non_repeaters, max_repetitions, oids):
    ours = encode_bulk(request_id, community, non_repeaters, max_repetitions, oids)
    assert ours == pysnmp_bulk(request_id, community, non_repeaters, max_repetitions, oids)


def test_responses_read_like_pyasn1_reads_them():
    values = [
        ("1.3.6.1.2.1.1.3.0", rfc1902.TimeTicks(123456789)),
        ("1.3.6.1.2.1.31.1.1.1.1.3", rfc1902.OctetString("GigabitEthernet0/0/1 上联".encode())),
        ("1.3.6.1.2.1.31.1.1.1.6.3", rfc1902.Counter64(2**64 - 1)),
        ("1.3.6.1.2.1.2.2.1.14.3", rfc1902.Counter32(2**32 - 1)),
        ("1.3.6.1.2.1.31.1.1.1.15.3", rfc1902.Gauge32(10000)),
        ("1.3.6.1.2.1.2.2.1.8.3", rfc1902.Integer(-7)),
        ("1.3.6.1.2.1.4.20.1.1.10.0.0.1", rfc1902.IpAddress("10.0.0.1")),
        ("1.3.6.1.2.1.1.2.0", rfc1902.ObjectIdentifier("1.3.6.1.4.1.2011.2.23")),
        ("1.3.6.1.2.1.2.2.1.7.9", rfc1905.NoSuchInstance("")),
        ("1.3.6.1.2.1.99", rfc1905.NoSuchObject("")),
        ("1.3.6.1.2.1.31.1.1.1.11.9", rfc1905.EndOfMibView("")),
    ]
    data = pysnmp_response(987654321, "ro-x", values)
    ours = decode_response(data)
    message, _ = decoder.decode(data, asn1Spec=V2C.Message())
    pdu = V2C.apiMessage.get_pdu(message)
    theirs = [(str(oid), plain_value(value)) for oid, value in V2C.apiPDU.get_varbinds(pdu)]
    assert ours.request_id == 987654321 and ours.community == b"ro-x"
    assert (ours.error_status, ours.error_index) == (0, 0)
    assert [oid for oid, _ in ours.varbinds] == [oid for oid, _ in theirs]
    for (oid, mine), (_, pyasn1s) in zip(ours.varbinds, theirs):
        if oid.startswith("1.3.6.1.2.1.4.20"):
            assert mine == "10.0.0.1"  # dotted, where pyasn1's octets would be unreadable
        elif oid == "1.3.6.1.2.1.1.2.0":
            assert mine == "1.3.6.1.4.1.2011.2.23"
        else:
            assert mine == pyasn1s, oid
    assert ours.varbinds[1][1] == "GigabitEthernet0/0/1 上联"


def test_an_agent_error_is_reported_with_its_index():
    response = decode_response(pysnmp_response(5, "c", [("1.3.6.1.2.1.1.3.0", V2C.null)], error_status=5, error_index=1))
    assert (response.error_status, response.error_index) == (5, 1)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "truncated"),
        (b"\x02\x01\x01", "expected message"),
        (pysnmp_bulk(1, "c", 0, 1, ["1.3.6.1"]), "not a response"),
    ],
)
def test_what_is_not_a_v2c_response_is_refused_by_name(data, message):
    with pytest.raises(V2cError, match=message):
        decode_response(data)


def test_a_v1_message_is_refused():
    data = bytearray(pysnmp_response(1, "c", [("1.3.6.1.2.1.1.3.0", rfc1902.TimeTicks(1))]))
    assert data[2:5] == b"\x02\x01\x01"
    data[4] = 0
    with pytest.raises(V2cError, match="not an SNMPv2c message"):
        decode_response(bytes(data))


VALID = pysnmp_response(42, "ro", [("1.3.6.1.2.1.31.1.1.1.6.1", rfc1902.Counter64(10**15)),
                                    ("1.3.6.1.2.1.31.1.1.1.1.1", rfc1902.OctetString(b"eth0"))])


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(VALID) - 1), st.binary(min_size=0, max_size=8), st.integers(0, len(VALID)))
def test_garbage_and_truncation_raise_only_v2c_errors(cut, noise, at):
    """A broken datagram must never escape as IndexError/ValueError into the poller's receive loop."""
    for data in (VALID[:cut], VALID[:at] + noise + VALID[at:], bytes(b ^ 0xFF for b in VALID[:cut]) + VALID[cut:]):
        try:
            decode_response(data)
        except V2cError:
            pass


def test_bad_oids_in_a_request_are_named():
    with pytest.raises(V2cError, match="not a numeric object identifier: 'ifDescr'"):
        encode_bulk(1, "c", 0, 1, ["ifDescr"])
