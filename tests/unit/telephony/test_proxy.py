"""Proxy decisions without sockets: routing to bindings, 404/480, record-route, responses by Via, CANCEL, ACK."""
from __future__ import annotations

import pytest

from telephony.location import BindingRecord, LocationTable
from telephony.proxy import BRANCH_PREFIX, Peer, Proxy
from telephony.sip import Request, Response, parse_message

from .conftest import REALM, directory

T0 = 1_800_000_000.0
ME = ("127.0.0.1", 5070)
CALLER = Peer("udp", "127.0.0.1", 6001)
CALLEE = Peer("udp", "127.0.0.1", 6002)


@pytest.fixture
def proxy() -> Proxy:
    location = LocationTable()
    location.put("2001", BindingRecord("sip:2001@127.0.0.1:6002", T0 + 600, "c", 1, "ua", str(CALLEE), T0, T0))
    return Proxy(ME[0], ME[1], REALM, directory(), location)


def invite(target: str = "2001", branch: str = "z9hG4bKcaller1", method: str = "INVITE", extra: str = "", to_tag: str = "") -> Request:
    to = f"<sip:{target}@{REALM}>" + (f";tag={to_tag}" if to_tag else "")
    text = (f"{method} sip:{target}@{REALM} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:6001;branch={branch};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:1001@{REALM}>;tag=a\r\nTo: {to}\r\nCall-ID: call-1\r\n"
            f"CSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n")
    return Request.parse(text.encode())


def response_to(forwarded: bytes, status: int, reason: str, tag: str = "b") -> Response:
    req = parse_message(forwarded)
    assert isinstance(req, Request)
    return Response.parse(bytes(Response.for_request(req, status, reason, to_tag=tag)))


def test_invite_is_routed_to_the_binding_with_trying_and_record_route(proxy: Proxy) -> None:
    trying, forward = proxy.on_request(invite(), CALLER, T0)
    assert trying.peer == CALLER and trying.data.startswith(b"SIP/2.0 100 Trying\r\n")
    assert b";tag=" not in trying.data.split(b"To:")[1].split(b"\r\n")[0]
    assert forward.peer == CALLEE
    fwd = Request.parse(forward.data)
    assert fwd.uri == "sip:2001@127.0.0.1:6002"
    vias = fwd.headers.get_all("Via")
    assert vias[0].startswith(f"SIP/2.0/UDP 127.0.0.1:5070;branch={BRANCH_PREFIX}")
    assert vias[1] == "SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKcaller1;rport=6001"
    assert fwd.headers.get("Record-Route") == "<sip:127.0.0.1:5070;lr>"
    assert fwd.headers.get("Max-Forwards") == "69"
    assert proxy.stats.calls_attempted == 1


def test_retransmitted_invite_gets_the_last_response_not_a_second_forward(proxy: Proxy) -> None:
    proxy.on_request(invite(), CALLER, T0)
    [again] = proxy.on_request(invite(), CALLER, T0 + 0.5)
    assert again.peer == CALLER and again.data.startswith(b"SIP/2.0 100 Trying")


@pytest.mark.parametrize("target, status", [("9999", b"404 Not Found"), ("1001", b"480 Temporarily Unavailable")])
def test_unknown_and_unregistered(proxy: Proxy, target: str, status: bytes) -> None:
    [reply] = proxy.on_request(invite(target), CALLER, T0)
    assert reply.peer == CALLER and reply.data.startswith(b"SIP/2.0 " + status)


def test_expired_binding_is_not_registered(proxy: Proxy) -> None:
    [reply] = proxy.on_request(invite(), CALLER, T0 + 601)
    assert reply.data.startswith(b"SIP/2.0 480")


def test_max_forwards_zero(proxy: Proxy) -> None:
    req = invite()
    req.headers.set("Max-Forwards", "0")
    [reply] = proxy.on_request(req, CALLER, T0)
    assert reply.data.startswith(b"SIP/2.0 483 Too Many Hops")


def test_options_to_the_proxy_itself(proxy: Proxy) -> None:
    text = (f"OPTIONS sip:127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKo\r\n"
            f"From: <sip:1001@{REALM}>;tag=a\r\nTo: <sip:127.0.0.1:5070>\r\nCall-ID: o\r\nCSeq: 1 OPTIONS\r\n\r\n")
    [reply] = proxy.on_request(Request.parse(text.encode()), CALLER, T0)
    assert reply.data.startswith(b"SIP/2.0 200 OK") and b"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER" in reply.data


