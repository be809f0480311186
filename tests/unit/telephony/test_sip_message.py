"""The SIP codec: round trips of real-looking messages, and the exact reason for each malformed one."""
from __future__ import annotations

from pathlib import Path

import pytest

from telephony.sip import Headers, Request, Response, SipSyntaxError, parse_message
from telephony.sip.message import frame_length, salvage_reply_headers

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sip" / "messages"
VALID = sorted((FIXTURES / "valid").glob("*.sip"))

MALFORMED = {
    "bare_lf": "line 3: bare CR or LF inside a line",
    "bad_header_name": "line 5: invalid header name 'Call ID'",
    "bad_method": "line 1: invalid method 'REG@STER'",
    "bad_request_line": "line 1: request line 'REGISTER sip:wangnet.ordos' is not 'METHOD URI SIP/2.0'",
    "bad_status": "line 1: invalid status code '2000'",
    "bad_uri": "line 1: invalid Request-URI 'wangnet.ordos'",
    "bad_version": "line 1: unsupported version 'SIP/3.0'",
    "content_length_not_number": "line 7: invalid Content-Length 'zero'",
    "content_length_too_big": "line 7: Content-Length 40 exceeds the 0 body bytes received",
    "continuation_first": "line 2: continuation line before any header",
    "cseq_mismatch": "line 6: CSeq method INVITE does not match request method REGISTER",
    "cseq_not_number": "line 6: CSeq 'one REGISTER' has an invalid sequence number",
    "empty_call_id": "line 5: empty Call-ID",
    "max_forwards_bad": "line 6: invalid Max-Forwards 'lots'",
    "missing_cseq": "missing mandatory header CSeq",
    "missing_via": "missing mandatory header Via",
    "no_blank_line": "no empty line (CRLF CRLF) after the headers",
    "no_colon": "line 5: header line has no ':'",
    "not_utf8": "byte 163 of the headers is not UTF-8",
    "via_bad_port": "line 2: Via 'SIP/2.0/UDP 127.0.0.1:99999;branch=z9hG4bK1' has an invalid port '99999'",
    "via_bad_protocol": "line 2: Via 'HTTP/1.1/UDP 127.0.0.1:5062;branch=z9hG4bK1' does not start with SIP/2.0/<transport>",
    "via_no_branch": "line 2: Via has no branch",
}


def test_every_malformed_fixture_has_an_expected_error() -> None:
    assert {p.stem for p in (FIXTURES / "malformed").glob("*.sip")} == set(MALFORMED)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_round_trip(path: Path) -> None:
    data = path.read_bytes()
    assert bytes(parse_message(data)) == data


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed(name: str) -> None:
    data = (FIXTURES / "malformed" / f"{name}.sip").read_bytes()
    with pytest.raises(SipSyntaxError) as info:
        parse_message(data)
    assert str(info.value) == MALFORMED[name]


def test_register_fields() -> None:
    m = Request.parse((FIXTURES / "valid" / "register.sip").read_bytes())
    assert (m.method, m.uri) == ("REGISTER", "sip:wangnet.ordos")
    assert m.cseq == (314159, "REGISTER")
    assert m.call_id == "a84b4c76e66710@127.0.0.1"
    via = m.top_via
    assert (via.transport, via.host, via.port, via.branch) == ("UDP", "127.0.0.1", 5062, "z9hG4bK776asdhds")
    assert "rport" in via.params and via.params["rport"] is None
    assert m.from_.display == "Desk 1001" and m.from_.tag == "1928301774"
    assert m.to.tag is None
    contacts = m.headers.get_all("Contact")
    assert contacts == ["<sip:1001@127.0.0.1:5062;transport=udp>;expires=600", "<sip:1001@127.0.0.1:5064>"]
    assert m.transaction_key() == ("z9hG4bK776asdhds", "127.0.0.1", 5062, "REGISTER")


def test_compact_forms_are_found_by_full_name() -> None:
    m = parse_message((FIXTURES / "valid" / "compact.sip").read_bytes())
    assert m.call_id == "compact-call-id"
    assert m.headers.get("Contact") == "<sip:2001@127.0.0.1:5062>"
    assert m.headers.get_all("Supported") == ["path", "gruu"]
    assert m.headers.get("content-length") == "0"
    assert m.top_via.branch == "z9hG4bKcompact"


