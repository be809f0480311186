"""The backlog policy over real UDP: while the service is held busy, a REGISTER that finishes a registration
(it carries Authorization) is kept and answered; a new one that waited too long is dropped unparsed; one that
waited a little is answered 503 with Retry-After — all decided from the kernel's receive timestamps."""
from __future__ import annotations

import re
import socket
import threading
import time

from telephony.digest import expected_response, ha1

from .conftest import SipHarness

REALM = "wangnet.ordos"


def _register(port: int, local: int, n: int, cseq: int, auth: str = "") -> bytes:
    lines = [
        f"REGISTER sip:{REALM} SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-backlog-{n}-{cseq};rport",
        "Max-Forwards: 70",
        f"From: <sip:1001@{REALM}>;tag=b{n}",
        f"To: <sip:1001@{REALM}>",
        f"Call-ID: backlog-{n}@127.0.0.1",
        f"CSeq: {cseq} REGISTER",
        f"Contact: <sip:1001@127.0.0.1:{local}>",
        "Expires: 600",
    ]
    if auth:
        lines.append(auth)
    lines += ["Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def _authorization(challenge: bytes, password: str) -> str:
    nonce = re.search(rb'nonce="([^"]+)"', challenge).group(1).decode()  # type: ignore[union-attr]
    uri = f"sip:{REALM}"
    response = expected_response(ha1("1001", REALM, password), "REGISTER", uri, nonce, "MD5", "auth", "00000001", "cafe")
    return (f'Authorization: Digest username="1001", realm="{REALM}", nonce="{nonce}", uri="{uri}", '
            f'response="{response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="cafe"')


def _hold(sip: SipHarness, seconds: float) -> None:
    """Keep the service's event loop busy for ``seconds`` (stands in for an overload), from now on."""
    busy = threading.Event()

    async def block() -> None:
        busy.set()
        time.sleep(seconds)

    sip.runtime.submit(block())
    assert busy.wait(10)


def _status(sock: socket.socket, timeout: float = 10.0) -> tuple[int, bytes]:
    sock.settimeout(timeout)
    data = sock.recv(65535)
    return int(data.split(b" ", 2)[1]), data


def test_backlog_keeps_finishing_registrations_and_refuses_new_ones(make_sip, phones) -> None:  # type: ignore[no-untyped-def]
    sip: SipHarness = make_sip(algorithms=("MD5",))
    password = phones["1001"][0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as newcomer, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as late:
        for s in (phone, newcomer, late):
            s.bind(("127.0.0.1", 0))
        server = ("127.0.0.1", sip.port)
        local = phone.getsockname()[1]
        phone.sendto(_register(sip.port, local, 1, 1), server)
        status, challenge = _status(phone)
        assert status == 401
        # held 1 s: the authorised REGISTER waits ~1 s (kept: < 2 s), the newcomer ~1 s (dropped: > 0.3 s)
        _hold(sip, 1.0)
        phone.sendto(_register(sip.port, local, 1, 2, _authorization(challenge, password)), server)
        newcomer.sendto(_register(sip.port, newcomer.getsockname()[1], 2, 1), server)
        status, ok = _status(phone)
        assert status == 200 and f"<sip:1001@127.0.0.1:{local}>;expires=".encode() in ok
        newcomer.settimeout(1.0)
        try:
            newcomer.recv(65535)
            raise AssertionError("a new REGISTER that waited 1 s was answered instead of dropped")
        except socket.timeout:
            pass
        assert sip.service.shed == 1 and sip.service.rejected_busy == 0
        # held 0.25 s: a new REGISTER that waited between busy_queue_age (0.2 s) and 0.3 s gets 503 + Retry-After;
        # the hold is started first and the datagram sent at once, so it waits the hold's length at least
        sip.service.busy_queue_age, sip.service.max_queue_age = 0.1, 5.0  # widen the window: scheduling is not exact
        _hold(sip, 0.5)
        late.sendto(_register(sip.port, late.getsockname()[1], 3, 1), server)
        status, busy = _status(late)
        assert status == 503 and b"\r\nRetry-After: 5\r\n" in busy and b"Call-ID: backlog-3@127.0.0.1" in busy
        assert sip.service.rejected_busy == 1
    assert [b.contact for b in sip.bindings("1001")] == [f"sip:1001@127.0.0.1:{local}"]
