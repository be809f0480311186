"""The consent hook: missed checks count only while the peer sends nothing (a vanished browser is still dropped)."""
from __future__ import annotations

import asyncio
import time

import aioice.ice
import aioice.stun
import pytest

from conferencing import passthrough


class _Protocol:
    async def request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise aioice.stun.TransactionTimeout()


class _Pair:
    protocol = _Protocol()
    remote_addr = ("127.0.0.1", 9)


class _Connection:
    """Just what the consent loop touches on aioice's Connection."""

    remote_password = "pw"

    def __init__(self) -> None:
        self._nominated = {1: _Pair()}
        self.closed = False
        self._query_consent_task = None

    def build_request(self, pair, nominate):  # type: ignore[no-untyped-def]
        return aioice.stun.Message(message_method=aioice.stun.Method.BINDING, message_class=aioice.stun.Class.REQUEST)

    async def close(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def fast_consent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.02)
    monkeypatch.setattr(aioice.ice, "CONSENT_FAILURES", 3)


def test_hooks_are_installed() -> None:
    assert aioice.ice.Connection.query_consent is passthrough._lenient_query_consent


def test_silent_peer_loses_consent() -> None:
    conn = _Connection()
    asyncio.run(asyncio.wait_for(passthrough._lenient_query_consent(conn), 5))
    assert conn.closed


def test_peer_still_sending_keeps_consent() -> None:
    async def scenario() -> bool:
        conn = _Connection()

        async def media() -> None:
            while True:
                conn._wangnet_last_rx = time.monotonic()
                await asyncio.sleep(0.005)

        feeder = asyncio.ensure_future(media())
        task = asyncio.ensure_future(passthrough._lenient_query_consent(conn))
        await asyncio.sleep(0.5)  # ~20 missed checks
        alive = not conn.closed and not task.done()
        feeder.cancel()
        await asyncio.wait_for(task, 5)  # media stops: consent expires
        return alive and conn.closed

    assert asyncio.run(scenario())


def test_media_datagrams_skip_the_stun_parse_and_stun_still_reaches_aioice() -> None:
    """RTP/RTCP (first byte 128..191) go straight to the connection; a STUN request is still parsed as one."""

    class Receiver:
        def __init__(self) -> None:
            self.media: list[tuple[bytes, int]] = []
            self.requests: list[aioice.stun.Message] = []

        def data_received(self, data: bytes, component: int) -> None:
            self.media.append((data, component))

        def request_received(self, message, addr, protocol) -> None:  # type: ignore[no-untyped-def]
            self.requests.append(message)

    assert aioice.ice.StunProtocol.datagram_received is passthrough._media_first_datagram_received
    receiver = Receiver()

    async def scenario() -> aioice.ice.StunProtocol:  # aioice wants a running loop to build a protocol
        return aioice.ice.StunProtocol(receiver)  # type: ignore[arg-type]

    protocol = asyncio.run(scenario())
    protocol.local_candidate = aioice.Candidate("f", 1, "udp", 1, "127.0.0.1", 9, "host")
    rtp = bytes([0x80, 0x60, 0, 1]) + bytes(8) + b"payload"
    rtcp = bytes([0x81, 0xC9, 0, 1]) + bytes(4)
    protocol.datagram_received(rtp, ("127.0.0.1", 5000))
    protocol.datagram_received(rtcp, ("127.0.0.1", 5000))
    request = aioice.stun.Message(message_method=aioice.stun.Method.BINDING, message_class=aioice.stun.Class.REQUEST)
    protocol.datagram_received(bytes(request), ("127.0.0.1", 5000))
    dtls = bytes([22, 0xFE, 0xFD]) + bytes(20)  # a DTLS record: not STUN, so aioice hands it on as data
    protocol.datagram_received(dtls, ("127.0.0.1", 5000))
    assert receiver.media == [(rtp, 1), (rtcp, 1), (dtls, 1)]
    assert [m.message_method for m in receiver.requests] == [aioice.stun.Method.BINDING]