def test_invite_quoted_display_names_and_body() -> None:
    m = parse_message((FIXTURES / "valid" / "invite_sdp.sip").read_bytes())
    assert m.from_.display == 'Alice "A" B'
    assert m.to.display == "Township, Desk"
    assert m.body.startswith(b"v=0\r\n") and m.body.endswith(b"a=sendrecv\r\n")
    assert len(m.headers.get_all("Via")) == 2
    assert m.headers.get_all("Via")[1] == "SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK1a2b;received=10.0.0.1"


def test_response_fields() -> None:
    m = Response.parse((FIXTURES / "valid" / "response_200.sip").read_bytes())
    assert (m.status, m.reason) == (200, "OK")
    assert m.to.tag == "37GkEhwl6"
    assert m.top_via.reply_address() == ("127.0.0.1", 5062)


def test_kind_mismatch() -> None:
    with pytest.raises(SipSyntaxError, match="expected a response, got a request"):
        Response.parse((FIXTURES / "valid" / "register.sip").read_bytes())


def test_folded_header_and_repeated_lines() -> None:
    data = (
        b"OPTIONS sip:wangnet.ordos SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062\r\n ;branch=z9hG4bKf\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bKg, SIP/2.0/UDP 127.0.0.3;branch=z9hG4bKh\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 2 OPTIONS\r\n\r\n"
    )
    m = parse_message(data)
    assert m.top_via.branch == "z9hG4bKf"
    assert [v.split(";")[-1] for v in m.headers.get_all("via")] == ["branch=z9hG4bKf", "branch=z9hG4bKg", "branch=z9hG4bKh"]


def test_extra_datagram_bytes_beyond_content_length_are_discarded() -> None:
    data = (FIXTURES / "valid" / "register.sip").read_bytes() + b"junk"
    assert parse_message(data).body == b""


def test_oversized_message() -> None:
    with pytest.raises(SipSyntaxError, match="exceeds 65535"):
        parse_message(b"x" * 70000)


def test_frame_length_on_a_stream() -> None:
    one = (FIXTURES / "valid" / "invite_sdp.sip").read_bytes()
    assert frame_length(one[:50]) is None
    assert frame_length(one[:-1]) is None
    assert frame_length(one + one) == len(one)
    with pytest.raises(SipSyntaxError, match="missing Content-Length on a stream transport"):
        frame_length(b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n")


def test_salvage_headers_for_a_400() -> None:
    data = (FIXTURES / "malformed" / "cseq_mismatch.sip").read_bytes()
    headers = salvage_reply_headers(data)
    assert headers is not None and headers.get("Call-ID") == "c1" and headers.get("CSeq") == "1 INVITE"
    assert salvage_reply_headers((FIXTURES / "malformed" / "missing_via.sip").read_bytes()) is None
    assert salvage_reply_headers(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n") is None


def test_response_for_request_adds_tag_once() -> None:
    req = Request.parse((FIXTURES / "valid" / "register.sip").read_bytes())
    resp = Response.for_request(req, 200, "OK", to_tag="t1")
    assert resp.to.tag == "t1"
    assert bytes(resp).startswith(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK776asdhds;rport\r\n")
    again = Response.for_request(Request.parse(bytes(req).replace(b"To: <sip:1001@wangnet.ordos>", b"To: <sip:1001@wangnet.ordos>;tag=x")), 200, "OK", to_tag="t2")
    assert again.to.tag == "x"


def test_headers_editing() -> None:
    h = Headers([("Via", "a, b"), ("Route", "<sip:r1>"), ("Via", "c")])
    assert h.pop_first_value("Via") == "a"
    assert h.get_all("Via") == ["b", "c"]
    h.insert_before("Via", "z")
    assert h.get_all("v") == ["z", "b", "c"]
    h.set("Max-Forwards", "69")
    h.set("via", "only")
    assert list(h) == [("Via", "only"), ("Route", "<sip:r1>"), ("Max-Forwards", "69")]
    h.remove("route")
    assert "Route" not in h and len(h) == 2