def test_responses_go_back_by_via_and_2xx_counts_as_answered(proxy: Proxy) -> None:
    _, forward = proxy.on_request(invite(), CALLER, T0)
    assert proxy.on_response(response_to(forward.data, 100, "Trying"), CALLEE, T0) == []  # hop by hop
    [ringing] = proxy.on_response(response_to(forward.data, 180, "Ringing"), CALLEE, T0)
    assert ringing.peer == CALLER
    assert Response.parse(ringing.data).headers.get_all("Via") == ["SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKcaller1;rport=6001"]
    [retrans] = proxy.on_request(invite(), CALLER, T0 + 1)  # the INVITE retransmitted now gets the 180
    assert retrans.data == ringing.data
    [ok] = proxy.on_response(response_to(forward.data, 200, "OK"), CALLEE, T0)
    assert ok.peer == CALLER and proxy.stats.calls_answered == 1


def test_response_not_via_us_is_dropped(proxy: Proxy) -> None:
    stray = Response.parse(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\n"
                           b"To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n")
    assert proxy.on_response(stray, CALLEE, T0) == []


def test_non_2xx_final_is_acked_hop_by_hop_and_the_callers_ack_absorbed(proxy: Proxy) -> None:
    _, forward = proxy.on_request(invite(), CALLER, T0)
    ack, busy = proxy.on_response(response_to(forward.data, 486, "Busy Here"), CALLEE, T0)
    assert ack.peer == CALLEE
    ack_req = Request.parse(ack.data)
    assert ack_req.method == "ACK" and ack_req.uri == "sip:2001@127.0.0.1:6002"
    assert ack_req.top_via.branch == Request.parse(forward.data).top_via.branch
    assert ack_req.to.tag == "b" and ack_req.cseq == (1, "ACK")
    assert busy.peer == CALLER and busy.data.startswith(b"SIP/2.0 486")
    assert proxy.on_request(invite(method="ACK", to_tag="b"), CALLER, T0) == []


def test_cancel(proxy: Proxy) -> None:
    _, forward = proxy.on_request(invite(), CALLER, T0)
    proxy.on_response(response_to(forward.data, 180, "Ringing"), CALLEE, T0)
    ok, cancel = proxy.on_request(invite(method="CANCEL"), CALLER, T0)
    assert ok.peer == CALLER and ok.data.startswith(b"SIP/2.0 200 OK") and b"CSeq: 1 CANCEL" in ok.data
    down = Request.parse(cancel.data)
    assert cancel.peer == CALLEE and down.method == "CANCEL" and down.uri == "sip:2001@127.0.0.1:6002"
    assert down.top_via.branch == Request.parse(forward.data).top_via.branch
    # the phone's 200 to our CANCEL stays with us; its 487 goes up, ACKed by us
    assert proxy.on_response(response_to(cancel.data, 200, "OK"), CALLEE, T0) == []
    ack, terminated = proxy.on_response(response_to(forward.data, 487, "Request Terminated"), CALLEE, T0)
    assert Request.parse(ack.data).method == "ACK" and terminated.data.startswith(b"SIP/2.0 487")


def test_cancel_without_transaction(proxy: Proxy) -> None:
    [reply] = proxy.on_request(invite(method="CANCEL", branch="z9hG4bKnone"), CALLER, T0)
    assert reply.data.startswith(b"SIP/2.0 481")


def test_in_dialog_bye_follows_route_and_request_uri(proxy: Proxy) -> None:
    text = (f"BYE sip:2001@127.0.0.1:6002 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKbye\r\n"
            f"Route: <sip:127.0.0.1:5070;lr>\r\nMax-Forwards: 70\r\nFrom: <sip:1001@{REALM}>;tag=a\r\n"
            f"To: <sip:2001@{REALM}>;tag=b\r\nCall-ID: call-1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n")
    [forward] = proxy.on_request(Request.parse(text.encode()), CALLER, T0)
    fwd = Request.parse(forward.data)
    assert forward.peer == CALLEE  # the binding's registered source
    assert "Route" not in fwd.headers and "Record-Route" not in fwd.headers
    assert proxy.stats.forwarded == {"BYE": 1}


def test_out_of_dialog_request_for_another_domain_is_refused(proxy: Proxy) -> None:
    text = (b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKext\r\n"
            b"From: <sip:1001@wangnet.ordos>;tag=a\r\nTo: <sip:bob@example.com>\r\nCall-ID: e\r\nCSeq: 1 INVITE\r\n\r\n")
    [reply] = proxy.on_request(Request.parse(text), CALLER, T0)
    assert reply.data.startswith(b"SIP/2.0 403")


def test_unanswered_invite_is_retransmitted_then_times_out(proxy: Proxy) -> None:
    _, forward = proxy.on_request(invite(), CALLER, T0)
    [again] = proxy.tick(T0 + 0.6)
    assert again.peer == CALLEE and again.data == forward.data
    [timeout] = [s for s in proxy.tick(T0 + 33) if s.peer == CALLER]
    assert timeout.data.startswith(b"SIP/2.0 408 Request Timeout")
    assert Response.parse(timeout.data).headers.get_all("Via") == ["SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bKcaller1;rport=6001"]
    proxy.tick(T0 + 200)
    assert proxy.invites == {}
