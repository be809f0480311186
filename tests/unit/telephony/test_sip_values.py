"""Header values and URIs: name-addr, Via, CSeq, auth params, SIP URIs — and their errors."""
from __future__ import annotations

import pytest

from telephony.sip import NameAddr, SipSyntaxError, SipUri, Via, parse_auth_params, parse_cseq, split_values


def test_uri_full() -> None:
    u = SipUri.parse("sips:alice:pw@[::1]:5061;transport=tcp;lr?subject=hi")
    assert (u.scheme, u.user, u.password, u.host, u.port) == ("sips", "alice", "pw", "[::1]", 5061)
    assert u.params == {"transport": "tcp", "lr": None} and u.headers == "subject=hi"
    assert str(u) == "sips:alice:pw@[::1]:5061;transport=tcp;lr?subject=hi"
    assert u.transport == "tcp"


def test_uri_minimal() -> None:
    u = SipUri.parse("sip:wangnet.ordos")
    assert (u.user, u.host, u.port, u.transport) == ("", "wangnet.ordos", None, "udp")


@pytest.mark.parametrize(
    "text, error",
    [
        ("tel:+861234", "URI 'tel:+861234' is not a sip: or sips: URI"),
        ("sip:@host", "URI 'sip:@host' has an empty user part"),
        ("sip:a@", "URI 'sip:a@' has no host"),
        ("sip:a@ho st", "URI 'sip:a@ho st' has an invalid host 'ho st'"),
        ("sip:a@host:0", "URI 'sip:a@host:0' has an invalid port '0'"),
        ("sip:a@host:http", "URI 'sip:a@host:http' has an invalid port 'http'"),
        ("sip:a@[::1", "URI 'sip:a@[::1' has an unclosed IPv6 reference"),
        ("sip:a@host;;lr", "URI 'sip:a@host;;lr' has an empty parameter"),
    ],
)
def test_uri_errors(text: str, error: str) -> None:
    with pytest.raises(SipSyntaxError) as info:
        SipUri.parse(text)
    assert str(info.value) == error


def test_name_addr_forms() -> None:
    a = NameAddr.parse('"Wang, Li" <sip:1001@wangnet.ordos;transport=udp>;tag=88;expires=60')
    assert (a.display, a.uri, a.tag, a.params["expires"]) == ("Wang, Li", "sip:1001@wangnet.ordos;transport=udp", "88", "60")
    b = NameAddr.parse("sip:1001@wangnet.ordos;tag=7")  # addr-spec: the parameter is the header's
    assert (b.uri, b.tag, b.bracketed) == ("sip:1001@wangnet.ordos", "7", False)
    assert str(a) == '"Wang, Li" <sip:1001@wangnet.ordos;transport=udp>;tag=88;expires=60'
    assert NameAddr.parse("Bob <sip:b@h>").display == "Bob"


@pytest.mark.parametrize(
    "value, error",
    [
        ("", "To is empty"),
        ("<sip:a@b", "To: '<' without closing '>'"),
        ("<sip:a@b> junk", "To: unexpected 'junk' after the URI"),
        ("<>", "To has an empty URI"),
        ('"Name" sip:a@b', "To: display name without a <URI>"),
        ("nonsense", "To: 'nonsense' is not a URI"),
        ('<sip:a@b>;tag="open', "To: unterminated quoted string in 'tag=\"open'"),
        ("<sip:a@b>;t@g=1", "To: invalid parameter name 't@g'"),
    ],
)
def test_name_addr_errors(value: str, error: str) -> None:
    with pytest.raises(SipSyntaxError) as info:
        NameAddr.parse(value, "To")
    assert str(info.value) == error


def test_via() -> None:
    v = Via.parse("SIP/2.0/tcp 127.0.0.1:5070;branch=z9hG4bK9;rport=40000;received=127.0.0.2")
    assert (v.transport, v.host, v.port, v.branch) == ("TCP", "127.0.0.1", 5070, "z9hG4bK9")
    assert v.reply_address() == ("127.0.0.2", 40000)
    assert Via.parse("SIP/2.0/UDP host;branch=z9hG4bK1").reply_address() == ("host", 5060)
    assert str(v) == "SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK9;rport=40000;received=127.0.0.2"
    with pytest.raises(SipSyntaxError, match="has no sent-by host"):
        Via.parse("SIP/2.0/UDP ;branch=x")


def test_split_values_respects_quotes_and_brackets() -> None:
    assert split_values('"a, b" <sip:x@y;p=1,2>, <sip:z@w>') == ['"a, b" <sip:x@y;p=1,2>', "<sip:z@w>"]
    with pytest.raises(SipSyntaxError, match="unterminated quoted string"):
        split_values('"a, b')
    with pytest.raises(SipSyntaxError, match="empty element in list"):
        split_values("a,,b")


def test_cseq() -> None:
    assert parse_cseq("42 INVITE") == (42, "INVITE")
    with pytest.raises(SipSyntaxError, match="has no method"):
        parse_cseq("42")
    with pytest.raises(SipSyntaxError, match="invalid sequence number"):
        parse_cseq("99999999999 INVITE")


def test_auth_params() -> None:
    scheme, p = parse_auth_params('Digest username="1001", realm="wangnet.ordos", nonce="a,b", uri="sip:x", '
                                  'response="abc", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="q\\"x"')
    assert scheme == "Digest"
    assert p["nonce"] == "a,b" and p["algorithm"] == "SHA-256" and p["cnonce"] == 'q"x' and p["nc"] == "00000001"
    with pytest.raises(SipSyntaxError, match="is not name=value"):
        parse_auth_params("Digest username")
