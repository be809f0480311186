"""The admission gate in the real kernel: the classic BPF program decides as its Python twin does, the lottery
admits about its share, and the service sheds new REGISTERs in the kernel under a backlog while it keeps
finishing the registrations it has challenged, then opens again on its own."""
from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from telephony.admission import SCAN_END, shut_out
from telephony.kernel_gate import KernelGate

from .conftest import SipHarness, wait_for
from .test_sip_backlog import _authorization, _hold, _register, _status

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_ATTACH_FILTER is Linux's")
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sip" / "messages"


def _corpus() -> list[bytes]:
    new = _register(5060, 5070, 1, 1)
    authorised = _register(5060, 5070, 1, 2, 'Authorization: Digest username="1001", realm="wangnet.ordos"')
    pad = b"X-Pad: " + b"p" * SCAN_END + b"\r\n"
    return [
        *(path.read_bytes() for path in sorted(FIXTURES.glob("*/*.sip"))),
        new, authorised,
        authorised.replace(b"Authorization:", b"authorization:"),
        authorised.replace(b"Authorization:", b"AUTHORIZATION:"),
        new.replace(b"Max-Forwards", pad.rstrip(b"\r\n") + b"\r\nMax-Forwards"),  # long: the service judges it
        new[: len(new) // 2], b"REGISTER ", b"REGISTER", b"\r\n\r\n", b"",
        b"OPTIONS sip:wangnet.ordos SIP/2.0\r\n\r\n", b"SIP/2.0 401 Unauthorized\r\n\r\n",
        bytes(range(256)) * 2,
    ]


def _passes(receiver: socket.socket, sender: socket.socket, payload: bytes) -> bool:
    """Send ``payload`` then a marker that always passes; the payload passed if it arrives before the marker."""
    marker = b"OPTIONS marker"
    sender.sendto(payload, receiver.getsockname())
    sender.sendto(marker, receiver.getsockname())
    receiver.settimeout(10)
    first = receiver.recv(65535)
    if first == marker:
        return False
    assert first == payload
    assert receiver.recv(65535) == marker
    return True


def test_the_kernel_program_decides_as_shut_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))
        gate = KernelGate(receiver)
        assert gate.admit(0.0) and gate.attached
        corpus = _corpus()
        decided = {payload: not _passes(receiver, sender, payload) for payload in corpus}
        assert decided == {payload: shut_out(payload) for payload in corpus}
        assert sum(decided.values()) >= 2  # the new REGISTERs (short ones) were dropped, the rest kept
        assert gate.kernel_drops() == sum(decided.values())
        assert gate.admit(1.0) and not gate.attached
        assert _passes(receiver, sender, _register(5060, 5070, 1, 1))  # detached: everything passes


def test_the_lottery_admits_about_its_share() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        gate = KernelGate(receiver)
        assert gate.admit(0.25)
        new = _register(5060, 5070, 1, 1)
        passed = sum(_passes(receiver, sender, new) for _ in range(400))
        assert 50 <= passed <= 150, passed  # binomial(400, 0.25): mean 100, sd 8.7


def test_the_service_sheds_new_registrations_in_the_kernel_and_opens_again(make_sip, phones) -> None:  # type: ignore[no-untyped-def]
    sip: SipHarness = make_sip(algorithms=("MD5",))
    service = sip.service
    service.busy_queue_age = service.max_queue_age = 10.0  # only the gate sheds here
    service.gate.floor = 1 / 64
    password = phones["1001"][0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as newcomer, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker:
        for s in (phone, newcomer, waker):
            s.bind(("127.0.0.1", 0))
        server = ("127.0.0.1", sip.port)
        local = phone.getsockname()[1]
        phone.sendto(_register(sip.port, local, 1, 1), server)
        status, challenge = _status(phone)
        assert status == 401
        # a stall: the datagram read after it waited ~0.3 s, so the gate starts shedding
        _hold(sip, 0.3)
        waker.sendto(b"\r\n\r\n", server)  # a keep-alive: wakes the reader, needs no answer
        wait_for(lambda: service.gate.shedding, 10, "the gate to start shedding")
        assert service.gate.closings == 1

        def steady_backlog() -> None:  # hold the share at the floor, as a steady backlog would
            service.gate.step = 0.0
            service.gate.admit = service.gate.floor
            service._set_gate(service.gate.floor)
        sip.call(steady_backlog)
        # an authorised REGISTER (a registration already challenged) still gets through and is answered
        phone.sendto(_register(sip.port, local, 1, 2, _authorization(challenge, password)), server)
        status, _ = _status(phone)
        assert status == 200
        # new ones are dropped by the kernel (a 1/64 lottery may let one in: send a few, expect most lost)
        before = service.registrar.stats.challenges
        newcomer.settimeout(0.5)
        answered = 0
        for n in range(8):
            newcomer.sendto(_register(sip.port, newcomer.getsockname()[1], 10 + n, 1), server)
            try:
                newcomer.recv(65535)
                answered += 1
            except socket.timeout:
                pass
        assert answered <= 2, answered
        assert service.registrar.stats.challenges - before == answered
        wait_for(lambda: sip.call(lambda: service.kernel_drops) >= 8 - answered, 10, "the kernel drops to be counted")
        # the queue is quiet: the share grows back on the timer and the filter comes off
        sip.call(lambda: setattr(service.gate, "step", 1 / 8))
        wait_for(lambda: not service.gate.shedding, 10, "the gate to open again")
        wait_for(lambda: not service._kernel_gate.attached, 10, "the filter to be detached")  # type: ignore[union-attr]
        newcomer.settimeout(10)
        newcomer.sendto(_register(sip.port, newcomer.getsockname()[1], 99, 1), server)
        status, _ = _status(newcomer)
        assert status == 401
    assert [b.contact for b in sip.bindings("1001")] == [f"sip:1001@127.0.0.1:{local}"]
